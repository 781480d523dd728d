// The training driver: prolog, main loop, epilog (style.md §13). Each step reads top to bottom:
// samples → coordinates → flow-matching loss and gradients → all-reduce → clip → Adam → EMA →
// log on rank 0; validation and checkpoints are one `if` each.
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
    let schedule: StepSchedule
    var state: CheckpointState
    let log: (String) -> Void

    /// Sets up data, model and optimizer; resumes from `config.training.checkpoint` when `resume`
    /// is set and the file exists.
    public init(config: RunConfig, communicator: any Communicator, resume: Bool, log: @escaping (String) -> Void) throws {
        self.config = config
        comm = communicator
        self.log = { line in if communicator.isRoot { log(line) } }
        BLASRuntime.setThreadCount(1)   // one rank per core: OpenBLAS must not spawn its own threads
        data = try TrainingData(config: config)
        guard data.stepsPerEpoch > 0 else { throw ConfigError("no complete step fits in an epoch") }
        model = EGNNVectorField<Float>(config: try ModelFactory.egnnConfig(config, featureWidth: data.featureWidth))
        adam = Adam(count: model.layout.count, settings: config.training.adam)
        schedule = StepSchedule(base: config.training.learningRate, milestones: config.training.lrDecayEpochs,
                                factor: config.training.lrDecayFactor)
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
        let initialAverage = restored?.ema ?? model.parameters.array
        ema = config.training.emaDecay.map { ExponentialMovingAverage(initial: initialAverage, decay: $0) }
        state = restored ?? CheckpointState(config: config, step: 0, epoch: 0, stepInEpoch: 0, stepsPerEpoch: data.stepsPerEpoch,
                                            parameters: [], adamFirst: [], adamSecond: [], adamStep: 0, ema: nil)
        state.config = config
        state.ranks = comm.size
        // Rank 0's parameters are authoritative; every rank must then hold identical ones.
        comm.broadcast(model.parameters.buffer, root: 0)
        try verifyIdenticalParameters(when: "start")
        if let restored { self.log("resumed from \(config.training.checkpoint) at step \(restored.step) (epoch \(restored.epoch))") }
    }

    /// Trains until `config.training.steps` or a stop signal. Returns the number of the last completed step.
    @discardableResult
    public func run() throws -> Int {
        let batch = data.globalBatch
        log("training: \(data.peptides.count) peptide(s), global batch \(batch) (\(data.framesPerPeptide) frames each), \(comm.size) rank(s), \(data.stepsPerEpoch) steps/epoch, \(model.layout.count) parameters, validation \(data.validation.count) frames")
        var timer = PhaseTimer()
        let started = Date()
        let firstStep = state.step
        var recentLoss: [Double] = []
        while state.step < config.training.steps {
            let epoch = state.step / data.stepsPerEpoch, stepInEpoch = state.step % data.stepsPerEpoch
            let samples = data.samples(epoch: epoch, stepInEpoch: stepInEpoch, rank: comm.rank, size: comm.size)
            let coordinates = try timer.measure(.data) { try data.coordinates(of: samples, epoch: epoch) }
            let inputs = FlowMatchingInputs.make(
                molecules: samples.map { (data.peptides[$0.peptide],
                                          [RandomPurpose.training.rawValue, UInt64(epoch), UInt64(stepInEpoch), UInt64($0.globalIndex)]) },
                coordinates: coordinates, config: config)
            model.zeroGradients()
            let localLoss = timer.measure(.compute) {
                inputs.evaluate(model: model, weight: 1 / Double(batch), microBatch: config.data.microBatch, backward: true)
            }
            var reduced = [localLoss, Double(StopSignal.received)]
            timer.measure(.communication) {
                comm.allreduce(model.gradients.buffer, .sum)
                comm.allreduce(&reduced, .sum)
            }
            let loss = reduced[0]
            timer.measure(.optimizer) {
                if let clip = config.training.gradientClip {
                    GradientClipping.clip(model.gradients.pointer, count: model.layout.count, maxNorm: clip)
                }
                adam.step(parameters: model.parameters.pointer, gradients: model.gradients.pointer,
                          learningRate: schedule.learningRate(epoch: epoch))
                ema?.update(model.parameters.pointer)
            }
            state.step += 1
            state.historySteps.append(Int32(state.step))
            state.historyLoss.append(loss)
            recentLoss.append(loss)
            if state.step % config.training.logEvery == 0 || state.step == config.training.steps {
                let elapsed = Date().timeIntervalSince(started)
                let done = state.step - firstStep
                let rate = Double(done * batch) / max(elapsed, 1e-9)
                let eta = Double(config.training.steps - state.step) * elapsed / Double(max(done, 1))
                let mean = recentLoss.reduce(0, +) / Double(recentLoss.count)
                log(String(format: "step %d/%d  epoch %d  loss %.5f  lr %.2e  %.1f samples/s  ETA %@", state.step,
                           config.training.steps, epoch, mean, schedule.learningRate(epoch: epoch), rate, Self.duration(eta)))
                recentLoss.removeAll()
            }
            if state.step % config.training.validateEvery == 0 || state.step == config.training.steps { try validate() }
            let stopping = reduced[1] != 0
            if state.step % config.training.checkpointEvery == 0 || state.step == config.training.steps || stopping {
                try writeCheckpoint()
            }
            if stopping {
                log("stopping after step \(state.step) on \(StopSignal.name(StopSignal.received == 0 ? SIGTERM : StopSignal.received)): checkpoint written to \(config.training.checkpoint); continue with --resume")
                break
            }
        }
        let summary = timer.summary(comm: comm)
        log("phases (seconds, min/avg/max over ranks): " + summary)
        return state.step
    }

    /// Mean flow-matching loss over the validation frames (fixed randomness, so comparable over time).
    func validate() throws {
        guard !data.validation.isEmpty else { return }
        let total = data.validation.count
        let low = total * comm.rank / comm.size, high = total * (comm.rank + 1) / comm.size
        var coordinates: [Float] = []
        var molecules: [(peptide: TrainingPeptide, key: [UInt64])] = []
        for index in low..<high {
            let (peptide, frame) = data.validation[index]
            coordinates += try peptide.trajectory.readFrames(frame..<(frame + 1))
            molecules.append((peptide, [RandomPurpose.validation.rawValue, UInt64(index)]))
        }
        let inputs = FlowMatchingInputs.make(molecules: molecules, coordinates: coordinates, config: config)
        let local = inputs.evaluate(model: model, weight: 1 / Double(total), microBatch: config.data.microBatch, backward: false)
        let loss = comm.allreduce(local, .sum)
        state.validationSteps.append(Int32(state.step))
        state.validationLoss.append(loss)
        log(String(format: "step %d  validation loss %.5f  (%d frames)", state.step, loss, total))
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
        case data, compute, communication, optimizer
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
