// Bennett's acceptance ratio (BAR) between two unnormalised densities, and the stratified ΔF
// between the φ basins that `tbg free-energy` builds on it.
//
// BAR (Bennett 1976, "Efficient estimation of free energy differences from Monte Carlo data",
// J. Comput. Phys. 22, 245; in the maximum-likelihood form of Shirts, Bair, Hooker & Pande 2003,
// "Equilibrium free energies from nonequilibrium measurements using maximum-likelihood methods",
// PRL 91, 140601, eq. 5): states 0 and 1 with reduced potentials u₀, u₁ (densities ∝ e^{−u}) and
// free energies f = −ln Z. With the work W(x) = u₁(x) − u₀(x) evaluated at n₀ samples of state 0
// and n₁ samples of state 1, and M = ln(n₀/n₁), Δf = f₁ − f₀ solves
//     Σ_{x ∈ 0} σ(M + W(x) − Δf) = Σ_{x ∈ 1} σ(−M − W(x) + Δf),      σ(t) = 1/(1 + eᵗ).
// The left side increases with Δf and the right side decreases, so the root is unique and found by
// bisection. BAR is the minimum-variance estimator that uses both directions; the one-sided
// exponential averages (Zwanzig's FEP) are reported beside it as a diagnostic of overlap:
//     Δf_forward = −ln ⟨e^{−W}⟩₀,   Δf_reverse = +ln ⟨e^{+W}⟩₁,
// which agree with BAR only when the two states overlap well. The overlap itself is measured as
// MBAR's overlap scalar for two states (Klimovich, Shirts & Mobley 2015, "Guidelines for the
// analysis of free energy calculations", J. Comput. Aided Mol. Des. 29, 397, §"overlap matrix"):
// with N = n₀ + n₁ pooled samples and d = Δf − W at each, the weights are W_{x0} = 1/(n₀ + n₁e^d)
// and W_{x1} = e^d/(n₀ + n₁e^d), the overlap matrix O_ij = n_j Σ_x W_{xi} W_{xj} is 2 × 2 and
// row-stochastic, and 1 − its second eigenvalue is
//     O₀₁ + O₁₀ = N Σ_x e^d / (n₀ + n₁e^d)²,
// 1 for identical states, 0 for disjoint ones; below 0.03 the estimate is not to be trusted (ibid.).
//
// Stratified flow BAR for the φ-basin ΔF (the flow's analogue of targeted free-energy perturbation,
// Wirnsberger et al. 2020, J. Chem. Phys. 153, 144112, applied per basin): in basin A, state 0 is
// the flow restricted to A (u₀ = −ln q, Z₀ = Q_A, the flow's probability of A) and state 1 the
// Boltzmann density restricted to A (u₁ = E/kT, Z₁ = Z_A). Then W = E/kT + ln q = −log w, the
// flow's samples in A are samples of state 0, equilibrium samples of the Boltzmann density
// restricted to A (local MALA chains that never leave A) are samples of state 1, and
//     Z_A = Q_A · exp(−Δf_A),    ΔF = F_A − F_B = −ln(Z_A / Z_B) = −ln(Q_A / Q_B) + Δf_A − Δf_B.
// Q_A/Q_B is a ratio of counts of the flow's samples (binomial noise only), and Δf_A, Δf_B compare
// the flow with the target *within* each basin, where BAR uses both directions. Plain SNIS instead
// puts the basin populations on the few proposals that carry most of the importance weight.
// Any constant factor in q (e.g. the valid fraction, or the mirror fix doubling the density of valid
// samples) is the same in both basins and cancels.
import Foundation
import Kernels

/// BAR's estimate and its one-sided companions, Δf = f₁ − f₀ in units of kT.
public struct BAREstimate: Sendable, Equatable {
    /// The root of Bennett's equation.
    public var deltaF: Double
    /// −ln ⟨e^{−W}⟩ over state 0's samples (nil when none has a finite W).
    public var forward: Double?
    /// +ln ⟨e^{+W}⟩ over state 1's samples.
    public var reverse: Double?
    public var forwardCount: Int
    public var reverseCount: Int
    /// MBAR's two-state overlap scalar at `deltaF`, in [0, 1] (see the file's header).
    public var overlap: Double = .nan

    public init(deltaF: Double, forward: Double?, reverse: Double?, forwardCount: Int, reverseCount: Int, overlap: Double = .nan) {
        (self.deltaF, self.forward, self.reverse, self.forwardCount, self.reverseCount, self.overlap) =
            (deltaF, forward, reverse, forwardCount, reverseCount, overlap)
    }
}

public enum BennettAcceptanceRatio {
    /// Bennett's Δf = f₁ − f₀ from works W = u₁ − u₀ at samples of state 0 (`forward`) and of
    /// state 1 (`reverse`, the same W, not its negative).
    ///
    /// W may be +∞ at a sample of state 0 (where state 1 has no density, e.g. an infinite energy):
    /// such a sample adds nothing to the left side and still counts in n₀. W must be finite at
    /// samples of state 1.
    /// - Returns: nil when either side has no sample, a state-1 work is not finite, or no state-0 work
    ///   is finite (no overlap at all).
    public static func estimate(forward: [Double], reverse: [Double]) -> BAREstimate? {
        let finiteForward = forward.filter(\.isFinite)
        guard !finiteForward.isEmpty, !reverse.isEmpty, reverse.allSatisfy(\.isFinite), !forward.contains(where: \.isNaN) else { return nil }
        let m = log(Double(forward.count) / Double(reverse.count))
        // g(Δf) = Σ₀ σ(M + W − Δf) − Σ₁ σ(−M − W + Δf), increasing in Δf. Outside
        // [min W − |M| − 50, max W + |M| + 50] every σ is within e⁻⁵⁰ of 0 or 1, so g changes sign
        // in there.
        let all = finiteForward + reverse
        var low = all.min()! - abs(m) - 50, high = all.max()! + abs(m) + 50
        func g(_ f: Double) -> Double {
            var left = 0.0, right = 0.0
            for w in finiteForward { left += fermi(m + w - f) }
            for w in reverse { right += fermi(-m - w + f) }
            return left - right
        }
        for _ in 0..<200 {
            let mid = 0.5 * (low + high)
            if mid == low || mid == high { break }
            if g(mid) < 0 { low = mid } else { high = mid }
        }
        let forwardEXP = -logMeanExp(forward.map { -$0 })
        let reverseEXP = logMeanExp(reverse)
        let deltaF = 0.5 * (low + high)
        return BAREstimate(deltaF: deltaF, forward: forwardEXP.isFinite ? forwardEXP : nil,
                           reverse: reverseEXP.isFinite ? reverseEXP : nil, forwardCount: forward.count, reverseCount: reverse.count,
                           overlap: overlap(forward: finiteForward, reverse: reverse, forwardCount: forward.count, deltaF: deltaF))
    }

    /// The overlap scalar N Σ_x e^d/(n₀ + n₁e^d)², d = Δf − W, over the finite works of both sides
    /// (a state-0 sample with W = +∞ adds 0 and counts in n₀ = `forwardCount`).
    static func overlap(forward: [Double], reverse: [Double], forwardCount: Int, deltaF: Double) -> Double {
        let n0 = Double(forwardCount), n1 = Double(reverse.count)
        var sum = 0.0
        for w in forward + reverse {
            // e^d/(n₀ + n₁e^d)² = 1/(n₀ e^{−d/2} + n₁ e^{d/2})², finite for any d.
            let d = deltaF - w
            let denominator = n0 * exp(-0.5 * d) + n1 * exp(0.5 * d)
            sum += 1 / (denominator * denominator)
        }
        return min(1, (n0 + n1) * sum)
    }

    /// σ(t) = 1/(1 + eᵗ), without overflow.
    static func fermi(_ t: Double) -> Double {
        if t > 0 {
            let e = exp(-t)
            return e / (1 + e)
        }
        return 1 / (1 + exp(t))
    }

    /// ln of the mean of e^{a} (−∞ terms allowed), on `ImportanceWeights.logSumExp`.
    static func logMeanExp(_ a: [Double]) -> Double {
        a.isEmpty ? .nan : ImportanceWeights.logSumExp(a) - log(Double(a.count))
    }
}

/// The stratified flow-BAR estimate of ΔF = F(positive φ basin) − F(rest), in kT, with its parts.
public struct StratifiedBasinFreeEnergy: Sendable, Equatable {
    /// One stratum's part: the flow's samples there, the equilibrium samples there, and BAR between them.
    public struct Stratum: Sendable, Equatable {
        /// Whether the stratum lies in the positive basin.
        public var positive: Bool
        /// Flow samples in the stratum.
        public var flowSamples: Int
        /// Further i.i.d. draws of the flow in the stratum that count towards Q only (position-only
        /// draws: no log q, so not in BAR).
        public var countedDraws = 0
        /// Further samples of the flow restricted to the stratum (latent chains,
        /// Sampling/RestrictedFlowChains.swift): in BAR's flow side, not in Q.
        public var restrictedFlowSamples = 0
        /// Equilibrium samples (chain states) in the stratum.
        public var equilibriumSamples: Int
        /// Q, the fraction of the flow's samples in the stratum (flow samples and counted draws
        /// together).
        public var flowFraction: Double
        /// BAR between the flow and the Boltzmann density restricted to the stratum (nil without
        /// samples on either side); Δf = −ln(Z/Q). With annealed trajectories in both directions,
        /// BAR over their works (Sampling/AnnealedFlowChains.swift), its one-sided estimates being
        /// Jarzynski's.
        public var bar: BAREstimate?
        /// Annealed trajectories from the flow (forward) and from the equilibrium states (reverse).
        public var annealedForward = 0, annealedReverse = 0
        /// Where `bar` is the annealed one: the one-step BAR between the flow's samples and the chain
        /// states, for comparison (nil otherwise).
        public var directBAR: BAREstimate?
        /// The Pareto k̂ (PSIS, `ParetoSmoothing`) of the importance weights e^{−W} on BAR's flow side
        /// (the forward works `bar` used): above `forwardParetoThreshold` their exponential mean, and
        /// so the forward EXP and a BAR that leans on it, rests on a few draws; nil with fewer than 21
        /// works and in bootstrap replicates.
        public var forwardParetoKHat: Double?
        /// Vehtari et al.'s threshold min(1 − 1/log10 S, 0.7) for those S works (nil with k̂).
        public var forwardParetoThreshold: Double?

        public init(positive: Bool, flowSamples: Int, countedDraws: Int = 0, restrictedFlowSamples: Int = 0, equilibriumSamples: Int,
                    flowFraction: Double, bar: BAREstimate?) {
            (self.positive, self.flowSamples, self.countedDraws, self.restrictedFlowSamples) = (positive, flowSamples, countedDraws, restrictedFlowSamples)
            (self.equilibriumSamples, self.flowFraction, self.bar) = (equilibriumSamples, flowFraction, bar)
        }

        /// Why BAR here can be off by more than its bootstrap error, if it can.
        public enum Concern: String, Sendable, Equatable, CaseIterable {
            /// Forward and reverse EXP differ by more than `Stratum.wideGapKT`.
            case forwardReverseGap = "forward_reverse_gap"
            /// MBAR's overlap scalar below `Stratum.minimumOverlap`.
            case lowOverlap = "low_overlap"
            /// The flow side's k̂ above its threshold while the one-sided estimates differ by more
            /// than `Stratum.heavyTailGapKT`: BAR leans on a heavy-tailed forward side.
            case heavyTail = "heavy_tail"
        }

        /// Forward and reverse EXP that differ by more than this (kT) mean that the flow's samples
        /// and the equilibrium samples hardly overlap. Measured on alanine dipeptide (README "ΔF by
        /// stratified flow BAR"): with 7–17 flow samples in αL and gaps of 5–10 kT, ΔF was off by
        /// 1–2.5 kT; with gaps below 3 kT, by 0.2–0.7 (once, with 28 flow samples and a gap of 5 kT,
        /// by 0.1: the rule errs on the side of saying so).
        public static let wideGapKT = 3.0
        /// BAR's overlap scalar below which its estimate is not to be trusted (Klimovich, Shirts &
        /// Mobley 2015: 0.03 between neighbouring states).
        public static let minimumOverlap = 0.03
        /// With k̂ above its threshold, a gap above this (kT) means BAR leans on the heavy tail. On
        /// alanine dipeptide a 0.7 kT miss had a gap of 1.5 kT and k̂ 1.7 in αL (one draw 3.4 nats
        /// above the rest), while the φ < 0 strata, with gaps within 1 kT, did no harm at k̂ 0.3–0.8.
        public static let heavyTailGapKT = 1.0

        /// The concerns that apply (empty: none, or no BAR here).
        public var concerns: [Concern] {
            guard let forward = bar?.forward, let reverse = bar?.reverse, forward.isFinite, reverse.isFinite else { return [] }
            let gap = abs(forward - reverse)
            var found: [Concern] = []
            if gap > Self.wideGapKT { found.append(.forwardReverseGap) }
            if let overlap = bar?.overlap, overlap < Self.minimumOverlap { found.append(.lowOverlap) }
            if let k = forwardParetoKHat, let limit = forwardParetoThreshold, k > limit, gap > Self.heavyTailGapKT { found.append(.heavyTail) }
            return found
        }
    }

    public var strata: [Stratum]
    /// ΔF = −ln(Σ_{s ⊂ +} Q_s e^{−Δf_s} / Σ_{s ⊂ −} Q_s e^{−Δf_s}) (nil when a basin has no stratum
    /// with flow and equilibrium samples).
    public var value: Double?
    /// Bootstrap standard error (nil with fewer than 2 finite replicates).
    public var standardError: Double?
    /// Replicates left out because a basin had no stratum with flow and equilibrium samples in them.
    public var degenerateReplicates: Int
    /// P(positive basin) = Z₊/(Z₊ + Z₋) implied by `value`.
    public var positiveFraction: Double? { value.map { 1 / (1 + exp($0)) } }
    /// The estimated share of each stratum in the Boltzmann distribution, Z_s / Σ Z (nil without `value`).
    public var populations: [Double]? {
        guard value != nil else { return nil }
        let logZ = strata.map { s -> Double in
            guard let bar = s.bar, s.flowSamples + s.countedDraws > 0 else { return -.infinity }
            return log(s.flowFraction) - bar.deltaF
        }
        let top = logZ.max()!
        let z = logZ.map { exp($0 - top) }
        let total = z.reduce(0, +)
        return z.map { $0 / total }
    }
}

/// The works of annealed trajectories between the flow and the Boltzmann density restricted to a
/// stratum (Sampling/AnnealedFlowChains.swift: W_F forward, −W_R reverse), each with its stratum and
/// its cluster for the bootstrap (trajectories that share a start, or started from one chain).
public struct AnnealedWorks: Sendable, Equatable {
    public var forwardStrata: [Int] = [], forwardWork: [Double] = [], forwardClusters: [Int] = []
    public var reverseStrata: [Int] = [], reverseWork: [Double] = [], reverseClusters: [Int] = []

    public init() {}
}

public enum StratifiedBAR {
    /// ΔF between the φ basins from the flow's samples (stratum, W = −log w each) and equilibrium
    /// samples of the Boltzmann density restricted to each stratum (stratum, W = E/kT + ln q, and the
    /// cluster each belongs to: states of one chain, or of chains that share a start, are
    /// correlated, so the bootstrap resamples clusters). Strata partition the two basins
    /// (`positiveStrata[s]`); with one stratum per basin this is the per-basin estimator of the
    /// file's header, with more it sums Z_s = Q_s e^{−Δf_s} over each basin's strata.
    ///
    /// Bootstrap: each replicate draws the flow's samples with replacement (so the Q_s and the
    /// state-0 sets vary together) and, per stratum, as many clusters as that stratum has, with
    /// replacement. A stratum without flow samples in a replicate contributes Z_s = 0 (its Q_s is 0).
    /// Counted draws are resampled with replacement too, apart from the flow's samples.
    /// - Parameters: `flowStrata`/`flowWork`: one entry per flow sample (W may be +∞, see
    ///   `BennettAcceptanceRatio.estimate`); `equilibriumStrata`/`equilibriumWork`/`clusters`: one
    ///   entry per equilibrium state (W finite); strata are 0..<positiveStrata.count.
    ///   `restrictedStrata`/`restrictedWork`/`restrictedClusters`: further samples of the flow restricted
    ///   to their stratum (the states of latent chains, correlated along a chain: its cluster), which
    ///   join the stratum's flow side in BAR but not its Q (they are not draws of the whole flow).
    ///   `countedStrata`: the strata of further i.i.d. draws of the flow, from the same law as the
    ///   flow's samples (usable ones only, as `flowStrata`), whose log q is unknown: they join Q only,
    ///   Q_s = (flow samples in s + counted draws in s) / (flow samples + counted draws), which lowers
    ///   Q's binomial noise where the flow rarely goes (Sampling/StratumDraws.swift).
    ///   `annealed`: works of annealed trajectories; in a stratum with trajectories in both directions
    ///   its Δf is BAR over them (Crooks), and the one-step BAR is kept as `directBAR`. The bootstrap
    ///   resamples their clusters per stratum and direction.
    public static func estimate(flowStrata: [Int], flowWork: [Double], equilibriumStrata: [Int], equilibriumWork: [Double],
                                clusters: [Int], restrictedStrata: [Int] = [], restrictedWork: [Double] = [], restrictedClusters: [Int] = [],
                                countedStrata: [Int] = [], annealed: AnnealedWorks = AnnealedWorks(),
                                positiveStrata: [Bool], resamples: Int, random: inout RandomSource) -> StratifiedBasinFreeEnergy {
        precondition(flowStrata.count == flowWork.count && equilibriumStrata.count == equilibriumWork.count
                     && clusters.count == equilibriumWork.count && restrictedStrata.count == restrictedWork.count
                     && restrictedClusters.count == restrictedWork.count, "one stratum and one work per sample")
        precondition(annealed.forwardStrata.count == annealed.forwardWork.count && annealed.forwardClusters.count == annealed.forwardWork.count
                     && annealed.reverseStrata.count == annealed.reverseWork.count && annealed.reverseClusters.count == annealed.reverseWork.count,
                     "one stratum, one work and one cluster per annealed trajectory")
        let k = positiveStrata.count
        precondition((flowStrata + equilibriumStrata + restrictedStrata + countedStrata + annealed.forwardStrata + annealed.reverseStrata)
            .allSatisfy { (0..<k).contains($0) }, "strata are 0..<\(k)")
        func parts(flow: [Int], equilibrium: [Int], restricted: [Int], counted: [Int], forward: [Int], reverse: [Int],
                   diagnose: Bool = false) -> [StratifiedBasinFreeEnergy.Stratum] {
            var flowWorks = [[Double]](repeating: [], count: k), equilibriumWorks = flowWorks, restrictedWorks = flowWorks
            var forwardWorks = flowWorks, reverseWorks = flowWorks
            var counts = [Int](repeating: 0, count: k)
            for i in counted { counts[countedStrata[i]] += 1 }
            let draws = flow.count + counted.count
            for i in flow { flowWorks[flowStrata[i]].append(flowWork[i]) }
            for i in equilibrium { equilibriumWorks[equilibriumStrata[i]].append(equilibriumWork[i]) }
            for i in restricted { restrictedWorks[restrictedStrata[i]].append(restrictedWork[i]) }
            for i in forward { forwardWorks[annealed.forwardStrata[i]].append(annealed.forwardWork[i]) }
            for i in reverse { reverseWorks[annealed.reverseStrata[i]].append(annealed.reverseWork[i]) }
            return (0..<k).map { s -> StratifiedBasinFreeEnergy.Stratum in
                let inStratum: Int = flowWorks[s].count + counts[s]
                let fraction: Double = draws == 0 ? .nan : Double(inStratum) / Double(draws)
                let direct = BennettAcceptanceRatio.estimate(forward: flowWorks[s] + restrictedWorks[s], reverse: equilibriumWorks[s])
                let useAnnealed = !forwardWorks[s].isEmpty && !reverseWorks[s].isEmpty
                var part = StratifiedBasinFreeEnergy.Stratum(
                    positive: positiveStrata[s], flowSamples: flowWorks[s].count, countedDraws: counts[s],
                    restrictedFlowSamples: restrictedWorks[s].count, equilibriumSamples: equilibriumWorks[s].count,
                    flowFraction: fraction, bar: useAnnealed ? BennettAcceptanceRatio.estimate(forward: forwardWorks[s], reverse: reverseWorks[s]) : direct)
                (part.annealedForward, part.annealedReverse) = (forwardWorks[s].count, reverseWorks[s].count)
                if useAnnealed { part.directBAR = direct }
                if diagnose, let tail = ParetoSmoothing.diagnose(logWeights: (useAnnealed ? forwardWorks[s] : flowWorks[s] + restrictedWorks[s]).map { -$0 }) {
                    (part.forwardParetoKHat, part.forwardParetoThreshold) = (tail.khat, tail.threshold)
                }
                return part
            }
        }
        /// ΔF from the parts; nil when a basin has no stratum with both sides.
        func combine(_ strata: [StratifiedBasinFreeEnergy.Stratum]) -> Double? {
            var logZ: [Bool: [Double]] = [true: [], false: []]
            for s in strata where s.flowSamples + s.countedDraws > 0 {
                guard let bar = s.bar else { return nil }   // flow samples but no chain there: Z_s unknown
                logZ[s.positive]!.append(log(Double(s.flowSamples + s.countedDraws)) - bar.deltaF)
            }
            guard let plus = logZ[true], let minus = logZ[false], !plus.isEmpty, !minus.isEmpty else { return nil }
            return -(ImportanceWeights.logSumExp(plus) - ImportanceWeights.logSumExp(minus))
        }
        let allFlow = Array(flowWork.indices), allEquilibrium = Array(equilibriumWork.indices)
        let allCounted = Array(countedStrata.indices)
        let strata = parts(flow: allFlow, equilibrium: allEquilibrium, restricted: Array(restrictedWork.indices), counted: allCounted,
                           forward: Array(annealed.forwardWork.indices), reverse: Array(annealed.reverseWork.indices), diagnose: true)
        var result = StratifiedBasinFreeEnergy(strata: strata, value: combine(strata), standardError: nil, degenerateReplicates: 0)
        guard result.value != nil, resamples >= 2 else { return result }
        // Clusters of each stratum, on each side.
        func members(_ strata: [Int], _ clusters: [Int]) -> [[[Int]]] {
            var groups = [[Int: [Int]]](repeating: [:], count: k)
            for i in strata.indices { groups[strata[i]][clusters[i], default: []].append(i) }
            return groups.map { g in g.keys.sorted().map { g[$0]! } }
        }
        func draw(_ members: [[[Int]]]) -> [Int] {
            var drawn: [Int] = []
            for group in members where !group.isEmpty {
                for _ in group.indices { drawn += group[random.integer(below: group.count)] }
            }
            return drawn
        }
        let equilibriumMembers = members(equilibriumStrata, clusters), restrictedMembers = members(restrictedStrata, restrictedClusters)
        let forwardMembers = members(annealed.forwardStrata, annealed.forwardClusters)
        let reverseMembers = members(annealed.reverseStrata, annealed.reverseClusters)
        var replicates: [Double] = []
        for _ in 0..<resamples {
            let flow = allFlow.map { _ in random.integer(below: allFlow.count) }
            let equilibrium = draw(equilibriumMembers)
            let restricted = draw(restrictedMembers)
            let counted = allCounted.map { _ in random.integer(below: allCounted.count) }
            let forward = draw(forwardMembers), reverse = draw(reverseMembers)
            if let value = combine(parts(flow: flow, equilibrium: equilibrium, restricted: restricted, counted: counted, forward: forward, reverse: reverse)) {
                replicates.append(value)
            } else {
                result.degenerateReplicates += 1
            }
        }
        if replicates.count >= 2 {
            let mean = replicates.reduce(0, +) / Double(replicates.count)
            result.standardError = (replicates.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(replicates.count - 1)).squareRoot()
        }
        return result
    }
}
