// `tbg sample`: zero-shot sampling with exact likelihoods and reweighting, split over MPI ranks
// (Sampling/SampleRunner.swift); rank 0 prints and writes. `SamplerOptions` (the ODE settings) serve
// tbg nll, evaluate, smc and mcmc too.
import ArgumentParser
import Communication
import Foundation
import HDF5
import MDData
import Sampling

struct SamplerOptions: ParsableArguments {
    // Optional so that an option of the other method is refused instead of silently ignored; the
    // defaults are SamplerSettings'.
    @Option(help: "ODE method: dopri5 (adaptive, per-sample error control; default) or rk4 (fixed steps).")
    var method: String?
    @Option(help: "Absolute and relative tolerance of dopri5 (default 1e-4).")
    var tolerance: Double?
    @Option(help: "Steps of rk4 (default 20).")
    var steps: Int?
    @Option(help: "Molecules per network call.")
    var microBatch = 8
    @Option(help: "Samples integrated together on a rank (tbg sample: the unit of work handed out and written; default min(64, max(8, ⌈count/16⌉)), so small runs still spread over the ranks; elsewhere default 64).")
    var chunk: Int?
    @Option(help: "dopri5: steps (accepted and rejected) after which a sample's integration is given up and the sample reported as failed (default 10000).")
    var maxSteps: Int?

    var settings: SamplerSettings {
        var settings = SamplerSettings()
        if let method { settings.method = method }
        if let tolerance { (settings.absoluteTolerance, settings.relativeTolerance) = (tolerance, tolerance) }
        if let steps { settings.steps = steps }
        settings.microBatch = microBatch
        settings.chunk = chunk ?? 64
        if let maxSteps { settings.maximumSteps = maxSteps }
        return settings
    }

    /// The options given on the command line, by name (for commands where they do not apply).
    var given: [String] {
        [("--method", method != nil), ("--tolerance", tolerance != nil), ("--steps", steps != nil), ("--micro-batch", microBatch != 8),
         ("--chunk", chunk != nil), ("--max-steps", maxSteps != nil)].filter(\.1).map(\.0)
    }

    func validate() throws {
        guard ["dopri5", "rk4"].contains(settings.method) else { throw ValidationError("--method must be dopri5 or rk4") }
        for (name, positive) in [("--tolerance", (tolerance ?? 1) > 0), ("--steps", (steps ?? 1) >= 1), ("--micro-batch", microBatch >= 1),
                                 ("--chunk", (chunk ?? 1) >= 1), ("--max-steps", (maxSteps ?? 1) >= 1)] where !positive {
            throw ValidationError("\(name) must be positive")
        }
    }

    /// Refuses the options of the other ODE method. Called by each command after its own checks
    /// (a command where the ODE options do not apply at all says that first).
    func validateMethod() throws {
        let method = settings.method
        if method == "rk4", tolerance != nil || maxSteps != nil {
            throw ValidationError("--tolerance and --max-steps control dopri5's adaptive steps; --method rk4 takes a fixed --steps instead")
        }
        if method == "dopri5", steps != nil {
            throw ValidationError("--steps is the fixed step count of --method rk4; dopri5 chooses its steps from --tolerance")
        }
    }
}

struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Sample a peptide with the trained flow: exact log q, topology and chirality checks, Boltzmann weights.",
        discussion: """
            FILE (--peptide) is a trajectory file of the peptide (frame 0 gives the reference \
            chirality; its OpenMM System gives the energies). The output is an MDTraj-readable HDF5 \
            file with per-sample datasets under /samples (log_q, energy, log_weight, flags). \
            Samples are handed out to the ranks in chunks (--chunk) as they finish; each finished \
            chunk is written to OUT.chunks/ at once, so SIGTERM/SIGUSR1 (finish the chunk in \
            flight, exit 0), a time limit or a crash lose at most the chunks in flight, and the \
            same command with --resume continues (with any number of ranks, and with another \
            --count if you want more or fewer samples: the finished chunks inside it are kept). The \
            folder is merged into OUT and removed when all chunks are done.
            """)

    @Option(help: "Training checkpoint (.h5).") var checkpoint: String
    @Option(help: "Trajectory file of the peptide to sample.") var peptide: String
    @Option(help: "Number of samples over all ranks.") var count: Int
    @Option(help: "Output file (.h5), written atomically.") var out: String
    @Option(help: "Seed of the latents (sample i uses (seed, i)).") var seed: UInt64 = 1
    @Option(help: "Also integrate samples 0..<K back to t = 0 and report how well z and log q are recovered (part of the run: a --resume keeps it, also at a --count below K).")
    var roundTrip = 0
    @OptionGroup var sampler: SamplerOptions
    @OptionGroup var distributed: DistributedOptions

    @Option(help: "Seconds between progress lines (rank 0).") var progressSeconds = 30
    @Flag(help: "Continue an interrupted run of the same command (--count may differ): chunks already in OUT.chunks/ are kept, the rest computed.")
    var resume = false
    @Flag(help: "Replace OUT if it exists (it is replaced only when the new samples are complete). Without it an existing OUT is refused before any work.")
    var overwrite = false

    func validate() throws {
        try SizeLimit.check("--count", count, in: 1...SizeLimit.samples)
        if roundTrip < 0 { throw ValidationError("--round-trip must be at least 0") }
        if progressSeconds < 0 { throw ValidationError("--progress-seconds must be at least 0 (0: a line after every chunk), not \(progressSeconds)") }
        try sampler.validateMethod()
        // A resume may lower --count below the run's --round-trip (every sample then is checked):
        // the round trip stays part of the run being continued, so the same options continue it.
        if roundTrip > count && !resume {
            throw ValidationError("--round-trip \(roundTrip) checks samples 0..<\(roundTrip), more than the --count \(count) drawn")
        }
    }

    func run() throws {
        try distributed.withCommunicator { comm in
            do {
                _ = try FlowSampling.draw(checkpoint: checkpoint, peptide: peptide, count: count, out: out, seed: seed, roundTrip: roundTrip,
                                          sampler: sampler, resume: resume, overwrite: overwrite, progressSeconds: progressSeconds, communicator: comm, prefix: "tbg sample")
            } catch {
                if comm.size > 1 { comm.abort(code: 1, message: "tbg sample: error: \(error)") }
                throw error
            }
        }
    }
}
