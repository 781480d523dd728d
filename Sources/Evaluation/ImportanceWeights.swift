// Self-normalised importance weights over the valid samples (method.md §8.3–§8.4):
//   w_i = exp(log w_i − LSE(log w)) with log w = −u/kT − log q;  −∞ or NaN log weights give w = 0,
//   ESS = exp(2 LSE(log w) − LSE(2 log w)) / M   (Kish, normalised by the M weights given),
// and multinomial resampling (TS `samplers/resampling.py`): M indices drawn with replacement with
// probabilities w, by inverse-CDF lookup of seeded uniforms.
import Foundation
import Kernels

public enum ImportanceWeights {
    /// log Σ exp(x), treating NaN as −∞; −∞ when every entry is.
    public static func logSumExp(_ values: [Double]) -> Double {
        let finite = values.map { $0.isNaN ? -Double.infinity : $0 }
        guard let top = finite.max(), top > -.infinity else { return -.infinity }
        if top == .infinity { return .infinity }
        return top + log(finite.reduce(0) { $0 + exp($1 - top) })
    }

    /// Weights normalised to sum 1, or nil when no weight is positive or one is +∞ (energies are
    /// finite, so +∞ means log q = −∞: a failed integration, which is flagged, not weighted).
    public static func normalised(logWeights: [Double]) -> [Double]? {
        let total = logSumExp(logWeights)
        guard total.isFinite else { return nil }
        return logWeights.map { $0.isNaN ? 0 : exp($0 - total) }
    }

    /// Normalised Kish ESS in [1/M, 1]; 0 when no weight is positive or one is +∞ (the flag of a
    /// failed integration, see `normalised`), NaN for no samples.
    public static func effectiveSampleSize(logWeights: [Double]) -> Double {
        guard !logWeights.isEmpty else { return .nan }
        let first = logSumExp(logWeights), second = logSumExp(logWeights.map { 2 * $0 })
        guard first.isFinite, second.isFinite else { return 0 }
        return exp(2 * first - second) / Double(logWeights.count)
    }

    /// `count` indices in 0 ..< weights.count drawn with replacement with probability ∝ weights.
    public static func resample(weights: [Double], count: Int, random: inout RandomSource) -> [Int] {
        var running = 0.0
        let cumulative = weights.map { weight -> Double in
            running += weight
            return running
        }
        precondition(running > 0 && running.isFinite, "resampling needs a positive, finite total weight")
        return (0..<count).map { _ in
            let target = min(random.uniform() * running, running.nextDown)
            // The first index whose cumulative weight exceeds the target (never a zero weight).
            var low = 0, high = cumulative.count - 1
            while low < high {
                let middle = (low + high) / 2
                if cumulative[middle] > target { high = middle } else { low = middle + 1 }
            }
            return low
        }
    }
}
