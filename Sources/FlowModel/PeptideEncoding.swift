// Node features of a peptide (one-hot rows under the checkpoint's encoding) from its MDTraj
// topology: what the model sees of a molecule, the same for training, sampling and the NLL.
import MDData
import Model

/// Node features of a peptide from its topology, for training and for sampling.
public enum PeptideEncoding {
    /// What the encoder needs per atom, from the MDTraj topology (residue position within the molecule).
    public static func atoms(of topology: MDTrajTopology) -> [AtomDescription] {
        topology.residues.enumerated().flatMap { position, residue in
            residue.atoms.map { AtomDescription(name: $0.name, element: $0.element ?? "", residueIndex: position, residueName: residue.name) }
        }
    }

    /// One-hot rows (atoms × width) and the width. `checkpointPath`, where the encoding is a
    /// checkpoint's, is named in the error for a peptide the encoding cannot represent.
    public static func features(of trajectory: TrajectoryFile, encoding: EncodingKind, checkpointPath: String? = nil) throws -> (rows: [Float], width: Int) {
        let atoms = atoms(of: trajectory.topology)
        do {
            let rows: [Float] = try AtomEncoder.oneHot(encoding, atoms: atoms, bonds: trajectory.topology.bonds)
            return (rows, AtomEncoder.width(encoding, atomCount: atoms.count))
        } catch {
            let model = checkpointPath.map { "the model in \($0) cannot take this peptide: " } ?? ""
            throw DataFormatError(file: trajectory.path, "\(model)cannot encode this peptide with the '\(encoding.rawValue)' encoding: \(error)")
        }
    }
}
