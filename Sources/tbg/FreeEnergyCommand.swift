// `tbg free-energy`: ΔF between the φ basins by stratified flow BAR (Evaluation/
// BennettAcceptanceRatio.swift): the flow's basin populations Q₊/Q₋ from its samples, corrected
// within each basin by BAR between the flow's samples there and local MALA/HMC chains restricted
// to the basin (Sampling/BasinChains.swift), whose log q comes from the reverse ODE (Sampling/
// Likelihood.swift). Chains and reverse integrations are split over MPI ranks; rank 0 estimates,
// prints and writes the chain states, weighted so that the file is a Boltzmann-weighted sample.
import ArgumentParser
import Communication
import Evaluation
import Foundation
import HDF5
import Kernels
import MDData
import Model
import MonteCarlo
import Sampling

struct FreeEnergyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "free-energy",
        abstract: "dF between the phi basins by stratified flow BAR: the flow's basin populations, corrected within each basin by BAR against local chains.",
        discussion: """
            SAMPLES is a tbg sample output drawn with --checkpoint CK. In each stratum (a phi basin, \
            or a psi side of one with --psi-split/--positive-psi-split), --chains-per-basin MALA (or \
            HMC) chains start from the flow's proposals there (spread evenly over them; ∝ w with \
            --chain-starts weighted) and move under the Boltzmann density restricted to the \
            stratum (a move that leaves it is rejected). After --burn-in steps (step-size adaptation, not \
            recorded), every --thin-th step is recorded, --states-per-chain per chain. The flow's log q \
            of every recorded state comes from a reverse integration with the exact divergence (the \
            expensive part: as many integrations as states, split over the ranks). Per basin b, BAR \
            between the flow's samples in b and the chain states gives df_b = -ln(Z_b/Q_b), Q_b being \
            the flow's fraction of samples in b; then dF = -ln(Q+/Q-) + df+ - df-. The error is a \
            bootstrap over the flow's samples and over chains. OUT holds the chain states with log q, \
            energies and log weights that make them a Boltzmann-weighted sample (each basin's states \
            share its estimated population), readable by tbg evaluate and MDTraj. Each chain's \
            reverse integrations are written to OUT.logq/ as they finish, so SIGTERM/SIGUSR1/Ctrl-C \
            (finish the chain in flight and exit), a time limit or a crash lose at most the chains in \
            flight, and the same command with --resume continues (with any number of ranks); the \
            folder is removed once OUT is written.
            """)

    @Argument(help: "Output of tbg sample (.h5), drawn with --checkpoint.") var samples: String
    @Option(help: "The checkpoint that drew SAMPLES (its log q at the chain states).") var checkpoint: String
    @Option(help: "Output file (.h5) with the chain states; written atomically, never an input.") var out: String
    @Option(help: "Chains per stratum (per phi basin, and per psi side of a basin split with --psi-split or --positive-psi-split).") var chainsPerBasin = 32
    @Option(help: "Kernel steps before recording (step-size adaptation, and the chains' equilibration within their stratum: alanine dipeptide needed about 10^5; with 5 000 its BAR was biased by 0.6-1 kT).") var burnIn = 100_000
    @Option(help: "Kernel steps between recorded states.") var thin = 5_000
    @Option(help: "Recorded states per chain (each costs one reverse integration).") var statesPerChain = 4
    @Option(parsing: .unconditional, help: "The positive phi basin of dF, LOWER:UPPER in radians (open interval; the rest is the other basin).", transform: PhiBasinArgument.parse)
    var phiBasin = PhiBasinArgument(lower: 0, upper: 2.15)
    @Option(parsing: .unconditional, help: "Split the other phi basin (not the positive one) by psi, LOWER:UPPER in radians (psi inside vs outside): three strata, each with its own chains, so that the chains need not cross the psi barrier inside it (alanine dipeptide: -2.1:1.4 separates alpha-R from beta/C5/PII). Default: no split.", transform: PhiBasinArgument.parse)
    var psiSplit: PhiBasinArgument?
    @Option(parsing: .unconditional, help: "Split the positive phi basin by psi too, LOWER:UPPER in radians (psi inside vs outside): one more stratum with its own chains, so that chains started on the flow's samples in the basin's sparsely populated psi regions do not stay there (alanine dipeptide: -1.0:1.4 keeps alpha-L inside). Default: no split.", transform: PhiBasinArgument.parse)
    var positivePsiSplit: PhiBasinArgument?
    @Option(help: "Where a basin's chains start among the flow's proposals there: spread (evenly over them, as the flow is spread) or weighted (in proportion to w: at a low ESS most chains then share one start).")
    var chainStarts = ChainStarts.spread
    @Option(help: "Latent chains per sparse stratum (0: none): more of the flow's samples in the strata it rarely visits, for BAR's flow side. Each chain starts at the latent of one of the flow's samples there (spread evenly) and makes --flow-chain-length pCN moves z' = sqrt(1 - b^2) z + b xi (b = --flow-chain-beta), each one forward integration, accepted when the new sample is usable and in the stratum: exact (correlated) draws of the flow restricted to the stratum. Needs the samples' seeds and indices (tbg sample, tbg pool).")
    var flowChains = 0
    @Option(help: "pCN moves per latent chain (each one forward integration, recorded whether accepted or not).") var flowChainLength = 8
    @Option(help: "pCN step b of the latent chains, in (0, 1]: smaller moves are accepted more often and move less (alanine dipeptide, alpha-L: 0.1, 0.2, 0.3 accepted 45, 31, 19 %).") var flowChainBeta = 0.2
    @Option(help: "Strata with fewer usable flow samples than this are sparse: they get --flow-chains latent chains and --restricted-draws.") var flowChainsBelow = 64
    @Option(help: "Position-only draws of the flow (0: none): each one forward integration without the divergence (alanine dipeptide: a 26th to a 31st of a proposal's cost, measured), whose stratum, when usable, joins Q, the flow's probability of each stratum: its binomial noise falls where the flow rarely goes. Their latents are seeded by --seed, by default by the samples' own seed (replicate runs on different proposal files draw different latents), apart from every tbg sample latent.")
    var positionDraws = 0
    @Option(help: "Per sparse stratum, this many of the position-only draws that landed there (the first by index) are integrated again with the exact divergence: i.i.d. draws of the flow restricted to the stratum, for BAR's flow side there.")
    var restrictedDraws = 64
    @Option(help: "Annealed trajectories per sparse stratum in each direction (0: none): pCN moves in the flow's latent space along pi_lambda ~ p w^lambda restricted to the stratum, lambda = k/--annealing-levels, forward from the flow's samples there (the proposals and the restricted draws: --annealed-forward-starts) and reverse from the chain states there (their latents from the reverse integrations); BAR over the two directions' works (Crooks) replaces the stratum's one-step BAR. Each trajectory costs (levels - 1) x --annealing-moves forward integrations. Needs the samples' seeds and indices (tbg sample, tbg pool).")
    var annealedChains = 0
    @Option(help: "Steps of the annealing path (lambda_k = k/K; K - 1 intermediate levels carry the moves).") var annealingLevels = 16
    @Option(help: "pCN moves at each intermediate level of an annealed trajectory.") var annealingMoves = 1
    @Option(help: "pCN step b of the annealed trajectories, in (0, 1].") var annealingBeta = 0.1
    @Option(help: "Where the forward annealed trajectories start in a sparse stratum: proposals-and-draws (the proposals there, then the restricted draws of --position-draws there, spread evenly over both: independent starts) or proposals (the proposals only).")
    var annealedForwardStarts = AnnealedForwardStarts.proposalsAndDraws
    @Option(help: "Bootstrap replicates for the standard error.") var bootstrap = 200
    @Flag(help: "Print the estimate as one JSON object.") var json = false
    @Flag(help: "Continue a stopped run of the same command: the chains are recomputed (seconds) and the reverse integrations already in OUT.logq/ are used, the rest computed.")
    var resume = false
    @OptionGroup var monteCarlo: MonteCarloOptions
    @OptionGroup(title: "The reverse integrations (log q of the chain states)") var sampler: SamplerOptions
    @OptionGroup var distributed: DistributedOptions

    func validate() throws {
        try SizeLimit.check("--chains-per-basin", chainsPerBasin, in: 1...SizeLimit.states)
        try SizeLimit.check("--burn-in", burnIn, in: 0...SizeLimit.steps)
        try SizeLimit.check("--thin", thin, in: 1...SizeLimit.steps)
        try SizeLimit.check("--states-per-chain", statesPerChain, in: 1...SizeLimit.steps)
        try SizeLimit.check("--bootstrap", bootstrap, in: 0...100_000)
        try SizeLimit.check("--flow-chains", flowChains, in: 0...SizeLimit.states)
        try SizeLimit.check("--flow-chain-length", flowChainLength, in: 1...SizeLimit.states)
        try SizeLimit.check("--flow-chains-below", flowChainsBelow, in: 1...Int(Int32.max))
        try SizeLimit.check("--position-draws", positionDraws, in: 0...SizeLimit.states)
        try SizeLimit.check("--restricted-draws", restrictedDraws, in: 0...SizeLimit.states)
        guard flowChainBeta > 0, flowChainBeta <= 1 else { throw ValidationError("--flow-chain-beta must lie in (0, 1], got \(flowChainBeta)") }
        try SizeLimit.check("--annealed-chains", annealedChains, in: 0...SizeLimit.states)
        try SizeLimit.check("--annealing-levels", annealingLevels, in: 2...SizeLimit.states)
        try SizeLimit.check("--annealing-moves", annealingMoves, in: 1...SizeLimit.states)
        guard annealingBeta > 0, annealingBeta <= 1 else { throw ValidationError("--annealing-beta must lie in (0, 1], got \(annealingBeta)") }
        let annealedStates = (2 * settings.strata.count * annealedChains).multipliedReportingOverflow(by: (annealingLevels - 1) * annealingMoves)
        guard !annealedStates.overflow, annealedStates.partialValue <= SizeLimit.states else {
            throw ValidationError("2 × strata × --annealed-chains × (--annealing-levels − 1) × --annealing-moves must be at most \(SizeLimit.states) forward integrations")
        }
        let flowStates = (settings.strata.count * flowChains).multipliedReportingOverflow(by: flowChainLength)
        guard !flowStates.overflow, flowStates.partialValue <= SizeLimit.states else {
            throw ValidationError("strata × --flow-chains × --flow-chain-length must be at most \(SizeLimit.states) forward integrations")
        }
        let states = (settings.strata.count * chainsPerBasin).multipliedReportingOverflow(by: statesPerChain)
        guard !states.overflow, states.partialValue <= SizeLimit.states else {
            throw ValidationError("strata × --chains-per-basin × --states-per-chain must be at most \(SizeLimit.states) recorded states")
        }
        let steps = thin.multipliedReportingOverflow(by: statesPerChain)
        guard !steps.overflow, steps.partialValue + burnIn <= SizeLimit.steps else {
            throw ValidationError("--burn-in + --thin × --states-per-chain must be at most \(SizeLimit.steps) steps")
        }
        try sampler.validateMethod()
    }

    var flowChainSettings: RestrictedFlowChainSettings {
        var s = RestrictedFlowChainSettings()
        (s.chains, s.length, s.step, s.sparseBelow) = (flowChains, flowChainLength, flowChainBeta, flowChainsBelow)
        return s
    }

    var settings: BasinChainSettings {
        var s = BasinChainSettings()
        (s.chainsPerBasin, s.burnIn, s.thin, s.length) = (chainsPerBasin, burnIn, thin, statesPerChain)
        s.strata = RamachandranStrata(basin: PhiBasin(lower: phiBasin.lower, upper: phiBasin.upper),
                                      psiSplit: psiSplit.map { PhiBasin(lower: $0.lower, upper: $0.upper) },
                                      positivePsiSplit: positivePsiSplit.map { PhiBasin(lower: $0.lower, upper: $0.upper) })
        (s.moves, s.starts) = (monteCarlo.moves, chainStarts)
        return s
    }

    func run() throws {
        try distributed.withCommunicator { comm in
            do {
                try run(comm)
            } catch {
                if comm.size > 1 { comm.abort(code: 1, message: "tbg free-energy: error: \(error)") }
                throw error
            }
        }
    }

    private func run(_ comm: any Communicator) throws {
        let started = Date()
        if comm.isRoot {
            try OutputPath.checkNewFile(out, from: [samples, checkpoint], overwrite: monteCarlo.overwrite)
            for stale in HDF5File.removeStalePartials(for: out) { writeLine("removed stale partial file \(stale)") }
        }
        let input = try ProposalFile(path: samples, limit: monteCarlo.proposals)
        let residues = EvaluationInputs.residues(input.trajectory.topology)
        guard let phiAtoms = BackboneTorsions.quartets(residues, pattern: BackboneTorsions.phiPattern).first,
              let psiAtoms = BackboneTorsions.quartets(residues, pattern: BackboneTorsions.psiPattern).first else {
            throw DataFormatError(file: samples, "/topology has no phi or no psi backbone torsion (C of residue i-1, N, CA, C of residue i; N, CA, C, N of residue i+1); tbg free-energy needs a peptide backbone")
        }
        let runner = try LikelihoodRunner(checkpointPath: checkpoint, dataPath: samples, settings: sampler.settings, communicator: comm)
        // log q of the chain states must come from the model that drew the proposals.
        let file = try SampleFile(trajectory: input.trajectory)
        // Before any work: the latent chains need the samples' latents.
        // Read once: the latent chains need them (an error if missing or damaged); the position-only
        // draws only take their seed from them and tolerate their absence.
        let latentSources: (seeds: [UInt64], indices: [Int64])?
        if flowChains > 0 || annealedChains > 0 {
            guard let sources = try file.latentSources() else { throw Self.noSeeds(samples, option: flowChains > 0 ? "--flow-chains" : "--annealed-chains") }
            latentSources = sources
        } else {
            latentSources = positionDraws > 0 ? (try? file.latentSources()).flatMap { $0 } : nil
        }
        // Replicate runs on different proposal files must not share their position-only draws: without
        // --seed they take the samples' own seed (a damaged or absent /samples/index leaves 1).
        let drawSeed = StratumDraws.seed(explicit: monteCarlo.seedOption, sampleSeeds: positionDraws > 0 ? latentSources?.seeds : nil)
        let drawSettings = stratumDrawSettings(seed: drawSeed)
        if let step = file.integerAttribute("checkpoint_step"), Int(step) != runner.flow.checkpoint.step {
            throw DataFormatError(file: checkpoint, "is step \(runner.flow.checkpoint.step), but \(samples) was drawn by step \(step) (/samples@checkpoint_step); log q of the chain states must come from the model that drew the proposals")
        }
        // The same step of another run (or another checkpoint file of that step) is another q: the
        // training configuration and, where the sample file records it (tbg sample since
        // 2026-12-02), the checkpoint file's content must be the proposals'.
        if let config = file.stringAttribute("config"), config != runner.flow.checkpoint.config.json() {
            throw DataFormatError(file: checkpoint, "has another training configuration than the checkpoint that drew \(samples) (/samples@config); log q of the chain states must come from the model that drew the proposals")
        }
        // Hashed once (a checkpoint is MBs): checked here, then part of the run's identity below.
        let checkpointContent = try SampleChunks.RunIdentity.content(ofFile: checkpoint)
        let recordedContent = file.stringAttribute("checkpoint_content")
        if let recorded = recordedContent {
            guard checkpointContent == recorded else {
                throw DataFormatError(file: checkpoint, "is another file than the checkpoint that drew \(samples) (bytes:FNV-1a \(checkpointContent), the samples record \(recorded) in /samples@checkpoint_content); log q of the chain states must come from the model that drew the proposals")
            }
        }
        if let weights = file.stringAttribute("weights"), weights != (runner.flow.usesEMA ? "ema" : "raw") {
            throw DataFormatError(file: samples, "was drawn with the \(weights) weights of its checkpoint, but \(checkpoint) gives \(runner.weightsDescription); log q of the chain states must come from the same weights")
        }
        // The same q on both sides needs integrations of the same accuracy: say so when they differ.
        var sameIntegration = false
        if let text = file.stringAttribute("settings"), let drawn = try? JSONDecoder().decode(SamplerSettings.self, from: Data(text.utf8)) {
            let now = sampler.settings
            // The step limit only decides which integrations fail; those proposals are not used.
            sameIntegration = !now.integrationDifferences(from: drawn).contains(where: { $0.name != "max steps" })
            // The latent chains and the draws are new samples of the flow, which must be drawn as SAMPLES were.
            if (flowChains > 0 || positionDraws > 0 || annealedChains > 0) && !sameIntegration {
                let differences = now.integrationDifferences(from: drawn).filter { $0.name != "max steps" }
                    .map { "\($0.name) \($0.other) → \($0.this)" }.joined(separator: ", ")
                throw DataFormatError(file: samples, "was drawn with \(Self.describe(drawn)), and this run would integrate with \(Self.describe(now)) (\(differences)); \(flowChains > 0 ? "--flow-chains" : annealedChains > 0 ? "--annealed-chains" : "--position-draws") draws new samples of the flow, which must be integrated as the proposals were: give the same --method/--tolerance/--steps")
            }
            if comm.isRoot && !sameIntegration {
                writeError("tbg free-energy: warning: the proposals were integrated with \(Self.describe(drawn)), the chain states will be with \(Self.describe(now)); BAR assumes one q on both sides (give the same --method/--tolerance/--steps)")
            }
        }
        // Sample files older than /samples@checkpoint_content say only the step: another checkpoint
        // of that step (another run, edited weights) would pass the checks above. Its log q of the
        // first usable proposals, by the reverse ODE, must then reproduce the stored one (seconds).
        // A fixed-step ODE's round trip is off by nats, too coarse to tell one model from another.
        let checkable = sameIntegration && sampler.settings.method == "dopri5"
        if recordedContent == nil, comm.isRoot, !checkable {
            writeError("tbg free-energy: warning: \(samples) predates /samples@checkpoint_content and was not drawn with the same adaptive (dopri5) ODE settings as now, so nothing checks that \(checkpoint) drew it beyond its step; make sure it did")
        }
        if recordedContent == nil, checkable,
           let stored = input.storedLogQ {
            let rows = Array(0..<min(2, input.pool.count))
            let reverse = try runner.localNegativeLogLikelihood(nanometres: rows.flatMap { Array(input.pool.position($0)) }, count: rows.count,
                                                                failure: { row, reason in
                DataFormatError(file: checkpoint, "the reverse integration of sample \(input.frames[row]) of \(samples) failed (\(reason)); cannot check that this checkpoint drew them")
            })
            for row in rows {
                let recomputed = -reverse.nll[row], recorded = stored[input.frames[row]]
                guard abs(recomputed - recorded) <= 1 else {
                    throw DataFormatError(file: checkpoint, String(format: "gives log q = %.3f for sample %d of %@, which records %.3f (/samples/log_q; the ODE round trip agrees to ~0.1): this is not the checkpoint that drew the proposals, though its step is the same (the file predates /samples@checkpoint_content)", recomputed, input.frames[row], samples, recorded))
                }
            }
        }
        let settings = self.settings
        // The reverse integrations are kept as they finish (Sampling/ChainLogQCache.swift); rank 0
        // creates or checks the folder before any rank integrates, the others wait for it.
        StopSignal.install()
        var cacheFolder = ""
        var kept = 0
        if comm.isRoot {
            let identity: [String: Any] = [
                "samples_content": try SampleChunks.RunIdentity.content(ofFile: samples),
                "checkpoint_content": checkpointContent,
                "ode_settings": try JSONSerialization.jsonObject(with: Data(try sortedJSON(sampler.settings).utf8)),
                "chain_settings": try JSONSerialization.jsonObject(with: Data(try sortedJSON(settings).utf8)),
                "proposals": monteCarlo.proposals.map { $0 as Any } ?? NSNull(),
            ]
            let identityJSON = String(decoding: try JSONSerialization.data(withJSONObject: identity, options: [.sortedKeys]), as: UTF8.self)
            let opened = try ChainLogQCache.open(out: out, identity: identityJSON, resume: resume)
            (cacheFolder, kept) = (opened.cache.folder, opened.kept)
            if let warning = opened.lockWarning { writeError("tbg free-energy: warning: " + warning) }
        }
        comm.broadcast(&cacheFolder, root: 0)
        let cache = ChainLogQCache(folder: cacheFolder)
        var throttle = ProgressThrottle(seconds: Double(monteCarlo.progressSeconds))
        // With --json, stdout holds the JSON object only; the words go to stderr.
        let say: (String) -> Void = json ? { writeError($0) } : { writeLine($0) }
        // A stop signal ends the run on rank 0 with the words (stderr under --json) and, under --json,
        // one `stopped` object on stdout, so that a script reading stdout learns why no estimate came.
        let reportStop: (_ stage: String, _ kept: String?, _ words: (String) -> String) -> Void = { stage, kept, words in
            guard comm.isRoot else { return }
            let cause = StopSignal.cause
            let text = words(cause)
            say("tbg free-energy: " + text)
            if json, let line = try? JSONOutput.line(StoppedRunJSON(command: "free-energy", cause: cause, stage: stage, kept: kept,
                                                                     resume: kept != nil, message: text)) {
                writeLine(line)
            }
        }
        if comm.isRoot, positionDraws > 0, monteCarlo.seedOption == nil {
            say("tbg free-energy: position-only draws seeded by \(drawSeed), from the samples' own seed (--seed sets it)")
        }
        if comm.isRoot {
            say(String(format: "tbg free-energy: %d usable proposals of %d in %@, kT %.6g kJ/mol; %d chains in each of %d strata (%@ and the rest%@) on %d rank(s), %@, %d burn-in + %d x %d steps",
                             input.pool.count, input.samplesUsed, samples, input.kT, chainsPerBasin, settings.strata.count, settings.basin.description,
                             (settings.strata.positivePsiSplit == nil ? "" : ", the basin split by psi") + (settings.strata.psiSplit == nil ? "" : ", the rest split by psi"), comm.size,
                             settings.moves.kernel.rawValue, burnIn, statesPerChain, thin))
            say("tbg free-energy: model: \(runner.weightsDescription)")
        }
        let kT = input.kT, d = input.pool.dimension
        let basin = settings.basin, strata = settings.strata
        let poolPhi = (0..<input.pool.count).map { BasinChains.phi(input.pool.positions, offset: $0 * d, atoms: phiAtoms) }
        let flowStrata = (0..<input.pool.count).map {
            strata.stratum(phi: poolPhi[$0], psi: BasinChains.phi(input.pool.positions, offset: $0 * d, atoms: psiAtoms))
        }
        // The latent chains' starts are checked now, before the expensive stages: a samples file whose
        // latents, model or ODE settings do not give its samples is refused in seconds.
        let flowChainPlan = try prepareFlowChains(comm, input: input, file: file, sources: latentSources, runner: runner, flowStrata: flowStrata,
                                                  phiAtoms: phiAtoms, psiAtoms: psiAtoms, cache: cache, say: say)
        // Position-only draws for Q, and restricted draws in the sparse strata: first, because the
        // restricted draws start the chains of a stratum where no proposal is usable.
        let drawRun = try runStratumDraws(comm, settings: drawSettings, input: input, runner: runner, flowStrata: flowStrata, phiAtoms: phiAtoms,
                                          psiAtoms: psiAtoms, cache: cache, say: say)
        if drawRun.stopped {
            reportStop("draws", cache.folder) { cause in "stopped on \(cause) during the position-only or restricted draws; the integrations finished so far are kept in \(cache.folder): continue with the same command and --resume" }
            return
        }
        let fallback = FallbackChainStarts(positions: drawRun.positions, reducedEnergies: drawRun.work.map(\.reduced),
                                           logWeights: drawRun.work.map { -$0.work }, strata: drawRun.strata)
        let total = settings.totalSteps
        let chains = try BasinChains.run(pool: input.pool, reducedEnergies: input.reducedEnergies, phiAtoms: phiAtoms, psiAtoms: psiAtoms, kT: input.kT,
                                         settings: settings, fallback: fallback, communicator: comm, potential: input.potential(threads: monteCarlo.threads),
                                         shouldStop: { StopSignal.received != 0 }) { step, t in
            throttle.report(force: t == total, to: say) {
                String(format: "tbg free-energy: chains: step %d/%d%@, acceptance %.3f, step %.3g nm, mean energy %.3f kT, %.1f s",
                       t, total, t > burnIn ? "" : " (burn-in)", step.acceptance, step.stepSize, step.energyMeanKT,
                       Date().timeIntervalSince(started))
            }
        }
        // A stop during the chains (minutes at the default burn-in): the chains are deterministic, so
        // only the draws before them are kept; without draws OUT.logq/ holds only run.json, which the
        // next run replaces.
        if let step = chains.stoppedAfterStep {
            if drawRun.drawn > 0 {
                reportStop("chains", cache.folder) { cause in "stopped on \(cause) after chain step \(step) of \(total), before any reverse integration: the position-only and restricted draws are kept in \(cache.folder): continue with the same command and --resume" }
            } else {
                reportStop("chains", nil) { cause in "stopped on \(cause) after chain step \(step) of \(total), before any reverse integration: nothing was kept, so the same command starts it again (with or without --resume)" }
            }
            return
        }
        // log q of this rank's recorded states (reverse ODE), progress from rank 0's share.
        let strataCount = settings.strata.count
        let localCount = chains.energies.count, allStates = strataCount * chainsPerBasin * statesPerChain
        let odeStarted = Date()
        var odeThrottle = ProgressThrottle(seconds: Double(monteCarlo.progressSeconds))
        // One chain's states at a time, so that every integration batch is the same on any number of
        // ranks (the float model's results depend on the batch's composition).
        let width = input.pool.dimension
        var nll: [Double] = []
        // The annealed trajectories start from the latents of the chain states in the sparse strata.
        let sparse = annealedChains > 0 ? Set(sparseStrata(flowStrata: flowStrata)) : []
        var equilibrium = EquilibriumLatents()
        func keepLatents(chain: Int, local: Int, latents: [[Double]]) {
            guard sparse.contains(chain / chainsPerBasin) else { return }
            for k in 0..<statesPerChain {
                let row = local * statesPerChain + k
                equilibrium.index.append(chain * statesPerChain + k)
                equilibrium.strata.append(chain / chainsPerBasin)
                equilibrium.clusters.append(chains.starts[local])
                equilibrium.positions.append(Array(chains.positions[(row * width)..<((row + 1) * width)]))
                equilibrium.energies.append(chains.energies[row])
                equilibrium.logQ.append(-nll[row])
                equilibrium.latents.append(latents[k])
            }
        }
        var reused = 0, stoppedHere = false
        for local in 0..<(localCount / statesPerChain) {
            let rows = (local * statesPerChain)..<((local + 1) * statesPerChain)
            let chain = chains.chains.lowerBound + local
            let chainPositions = chains.positions[(rows.lowerBound * width)..<(rows.upperBound * width)]
            let needsLatents = sparse.contains(chain / chainsPerBasin)
            if let stored = cache.stored(chain: chain, positions: chainPositions, states: statesPerChain, width: needsLatents ? width : 0) {
                // A chain kept without its latents (by an older run) is integrated again when they are needed.
                if !needsLatents || stored.latents != nil {
                    nll += stored.nll
                    if let latents = stored.latents { keepLatents(chain: chain, local: local, latents: latents) }
                    reused += 1
                    continue
                }
            }
            if StopSignal.received != 0 {
                stoppedHere = true
                break
            }
            let part = try runner.localNegativeLogLikelihood(nanometres: Array(chainPositions), count: statesPerChain, failure: { row, reason in
                MonteCarloError("chain \(chain), state \(row): the reverse integration failed (\(reason)); its log q is undefined")
            })
            try cache.store(chain: chain, positions: chainPositions, nll: part.nll, latents: part.latents)
            nll += part.nll
            keepLatents(chain: chain, local: local, latents: part.latents)
            if comm.isRoot {
                odeThrottle.report(force: nll.count == localCount, to: say) {
                    String(format: "tbg free-energy: log q: %d/%d states on rank 0 (%d in all), %.1f s", nll.count, localCount, allStates,
                           Date().timeIntervalSince(odeStarted))
                }
            }
        }
        let reusedChains = comm.allreduce(Int64(reused), .sum)
        if comm.allreduce(Int64(stoppedHere ? 1 : 0), .max) != 0 {
            reportStop("reverse integrations", cache.folder) { cause in "stopped on \(cause): the reverse integrations of \(ChainLogQCache.chainFiles(in: cache.folder).count) of \(strataCount * chainsPerBasin) chains are in \(cache.folder); continue with the same command and --resume" }
            return
        }
        if comm.isRoot, reusedChains > 0 {
            say("tbg free-energy: resumed: the reverse integrations of \(reusedChains) of \(strataCount * chainsPerBasin) chains were in \(cache.folder)\(kept > Int(reusedChains) ? " (\(kept - Int(reusedChains)) other file(s) there did not match this run's chains and were recomputed)" : "")")
        }
        // Latent chains in the sparse strata: more of the flow's samples there (after the reverse
        // integrations; each group of chains is kept in OUT.logq/ as it finishes, as they are).
        let flowChainRun = try runFlowChains(comm, plan: flowChainPlan, input: input, cache: cache, say: say)
        if flowChainRun.stopped {
            reportStop("latent chains", cache.folder) { cause in "stopped on \(cause) during the latent chains; the reverse integrations and the finished groups of latent chains are kept in \(cache.folder): continue with the same command and --resume" }
            return
        }
        // Annealed trajectories in the sparse strata, both directions.
        let annealedRun = try runAnnealedChains(comm, input: input, runner: runner, sources: latentSources, flowStrata: flowStrata, draws: drawRun,
                                                drawSeed: drawSettings.seed,
                                                equilibrium: equilibrium, phiAtoms: phiAtoms, psiAtoms: psiAtoms, cache: cache, say: say)
        if annealedRun.stopped {
            reportStop("annealed trajectories", cache.folder) { cause in "stopped on \(cause) during the annealed trajectories; the integrations finished so far are kept in \(cache.folder): continue with the same command and --resume" }
            return
        }
        let positions = comm.gather(chains.positions, root: 0).flatMap { $0 }
        let energies = comm.gather(chains.energies, root: 0).flatMap { $0 }
        let logQ = comm.gather(nll.map { -$0 }, root: 0).flatMap { $0 }
        let starts = comm.gather(chains.starts.map(Int64.init), root: 0).flatMap { $0 }.map(Int.init)
        guard comm.isRoot else { return }

        // The estimate: flow side = the usable pool, W = −log w, and the latent chains' states in
        // their strata; chain side W = E/kT + ln q.
        let flowWork = zip(input.pool.logWeights, input.reducedEnergies).map { logW, u in
            u.isFinite && u <= settings.moves.energyCutoff ? -logW : Double.infinity
        }
        let chainOf = (0..<allStates).map { $0 / statesPerChain }
        let stateStrata = chainOf.map { $0 / chainsPerBasin }
        let stateWork = (0..<allStates).map { energies[$0] / kT + logQ[$0] }
        var random = RandomSource(seed: monteCarlo.seed, streams: [0xBA5])
        // Chains that started from the same proposal share it: the bootstrap resamples them together.
        let stateStart = chainOf.map { starts[$0] }
        let estimate = StratifiedBAR.estimate(flowStrata: flowStrata, flowWork: flowWork, equilibriumStrata: stateStrata,
                                              equilibriumWork: stateWork, clusters: stateStart,
                                              restrictedStrata: flowChainRun.strata + drawRun.strata,
                                              restrictedWork: (flowChainRun.work + drawRun.work).map { $0.reduced <= settings.moves.energyCutoff ? $0.work : .infinity },
                                              // Restricted draws are independent: each its own cluster, after the latent chains'.
                                              restrictedClusters: flowChainRun.chain + drawRun.index.indices.map { flowChainPlan.starts.count + $0 },
                                              countedStrata: drawRun.countedStrata, annealed: annealedRun.works,
                                              positiveStrata: (0..<strata.count).map(strata.isPositive), resamples: bootstrap, random: &random)
        // SNIS on the same pool, for comparison.
        let top = input.pool.logWeights.max() ?? 0
        var snisRandom = RandomSource(seed: monteCarlo.seed, streams: [0x5215])
        let snis = BasinFreeEnergy.samples(phi: poolPhi,
                                           weights: zip(input.pool.logWeights, input.reducedEnergies).map { logW, u in
                                               u <= settings.moves.energyCutoff ? exp(logW - top) : 0
                                           }, resamples: bootstrap, random: &snisRandom, basin: basin)

        // Stratified weights: each stratum's states share its population Z_s / Σ Z.
        let populations = estimate.populations
        let logWeights: [Double] = stateStrata.map { s in
            guard let populations else { return 0 }
            return log(populations[s] / Double(chainsPerBasin * statesPerChain))
        }
        let evaluations = input.evaluations + chains.evaluations + flowChainRun.integrations + drawRun.restrictedIntegrations + annealedRun.integrations
        let output = FreeEnergyOutput(samplesFile: samples, checkpoint: checkpoint, phiAtoms: phiAtoms, psiAtoms: psiAtoms, strata: strata,
                                      estimate: estimate, snis: snis, energyEvaluations: evaluations, reverseIntegrations: allStates,
                                      flowChains: flowChainSettings, flowChainIntegrations: flowChainRun.integrations,
                                      flowChainAcceptance: flowChainRun.acceptance,
                                      stratumDraws: drawSettings, positionDraws: drawRun.drawn, positionDrawFailures: drawRun.failed,
                                      restrictedDrawIntegrations: drawRun.restrictedIntegrations,
                                      latentChainStates: (0..<strata.count).map { s in flowChainRun.strata.filter { $0 == s }.count },
                                      restrictedDrawStates: (0..<strata.count).map { s in drawRun.strata.filter { $0 == s }.count },
                                      positionDrawSeconds: drawRun.positionSeconds, restrictedDrawSeconds: drawRun.restrictedSeconds,
                                      annealing: annealingSettings, annealedForwardStarts: annealedForwardStarts,
                                      annealedIntegrations: annealedRun.integrations,
                                      annealedAcceptance: [annealedRun.forwardAcceptance, annealedRun.reverseAcceptance], annealedSeconds: annealedRun.seconds,
                                      finalStepSize: chains.steps.last?.stepSize ?? .nan,
                                      acceptance: Self.mean(chains.steps.filter(\.recorded).map(\.acceptance)),
                                      wallSeconds: Date().timeIntervalSince(started))
        let frames = MonteCarloFrames(positions: positions, energies: energies, logWeights: logWeights,
                                      // −1: the chain started from a restricted draw (its stratum had no usable proposal).
                                      sourceFrames: starts.flatMap { Array(repeating: $0 < input.pool.count ? input.frames[$0] : -1, count: statesPerChain) },
                                      index: Array(0..<allStates), chain: chainOf)
        let steps = chains.steps
        let diagnostics: [MonteCarloOutput.Column] = [
            ("recorded", steps.map { $0.recorded ? 1 : 0 }, nil),
            ("acceptance", steps.map(\.acceptance), "fraction"),
            ("step_size", steps.map(\.stepSize), "nanometers"),
            ("energy_mean_kT", steps.map(\.energyMeanKT), "kT"),
        ]
        let columns: [MonteCarloOutput.FrameColumn] = [
            ("log_q", .real(logQ), "model units (tbg sample's /samples/log_q convention)"),
            ("phi_positive_basin", .flag(stateStrata.map { strata.isPositive($0) }), "1: the chain is restricted to the positive phi basin"),
            ("stratum", .index(stateStrata), "the stratum the chain is restricted to, 0-based (see /samples@free_energy strata)"),
        ]
        let settingsJSON = try monteCarlo.settingsJSON(settings, proposalsUsed: input.samplesUsed)
        try MonteCarloOutput.write(frames, input: input, sampler: "free-energy", settingsJSON: settingsJSON, seed: monteCarlo.seed, ranks: comm.size,
                                   evaluations: evaluations, diagnostics: diagnostics, frameColumns: columns,
                                   attributes: ["free_energy": try JSONOutput.line(output), "checkpoint": checkpoint],
                                   extra: flowChainRun.chain.isEmpty && drawRun.index.isEmpty && annealedRun.direction.isEmpty ? nil : { root in
                                       if !flowChainRun.chain.isEmpty { try Self.writeFlowChainStates(flowChainRun, atoms: input.trajectory.atomCount, kT: kT, to: root) }
                                       if !drawRun.index.isEmpty { try Self.writeRestrictedDraws(drawRun, seed: drawSettings.seed, atoms: input.trajectory.atomCount, kT: kT, to: root) }
                                       if !annealedRun.direction.isEmpty { try Self.writeAnnealedTrajectories(annealedRun, settings: annealingSettings, to: root) }
                                   },
                                   to: out)
        try cache.remove()
        if !(output.acceptance >= 0.05) {
            writeError(String(format: "tbg free-energy: warning: the chains accepted %.1f %% of their moves while recording; they hardly moved from their starts, so the chain states are not equilibrium samples of their basins (lower --step-size, or more --burn-in for the adaptation)", 100 * output.acceptance))
        }
        let distinct = Set(starts).count
        if distinct < strataCount * chainsPerBasin {
            say("tbg free-energy: \(strataCount * chainsPerBasin) chains started from \(distinct) distinct proposals; the bootstrap resamples chains of one start together")
        }
        if json {
            writeLine(try JSONOutput.line(output))
        } else {
            for line in output.lines { writeLine("tbg free-energy: " + line) }
            writeLine(String(format: "tbg free-energy: wrote %@: %d chain states, %d energy evaluations (%d of them the proposals'), %d reverse integrations, %d latent-chain integrations, %d annealed integrations, %.1f s on %d rank(s)",
                             out, allStates, evaluations, input.evaluations, allStates, flowChainRun.integrations, annealedRun.integrations,
                             Date().timeIntervalSince(started), comm.size))
        }
        // After the strata they name.
        for warning in Self.overlapWarnings(output.parts) { writeError("tbg free-energy: warning: " + warning) }
    }

    /// The latent chains' states, gathered on rank 0 (elsewhere empty): per state its stratum, its
    /// chain, its move, W = −log w and u = E/kT, log q and positions (nm).
    struct FlowChainRun {
        var strata: [Int] = [], chain: [Int] = [], move: [Int] = [], sourceFrame: [Int] = [], work: [(work: Double, reduced: Double)] = []
        var logQ: [Double] = [], positions: [Double] = []
        /// Forward integrations spent on all ranks (the start check included), and the fraction of
        /// pCN moves accepted.
        var integrations = 0, acceptance = Double.nan
        var stopped = false
    }

    /// The latent chains of this run, prepared and checked before the expensive stages.
    struct FlowChainPlan {
        var starts: [RestrictedFlowChainStart] = []
        /// The frame of SAMPLES each chain starts from.
        var startFrames: [Int] = []
        /// This rank's chains (whole groups), the group size and the number of groups.
        var mine = 0..<0, group = 1, groups = 0
        /// Groups kept by a stopped run (by first chain), and the key each group is kept under.
        var kept: [Int: (states: [[RestrictedFlowChains.State]], accepted: [Int])] = [:]
        var key: (Range<Int>) -> String = { _ in "" }
        var map: ([[Double]]) throws -> [(state: RestrictedFlowChains.State, stratum: Int?)] = { _ in [] }
        var atoms = 0
    }

    /// Chooses the latent chains' starts in the strata with few flow samples (Sampling/
    /// RestrictedFlowChains.swift), finds the groups a stopped run kept, and integrates each other
    /// group's first start again: it must give its stored sample.
    /// - Throws: `DataFormatError` when SAMPLES records no seed (the latents cannot be drawn again),
    ///   repeats a (seed, index) among its usable samples, or when a start's latent does not give its
    ///   sample under the checkpoint.
    /// - Parameters: `sources`: each sample's (seed, index), read from `file` when --flow-chains is on.
    private func prepareFlowChains(_ comm: any Communicator, input: ProposalFile, file: SampleFile, sources: (seeds: [UInt64], indices: [Int64])?,
                                   runner: LikelihoodRunner, flowStrata: [Int], phiAtoms: [Int], psiAtoms: [Int], cache: ChainLogQCache,
                                   say: @escaping (String) -> Void) throws -> FlowChainPlan {
        let settings = flowChainSettings, strata = self.settings.strata
        guard settings.chains > 0 else { return FlowChainPlan() }
        let chosen = RestrictedFlowChains.startSamples(flowStrata: flowStrata, strata: strata.count, settings: settings)
        guard !chosen.isEmpty else {
            if comm.isRoot {
                let counts = (0..<strata.count).map { s in flowStrata.filter { $0 == s }.count }
                say("tbg free-energy: --flow-chains: no stratum has between 1 and \(settings.sparseBelow - 1) usable flow samples (they have \(counts.map(String.init).joined(separator: ", "))), so no latent chains run (--flow-chains-below sets the threshold)")
            }
            return FlowChainPlan()
        }
        guard let sources else { throw Self.noSeeds(samples) }
        // Two usable samples with one (seed, index) are one latent drawn twice: the file is damaged.
        var seen: [String: Int] = [:]
        for frame in input.frames {
            let source = "\(sources.seeds[frame]):\(sources.indices[frame])"
            if let earlier = seen[source] {
                throw DataFormatError(file: samples, "samples \(earlier) and \(frame) have the same seed and index (\(sources.seeds[frame]), \(sources.indices[frame])) in /samples@seed or /samples/seed and /samples/index: one latent cannot give two samples; --flow-chains needs each sample's own latent")
            }
            seen[source] = frame
        }
        let atoms = input.trajectory.atomCount
        let map = flowSampleMap(runner: runner, input: input, phiAtoms: phiAtoms, psiAtoms: psiAtoms)
        let storedLogQ = input.storedLogQ
        let starts = chosen.map { start -> RestrictedFlowChainStart in
            let frame = input.frames[start.sample]
            let latent = MeanFreePrior.sample(atoms: atoms, seed: sources.seeds[frame], index: Int(sources.indices[frame]))
            let state = RestrictedFlowChains.State(positions: Array(input.pool.position(start.sample)), energy: input.reducedEnergies[start.sample] * input.kT,
                                                   logQ: storedLogQ?[frame] ?? .nan, logWeight: input.pool.logWeights[start.sample])
            return RestrictedFlowChainStart(latent: latent, stratum: start.stratum, state: state)
        }
        // Groups of chains are the ranks' units of work, so any number of ranks gives the same states.
        let group = max(1, settings.group), groups = (starts.count + group - 1) / group
        let block = contiguousBlock(total: groups, rank: comm.rank, size: comm.size)
        let mine = (block.lowerBound * group)..<min(starts.count, block.upperBound * group)
        // Groups kept by a stopped run of this output (OUT.logq/, whose run.json pins the samples,
        // checkpoint and ODE settings) are used when their key (settings, seed, start latents) matches.
        let settingsJSON = try sortedJSON(settings)
        func key(_ chains: Range<Int>) -> String {
            ChainLogQCache.latentGroupKey(settings: settingsJSON, seed: monteCarlo.seed, latents: chains.map { starts[$0].latent })
        }
        func groupOf(_ first: Int) -> Range<Int> { first..<min(starts.count, first + group) }
        let kept = Dictionary(uniqueKeysWithValues: mine.filter { $0 % group == 0 }.compactMap { first -> (Int, (states: [[RestrictedFlowChains.State]], accepted: [Int]))? in
            cache.storedLatentGroup(first: first, key: key(groupOf(first)), chains: groupOf(first).count, length: settings.length, width: 3 * atoms)
                .map { (first, $0) }
        })
        let keptGroups = comm.allreduce(Int64(kept.count), .sum)
        if comm.isRoot {
            let files = ChainLogQCache.latentFiles(in: cache.folder).count
            if keptGroups > 0 || files > 0 {
                say("tbg free-energy: resumed: \(keptGroups) of \(groups) groups of latent chains were in \(cache.folder)"
                    + (files > Int(keptGroups) ? " (\(files - Int(keptGroups)) other group file(s) there did not match this run's latent chains, their settings, seed or starts, and are recomputed)" : ""))
            }
        }
        // The latents must give their samples under this checkpoint: each group's first start is
        // integrated again (one integration per group, the same on any number of ranks).
        for first in mine where first % group == 0 && kept[first] == nil {
            let check = try map([starts[first].latent])[0]
            let frame = input.frames[chosen[first].sample]
            var distance = 0.0
            for (a, b) in zip(check.state.positions, starts[first].state.positions) { distance = max(distance, abs(a - b)) }
            guard check.stratum == chosen[first].stratum, distance <= 0.01, abs(check.state.logWeight - starts[first].state.logWeight) <= 1 else {
                throw DataFormatError(file: samples, String(format: "sample %d (seed %llu, index %lld): its latent, integrated again with %@, gives a sample %.3g nm away (log w %.3f against the stored %.3f); --flow-chains needs the same latents, model and ODE settings as the samples (expected within 0.01 nm and 1 nat)", frame, sources.seeds[frame], sources.indices[frame], checkpoint, distance, check.state.logWeight, starts[first].state.logWeight))
            }
        }
        var plan = FlowChainPlan()
        (plan.starts, plan.mine, plan.group, plan.groups, plan.kept, plan.key, plan.map, plan.atoms) = (starts, mine, group, groups, kept, key, map, atoms)
        plan.startFrames = chosen.map { input.frames[$0.sample] }
        return plan
    }

    /// Runs the prepared latent chains, groups of chains split over ranks, each finished group kept in
    /// OUT.logq/; rank 0 gathers their states.
    private func runFlowChains(_ comm: any Communicator, plan: FlowChainPlan, input: ProposalFile, cache: ChainLogQCache,
                               say: @escaping (String) -> Void) throws -> FlowChainRun {
        let settings = flowChainSettings
        let (starts, mine, group, kept, key, map, atoms) = (plan.starts, plan.mine, plan.group, plan.kept, plan.key, plan.map, plan.atoms)
        guard !starts.isEmpty else { return FlowChainRun() }
        // Every group's start check counts, kept or not: the budget is the same as an uninterrupted run's.
        var spent = mine.filter { $0 % group == 0 }.count
        if comm.isRoot {
            say(String(format: "tbg free-energy: latent chains: %d in each of %d sparse strata (fewer than %d flow samples), %d pCN moves each (beta %.3g), %d forward integrations",
                       settings.chains, starts.count / max(1, settings.chains), settings.sparseBelow, settings.length, settings.step, starts.count * settings.length))
        }
        let flowStarted = Date()
        var throttle = ProgressThrottle(seconds: Double(monteCarlo.progressSeconds))
        let result = try RestrictedFlowChains.run(starts: starts, chains: mine, atoms: atoms, settings: settings, seed: monteCarlo.seed, map: map,
                                                  stored: { kept[$0.lowerBound] },
                                                  finished: { chains, states, accepted in
                                                      try cache.storeLatentGroup(first: chains.lowerBound, key: key(chains), states: states, accepted: accepted)
                                                  },
                                                  shouldStop: { StopSignal.received != 0 }) { done in
            if comm.isRoot {
                throttle.report(force: done == mine.count, to: say) {
                    String(format: "tbg free-energy: latent chains: %d/%d on rank 0 (%d in all), %.1f s", done, mine.count, starts.count, Date().timeIntervalSince(flowStarted))
                }
            }
        }
        spent += result.integrations
        var run = FlowChainRun()
        run.stopped = comm.allreduce(Int64(result.stopped ? 1 : 0), .max) != 0
        run.integrations = Int(comm.allreduce(Int64(spent), .sum))
        let accepted = comm.allreduce(Int64(result.accepted.reduce(0, +)), .sum)
        run.acceptance = Double(accepted) / Double(starts.count * settings.length)
        guard !run.stopped else { return run }
        var local: [Double] = []
        let width = 5 + 3 * atoms
        for (k, states) in result.states.enumerated() {
            let chain = mine.lowerBound + k
            for (move, state) in states.enumerated() {
                local += [Double(chain), Double(move), -state.logWeight, state.energy / input.kT, state.logQ] + state.positions
            }
        }
        let all = comm.gather(local, root: 0).flatMap { $0 }
        for row in stride(from: 0, to: all.count, by: width) {
            let chain = Int(all[row])
            run.chain.append(chain)
            run.move.append(Int(all[row + 1]))
            run.strata.append(starts[chain].stratum)
            run.sourceFrame.append(plan.startFrames[chain])
            run.work.append((all[row + 2], all[row + 3]))
            run.logQ.append(all[row + 4])
            run.positions += all[(row + 5)..<(row + width)]
        }
        return run
    }

    /// /flow_chain_states: the latent chains' states (draws of the flow restricted to their stratum,
    /// correlated along a chain), as BAR used them.
    static func writeFlowChainStates(_ run: FlowChainRun, atoms: Int, kT: Double, to root: HDF5Group) throws {
        let group = try writeFlowSamples(named: "flow_chain_states", description: "states of the latent pCN chains of tbg free-energy --flow-chains: exact, correlated draws of the flow restricted to their stratum (state k of a chain: after its k-th move), BAR's flow side there besides the proposals",
                                         positions: run.positions, strata: run.strata, work: run.work, logQ: run.logQ, atoms: atoms, kT: kT, to: root)
        let n = run.chain.count
        try group.writeDataset("chain", run.chain.map(Int64.init), shape: [n])
        try group.writeDataset("move", run.move.map(Int64.init), shape: [n])
        try group.writeDataset("source_frame", run.sourceFrame.map(Int64.init), shape: [n])
            .writeAttribute("description", string: "the frame of the samples file whose latent the chain started from")
    }

    /// A group of samples of the flow restricted to their strata, as BAR used them: coordinates (nm),
    /// stratum, log w = −W, energy (kJ/mol) and log q, one row each.
    static func writeFlowSamples(named name: String, description: String, positions: [Double], strata: [Int],
                                 work: [(work: Double, reduced: Double)], logQ: [Double], atoms: Int, kT: Double, to root: HDF5Group) throws -> HDF5Group {
        let n = strata.count
        let group = try root.createGroup(name)
        try group.writeAttribute("description", string: description)
        try group.writeDataset("coordinates", positions.map(Float.init), shape: [n, atoms, 3]).writeAttribute("units", string: "nanometers")
        try group.writeDataset("stratum", strata.map(Int64.init), shape: [n])
        try group.writeDataset("log_weight", work.map { -$0.work }, shape: [n])
        try group.writeDataset("energy_kj_mol", work.map { $0.reduced * kT }, shape: [n]).writeAttribute("units", string: "kJ/mol")
        try group.writeDataset("log_q", logQ, shape: [n]).writeAttribute("units", string: "model units (tbg sample's /samples/log_q convention)")
        return group
    }

    static func noSeeds(_ samples: String, option: String = "--flow-chains") -> DataFormatError {
        DataFormatError(file: samples, "records no seed (/samples@seed or /samples/seed), so the latents of its samples cannot be drawn again; \(option) needs them (a tbg sample or tbg pool output)")
    }

    /// One line per stratum with a concern (`StratifiedBasinFreeEnergy.Stratum.concerns`: a forward/
    /// reverse gap above 3 kT, BAR overlap below 0.03, or a heavy-tailed flow side with a gap above
    /// 1 kT): BAR is then decided by a few flow samples and can be off by more than its bootstrap
    /// error. The words say which concern it is and what to do.
    static func overlapWarnings(_ parts: [FreeEnergyOutput.StratumPart]) -> [String] {
        parts.compactMap { part in
            guard !part.concerns.isEmpty, let forward = part.forwardEXP, let reverse = part.reverseEXP else { return nil }
            let gap = abs(forward - reverse)
            let khat = part.forwardParetoKHat.map { k in
                String(format: "; Pareto k of the flow side's weights %.2f%@", k,
                       part.concerns.contains(.heavyTail) ? String(format: " (above %.2f, the threshold for this many draws: their mean rests on a few of them)", part.forwardParetoThreshold ?? .nan) : "")
            } ?? ""
            let measures = String(format: "the forward and reverse EXP differ by %.1f kT (BAR overlap %.3f%@)", gap, part.overlap ?? .nan, khat)
            let separated = part.concerns.contains(.forwardReverseGap) || part.concerns.contains(.lowOverlap)
            if part.directBAR != nil {
                let why = separated ? "their works hardly overlap" : "the forward works' weights have a heavy tail"
                return "in \(part.stratum) \(measures) over the \(part.annealedForward) + \(part.annealedReverse) annealed trajectories: \(why), so its BAR df, and dF, can be off by more than the bootstrap error; run more levels (--annealing-levels), moves (--annealing-moves) or trajectories (--annealed-chains)"
            }
            let latent = (part.flowChainSamples > 0 ? " + \(part.flowChainSamples) latent-chain states" : "")
                + (part.restrictedDraws > 0 ? " + \(part.restrictedDraws) restricted draws" : "")
            let why = separated
                ? "the flow's samples there hardly overlap the chain states, so its BAR df, and dF, can be off by more than the bootstrap error (alanine dipeptide: gaps of 5-10 kT with 7-17 flow samples gave dF 1-2.5 kT off)"
                : "BAR leans on the flow side, whose weights there have a heavy tail, so its df, and dF, can be off by more than the bootstrap error (alanine dipeptide: one draw 3.4 nats above the rest, k 1.7, gave dF 0.7 kT off)"
            let remedy = part.restrictedDraws > 0 ? "more restricted draws there (--restricted-draws, --position-draws)"
                : "restricted draws there (--position-draws)"
            return "in \(part.stratum) (\(part.flowSamples) flow samples\(latent)) \(measures): \(why); draw more proposals (tbg sample --seed, tbg pool), or run \(remedy)"
        }
    }

    static func describe(_ s: SamplerSettings) -> String {
        s.method == "rk4" ? "rk4 with \(s.steps) steps" : "\(s.method) at tolerance \(s.absoluteTolerance)/\(s.relativeTolerance)"
    }

    static func mean(_ values: [Double]) -> Double {
        let finite = values.filter(\.isFinite)
        return finite.isEmpty ? .nan : finite.reduce(0, +) / Double(finite.count)
    }
}

/// What `tbg free-energy --json` prints and /samples@free_energy holds.
struct FreeEnergyOutput: Encodable {
    var samplesFile: String
    var checkpoint: String
    var phiAtoms: [Int]
    var psiAtoms: [Int]
    var strata: RamachandranStrata
    var estimate: StratifiedBasinFreeEnergy
    var snis: BasinFreeEnergy
    var energyEvaluations: Int
    var reverseIntegrations: Int
    var flowChains: RestrictedFlowChainSettings
    var flowChainIntegrations: Int
    var flowChainAcceptance: Double
    var stratumDraws: StratumDrawSettings
    var positionDraws: Int
    var positionDrawFailures: Int
    var restrictedDrawIntegrations: Int
    /// Per stratum: the latent-chain states and the restricted draws in BAR's flow side.
    var latentChainStates: [Int]
    var restrictedDrawStates: [Int]
    var positionDrawSeconds: Double
    var restrictedDrawSeconds: Double
    var annealing: AnnealedFlowChainSettings
    var annealedForwardStarts: AnnealedForwardStarts
    var annealedIntegrations: Int
    /// pCN acceptance of the forward and reverse annealed trajectories (NaN: none ran).
    var annealedAcceptance: [Double]
    var annealedSeconds: Double
    var finalStepSize: Double
    var acceptance: Double
    var wallSeconds: Double

    enum CodingKeys: String, CodingKey {
        case samplesFile = "samples_file", checkpoint, phiAtoms = "phi_atoms", psiAtoms = "psi_atoms"
        case phiPositiveBasin = "phi_positive_basin", psiSplit = "psi_split", positivePsiSplit = "positive_psi_split", strata
        case deltaF = "delta_f_kT", standardError = "standard_error_kT", degenerate = "degenerate_replicates"
        case snis = "snis_delta_f_kT", snisError = "snis_standard_error_kT"
        case energyEvaluations = "energy_evaluations", reverseIntegrations = "reverse_integrations"
        case flowChains = "flow_chains", flowChainIntegrations = "flow_chain_integrations", flowChainAcceptance = "flow_chain_acceptance"
        case stratumDraws = "stratum_draws", positionDraws = "position_draws", positionDrawFailures = "position_draw_failures"
        case restrictedDrawIntegrations = "restricted_draw_integrations", positionDrawSeconds = "position_draw_seconds"
        case restrictedDrawSeconds = "restricted_draw_seconds"
        case annealing = "annealed_chains", annealedForwardStarts = "annealed_forward_starts"
        case annealedIntegrations = "annealed_integrations", annealedAcceptance = "annealed_acceptance"
        case annealedSeconds = "annealed_seconds"
        case finalStepSize = "step_size_nm", acceptance = "acceptance", wallSeconds = "wall_seconds"
    }

    /// One stratum in the JSON.
    struct StratumPart: Encodable {
        var stratum: String, positive: Bool, flowSamples: Int, flowChainSamples: Int, restrictedDraws: Int, countedDraws: Int, chainStates: Int
        var flowFraction: Double
        var bar: Double?, forwardEXP: Double?, reverseEXP: Double?, overlap: Double?, population: Double?
        /// PSIS k̂ of the flow side's importance weights and its threshold for their number
        /// (StratifiedBasinFreeEnergy.Stratum.forwardParetoKHat), and the stratum's concerns.
        var forwardParetoKHat: Double?, forwardParetoThreshold: Double?
        var concerns: [StratifiedBasinFreeEnergy.Stratum.Concern] = []
        /// Annealed trajectories per direction; where both ran, `bar` is theirs and `directBAR` the one-step BAR.
        var annealedForward = 0, annealedReverse = 0
        var directBAR: BAREstimate?
        enum CodingKeys: String, CodingKey {
            case stratum, positive = "phi_positive_basin", flowSamples = "flow_samples", flowChainSamples = "flow_chain_samples", chainStates = "chain_states"
            case restrictedDraws = "restricted_draws", countedDraws = "position_draws"
            case flowFraction = "flow_fraction", population
            case bar = "bar_delta_f_kT", forwardEXP = "forward_exp_delta_f_kT", reverseEXP = "reverse_exp_delta_f_kT", overlap = "bar_overlap"
            case forwardParetoKHat = "forward_pareto_khat", forwardParetoThreshold = "forward_pareto_khat_threshold", concerns = "bar_concerns"
            case annealedForward = "annealed_forward", annealedReverse = "annealed_reverse", directBAR = "direct_bar_delta_f_kT"
            case directForwardEXP = "direct_forward_exp_delta_f_kT", directReverseEXP = "direct_reverse_exp_delta_f_kT"
        }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(stratum, forKey: .stratum)
            try c.encode(positive, forKey: .positive)
            try c.encode(flowSamples, forKey: .flowSamples)
            try c.encode(flowChainSamples, forKey: .flowChainSamples)
            try c.encode(restrictedDraws, forKey: .restrictedDraws)
            try c.encode(countedDraws, forKey: .countedDraws)
            try c.encode(chainStates, forKey: .chainStates)
            try c.encode(flowFraction, forKey: .flowFraction)
            try c.encode(bar, forKey: .bar)
            try c.encode(forwardEXP, forKey: .forwardEXP)
            try c.encode(reverseEXP, forKey: .reverseEXP)
            try c.encode(overlap, forKey: .overlap)
            try c.encode(forwardParetoKHat, forKey: .forwardParetoKHat)
            try c.encode(forwardParetoThreshold, forKey: .forwardParetoThreshold)
            try c.encode(concerns.map(\.rawValue), forKey: .concerns)
            try c.encode(population, forKey: .population)
            try c.encode(annealedForward, forKey: .annealedForward)
            try c.encode(annealedReverse, forKey: .annealedReverse)
            try c.encode(directBAR?.deltaF, forKey: .directBAR)
            try c.encode(directBAR?.forward, forKey: .directForwardEXP)
            try c.encode(directBAR?.reverse, forKey: .directReverseEXP)
        }
    }

    var parts: [StratumPart] {
        let populations = estimate.populations
        return estimate.strata.enumerated().map { s, part in
            StratumPart(stratum: strata.describe(s), positive: part.positive, flowSamples: part.flowSamples,
                        flowChainSamples: latentChainStates[s], restrictedDraws: restrictedDrawStates[s], countedDraws: part.countedDraws,
                        chainStates: part.equilibriumSamples,
                        flowFraction: part.flowFraction, bar: part.bar?.deltaF, forwardEXP: part.bar?.forward, reverseEXP: part.bar?.reverse,
                        overlap: part.bar?.overlap,
                        population: populations?[s], forwardParetoKHat: part.forwardParetoKHat,
                        forwardParetoThreshold: part.forwardParetoThreshold, concerns: part.concerns, annealedForward: part.annealedForward, annealedReverse: part.annealedReverse,
                        directBAR: part.directBAR)
        }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(samplesFile, forKey: .samplesFile)
        try c.encode(checkpoint, forKey: .checkpoint)
        try c.encode(phiAtoms, forKey: .phiAtoms)
        try c.encode(psiAtoms, forKey: .psiAtoms)
        try c.encode([strata.basin.lower, strata.basin.upper], forKey: .phiPositiveBasin)
        try c.encode(strata.psiSplit.map { [$0.lower, $0.upper] }, forKey: .psiSplit)
        try c.encode(strata.positivePsiSplit.map { [$0.lower, $0.upper] }, forKey: .positivePsiSplit)
        try c.encode(parts, forKey: .strata)
        try c.encode(estimate.value, forKey: .deltaF)
        try c.encode(estimate.standardError, forKey: .standardError)
        try c.encode(estimate.degenerateReplicates, forKey: .degenerate)
        try c.encode(snis.value, forKey: .snis)
        try c.encode(snis.standardError, forKey: .snisError)
        try c.encode(energyEvaluations, forKey: .energyEvaluations)
        try c.encode(reverseIntegrations, forKey: .reverseIntegrations)
        try c.encode(flowChains, forKey: .flowChains)
        try c.encode(flowChainIntegrations, forKey: .flowChainIntegrations)
        try c.encode(flowChainAcceptance.isFinite ? flowChainAcceptance : nil, forKey: .flowChainAcceptance)
        try c.encode(stratumDraws, forKey: .stratumDraws)
        try c.encode(positionDraws, forKey: .positionDraws)
        try c.encode(positionDrawFailures, forKey: .positionDrawFailures)
        try c.encode(restrictedDrawIntegrations, forKey: .restrictedDrawIntegrations)
        try c.encode(positionDrawSeconds, forKey: .positionDrawSeconds)
        try c.encode(restrictedDrawSeconds, forKey: .restrictedDrawSeconds)
        try c.encode(annealing, forKey: .annealing)
        try c.encode(annealedForwardStarts, forKey: .annealedForwardStarts)
        try c.encode(annealedIntegrations, forKey: .annealedIntegrations)
        try c.encode(annealedAcceptance.map { $0.isFinite ? $0 : nil }, forKey: .annealedAcceptance)
        try c.encode(annealedSeconds, forKey: .annealedSeconds)
        try c.encode(finalStepSize.isFinite ? finalStepSize : nil, forKey: .finalStepSize)
        try c.encode(acceptance.isFinite ? acceptance : nil, forKey: .acceptance)
        try c.encode(wallSeconds, forKey: .wallSeconds)
    }

    /// The report in words.
    var lines: [String] {
        func value(_ x: Double?) -> String { x.map { String(format: "%.3f", $0) } ?? "–" }
        var lines: [String] = []
        for part in parts {
            let chained = (part.flowChainSamples > 0 ? " + \(part.flowChainSamples) latent-chain states" : "")
                + (part.restrictedDraws > 0 ? " + \(part.restrictedDraws) restricted draws" : "")
                + (part.countedDraws > 0 ? " (+ \(part.countedDraws) position-only draws in Q)" : "")
            lines.append(String(format: "%@: %d flow samples%@ (Q = %.4f), %d chain states; df = -ln(Z/Q): BAR %@ (overlap %@), forward EXP %@ (Pareto k %@), reverse EXP %@ kT; population %@",
                                part.stratum, part.flowSamples, chained, part.flowFraction, part.chainStates, value(part.bar),
                                part.overlap.map { String(format: "%.3f", $0) } ?? "–",
                                value(part.forwardEXP), part.forwardParetoKHat.map { String(format: "%.2f", $0) } ?? "–", value(part.reverseEXP), part.population.map { String(format: "%.4f", $0) } ?? "–"))
        }
        for part in parts where part.directBAR != nil {
            lines.append(String(format: "%@: annealed: %d forward and %d reverse trajectories give the BAR above; one-step BAR between the flow samples and the chain states %@ (forward EXP %@, reverse EXP %@ kT)",
                                part.stratum, part.annealedForward, part.annealedReverse, value(part.directBAR?.deltaF), value(part.directBAR?.forward),
                                value(part.directBAR?.reverse)))
        }
        let error = estimate.standardError.map { String(format: " ± %.3f", $0) } ?? " (no error)"
        lines.append("dF = F(\(strata.basin.description)) - F(rest): stratified BAR \(value(estimate.value))\(error) kT"
                     + (estimate.degenerateReplicates > 0 ? " (\(estimate.degenerateReplicates) bootstrap replicates drew no flow sample or no chain in a basin and are left out, so the error is an underestimate)" : ""))
        let snisError = snis.standardError.map { String(format: " ± %.3f", $0) } ?? ""
        lines.append("dF by SNIS on the same proposals: \(value(snis.value))\(snisError) kT")
        lines.append(String(format: "chains: acceptance %.3f at step %.3g nm (recorded steps)", acceptance, finalStepSize))
        if flowChainIntegrations > 0 {
            lines.append(String(format: "latent chains: %d forward integrations, pCN acceptance %.3f (beta %.3g)", flowChainIntegrations, flowChainAcceptance, flowChains.step))
        }
        if annealedIntegrations > 0 {
            lines.append(String(format: "annealed trajectories: %d forward integrations (%d levels x %d moves, beta %.3g), pCN acceptance %.3f forward, %.3f reverse, %.1f s",
                                annealedIntegrations, annealing.levels, annealing.moves, annealing.step, annealedAcceptance[0], annealedAcceptance[1], annealedSeconds))
        }
        if positionDraws > 0 {
            lines.append(String(format: "position-only draws: %d (%d failed integrations), %.1f s; restricted draws: %d integrations with the divergence, %.1f s",
                                positionDraws, positionDrawFailures, positionDrawSeconds, restrictedDrawIntegrations, restrictedDrawSeconds))
        }
        return lines
    }
}

extension ChainStarts: ExpressibleByArgument {}
extension AnnealedForwardStarts: ExpressibleByArgument {}
