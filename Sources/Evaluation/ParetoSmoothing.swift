// Pareto-smoothed importance sampling (PSIS): a generalized Pareto distribution fitted to the largest
// importance weights. Its shape k̂ says whether an importance-sampling mean can be trusted at the
// sample size in hand; the fitted tail, put in place of the largest weights, gives the smoothed ones.
//
// Vehtari, Simpson, Gelman, Yao & Gabry, "Pareto smoothed importance sampling", JMLR 25(72), 2024;
// the fit is Zhang & Stephens' (Technometrics 51, 2009) empirical Bayes estimate with the weakly
// informative prior of Vehtari et al. (k̂ shrunk toward 0.5 with weight 10). Reference code: ArviZ
// `psislw` (arviz/stats/stats.py, `_psislw`, `_gpdfit`, `_gpinv`), which the tests match to 1e-10
// (fixture by Tools/reference/make_psis_fixture.py).
//
// How to read k̂ (Vehtari et al. §3): below 0.5 the weights have finite variance; up to the
// sample-size threshold min(1 − 1/log10 S, 0.7) (`threshold(sampleSize:)`: 0.47 at S = 80, 0.7 from
// S ≈ 2 150) the estimate is reliable at this S; above 0.7 the mean converges too slowly to be
// trusted whatever S; at 1 and above the weights' mean itself may not exist. Pure math: no I/O.
import Foundation

public enum ParetoSmoothing {
    public struct Result: Sendable, Equatable {
        /// The fitted shape k̂ of the weights' right tail; +∞ when the tail has 4 draws or fewer
        /// (fewer than 21 weights), NaN when the fit fails (a degenerate tail).
        public var khat: Double
        /// The fitted scale σ of the tail (weights relative to the largest, above the cut-off); NaN when not fitted.
        public var sigma: Double
        /// How many of the largest weights form the tail: ⌈min(S/5, 3√S)⌉ (ties at the cut-off left out).
        public var tailLength: Int
        /// The log weights with the tail replaced by the fitted distribution's expected order
        /// statistics, none above the largest raw one; not normalised (same offset as the input). Equal
        /// to the input where k̂ is not finite. Same order and count as the input.
        public var smoothedLogWeights: [Double]
        /// S, the number of weights (zero weights, log −∞, included, as in ArviZ).
        public var sampleSize: Int
        /// `threshold(sampleSize:)` of S: k̂ above it means the weighted mean is not reliable at this S.
        public var threshold: Double { ParetoSmoothing.threshold(sampleSize: sampleSize) }
        public init(khat: Double, sigma: Double, tailLength: Int, smoothedLogWeights: [Double], sampleSize: Int) {
            (self.khat, self.sigma, self.tailLength, self.smoothedLogWeights, self.sampleSize) = (khat, sigma, tailLength, smoothedLogWeights, sampleSize)
        }
    }

    /// PSIS of `logWeights` (natural log of unnormalised importance weights, any offset).
    ///
    /// - Parameter logWeights: S values, finite or −∞ (a weight of zero: it counts in S, as in
    ///   ArviZ, but never in the tail).
    /// - Precondition: no NaN and no +∞ (the ordering must be total and the largest weight finite).
    /// - Returns: k̂, σ, the tail length and the smoothed log weights (ArviZ `psislw` with reff = 1,
    ///   normalize = false).
    public static func smooth(logWeights: [Double]) -> Result {
        precondition(logWeights.allSatisfy { !$0.isNaN && $0 != .infinity }, "ParetoSmoothing.smooth: log weights must be finite or -infinity")
        let count = logWeights.count
        guard let largest = logWeights.max(), largest.isFinite else {
            return Result(khat: .infinity, sigma: .nan, tailLength: 0, smoothedLogWeights: logWeights, sampleSize: count)
        }
        var x = logWeights.map { $0 - largest }                        // [S], ≤ 0
        let order = x.indices.sorted { x[$0] < x[$1] }                  // ascending
        // The cut-off is the (M+1)-th largest value; the tail is every value above it.
        let m = Int((min(Double(count) / 5, 3 * Double(count).squareRoot())).rounded(.up))
        let cutoffIndex = max(count - m - 1, 0)
        let cutoff = max(x[order[cutoffIndex]], log(Double.leastNormalMagnitude))
        let tailIndices = order.filter { x[$0] > cutoff }               // ascending in x
        guard tailIndices.count > 4 else {
            return Result(khat: .infinity, sigma: .nan, tailLength: tailIndices.count, smoothedLogWeights: logWeights, sampleSize: count)
        }
        let expCutoff = exp(cutoff)
        let tail = tailIndices.map { exp(x[$0]) - expCutoff }           // [M], ascending, > 0
        let (k, sigma) = fitGeneralizedPareto(sortedExceedances: tail)
        guard k.isFinite else {
            return Result(khat: k, sigma: sigma, tailLength: tail.count, smoothedLogWeights: logWeights, sampleSize: count)
        }
        // Expected order statistics of the fit at probabilities (i − ½)/M, in place of the tail.
        let n = Double(tail.count)
        for (rank, index) in tailIndices.enumerated() {
            let quantile = inverseCDF(probability: (Double(rank) + 0.5) / n, shape: k, scale: sigma)
            x[index] = min(log(quantile + expCutoff), 0)                // no weight above the largest raw one
        }
        return Result(khat: k, sigma: sigma, tailLength: tail.count, smoothedLogWeights: x.map { $0 + largest }, sampleSize: count)
    }

    /// k̂ alone (see `smooth`; NaN and +∞ log weights are left out, −∞ ones count in S); nil when
    /// there are fewer than 5 tail draws to fit or the fit fails.
    public static func khat(logWeights: [Double]) -> Double? {
        diagnose(logWeights: logWeights).map(\.khat)
    }

    /// k̂ and its sample-size threshold (see `smooth` and `threshold`), nil as `khat`.
    public static func diagnose(logWeights: [Double]) -> (khat: Double, threshold: Double)? {
        let usable = logWeights.filter { !$0.isNaN && $0 != .infinity }
        let result = smooth(logWeights: usable)
        return result.khat.isFinite ? (result.khat, result.threshold) : nil
    }

    /// Vehtari et al.'s sample-size dependent threshold min(1 − 1/log10 S, 0.7): k̂ above it means an
    /// importance-sampling mean over S draws is not reliable (0.47 at S = 80, 0.64 at S = 500, 0.7
    /// from S ≈ 2 150). For S ≤ 10 it is ≤ 0: no k̂ is reliable there.
    public static func threshold(sampleSize: Int) -> Double {
        guard sampleSize > 1 else { return -.infinity }
        return min(1 - 1 / log10(Double(sampleSize)), 0.7)
    }

    /// Zhang & Stephens' estimate of the generalized Pareto (shape k, scale σ) from exceedances
    /// sorted ascending, with Vehtari et al.'s prior on k (ArviZ `_gpdfit`: σ is computed from k
    /// before the prior is applied).
    static func fitGeneralizedPareto(sortedExceedances x: [Double]) -> (k: Double, sigma: Double) {
        let n = x.count
        let priorB = 3.0, priorK = 10.0
        let grid = 30 + Int(Double(n).squareRoot())
        let quartile = x[Int(Double(n) / 4 + 0.5) - 1]
        var b = (1...grid).map { 1 - (Double(grid) / (Double($0) - 0.5)).squareRoot() }
        b = b.map { $0 / (priorB * quartile) + 1 / x[n - 1] }
        let k = b.map { bj in x.reduce(0.0) { $0 + log1p(-bj * $1) } / Double(n) }
        let logLikelihood = zip(b, k).map { bj, kj in Double(n) * (log(-(bj / kj)) - kj - 1) }
        // Posterior weights ∝ exp(ℓ_j), each 1 / Σ_i exp(ℓ_i − ℓ_j); negligible ones dropped.
        var weights = logLikelihood.map { lj in 1 / logLikelihood.reduce(0.0) { $0 + exp($1 - lj) } }
        var kept = b
        if weights.contains(where: { !($0 >= 10 * Double.ulpOfOne) }) {   // NaN ones too, as ArviZ's `weights >= 10 eps`
            let keep = weights.indices.filter { weights[$0] >= 10 * Double.ulpOfOne }
            weights = keep.map { weights[$0] }
            kept = keep.map { kept[$0] }
        }
        let total = weights.reduce(0, +)
        let bPosterior = zip(kept, weights).reduce(0.0) { $0 + $1.0 * $1.1 / total }
        let kPosterior = x.reduce(0.0) { $0 + log1p(-bPosterior * $1) } / Double(n)
        let sigma = -kPosterior / bPosterior
        return ((Double(n) * kPosterior + priorK * 0.5) / (Double(n) + priorK), sigma)
    }

    /// The generalized Pareto quantile σ((1 − p)^(−k) − 1)/k (σ(−log(1 − p)) at k = 0), for 0 < p < 1.
    static func inverseCDF(probability p: Double, shape k: Double, scale sigma: Double) -> Double {
        guard sigma > 0 else { return .nan }
        if abs(k) < Double.ulpOfOne { return -log1p(-p) * sigma }
        return expm1(-k * log1p(-p)) / k * sigma
    }
}
