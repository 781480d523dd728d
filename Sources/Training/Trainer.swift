// The training driver: prolog, main loop, epilog (style.md §13). Each step reads top to bottom:
// samples → coordinates → coupling → flow-matching loss and gradients → all-reduce (with a
// finite flag) → skip if not finite → clip → Adam → EMA → log on rank 0; validation and
// checkpoints are one `if` each.
import FlowModel
import Communication
import Foundation
import Kernels
import Linalg
import Model
import Optim

public final class Trainer {
    public let config: RunConfig
    let comm: any Communicator
    let data: TrainingData
    public let model: EGNNVectorField<Float>
    let adam: Adam
    let ema: ExponentialMovingAverage?
    let schedule: LearningRateSchedule
    var state: CheckpointState
    let log: (String) -> Void

    /// Sets up data, model and optimizer; resumes from `config.training.checkpoint` when `resume`
    /// is set and the file exists.
    public init(config: RunConfig, communicator: any Communicator, resume: Bool, log: @escaping (String) -> Void) throws {
        comm = communicator
        self.log = { line in if communicator.isRoot { log(line) } }
        BLASRuntime.setThreadCount(1)   // one rank per core: OpenBLAS must not spawn its own threads
        data = try TrainingData(config: config)
        guard data.stepsPerEpoch > 0 else { throw ConfigError("no complete step fits in an epoch") }
        model = EGNNVectorField<Float>(config: try ModelFactory.egnnConfig(config, featureWidth: data.featureWidth))
        adam = Adam(count: model.layout.count, settings: config.training.adam)
        model.initializeParameters(seed: config.training.seed)
        var restored: CheckpointState?
        if resume, FileManager.default.fileExists(atPath: config.training.checkpoint) {
            let checkpoint = try Checkpoint.read(config.training.checkpoint)
            guard checkpoint.stepsPerEpoch == data.stepsPerEpoch else {
                throw CheckpointError("\(config.training.checkpoint): written with \(checkpoint.stepsPerEpoch) steps per epoch, the data now gives \(data.stepsPerEpoch); the dataset or batch settings changed")
            }
            guard checkpoint.parameters.count == model.layout.count else {
                throw CheckpointError("\(config.training.checkpoint): \(checkpoint.parameters.count) parameters, this model has \(model.layout.count)")
            }
            (model.parameters.pointer).update(from: checkpoint.parameters, count: checkpoint.parameters.count)
            adam.restore(firstMoment: checkpoint.adamFirst, secondMoment: checkpoint.adamSecond, stepCount: checkpoint.adamStep)
            restored = checkpoint
        }
        // The schedule's total is fixed when the run starts and kept on resume (unless set explicitly).
        var config = config
        if config.training.scheduleSteps == nil {
            config.training.scheduleSteps = restored?.config.training.scheduleSteps ?? restored?.config.training.steps ?? config.training.steps
        }
        self.config = config
        schedule = config.training.learningRateSchedule(total: config.training.scheduleSteps!, stepsPerEpoch: data.stepsPerEpoch)
        let initialAverage = restored?.ema ?? model.parameters.array
        ema = config.training.emaDecay.map {
            ExponentialMovingAverage(initial: initialAverage, decay: $0, warmup: config.training.emaWarmup, updates: restored?.emaUpdates ?? 0)
        }
        state = restored ?? CheckpointState(config: config, step: 0, epoch: 0, stepInEpoch: 0, stepsPerEpoch: data.stepsPerEpoch,
                                            parameters: [], adamFirst: [], adamSecond: [], adamStep: 0, ema: nil)
        state.config = config
        state.ranks = comm.size
        // Rank 0's parameters are authoritative; every rank must then hold identical ones.
        comm.broadcast(model.parameters.buffer, root: 0)
        try verifyIdenticalParameters(when: "start")
        if let restored {
            self.log("resumed from \(config.training.checkpoint) at step \(restored.step) (epoch \(restored.epoch))")
            if restored.step >= config.training.steps {
                self.log("nothing to train: the checkpoint is at step \(restored.step) and training.steps is \(config.training.steps); raise training.steps (--set training.steps=N) to continue")
            }
            if restored.trainingData == nil { self.log("note: \(config.training.checkpoint) predates training-data records (format \(restored.formatVersion)); this run adds one") }
        }
    }

    /// The schedule in words for the log: a total for step and onecycle; warm-up and the decay phase
    /// for wsd, whose rate does not depend on the total (the total inherited on a resume used to be
    /// printed for it, e.g. "wsd over 800 steps" for a campaign at step 31 627).
    var scheduleDescription: String {
        guard schedule.kind == .wsd else { return "\(schedule.kind.rawValue) over \(schedule.totalSteps) steps" }
        let decay = schedule.decayStart.map { "decay from step \($0) over \(schedule.decaySteps) steps to \(schedule.finalFraction) of the rate" }
            ?? "no decay set (training.decay_start)"
        return "wsd (warm-up \(schedule.warmupSteps) steps, then constant; \(decay))"
    }

    /// Trains until `config.training.steps` or a stop signal. Returns the number of the last completed step.
    @discardableResult
    public func run() throws -> Int {
        let batch = data.globalBatch
        log("training: \(data.peptides.count) peptide(s), global batch \(batch) (\(data.framesPerPeptide) frames each), \(comm.size) rank(s), \(data.stepsPerEpoch) steps/epoch, \(model.layout.count) parameters, validation \(data.validation.count) frames")
        log("recipe: \(data.stream.rawValue) stream (\(data.trainingBytes / 1024) KiB of frames), coupling \(config.training.coupling.rawValue), random rotation \(config.training.rotatesData ? "on" : "off"), σ \(config.training.sigma), schedule \(scheduleDescription), EMA \(config.training.emaDecay.map { "\($0)\(config.training.emaWarmup ? " with warm-up" : "")" } ?? "off"), clip \(config.training.gradientClip.map { "\($0)" } ?? "off")")
        if state.trainingData == nil || state.step == 0, comm.isRoot { state.trainingData = try data.record() }
        var timer = PhaseTimer()
        let started = Date()
        var lastCheckpoint = Date()
        let firstStep = state.step
        var recentLoss: [Double] = []
        var skippedInARow = 0
        while state.step < config.training.steps {
            let epoch = state.step / data.stepsPerEpoch, stepInEpoch = state.step % data.stepsPerEpoch
            let key = { (sample: TrainingSample) -> [UInt64] in
                [RandomPurpose.training.rawValue, UInt64(epoch), UInt64(stepInEpoch), UInt64(sample.globalIndex)]
            }
            let samples = data.samples(epoch: epoch, stepInEpoch: stepInEpoch, rank: comm.rank, size: comm.size)
            let coordinates = try timer.measure(.data) { try data.coordinates(of: samples, epoch: epoch) }
            var pairedPrior: [[Double]?]?
            if config.training.coupling != .independent {
                let gathered = timer.measure(.communication) { comm.allgather(coordinates).flatMap { $0 } }
                pairedPrior = timer.measure(.coupling) {
                    StepCoupling.pairedPriors(local: samples, global: data.samples(epoch: epoch, stepInEpoch: stepInEpoch, rank: 0, size: 1),
                                              globalCoordinates: gathered, data: data, config: config, comm: comm, key: key)
                }
            }
            let inputs = FlowMatchingInputs.make(molecules: samples.map { (data.peptides[$0.peptide], key($0)) },
                                                 coordinates: coordinates, config: config, pairedPrior: pairedPrior)
            model.zeroGradients()
            let localLoss = timer.measure(.compute) {
                inputs.evaluate(model: model, weight: 1 / Double(batch), microBatch: config.data.microBatch, backward: true)
            }
            // Finite flag: 1 on a rank whose loss or gradient is NaN or ±∞ (overflow); summed with the loss.
            let localFinite = localLoss.isFinite && GradientClipping.norm(model.gradients.pointer, count: model.layout.count).isFinite
            var reduced = [localLoss, Double(StopSignal.received), localFinite ? 0 : 1]
            timer.measure(.communication) {
                comm.allreduce(model.gradients.buffer, .sum)
                comm.allreduce(&reduced, .sum)
            }
            let loss = reduced[0]
            let learningRate = schedule.learningRate(step: state.step)
            var skipped = reduced[2] != 0 || !loss.isFinite
            timer.measure(.optimizer) {
                if !skipped, let clip = config.training.gradientClip {
                    // The reduced gradient is the same on every rank, so every rank decides alike.
                    skipped = !GradientClipping.clip(model.gradients.pointer, count: model.layout.count, maxNorm: clip).isFinite
                }
                guard !skipped else { return }
                adam.step(parameters: model.parameters.pointer, gradients: model.gradients.pointer, learningRate: learningRate)
                ema?.update(model.parameters.pointer)
            }
            state.step += 1
            if skipped {
                state.skippedSteps += 1
                skippedInARow += 1
                log("step \(state.step): non-finite loss or gradient (loss \(loss)); step skipped (\(skippedInARow) in a row, \(state.skippedSteps) in all)")
                if skippedInARow >= config.training.maxSkippedSteps {
                    throw TrainingError("\(skippedInARow) steps in a row had a non-finite loss or gradient (training.max_skipped_steps = \(config.training.maxSkippedSteps)); stopped at step \(state.step) without writing a checkpoint: the last one at \(config.training.checkpoint) is from before. Check the data (tbg inspect) and the learning rate.")
                }
            } else {
                skippedInARow = 0
            }
            state.historySteps.append(Int32(state.step))
            state.historyLoss.append(loss)
            if loss.isFinite { recentLoss.append(loss) }
            if state.step % config.training.logEvery == 0 || state.step == config.training.steps {
                let elapsed = Date().timeIntervalSince(started)
                let done = state.step - firstStep
                let rate = Double(done * batch) / max(elapsed, 1e-9)
                let eta = Double(config.training.steps - state.step) * elapsed / Double(max(done, 1))
                let mean = recentLoss.isEmpty ? Double.nan : recentLoss.reduce(0, +) / Double(recentLoss.count)
                log(String(format: "step %d/%d  epoch %d  loss %.5f  lr %.2e  %.1f samples/s  ETA %@", state.step,
                           config.training.steps, epoch, mean, learningRate, rate, Self.duration(eta)))
                recentLoss.removeAll()
            }
            if state.step % config.training.validateEvery == 0 || state.step == config.training.steps { try validate() }
            let stopping = reduced[1] != 0
            // Time-based checkpoints: rank 0's clock decides, broadcast so all ranks agree.
            var due = [config.training.checkpointMinutes.map { Date().timeIntervalSince(lastCheckpoint) >= $0 * 60 ? 1.0 : 0 } ?? 0]
            if config.training.checkpointMinutes != nil { comm.broadcast(&due, root: 0) }
            if state.step % config.training.checkpointEvery == 0 || state.step == config.training.steps || stopping || due[0] != 0 {
                try writeCheckpoint()
                lastCheckpoint = Date()
            }
            if stopping {
                log("stopping after step \(state.step) on \(StopSignal.cause): checkpoint written to \(config.training.checkpoint); continue with --resume")
                break
            }
        }
        let summary = timer.summary(comm: comm)
        log("phases (seconds, min/avg/max over ranks): " + summary)
        return state.step
    }

    /// Mean flow-matching loss over the validation frames (fixed randomness and independent pairs,
    /// so comparable over time and between recipes), of the raw weights and of the EMA weights.
    func validate() throws {
        guard !data.validation.isEmpty else { return }
        let raw = try validationLoss()
        var line = String(format: "step %d  validation loss %.5f", state.step, raw)
        state.validationSteps.append(Int32(state.step))
        state.validationLoss.append(raw)
        if let ema {
            let current = model.parameters.array
            model.parameters.pointer.update(from: ema.values, count: ema.values.count)
            defer { model.parameters.pointer.update(from: current, count: current.count) }
            let averaged = try validationLoss()
            state.validationLossEMA.append(averaged)
            line += String(format: "  EMA %.5f", averaged)
        }
        log(line + "  (\(data.validation.count) frames)")
    }

    func validationLoss() throws -> Double {
        let total = data.validation.count
        let low = total * comm.rank / comm.size, high = total * (comm.rank + 1) / comm.size
        var coordinates: [Float] = []
        var molecules: [(peptide: TrainingPeptide, key: [UInt64])] = []
        var validationConfig = config
        validationConfig.training.randomRotation = false
        for index in low..<high {
            let entry = data.validation[index]
            coordinates += try entry.file.readFrames(entry.frame..<(entry.frame + 1))
            molecules.append((entry.peptide, [RandomPurpose.validation.rawValue, UInt64(index)]))
        }
        let inputs = FlowMatchingInputs.make(molecules: molecules, coordinates: coordinates, config: validationConfig)
        let local = inputs.evaluate(model: model, weight: 1 / Double(total), microBatch: config.data.microBatch, backward: false)
        return comm.allreduce(local, .sum)
    }

    func writeCheckpoint() throws {
        try verifyIdenticalParameters(when: "checkpoint at step \(state.step)")
        guard comm.isRoot else { return }
        state.epoch = state.step / data.stepsPerEpoch
        state.stepInEpoch = state.step % data.stepsPerEpoch
        state.parameters = model.parameters.array
        state.adamFirst = adam.firstMoment
        state.adamSecond = adam.secondMoment
        state.adamStep = adam.stepCount
        state.ema = ema?.values
        state.emaUpdates = ema?.updates ?? 0
        state.config = config
        try Checkpoint.write(state, layout: model.layout, to: config.training.checkpoint)
    }

    /// Compares a checksum of the parameters over ranks; differing copies end the job.
    func verifyIdenticalParameters(when: String) throws {
        var sum = 0.0, weighted = 0.0
        for k in 0..<model.layout.count {
            let value = Double(model.parameters.pointer[k])
            sum += value
            weighted += value * Double(k % 977 + 1)
        }
        var maxima = [sum, weighted], minima = maxima
        comm.allreduce(&maxima, .max)
        comm.allreduce(&minima, .min)
        guard maxima == minima else {
            throw TrainingError("parameters differ between ranks at \(when) (checksums \(minima) … \(maxima))")
        }
    }

    public var history: (steps: [Int32], loss: [Double]) { (state.historySteps, state.historyLoss) }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let total = Int(seconds.rounded())
        return total >= 3600 ? "\(total / 3600)h\(total % 3600 / 60)m" : total >= 60 ? "\(total / 60)m\(total % 60)s" : "\(total)s"
    }
}

public struct TrainingError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Wall time per named phase, reported as min/avg/max over ranks at the end (CoMD's timers).
struct PhaseTimer {
    enum Phase: Int, CaseIterable {
        case data, coupling, compute, communication, optimizer
    }

    var seconds = [Double](repeating: 0, count: Phase.allCases.count)

    mutating func measure<R>(_ phase: Phase, _ body: () throws -> R) rethrows -> R {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { seconds[phase.rawValue] += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        return try body()
    }

    func summary(comm: any Communicator) -> String {
        var minimum = seconds, maximum = seconds, sum = seconds
        comm.allreduce(&minimum, .min)
        comm.allreduce(&maximum, .max)
        comm.allreduce(&sum, .sum)
        return Phase.allCases.map { phase in
            let k = phase.rawValue
            return String(format: "%@ %.2f/%.2f/%.2f", "\(phase)", minimum[k], sum[k] / Double(comm.size), maximum[k])
        }.joined(separator: ", ")
    }
}
