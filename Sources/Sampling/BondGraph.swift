// The "correct configuration" check of TBG (method.md §8.1): bonds inferred from distances with
// element-pair cutoffs, then a graph isomorphism onto the reference bond graph that respects
// elements, which also gives the permutation that puts the sample's atoms in reference order
// (repairing swaps of equivalent atoms).
//
// Cutoffs, checked in this order: a pair with H bonds below 0.14 nm, else with S below 0.22 nm,
// else with C below 0.18 nm; N–N, N–O and O–O pairs never bond.

public struct BondGraph: Sendable, Equatable {
    /// The atom labels the isomorphism must preserve: element symbols, or finer labels
    /// (`relabelled`), such as the model's atom classes.
    public let elements: [String]
    /// Sorted neighbour lists.
    public let neighbours: [[Int]]

    private init(labels: [String], neighbours: [[Int]]) {
        elements = labels
        self.neighbours = neighbours
    }

    /// The same bonds with other atom labels (one per atom), e.g. the model's atom classes: an
    /// isomorphism then maps atoms only onto atoms of the same label, so the permutation it gives
    /// never turns one labelled molecule into another (TBG's log q belongs to the molecule as the
    /// model labelled it).
    public func relabelled(_ labels: [String]) -> BondGraph {
        precondition(labels.count == elements.count, "\(labels.count) labels for \(elements.count) atoms")
        return BondGraph(labels: labels, neighbours: neighbours)
    }

    public init(elements: [String], bonds: [[Int]]) {
        self.elements = elements
        var lists = [[Int]](repeating: [], count: elements.count)
        for bond in bonds where bond.count == 2 {
            lists[bond[0]].append(bond[1])
            lists[bond[1]].append(bond[0])
        }
        neighbours = lists.map { Array(Set($0)).sorted() }
    }

    /// Bonds inferred from positions (nm, N × 3).
    public static func inferred(elements: [String], positions: ArraySlice<Double>) -> BondGraph {
        let base = positions.startIndex
        var bonds: [[Int]] = []
        for i in 0..<elements.count {
            for j in (i + 1)..<elements.count {
                var d2 = 0.0
                for axis in 0..<3 {
                    let d = positions[base + 3 * i + axis] - positions[base + 3 * j + axis]
                    d2 += d * d
                }
                let pair = [elements[i], elements[j]]
                let cutoff: Double?
                if pair.contains("H") { cutoff = 0.14 } else if pair.contains("S") { cutoff = 0.22 } else if pair.contains("C") { cutoff = 0.18 } else { cutoff = nil }
                if let cutoff, d2 < cutoff * cutoff { bonds.append([i, j]) }
            }
        }
        return BondGraph(elements: elements, bonds: bonds)
    }

    /// The outcome of the isomorphism search: a mapping, a proof that none exists, or a search
    /// that gave up (its budget of extension steps ran out) without deciding. The last is not a
    /// verdict on the sample; `tbg sample` counts it apart (`isomorphism_budget_exhausted`).
    public enum Match: Sendable, Equatable {
        /// `mapping[referenceAtom] = sampleAtom`.
        case isomorphic([Int])
        case notIsomorphic
        case budgetExhausted
    }

    /// Extension steps the search may take before it gives up (`Match.budgetExhausted`).
    public static let searchBudget = 200_000

    /// A map `reference atom → sample atom` under which the graphs are identical (elements and
    /// bonds), or nil (not isomorphic, or the search budget ran out: `match(to:)` tells which).
    public func isomorphism(to sample: BondGraph) -> [Int]? {
        if case .isomorphic(let mapping) = match(to: sample) { return mapping }
        return nil
    }

    /// Whether `sample` is isomorphic to this (reference) graph, and the map `reference atom →
    /// sample atom` if so. Backtracking in reference order with element/degree pruning and
    /// adjacency consistency (VF2-style), at most `budget` extension steps; dipeptides have ≤ 60
    /// atoms, and the search decides them in far fewer steps unless the sample's graph is
    /// pathological (many equivalent atoms, a mapping that fails deep in the search).
    public func match(to sample: BondGraph, budget: Int = BondGraph.searchBudget) -> Match {
        let n = elements.count
        guard sample.elements.count == n else { return .notIsomorphic }
        let referenceDegrees = neighbours.map(\.count), sampleDegrees = sample.neighbours.map(\.count)
        guard referenceDegrees.sorted() == sampleDegrees.sorted() else { return .notIsomorphic }
        // Visit reference atoms in breadth-first order so each new atom has a mapped neighbour.
        var order: [Int] = [], seen = [Bool](repeating: false, count: n)
        for start in 0..<n where !seen[start] {
            var queue = [start]
            seen[start] = true
            while !queue.isEmpty {
                let atom = queue.removeFirst()
                order.append(atom)
                for next in neighbours[atom] where !seen[next] {
                    seen[next] = true
                    queue.append(next)
                }
            }
        }
        var mapping = [Int](repeating: -1, count: n), used = [Bool](repeating: false, count: n)
        var budget = budget, exhausted = false
        func extend(_ depth: Int) -> Bool {
            if depth == n { return true }
            budget -= 1
            if budget < 0 {
                exhausted = true
                return false
            }
            let atom = order[depth]
            let mappedNeighbour = neighbours[atom].first { mapping[$0] >= 0 }
            let candidates = mappedNeighbour.map { sample.neighbours[mapping[$0]] } ?? Array(0..<n)
            for candidate in candidates where !used[candidate] {
                guard sample.elements[candidate] == elements[atom], sampleDegrees[candidate] == referenceDegrees[atom] else { continue }
                // Every already-mapped reference neighbour must map onto a sample neighbour, and vice versa.
                var consistent = true
                for other in 0..<n where mapping[other] >= 0 {
                    let referenceBonded = neighbours[atom].contains(other)
                    let sampleBonded = sample.neighbours[candidate].contains(mapping[other])
                    if referenceBonded != sampleBonded { consistent = false; break }
                }
                guard consistent else { continue }
                mapping[atom] = candidate
                used[candidate] = true
                if extend(depth + 1) { return true }
                mapping[atom] = -1
                used[candidate] = false
            }
            return false
        }
        if extend(0) { return .isomorphic(mapping) }
        return exhausted ? .budgetExhausted : .notIsomorphic
    }
}
