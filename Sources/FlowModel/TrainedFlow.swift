// A checkpoint made ready to run on one peptide: checkpoint → (model, encoding, units). What
// `tbg sample`, `tbg nll`, `tbg bench sample` and the tests need of a trained flow, without the
// training code: the vector field with the checkpoint's weights (its EMA whenever it has one), the
// peptide's one-hot feature rows under the checkpoint's encoding, and the model's coordinate units.
//
// Refused, naming the files: a peptide whose feature width differs from the one the model was
// trained with, and (encoding `atoms`, a single-molecule model) a peptide whose atoms differ from
// the molecule it was trained on.
import Foundation
import Kernels
import Linalg
import MDData
import Model

public struct TrainedFlow {
    public let checkpointPath: String
    public let checkpoint: CheckpointState
    /// The peptide the model is made ready for (a trajectory file: topology, System, frames).
    public let peptide: TrajectoryFile
    /// The vector field, with the checkpoint's EMA weights if it has them, else its raw weights.
    public let model: EGNNVectorField<Float>
    /// One-hot node features of the peptide (atoms × `featureWidth`).
    public let features: [Float]
    public let featureWidth: Int
    public var atoms: Int { peptide.atomCount }
    /// Whether the model's weights are the checkpoint's EMA (used whenever the checkpoint has one).
    public let usesEMA: Bool

    public var encoding: EncodingKind { checkpoint.config.model.encoding }
    public var units: ModelUnits { checkpoint.config.model.units }
    /// What the checkpoint was trained on (nil for checkpoints older than the record).
    public var trainingData: TrainingDataRecord? { checkpoint.trainingData }

    /// The weights in use, in words, for logs and output attributes.
    public var weightsDescription: String {
        usesEMA ? "EMA weights (decay \(checkpoint.config.training.emaDecay.map { "\($0)" } ?? "?"), step \(checkpoint.step))"
                : "raw weights (no EMA in the checkpoint), step \(checkpoint.step)"
    }

    /// Reads the checkpoint at `checkpointPath` (first), opens the peptide file at `peptidePath` and
    /// builds the checkpoint's model for that peptide.
    public init(checkpointPath: String, peptidePath: String) throws {
        self.checkpointPath = checkpointPath
        checkpoint = try Checkpoint.read(checkpointPath)
        let peptide = try TrajectoryFile(path: peptidePath)
        self.peptide = peptide
        let (rows, width) = try PeptideEncoding.features(of: peptide, encoding: checkpoint.config.model.encoding, checkpointPath: checkpointPath)
        let egnn = try ModelFactory.egnnConfig(checkpoint.config, featureWidth: width)
        guard ParameterLayout(egnn).count == checkpoint.parameters.count else {
            throw DataFormatError(file: peptidePath, "this peptide gives feature width \(width), the model in \(checkpointPath) was trained with a different width (encoding '\(checkpoint.config.model.encoding.rawValue)'); it cannot be sampled with this model")
        }
        try Self.requireTrainedTopology(checkpoint, checkpointPath: checkpointPath, peptide: peptide)
        model = EGNNVectorField<Float>(config: egnn)
        model.parameters.pointer.update(from: checkpoint.ema ?? checkpoint.parameters, count: checkpoint.parameters.count)
        usesEMA = checkpoint.ema != nil
        features = rows
        featureWidth = width
    }

    /// A single-molecule model (`atoms` encoding: one class per atom position) only applies to the
    /// molecule it was trained on, atom for atom; any difference is refused, naming the first.
    /// Checkpoints without a training-data record cannot be checked.
    static func requireTrainedTopology(_ checkpoint: CheckpointState, checkpointPath: String, peptide: TrajectoryFile) throws {
        guard checkpoint.config.model.encoding == .atoms, let record = checkpoint.trainingData, let trained = record.peptides.first else { return }
        let atoms = TrainingDataRecord.atoms(of: peptide.topology)
        if let mismatch = TrainingDataRecord.firstMismatch(trained.atoms, atoms) {
            throw DataFormatError(file: peptide.path, "the model in \(checkpointPath) (encoding 'atoms') was trained on \(trained.name) and applies to that molecule only, atom for atom: \(mismatch)")
        }
    }
}
