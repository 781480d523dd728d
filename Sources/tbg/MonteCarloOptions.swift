// Options shared by `tbg smc` and `tbg mcmc`: the local kernel, its step size and adaptation, the
// energy cut-off, the seed, force-field threads, progress lines, and how much of the proposal file to use.
import ArgumentParser
import Foundation
import MonteCarlo
import Sampling

struct MonteCarloOptions: ParsableArguments {
    @Option(help: "Local kernel: mala or hmc (Metropolis-adjusted; both leave the Boltzmann distribution invariant).")
    var kernel: LocalKernel = .mala
    @Option(help: "Initial step size in nm (MALA: proposal standard deviation; HMC: leapfrog step; unit masses).")
    var stepSize = 5e-4
    @Option(help: "HMC: leapfrog steps per trajectory (default 10).")
    var leapfrogSteps: Int?
    @Option(help: "Target acceptance of the step-size adaptation (default 0.6 for MALA, 0.7 for HMC).")
    var targetAcceptance: Double?
    @Option(parsing: .unconditional, help: "Energy cut-off in kT: the target is truncated to E/kT <= cut-off (proposals above get weight 0, moves above are rejected). Default: none.")
    var energyCutoff: Double?
    @Option(name: .customLong("seed"),
            help: "Seed (particle or chain i's random numbers depend on (seed, stage, step, i) only: any number of ranks gives the same result). Default: 1; tbg free-energy's position-only draws default to the samples' own seed instead.")
    var seedOption: UInt64?

    /// The run's seed: --seed, else 1.
    var seed: UInt64 { seedOption ?? 1 }
    @Option(help: "Threads per rank for the force field.")
    var threads = 1
    @Option(help: "Seconds between progress lines (rank 0).")
    var progressSeconds = 30
    @Flag(help: "Replace OUT if it exists (only once the run is complete). Without it an existing OUT is refused before any work.")
    var overwrite = false
    @Option(parsing: .unconditional,
            help: "With SAMPLES: use only its first N samples (index order), and count only their energy evaluations, to compare with SNIS on the whole file at an equal budget (default: all). With --checkpoint: the number of proposals to draw.")
    var proposals: Int?

    /// The local-move settings these options give (Sampling/LocalMoveSettings.swift).
    var moves: LocalMoveSettings {
        var moves = LocalMoveSettings()
        (moves.kernel, moves.stepSize, moves.leapfrogSteps) = (kernel, stepSize, leapfrogSteps ?? LocalMoveSettings().leapfrogSteps)
        (moves.targetAcceptance, moves.energyCutoff, moves.seed) = (targetAcceptance ?? kernel.defaultTargetAcceptance, energyCutoff ?? .infinity, seed)
        return moves
    }

    /// `settings` as the sorted JSON of /samples@settings, with the proposals used: the first
    /// `proposalsUsed` samples of the proposals file.
    func settingsJSON<Settings: Encodable>(_ settings: Settings, proposalsUsed: Int) throws -> String {
        try sortedJSON(WithProposals(settings: settings, proposalsUsed: proposalsUsed))
    }

    private struct WithProposals<Settings: Encodable>: Encodable {
        let settings: Settings
        let proposalsUsed: Int
        enum CodingKeys: String, CodingKey { case proposalsUsed = "proposals_used" }
        func encode(to encoder: any Encoder) throws {
            try settings.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(proposalsUsed, forKey: .proposalsUsed)
        }
    }

    func validate() throws {
        guard stepSize > 0, stepSize.isFinite else { throw ValidationError("--step-size must be positive") }
        if kernel == .mala, leapfrogSteps != nil {
            throw ValidationError("--leapfrog-steps is HMC's trajectory length; MALA takes one gradient step per move (use --kernel hmc)")
        }
        guard (leapfrogSteps ?? 1) >= 1, threads >= 1, progressSeconds >= 0 else {
            throw ValidationError("--leapfrog-steps and --threads must be at least 1, --progress-seconds not negative")
        }
        if let target = targetAcceptance, !(target > 0 && target < 1) { throw ValidationError("--target-acceptance must lie in (0, 1)") }
        if let cutoff = energyCutoff, cutoff.isNaN { throw ValidationError("--energy-cutoff must be a number (kT)") }
        if let proposals { try SizeLimit.check("--proposals", proposals, in: 1...SizeLimit.samples) }
    }
}

extension LocalKernel: ExpressibleByArgument {}

/// Calls `line` at most every `seconds` (and always when `force`), for progress output.
struct ProgressThrottle {
    let seconds: Double
    private var last = Date.distantPast

    init(seconds: Double) { self.seconds = seconds }

    mutating func report(force: Bool = false, to write: (String) -> Void = { writeLine($0) }, _ line: () -> String) {
        guard force || Date().timeIntervalSince(last) >= seconds else { return }
        last = Date()
        write(line())
    }
}
