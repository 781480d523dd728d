// A description of one trajectory file, as `tbg inspect` prints it (and as JSON for scripts).
// Building a report validates the file completely, including a streaming scan of every coordinate.

public struct TrajectoryReport: Codable, Sendable {
    public var file: String
    public var name: String?
    public var sequence: String?
    public var termini: String?
    public var preset: String?
    public var forcefield: [String]?
    public var temperatureK: Double?
    public var kTkJPerMol: Double?
    public var atoms: Int
    public var residues: [String]
    public var bonds: Int
    /// Bonds listed more than once in `/topology` (removed when the file was read).
    public var duplicateBondsRemoved: Int
    public var formula: String
    public var frames: Int
    public var timeFirstPS: Double?
    public var timeLastPS: Double?
    public var frameIntervalPS: Double?
    public var systemParticles: Int
    public var systemConstraints: Int
    public var forces: [String]
    public var potentialEnergyRangeKJMol: [Double]?
    public var referenceFrames: Int
    public var referencePlatform: String?
    public var referenceTotalRangeKJMol: [Double]?
    public var maxBoxDiagonalNM: Double
    public var openmmVersion: String?
    public var seed: Int?
    public var timestepFS: Double?
    public var platform: String?
    /// The static bias of a biased run (Tools/FORMAT.md §1.7); nil for plain MD.
    public var bias: BiasReport?
    /// Set for a file from Tools/prepare_peptide.py: one minimised frame, no MD.
    public var prepared: PreparedReport?

    enum CodingKeys: String, CodingKey {
        case prepared
        case duplicateBondsRemoved = "duplicate_bonds_removed"
        case file, name, sequence, termini, preset, forcefield, atoms, residues, bonds, formula, frames, forces, seed, platform, bias
        case temperatureK = "temperature_K"
        case kTkJPerMol = "kT_kJ_per_mol"
        case timeFirstPS = "time_first_ps"
        case timeLastPS = "time_last_ps"
        case frameIntervalPS = "frame_interval_ps"
        case systemParticles = "system_particles"
        case systemConstraints = "system_constraints"
        case potentialEnergyRangeKJMol = "potential_energy_range_kj_mol"
        case referenceFrames = "reference_frames"
        case referencePlatform = "reference_platform"
        case referenceTotalRangeKJMol = "reference_total_range_kj_mol"
        case maxBoxDiagonalNM = "max_box_diagonal_nm"
        case openmmVersion = "openmm_version"
        case timestepFS = "timestep_fs"
    }

    /// Opens, validates and scans `path`.
    /// - Throws: `DataFormatError` for anything not in the format, including a file without frames.
    public init(path: String) throws {
        let trajectory = try TrajectoryFile(path: path)
        try trajectory.requireFrames(for: "a trajectory file")
        let scan = try trajectory.scanCoordinates()
        let metadata = trajectory.metadata
        let reference = try trajectory.referenceEnergies()
        file = path
        name = metadata.name
        sequence = metadata.sequence
        termini = metadata.termini
        preset = metadata.preset
        forcefield = metadata.forcefield
        temperatureK = metadata.temperatureK
        kTkJPerMol = metadata.kTkJPerMol
        atoms = trajectory.atomCount
        residues = trajectory.topology.residues.map(\.name)
        bonds = trajectory.topology.bonds.count
        duplicateBondsRemoved = trajectory.topology.duplicateBondsRemoved
        formula = trajectory.topology.hillFormula
        frames = trajectory.frameCount
        if let time = trajectory.time, let first = time.first, let last = time.last {
            timeFirstPS = Double(first)
            timeLastPS = Double(last)
            frameIntervalPS = time.count > 1 ? Double(last - first) / Double(time.count - 1) : nil
        }
        systemParticles = trajectory.system.particleCount
        systemConstraints = trajectory.system.constraintCount
        forces = trajectory.system.forces.map(\.label)
        if let energies = try trajectory.potentialEnergies(), let low = energies.min(), let high = energies.max() {
            potentialEnergyRangeKJMol = [Double(low), Double(high)]
        }
        referenceFrames = reference?.frameCount ?? 0
        referencePlatform = reference?.platform
        if let totals = reference?.total, let low = totals.min(), let high = totals.max() {
            referenceTotalRangeKJMol = [low, high]
        }
        maxBoxDiagonalNM = scan.maxBoxDiagonalNM
        openmmVersion = metadata.openmmVersion ?? trajectory.system.openmmVersion
        seed = metadata.seed
        timestepFS = metadata.timestepFS
        platform = metadata.platform
        if metadata.isPrepared {
            prepared = PreparedReport(sourcePDB: metadata.sourcePDB, minimizedEnergyKJMol: metadata.minimizedEnergyKJMol)
        }
        if let energies = try trajectory.biasEnergies() {
            guard let kT = metadata.kT else {
                throw DataFormatError(file: path, "/bias_energy is present but /metadata has neither kT_kJ_per_mol nor temperature_K; the frame weights exp(+V/kT) need the temperature")
            }
            bias = BiasReport(metadata: metadata.bias, energies: energies, kT: kT)
        }
    }
}

/// The record of a prepared file (Tools/prepare_peptide.py): a sampling input, not a reference ensemble.
public struct PreparedReport: Codable, Sendable, Equatable {
    /// Absolute path of the PDB it was made from; nil when it was built from a sequence.
    public var sourcePDB: String?
    /// Energy of the minimised frame, kJ/mol.
    public var minimizedEnergyKJMol: Double?

    enum CodingKeys: String, CodingKey {
        case sourcePDB = "source_pdb"
        case minimizedEnergyKJMol = "minimized_energy_kj_mol"
    }
}

/// What a biased file's bias is and how strongly it reweights: the frames carry w ∝ exp(+V/kT).
public struct BiasReport: Codable, Sendable {
    public var kind: String?
    public var cv: String?
    public var cvAtoms: [Int]?
    public var biasFactor: Double?
    public var buildPS: Double?
    /// min and max of `/bias_energy`, kJ/mol (empty for a file without frames).
    public var energyRangeKJMol: [Double]
    /// Normalised Kish ESS of the frame weights exp(+V/kT): the effective fraction of frames. Left nil
    /// here (MDData holds no statistics) and filled by the caller from `reducedEnergies`.
    public var effectiveFraction: Double?
    /// V/kT per frame: the log weights up to a constant. Not encoded.
    public var reducedEnergies: [Double] = []

    enum CodingKeys: String, CodingKey {
        case kind, cv
        case cvAtoms = "cv_atoms"
        case biasFactor = "bias_factor"
        case buildPS = "build_ps"
        case energyRangeKJMol = "energy_range_kj_mol"
        case effectiveFraction = "ess"
    }

    init(metadata: BiasMetadata?, energies: [Double], kT: Double) {
        kind = metadata?.kind
        cv = metadata?.cv
        cvAtoms = metadata?.cvAtoms
        biasFactor = metadata?.biasFactor
        buildPS = metadata?.buildPS
        energyRangeKJMol = energies.min().map { [$0, energies.max() ?? $0] } ?? []
        reducedEnergies = energies.map { $0 / kT }
    }
}
