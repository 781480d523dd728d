// `tbg inspect CHECKPOINT.h5`: what a training checkpoint (or a shipped model) holds, in the terms of
// the learning-curve tables: step, samples seen, the recipe, the last losses, the data it was
// trained on and whether training can continue from it (Adam state, EMA).
import FlowModel
import Foundation
import HDF5

struct CheckpointReport: Encodable {
    struct Losses: Encodable {
        var step: Int
        var raw: Double
        var ema: Double?
    }

    var file: String
    var kind = "checkpoint"
    var formatVersion: Int
    var step: Int
    var epoch: Int
    var stepsPerEpoch: Int
    /// step × global batch (frames per peptide × training peptides); nil without a training-data record.
    var samplesSeen: Int?
    var globalBatch: Int?
    var ranks: Int
    var hidden: Int
    var layers: Int
    var encoding: String
    var parameters: Int
    /// Optimizer state is there, so `tbg train --resume` continues the run exactly.
    var adamStep: Int
    var emaDecay: Double?
    var emaUpdates: Int
    /// What `tbg sample` uses: "ema" when an average is stored, else "raw".
    var samplingWeights: String
    var learningRate: Double
    var schedule: String
    var coupling: String
    var lastTrainLoss: Losses?
    var lastValidationLoss: Losses?
    var skippedSteps: Int
    var dataset: String
    /// Training peptides (name and number of files) from the checkpoint's training-data record.
    var trainingPeptides: [String]?
    var trainingFrames: Int?

    enum CodingKeys: String, CodingKey {
        case file, kind, step, epoch, ranks, hidden, layers, encoding, parameters, schedule, coupling, dataset
        case formatVersion = "format_version"
        case stepsPerEpoch = "steps_per_epoch"
        case samplesSeen = "samples_seen"
        case globalBatch = "global_batch"
        case adamStep = "adam_step"
        case emaDecay = "ema_decay"
        case emaUpdates = "ema_updates"
        case samplingWeights = "sampling_weights"
        case learningRate = "learning_rate"
        case lastTrainLoss = "last_train_loss"
        case lastValidationLoss = "last_validation_loss"
        case skippedSteps = "skipped_steps"
        case trainingPeptides = "training_peptides"
        case trainingFrames = "training_frames"
    }

    /// True when `path` is an HDF5 file with the checkpoint format attribute (cheap: no datasets read).
    static func isCheckpoint(_ path: String) -> Bool {
        guard let root = try? HDF5File(opening: path).root(), root.hasAttribute("format") else { return false }
        return (try? root.readStringAttribute("format")) == Checkpoint.formatName
    }

    /// - Throws: `CheckpointError` naming the file when it cannot be read as a checkpoint.
    init(path: String) throws {
        let state = try Checkpoint.read(path)
        let config = state.config
        file = path
        formatVersion = Int(state.formatVersion)
        (step, epoch, stepsPerEpoch, ranks) = (state.step, state.epoch, state.stepsPerEpoch, state.ranks)
        (hidden, layers, encoding) = (config.model.hidden, config.model.layers, config.model.encoding.rawValue)
        parameters = state.parameters.count
        adamStep = state.adamStep
        (emaDecay, emaUpdates) = (config.training.emaDecay, state.emaUpdates)
        samplingWeights = state.ema == nil ? "raw" : "ema"
        let total = config.training.scheduleSteps ?? config.training.steps
        learningRate = config.training.learningRateSchedule(total: total, stepsPerEpoch: max(1, state.stepsPerEpoch)).learningRate(step: state.step)
        schedule = config.training.schedule.rawValue
        coupling = config.training.coupling.rawValue
        if let loss = state.historyLoss.last, let at = state.historySteps.last { lastTrainLoss = Losses(step: Int(at), raw: loss) }
        if let loss = state.validationLoss.last, let at = state.validationSteps.last {
            lastValidationLoss = Losses(step: Int(at), raw: loss, ema: state.validationLossEMA.count == state.validationLoss.count ? state.validationLossEMA.last : nil)
        }
        skippedSteps = state.skippedSteps
        dataset = config.data.dataset
        if let record = state.trainingData {
            trainingPeptides = record.peptides.map(\.name)
            trainingFrames = record.peptides.flatMap(\.files).map { $0.trainingFrames.count == 2 ? $0.trainingFrames[1] - $0.trainingFrames[0] : 0 }.reduce(0, +)
            globalBatch = config.data.framesPerPeptide * record.peptides.count
            samplesSeen = globalBatch.map { $0 * state.step }
        }
    }
}
