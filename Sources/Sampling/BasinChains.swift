// Local MALA/HMC chains restricted to one φ basin each, over MPI ranks: the equilibrium side of
// `tbg free-energy`'s stratified BAR (Evaluation/BennettAcceptanceRatio.swift).
//
// The target of a chain in basin A is the Boltzmann density restricted to A, π_A(x) ∝ e^{−E(x)/kT}·1_A(φ(x)):
// the kernels see E = +∞ outside A, so a move that leaves A is rejected (MALA), or a trajectory
// that leaves it is (HMC), and each chain leaves π_A exactly invariant (MALA.swift, HMC.swift: a
// non-finite energy is a rejection). C chains start in each basin (global chains 0..<C in the
// positive basin, C..<2C in the other), from the flow's usable proposals in that basin: spread
// evenly over them (default) or ∝ w (`ChainStarts`), seeded, the same on every rank. The step
// size adapts toward the target acceptance during the first `burnIn` steps (acceptance summed over all chains of all ranks: exact integers), which are not recorded; then
// every `thin`-th step is recorded, `length` states per chain. Chain c belongs to the rank whose
// contiguous block holds c; its random numbers depend on (seed, step, c) only, so any number of
// ranks gives the same chains.
import Communication
import Evaluation
import Foundation
import MonteCarlo

public struct BasinChainSettings: Sendable, Encodable, Equatable {
    /// C, chains per basin (2C in all).
    public var chainsPerBasin = 32
    /// Steps before recording, with step-size adaptation.
    public var burnIn = 2000
    /// Steps between recorded states.
    public var thin = 200
    /// Recorded states per chain.
    public var length = 16
    /// The positive φ basin (the rest is the other).
    public var basin = PhiBasin.standard
    /// Kernel, initial step size, adaptation target, energy cut-off, seed.
    public var moves = LocalMoveSettings()
    /// How the chains' starting proposals are chosen within a basin.
    public var starts = ChainStarts.spread

    public init() {}

    /// Steps per chain in all.
    public var totalSteps: Int { burnIn + thin * length }

    enum CodingKeys: String, CodingKey {
        case chainsPerBasin = "chains_per_basin"
        case burnIn = "burn_in_steps"
        case thin = "steps_between_states"
        case length = "states_per_chain"
        case basin = "phi_positive_basin"
        case starts = "chain_starts"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(chainsPerBasin, forKey: .chainsPerBasin)
        try c.encode(burnIn, forKey: .burnIn)
        try c.encode(thin, forKey: .thin)
        try c.encode(length, forKey: .length)
        try c.encode([basin.lower, basin.upper], forKey: .basin)
        try c.encode(starts.rawValue, forKey: .starts)
        try moves.encode(to: encoder)
    }
}

/// Where the chains of a basin start, among the flow's usable proposals in it.
public enum ChainStarts: String, Sendable, CaseIterable {
    /// Evenly spaced over the basin's proposals (systematic resampling with equal weights: distinct
    /// proposals while C ≤ their number), i.e. spread as the flow is. Local moves relax bonds and
    /// angles quickly but cross the ψ barriers inside a basin rarely, so the chains' sub-basin
    /// populations stay near their starts': the flow's, which is close to the target's when the
    /// flow is good, and is not hostage to the one or two proposals that carry the weight.
    case spread
    /// ∝ w within the basin (systematic resampling): the target's distribution in the limit of
    /// many proposals, but at a low ESS most chains share one or two starts.
    case weighted
}

/// Diagnostics of one step over all chains and ranks.
public struct BasinChainStep: Sendable, Equatable {
    public var acceptance: Double
    public var stepSize: Double
    /// Mean E/kT over the chains after the step.
    public var energyMeanKT: Double
    public var recorded: Bool
}

/// The recorded states of this rank's chains (chain-major: state c·length + t is local chain c's
/// t-th record), and the per-step diagnostics of all chains.
public struct BasinChainResult: Sendable {
    /// The global indices of this rank's chains.
    public var chains: Range<Int>
    /// Local chains × length × dimension, nm.
    public var positions: [Double]
    /// kJ/mol, one per recorded state.
    public var energies: [Double]
    /// Whether each recorded state's chain is in the positive basin.
    public var positive: [Bool]
    /// The pool entry (index into the proposal pool) each local chain started from.
    public var starts: [Int]
    public var steps: [BasinChainStep]
    /// Energy evaluations of all chains on all ranks.
    public var evaluations: Int
}

public enum BasinChains {
    /// Runs the chains; collective.
    ///
    /// - Parameters:
    ///   - pool: the flow's usable proposals (nm) with log w; `reducedEnergies` their E/kT.
    ///   - phiAtoms: the four atom indices of φ (C of residue i−1, N, CA, C).
    ///   - potential: energies (kJ/mol) and forces of a batch, unrestricted.
    /// - Throws: `MonteCarloError` when a basin holds no usable proposal (no chain can start there).
    public static func run(pool: ProposalPool, reducedEnergies: [Double], phiAtoms: [Int], kT: Double, settings: BasinChainSettings,
                           communicator comm: any Communicator, potential: BatchPotential,
                           progress: ((BasinChainStep, Int) -> Void)? = nil) throws -> BasinChainResult {
        precondition(phiAtoms.count == 4 && settings.chainsPerBasin >= 1 && settings.thin >= 1 && settings.length >= 1 && settings.burnIn >= 0)
        let d = pool.dimension, c = settings.chainsPerBasin, basin = settings.basin
        let cutoff = settings.moves.energyCutoff
        let poolPositive = (0..<pool.count).map { basin.contains(phi(pool.positions, offset: $0 * d, atoms: phiAtoms)) }
        // Starting points: per basin, C draws ∝ w among the basin's usable proposals (one shared uniform per basin).
        var starts: [Int] = []
        for (stage, positive) in [(0, true), (1, false)] {
            let members = (0..<pool.count).filter { poolPositive[$0] == positive }
            let logWeights = members.map { k in
                guard reducedEnergies[k].isFinite && reducedEnergies[k] <= cutoff && pool.logWeights[k].isFinite else { return -Double.infinity }
                return settings.starts == .weighted ? pool.logWeights[k] : 0
            }
            var uniform = ParticleStreams.shared(seed: settings.moves.seed, purpose: .resampling, stage: 1000 + stage)
            guard let picks = SystematicResampling.ancestors(logWeights: logWeights, count: c, uniform: uniform.uniform()) else {
                throw MonteCarloError("the flow has no usable proposal with \(positive ? basin.description : "phi outside \(basin.description)") (valid, finite weight, energy below the cut-off); no chain can start in that basin: draw more proposals, or choose another --phi-basin")
            }
            starts += picks.map { members[$0] }
        }
        let block = contiguousBlock(total: 2 * c, rank: comm.rank, size: comm.size)
        let localPositive = block.map { $0 < c }
        // The target restricted to each chain's basin: E = +∞ outside it.
        let restricted: BatchPotential = { positions, count in
            precondition(count == localPositive.count, "the chains move as one batch")
            var evaluated = potential(positions, count)
            for k in 0..<count where basin.contains(phi(positions, offset: k * d, atoms: phiAtoms)) != localPositive[k] {
                evaluated.energies[k] = .infinity
            }
            return evaluated
        }
        var positions: [Double] = []
        for g in block { positions += pool.positions[(starts[g] * d)..<((starts[g] + 1) * d)] }
        var batch = ParticleBatch(positions: positions, dimension: d, potential: restricted)
        var evaluations = Int(comm.allreduce(Int64(block.count), .sum))
        var adaptation = StepSizeAdaptation(stepSize: settings.moves.stepSize, targetAcceptance: settings.moves.targetAcceptance, burnIn: settings.burnIn)
        var recordedPositions: [[Double]] = Array(repeating: [], count: block.count)
        var recordedEnergies: [[Double]] = Array(repeating: [], count: block.count)
        var steps: [BasinChainStep] = []
        for step in 1...settings.totalSteps {
            let move = settings.moves.move(beta: 1 / kT, stepSize: adaptation.stepSize, kT: kT)
            let streams = ParticleStreams(seed: settings.moves.seed, purpose: settings.moves.kernel.purpose, stage: 1000, step: step,
                                          firstParticle: block.lowerBound)
            let statistics = settings.moves.kernel.step(&batch, settings: move, streams: streams, potential: restricted)
            var counts = [Int64(statistics.acceptedCount), Int64(statistics.accepted.count), Int64(statistics.evaluations)]
            comm.allreduce(&counts, .sum)
            var energySum = [batch.energies.reduce(0, +) / kT]
            comm.allreduce(&energySum, .sum)
            evaluations += Int(counts[2])
            let rate = counts[1] > 0 ? Double(counts[0]) / Double(counts[1]) : .nan
            adaptation.observe(acceptanceRate: rate)
            let recorded = step > settings.burnIn && (step - settings.burnIn) % settings.thin == 0
            if recorded {
                for k in 0..<block.count {
                    recordedPositions[k] += batch.positions[(k * d)..<((k + 1) * d)]
                    recordedEnergies[k].append(batch.energies[k])
                }
            }
            let diagnostics = BasinChainStep(acceptance: rate, stepSize: adaptation.stepSize, energyMeanKT: energySum[0] / Double(2 * c),
                                             recorded: recorded)
            steps.append(diagnostics)
            if comm.isRoot { progress?(diagnostics, step) }
        }
        return BasinChainResult(chains: block, positions: recordedPositions.flatMap { $0 }, energies: recordedEnergies.flatMap { $0 },
                                positive: localPositive.flatMap { Array(repeating: $0, count: settings.length) },
                                starts: block.map { starts[$0] }, steps: steps, evaluations: evaluations)
    }

    /// φ of the configuration at `offset` of `positions` (nm), radians in (−π, π], MDTraj's formula.
    public static func phi(_ positions: [Double], offset: Int, atoms: [Int]) -> Double {
        func atom(_ i: Int) -> SIMD3<Double> {
            SIMD3(positions[offset + 3 * i], positions[offset + 3 * i + 1], positions[offset + 3 * i + 2])
        }
        return BackboneTorsions.dihedral(atom(atoms[0]), atom(atoms[1]), atom(atoms[2]), atom(atoms[3]))
    }
}
