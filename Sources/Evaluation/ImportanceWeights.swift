// Self-normalised importance weights over the valid samples (method.md §8.3–§8.4):
//   w_i = exp(log w_i − LSE(log w)) with log w = −u/kT − log q;  −∞ or NaN log weights give w = 0,
//   ESS = exp(2 LSE(log w) − LSE(2 log w)) / M   (Kish, normalised by the M weights given),
// and multinomial resampling (TS `samplers/resampling.py`): M indices drawn with replacement with
// probabilities w, by inverse-CDF lookup of seeded uniforms. The W2 sets (`transportSet`) draw so
// from unequal weights only: equally weighted samples are taken as they are.
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

    /// The `count` indices (in 0 ..< weights.count) of the sample side of a W2 (the snis_tbg and
    /// snis_clipped protocols, the reweighted torus W2). Unequal weights: `resample`, multinomial
    /// draws ∝ weights (TBG's protocol). Every weight the same to 1e-12 relative (SMC particles
    /// after a final resampling, flow-MCMC states, MD frames as samples): the samples themselves,
    /// without replacement, all of them in order when `count` is their number, else a uniformly
    /// random subset (partial Fisher–Yates). Drawing with replacement from equal weights only adds
    /// duplicates (about 1/e of the set is left out at count = n) and with them W2 noise; the field
    /// takes an equally weighted sampler's output as it is (Prose/SBG: the W2 of the final
    /// particles). Needs count ≤ weights.count when the weights are equal.
    public static func transportSet(weights: [Double], count: Int, random: inout RandomSource) -> [Int] {
        // Equal to rounding (1e-12 relative): weights computed one by one from one log weight.
        guard let first = weights.first, first > 0, weights.allSatisfy({ abs($0 - first) <= 1e-12 * first }) else {
            return resample(weights: weights, count: count, random: &random)
        }
        precondition(count <= weights.count, "an equally weighted set of \(weights.count) has no \(count) distinct samples")
        guard count < weights.count else { return Array(weights.indices) }
        var order = Array(weights.indices)
        for i in 0..<count {
            let j = i + min(Int(random.uniform() * Double(order.count - i)), order.count - i - 1)
            order.swapAt(i, j)
        }
        return Array(order.prefix(count))
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
