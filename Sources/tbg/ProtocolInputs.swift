// What the two SNIS protocols of `tbg evaluate` (Evaluation/SNISProtocols.swift, field.md §4) read
// beyond the TBG metrics: every backbone torsion (all φ, then all ψ, as mdtraj.compute_phi/psi find
// them) of MD frames and samples, and, where the samples file records them, the energy and log
// weight of every sample (/samples/raw_energy, raw_log_weight; Sampling/RawSampleWeights.swift)
// and the per-sample integration and isomorphism-budget flags. Files without them stay readable:
// the clipped protocol is then reported as not computable, and the finer failure counts are null.
import Evaluation
import Foundation
import MDData
import Sampling

extension EvaluationInputs {
    /// The torsion quartets: every φ, then every ψ, of the reference topology.
    static func torsionQuartets(_ residues: [ResidueAtoms]) -> [[Int]] {
        BackboneTorsions.quartets(residues, pattern: BackboneTorsions.phiPattern) + BackboneTorsions.quartets(residues, pattern: BackboneTorsions.psiPattern)
    }

    /// frames × quartets dihedrals (radians), row-major.
    static func torsions(_ coordinates: [Float], atoms: Int, quartets: [[Int]]) -> [Double] {
        let columns = quartets.map { BackboneTorsions.dihedrals(coordinates, atoms: atoms, quartet: $0) }
        let frames = columns.first?.count ?? 0
        return (0..<frames).flatMap { frame in columns.map { $0[frame] } }
    }

    /// Adds the raw energies (kT) and log weights and the failure flags the file records to `samples`.
    /// - Throws: `DataFormatError` naming the file when a dataset has the wrong shape or unit, when
    ///   only one of raw_energy and raw_log_weight is present, or when a sample with a finite raw
    ///   log weight has non-finite coordinates (it could be resampled).
    static func addRawWeights(to samples: inout SampleSet, from sampleFile: SampleFile, kT: Double, coordinates: [Float]) throws {
        let file = sampleFile.trajectory
        let path = file.path
        samples.integrationOK = try sampleFile.optionalFlags("integration_ok")
        samples.isomorphismBudgetExhausted = try sampleFile.optionalFlags("isomorphism_budget_exhausted")
        let energies = try sampleFile.optionalDataset("raw_energy", expected: "float64 energy of every sample (units kilojoules_per_mole)")
        let logWeights = try sampleFile.optionalDataset("raw_log_weight", expected: "float64 log weight of every sample")
        guard let energies, let logWeights else {
            if energies != nil || logWeights != nil {
                throw DataFormatError(file: path, "/samples has only one of raw_energy and raw_log_weight; the clipped SNIS protocol needs both (or neither, for files that do not record them)")
            }
            return
        }
        let factor = try PhysicalUnits.factor(of: energies, quantity: .energy)
        samples.rawEnergies = try energies.read(as: Double.self).map { $0 * factor / kT }
        let weights = try logWeights.read(as: Double.self)
        samples.rawLogWeights = weights
        let width = 3 * file.atomCount
        for frame in weights.indices where weights[frame].isFinite {
            if let bad = (frame * width..<(frame + 1) * width).first(where: { !coordinates[$0].isFinite }) {
                let atom = (bad - frame * width) / 3
                throw DataFormatError(file: path, "/coordinates of sample \(frame), atom \(atom) (\(file.topology.atoms[atom].name)) is \(coordinates[bad]), but its /samples/raw_log_weight is finite (the clipped SNIS protocol may resample it); expected finite coordinates wherever raw_log_weight is finite")
            }
        }
    }
}
