// `tbg mcmc`: flow-MCMC chains on a `tbg sample` output (MonteCarlo/FlowMCMC.swift,
// Sampling/FlowMCMCChains.swift), chains split over MPI ranks; rank 0 writes the recorded chain
// states (equal weights) and the per-sweep diagnostics as a samples file that `tbg evaluate` reads.
import ArgumentParser
import Communication
import Foundation
import HDF5
import MonteCarlo
import Sampling

struct MCMCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcmc",
        abstract: "Flow-MCMC: independence moves from the flow's proposals mixed with MALA/HMC relaxation; exact Boltzmann chains.",
        discussion: """
            SAMPLES is a tbg sample output (proposals with log w = -u - log q), or the command draws \
            them itself with --checkpoint, --peptide and --proposals N into a kept file \
            (--proposals-out). Each chain carries an \
            anchor z (a proposal) and a configuration x, x being --steps-per-sweep local steps from z. \
            Each sweep, with probability --independence-fraction, a new proposal z' (the next unused \
            one, in a seeded order) is accepted with min(1, w(z')/w(z)) from the stored log w, and x \
            relaxed from it; otherwise x is relaxed anew from z. This targets pi(z) Q^L(z, x), whose x \
            marginal is the Boltzmann distribution exactly (no log q at moved points is needed). The \
            step size adapts during --burn-in sweeps, which are not recorded; then --chain-length \
            sweeps per chain are written (chain-major), with /diagnostics per sweep.
            """)

    @Argument(help: "Output of tbg sample (.h5); or draw the proposals with --checkpoint, --peptide and --proposals N.") var samples: String?
    @Option(help: "Output file (.h5), written atomically; never an input.") var out: String
    @Option(help: "Chains over all ranks.") var chains = 16
    @Option(help: "Recorded sweeps per chain.") var chainLength = 100
    @Option(help: "Sweeps before recording (step-size adaptation).") var burnIn = 20
    @Option(help: "Probability of an independence move per sweep.") var independenceFraction = 0.5
    @Option(help: "Local kernel steps L from the anchor per relaxation.") var stepsPerSweep = 5
    @OptionGroup var monteCarlo: MonteCarloOptions
    @OptionGroup var drawing: ProposalDrawingOptions
    @OptionGroup var distributed: DistributedOptions

    func validate() throws {
        try drawing.validate(samples: samples, count: monteCarlo.proposals)
        try SizeLimit.check("--chains", chains, in: 1...SizeLimit.states)
        try SizeLimit.check("--chain-length", chainLength, in: 1...SizeLimit.steps)
        try SizeLimit.check("--burn-in", burnIn, in: 0...SizeLimit.steps)
        try SizeLimit.check("--steps-per-sweep", stepsPerSweep, in: 0...SizeLimit.steps)
        // Every recorded state is held in memory until the output is written.
        let recorded = chains.multipliedReportingOverflow(by: chainLength)
        guard !recorded.overflow, recorded.partialValue <= SizeLimit.states else {
            throw ValidationError("--chains × --chain-length must be at most \(SizeLimit.states) recorded states (got \(chains) × \(chainLength))")
        }
        guard independenceFraction >= 0, independenceFraction <= 1 else { throw ValidationError("--independence-fraction must lie in [0, 1]") }
    }

    var settings: FlowMCMCSettings {
        var s = FlowMCMCSettings()
        (s.chains, s.length, s.burnIn, s.independenceFraction) = (chains, chainLength, burnIn, independenceFraction)
        (s.moves, s.stepsPerSweep) = (monteCarlo.moves, stepsPerSweep)
        return s
    }

    func run() throws {
        try drawing.withProposals(command: "mcmc", samples: samples, out: out, monteCarlo: monteCarlo, distributed: distributed) { input, samples, comm in
            let settings = self.settings
            let started = Date()
            let total = burnIn + chainLength
            var throttle = ProgressThrottle(seconds: Double(monteCarlo.progressSeconds))
            if comm.isRoot {
                writeLine(String(format: "tbg mcmc: %d usable proposals of %d in %@, kT %.6g kJ/mol; %d chains on %d rank(s), %@ with %d local steps, %d burn-in + %d recorded sweeps",
                                 input.pool.count, input.samplesUsed, samples, input.kT, chains, comm.size, settings.moves.kernel.rawValue,
                                 stepsPerSweep, burnIn, chainLength))
            }
            let result = try FlowMCMCChains.run(pool: input.pool, reducedEnergies: input.reducedEnergies, poolEvaluations: input.evaluations,
                                                kT: input.kT, settings: settings, communicator: comm,
                                                potential: input.potential(threads: monteCarlo.threads)) { sweep, t in
                throttle.report(force: t == total) {
                    // A sweep without independence moves has no acceptance: a dash, never "nan".
                    let independence = sweep.independenceAcceptance.isNaN ? "–" : String(format: "%.3f", sweep.independenceAcceptance)
                    let local = sweep.localAcceptance.isNaN ? "–" : String(format: "%.3f", sweep.localAcceptance)
                    return String(format: "tbg mcmc: progress: sweep %d/%d%@, independence acceptance %@, local acceptance %@, step %.3g nm, mean energy %.3f kT, %d energy evaluations, %.1f s",
                                  t, total, sweep.recorded ? "" : " (burn-in)", independence, local, sweep.stepSize,
                                  sweep.energyMeanKT, sweep.evaluations, Date().timeIntervalSince(started))
                }
            }
            guard comm.isRoot else { return }
            let n = chains * chainLength
            let frames = MonteCarloFrames(positions: result.positions, energies: result.energies, logWeights: [Double](repeating: 0, count: n),
                                          sourceFrames: result.anchors.map { input.frames[$0] }, index: Array(0..<n),
                                          chain: (0..<n).map { $0 / chainLength })
            let sweeps = result.sweeps
            let columns: [MonteCarloOutput.Column] = [
                ("recorded", sweeps.map { $0.recorded ? 1 : 0 }, nil),
                ("independence_acceptance", sweeps.map(\.independenceAcceptance), "fraction"),
                ("acceptance", sweeps.map(\.localAcceptance), "fraction"),
                ("step_size", sweeps.map(\.stepSize), "nanometers"),
                ("energy_mean_kT", sweeps.map(\.energyMeanKT), "kT"),
                ("energy_evaluations", sweeps.map { Double($0.evaluations) }, "cumulative, including the proposals'"),
            ]
            let settingsJSON = try monteCarlo.settingsJSON(settings, proposalsUsed: input.samplesUsed)
            try MonteCarloOutput.write(frames, input: input, sampler: "mcmc", settingsJSON: settingsJSON, seed: monteCarlo.seed, ranks: comm.size,
                                       evaluations: result.evaluations, diagnostics: columns, to: out)
            if result.poolReuse > 1 {
                writeLine(String(format: "tbg mcmc: warning: %.2f independence proposals per pool sample; reused proposals make the chains exact only for the pool's empirical distribution (use a larger tbg sample --count, or a larger --proposals if you limited the pool)", result.poolReuse))
            }
            writeLine(String(format: "tbg mcmc: wrote %@: %d chains x %d sweeps, %d energy evaluations (%d of them the proposals'), pool use %.4f, %.1f s on %d rank(s)",
                             out, chains, chainLength, result.evaluations, input.evaluations, result.poolReuse, Date().timeIntervalSince(started), comm.size))
        }
    }
}
