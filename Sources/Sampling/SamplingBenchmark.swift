// Sampling throughput with the exact likelihood: the network with the forward-mode divergence, as
// `tbg sample` calls it (FlowSampler, micro-batches of molecules), on the samples of a batch split
// over the ranks. `tbg bench sample` prints the figures; Tools/reference/bench_torch.py (sample)
// gives the PyTorch baseline with the original brute-force divergence on the same machine.
//
// Fixed steps: one RK4 step over the batch is timed (4 network evaluations per sample); an RK4
// integration with S steps costs exactly 4·S of them, so its samples/s is evaluations/s ÷ 4S.
// Adaptive: a whole Dormand–Prince integration from the prior (t = 0 → 1) is timed, since its cost
// depends on the model (a trained checkpoint gives realistic step counts, a random one does not).
// Beside wall time, process CPU time is reported (summed over ranks): on a shared host it is
// what changes least with the other jobs, so variants compared side by side are compared by it.
import Communication
import Foundation
import Kernels
import Linalg
import Model

public struct SamplingBenchmarkResult: Codable, Sendable {
    public var atoms: Int
    public var batch: Int
    public var ranks: Int
    public var model: String
    /// Per-sample network evaluations (velocity and exact divergence) per second, all ranks.
    public var evaluationsPerSecond: Double
    public var medianStepSeconds: Double
    /// Per-sample evaluations per CPU-second (process CPU time summed over ranks, median step).
    public var evaluationsPerCPUSecond: Double
    public var medianStepCPUSeconds: Double
    public var rk4Steps: Int
    public var rk4SamplesPerSecond: Double
    public var adaptiveSamples: Int
    public var adaptiveSeconds: Double?
    public var adaptiveSamplesPerSecond: Double?
    public var adaptiveCPUSeconds: Double?
    public var adaptiveEvaluationsPerSample: Double?
    public var tolerance: Double
    /// The C kernels' variant that ran per family (KernelVariant: "layer avx512, tangent avx2").
    public var kernels: String = KernelVariant.activeByFamily
    /// OpenBLAS's kernel (its own CPU detection, or OPENBLAS_CORETYPE), e.g. "Cooperlake", "Haswell".
    public var openblasCore: String = BLASRuntime.coreName

    enum CodingKeys: String, CodingKey {
        case atoms, batch, ranks, model, tolerance, kernels
        case openblasCore = "openblas_core"
        case evaluationsPerSecond = "evaluations_per_second"
        case medianStepSeconds = "median_rk4_step_seconds"
        case evaluationsPerCPUSecond = "evaluations_per_cpu_second"
        case medianStepCPUSeconds = "median_rk4_step_cpu_seconds"
        case rk4Steps = "rk4_steps"
        case rk4SamplesPerSecond = "rk4_samples_per_second"
        case adaptiveSamples = "adaptive_samples"
        case adaptiveSeconds = "adaptive_seconds"
        case adaptiveSamplesPerSecond = "adaptive_samples_per_second"
        case adaptiveCPUSeconds = "adaptive_cpu_seconds"
        case adaptiveEvaluationsPerSample = "adaptive_evaluations_per_sample"
    }
}

public enum SamplingBenchmark {
    /// - Parameters:
    ///   - batch: samples over all ranks (each rank takes its contiguous share).
    ///   - repeats: timed RK4 steps (the median is reported) after one untimed warm-up step.
    ///   - adaptiveSamples: samples over all ranks for the timed dopri5 integration (0 skips it).
    public static func run(sampler: FlowSampler, modelName: String, batch: Int, repeats: Int, rk4Steps: Int,
                           adaptiveSamples: Int, tolerance: Double, microBatch: Int,
                           communicator comm: any Communicator) throws -> SamplingBenchmarkResult {
        BLASRuntime.setThreadCount(1)
        let atoms = sampler.atoms
        let local = share(batch, comm)
        var settings = SamplerSettings()
        settings.microBatch = microBatch
        settings.method = "rk4"
        settings.steps = 1
        let latents = priorStates(count: local, atoms: atoms, offset: batch * comm.rank / comm.size)
        var durations: [Double] = [], cpuDurations: [Double] = []
        for repeatIndex in 0..<(repeats + 1) {
            var states = latents
            let (seconds, cpuSeconds) = try timed(comm) { _ = try sampler.integrate(states: &states, from: 0, to: 0.25, settings: settings) }
            if repeatIndex > 0 {
                durations.append(seconds)
                cpuDurations.append(cpuSeconds)
            }
        }
        durations.sort()
        cpuDurations.sort()
        let median = durations[durations.count / 2], cpuMedian = cpuDurations[cpuDurations.count / 2]
        let evaluationsPerSecond = Double(4 * batch) / median
        var result = SamplingBenchmarkResult(
            atoms: atoms, batch: batch, ranks: comm.size, model: modelName, evaluationsPerSecond: evaluationsPerSecond,
            medianStepSeconds: median, evaluationsPerCPUSecond: Double(4 * batch) / cpuMedian, medianStepCPUSeconds: cpuMedian,
            rk4Steps: rk4Steps, rk4SamplesPerSecond: evaluationsPerSecond / Double(4 * rk4Steps),
            adaptiveSamples: adaptiveSamples, tolerance: tolerance)
        guard adaptiveSamples > 0 else { return result }
        settings.method = "dopri5"
        settings.absoluteTolerance = tolerance
        settings.relativeTolerance = tolerance
        settings.chunk = max(1, share(adaptiveSamples, comm))
        var states = priorStates(count: share(adaptiveSamples, comm), atoms: atoms,
                                 offset: adaptiveSamples * comm.rank / comm.size)
        var evaluations = 0.0
        let (seconds, cpuSeconds) = try timed(comm) {
            let statistics = try sampler.integrate(states: &states, from: 0, to: 1, settings: settings)
            // Per-sample evaluations: two for the initial step size, six per accepted or rejected step (FSAL).
            evaluations = Double(zip(statistics.acceptedSteps, statistics.rejectedSteps).map { 6 * ($0 + $1) + 2 }.reduce(0, +))
        }
        evaluations = comm.allreduce(evaluations, .sum)
        result.adaptiveSeconds = seconds
        result.adaptiveCPUSeconds = cpuSeconds
        result.adaptiveSamplesPerSecond = Double(adaptiveSamples) / seconds
        result.adaptiveEvaluationsPerSample = evaluations / Double(adaptiveSamples)
        return result
    }

    static func share(_ count: Int, _ comm: any Communicator) -> Int {
        count * (comm.rank + 1) / comm.size - count * comm.rank / comm.size
    }

    /// States (x, a = 0) from the mean-free prior, seeded by sample index as in `tbg sample`.
    static func priorStates(count: Int, atoms: Int, offset: Int) -> [Double] {
        (0..<count).flatMap { MeanFreePrior.sample(atoms: atoms, seed: 1, index: offset + $0) + [0] }
    }

    /// Wall time of `body` on the slowest rank, and process CPU time summed over the ranks.
    static func timed(_ comm: any Communicator, _ body: () throws -> Void) rethrows -> (wall: Double, cpu: Double) {
        comm.barrier()
        let start = DispatchTime.now().uptimeNanoseconds, cpuStart = processCPUSeconds()
        try body()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, cpuSeconds = processCPUSeconds() - cpuStart
        return (comm.allreduce(seconds, .max), comm.allreduce(cpuSeconds, .sum))
    }

    /// CPU time of this process (all threads), user and system.
    static func processCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
