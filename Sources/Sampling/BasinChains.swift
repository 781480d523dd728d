// Local MALA/HMC chains restricted to one stratum of the Ramachandran plane each (a φ basin, or a
// φ basin × ψ interval: RamachandranStrata), over MPI ranks: the equilibrium side of
// `tbg free-energy`'s stratified BAR (Evaluation/BennettAcceptanceRatio.swift).
//
// The target of a chain in stratum S is the Boltzmann density restricted to S,
// π_S(x) ∝ e^{−E(x)/kT}·1_S(φ(x), ψ(x)): the kernels see E = +∞ outside S, so a move that leaves S
// is rejected (MALA), or a trajectory that leaves it is (HMC), and each chain leaves π_S exactly
// invariant (MALA.swift, HMC.swift: a non-finite energy is a rejection). C chains start in each
// stratum (global chains s·C ..< (s+1)·C in stratum s), from the flow's usable proposals there:
// spread evenly over them (default) or ∝ w (`ChainStarts`), seeded, the same on every rank; in a
// stratum without one, from draws of the flow restricted to it (`FallbackChainStarts`). The
// step size adapts toward the target acceptance during the first `burnIn` steps (acceptance summed
// over all chains of all ranks: exact integers), which are not recorded; then every `thin`-th step
// is recorded, `length` states per chain. Chain c belongs to the rank whose contiguous block holds
// c; its random numbers depend on (seed, step, c) only, so any number of ranks gives the same chains.
import Communication
import Evaluation
import Foundation
import MonteCarlo

/// The strata of `tbg free-energy`: the positive φ basin and its complement, each optionally split by
/// ψ into ψ inside (lower, upper) and outside. Stratum 0 is the positive basin (with its split: its
/// ψ-inside part); 1 the other (with a split: its ψ-inside part); 2 the other's ψ-outside part when
/// it is split; the last, when the positive basin is split, the positive basin's ψ-outside part.
/// A split keeps local moves from having to cross a ψ barrier inside a basin: for a dipeptide the
/// other basin holds αR and the β/C5/PII region; the positive basin holds αL and, across ψ ≈ −1
/// and ψ ≈ ±π, the sparsely populated C7ax/ψ ≈ π regions, which a flow tends to overpopulate, so that
/// chains started where the flow's samples are end up there more often than the Boltzmann
/// distribution is.
public struct RamachandranStrata: Sendable, Equatable {
    public var basin: PhiBasin
    public var psiSplit: PhiBasin?
    public var positivePsiSplit: PhiBasin?

    public init(basin: PhiBasin = .standard, psiSplit: PhiBasin? = nil, positivePsiSplit: PhiBasin? = nil) {
        (self.basin, self.psiSplit, self.positivePsiSplit) = (basin, psiSplit, positivePsiSplit)
    }

    public var count: Int { 2 + (psiSplit == nil ? 0 : 1) + (positivePsiSplit == nil ? 0 : 1) }

    /// The stratum of a configuration with torsions φ, ψ (radians).
    public func stratum(phi: Double, psi: Double) -> Int {
        if basin.contains(phi) {
            if let positivePsiSplit, !positivePsiSplit.contains(psi) { return count - 1 }
            return 0
        }
        guard let psiSplit else { return 1 }
        return psiSplit.contains(psi) ? 1 : 2
    }

    /// Whether stratum `s` lies in the positive φ basin.
    public func isPositive(_ s: Int) -> Bool { s == 0 || (positivePsiSplit != nil && s == count - 1) }

    /// Stratum `s` in words.
    public func describe(_ s: Int) -> String {
        func interval(_ split: PhiBasin) -> String { "(\(PhiBasin.format(split.lower)), \(PhiBasin.format(split.upper)))" }
        if isPositive(s) {
            guard let positivePsiSplit else { return basin.description }
            return basin.description + (s == 0 ? ", psi in " : ", psi outside ") + interval(positivePsiSplit)
        }
        let other = "phi outside (\(PhiBasin.format(basin.lower)), \(PhiBasin.format(basin.upper)))"
        guard let psiSplit else { return other }
        return other + (s == 1 ? ", psi in " : ", psi outside ") + interval(psiSplit)
    }
}

public struct BasinChainSettings: Sendable, Encodable, Equatable {
    /// C, chains per stratum (C × strata in all).
    public var chainsPerBasin = 32
    /// Steps before recording, with step-size adaptation.
    public var burnIn = 2000
    /// Steps between recorded states.
    public var thin = 200
    /// Recorded states per chain.
    public var length = 16
    /// The positive φ basin (the rest is the other), and the optional ψ split inside each.
    public var strata = RamachandranStrata()
    public var basin: PhiBasin { strata.basin }
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
        case psiSplit = "psi_split"
        case positivePsiSplit = "positive_psi_split"
        case starts = "chain_starts"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(chainsPerBasin, forKey: .chainsPerBasin)
        try c.encode(burnIn, forKey: .burnIn)
        try c.encode(thin, forKey: .thin)
        try c.encode(length, forKey: .length)
        try c.encode([basin.lower, basin.upper], forKey: .basin)
        try c.encode(strata.psiSplit.map { [$0.lower, $0.upper] }, forKey: .psiSplit)
        try c.encode(strata.positivePsiSplit.map { [$0.lower, $0.upper] }, forKey: .positivePsiSplit)
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

/// Starting points for the strata where the pool holds no usable proposal: i.i.d. draws of the flow
/// restricted to a stratum (the restricted draws of `tbg free-energy --position-draws`,
/// Sampling/StratumDraws.swift), which have the law of the flow's proposals in that stratum, so a
/// chain started on one starts as one started on a proposal there would. Start index
/// `pool.count + j` in `BasinChainResult.starts` is draw j.
public struct FallbackChainStarts: Sendable {
    /// count × dimension, nm.
    public var positions: [Double]
    /// E/kT of each.
    public var reducedEnergies: [Double]
    /// log w = −E/kT − log q of each (−∞: not usable).
    public var logWeights: [Double]
    /// The stratum of each.
    public var strata: [Int]

    public init(positions: [Double] = [], reducedEnergies: [Double] = [], logWeights: [Double] = [], strata: [Int] = []) {
        precondition(reducedEnergies.count == strata.count && logWeights.count == strata.count, "one energy, log weight and stratum per draw")
        (self.positions, self.reducedEnergies, self.logWeights, self.strata) = (positions, reducedEnergies, logWeights, strata)
    }

    public var count: Int { strata.count }
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
    /// The stratum of each recorded state's chain.
    public var strata: [Int]
    /// The pool entry (index into the proposal pool) each local chain started from; `pool.count + j`
    /// for fallback start j (`FallbackChainStarts`).
    public var starts: [Int]
    public var steps: [BasinChainStep]
    /// Energy evaluations of all chains on all ranks.
    public var evaluations: Int
    /// The step after which every rank stopped because one was asked to (`shouldStop`); nil when the
    /// chains ran to the end. A stopped result holds fewer recorded states than the settings ask for.
    public var stoppedAfterStep: Int? = nil
}

public enum BasinChains {
    /// Runs the chains; collective.
    ///
    /// - Parameters:
    ///   - pool: the flow's usable proposals (nm) with log w; `reducedEnergies` their E/kT.
    ///   - phiAtoms, psiAtoms: the four atom indices of φ (C of residue i−1, N, CA, C) and ψ (N, CA, C, N of i+1).
    ///   - potential: energies (kJ/mol) and forces of a batch, unrestricted.
    ///   - shouldStop: asked on every rank after each step; when it is true on any rank, every rank
    ///     stops after that step (one collective sum, the one the diagnostics already take) and the
    ///     result says where (`stoppedAfterStep`). The chains are deterministic, so a caller reruns them.
    ///   - fallback: where a stratum holds no usable proposal, its chains start from these draws of
    ///     the flow restricted to it (`chainStarts`).
    /// - Throws: `MonteCarloError` when a stratum holds neither a usable proposal nor a usable fallback
    ///   start (no chain can start there).
    public static func run(pool: ProposalPool, reducedEnergies: [Double], phiAtoms: [Int], psiAtoms: [Int], kT: Double, settings: BasinChainSettings,
                           fallback: FallbackChainStarts = FallbackChainStarts(),
                           communicator comm: any Communicator, potential: BatchPotential,
                           shouldStop: () -> Bool = { false },
                           progress: ((BasinChainStep, Int) -> Void)? = nil) throws -> BasinChainResult {
        precondition(phiAtoms.count == 4 && psiAtoms.count == 4 && settings.chainsPerBasin >= 1 && settings.thin >= 1 && settings.length >= 1
                     && settings.burnIn >= 0)
        let d = pool.dimension, c = settings.chainsPerBasin, strata = settings.strata, k = strata.count
        let cutoff = settings.moves.energyCutoff
        func stratum(_ positions: [Double], _ index: Int) -> Int {
            strata.stratum(phi: phi(positions, offset: index * d, atoms: phiAtoms), psi: phi(positions, offset: index * d, atoms: psiAtoms))
        }
        let poolStrata = (0..<pool.count).map { stratum(pool.positions, $0) }
        func usable(_ u: Double, _ logW: Double) -> Double {
            u.isFinite && u <= cutoff && logW.isFinite ? logW : -.infinity
        }
        let starts = try chainStarts(poolStrata: poolStrata, poolLogWeights: zip(reducedEnergies, pool.logWeights).map(usable),
                                     fallbackStrata: fallback.strata, fallbackLogWeights: zip(fallback.reducedEnergies, fallback.logWeights).map(usable),
                                     settings: settings)
        let block = contiguousBlock(total: k * c, rank: comm.rank, size: comm.size)
        let localStrata = block.map { $0 / c }
        // The target restricted to each chain's stratum: E = +∞ outside it.
        let restricted: BatchPotential = { positions, count in
            precondition(count == localStrata.count, "the chains move as one batch")
            var evaluated = potential(positions, count)
            for j in 0..<count where stratum(positions, j) != localStrata[j] {
                evaluated.energies[j] = .infinity
            }
            return evaluated
        }
        var positions: [Double] = []
        for g in block {
            let start = starts[g]
            if start < pool.count {
                positions += pool.position(start)
            } else {
                let j = start - pool.count
                positions += fallback.positions[(j * d)..<((j + 1) * d)]
            }
        }
        var batch = ParticleBatch(positions: positions, dimension: d, potential: restricted)
        var evaluations = Int(comm.allreduce(Int64(block.count), .sum))
        var adaptation = StepSizeAdaptation(stepSize: settings.moves.stepSize, targetAcceptance: settings.moves.targetAcceptance, burnIn: settings.burnIn)
        var recordedPositions: [[Double]] = Array(repeating: [], count: block.count)
        var recordedEnergies: [[Double]] = Array(repeating: [], count: block.count)
        var steps: [BasinChainStep] = []
        var stoppedAfter: Int?
        for step in 1...settings.totalSteps {
            let move = settings.moves.move(beta: 1 / kT, stepSize: adaptation.stepSize, kT: kT)
            let streams = ParticleStreams(seed: settings.moves.seed, purpose: settings.moves.kernel.purpose, stage: 1000, step: step,
                                          firstParticle: block.lowerBound)
            let statistics = settings.moves.kernel.step(&batch, settings: move, streams: streams, potential: restricted)
            var counts = [Int64(statistics.acceptedCount), Int64(statistics.accepted.count), Int64(statistics.evaluations),
                          shouldStop() ? 1 : 0]
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
            let diagnostics = BasinChainStep(acceptance: rate, stepSize: adaptation.stepSize, energyMeanKT: energySum[0] / Double(k * c),
                                             recorded: recorded)
            steps.append(diagnostics)
            if comm.isRoot { progress?(diagnostics, step) }
            if counts[3] > 0 && step < settings.totalSteps {
                stoppedAfter = step
                break
            }
        }
        let recordedLength = recordedEnergies.first?.count ?? 0
        return BasinChainResult(chains: block, positions: recordedPositions.flatMap { $0 }, energies: recordedEnergies.flatMap { $0 },
                                strata: localStrata.flatMap { Array(repeating: $0, count: recordedLength) },
                                starts: block.map { starts[$0] }, steps: steps, evaluations: evaluations, stoppedAfterStep: stoppedAfter)
    }

    /// Where the chains start: per stratum s, C = `settings.chainsPerBasin` picks (global chains
    /// s·C ..< (s+1)·C) among the pool's usable proposals in s, spread evenly or ∝ w
    /// (`settings.starts`; systematic resampling, one uniform per stratum of the seed's resampling
    /// stream); where s holds no usable proposal, among the fallback draws in s, the same way.
    /// - Parameters:
    ///   - poolStrata, poolLogWeights: each proposal's stratum and log w (−∞: not usable: invalid,
    ///     non-finite weight or energy above the cut-off).
    ///   - fallbackStrata, fallbackLogWeights: the same for the fallback draws.
    /// - Returns: k·C start indices: a proposal's index, or `poolStrata.count + j` for fallback draw j.
    /// - Throws: `MonteCarloError` naming the stratum when it has neither.
    public static func chainStarts(poolStrata: [Int], poolLogWeights: [Double], fallbackStrata: [Int] = [], fallbackLogWeights: [Double] = [],
                                   settings: BasinChainSettings) throws -> [Int] {
        precondition(poolStrata.count == poolLogWeights.count && fallbackStrata.count == fallbackLogWeights.count)
        let strata = settings.strata, c = settings.chainsPerBasin
        var starts: [Int] = []
        for s in 0..<strata.count {
            var uniform = ParticleStreams.shared(seed: settings.moves.seed, purpose: .resampling, stage: 1000 + s)
            let u = uniform.uniform()
            func picks(_ members: [Int], _ logWeights: [Double]) -> [Int]? {
                let weights = members.map { settings.starts == .weighted ? logWeights[$0] : (logWeights[$0].isFinite ? 0 : -Double.infinity) }
                return SystematicResampling.ancestors(logWeights: weights, count: c, uniform: u).map { $0.map { members[$0] } }
            }
            if let chosen = picks(poolStrata.indices.filter { poolStrata[$0] == s }, poolLogWeights) {
                starts += chosen
            } else if let chosen = picks(fallbackStrata.indices.filter { fallbackStrata[$0] == s }, fallbackLogWeights) {
                starts += chosen.map { poolStrata.count + $0 }
            } else {
                let options = ["draw more proposals", "--position-draws with --restricted-draws (their restricted draws start the chains of a stratum without proposals)",
                               "another --phi-basin"] + (strata.psiSplit == nil ? [] : ["--psi-split"]) + (strata.positivePsiSplit == nil ? [] : ["--positive-psi-split"])
                throw MonteCarloError("the flow has no usable proposal with \(strata.describe(s)) (valid, finite weight, energy below the cut-off)\(fallbackStrata.isEmpty ? "" : ", nor a usable restricted draw there"); no chain can start there: \(options.joined(separator: ", or "))")
            }
        }
        return starts
    }

    /// The dihedral of `atoms` (φ, ψ) of the configuration at `offset` of `positions` (nm), radians in
    /// (−π, π], MDTraj's formula.
    public static func phi(_ positions: [Double], offset: Int, atoms: [Int]) -> Double {
        func atom(_ i: Int) -> SIMD3<Double> {
            SIMD3(positions[offset + 3 * i], positions[offset + 3 * i + 1], positions[offset + 3 * i + 2])
        }
        return BackboneTorsions.dihedral(atom(atoms[0]), atom(atoms[1]), atom(atoms[2]), atom(atoms[3]))
    }
}
