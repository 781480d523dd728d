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
// which agree with BAR only when the two states overlap well.
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
        return BAREstimate(deltaF: 0.5 * (low + high), forward: forwardEXP.isFinite ? forwardEXP : nil,
                           reverse: reverseEXP.isFinite ? reverseEXP : nil, forwardCount: forward.count, reverseCount: reverse.count)
    }

    /// σ(t) = 1/(1 + eᵗ), without overflow.
    static func fermi(_ t: Double) -> Double {
        if t > 0 {
            let e = exp(-t)
            return e / (1 + e)
        }
        return 1 / (1 + exp(t))
    }

    /// ln of the mean of e^{a}, stable (−∞ terms allowed).
    static func logMeanExp(_ a: [Double]) -> Double {
        guard let top = a.max(), top.isFinite else { return a.isEmpty ? .nan : (a.max() ?? .nan) }
        let sum = a.reduce(0.0) { $0 + exp($1 - top) }
        return top + log(sum / Double(a.count))
    }
}

/// The stratified flow-BAR estimate of ΔF = F(positive φ basin) − F(rest), in kT, with its parts.
public struct StratifiedBasinFreeEnergy: Sendable, Equatable {
    /// One basin's part: the flow's samples there, the equilibrium samples there, and BAR between them.
    public struct Basin: Sendable, Equatable {
        /// Flow samples in the basin.
        public var flowSamples: Int
        /// Equilibrium samples (chain states) in the basin.
        public var equilibriumSamples: Int
        /// Q, the fraction of the flow's samples in the basin.
        public var flowFraction: Double
        /// BAR between the flow and the Boltzmann density restricted to the basin (nil without
        /// samples on either side); Δf = −ln(Z/Q).
        public var bar: BAREstimate?
    }

    public var positive: Basin
    public var negative: Basin
    /// ΔF = −ln(Q₊/Q₋) + Δf₊ − Δf₋ (nil when a basin has no flow or no equilibrium sample).
    public var value: Double?
    /// Bootstrap standard error (nil with fewer than 2 finite replicates).
    public var standardError: Double?
    /// Replicates left out because a basin had no flow or no equilibrium sample in them.
    public var degenerateReplicates: Int
    /// P(positive basin) = Z₊/(Z₊ + Z₋) implied by `value`.
    public var positiveFraction: Double? { value.map { 1 / (1 + exp($0)) } }
}

public enum StratifiedBAR {
    /// ΔF between the φ basins from the flow's samples (basin, W = −log w each) and equilibrium
    /// samples of the Boltzmann density restricted to each basin (basin, W = E/kT + ln q, and the
    /// chain each belongs to: states of one chain are correlated, so the bootstrap resamples chains).
    ///
    /// Bootstrap: each replicate draws the flow's samples with replacement (so Q₊/Q₋ and the
    /// state-0 sets vary together) and, per basin, as many chains as that basin has, with replacement.
    /// - Parameters: `flowPositive`/`flowWork`: one entry per flow sample (W may be +∞, see
    ///   `BennettAcceptanceRatio.estimate`); `equilibriumPositive`/`equilibriumWork`/`chains`: one
    ///   entry per equilibrium state (W finite).
    public static func estimate(flowPositive: [Bool], flowWork: [Double], equilibriumPositive: [Bool], equilibriumWork: [Double],
                                chains: [Int], resamples: Int, random: inout RandomSource) -> StratifiedBasinFreeEnergy {
        precondition(flowPositive.count == flowWork.count && equilibriumPositive.count == equilibriumWork.count
                     && chains.count == equilibriumWork.count, "one basin flag and one work per sample")
        func basin(_ positive: Bool, flow: [Int], equilibrium: [Int]) -> StratifiedBasinFreeEnergy.Basin {
            let inFlow = flow.filter { flowPositive[$0] == positive }.map { flowWork[$0] }
            let inEquilibrium = equilibrium.filter { equilibriumPositive[$0] == positive }.map { equilibriumWork[$0] }
            return .init(flowSamples: inFlow.count, equilibriumSamples: inEquilibrium.count,
                         flowFraction: flow.isEmpty ? .nan : Double(inFlow.count) / Double(flow.count),
                         bar: BennettAcceptanceRatio.estimate(forward: inFlow, reverse: inEquilibrium))
        }
        func combine(_ plus: StratifiedBasinFreeEnergy.Basin, _ minus: StratifiedBasinFreeEnergy.Basin) -> Double? {
            guard let a = plus.bar, let b = minus.bar, plus.flowSamples > 0, minus.flowSamples > 0 else { return nil }
            return -log(Double(plus.flowSamples) / Double(minus.flowSamples)) + a.deltaF - b.deltaF
        }
        let allFlow = Array(flowWork.indices), allEquilibrium = Array(equilibriumWork.indices)
        let plus = basin(true, flow: allFlow, equilibrium: allEquilibrium)
        let minus = basin(false, flow: allFlow, equilibrium: allEquilibrium)
        var result = StratifiedBasinFreeEnergy(positive: plus, negative: minus, value: combine(plus, minus), standardError: nil,
                                               degenerateReplicates: 0)
        // Chains of each basin (a chain restricted to a basin has all its states there).
        var chainStates: [Bool: [Int: [Int]]] = [true: [:], false: [:]]
        for k in allEquilibrium { chainStates[equilibriumPositive[k], default: [:]][chains[k], default: []].append(k) }
        let plusChains = chainStates[true]!.keys.sorted().map { chainStates[true]![$0]! }
        let minusChains = chainStates[false]!.keys.sorted().map { chainStates[false]![$0]! }
        guard result.value != nil, resamples >= 2 else { return result }
        var replicates: [Double] = []
        for _ in 0..<resamples {
            let flow = allFlow.map { _ in random.integer(below: allFlow.count) }
            var equilibrium: [Int] = []
            for group in [plusChains, minusChains] where !group.isEmpty {
                for _ in group.indices { equilibrium += group[random.integer(below: group.count)] }
            }
            if let value = combine(basin(true, flow: flow, equilibrium: equilibrium), basin(false, flow: flow, equilibrium: equilibrium)) {
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
