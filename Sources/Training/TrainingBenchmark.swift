// Training throughput on synthetic molecules through the real step: flow-matching forward and
// backward of the full model, gradient all-reduce, Adam. Values do not change the cost, so no data
// files are needed; `tbg bench train` prints the figures (Tools/reference/bench_torch.py gives the
// PyTorch baseline on the same machine).
import Communication
import Foundation
import Kernels
import Linalg
import Model
import Optim

public struct TrainingBenchmarkResult: Codable, Sendable {
    public var atoms: Int
    public var globalBatch: Int
    public var ranks: Int
    public var hidden: Int
    public var layers: Int
    public var featureWidth: Int
    public var steps: Int
    public var medianStepSeconds: Double
    public var samplesPerSecond: Double

    enum CodingKeys: String, CodingKey {
        case atoms, ranks, hidden, layers, steps
        case globalBatch = "global_batch"
        case featureWidth = "feature_width"
        case medianStepSeconds = "median_step_seconds"
        case samplesPerSecond = "samples_per_second"
    }
}

public enum TrainingBenchmark {
    public static func run(model config: EGNNConfig, atoms: Int, globalBatch: Int, steps: Int, warmup: Int, microBatch: Int,
                           communicator comm: any Communicator) -> TrainingBenchmarkResult {
        BLASRuntime.setThreadCount(1)
        let model = EGNNVectorField<Float>(config: config)
        model.initializeParameters(seed: 1)
        let adam = Adam(count: model.layout.count)
        let local = globalBatch * (comm.rank + 1) / comm.size - globalBatch * comm.rank / comm.size
        var random = RandomSource(seed: 3, streams: [UInt64(comm.rank)])
        var inputs = FlowMatchingInputs()
        for _ in 0..<local {
            inputs.atomCounts.append(atoms)
            for _ in 0..<atoms {
                var row = [Float](repeating: 0, count: config.featureWidth)
                row[random.integer(below: config.featureWidth)] = 1
                inputs.features += row
            }
            inputs.times.append(Float(random.uniform()))
            for _ in 0..<(atoms * 3) {
                inputs.positions.append(Float(3 * random.gaussian()))
                inputs.targets.append(Float(3 * random.gaussian()))
            }
        }
        var durations: [Double] = []
        for step in 0..<(warmup + steps) {
            comm.barrier()
            let start = DispatchTime.now().uptimeNanoseconds
            model.zeroGradients()
            var loss = inputs.evaluate(model: model, weight: 1 / Double(globalBatch), microBatch: microBatch, backward: true)
            comm.allreduce(model.gradients.buffer, .sum)
            loss = comm.allreduce(loss, .sum)
            adam.step(parameters: model.parameters.pointer, gradients: model.gradients.pointer, learningRate: 5e-4)
            comm.barrier()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if step >= warmup { durations.append(comm.allreduce(seconds, .max)) }
            precondition(loss.isFinite, "non-finite benchmark loss")
        }
        durations.sort()
        let median = durations[durations.count / 2]
        return TrainingBenchmarkResult(atoms: atoms, globalBatch: globalBatch, ranks: comm.size, hidden: config.hidden,
                                       layers: config.layers, featureWidth: config.featureWidth, steps: steps,
                                       medianStepSeconds: median, samplesPerSecond: Double(globalBatch) / median)
    }
}
