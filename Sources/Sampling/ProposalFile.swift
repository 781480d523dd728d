// The flow's proposals as `tbg smc` and `tbg mcmc` read them: a sample file (SampleFile.swift; MDTraj
// layout, /openmm_system, /samples/{log_weight, energy_kj_mol, topology_ok, chirality_ok}, attribute
// /samples@kT_kJ_per_mol). The usable proposals are the valid ones (bond graph and chirality
// passed) with finite log w and energy; their coordinates (nm, reference atom order) must be
// finite. The force field is the file's own System. Every rank reads the whole file (small).
// `limit` keeps only the first samples of the file (index order), so that a sampler can be run on
// part of a pool and compared with SNIS on the whole pool at an equal energy budget.
import FlowModel
import ForceField
import HDF5
import Foundation
import MDData
import MonteCarlo

public struct ProposalFile {
    public let path: String
    public let trajectory: TrajectoryFile
    /// kJ/mol, from /samples@kT_kJ_per_mol.
    public let kT: Double
    /// The usable proposals: positions in nm (3 × atoms per proposal) and the stored log w.
    public let pool: ProposalPool
    /// u = E/kT of the usable proposals.
    public let reducedEnergies: [Double]
    /// Frame index in the file of every usable proposal.
    public let frames: [Int]
    /// Energy evaluations the proposals cost: /samples@energy_evaluations (tbg sample: one per
    /// finished integration), else one per valid sample (older files). With a `limit`, the same
    /// count over the first `limit` samples only: their finished integrations when the file records
    /// every sample's energy (/samples/raw_energy), else their valid samples.
    public let evaluations: Int
    /// Samples of the file the pool was drawn from (all, or the first `limit`).
    public let samplesUsed: Int
    /// /samples/log_q, log q of every sample of the file in model units, indexed by frame (not by
    /// usable proposal: `storedLogQ[frames[i]]`); nil when the file records none (tbg pool of older
    /// files, Tools/md_as_samples.py).
    public let storedLogQ: [Double]?
    public let energy: EnergyEvaluator
    public let bondGraph: BondGraph
    /// Chirality centres with the reference signs of the first usable proposal (already in the
    /// peptide's reference chirality: tbg sample mirrored or rejected the others).
    public let chirality: ChiralCentres

    private static let hint = "the input is the output of tbg sample --out"

    /// - Parameters:
    ///   - limit: use only the first `limit` samples of the file (nil: all); at least 1.
    /// - Throws: `DataFormatError` naming the file when it is not a sample file, holds fewer than
    ///   `limit` samples, has no usable proposal, or a usable proposal has non-finite coordinates;
    ///   and when it is the output of tbg smc or tbg mcmc (its particles are resampled descendants of
    ///   shared ancestors, its chain states correlated: not independent proposals with importance
    ///   weights).
    public init(path: String, limit: Int? = nil) throws {
        self.path = path
        // A checkpoint given as SAMPLES would fail as "missing /coordinates": say what it is.
        if let root = try? HDF5File(opening: path).root(), root.hasAttribute("format"),
           (try? root.readStringAttribute("format")) == Checkpoint.formatName {
            throw DataFormatError(file: path, "is a training checkpoint, not proposals: draw proposals with --checkpoint \(path) --peptide FILE --proposals N, or give a tbg sample output as SAMPLES")
        }
        trajectory = try TrajectoryFile(path: path)
        try trajectory.requireFrames(for: "the proposal pool")
        let file = try SampleFile(trajectory: trajectory, hint: Self.hint)
        if let sampler = file.sampler, ["smc", "mcmc", "free-energy"].contains(sampler) {
            let group = try? HDF5File(opening: path).root().group("samples")
            let source = (group?.hasAttribute("source_samples") ?? false) ? (try? group?.readStringAttribute("source_samples")) ?? nil : nil
            throw DataFormatError(file: path, "is the output of tbg \(sampler), not proposals: its \(sampler == "smc" ? "particles descend from shared ancestors" : "chain states are correlated") and its weights are not importance weights of independent draws of the flow; pass the tbg sample file it came from\(source.map { " (\($0))" } ?? "") as SAMPLES")
        }
        // An unknown sampler (a newer tbg's, or a hand-made file): its weights may mean anything.
        if let sampler = file.sampler, !["flow", "md"].contains(sampler) {
            throw DataFormatError(file: path, "has /samples@sampler '\(sampler)', which this tbg does not know (proposals are 'flow': tbg sample or tbg pool; 'md': Tools/md_as_samples.py), so what its weights mean is unknown")
        }
        var count = trajectory.frameCount
        if let limit {
            guard limit >= 1, limit <= count else {
                throw DataFormatError(file: path, "holds \(count) samples; the proposal limit \(limit) must lie in 1...\(count)")
            }
            count = limit
        }
        samplesUsed = count
        kT = file.kT
        let logWeights = try file.logWeights()
        let energies = try file.energies()
        let topologyOK = try file.topologyOK()
        let chiralityOK = try file.chiralityOK()
        let valid = (0..<count).filter { topologyOK[$0] && chiralityOK[$0] }
        frames = valid.filter { logWeights[$0].isFinite && energies[$0].isFinite }
        guard !frames.isEmpty else {
            throw DataFormatError(file: path, "none of the \(count) samples is usable (valid, with finite log_weight and energy_kj_mol); Monte Carlo needs at least one proposal with a positive weight")
        }
        if count == trajectory.frameCount {
            evaluations = file.energyEvaluations(validCount: valid.count)
        } else if try file.optionalDataset("raw_energy", expected: "float64 energy of every sample") != nil,
                  let finished = try file.optionalFlags("integration_ok") {
            evaluations = finished.prefix(count).filter { $0 }.count
        } else {
            evaluations = valid.count
        }
        // optionalDataset refuses a shape other than one value per frame, naming the file.
        storedLogQ = try file.optionalDataset("log_q", expected: "float64 log q per sample (model units)")?.read(as: Double.self)
        let coordinates = try file.coordinates()
        try trajectory.requireFinite(coordinates, frames: frames, what: "valid sample")
        let width = 3 * trajectory.atomCount
        var positions = [Double]()
        positions.reserveCapacity(frames.count * width)
        for frame in frames { positions += coordinates[(frame * width)..<((frame + 1) * width)].map(Double.init) }
        pool = ProposalPool(dimension: width, positions: positions, logWeights: frames.map { logWeights[$0] })
        let kT = file.kT
        reducedEnergies = frames.map { energies[$0] / kT }
        do {
            energy = EnergyEvaluator(system: try ForceFieldSystem(xml: trajectory.systemXML))
        } catch {
            throw DataFormatError(file: path, "/openmm_system: \(error)")
        }
        let elements = trajectory.topology.atoms.map(\.element)
        bondGraph = BondGraph(elements: elements, bonds: trajectory.topology.bonds)
        chirality = ChiralCentres(elements: elements, bonds: trajectory.topology.bonds, reference: pool.position(0))
    }

    /// The force field as a batch potential: energies kJ/mol and forces kJ/mol/nm (double precision,
    /// OpenMM's), `threads` threads per call.
    public func potential(threads: Int) -> BatchPotential {
        let energy = self.energy
        return { positions, count in
            let batch = positions.withUnsafeBufferPointer { energy.evaluate($0, frameCount: count, forces: true, threads: threads) }
            return (batch.totals, batch.forces ?? [])
        }
    }

    /// Whether a configuration (nm, reference order) still has the reference bond graph (atom for
    /// atom, the identity permutation) and chirality.
    public func checks(_ positions: ArraySlice<Double>) -> (topologyOK: Bool, chiralityOK: Bool) {
        let topologyOK = BondGraph.inferred(elements: bondGraph.elements, positions: positions) == bondGraph
        return (topologyOK, topologyOK && chirality.verdict(positions) == .correct)
    }
}
