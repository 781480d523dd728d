// `/metadata`: the JSON record of how a trajectory was made (Tools/tbgdata/md.py writes it; see
// Tools/FORMAT.md). Every field is optional when decoding so older or foreign files still load;
// the raw JSON is kept for display and for anything this struct does not name.
import Foundation

public struct TrajectoryMetadata: Codable, Sendable, Equatable {
    public static let formatName = "tbg-trajectory"
    public static let supportedFormatVersion = 1

    public var format: String?
    public var formatVersion: Int?
    public var name: String?
    public var sequence: String?
    public var termini: String?
    public var preset: String?
    public var forcefield: [String]?
    public var nonbondedMethod: String?
    public var nonbondedCutoffNM: Double?
    public var temperatureK: Double?
    public var kTkJPerMol: Double?
    public var timestepFS: Double?
    public var saveIntervalPS: Double?
    public var equilibrationPS: Double?
    public var productionPS: Double?
    public var seed: Int?
    public var platform: String?
    public var openmmVersion: String?
    public var atomOrder: String?
    /// The generator's biased mode (Tools/FORMAT.md §1.7); nil for plain MD.
    public var bias: BiasMetadata?
    /// Hydrogen mass in Da when the System uses hydrogen mass repartitioning (OpenMM's
    /// `createSystem(hydrogenMass=…)`); absent: standard masses.
    public var hydrogenMassAMU: Double?
    /// "prepare_peptide" for a one-frame file made by Tools/prepare_peptide.py (a minimised starting
    /// structure, no MD); absent for trajectories from the generator.
    public var source: String?
    /// The PDB a prepared file was made from (absolute path); absent or null when built from a sequence.
    public var sourcePDB: String?
    /// The prepared frame's energy after minimisation, kJ/mol.
    public var minimizedEnergyKJMol: Double?

    /// True for a file from Tools/prepare_peptide.py: one minimised frame, not an MD ensemble.
    public var isPrepared: Bool { source == "prepare_peptide" }

    enum CodingKeys: String, CodingKey {
        case format
        case formatVersion = "format_version"
        case name, sequence, termini, preset, forcefield
        case nonbondedMethod = "nonbonded_method"
        case nonbondedCutoffNM = "nonbonded_cutoff_nm"
        case temperatureK = "temperature_K"
        case kTkJPerMol = "kT_kJ_per_mol"
        case timestepFS = "timestep_fs"
        case saveIntervalPS = "save_interval_ps"
        case equilibrationPS = "equilibration_ps"
        case productionPS = "production_ps"
        case seed, platform
        case openmmVersion = "openmm_version"
        case atomOrder = "atom_order"
        case bias
        case hydrogenMassAMU = "hydrogen_mass_amu"
        case source
        case sourcePDB = "source_pdb"
        case minimizedEnergyKJMol = "minimized_energy_kj_mol"
    }

    /// Molar gas constant, kJ/(mol K).
    public static let gasConstant = 0.00831446261815324

    /// k_BT in kJ/mol: as stored, or from the temperature.
    public var kT: Double? { kTkJPerMol ?? temperatureK.map { $0 * Self.gasConstant } }

    public static func decode(json: String, file: String) throws -> TrajectoryMetadata {
        let metadata: TrajectoryMetadata
        do {
            metadata = try JSONDecoder().decode(TrajectoryMetadata.self, from: Data(json.utf8))
        } catch {
            throw DataFormatError(file: file, "/metadata is not the expected JSON object: \(error)")
        }
        if let format = metadata.format, format != formatName {
            throw DataFormatError(file: file, "/metadata: format is '\(format)', expected '\(formatName)'")
        }
        if let version = metadata.formatVersion, version > supportedFormatVersion {
            throw DataFormatError(file: file, "/metadata: format_version \(version) is newer than this program reads (\(supportedFormatVersion))",
                                  hint: "update tbg")
        }
        for (key, value) in [("temperature_K", metadata.temperatureK), ("kT_kJ_per_mol", metadata.kTkJPerMol)] {
            if let value, !(value.isFinite && value > 0) {
                throw DataFormatError(file: file, "/metadata: \(key) is \(value); expected a positive number")
            }
        }
        // Both stored: they must say the same (kT weights every sample; a stale one is silent otherwise).
        if let temperature = metadata.temperatureK, let kT = metadata.kTkJPerMol,
           abs(kT - temperature * gasConstant) > 1e-4 * kT {
            throw DataFormatError(file: file, String(format: "/metadata: kT_kJ_per_mol %.8g disagrees with temperature_K %.6g (R T = %.8g kJ/mol); expected both to describe one temperature", kT, temperature, temperature * gasConstant))
        }
        return metadata
    }
}

/// `/metadata.bias` of a biased trajectory: a static bias V(CV) was added during production, so frame
/// k carries the weight exp(+V_k/kT) towards the unbiased ensemble (V_k in `/bias_energy`).
public struct BiasMetadata: Codable, Sendable, Equatable {
    public var kind: String?
    /// The collective variable's name ("phi") and its four atoms.
    public var cv: String?
    public var cvAtoms: [Int]?
    public var biasFactor: Double?
    public var heightKJMol: Double?
    public var sigmaRad: Double?
    public var buildPS: Double?
    public var frequencyPS: Double?
    public var gridBins: Int?
    public var temperatureK: Double?

    enum CodingKeys: String, CodingKey {
        case kind, cv
        case cvAtoms = "cv_atoms"
        case biasFactor = "bias_factor"
        case heightKJMol = "height_kj_mol"
        case sigmaRad = "sigma_rad"
        case buildPS = "build_ps"
        case frequencyPS = "frequency_ps"
        case gridBins = "grid_bins"
        case temperatureK = "temperature_K"
    }
}
