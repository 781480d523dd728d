// Systematic resampling (Kitagawa 1996; Douc, Cappé & Moulines 2005, "Comparison of resampling
// schemes for particle filtering"): one uniform U ~ U[0, 1) places N evenly spaced points
// (U + k)/N, k = 0 … N−1, on the cumulative normalised weights; particle i is copied once per
// point in its interval. Unbiased (E[offspring_i] = N·w_i) and each particle gets ⌊N·w_i⌋ or
// ⌈N·w_i⌉ copies, the least variance of the standard schemes in practice. Deterministic given U,
// so every rank that holds the same weights and draws the same U chooses the same ancestors.
import Evaluation

public enum SystematicResampling {
    /// Ancestor indices (sorted ascending) of `count` new particles.
    ///
    /// - Parameters:
    ///   - logWeights: log of the unnormalised weights; −∞ and NaN mean weight 0.
    ///   - count: N, the number of particles after resampling (≥ 1).
    ///   - uniform: U in [0, 1).
    /// - Returns: N indices into `logWeights`, never one with weight 0; nil when no weight is
    ///   positive and finite (nothing to resample from).
    public static func ancestors(logWeights: [Double], count: Int, uniform: Double) -> [Int]? {
        precondition(count >= 1 && uniform >= 0 && uniform < 1, "systematic resampling needs count ≥ 1 and U in [0, 1)")
        guard let weights = ImportanceWeights.normalised(logWeights: logWeights) else { return nil }
        var result = [Int]()
        result.reserveCapacity(count)
        var cumulative = 0.0, index = 0
        let n = Double(count)
        for k in 0..<count {
            let point = (uniform + Double(k)) / n
            // Advance to the first index whose cumulative weight exceeds the point; the last positive
            // weight catches points beyond a cumulative sum that rounding left just below 1.
            while index < weights.count && cumulative + weights[index] <= point {
                cumulative += weights[index]
                index += 1
            }
            if index == weights.count { index = weights.lastIndex { $0 > 0 }! }
            result.append(index)
        }
        return result
    }

    /// Offspring count of every particle for `ancestors` over `particles` particles.
    public static func offspringCounts(_ ancestors: [Int], particles: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: particles)
        for ancestor in ancestors { counts[ancestor] += 1 }
        return counts
    }
}
