// The one configuration type of a training run: defaults in code (each with its reason), YAML or
// JSON files in Configs/, `--set key.path=value` overrides on top. The resolved configuration is
// printed at start, stored in every checkpoint, and restored on resume.
import Foundation
import Model
import Optim
import Yams

public struct RunConfig: Codable, Equatable, Sendable {
    public struct ModelSection: Codable, Equatable, Sendable {
        /// Hidden width H (AD2 64, 2AA 128; method.md §4.4).
        public var hidden = 64
        /// E_GCL layers L (AD2 5, 2AA 9).
        public var layers = 5
        /// Node encoding: element (TBG), backbone, full (TBG+full, 76), atoms (AD2 "full").
        public var encoding = EncodingKind.atoms
        /// Coordinate range; each layer's update is scaled by coords_range / layers.
        public var coordsRange = 15.0
        /// nm → model units after centring (AD2 ×10 = Å, 2AA ×30; method.md §2.2).
        public var scaling = 10.0

        enum CodingKeys: String, CodingKey {
            case hidden, layers, encoding, scaling
            case coordsRange = "coords_range"
        }
    }

    public struct DataSection: Codable, Equatable, Sendable {
        /// Dataset folder (index.json + trajectory files).
        public var dataset = "data/ad2-10ns"
        /// Frames each training peptide contributes per step, over all ranks (AD2 256; 2AA 2–3).
        public var framesPerPeptide = 256
        /// Frames per contiguous read window of the streaming shuffle.
        public var windowFrames = 64
        /// Windows shuffled together; frames mix within these groups.
        public var shuffleWindows = 16
        /// Without validation peptides, the trailing fraction of each training trajectory is held out.
        public var validationFraction = 0.05
        /// Frames per validation peptide (spread evenly) used for the validation loss.
        public var validationFrames = 256
        /// Molecules per forward/backward pass on a rank (gradients accumulate). Small passes keep the
        /// E×H edge arrays in cache: 8 alanine dipeptides run 20 % faster than 256 (tbg bench train).
        public var microBatch = 8

        enum CodingKeys: String, CodingKey {
            case dataset
            case framesPerPeptide = "frames_per_peptide"
            case windowFrames = "window_frames"
            case shuffleWindows = "shuffle_windows"
            case validationFraction = "validation_fraction"
            case validationFrames = "validation_frames"
            case microBatch = "micro_batch"
        }
    }

    public struct TrainingSection: Codable, Equatable, Sendable {
        /// Total optimizer steps (the run ends there; resuming continues to it).
        public var steps = 1000
        public var learningRate = 5e-4
        /// Epochs at which the learning rate is multiplied by `lrDecayFactor` (2AA: [4, 8]; AD2: [500]).
        public var lrDecayEpochs: [Int] = []
        public var lrDecayFactor = 0.1
        public var adam = AdamSettings()
        /// Noise scale of the interpolant, model units (method.md §5.1).
        public var sigma = 0.01
        /// Exponential moving average of the weights; nil = off (TBG has none).
        public var emaDecay: Double?
        /// Clip the global gradient norm; nil = off (TBG has none).
        public var gradientClip: Double?
        public var seed: UInt64 = 1
        public var logEvery = 10
        public var validateEvery = 100
        public var checkpointEvery = 500
        /// Checkpoint path (written atomically; resumed from when present and --resume is given).
        public var checkpoint = "runs/train/checkpoint.h5"

        enum CodingKeys: String, CodingKey {
            case steps, adam, sigma, seed, checkpoint
            case learningRate = "learning_rate"
            case lrDecayEpochs = "lr_decay_epochs"
            case lrDecayFactor = "lr_decay_factor"
            case emaDecay = "ema_decay"
            case gradientClip = "gradient_clip"
            case logEvery = "log_every"
            case validateEvery = "validate_every"
            case checkpointEvery = "checkpoint_every"
        }

        public init() {}

        // Optional settings are written as null (not omitted) so that files and --set can name them.
        public func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(steps, forKey: .steps)
            try container.encode(learningRate, forKey: .learningRate)
            try container.encode(lrDecayEpochs, forKey: .lrDecayEpochs)
            try container.encode(lrDecayFactor, forKey: .lrDecayFactor)
            try container.encode(adam, forKey: .adam)
            try container.encode(sigma, forKey: .sigma)
            try container.encode(emaDecay, forKey: .emaDecay)
            try container.encode(gradientClip, forKey: .gradientClip)
            try container.encode(seed, forKey: .seed)
            try container.encode(logEvery, forKey: .logEvery)
            try container.encode(validateEvery, forKey: .validateEvery)
            try container.encode(checkpointEvery, forKey: .checkpointEvery)
            try container.encode(checkpoint, forKey: .checkpoint)
        }
    }

    public var model = ModelSection()
    public var data = DataSection()
    public var training = TrainingSection()

    public init() {}

    /// Defaults ← file (YAML or JSON) ← overrides ("training.steps=200"), validated.
    public static func resolve(file: String?, overrides: [String]) throws -> RunConfig {
        var tree = try jsonObject(RunConfig())
        if let file {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ConfigError("\(file): cannot read the configuration file")
            }
            let loaded: Any?
            do {
                loaded = try Yams.load(yaml: text)
            } catch {
                throw ConfigError("\(file): not valid YAML/JSON: \(error)")
            }
            guard let dictionary = loaded as? [String: Any] else { throw ConfigError("\(file): expected a mapping at the top level") }
            tree = try merge(tree, dictionary, path: file)
        }
        for override in overrides {
            let parts = override.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ConfigError("override '\(override)': expected key.path=value") }
            let value = (try? Yams.load(yaml: parts[1])) ?? parts[1]
            tree = try set(tree, path: parts[0].split(separator: ".").map(String.init), value: value as Any, full: parts[0])
        }
        let config: RunConfig
        do {
            config = try JSONDecoder().decode(RunConfig.self, from: JSONSerialization.data(withJSONObject: tree))
        } catch {
            throw ConfigError("configuration: \(error)")
        }
        try config.validate()
        return config
    }

    public func validate() throws {
        if model.hidden < 1 || model.layers < 1 { throw ConfigError("model.hidden and model.layers must be positive") }
        if data.framesPerPeptide < 1 { throw ConfigError("data.frames_per_peptide must be positive") }
        if data.windowFrames < 1 || data.shuffleWindows < 1 { throw ConfigError("data.window_frames and data.shuffle_windows must be positive") }
        if !(0..<1).contains(data.validationFraction) { throw ConfigError("data.validation_fraction must be in [0, 1)") }
        if training.steps < 0 || training.learningRate <= 0 { throw ConfigError("training.steps ≥ 0 and training.learning_rate > 0 required") }
        if training.logEvery < 1 || training.validateEvery < 1 || training.checkpointEvery < 1 {
            throw ConfigError("training.log_every, validate_every and checkpoint_every must be positive")
        }
    }

    /// The resolved configuration as pretty, sorted JSON (printed at start, stored in checkpoints).
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    public static func decode(json: String) throws -> RunConfig {
        try JSONDecoder().decode(RunConfig.self, from: Data(json.utf8))
    }

    private static func jsonObject(_ config: RunConfig) throws -> [String: Any] {
        (try JSONSerialization.jsonObject(with: JSONEncoder().encode(config))) as? [String: Any] ?? [:]
    }

    private static func merge(_ base: [String: Any], _ overlay: [String: Any], path: String) throws -> [String: Any] {
        var result = base
        for (key, value) in overlay {
            guard let existing = base[key] else {
                throw ConfigError("\(path): unknown key '\(key)' (known: \(base.keys.sorted().joined(separator: ", ")))")
            }
            if let existingSection = existing as? [String: Any], let section = value as? [String: Any] {
                result[key] = try merge(existingSection, section, path: path + ":" + key)
            } else {
                result[key] = value
            }
        }
        return result
    }

    private static func set(_ tree: [String: Any], path: [String], value: Any, full: String) throws -> [String: Any] {
        var result = tree
        guard let key = path.first else { return tree }
        guard let existing = tree[key] else {
            throw ConfigError("override '\(full)': unknown key '\(key)' (known: \(tree.keys.sorted().joined(separator: ", ")))")
        }
        if path.count == 1 {
            result[key] = value
        } else {
            guard let section = existing as? [String: Any] else { throw ConfigError("override '\(full)': '\(key)' is not a section") }
            result[key] = try set(section, path: Array(path.dropFirst()), value: value, full: full)
        }
        return result
    }
}

public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
