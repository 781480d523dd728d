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
        /// How training frames are drawn: `iid` keeps each rank's frames in memory and draws a fresh
        /// random permutation of all of them every epoch (the original's index iterator); `windowed`
        /// streams hyperslab windows with a windowed shuffle (sets too large for memory); `auto`
        /// takes `iid` when the frames a rank needs fit `memory_budget_mb`.
        public var stream = FrameStreamKind.auto
        /// Memory a rank may spend on in-memory training frames (MiB).
        public var memoryBudgetMB = 4096.0
        /// Before the first step, read every frame of the training and validation files and refuse
        /// one that is not a molecule (a bond outside 0.05–0.30 nm: TrajectoryFile.requireMolecules).
        /// false only for data whose bonds are not covalent all-atom bonds (coarse-grained beads).
        public var checkBonds = true

        enum CodingKeys: String, CodingKey {
            case dataset, stream
            case checkBonds = "check_bonds"
            case memoryBudgetMB = "memory_budget_mb"
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
        /// Learning-rate schedule, in optimizer steps (see `ScheduleKind`).
        public var schedule = ScheduleKind.step
        /// T, the schedule's total: nil = `steps` of the run's first start. A run fixes it when it
        /// starts and keeps it on resume, so raising `steps` later extends the run at the final
        /// learning rate instead of rewriting the past (README "Training schedules").
        public var scheduleSteps: Int?
        /// step: fractions of T at which the rate is multiplied by `lr_decay_factor` (AD2 [0.5]; 2AA [1/3, 2/3]).
        public var lrDecayFractions: [Double] = [0.5]
        /// epochs: epochs at which the rate is multiplied by `lr_decay_factor` (the original's code).
        public var lrDecayEpochs: [Int] = []
        public var lrDecayFactor = 0.1
        /// onecycle: warm-up fraction of T (ECNF++ 0.05); start at lr·initial, end at lr·final.
        public var warmupFraction = 0.05
        public var initialLRFraction = 0.002
        public var finalLRFraction = 0.002
        /// wsd: linear warm-up steps, start of the cosine decay (nil = not yet), its length in steps.
        public var warmupSteps = 0
        public var decayStart: Int?
        public var decaySteps = 0
        public var adam = AdamSettings()
        /// Noise scale of the interpolant, model units (method.md §5.1; ECNF++ 0).
        public var sigma = 0.01
        /// Pairing of prior and data samples in a batch (field.md §3).
        public var coupling = CouplingKind.independent
        /// Uniform random rotation of every training frame; nil = on exactly for `equivariant_ot`,
        /// which needs it (TS/ECNF++ always rotates; TBG never).
        public var randomRotation: Bool?
        /// Exponential moving average of the weights; nil = off (TBG has none; ECNF++ 0.999).
        public var emaDecay: Double?
        /// EMA warm-up d_t = min(d, (1+t)/(10+t)).
        public var emaWarmup = true
        /// Clip the global gradient norm; nil = off (TBG has none; ECNF++ 1.0).
        public var gradientClip: Double?
        /// A step whose loss or gradient is not finite is skipped; this many in a row stop the run.
        public var maxSkippedSteps = 20
        public var seed: UInt64 = 1
        public var logEvery = 10
        public var validateEvery = 100
        public var checkpointEvery = 500
        /// Also checkpoint when this many minutes passed since the last one (nil = off).
        public var checkpointMinutes: Double? = 10
        /// Checkpoint path (written atomically; the previous one is kept as <name>.prev.h5; resumed
        /// from when present and --resume is given).
        public var checkpoint = "data/runs/train/checkpoint.h5"

        enum CodingKeys: String, CodingKey {
            case steps, adam, sigma, seed, checkpoint, schedule, coupling
            case learningRate = "learning_rate"
            case scheduleSteps = "schedule_steps"
            case lrDecayFractions = "lr_decay_fractions"
            case lrDecayEpochs = "lr_decay_epochs"
            case lrDecayFactor = "lr_decay_factor"
            case warmupFraction = "warmup_fraction"
            case initialLRFraction = "initial_lr_fraction"
            case finalLRFraction = "final_lr_fraction"
            case warmupSteps = "warmup_steps"
            case decayStart = "decay_start"
            case decaySteps = "decay_steps"
            case randomRotation = "random_rotation"
            case emaDecay = "ema_decay"
            case emaWarmup = "ema_warmup"
            case gradientClip = "gradient_clip"
            case maxSkippedSteps = "max_skipped_steps"
            case logEvery = "log_every"
            case validateEvery = "validate_every"
            case checkpointEvery = "checkpoint_every"
            case checkpointMinutes = "checkpoint_minutes"
        }

        public init() {}

        // Optional settings are written as null (not omitted) so that files and --set can name them.
        public func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(steps, forKey: .steps)
            try container.encode(learningRate, forKey: .learningRate)
            try container.encode(schedule, forKey: .schedule)
            try container.encode(scheduleSteps, forKey: .scheduleSteps)
            try container.encode(lrDecayFractions, forKey: .lrDecayFractions)
            try container.encode(lrDecayEpochs, forKey: .lrDecayEpochs)
            try container.encode(lrDecayFactor, forKey: .lrDecayFactor)
            try container.encode(warmupFraction, forKey: .warmupFraction)
            try container.encode(initialLRFraction, forKey: .initialLRFraction)
            try container.encode(finalLRFraction, forKey: .finalLRFraction)
            try container.encode(warmupSteps, forKey: .warmupSteps)
            try container.encode(decayStart, forKey: .decayStart)
            try container.encode(decaySteps, forKey: .decaySteps)
            try container.encode(adam, forKey: .adam)
            try container.encode(sigma, forKey: .sigma)
            try container.encode(coupling, forKey: .coupling)
            try container.encode(randomRotation, forKey: .randomRotation)
            try container.encode(emaDecay, forKey: .emaDecay)
            try container.encode(emaWarmup, forKey: .emaWarmup)
            try container.encode(gradientClip, forKey: .gradientClip)
            try container.encode(maxSkippedSteps, forKey: .maxSkippedSteps)
            try container.encode(seed, forKey: .seed)
            try container.encode(logEvery, forKey: .logEvery)
            try container.encode(validateEvery, forKey: .validateEvery)
            try container.encode(checkpointEvery, forKey: .checkpointEvery)
            try container.encode(checkpointMinutes, forKey: .checkpointMinutes)
            try container.encode(checkpoint, forKey: .checkpoint)
        }

        /// Whether training frames are randomly rotated.
        public var rotatesData: Bool { randomRotation ?? (coupling == .equivariantOT) }

        /// The schedule of this run; `total` is T (the resolved `schedule_steps`).
        public func learningRateSchedule(total: Int, stepsPerEpoch: Int) -> LearningRateSchedule {
            var schedule = LearningRateSchedule(kind: self.schedule, base: learningRate, totalSteps: total)
            schedule.decayFractions = lrDecayFractions
            schedule.decayEpochs = lrDecayEpochs
            schedule.stepsPerEpoch = stepsPerEpoch
            schedule.factor = lrDecayFactor
            schedule.warmupFraction = warmupFraction
            schedule.divFactor = 1 / initialLRFraction
            schedule.finalDivFactor = initialLRFraction / finalLRFraction
            schedule.warmupSteps = warmupSteps
            schedule.decayStart = decayStart
            schedule.decaySteps = decaySteps
            schedule.finalFraction = finalLRFraction
            return schedule
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
            try YAMLInputCheck.check(text, source: file)   // Yams traps on non-scalar mapping keys
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
            try YAMLInputCheck.check(parts[1], source: "override '\(override)'")
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
        if let total = training.scheduleSteps, total < 1 { throw ConfigError("training.schedule_steps must be positive (or null = training.steps)") }
        if training.lrDecayFractions.contains(where: { !(0...1).contains($0) }) {
            throw ConfigError("training.lr_decay_fractions must lie in [0, 1] (fractions of the schedule's total)")
        }
        if !(0...1).contains(training.warmupFraction) { throw ConfigError("training.warmup_fraction must be in [0, 1]") }
        if !(training.initialLRFraction > 0 && training.initialLRFraction <= 1 && training.finalLRFraction > 0 && training.finalLRFraction <= 1) {
            throw ConfigError("training.initial_lr_fraction and final_lr_fraction must be in (0, 1]")
        }
        if training.warmupSteps < 0 || training.decaySteps < 0 || (training.decayStart ?? 0) < 0 {
            throw ConfigError("training.warmup_steps, decay_steps and decay_start must not be negative")
        }
        if training.schedule == .epochs && training.lrDecayEpochs.isEmpty {
            throw ConfigError("training.schedule = epochs needs training.lr_decay_epochs")
        }
        if training.sigma < 0 { throw ConfigError("training.sigma must be ≥ 0") }
        if let decay = training.emaDecay, !(0..<1).contains(decay) { throw ConfigError("training.ema_decay must be in [0, 1)") }
        if let clip = training.gradientClip, !(clip > 0) { throw ConfigError("training.gradient_clip must be positive") }
        if training.maxSkippedSteps < 1 { throw ConfigError("training.max_skipped_steps must be positive") }
        if let minutes = training.checkpointMinutes, !(minutes > 0) { throw ConfigError("training.checkpoint_minutes must be positive") }
        if !(data.memoryBudgetMB >= 0) { throw ConfigError("data.memory_budget_mb must be ≥ 0") }
    }

    /// The resolved configuration as pretty, sorted JSON (printed at start, stored in checkpoints).
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// A stored configuration (checkpoint, sample file). Keys a stored configuration lacks take
    /// today's defaults, except that one written before schedules existed keeps its meaning: epoch
    /// milestones (or a constant rate) and the old checkpoint path.
    public static func decode(json: String) throws -> RunConfig {
        guard let stored = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            throw ConfigError("stored configuration: expected a JSON object")
        }
        var tree = try merge(try jsonObject(RunConfig()), stored, path: "stored configuration")
        if let training = stored["training"] as? [String: Any], training["schedule"] == nil,
           var section = tree["training"] as? [String: Any] {
            let epochs = training["lr_decay_epochs"] as? [Any] ?? []
            section["schedule"] = epochs.isEmpty ? ScheduleKind.constant.rawValue : ScheduleKind.epochs.rawValue
            section["ema_warmup"] = false
            section["checkpoint_minutes"] = NSNull()
            tree["training"] = section
        }
        do {
            return try JSONDecoder().decode(RunConfig.self, from: JSONSerialization.data(withJSONObject: tree))
        } catch {
            throw ConfigError("stored configuration: \(error)")
        }
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

/// How training frames are drawn (`data.stream`).
public enum FrameStreamKind: String, Codable, Sendable {
    case auto, iid, windowed
}

/// Pairing of prior and data samples within a batch (`training.coupling`).
public enum CouplingKind: String, Codable, Sendable {
    /// Independent pairs (TBG).
    case independent
    /// Minibatch optimal transport on squared Euclidean distance (Tong et al. 2023; Pooladian et al. 2023).
    case ot
    /// Minibatch OT after aligning each pair over rotations and over permutations of atoms with
    /// identical features (Klein, Krämer & Noé 2023).
    case equivariantOT = "equivariant_ot"
}

public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
