// Which samples of a Monte Carlo output share a history, for the cluster bootstrap of ΔF
// (FreeEnergy.swift): samples are linked when they carry the same label in any of the given label
// sets (an MCMC file's chain and source_frame: states of one chain, and chains that started from or
// accepted the same proposal, are not independent). The clusters are the connected components.

public enum SharedHistory {
    /// Connected components of the samples linked by equal labels in any of `labelSets`.
    /// - Parameter labelSets: each [n] (one label per sample, any integers); at least one set.
    /// - Returns: [n] component per sample, numbered 0, 1, … in order of first appearance.
    public static func components(_ labelSets: [[Int]]) -> [Int] {
        precondition(!labelSets.isEmpty, "at least one label set")
        let n = labelSets[0].count
        precondition(labelSets.allSatisfy { $0.count == n }, "one label per sample in every set")
        var parent = Array(0..<n)
        func root(_ k: Int) -> Int {
            var k = k
            while parent[k] != k {
                parent[k] = parent[parent[k]]   // path halving
                k = parent[k]
            }
            return k
        }
        for labels in labelSets {
            var first: [Int: Int] = [:]   // label → first sample carrying it
            for k in 0..<n {
                if let j = first[labels[k]] {
                    let (a, b) = (root(j), root(k))
                    if a != b { parent[max(a, b)] = min(a, b) }
                } else {
                    first[labels[k]] = k
                }
            }
        }
        var number: [Int: Int] = [:]
        return (0..<n).map { k in
            let r = root(k)
            if let c = number[r] { return c }
            number[r] = number.count
            return number[r]!
        }
    }
}
