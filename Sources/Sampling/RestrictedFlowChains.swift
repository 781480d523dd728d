// The flow's samples restricted to one stratum, by preconditioned Crank–Nicolson (pCN) chains in
// its latent space: more flow-side samples for BAR in a stratum the flow rarely visits (Cotter,
// Roberts, Stuart & White 2013, "MCMC methods for functions: modifying old algorithms to make them
// faster", Stat. Sci. 28, 424, §4.2; Neal 1999).
//
// A flow sample is x = P(T(z)), z ~ p (the mean-free Gaussian prior, MeanFreePrior), T the ODE map
// and P the post-processing (bond graph, chirality fix; SamplePostprocessor). Restricted to a set S
// of usable samples in one stratum, its law q|S is the image of p restricted to A = {z : P(T(z)) ∈ S}.
// The pCN move z' = √(1 − β²) z + β ξ, ξ ~ p, is reversible with respect to p (an AR(1) process
// with p as its stationary law, on the mean-free subspace); accepting z' exactly when x' = P(T(z'))
// lies in S, and otherwise staying, makes the chain reversible with respect to p restricted to A.
// A chain started at the latent of one of the flow's own samples in S starts in that law, so every
// state is an exact (correlated) draw of q|S: no burn-in. Its log q and energy come with each
// forward integration, as for `tbg sample`. What BAR needs in S, E_{q|S}[·], is then estimated from
// the chains' states as well as from the flow's i.i.d. samples there; the stratum's probability Q_S
// still comes from the i.i.d. samples alone.
//
// Cost: one forward integration per proposal (accepted or not), like one more proposal of `tbg
// sample`; but a chain's proposals land in S at the pCN acceptance rate (tens of per cent for a small
// β), where the flow's i.i.d. proposals land there at Q_S (2–3 % for alanine dipeptide's αL).
//
// Chain c's noise at step k is seeded by (seed, c, k) only, and chains are integrated in fixed groups
// of `group` (a group is a rank's unit of work, in one batch per step), so the states do not depend
// on the number of ranks.
import Foundation
import Kernels
import Model

public struct RestrictedFlowChainSettings: Sendable, Equatable, Encodable {
    /// Chains in each sparse stratum (0: none).
    public var chains = 0
    /// pCN proposals per chain, each one forward integration; every one records the chain's state.
    public var length = 8
    /// β of z' = √(1 − β²) z + β ξ (0 < β ≤ 1; 1 proposes independent draws of the prior).
    public var step = 0.2
    /// Strata with fewer usable flow samples than this get chains.
    public var sparseBelow = 64
    /// Chains integrated together, one batch per step.
    public var group = 4

    public init() {}

    enum CodingKeys: String, CodingKey {
        case chains, length, step = "pcn_beta", sparseBelow = "sparse_below", group
    }
}

/// One chain's start: the latent (model units, mean-free, atoms × 3) of one of the flow's usable
/// samples, the stratum it lies in and what the chain repeats when its first proposal is rejected.
public struct RestrictedFlowChainStart: Sendable {
    public var latent: [Double]
    public var stratum: Int
    public var state: RestrictedFlowChains.State

    public init(latent: [Double], stratum: Int, state: RestrictedFlowChains.State) {
        (self.latent, self.stratum, self.state) = (latent, stratum, state)
    }
}

public enum RestrictedFlowChains {
    /// A chain state: positions (nm, reference atom order), energy (kJ/mol), log q (model units) and
    /// log w = −E/kT − log q, as in a sample file.
    public struct State: Sendable, Equatable {
        public var positions: [Double]
        public var energy: Double
        public var logQ: Double
        public var logWeight: Double

        public init(positions: [Double], energy: Double, logQ: Double, logWeight: Double) {
            (self.positions, self.energy, self.logQ, self.logWeight) = (positions, energy, logQ, logWeight)
        }
    }

    /// What `run` returns for its chains: `states[c][k]` is chain c's state after its k-th proposal.
    public struct Result: Sendable {
        public var states: [[State]]
        public var accepted: [Int]
        /// Forward integrations spent (one per proposal).
        public var integrations: Int
        /// A stop was asked for after a group: the result holds only the groups before it.
        public var stopped = false
    }

    /// The latent of a pCN proposal from `z`: √(1 − β²) z + β ξ, ξ the mean-free Gaussian of stream
    /// (seed, stream, chain, step); the latent chains' stream is 0xF10C.
    public static func proposal(from z: [Double], atoms: Int, beta: Double, seed: UInt64, chain: Int, step: Int,
                                stream: UInt64 = 0xF10C) -> [Double] {
        var random = RandomSource(seed: seed, streams: [stream, UInt64(chain), UInt64(step)])
        var xi = [Double](repeating: 0, count: atoms * 3)
        xi.withUnsafeMutableBufferPointer { MeanFreePrior.draw($0.baseAddress!, atoms: atoms, random: &random) }
        let keep = (1 - beta * beta).squareRoot()
        return zip(z, xi).map { keep * $0 + beta * $1 }
    }

    /// Runs the chains `chains` (indices into `starts`), `settings.group` at a time.
    /// - Parameters:
    ///   - map: the flow's samples of a batch of latents: for each, its state and its stratum, or nil
    ///     when it is not usable (failed integration, bond graph, chirality, non-finite energy).
    ///   - shouldStop: asked after each group; true ends the run there (`Result.stopped`).
    ///   - stored: a group's states and acceptances kept by an earlier run (nil: integrate it); its
    ///     integrations count in `Result.integrations` as if made now, so a resumed run reports the same.
    ///   - finished: called with each group computed now (to keep it).
    public static func run(starts: [RestrictedFlowChainStart], chains: Range<Int>, atoms: Int, settings: RestrictedFlowChainSettings,
                           seed: UInt64, map: ([[Double]]) throws -> [(state: State, stratum: Int?)],
                           stored: (Range<Int>) -> (states: [[State]], accepted: [Int])? = { _ in nil },
                           finished: (Range<Int>, [[State]], [Int]) throws -> Void = { _, _, _ in },
                           shouldStop: () -> Bool = { false }, progress: ((Int) -> Void)? = nil) rethrows -> Result {
        precondition(settings.step > 0 && settings.step <= 1, "pCN β in (0, 1]")
        var result = Result(states: [], accepted: [], integrations: 0)
        var first = chains.lowerBound
        while first < chains.upperBound {
            let group = first..<min(chains.upperBound, first + max(1, settings.group))
            if let kept = stored(group) {
                result.states += kept.states
                result.accepted += kept.accepted
                result.integrations += group.count * settings.length
                first = group.upperBound
                progress?(result.states.count)
                continue
            }
            var latents = group.map { starts[$0].latent }
            var current = group.map { starts[$0].state }
            var states = [[State]](repeating: [], count: group.count), accepted = [Int](repeating: 0, count: group.count)
            for step in 0..<settings.length {
                let proposed = group.enumerated().map { row, chain in
                    proposal(from: latents[row], atoms: atoms, beta: settings.step, seed: seed, chain: chain, step: step)
                }
                let mapped = try map(proposed)
                result.integrations += proposed.count
                for (row, chain) in group.enumerated() {
                    if let stratum = mapped[row].stratum, stratum == starts[chain].stratum {
                        latents[row] = proposed[row]
                        current[row] = mapped[row].state
                        accepted[row] += 1
                    }
                    states[row].append(current[row])
                }
            }
            try finished(group, states, accepted)
            result.states += states
            result.accepted += accepted
            first = group.upperBound
            progress?(result.states.count)
            if first < chains.upperBound && shouldStop() {
                result.stopped = true
                break
            }
        }
        return result
    }

    /// The chains' starts in the strata with fewer than `settings.sparseBelow` usable flow samples:
    /// `settings.chains` per such stratum, spread evenly over its samples (chain j of a stratum with
    /// n samples starts from its ⌊j·n/chains⌋-th), strata in order.
    /// - Parameters: `flowStrata`: the stratum of each usable flow sample; `strata`: their number.
    /// - Returns: per chain, the flow sample it starts from and its stratum.
    public static func startSamples(flowStrata: [Int], strata: Int, settings: RestrictedFlowChainSettings) -> [(sample: Int, stratum: Int)] {
        guard settings.chains > 0 else { return [] }
        var starts: [(sample: Int, stratum: Int)] = []
        for s in 0..<strata {
            let members = flowStrata.indices.filter { flowStrata[$0] == s }
            guard !members.isEmpty, members.count < settings.sparseBelow else { continue }
            starts += spreadEvenly(members, count: settings.chains).map { ($0, s) }
        }
        return starts
    }
}

/// `count` picks spread evenly over `members` (pick j is member ⌊j·n/count⌋ of n, so every member is
/// picked ⌊count/n⌋ or ⌈count/n⌉ times, in order): how the free-energy samplers give a stratum's
/// chains and annealed trajectories their starts.
/// - Returns: `count` elements; empty when `members` is empty or `count` ≤ 0.
public func spreadEvenly<T>(_ members: [T], count: Int) -> [T] {
    guard !members.isEmpty, count > 0 else { return [] }
    return (0..<count).map { members[$0 * members.count / count] }
}
