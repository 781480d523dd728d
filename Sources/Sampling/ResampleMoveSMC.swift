// Resample–move sequential Monte Carlo on top of the flow's proposals, over MPI ranks.
//
// Math (Chopin 2002, "A sequential particle filter method for static models", Biometrika 89(3);
// Del Moral, Doucet & Jasra 2006, "Sequential Monte Carlo samplers", JRSS B 68(3); Neal 2001,
// "Annealed importance sampling"): with u = E/kT, targets π_k ∝ exp(−β_k u), β_0 ≤ … ≤ β_{K−1} = 1
// (TemperingSchedule), and the flow's M proposals x_j ~ q with stored log w_j = −u_j − log q_j:
//   stage 0: weights of the proposals for π_0: log w⁰_j = log w_j + (1 − β_0) u_j (no ODE solve: q is
//            needed only at the proposals); N particles by systematic resampling ∝ w⁰ (SIR);
//   stage k ≥ 1: incremental weights log w ← log w − (β_k − β_{k−1}) u(x) (u known from the last
//            move, no extra evaluation); if the ESS fraction < threshold, systematic resampling and
//            equal weights;
//   every stage: `stepsPerStage` MALA/HMC steps that leave π_k invariant (MALA.swift, HMC.swift).
// Why this needs no q at moved points: the flow's density enters only through the stage-0 weights;
// after that the particles move under π_k-invariant kernels, whose weights are the ratios of
// successive targets. With β_0 = 1 there is no tempering: resample–move at the target. The
// particle approximation is consistent as N → ∞ whatever the flow's quality (the flow sets how
// many particles and moves are needed). The energy cut-off c (kT) truncates every target to
// {u ≤ c}: proposals above it get weight 0, moves above it are rejected.
//
// Ranks: the whole pool is on every rank (it is small), so stage 0 needs no communication. Particle
// i belongs to the rank whose contiguous block holds it; its random numbers depend on (seed, stage,
// step, i) only (ParticleStreams). Each stage every rank gathers all log weights (allgather),
// computes the same ESS and, when resampling, the same ancestors from the same seeded uniform, and
// takes its block of the gathered particles. So 1 and N ranks give the same particles bit for bit.
// The step-size adaptation uses acceptance counts summed over ranks (integers, exact).
import Communication
import Evaluation
import Foundation
import MonteCarlo

public struct SMCSettings: Sendable, Encodable, Equatable {
    /// N, particles over all ranks.
    public var particles = 1000
    /// Resample when the ESS fraction falls below this (after stage 0, which always resamples).
    public var resampleThreshold = 0.5
    /// The kernel, its step size and adaptation target, the energy cut-off and the seed.
    public var moves = LocalMoveSettings()
    /// Kernel steps per stage.
    public var stepsPerStage = 10
    /// Kernel steps, counted from the first, during which ε adapts.
    public var burnIn = 10
    /// K ≥ 1 stages; with tempering β_0 < 1 needs K ≥ 2.
    public var stages = 5
    public var initialBeta = 1.0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case particles, stages
        case resampleThreshold = "resample_threshold"
        case stepsPerStage = "steps_per_stage"
        case burnIn = "burn_in_steps"
        case initialBeta = "beta0"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(particles, forKey: .particles)
        try c.encode(resampleThreshold, forKey: .resampleThreshold)
        try c.encode(stepsPerStage, forKey: .stepsPerStage)
        try c.encode(burnIn, forKey: .burnIn)
        try c.encode(stages, forKey: .stages)
        try c.encode(initialBeta, forKey: .initialBeta)
        try moves.encode(to: encoder)
    }
}

/// One stage's diagnostics (identical on every rank).
public struct SMCStage: Sendable, Equatable {
    public var beta: Double
    /// ESS fraction of the weights before this stage's resampling decision (stage 0: the pool's).
    public var effectiveSampleSize: Double
    public var resampled: Bool
    /// Accepted / proposed kernel steps over the stage.
    public var acceptance: Double
    /// ε used by the stage's last step.
    public var stepSize: Double
    /// Weighted mean of u = E/kT after the moves.
    public var energyMeanKT: Double
    /// Energy evaluations spent up to the end of this stage, the pool's included.
    public var evaluations: Int
}

/// The particles at the end (every rank holds them all) and the stage diagnostics.
public struct SMCResult: Sendable {
    public var dimension: Int
    /// N × dimension.
    public var positions: [Double]
    /// N, in the potential's units (kJ/mol in production).
    public var energies: [Double]
    /// N, log weights (0 = equal after resampling).
    public var logWeights: [Double]
    /// Global particle i's ancestor in the proposal pool (through all resamplings).
    public var poolAncestors: [Int]
    public var stages: [SMCStage]
    public var evaluations: Int { stages.last?.evaluations ?? 0 }
}

public enum ResampleMoveSMC {
    /// Runs SMC; collective, every rank calls it with the same pool and settings.
    ///
    /// - Parameters:
    ///   - pool: the proposals (every rank the whole pool) with log w = −u − log q.
    ///   - reducedEnergies: u_j = E_j / kT of the proposals (+∞ where not finite).
    ///   - poolEvaluations: energy evaluations already spent on the pool (reported in the budget).
    ///   - kT: in the potential's energy units.
    ///   - potential: energies and forces of a batch (this rank's particles).
    ///   - progress: called on rank 0 after each stage.
    /// - Throws: `MonteCarloError` when no proposal has a positive weight.
    public static func run(pool: ProposalPool, reducedEnergies: [Double], poolEvaluations: Int, kT: Double, settings: SMCSettings,
                           communicator comm: any Communicator, potential: BatchPotential,
                           progress: ((SMCStage, Int) -> Void)? = nil) throws -> SMCResult {
        precondition(reducedEnergies.count == pool.count)
        let n = settings.particles, d = pool.dimension
        let schedule = TemperingSchedule(stages: settings.stages, initialBeta: settings.initialBeta)
        let block = contiguousBlock(total: n, rank: comm.rank, size: comm.size)
        let cutoff = settings.moves.energyCutoff

        // Stage 0: the proposals reweighted to π_0, N particles by systematic resampling.
        let beta0 = schedule.betas[0]
        let poolLogWeights = zip(pool.logWeights, reducedEnergies).map { logW, u -> Double in
            guard logW.isFinite, u.isFinite, u <= cutoff else { return -.infinity }
            return logW + (1 - beta0) * u
        }
        var random = ParticleStreams.shared(seed: settings.moves.seed, purpose: .resampling, stage: 0)
        guard let poolAncestors = SystematicResampling.ancestors(logWeights: poolLogWeights, count: n, uniform: random.uniform()) else {
            throw MonteCarloError("no proposal has a positive finite weight (log w finite, energy finite and below the cut-off); nothing to resample")
        }
        var start = [Double]()
        for i in block { start += pool.position(poolAncestors[i]) }
        var batch = ParticleBatch(positions: start, dimension: d, potential: potential)
        var ancestors = Array(poolAncestors[block])
        var logWeights = [Double](repeating: 0, count: block.count)
        var evaluations = poolEvaluations + n
        var adaptation = StepSizeAdaptation(stepSize: settings.moves.stepSize, targetAcceptance: settings.moves.targetAcceptance, burnIn: settings.burnIn)
        var stages: [SMCStage] = []
        var previousBeta = beta0
        let poolESS = ImportanceWeights.effectiveSampleSize(logWeights: poolLogWeights)

        for (k, beta) in schedule.betas.enumerated() {
            var ess = poolESS
            var resampled = k == 0
            if k > 0 {
                for i in 0..<batch.count { logWeights[i] -= (beta - previousBeta) * batch.energies[i] / kT }
                let allLogWeights = comm.allgather(logWeights).flatMap { $0 }
                ess = ImportanceWeights.effectiveSampleSize(logWeights: allLogWeights)
                if ess < settings.resampleThreshold {
                    var uniform = ParticleStreams.shared(seed: settings.moves.seed, purpose: .resampling, stage: k)
                    guard let chosen = SystematicResampling.ancestors(logWeights: allLogWeights, count: n, uniform: uniform.uniform()) else {
                        throw MonteCarloError("stage \(k): every particle has weight 0; nothing to resample")
                    }
                    let all = gather(batch, ancestors: ancestors, comm: comm)
                    batch = all.batch.selecting(Array(chosen[block]))
                    ancestors = chosen[block].map { all.ancestors[$0] }
                    logWeights = [Double](repeating: 0, count: block.count)
                    resampled = true
                }
            }
            previousBeta = beta
            var accepted = 0, proposed = 0
            for step in 0..<settings.stepsPerStage {
                let move = settings.moves.move(beta: beta / kT, stepSize: adaptation.stepSize, kT: kT)
                let streams = ParticleStreams(seed: settings.moves.seed, purpose: settings.moves.kernel.purpose, stage: k, step: step,
                                              firstParticle: block.lowerBound)
                let statistics = settings.moves.kernel.step(&batch, settings: move, streams: streams, potential: potential)
                var counts = [Int64(statistics.acceptedCount), Int64(batch.count), Int64(statistics.evaluations)]
                comm.allreduce(&counts, .sum)
                accepted += Int(counts[0])
                proposed += Int(counts[1])
                evaluations += Int(counts[2])
                adaptation.observe(acceptanceRate: Double(counts[0]) / Double(max(1, counts[1])))
            }
            let allLogWeights = comm.allgather(logWeights).flatMap { $0 }
            let allEnergies = comm.allgather(batch.energies).flatMap { $0 }
            let weights = ImportanceWeights.normalised(logWeights: allLogWeights) ?? []
            let meanEnergy = zip(weights, allEnergies).reduce(0.0) { $1.0 > 0 ? $0 + $1.0 * $1.1 / kT : $0 }
            let stage = SMCStage(beta: beta, effectiveSampleSize: ess, resampled: resampled,
                                 acceptance: proposed > 0 ? Double(accepted) / Double(proposed) : .nan,
                                 stepSize: adaptation.stepSize, energyMeanKT: meanEnergy, evaluations: evaluations)
            stages.append(stage)
            if comm.isRoot { progress?(stage, k) }
        }
        let all = gather(batch, ancestors: ancestors, comm: comm)
        return SMCResult(dimension: d, positions: all.batch.positions, energies: all.batch.energies,
                         logWeights: comm.allgather(logWeights).flatMap { $0 }, poolAncestors: all.ancestors, stages: stages)
    }

    /// Every rank's particles (positions, energies, forces) and pool ancestors, in global order.
    static func gather(_ batch: ParticleBatch, ancestors: [Int], comm: any Communicator) -> (batch: ParticleBatch, ancestors: [Int]) {
        let positions = comm.allgather(batch.positions).flatMap { $0 }
        let forces = comm.allgather(batch.forces).flatMap { $0 }
        let energies = comm.allgather(batch.energies).flatMap { $0 }
        let origins = comm.allgather(ancestors.map(Int64.init)).flatMap { $0 }.map(Int.init)
        return (ParticleBatch(count: energies.count, dimension: batch.dimension, positions: positions, energies: energies, forces: forces), origins)
    }
}

/// A Monte Carlo run that cannot proceed (no usable weight), with the reason.
public struct MonteCarloError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
