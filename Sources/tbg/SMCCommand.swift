// `tbg smc`: resample–move sequential Monte Carlo on a `tbg sample` output (Sampling/
// ResampleMoveSMC.swift), particles split over MPI ranks; rank 0 writes the final particles and the
// per-stage diagnostics as a samples file that `tbg evaluate` reads.
import ArgumentParser
import Communication
import Evaluation
import Foundation
import HDF5
import MonteCarlo
import Sampling

struct SMCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "smc",
        abstract: "Resample-move SMC on the flow's proposals: exact Boltzmann samples with the force field's MALA/HMC moves.",
        discussion: """
            SAMPLES is a tbg sample output (proposals with log w = -u - log q; its OpenMM System gives \
            the energies and forces); or the command draws them itself with --checkpoint, --peptide and \
            --proposals N into a kept file (--proposals-out; an interrupted draw continues when the same \
            command runs again). Stage 0 reweights the proposals to beta0 and draws --particles \
            particles by systematic resampling; every stage k then reweights by exp(-(beta_k - \
            beta_{k-1}) u) (geometric ladder from --beta0 to 1 over --stages; beta0 = 1: no tempering), \
            resamples when the ESS fraction is below --resample-threshold, and moves every particle \
            --steps-per-stage times with a kernel that leaves exp(-beta_k u) invariant. The step size \
            adapts toward --target-acceptance during the first --burn-in steps only. The output holds \
            the final particles with their log weights and /diagnostics per stage (beta, ESS, \
            resampled, acceptance, step size, mean energy, cumulative energy evaluations, the pool's \
            included).
            """)

    @Argument(help: "Output of tbg sample (.h5); or draw the proposals with --checkpoint, --peptide and --proposals N.") var samples: String?
    @Option(help: "Output file (.h5), written atomically; never an input.") var out: String
    @Option(help: "Particles N over all ranks.") var particles = 1000
    @Option(help: "Resample when the ESS fraction falls below this.") var resampleThreshold = 0.5
    @Option(help: "Kernel steps per stage.") var stepsPerStage = 10
    @Option(help: "Kernel steps (from the first) during which the step size adapts (default: the first stage's).") var burnIn: Int?
    @Option(help: "Stages K (beta_0 ... beta_{K-1} = 1).") var stages = 5
    @Option(help: "Initial inverse temperature beta0 in (0, 1] (1: no tempering).") var beta0 = 1.0
    @OptionGroup var monteCarlo: MonteCarloOptions
    @OptionGroup var drawing: ProposalDrawingOptions
    @OptionGroup var distributed: DistributedOptions

    func validate() throws {
        try drawing.validate(samples: samples, count: monteCarlo.proposals)
        try SizeLimit.check("--particles", particles, in: 1...SizeLimit.states)
        try SizeLimit.check("--stages", stages, in: 1...SizeLimit.steps)
        try SizeLimit.check("--steps-per-stage", stepsPerStage, in: 0...SizeLimit.steps)
        guard resampleThreshold >= 0, resampleThreshold <= 1 else { throw ValidationError("--resample-threshold is an ESS fraction in [0, 1]") }
        guard beta0 > 0, beta0 <= 1 else { throw ValidationError("--beta0 must lie in (0, 1]") }
        if beta0 < 1 && stages < 2 { throw ValidationError("tempering (--beta0 < 1) needs --stages of at least 2") }
        if let burnIn { try SizeLimit.check("--burn-in", burnIn, in: 0...SizeLimit.steps) }
    }

    var settings: SMCSettings {
        var s = SMCSettings()
        (s.particles, s.resampleThreshold, s.moves, s.stepsPerStage) = (particles, resampleThreshold, monteCarlo.moves, stepsPerStage)
        (s.burnIn, s.stages, s.initialBeta) = (burnIn ?? stepsPerStage, stages, beta0)
        return s
    }

    func run() throws {
        try drawing.withProposals(command: "smc", samples: samples, out: out, monteCarlo: monteCarlo, distributed: distributed) { input, samples, comm in
            let settings = self.settings
            let started = Date()
            var throttle = ProgressThrottle(seconds: Double(monteCarlo.progressSeconds))
            if comm.isRoot {
                writeLine(String(format: "tbg smc: %d usable proposals of %d in %@ (ESS %.4f), kT %.6g kJ/mol; %d particles on %d rank(s), %@, %d stage(s) from beta0 %g",
                                 input.pool.count, input.samplesUsed, samples,
                                 ImportanceWeights.effectiveSampleSize(logWeights: input.pool.logWeights), input.kT, particles, comm.size, settings.moves.kernel.rawValue, stages, beta0))
            }
            let result = try ResampleMoveSMC.run(pool: input.pool, reducedEnergies: input.reducedEnergies, poolEvaluations: input.evaluations,
                                                 kT: input.kT, settings: settings, communicator: comm,
                                                 potential: input.potential(threads: monteCarlo.threads)) { stage, k in
                throttle.report(force: k == stages - 1) {
                    String(format: "tbg smc: progress: stage %d/%d, beta %.4g, ESS %.4f%@, acceptance %.3f, step %.3g nm, mean energy %.3f kT, %d energy evaluations, %.1f s",
                           k + 1, stages, stage.beta, stage.effectiveSampleSize, stage.resampled ? " (resampled)" : "", stage.acceptance,
                           stage.stepSize, stage.energyMeanKT, stage.evaluations, Date().timeIntervalSince(started))
                }
            }
            guard comm.isRoot else { return }
            let frames = MonteCarloFrames(positions: result.positions, energies: result.energies, logWeights: result.logWeights,
                                          sourceFrames: result.poolAncestors.map { input.frames[$0] }, index: Array(0..<particles))
            let stagesTable = result.stages
            let columns: [MonteCarloOutput.Column] = [
                ("beta", stagesTable.map(\.beta), nil),
                ("ess", stagesTable.map(\.effectiveSampleSize), "fraction"),
                ("resampled", stagesTable.map { $0.resampled ? 1 : 0 }, nil),
                ("acceptance", stagesTable.map(\.acceptance), "fraction"),
                ("step_size", stagesTable.map(\.stepSize), "nanometers"),
                ("energy_mean_kT", stagesTable.map(\.energyMeanKT), "kT"),
                ("energy_evaluations", stagesTable.map { Double($0.evaluations) }, "cumulative, including the proposals'"),
            ]
            let settingsJSON = try monteCarlo.settingsJSON(settings, proposalsUsed: input.samplesUsed)
            try MonteCarloOutput.write(frames, input: input, sampler: "smc", settingsJSON: settingsJSON, seed: monteCarlo.seed, ranks: comm.size,
                                       evaluations: result.evaluations, diagnostics: columns, to: out)
            // Resampled particles share ancestors: an ESS fraction of 1 after resampling says nothing
            // about how many independent proposals they came from.
            let ancestors = Set(result.poolAncestors).count
            writeLine(String(format: "tbg smc: wrote %@: %d particles from %d distinct proposals, final ESS fraction %.4f, %d energy evaluations (%d of them the proposals'), %.1f s on %d rank(s)",
                             out, particles, ancestors, ImportanceWeights.effectiveSampleSize(logWeights: result.logWeights), result.evaluations, input.evaluations,
                             Date().timeIntervalSince(started), comm.size))
        }
    }
}
