// Training checkpoints in HDF5, written to a temporary name and renamed. Training writes and
// resumes them; sampling and the NLL read them through TrainedFlow.
//
//   attrs     format = "tbg-checkpoint", format_version, step (completed), epoch, step_in_epoch,
//             steps_per_epoch, seed, config (resolved RunConfig JSON), created, ranks
//   /parameters/<name>          float32, PyTorch shape (the original TBG module names)
//   /adam/m/<name>, /adam/v/<name>  (attr adam_step)
//   /ema/<name>                 when an EMA is kept
//   /history/step, train_loss, validation_step, validation_loss, validation_loss_ema (v2)
//   v2 attrs  skipped_steps (steps skipped for non-finite values), ema_updates, training_data (JSON,
//             TrainingDataRecord: the peptides' atoms and the files and frames trained on)
// Every write keeps the previous checkpoint as <name>.prev.h5 (a hard link, so the final name
// always holds a whole file). Non-finite parameters are never written.
// All randomness is derived from (seed, epoch, step, sample), so seed + step is the whole RNG state.
import Foundation
import HDF5
import Model

public struct CheckpointState {
    public var config: RunConfig
    public var step: Int
    public var epoch: Int
    public var stepInEpoch: Int
    public var stepsPerEpoch: Int
    public var parameters: [Float]
    public var adamFirst: [Float]
    public var adamSecond: [Float]
    public var adamStep: Int
    public var ema: [Float]?
    public var historySteps: [Int32] = []
    public var historyLoss: [Double] = []
    public var validationSteps: [Int32] = []
    public var validationLoss: [Double] = []
    /// Validation loss of the EMA weights at `validationSteps` (empty without EMA).
    public var validationLossEMA: [Double] = []
    public var ranks = 1
    /// Steps skipped because their loss or gradient was not finite.
    public var skippedSteps = 0
    /// EMA updates so far (drives the EMA warm-up).
    public var emaUpdates = 0
    /// What the model trained on (nil in checkpoints written before format 2).
    public var trainingData: TrainingDataRecord?
    /// The format version the checkpoint was read with (written files are the current one).
    public var formatVersion = Checkpoint.formatVersion

    public init(config: RunConfig, step: Int, epoch: Int, stepInEpoch: Int, stepsPerEpoch: Int, parameters: [Float], adamFirst: [Float],
                adamSecond: [Float], adamStep: Int, ema: [Float]?, historySteps: [Int32] = [], historyLoss: [Double] = [],
                validationSteps: [Int32] = [], validationLoss: [Double] = [], ranks: Int = 1) {
        (self.config, self.step, self.epoch, self.stepInEpoch, self.stepsPerEpoch) = (config, step, epoch, stepInEpoch, stepsPerEpoch)
        (self.parameters, self.adamFirst, self.adamSecond, self.adamStep, self.ema) = (parameters, adamFirst, adamSecond, adamStep, ema)
        (self.historySteps, self.historyLoss, self.validationSteps, self.validationLoss) = (historySteps, historyLoss, validationSteps, validationLoss)
        self.ranks = ranks
    }
}

public enum Checkpoint {
    public static let formatName = "tbg-checkpoint"
    public static let formatVersion: Int64 = 2

    /// Where the previous checkpoint is kept.
    public static func previousPath(_ path: String) -> String {
        (path.hasSuffix(".h5") ? String(path.dropLast(3)) : path) + ".prev.h5"
    }

    public static func write(_ state: CheckpointState, layout: ParameterLayout, to path: String) throws {
        for (label, values) in [("parameters", state.parameters), ("EMA", state.ema ?? []), ("Adam first moment", state.adamFirst),
                                ("Adam second moment", state.adamSecond)] {
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw CheckpointError("\(path): not written: the \(label) hold a non-finite value (\(values[bad]) at entry \(bad)); the previous checkpoint is kept")
            }
        }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        // Keep the current checkpoint as <name>.prev.h5: link it under a temporary name and rename
        // that over the old .prev (atomic), then replace the current one atomically.
        if FileManager.default.fileExists(atPath: path) {
            let previous = previousPath(path), temporary = previous + ".link-\(getpid())"
            unlink(temporary)
            guard link(path, temporary) == 0, rename(temporary, previous) == 0 else {
                unlink(temporary)
                throw CheckpointError("\(path): cannot keep the previous checkpoint as \(previous): \(String(cString: strerror(errno)))")
            }
        }
        try HDF5File.writeAtomically(to: path) { root in
            try root.writeAttribute("format", string: formatName)
            try root.writeAttribute("format_version", [formatVersion])
            try root.writeAttribute("step", [Int64(state.step)])
            try root.writeAttribute("epoch", [Int64(state.epoch)])
            try root.writeAttribute("step_in_epoch", [Int64(state.stepInEpoch)])
            try root.writeAttribute("steps_per_epoch", [Int64(state.stepsPerEpoch)])
            try root.writeAttribute("seed", [Int64(bitPattern: state.config.training.seed)])
            try root.writeAttribute("ranks", [Int64(state.ranks)])
            try root.writeAttribute("config", string: state.config.json())
            try root.writeAttribute("created", string: ISO8601DateFormatter().string(from: Date()))
            try root.writeAttribute("skipped_steps", [Int64(state.skippedSteps)])
            try root.writeAttribute("ema_updates", [Int64(state.emaUpdates)])
            if let record = state.trainingData { try root.writeAttribute("training_data", string: record.json()) }
            try writeArena(state.parameters, layout: layout, into: root.createGroup("parameters"))
            let adam = try root.createGroup("adam")
            try adam.writeAttribute("adam_step", [Int64(state.adamStep)])
            try writeArena(state.adamFirst, layout: layout, into: adam.createGroup("m"))
            try writeArena(state.adamSecond, layout: layout, into: adam.createGroup("v"))
            if let ema = state.ema { try writeArena(ema, layout: layout, into: root.createGroup("ema")) }
            let history = try root.createGroup("history")
            try history.writeDataset("step", state.historySteps, shape: [state.historySteps.count])
            try history.writeDataset("train_loss", state.historyLoss, shape: [state.historyLoss.count])
            try history.writeDataset("validation_step", state.validationSteps, shape: [state.validationSteps.count])
            try history.writeDataset("validation_loss", state.validationLoss, shape: [state.validationLoss.count])
            try history.writeDataset("validation_loss_ema", state.validationLossEMA, shape: [state.validationLossEMA.count])
        }
    }

    public static func read(_ path: String) throws -> CheckpointState {
        do {
            let root = try HDF5File(opening: path).root()
            guard root.hasAttribute("format"), try root.readStringAttribute("format") == formatName else {
                throw CheckpointError("\(path): not a tbg checkpoint (no format = \(formatName) attribute)")
            }
            let version = try root.readAttribute("format_version", as: Int64.self)[0]
            guard version <= formatVersion else { throw CheckpointError("\(path): checkpoint format \(version) is newer than this tbg reads") }
            let config: RunConfig
            do {
                config = try RunConfig.decode(json: try root.readStringAttribute("config"))
            } catch let error as HDF5Error {
                throw error
            } catch {
                throw CheckpointError("\(path): attribute config is not a tbg run configuration (JSON): \(Self.describe(error))")
            }
            let layout = ParameterLayout(try ModelFactory.egnnConfig(config, featureWidth: nil, checkpointRoot: root))
            func integer(_ name: String) throws -> Int { Int(try root.readAttribute(name, as: Int64.self)[0]) }
            let adam = try root.group("adam")
            let history = try root.group("history")
            var state = CheckpointState(
                config: config, step: try integer("step"), epoch: try integer("epoch"), stepInEpoch: try integer("step_in_epoch"),
                stepsPerEpoch: try integer("steps_per_epoch"),
                parameters: try readArena(layout: layout, from: root.group("parameters")),
                adamFirst: try readArena(layout: layout, from: adam.group("m")),
                adamSecond: try readArena(layout: layout, from: adam.group("v")),
                adamStep: Int(try adam.readAttribute("adam_step", as: Int64.self)[0]),
                ema: root.contains("ema") ? try readArena(layout: layout, from: root.group("ema")) : nil,
                historySteps: try history.dataset("step").read(), historyLoss: try history.dataset("train_loss").read(),
                validationSteps: try history.dataset("validation_step").read(),
                validationLoss: try history.dataset("validation_loss").read(),
                ranks: try integer("ranks"))
            state.formatVersion = version
            state.validationLossEMA = history.contains("validation_loss_ema") ? try history.dataset("validation_loss_ema").read() : []
            state.skippedSteps = root.hasAttribute("skipped_steps") ? try integer("skipped_steps") : 0
            // Before format 2 the EMA had no warm-up and one update per step.
            state.emaUpdates = root.hasAttribute("ema_updates") ? try integer("ema_updates") : state.adamStep
            // tbg never writes a non-finite value (write refuses); one here is a damaged or edited file,
            // and a model with it integrates to NaN with errors that would blame the data.
            for (label, group, values) in [("parameters", "parameters", state.parameters), ("EMA", "ema", state.ema ?? []),
                                           ("Adam first moment", "adam/m", state.adamFirst), ("Adam second moment", "adam/v", state.adamSecond)] {
                if let bad = values.firstIndex(where: { !$0.isFinite }), let entry = layout.entries.first(where: { $0.offset + $0.count > bad }) {
                    throw CheckpointError("\(path): /\(group)/\(entry.name) holds \(values[bad]) at flat index \(bad - entry.offset) (shape \(entry.shape)): the \(label) must be finite; this checkpoint is damaged (tbg never writes a non-finite value)")
                }
            }
            if root.hasAttribute("training_data") {
                do {
                    state.trainingData = try TrainingDataRecord.decode(json: try root.readStringAttribute("training_data"))
                } catch {
                    throw CheckpointError("\(path): attribute training_data is not a training-data record: \(error)")
                }
            }
            return state
        } catch let error as HDF5Error {
            throw CheckpointError("\(error)")
        }
    }

    static func writeArena(_ values: [Float], layout: ParameterLayout, into group: HDF5Group) throws {
        for entry in layout.entries {
            try group.writeDataset(entry.name, Array(values[entry.offset..<(entry.offset + entry.count)]), shape: entry.shape)
        }
    }

    static func readArena(layout: ParameterLayout, from group: HDF5Group) throws -> [Float] {
        var values = [Float](repeating: 0, count: layout.count)
        for entry in layout.entries {
            guard group.contains(entry.name) else {
                throw CheckpointError("\(group.filePath):\(group.path): missing \(entry.name) \(entry.shape)")
            }
            let dataset = try group.dataset(entry.name)
            guard dataset.shape == entry.shape else {
                throw CheckpointError("\(dataset.filePath):\(dataset.path) has shape \(dataset.shape), the model expects \(entry.shape)")
            }
            values.replaceSubrange(entry.offset..<(entry.offset + entry.count), with: try dataset.read(as: Float.self))
        }
        return values
    }
}

extension Checkpoint {
    /// A decoding error in words (Foundation's JSON errors print as NSError dumps).
    static func describe(_ error: Error) -> String {
        if let config = error as? ConfigError { return "\(config)" }
        let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
        return detail ?? error.localizedDescription
    }
}

public struct CheckpointError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Builds the model configuration of a run.
public enum ModelFactory {
    /// The EGNN configuration; `featureWidth` comes from the data, or from the checkpoint's
    /// embedding weight when reading one.
    public static func egnnConfig(_ config: RunConfig, featureWidth: Int?, checkpointRoot: HDF5Group? = nil) throws -> EGNNConfig {
        var width = featureWidth
        if width == nil, let root = checkpointRoot {
            let shape = try root.group("parameters").dataset("embedding.weight").shape
            width = shape[1] - 1
        }
        return EGNNConfig(hidden: config.model.hidden, layers: config.model.layers, featureWidth: width ?? 0,
                          coordsRange: config.model.coordsRange)
    }
}
