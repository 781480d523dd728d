// Flow-MCMC with a proposal pool whose log weights are known only at the pool's points.
//
// The independence sampler needs w(x) = π(x)/q(x) at the current state, but a CNF gives log q
// only through an ODE solve, so after a local (MALA/HMC) move w(x) is unknown. The chains therefore
// run on an extended space (an auxiliary-variable construction; Tierney 1994 §2.3–2.4 for mixing
// and cycling kernels, Andrieu, Lee & Vihola 2018, Bernoulli 24(2), for the extended-target view):
//   state (z, x), z an "anchor" drawn from the flow, x the configuration reported;
//   target π̃(z, x) = π(z) · Q^L(z, x),
// with Q a π-invariant local kernel (MALA or HMC at β = 1) and L ≥ 0 steps of it. Because Q^L
// leaves π invariant, ∫ π(z) Q^L(z, x) dz = π(x): the x-marginal is exactly the Boltzmann
// distribution. Two moves, both leaving π̃ invariant, are mixed with probabilities f and 1 − f:
//   - independence move: z' ~ q (the next unused pool sample), x' ~ Q^L(z', ·). The proposal
//     density q(z') Q^L(z', x') cancels the Q^L factors of the target, so the Metropolis–Hastings
//     ratio is w(z')/w(z): accept with min(1, w(z')/w(z)) using the stored log w. The decision
//     needs no x', so a rejected proposal costs no energy evaluation; an accepted one L steps.
//   - relaxation (Gibbs) move: x' ~ Q^L(z, ·), the exact conditional π̃(x | z).
// The flow supplies the jumps between metastable states (φ > 0 in AD2); the local steps relax
// bonds and angles. Exactness needs pool samples drawn i.i.d. from q and each used once: the
// drivers use the pool in a seeded random order and report how often it was reused.
//
// Chain randomness is a function of (seed, sweep, global chain index) only.
import Kernels

/// The flow's proposals: configurations with their stored log importance weights.
public struct ProposalPool: Sendable {
    public let dimension: Int
    /// count × dimension.
    public let positions: [Double]
    /// log w = −u − log q per proposal (−∞ for invalid ones).
    public let logWeights: [Double]

    public init(dimension: Int, positions: [Double], logWeights: [Double]) {
        precondition(dimension > 0 && positions.count == logWeights.count * dimension, "the pool needs one log weight per configuration")
        (self.dimension, self.positions, self.logWeights) = (dimension, positions, logWeights)
    }

    public var count: Int { logWeights.count }

    public func position(_ index: Int) -> ArraySlice<Double> { positions[(index * dimension)..<((index + 1) * dimension)] }
}

/// The chains a rank holds: global indices, anchors (pool indices) and current configurations.
public struct FlowChains: Sendable {
    /// Global chain indices of the local chains.
    public let chainIndices: [Int]
    /// Pool index of each chain's anchor z.
    public var anchors: [Int]
    /// The configurations x (with energies and forces).
    public var state: ParticleBatch
}

/// What one sweep did on this rank (sum over ranks for the totals).
public struct FlowSweepStatistics: Sendable, Equatable {
    public var independenceProposed = 0
    public var independenceAccepted = 0
    /// Local kernel steps proposed and accepted (chains × steps).
    public var localProposed = 0
    public var localAccepted = 0
    public var evaluations = 0
}

public enum FlowMCMC {
    /// Index of the pool sample used by the independence proposal of chain `chain` at sweep `sweep`
    /// out of `chains`: position (sweep·chains + chain) mod M of `order` (a permutation of the pool).
    public static func proposalIndex(order: [Int], sweep: Int, chain: Int, chains: Int) -> Int {
        order[(sweep * chains + chain) % order.count]
    }

    /// Runs L local steps from the anchors of `rows` of `chains` (x ← Q^L(z, ·)); one evaluation at
    /// the anchors for their forces, then the kernel's. The caller adapts the step size between sweeps
    /// (during the burn-in) from the sweep's local acceptance.
    static func relax(_ chains: inout FlowChains, rows: [Int], pool: ProposalPool, kernel: LocalKernel, settings: MoveSettings,
                      seed: UInt64, sweep: Int, steps: Int, potential: BatchPotential, statistics: inout FlowSweepStatistics) {
        guard !rows.isEmpty else { return }
        let d = pool.dimension
        var start = [Double]()
        start.reserveCapacity(rows.count * d)
        for row in rows { start += pool.position(chains.anchors[row]) }
        var batch = ParticleBatch(positions: start, dimension: d, potential: potential)
        statistics.evaluations += rows.count
        let indices = rows.map { chains.chainIndices[$0] }
        for step in 0..<steps {
            let streams = ParticleStreams(seed: seed, purpose: kernel.purpose, stage: sweep, step: step, particleIndices: indices)
            let moved = kernel.step(&batch, settings: settings, streams: streams, potential: potential)
            statistics.evaluations += moved.evaluations
            statistics.localProposed += rows.count
            statistics.localAccepted += moved.acceptedCount
        }
        for (k, row) in rows.enumerated() {
            chains.state.positions.replaceSubrange((row * d)..<((row + 1) * d), with: batch.positions[(k * d)..<((k + 1) * d)])
            chains.state.forces.replaceSubrange((row * d)..<((row + 1) * d), with: batch.forces[(k * d)..<((k + 1) * d)])
            chains.state.energies[row] = batch.energies[k]
        }
    }

    /// Starts chains at the given anchors (pool indices) and relaxes them with L local steps; the
    /// random streams are those of sweep `sweep`.
    public static func start(chainIndices: [Int], anchors: [Int], pool: ProposalPool, kernel: LocalKernel, settings: MoveSettings,
                             relaxationSteps: Int, seed: UInt64, sweep: Int, potential: BatchPotential) -> (FlowChains, FlowSweepStatistics) {
        let d = pool.dimension
        var positions = [Double]()
        for anchor in anchors { positions += pool.position(anchor) }
        var chains = FlowChains(chainIndices: chainIndices, anchors: anchors,
                                state: ParticleBatch(count: anchors.count, dimension: d, positions: positions,
                                                     energies: [Double](repeating: .infinity, count: anchors.count),
                                                     forces: [Double](repeating: 0, count: anchors.count * d)))
        var statistics = FlowSweepStatistics()
        relax(&chains, rows: Array(anchors.indices), pool: pool, kernel: kernel, settings: settings, seed: seed, sweep: sweep,
              steps: relaxationSteps, potential: potential, statistics: &statistics)
        return (chains, statistics)
    }

    /// One sweep of every local chain: with probability `independenceFraction` an independence
    /// move of the anchor (pool sample `proposalIndex(order:sweep:chain:chains:)`), else a
    /// relaxation move; then L local steps for the chains that moved their anchor or relax.
    ///
    /// - Parameters: `chainCount` is the number of chains over all ranks; `order` a permutation of
    ///   the pool, the same on every rank; `relaxationSteps` L ≥ 0.
    public static func sweep(_ chains: inout FlowChains, pool: ProposalPool, order: [Int], chainCount: Int, independenceFraction: Double,
                             kernel: LocalKernel, settings: MoveSettings, relaxationSteps: Int, seed: UInt64, sweep: Int,
                             potential: BatchPotential) -> FlowSweepStatistics {
        var statistics = FlowSweepStatistics()
        var relaxing: [Int] = []
        for (row, chain) in chains.chainIndices.enumerated() {
            var random = RandomSource(seed: seed, streams: [StreamPurpose.independence.rawValue, UInt64(sweep), UInt64(chain)])
            if random.uniform() < independenceFraction {
                statistics.independenceProposed += 1
                let proposal = proposalIndex(order: order, sweep: sweep, chain: chain, chains: chainCount)
                if IndependenceMetropolis.accepts(current: pool.logWeights[chains.anchors[row]], proposed: pool.logWeights[proposal],
                                                  uniform: random.uniform()) {
                    statistics.independenceAccepted += 1
                    chains.anchors[row] = proposal
                    relaxing.append(row)
                }
            } else {
                relaxing.append(row)
            }
        }
        relax(&chains, rows: relaxing, pool: pool, kernel: kernel, settings: settings, seed: seed, sweep: sweep, steps: relaxationSteps,
              potential: potential, statistics: &statistics)
        return statistics
    }
}
