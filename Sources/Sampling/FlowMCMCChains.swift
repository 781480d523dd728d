// Flow-MCMC chains over MPI ranks: the extended-space sampler of MonteCarlo/FlowMCMC.swift
// (independence moves of a flow "anchor" accepted with min(1, w(z')/w(z)) from the stored log
// weights, mixed with relaxation by L local MALA/HMC steps), chains split over ranks.
//
// Chain c (0 ≤ c < C) belongs to the rank whose contiguous block holds c. Start: C anchors by
// systematic resampling of the pool ∝ w (seeded, the same on every rank), relaxed by L steps. Then
// `burnIn` sweeps during which ε adapts toward the target acceptance of the local steps (from
// counts summed over ranks: exact integers), then ε is frozen and `length` sweeps are recorded.
// Burn-in sweeps are discarded: adapting while recording would break exactness (StepSizeAdaptation).
// The pool is used in a seeded random order (the same on every rank), each sample once while
// proposals last; the result reports the reuse factor (proposals / pool size).
import Communication
import Foundation
import Kernels
import MonteCarlo

public struct FlowMCMCSettings: Sendable, Encodable, Equatable {
    /// C, chains over all ranks.
    public var chains = 16
    /// Recorded sweeps per chain (after the burn-in).
    public var length = 100
    /// Sweeps before recording, with step-size adaptation.
    public var burnIn = 20
    /// f: probability that a sweep proposes an independence move (else a relaxation move).
    public var independenceFraction = 0.5
    /// The kernel, its step size and adaptation target, the energy cut-off (pool samples above it
    /// have weight 0) and the seed.
    public var moves = LocalMoveSettings()
    /// L: local steps from the anchor per relaxation (≥ 0).
    public var stepsPerSweep = 5

    public init() {}

    enum CodingKeys: String, CodingKey {
        case chains, length
        case burnIn = "burn_in_sweeps"
        case independenceFraction = "independence_fraction"
        case stepsPerSweep = "local_steps_per_sweep"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(chains, forKey: .chains)
        try c.encode(length, forKey: .length)
        try c.encode(burnIn, forKey: .burnIn)
        try c.encode(independenceFraction, forKey: .independenceFraction)
        try c.encode(stepsPerSweep, forKey: .stepsPerSweep)
        try moves.encode(to: encoder)
    }
}

/// One sweep's diagnostics over all chains and ranks.
public struct FlowMCMCSweep: Sendable, Equatable {
    public var independenceAcceptance: Double
    public var localAcceptance: Double
    public var stepSize: Double
    /// Mean of u = E/kT over the chains after the sweep.
    public var energyMeanKT: Double
    /// Energy evaluations up to the end of this sweep, the pool's included.
    public var evaluations: Int
    public var recorded: Bool
}

public struct FlowMCMCResult: Sendable {
    public var dimension: Int
    /// Recorded states, chain-major: frame c·length + t is chain c after recorded sweep t.
    public var positions: [Double]
    public var energies: [Double]
    public var anchors: [Int]
    public var sweeps: [FlowMCMCSweep]
    /// Independence proposals made / pool size (> 1: the pool was reused).
    public var poolReuse: Double
    public var evaluations: Int { sweeps.last?.evaluations ?? 0 }
}

public enum FlowMCMCChains {
    /// Runs the chains; collective. The pool's log weights are −u − log q; entries with u above the
    /// cut-off or non-finite weight are never proposed successfully.
    public static func run(pool: ProposalPool, reducedEnergies: [Double], poolEvaluations: Int, kT: Double, settings: FlowMCMCSettings,
                           communicator comm: any Communicator, potential: BatchPotential,
                           progress: ((FlowMCMCSweep, Int) -> Void)? = nil) throws -> FlowMCMCResult {
        let cutoff = settings.moves.energyCutoff
        let logWeights = zip(pool.logWeights, reducedEnergies).map { logW, u in logW.isFinite && u.isFinite && u <= cutoff ? logW : -.infinity }
        let usable = ProposalPool(dimension: pool.dimension, positions: pool.positions, logWeights: logWeights)
        let c = settings.chains
        let block = contiguousBlock(total: c, rank: comm.rank, size: comm.size)
        var uniform = ParticleStreams.shared(seed: settings.moves.seed, purpose: .resampling, stage: 0)
        guard let starts = SystematicResampling.ancestors(logWeights: logWeights, count: c, uniform: uniform.uniform()) else {
            throw MonteCarloError("no proposal has a positive finite weight (log w finite, energy finite and below the cut-off); no chain can start")
        }
        // A seeded permutation of the pool (Fisher–Yates), identical on every rank.
        var order = Array(0..<pool.count)
        var shuffle = ParticleStreams.shared(seed: settings.moves.seed, purpose: .poolOrder, stage: 0)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, shuffle.integer(below: i + 1)) }

        var adaptation = StepSizeAdaptation(stepSize: settings.moves.stepSize, targetAcceptance: settings.moves.targetAcceptance, burnIn: settings.burnIn)
        func move() -> MoveSettings {
            settings.moves.move(beta: 1 / kT, stepSize: adaptation.stepSize, kT: kT)
        }
        var (chains, startStatistics) = FlowMCMC.start(chainIndices: Array(block), anchors: Array(starts[block]), pool: usable, kernel: settings.moves.kernel,
                                                       settings: move(), relaxationSteps: settings.stepsPerSweep, seed: settings.moves.seed,
                                                       sweep: 0, potential: potential)
        var evaluations = poolEvaluations + Int(comm.allreduce(Int64(startStatistics.evaluations), .sum))
        var recordedPositions: [Double] = [], recordedEnergies: [Double] = [], recordedAnchors: [Int] = []
        var sweeps: [FlowMCMCSweep] = []
        var proposals = 0
        precondition(settings.length >= 1 && settings.burnIn >= 0, "at least one recorded sweep")
        let total = settings.burnIn + settings.length
        for sweep in 1...total {
            let statistics = FlowMCMC.sweep(&chains, pool: usable, order: order, chainCount: c, independenceFraction: settings.independenceFraction,
                                            kernel: settings.moves.kernel, settings: move(), relaxationSteps: settings.stepsPerSweep,
                                            seed: settings.moves.seed, sweep: sweep, potential: potential)
            var counts = [statistics.independenceProposed, statistics.independenceAccepted, statistics.localProposed,
                          statistics.localAccepted, statistics.evaluations].map(Int64.init)
            comm.allreduce(&counts, .sum)
            var energySum = [chains.state.energies.reduce(0, +) / kT]
            comm.allreduce(&energySum, .sum)
            proposals += Int(counts[0])
            evaluations += Int(counts[4])
            let localRate = counts[2] > 0 ? Double(counts[3]) / Double(counts[2]) : Double.nan
            if counts[2] > 0 { adaptation.observe(acceptanceRate: localRate) }
            let recorded = sweep > settings.burnIn
            let diagnostics = FlowMCMCSweep(independenceAcceptance: counts[0] > 0 ? Double(counts[1]) / Double(counts[0]) : .nan,
                                            localAcceptance: localRate, stepSize: adaptation.stepSize, energyMeanKT: energySum[0] / Double(c),
                                            evaluations: evaluations, recorded: recorded)
            sweeps.append(diagnostics)
            if comm.isRoot { progress?(diagnostics, sweep) }
            if recorded {
                recordedPositions += chains.state.positions
                recordedEnergies += chains.state.energies
                recordedAnchors += chains.anchors
            }
        }
        // Local storage is sweep-major over this rank's chains; reorder to chain-major globally.
        let d = pool.dimension, local = block.count, length = settings.length
        var chainMajor = [Double](), chainEnergies = [Double](), chainAnchors = [Int64]()
        for row in 0..<local {
            for t in 0..<length {
                let frame = t * local + row
                chainMajor += recordedPositions[(frame * d)..<((frame + 1) * d)]
                chainEnergies.append(recordedEnergies[frame])
                chainAnchors.append(Int64(recordedAnchors[frame]))
            }
        }
        return FlowMCMCResult(dimension: d, positions: comm.allgather(chainMajor).flatMap { $0 },
                              energies: comm.allgather(chainEnergies).flatMap { $0 },
                              anchors: comm.allgather(chainAnchors).flatMap { $0 }.map(Int.init), sweeps: sweeps,
                              poolReuse: Double(proposals) / Double(max(1, pool.count)))
    }
}
