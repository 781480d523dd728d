// Free-energy difference between the two main φ basins of a dipeptide, in kT:
//   ΔF = −ln( P(φ ∈ positive basin) / P(φ ∉ positive basin) ),
// the positive basin being lower < φ < upper, by default 0 < φ < 2.15 rad (C7ax/αL of alanine
// dipeptide); everything else (C5/C7eq/αR, and the β tail that wraps past φ = π to φ ≈ 2.5–3.1)
// is the other basin. The split at φ = π used before counted that β tail as positive. P from counts
// or weights. Standard errors by the bootstrap: resampling samples with replacement (weights
// renormalise by construction), or, for a correlated MD trajectory, resampling B contiguous blocks
// (the moving blocks of Künsch 1989 without overlap), each block carrying its frames' summed
// weights when the trajectory is biased. Samples that are not independent draws but share a
// history (SMC particles descended from one proposal, the states of one MCMC chain) are resampled
// as clusters: each replicate draws G of the G clusters with replacement and adds their summed basin
// weights. For SMC this groups particles by their "Eve" index, the proposal of stage 0 they descend
// from (Lee & Whiteley 2018, "Variance estimation in the particle filter", Biometrika 105(3); Chan &
// Lai 2013), so duplicates of one proposal count once, not as many independent samples. A
// replicate with an empty basin has no finite ΔF; it is left out and counted.
import Foundation
import Kernels

/// The positive φ basin, lower < φ < upper (radians, in (−π, π]); its complement is the other basin.
public struct PhiBasin: Sendable, Equatable {
    public var lower: Double
    public var upper: Double

    /// 0 < φ < 2.15 rad.
    public static let standard = PhiBasin(lower: 0, upper: 2.15)

    public init(lower: Double, upper: Double) {
        precondition(lower < upper, "the positive phi basin needs lower < upper")
        (self.lower, self.upper) = (lower, upper)
    }

    @inline(__always)
    public func contains(_ phi: Double) -> Bool { phi > lower && phi < upper }

    /// "0 < phi < 2.15" as reports print it.
    public var description: String { "\(Self.format(lower)) < phi < \(Self.format(upper))" }

    public static func format(_ value: Double) -> String {
        var text = String(format: "%.6g", value)
        if text == "-0" { text = "0" }
        return text
    }
}

public struct BasinFreeEnergy: Sendable, Equatable {
    /// ΔF in kT; nil when a basin is empty.
    public var value: Double?
    /// Bootstrap standard deviation of ΔF over the replicates with both basins populated.
    public var standardError: Double?
    /// Fraction of the (weighted) population in the positive basin.
    public var positiveFraction: Double
    /// Replicates without a finite ΔF (left out of the standard error).
    public var degenerateReplicates: Int
    /// Why `value` or `standardError` is nil.
    public var reason: String?


    /// ΔF from the total weights of the two basins.
    public static func deltaF(positive: Double, negative: Double) -> Double? {
        guard positive > 0, negative > 0 else { return nil }
        return -log(positive / negative)
    }

    /// ΔF of (weighted) samples with a bootstrap over samples.
    public static func samples(phi: [Double], weights: [Double]? = nil, resamples: Int, random: inout RandomSource,
                               basin: PhiBasin = .standard) -> BasinFreeEnergy {
        precondition(weights == nil || weights?.count == phi.count)
        let w = weights ?? [Double](repeating: 1, count: phi.count)
        let positive = phi.map(basin.contains)
        var plus = 0.0, minus = 0.0
        for k in phi.indices { if positive[k] { plus += w[k] } else { minus += w[k] } }
        var replicates: [Double?] = []
        if !phi.isEmpty {
            for _ in 0..<resamples {
                var a = 0.0, b = 0.0
                for _ in phi.indices {
                    let k = random.integer(below: phi.count)
                    if positive[k] { a += w[k] } else { b += w[k] }
                }
                replicates.append(deltaF(positive: a, negative: b))
            }
        }
        return make(plus: plus, minus: minus, replicates: replicates, basin: basin, groups: phi.count, resamples: resamples)
    }

    /// ΔF of (weighted) samples with a bootstrap over clusters: `clusters[k]` labels sample k's
    /// cluster (any integers); each replicate draws as many clusters as there are, with replacement,
    /// and sums their basin weights. One cluster per sample is `samples(phi:weights:…)`'s bootstrap.
    public static func clusters(phi: [Double], weights: [Double]? = nil, clusters labels: [Int], resamples: Int, random: inout RandomSource,
                                basin: PhiBasin = .standard) -> BasinFreeEnergy {
        precondition(weights == nil || weights?.count == phi.count)
        precondition(labels.count == phi.count, "one cluster label per sample")
        var slot: [Int: Int] = [:]
        var clusterPlus: [Double] = [], clusterMinus: [Double] = []
        for k in phi.indices {
            let c = slot[labels[k]] ?? {
                slot[labels[k]] = clusterPlus.count
                clusterPlus.append(0)
                clusterMinus.append(0)
                return clusterPlus.count - 1
            }()
            let w = weights?[k] ?? 1
            if basin.contains(phi[k]) { clusterPlus[c] += w } else { clusterMinus[c] += w }
        }
        return groupBootstrap(plus: clusterPlus, minus: clusterMinus, resamples: resamples, random: &random, basin: basin)
    }

    /// ΔF of a time series with a bootstrap over `blocks` contiguous blocks; frames weighted by
    /// `weights` (a biased run's exp(+V/kT), any normalisation), else counted.
    public static func trajectory(phi: [Double], weights: [Double]? = nil, blocks: Int, resamples: Int, random: inout RandomSource,
                                  basin: PhiBasin = .standard) -> BasinFreeEnergy {
        precondition(weights == nil || weights?.count == phi.count)
        let count = phi.count, blockCount = max(1, min(blocks, count))
        // Block b holds frames b·T/B ..< (b+1)·T/B; per block, the weight (or count) of each basin.
        var blockPlus = [Double](repeating: 0, count: blockCount), blockMinus = blockPlus
        for b in 0..<blockCount {
            for frame in (b * count / blockCount)..<((b + 1) * count / blockCount) {
                let w = weights?[frame] ?? 1
                if basin.contains(phi[frame]) { blockPlus[b] += w } else { blockMinus[b] += w }
            }
        }
        guard count > 0 else { return make(plus: 0, minus: 0, replicates: [], basin: basin, groups: 0, resamples: resamples) }
        return groupBootstrap(plus: blockPlus, minus: blockMinus, resamples: resamples, random: &random, basin: basin)
    }

    /// ΔF of groups (blocks of a trajectory, clusters of samples) with each group's basin weights,
    /// and a bootstrap that draws as many groups as there are, with replacement, per replicate.
    private static func groupBootstrap(plus: [Double], minus: [Double], resamples: Int, random: inout RandomSource,
                                       basin: PhiBasin) -> BasinFreeEnergy {
        let count = plus.count
        var replicates: [Double?] = []
        if count > 0 {
            for _ in 0..<resamples {
                var a = 0.0, b = 0.0
                for _ in 0..<count {
                    let pick = random.integer(below: count)
                    a += plus[pick]
                    b += minus[pick]
                }
                replicates.append(deltaF(positive: a, negative: b))
            }
        }
        return make(plus: plus.reduce(0, +), minus: minus.reduce(0, +), replicates: replicates, basin: basin, groups: count,
                    resamples: resamples)
    }

    /// `groups`: how many independent units the bootstrap drew from; with fewer than 2 every
    /// replicate equals the estimate, and a zero error would claim a precision there is no evidence for.
    private static func make(plus: Double, minus: Double, replicates: [Double?], basin: PhiBasin, groups: Int,
                             resamples: Int) -> BasinFreeEnergy {
        let total = plus + minus
        let finite = replicates.compactMap { $0 }
        var result = BasinFreeEnergy(value: deltaF(positive: plus, negative: minus), standardError: nil,
                                     positiveFraction: total > 0 ? plus / total : .nan,
                                     degenerateReplicates: replicates.count - finite.count, reason: nil)
        if total <= 0 {
            result.reason = "no samples"
        } else if result.value == nil {
            result.reason = plus > 0 ? "no population outside \(basin.description)" : "no population with \(basin.description)"
        } else if resamples < 2 {
            result.reason = "no error: \(resamples) bootstrap replicate\(resamples == 1 ? "" : "s") requested (at least 2 needed)"
        } else if groups < 2 {
            result.reason = "no error: all samples form one group that shares a history (one proposal ancestor, chain group or block), so there is nothing independent to resample"
        } else if finite.count < 2 {
            result.reason = "fewer than 2 bootstrap replicates with both basins populated"
        } else {
            let mean = finite.reduce(0, +) / Double(finite.count)
            result.standardError = (finite.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(finite.count - 1)).squareRoot()
        }
        return result
    }
}
