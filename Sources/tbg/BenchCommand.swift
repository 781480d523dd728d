// `tbg bench …`: throughput benchmarks that print figures (never run as timed unit tests).
// Tools/bench_energy.py puts these numbers beside OpenMM's on the same frames.
import ArgumentParser
import ForceField
import Foundation
import MDData
import Evaluation
import Kernels
import Model
import FlowModel
import Linalg
import Sampling
import Training

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Throughput benchmarks.",
        subcommands: [EnergyBench.self, TrainBench.self, SampleBench.self, TransportBench.self, AllreduceBench.self])
}

struct EnergyBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "energy",
        abstract: "Force-field energies per second on a trajectory's frames (cycled up to --frames).")

    @Argument(help: "A trajectory file (.h5) in the project's format.")
    var file: String

    @Option(help: "Number of frame evaluations (the file's frames are cycled).")
    var frames = 10_000

    @Option(help: "Threads.")
    var threads = 1

    @Flag(help: "Also compute forces.")
    var forces = false

    @Option(help: "Timed repetitions; the best is reported.")
    var repeats = 3

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        if frames < 1 || threads < 1 || repeats < 1 { throw ValidationError("--frames, --threads and --repeats must be at least 1") }
    }

    func run() throws {
        let trajectory = try TrajectoryFile(path: file)
        try trajectory.requireFrames(for: "tbg bench energy")
        let system = try ForceFieldSystem(xml: trajectory.systemXML)
        let available = try trajectory.readFrames(0..<trajectory.frameCount)
        let stride = trajectory.atomCount * 3
        var positions = [Float](repeating: 0, count: frames * stride)
        for frame in 0..<frames {
            let source = (frame % trajectory.frameCount) * stride
            positions.replaceSubrange((frame * stride)..<((frame + 1) * stride), with: available[source..<(source + stride)])
        }
        let evaluator = EnergyEvaluator(system: system)
        var best = Double.infinity
        var checksum = 0.0
        try positions.withUnsafeBufferPointer { buffer in
            // Warm-up (page faults, thread start-up), not timed.
            _ = evaluator.evaluate(UnsafeBufferPointer(rebasing: buffer[0..<(min(frames, 50) * stride)]),
                                   frameCount: min(frames, 50), forces: forces, threads: threads)
            for _ in 0..<repeats {
                let started = DispatchTime.now().uptimeNanoseconds
                let batch = evaluator.evaluate(buffer, frameCount: frames, forces: forces, threads: threads)
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
                best = min(best, seconds)
                checksum = batch.totals.reduce(0, +)
                guard checksum.isFinite else { throw DataFormatError(file: file, "a benchmark frame has a non-finite energy") }
            }
        }
        let rate = Double(frames) / best
        if json {
            print("{\"file\": \"\(file)\", \"atoms\": \(trajectory.atomCount), \"frames\": \(frames), \"threads\": \(threads), \"forces\": \(forces), \"seconds\": \(best), \"energies_per_second\": \(rate), \"checksum_kj_mol\": \(checksum)}")
        } else {
            let what = forces ? "energies and forces" : "energies"
            print(String(format: "%@: %d atoms, %d frames in %.4f s = %.0f %@/s (%d thread%@, best of %d)",
                         file, trajectory.atomCount, frames, best, rate, what, threads, threads == 1 ? "" : "s", repeats))
        }
    }
}

struct TrainBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Training samples per second (forward, backward, all-reduce, Adam) on synthetic molecules.",
        discussion: """
            Defaults: the alanine-dipeptide TBG+full model (H = 64, L = 5, 22 atoms, feature width 22) \
            at global batch 256. Under mpirun the batch is split over the ranks.
            """)

    @Option(help: "Atoms per molecule.") var atoms = 22
    @Option(help: "Global batch (molecules per step over all ranks).") var batch = 256
    @Option(help: "Hidden width H.") var hidden = 64
    @Option(help: "Layers L.") var layers = 5
    @Option(help: "One-hot feature width K.") var featureWidth = 22
    @Option(help: "Timed steps (median reported).") var steps = 10
    @Option(help: "Untimed warm-up steps.") var warmup = 2
    @Option(help: "Molecules per forward/backward pass on a rank.") var microBatch = 8
    @Option(help: "Coupling: independent, ot or equivariant_ot (22 atoms: alanine dipeptide's three methyl triples).") var coupling = "independent"
    @Option(help: "EMA decay (default: no EMA).") var ema: Double?
    @Option(help: "Gradient-norm clip (default: none).") var clip: Double?
    @Flag(help: "Print one JSON object.") var json = false
    @OptionGroup var distributed: DistributedOptions

    func validate() throws {
        guard CouplingKind(rawValue: coupling) != nil else { throw ValidationError("--coupling must be independent, ot or equivariant_ot") }
        for (name, value, least) in [("--atoms", atoms, 2), ("--batch", batch, 1), ("--hidden", hidden, 1), ("--layers", layers, 1),
                                     ("--feature-width", featureWidth, 1), ("--steps", steps, 1), ("--warmup", warmup, 0), ("--micro-batch", microBatch, 1)]
        where value < least {
            throw ValidationError("\(name) must be at least \(least) (got \(value))")
        }
        // As training.ema_decay and training.gradient_clip: a decay in [0, 1), a positive norm.
        if let ema, !(ema >= 0 && ema < 1) { throw ValidationError("--ema must be a decay in [0, 1) (got \(ema))") }
        if let clip, !(clip > 0 && clip.isFinite) { throw ValidationError("--clip must be a positive, finite gradient norm (got \(clip))") }
    }

    func run() throws {
        let config = EGNNConfig(hidden: hidden, layers: layers, featureWidth: featureWidth)
        let kernels = try KernelReport.line()
        try distributed.withCommunicator { comm in
            let result = TrainingBenchmark.run(model: config, atoms: atoms, globalBatch: batch, steps: steps, warmup: warmup,
                                               microBatch: microBatch, coupling: CouplingKind(rawValue: coupling)!, emaDecay: ema,
                                               gradientClip: clip, communicator: comm)
            guard comm.isRoot else { return }
            if json {
                print(try JSONOutput.line(result))
            } else {
                print(String(format: "train: %d atoms, global batch %d, H %d, L %d, %d rank(s): %.3f s/step = %.1f samples/s (median of %d)",
                             atoms, batch, hidden, layers, comm.size, result.medianStepSeconds, result.samplesPerSecond, steps))
                func part(_ setting: Double?, _ seconds: Double?) -> String {
                    guard let setting, let seconds else { return "off" }
                    return String(format: "%@ %.5f s", "\(setting)", seconds)
                }
                print(String(format: "train: per step: coupling %@ %.4f s, EMA %@, clip %@", coupling, result.couplingSeconds,
                             part(ema, result.emaSeconds), part(clip, result.clipSeconds)))
                print(String(format: "train: %.1f GFLOP per step in the matrix products (12EH² + 30AH² per layer) = %.1f GFLOP/s per core; a 1024³ sgemm of the same BLAS on this core: %.1f GFLOP/s, so the step runs at %.0f %% of the core's practical peak",
                             result.modelFlopsPerStep / 1e9, result.achievedGFLOPS, result.sgemmGFLOPS, 100 * result.peakFraction))
                print("train: \(kernels)")
            }
        }
    }
}

struct SampleBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Sampling throughput with the exact likelihood (velocity and forward-mode divergence).",
        discussion: """
            Times one RK4 step over --batch samples (4 network evaluations each) and reports \
            per-sample evaluations/s and the samples/s of an RK4 integration with --rk4-steps steps; then \
            times a whole dopri5 integration of --adaptive samples. With --checkpoint and --peptide the \
            trained model and its peptide are used (realistic adaptive step counts); without, a randomly \
            initialised alanine-dipeptide TBG+full model (H = 64, L = 5, 22 atoms). Under mpirun the \
            samples are split over the ranks.
            """)

    @Option(help: "Training checkpoint (.h5); needs --peptide.") var checkpoint: String?
    @Option(help: "Trajectory file of the peptide to sample.") var peptide: String?
    @Option(help: "Atoms per molecule (random model).") var atoms = 22
    @Option(help: "Hidden width H (random model).") var hidden = 64
    @Option(help: "Layers L (random model).") var layers = 5
    @Option(help: "One-hot feature width K (random model; default: --atoms, the AD2 atoms encoding; 76 for TBG+full).")
    var featureWidth: Int?
    @Option(help: "Samples in the timed RK4 step, over all ranks.") var batch = 256
    @Option(help: "Timed RK4 steps (median reported).") var repeats = 3
    @Option(help: "RK4 steps per integration for the derived samples/s.") var rk4Steps = 20
    @Option(help: "Samples of the timed dopri5 integration, over all ranks (0 skips it).") var adaptive = 32
    @Option(help: "Absolute and relative tolerance of dopri5.") var tolerance = 1e-4
    @Option(help: "Molecules per network call.") var microBatch = 8
    @Flag(help: "Print one JSON object.") var json = false
    @OptionGroup var distributed: DistributedOptions

    func validate() throws {
        if (checkpoint == nil) != (peptide == nil) { throw ValidationError("--checkpoint and --peptide go together") }
        if batch < 1 || repeats < 1 || rk4Steps < 1 || adaptive < 0 || microBatch < 1 {
            throw ValidationError("--batch, --repeats, --rk4-steps and --micro-batch must be at least 1, --adaptive at least 0")
        }
        if let featureWidth, featureWidth < 1 { throw ValidationError("--feature-width must be at least 1") }
    }

    func run() throws {
        let kernels = try KernelReport.line()
        try distributed.withCommunicator { comm in
            let sampler: FlowSampler, name: String
            if let checkpoint, let peptide {
                BLASRuntime.setThreadCount(1)   // as tbg sample: one rank per core
                let flow = try TrainedFlow(checkpointPath: checkpoint, peptidePath: peptide)
                sampler = FlowSampler(model: flow.model, features: flow.features, atoms: flow.atoms)
                name = checkpoint
            } else {
                // The AD2 "atoms" encoding: one class per atom, so the one-hot rows are the identity;
                // with another width, atom a takes class a mod K (values do not change the cost).
                let width = featureWidth ?? atoms
                let model = EGNNVectorField<Float>(config: EGNNConfig(hidden: hidden, layers: layers, featureWidth: width))
                model.initializeParameters(seed: 1)
                var features = [Float](repeating: 0, count: atoms * width)
                for atom in 0..<atoms { features[atom * width + atom % width] = 1 }
                sampler = FlowSampler(model: model, features: features, atoms: atoms)
                name = "random H \(hidden) L \(layers)"
            }
            let result = try SamplingBenchmark.run(sampler: sampler, modelName: name, batch: batch, repeats: repeats,
                                                   rk4Steps: rk4Steps, adaptiveSamples: adaptive, tolerance: tolerance,
                                                   microBatch: microBatch, communicator: comm)
            guard comm.isRoot else { return }
            if json {
                print(try JSONOutput.line(result))
                return
            }
            print(String(format: "sample: %@, %d atoms, batch %d, %d rank(s): RK4 step %.3f s (median of %d) = %.1f evaluations/s with exact divergence = %.3f samples/s for RK4 with %d steps",
                         name, result.atoms, batch, comm.size, result.medianStepSeconds, repeats, result.evaluationsPerSecond,
                         result.rk4SamplesPerSecond, rk4Steps))
            print(String(format: "sample: RK4 step %.3f CPU s (median, all ranks) = %.2f evaluations per CPU-second",
                         result.medianStepCPUSeconds, result.evaluationsPerCPUSecond))
            if let seconds = result.adaptiveSeconds, let rate = result.adaptiveSamplesPerSecond,
               let perSample = result.adaptiveEvaluationsPerSample, let cpuSeconds = result.adaptiveCPUSeconds {
                print(String(format: "sample: dopri5 (tolerance %.0e), %d samples in %.2f s = %.3f samples/s, %.1f evaluations per sample; %.2f CPU s = %.3f samples per CPU-second",
                             tolerance, adaptive, seconds, rate, perSample, cpuSeconds, Double(adaptive) / cpuSeconds))
            }
            print("sample: \(kernels)")
        }
    }
}

struct TransportBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transport",
        abstract: "Time of the exact torus W2 of `tbg evaluate` (cost matrix, assignment, certificate) on M random (φ, ψ) points per set.")

    @Option(help: "Points per set (M).") var points = 10_000
    @Option(help: "Seed of the points.") var seed: UInt64 = 1

    func validate() throws {
        if points < 1 { throw ValidationError("--points must be at least 1") }
    }

    func run() throws {
        var random = RandomSource(seed: seed)
        // Ramachandran-like: 70 % in a β-like basin, 30 % in an α-like one, σ = 0.4 rad, wrapped.
        func cloud() -> [SIMD2<Double>] {
            (0..<points).map { _ in
                let centre = random.uniform() < 0.7 ? SIMD2(-1.4, 2.6) : SIMD2(-1.4, -0.6)
                let angle = centre + 0.4 * SIMD2(random.gaussian(), random.gaussian())
                return SIMD2(remainder(angle.x, 2 * .pi), remainder(angle.y, 2 * .pi))
            }
        }
        let a = cloud(), b = cloud()
        let started = Date()
        let result = TorusTransport.distance(a, b)
        let seconds = Date().timeIntervalSince(started)
        print(String(format: "transport: M = %d two-basin points per set: torus W2 %.4f rad in %.2f s (cost matrix, exact assignment, certificate %@)",
                     points, result.distance, seconds, result.certified ? "valid" : "FAILED"))
    }
}

/// The line the model benchmarks print about the C kernels: the variant that runs, those the CPU
/// has, and the CPU. A TBG_KERNELS the CPU cannot follow is refused rather than silently replaced.
enum KernelReport {
    static func line() throws -> String {
        if let problem = KernelVariant.environmentProblem { throw ValidationError(problem) }
        let supported = KernelVariant.supported.map(\.description).joined(separator: ", ")
        return "kernels \(KernelVariant.activeByFamily) (this CPU has: \(supported); TBG_KERNELS, TBG_KERNELS_LAYER, TBG_KERNELS_TANGENT choose), \(blasCore), CPU \(cpuModel)"
    }

    /// OpenBLAS's kernel, and the environment variable that forced it if one did: a host whose
    /// environment sets OPENBLAS_CORETYPE=Haswell runs OpenBLAS's AVX2 kernels on an AVX-512 CPU
    /// (measured on a Zen 5: the divergence's GEMMs then cost ~10 % more; README "Speed").
    static var blasCore: String {
        let forced = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"].map { " (OPENBLAS_CORETYPE=\($0) in the environment)" } ?? ""
        return "OpenBLAS core \(BLASRuntime.coreName)\(forced)"
    }

    /// /proc/cpuinfo's model name (Linux), else "unknown".
    static var cpuModel: String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
              let colon = line.firstIndex(of: ":") else { return "unknown" }
        return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
}
