// Annealed latent chains: a path of densities from the flow restricted to a stratum to the
// Boltzmann density restricted to it, walked in both directions by pCN moves in the flow's latent
// space, whose nonequilibrium works give the stratum's Δf by BAR (Crooks 2000; Shirts, Bair,
// Hooker & Pande 2003, PRL 91, 140601, the maximum-likelihood BAR over nonequilibrium works; Neal
// 2001, "Annealed importance sampling", Stat. Comput. 11, 125, for the forward direction alone).
//
// A flow sample is x = P(T(z)), z ~ p (the mean-free Gaussian prior), with log w(z) = −u(x) − log q
// and W = −log w (Sampling/RestrictedFlowChains.swift has P, T and the stratum S). The path is
//     π_λ(z) ∝ p(z) w(z)^λ 1_S(x(z)),      λ_k = k/K, k = 0 … K,
// whose pushforward is q^{1−λ} e^{−λu} restricted to S: π_0 is the flow restricted to S (Z_0 = Q_S)
// and π_1 the Boltzmann density restricted to S (Z_1 = Z_S, since p(z)/q(x) is the Jacobian). So
// Δf_S = −ln(Z_1/Z_0), the quantity BAR between the flow's samples and the equilibrium chain states
// estimates in one step (Evaluation/BennettAcceptanceRatio.swift). With reduced potentials
// −ln p + λW, the pCN move z' = √(1 − β²) z + β ξ (reversible with respect to p) accepted with
// probability min(1, (w(z')/w(z))^λ) when x' is usable and in S leaves π_λ invariant.
//
// A forward trajectory starts at an exact draw of π_0 (the latent of one of the flow's samples in S)
// and alternates work increments and moves:
//     W_F = Σ_{k=1..K} (λ_k − λ_{k−1}) W(z_{k−1}),   z_k after `moves` moves at λ_k (k = 1 … K−1);
// a reverse trajectory starts at a draw of π_1 (the latent of an equilibrium chain state, from its
// reverse integration) and walks down, z'_k after the moves at λ_k (k = K−1 … 1), z'_K the start:
//     −W_R = Σ_{k=1..K} (λ_k − λ_{k−1}) W(z'_k).
// Crooks' theorem makes W_F and −W_R the forward and reverse works of one BAR (the same equation as
// between equilibrium states, with u₁ − u₀ replaced by the path's accumulated work), whatever the
// number of levels and however well the moves mix: mixing only narrows the work distributions.
// With no move accepted the works are W(start) on both sides, i.e. the one-step BAR; the moves at
// intermediate λ pull the forward trajectories towards where the target is (lower W) and the
// reverse ones towards where the flow is, so the two work distributions overlap where the one-step
// BAR's sides did not (alanine dipeptide's αL: the flow's samples there lie ~30 kT above the
// Boltzmann states, README "ΔF by stratified flow BAR").
//
// Cost: `moves` × (K − 1) forward integrations per trajectory, each as one more proposal of `tbg
// sample`. Trajectory t's noise at its step s is seeded by (seed, stream of the direction, t, s)
// only, and trajectories are integrated in fixed groups (one batch per step), so the works do not
// depend on the number of ranks.
import Foundation
import Kernels
import Model

public struct AnnealedFlowChainSettings: Sendable, Equatable, Encodable {
    /// Trajectories per sparse stratum in each direction (0: none).
    public var trajectories = 0
    /// K: the path's steps, λ_k = k/K; K − 1 intermediate levels carry moves.
    public var levels = 16
    /// pCN moves at each intermediate level.
    public var moves = 1
    /// β of z' = √(1 − β²) z + β ξ (0 < β ≤ 1).
    public var step = 0.1
    /// Trajectories integrated together, one batch per step.
    public var group = 4

    public init() {}

    /// λ_0 = 0 … λ_K = 1.
    public var lambdas: [Double] { (0...levels).map { Double($0) / Double(levels) } }

    /// Proposals (forward integrations) per trajectory.
    public var proposalsPerTrajectory: Int { max(0, levels - 1) * moves }

    enum CodingKeys: String, CodingKey {
        case trajectories, levels, moves, step = "pcn_beta", group
    }
}

public enum AnnealedFlowChains {
    public typealias State = RestrictedFlowChains.State

    /// Which end a trajectory starts from.
    public enum Direction: UInt64, Sendable {
        /// From the flow restricted to the stratum (λ = 0) up to the Boltzmann density (λ = 1).
        case forward = 0
        /// From the Boltzmann density restricted to the stratum down to the flow.
        case reverse = 1
    }

    /// What `run` returns: `states[t][i]` is trajectory t's state after the moves at its i-th
    /// intermediate level (forward: λ_1 … λ_{K−1}; reverse: λ_{K−1} … λ_1).
    public struct Result: Sendable {
        public var states: [[State]]
        public var accepted: [Int]
        /// Forward integrations spent (one per proposal).
        public var integrations: Int
        /// A stop was asked for after a group: the result holds only the groups before it.
        public var stopped = false
    }

    /// The noise streams of the two directions (apart from the latent chains' 0xF10C).
    static func stream(_ direction: Direction) -> UInt64 { 0xA11E0 + direction.rawValue }

    /// The BAR work of a trajectory: W_F for a forward one, −W_R for a reverse one (see the file's
    /// header), from W at its start and at its recorded states (`work(state)`: W = −log w, +∞ where
    /// the target has no density, e.g. above an energy cut-off).
    public static func work(start: State, states: [State], lambdas: [Double], direction: Direction, work: (State) -> Double) -> Double {
        let levels = lambdas.count - 1
        precondition(states.count == levels - 1, "one state per intermediate level")
        var total = 0.0
        for k in 1...levels {
            let state: State
            switch direction {
            case .forward: state = k == 1 ? start : states[k - 2]            // z_{k−1}
            case .reverse: state = k == levels ? start : states[levels - 1 - k]  // z'_k
            }
            let increment = (lambdas[k] - lambdas[k - 1]) * work(state)
            total += increment.isNaN ? .infinity : increment
        }
        return total
    }

    /// Runs the trajectories `trajectories` (indices into `starts`) in `direction`, `settings.group`
    /// at a time.
    /// - Parameters:
    ///   - starts: latents (model units, mean-free, atoms × 3), their strata and states: draws of π_0
    ///     (forward) or π_1 (reverse) restricted to the stratum.
    ///   - map: the flow's samples of a batch of latents: for each, its state and its stratum, or nil
    ///     when it is not usable.
    ///   - work: W = −log w of a state, +∞ where the target has no density.
    ///   - stored/finished/shouldStop/progress: as `RestrictedFlowChains.run`.
    public static func run(starts: [RestrictedFlowChainStart], trajectories: Range<Int>, direction: Direction, atoms: Int,
                           settings: AnnealedFlowChainSettings, seed: UInt64,
                           map: ([[Double]]) throws -> [(state: State, stratum: Int?)], work: (State) -> Double,
                           stored: (Range<Int>) -> (states: [[State]], accepted: [Int])? = { _ in nil },
                           finished: (Range<Int>, [[State]], [Int]) throws -> Void = { _, _, _ in },
                           shouldStop: () -> Bool = { false }, progress: ((Int) -> Void)? = nil) rethrows -> Result {
        precondition(settings.step > 0 && settings.step <= 1, "pCN β in (0, 1]")
        precondition(settings.levels >= 1 && settings.moves >= 1, "at least one level and one move")
        let lambdas = settings.lambdas, levels = settings.levels
        // The intermediate levels in the order this direction visits them.
        let visited: [Double] = direction == .forward ? Array(lambdas[1..<levels]) : Array(lambdas[1..<levels].reversed())
        let perTrajectory = settings.proposalsPerTrajectory
        var result = Result(states: [], accepted: [], integrations: 0)
        var first = trajectories.lowerBound
        while first < trajectories.upperBound {
            let group = first..<min(trajectories.upperBound, first + max(1, settings.group))
            if let kept = stored(group) {
                result.states += kept.states
                result.accepted += kept.accepted
                result.integrations += group.count * perTrajectory
                first = group.upperBound
                progress?(result.states.count)
                continue
            }
            var latents = group.map { starts[$0].latent }
            var current = group.map { starts[$0].state }
            var currentWork = current.map(work)
            var states = [[State]](repeating: [], count: group.count), accepted = [Int](repeating: 0, count: group.count)
            var step = 0
            for lambda in visited {
                for _ in 0..<settings.moves {
                    let proposed = group.enumerated().map { row, t in
                        RestrictedFlowChains.proposal(from: latents[row], atoms: atoms, beta: settings.step, seed: seed, chain: t, step: step,
                                                      stream: stream(direction))
                    }
                    let mapped = try map(proposed)
                    result.integrations += proposed.count
                    for (row, t) in group.enumerated() {
                        guard let stratum = mapped[row].stratum, stratum == starts[t].stratum else { continue }
                        let proposedWork = work(mapped[row].state)
                        guard proposedWork.isFinite else { continue }
                        // log α = λ (W(z) − W(z')); +∞ from a start without density.
                        let logAcceptance = currentWork[row].isFinite ? lambda * (currentWork[row] - proposedWork) : .infinity
                        var random = RandomSource(seed: seed, streams: [stream(direction), 0xACC, UInt64(t), UInt64(step)])
                        if logAcceptance >= 0 || log(random.uniform()) < logAcceptance {
                            latents[row] = proposed[row]
                            current[row] = mapped[row].state
                            currentWork[row] = proposedWork
                            accepted[row] += 1
                        }
                    }
                    step += 1
                }
                for row in 0..<group.count { states[row].append(current[row]) }
            }
            try finished(group, states, accepted)
            result.states += states
            result.accepted += accepted
            first = group.upperBound
            progress?(result.states.count)
            if first < trajectories.upperBound && shouldStop() {
                result.stopped = true
                break
            }
        }
        return result
    }
}
