// Training throughput on synthetic molecules through the real step: flow-matching forward and
// backward of the full model, gradient all-reduce, Adam. Values do not change the cost, so no data
// files are needed; `tbg bench train` prints the figures (Tools/reference/bench_torch.py gives the
// PyTorch baseline on the same machine).
import FlowModel
import Communication
import Foundation
import Kernels
import Linalg
import Model
import Optim
import Transport

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
    public var coupling: String
    public var emaDecay: Double?
    public var gradientClip: Double?
    /// Median seconds per step of each optional part (included in the step time): the coupling
    /// (gathering the batch and solving the global OT problem), the EMA update, the clipping; nil
    /// (JSON null) for the EMA and clipping when they are off.
    public var couplingSeconds: Double
    public var emaSeconds: Double?
    public var clipSeconds: Double?
    /// Model parameters (the all-reduced gradient's length, float32).
    public var parameters = 0
    /// The C kernels' variant that ran (KernelVariant: portable, avx2, avx512).
    public var kernels: String = KernelVariant.active.description
    /// OpenBLAS's kernel (its own CPU detection, or OPENBLAS_CORETYPE), e.g. "Cooperlake", "Haswell".
    public var openblasCore: String = BLASRuntime.coreName
    /// Floating-point operations of the step's matrix products (`modelFlops`), over all ranks.
    public var modelFlopsPerStep = 0.0
    /// What one rank's core sustained on them: modelFlopsPerStep / ranks / median step time.
    public var achievedGFLOPS = 0.0
    /// A large single-thread sgemm (1024³) of the same BLAS on rank 0's core, timed in the same
    /// run: the practical peak of this core for float32 products.
    public var sgemmGFLOPS = 0.0
    /// achievedGFLOPS / sgemmGFLOPS: how much of the core's practical peak the step uses (the
    /// elementwise work, the all-reduce and Adam count as time but not as FLOPs).
    public var peakFraction = 0.0

    enum CodingKeys: String, CodingKey {
        case atoms, ranks, hidden, layers, steps, coupling, parameters, kernels
        case openblasCore = "openblas_core"
        case emaDecay = "ema_decay"
        case gradientClip = "gradient_clip"
        case couplingSeconds = "coupling_seconds"
        case emaSeconds = "ema_seconds"
        case clipSeconds = "clip_seconds"
        case globalBatch = "global_batch"
        case featureWidth = "feature_width"
        case medianStepSeconds = "median_step_seconds"
        case samplesPerSecond = "samples_per_second"
        case modelFlopsPerStep = "model_flops_per_step"
        case achievedGFLOPS = "achieved_gflops_per_core"
        case sgemmGFLOPS = "sgemm_gflops_per_core"
        case peakFraction = "peak_fraction"
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(atoms, forKey: .atoms)
        try container.encode(ranks, forKey: .ranks)
        try container.encode(hidden, forKey: .hidden)
        try container.encode(layers, forKey: .layers)
        try container.encode(steps, forKey: .steps)
        try container.encode(coupling, forKey: .coupling)
        try container.encode(parameters, forKey: .parameters)
        try container.encode(kernels, forKey: .kernels)
        try container.encode(openblasCore, forKey: .openblasCore)
        // Parts that are off are null, not absent: a reader finds every key.
        try container.encode(emaDecay, forKey: .emaDecay)
        try container.encode(gradientClip, forKey: .gradientClip)
        try container.encode(couplingSeconds, forKey: .couplingSeconds)
        try container.encode(emaSeconds, forKey: .emaSeconds)
        try container.encode(clipSeconds, forKey: .clipSeconds)
        try container.encode(globalBatch, forKey: .globalBatch)
        try container.encode(featureWidth, forKey: .featureWidth)
        try container.encode(medianStepSeconds, forKey: .medianStepSeconds)
        try container.encode(samplesPerSecond, forKey: .samplesPerSecond)
        try container.encode(modelFlopsPerStep, forKey: .modelFlopsPerStep)
        try container.encode(achievedGFLOPS, forKey: .achievedGFLOPS)
        try container.encode(sgemmGFLOPS, forKey: .sgemmGFLOPS)
        try container.encode(peakFraction, forKey: .peakFraction)
    }
}

public enum TrainingBenchmark {
    /// Floating-point operations (2 per multiply-add) of the matrix products of one training step
    /// (forward and backward) over `molecules` molecules of `atoms` atoms, fully connected
    /// (E = molecules·N(N−1) edges, A = molecules·N atoms), per E_GCL layer (EGNNLayer.swift):
    ///   edge MLP W₂, W_c: forward 4EH², backward 8EH² (∂input and ∂weight of each);
    ///   factorised first edge layer P = hW₁ₐᵀ, Q = hW₁ᵦᵀ: 4AH² + 8AH²;
    ///   node MLP W₃ (2H → H), W₄ (H → H): 6AH² + 12AH²;
    /// so 12EH² + 30AH² per layer, plus the embedding's 4A(K+1)H (forward and weight gradient; its input is data). Elementwise work (SiLU, σ, tanh,
    /// the geometry) is not counted: this is the usual model-FLOPs measure of utilisation.
    public static func modelFlops(_ config: EGNNConfig, atoms: Int, molecules: Int) -> Double {
        let h = Double(config.hidden), a = Double(molecules * atoms), e = Double(molecules * atoms * (atoms - 1))
        return Double(config.layers) * (12 * e * h * h + 30 * a * h * h) + 4 * a * Double(config.featureWidth + 1) * h
    }

    /// GFLOP/s of a single-thread 1024 × 1024 × 1024 float32 GEMM of the linked BLAS on this core
    /// (best of `repeats`, after one untimed call).
    public static func sgemmGFLOPS(size: Int = 1024, repeats: Int = 5) -> Double {
        BLASRuntime.setThreadCount(1)
        var random = RandomSource(seed: 11)
        let a = (0..<(size * size)).map { _ in Float(random.gaussian()) }, b = (0..<(size * size)).map { _ in Float(random.gaussian()) }
        var c = [Float](repeating: 0, count: size * size)
        var best = Double.infinity
        for call in 0...repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            gemm(.none, .none, m: size, n: size, k: size, a: a, b: b, c: &c)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if call > 0 { best = min(best, seconds) }
        }
        precondition(c[0].isFinite)
        return 2 * pow(Double(size), 3) / best / 1e9
    }

    /// - Parameters:
    ///   - coupling: independent, ot or equivariant_ot; the synthetic molecules of 22 atoms have
    ///     alanine dipeptide's three interchangeable methyl-hydrogen triples (the `atoms` encoding).
    ///   - emaDecay, gradientClip: nil = off.
    public static func run(model config: EGNNConfig, atoms: Int, globalBatch: Int, steps: Int, warmup: Int, microBatch: Int,
                           coupling: CouplingKind = .independent, emaDecay: Double? = nil, gradientClip: Double? = nil,
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
        let groups = InterchangeableAtoms(groups: atoms == 22 ? [[1, 2, 3], [11, 12, 13], [19, 20, 21]] : [], atomCount: atoms)
        let ema = emaDecay.map { ExponentialMovingAverage(initial: model.parameters.array, decay: $0) }
        let localData = inputs.positions.map(Double.init)
        var durations: [Double] = [], couplingTimes: [Double] = [], emaTimes: [Double] = [], clipTimes: [Double] = []
        func seconds(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        for step in 0..<(warmup + steps) {
            comm.barrier()
            let start = DispatchTime.now().uptimeNanoseconds
            if coupling != .independent {
                // As the trainer: gather the global batch, every rank solves the same OT problem.
                let data = comm.allgather(localData).flatMap { $0 }
                let prior = (0..<globalBatch).flatMap { g -> [Double] in
                    var r = RandomSource(seed: 5, streams: [UInt64(step), UInt64(g)])
                    var x = [Double](repeating: 0, count: atoms * 3)
                    x.withUnsafeMutableBufferPointer { MeanFreePrior.draw($0.baseAddress!, atoms: atoms, random: &r) }
                    return x
                }
                let cost: CouplingCost = coupling == .equivariantOT ? .aligned(groups) : .euclidean
                let rows = (globalBatch * comm.rank / comm.size)..<(globalBatch * (comm.rank + 1) / comm.size)
                let matrix = comm.allgather(MinibatchCoupling.costs(prior: prior, data: data, count: globalBatch, atoms: atoms,
                                                                    cost: cost, rows: rows)).flatMap { $0 }
                let pairing = MinibatchCoupling.pair(prior: prior, data: data, count: globalBatch, atoms: atoms, cost: cost, matrix: matrix)
                precondition(pairing.coupledCost.isFinite)
            }
            let couplingDone = DispatchTime.now().uptimeNanoseconds
            model.zeroGradients()
            var loss = inputs.evaluate(model: model, weight: 1 / Double(globalBatch), microBatch: microBatch, backward: true)
            comm.allreduce(model.gradients.buffer, .sum)
            loss = comm.allreduce(loss, .sum)
            let clipStart = DispatchTime.now().uptimeNanoseconds
            if let gradientClip { GradientClipping.clip(model.gradients.pointer, count: model.layout.count, maxNorm: gradientClip) }
            let clipSeconds = seconds(since: clipStart)
            adam.step(parameters: model.parameters.pointer, gradients: model.gradients.pointer, learningRate: 5e-4)
            let emaStart = DispatchTime.now().uptimeNanoseconds
            ema?.update(model.parameters.pointer)
            let emaSeconds = seconds(since: emaStart)
            comm.barrier()
            let total = seconds(since: start)
            if step >= warmup {
                durations.append(comm.allreduce(total, .max))
                couplingTimes.append(comm.allreduce(Double(couplingDone - start) / 1e9, .max))
                emaTimes.append(comm.allreduce(emaSeconds, .max))
                clipTimes.append(comm.allreduce(clipSeconds, .max))
            }
            precondition(loss.isFinite, "non-finite benchmark loss")
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        let step = median(durations)
        // The core's practical peak, measured on rank 0 while the other ranks wait (no contention).
        let sgemm = comm.isRoot ? sgemmGFLOPS() : 0
        comm.barrier()
        var result = TrainingBenchmarkResult(atoms: atoms, globalBatch: globalBatch, ranks: comm.size, hidden: config.hidden,
                                       layers: config.layers, featureWidth: config.featureWidth, steps: steps,
                                       medianStepSeconds: step, samplesPerSecond: Double(globalBatch) / step,
                                       coupling: coupling.rawValue, emaDecay: emaDecay, gradientClip: gradientClip,
                                       couplingSeconds: median(couplingTimes), emaSeconds: emaDecay == nil ? nil : median(emaTimes),
                                       clipSeconds: gradientClip == nil ? nil : median(clipTimes),
                                       parameters: model.layout.count)
        result.modelFlopsPerStep = modelFlops(config, atoms: atoms, molecules: globalBatch)
        result.achievedGFLOPS = result.modelFlopsPerStep / Double(comm.size) / step / 1e9
        result.sgemmGFLOPS = sgemm
        result.peakFraction = sgemm > 0 ? result.achievedGFLOPS / sgemm : 0
        return result
    }
}
