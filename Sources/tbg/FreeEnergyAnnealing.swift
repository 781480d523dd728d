// `tbg free-energy --annealed-chains N`: in every sparse stratum, N annealed trajectories from the
// flow's samples there up to the Boltzmann density restricted to the stratum, and N down from the
// equilibrium chain states (their latents from the reverse integrations), by pCN moves along
// π_λ ∝ p·w^λ (Sampling/AnnealedFlowChains.swift); BAR over their works replaces the stratum's
// one-step BAR (Evaluation/BennettAcceptanceRatio.swift, `AnnealedWorks`). Groups of trajectories
// are split over the ranks, each group's first start is integrated again (it must give its sample),
// and finished groups are kept in OUT.logq/ as they finish; rank 0 gathers the works.
import Communication
import Evaluation
import Foundation
import HDF5
import Model
import MonteCarlo
import Sampling

/// The exact draws of π_0 (the flow restricted to a stratum) that forward trajectories start from.
enum AnnealedForwardStarts: String, Sendable, CaseIterable, Encodable {
    /// The proposals in the stratum, then the restricted draws there (`tbg free-energy
    /// --position-draws`), spread evenly over both: i.i.d. draws of π_0, so with more of them than
    /// trajectories every trajectory has a start of its own (alanine dipeptide's αL: 11 proposals and
    /// about 60 restricted draws at 512 proposals).
    case proposalsAndDraws = "proposals-and-draws"
    /// The proposals in the stratum only (where they are fewer than the trajectories, several
    /// trajectories share a start; the behaviour before 2026-12-03).
    case proposals
}

extension FreeEnergyCommand {
    var annealingSettings: AnnealedFlowChainSettings {
        var s = AnnealedFlowChainSettings()
        (s.trajectories, s.levels, s.moves, s.step) = (annealedChains, annealingLevels, annealingMoves, annealingBeta)
        return s
    }

    /// The equilibrium chain states of this rank that a reverse trajectory can start from: global
    /// state index, stratum, bootstrap cluster, positions (nm), energy (kJ/mol), log q and latent.
    struct EquilibriumLatents {
        var index: [Int] = [], strata: [Int] = [], clusters: [Int] = []
        var positions: [[Double]] = [], energies: [Double] = [], logQ: [Double] = [], latents: [[Double]] = []
    }

    /// The annealed trajectories' works, gathered on rank 0 (elsewhere empty), and what they cost.
    struct AnnealedRun {
        var works = AnnealedWorks()
        /// Per trajectory (rank 0): direction (0 forward, 1 reverse), trajectory, stratum, what it
        /// started from (`StartSource`) and which one (the frame of SAMPLES, the restricted draw's
        /// index, or the chain state's index in OUT), work, accepted moves.
        var direction: [Int] = [], trajectory: [Int] = [], strata: [Int] = [], startSource: [Int] = [], start: [Int] = []
        var work: [Double] = [], accepted: [Int] = []
        /// Forward integrations on all ranks (start checks included); acceptance of the pCN moves per direction.
        var integrations = 0, forwardAcceptance = Double.nan, reverseAcceptance = Double.nan
        var seconds = 0.0
        var stopped = false
    }

    /// The sparse strata: those with between 1 and `flowChainsBelow` − 1 usable flow samples.
    func sparseStrata(flowStrata: [Int]) -> [Int] {
        (0..<settings.strata.count).filter { s in
            let n = flowStrata.filter { $0 == s }.count
            return n > 0 && n < flowChainsBelow
        }
    }

    /// What an annealed trajectory started from (/annealed_trajectories/start_source).
    enum StartSource: Int {
        case proposal = 0, restrictedDraw = 1, chainState = 2
    }

    /// A forward trajectory's start: an exact draw of the flow restricted to its stratum.
    struct ForwardStart {
        var source: StartSource
        /// The frame of SAMPLES, or the restricted draw's index.
        var index: Int
        /// The bootstrap cluster: trajectories from one start share it.
        var cluster: Int
        var start: RestrictedFlowChainStart
    }

    /// The forward starts of every sparse stratum (the same on every rank): the flow's proposals
    /// there, then (`.proposalsAndDraws`) the restricted draws there, spread evenly over them.
    func annealedForwardStarts(input: ProposalFile, sources: (seeds: [UInt64], indices: [Int64]), flowStrata: [Int], sparse: [Int],
                               draws: StratumDrawRun, drawSeed: UInt64, trajectories: Int) throws -> [ForwardStart] {
        let atoms = input.trajectory.atomCount, kT = input.kT
        let storedLogQ = input.storedLogQ
        var starts: [ForwardStart] = []
        for s in sparse {
            var members: [ForwardStart] = flowStrata.indices.filter { flowStrata[$0] == s }.map { sample in
                let frame = input.frames[sample]
                let state = RestrictedFlowChains.State(positions: Array(input.pool.position(sample)), energy: input.reducedEnergies[sample] * kT,
                                                       logQ: storedLogQ?[frame] ?? .nan, logWeight: input.pool.logWeights[sample])
                return ForwardStart(source: .proposal, index: frame, cluster: sample,
                                    start: RestrictedFlowChainStart(latent: MeanFreePrior.sample(atoms: atoms, seed: sources.seeds[frame], index: Int(sources.indices[frame])),
                                                                    stratum: s, state: state))
            }
            if annealedForwardStarts == .proposalsAndDraws {
                for k in draws.index.indices where draws.strata[k] == s {
                    let positions = Array(draws.positions[(k * 3 * atoms)..<((k + 1) * 3 * atoms)])
                    let state = RestrictedFlowChains.State(positions: positions, energy: draws.work[k].reduced * kT, logQ: draws.logQ[k],
                                                           logWeight: -draws.work[k].work)
                    members.append(ForwardStart(source: .restrictedDraw, index: draws.index[k], cluster: input.frames.count + draws.index[k],
                                                start: RestrictedFlowChainStart(latent: StratumDraws.latent(atoms: atoms, seed: drawSeed, index: draws.index[k]),
                                                                                stratum: s, state: state)))
                }
            }
            guard !members.isEmpty else { continue }
            starts += spreadEvenly(members, count: trajectories)
        }
        return starts
    }

    /// Runs the annealed trajectories of both directions.
    /// - Parameters: `sources`: the samples' latent sources (nil when the file records none: an
    ///   error); `draws`: the restricted draws (on every rank), seeded by `drawSeed`;
    ///   `equilibrium`: this rank's chain states in the sparse strata, with their latents.
    func runAnnealedChains(_ comm: any Communicator, input: ProposalFile, runner: LikelihoodRunner, sources: (seeds: [UInt64], indices: [Int64])?,
                           flowStrata: [Int], draws: StratumDrawRun, drawSeed: UInt64, equilibrium local: EquilibriumLatents, phiAtoms: [Int],
                           psiAtoms: [Int], cache: ChainLogQCache, say: @escaping (String) -> Void) throws -> AnnealedRun {
        let settings = annealingSettings, kT = input.kT, cutoff = self.settings.moves.energyCutoff
        var run = AnnealedRun()
        let sparse = sparseStrata(flowStrata: flowStrata)
        guard settings.trajectories > 0, !sparse.isEmpty else {
            if comm.isRoot, settings.trajectories > 0 {
                say("tbg free-energy: --annealed-chains: no stratum has between 1 and \(flowChainsBelow - 1) usable flow samples, so no annealed trajectories run (--flow-chains-below sets the threshold)")
            }
            return run
        }
        guard let sources else { throw Self.noSeeds(samples, option: "--annealed-chains") }
        let started = Date()
        let atoms = input.trajectory.atomCount, width = 3 * atoms
        let chosen = try annealedForwardStarts(input: input, sources: sources, flowStrata: flowStrata, sparse: sparse, draws: draws,
                                               drawSeed: drawSeed, trajectories: settings.trajectories)
        let forwardStarts = chosen.map(\.start)
        // Reverse starts: the chain states of each sparse stratum (gathered from every rank, in the
        // order of their global index), spread evenly.
        var rows: [Double] = []
        for k in local.index.indices {
            rows += [Double(local.index[k]), Double(local.strata[k]), Double(local.clusters[k]), local.energies[k], local.logQ[k]]
                + local.positions[k] + local.latents[k]
        }
        let rowWidth = 5 + 2 * width
        var states: [(index: Int, stratum: Int, cluster: Int, start: RestrictedFlowChainStart)] = []
        let all = comm.allgather(rows).flatMap { $0 }
        for row in stride(from: 0, to: all.count, by: rowWidth) {
            let energy = all[row + 3], logQ = all[row + 4]
            let state = RestrictedFlowChains.State(positions: Array(all[(row + 5)..<(row + 5 + width)]), energy: energy, logQ: logQ,
                                                   logWeight: -energy / kT - logQ)
            states.append((Int(all[row]), Int(all[row + 1]), Int(all[row + 2]),
                           RestrictedFlowChainStart(latent: Array(all[(row + 5 + width)..<(row + rowWidth)]), stratum: Int(all[row + 1]), state: state)))
        }
        states.sort { $0.index < $1.index }
        var reverseChosen: [(index: Int, stratum: Int, cluster: Int, start: RestrictedFlowChainStart)] = []
        for s in sparse {
            let members = states.filter { $0.stratum == s }
            guard !members.isEmpty else { continue }
            reverseChosen += spreadEvenly(members, count: settings.trajectories)
        }
        let reverseStarts = reverseChosen.map(\.start)
        if comm.isRoot {
            say(String(format: "tbg free-energy: annealed chains: %d forward and %d reverse trajectories in %d sparse strata, %d levels x %d pCN moves (beta %.3g), %d forward integrations",
                       forwardStarts.count, reverseStarts.count, sparse.count, settings.levels, settings.moves, settings.step,
                       (forwardStarts.count + reverseStarts.count) * settings.proposalsPerTrajectory))
        }
        let map = flowSampleMap(runner: runner, input: input, phiAtoms: phiAtoms, psiAtoms: psiAtoms)
        let work: (RestrictedFlowChains.State) -> Double = { state in
            let u = state.energy / kT, w = -state.logWeight
            return u.isFinite && u <= cutoff && !w.isNaN ? w : .infinity
        }
        // The groups' keys: where the forward starts came from is in their latents.
        let settingsJSON = try sortedJSON(settings)
        var spent = 0, acceptedTotals = [0, 0]
        var localRows: [Double] = []
        var throttle = ProgressThrottle(seconds: Double(monteCarlo.progressSeconds))
        for (direction, starts) in [(AnnealedFlowChains.Direction.forward, forwardStarts), (.reverse, reverseStarts)] where !starts.isEmpty {
            let prefix = direction == .forward ? "annealed-forward-" : "annealed-reverse-"
            let name = direction == .forward ? "forward" : "reverse"
            let group = max(1, settings.group), groups = (starts.count + group - 1) / group
            let block = contiguousBlock(total: groups, rank: comm.rank, size: comm.size)
            let mine = (block.lowerBound * group)..<min(starts.count, block.upperBound * group)
            func key(_ trajectories: Range<Int>) -> String {
                ChainLogQCache.latentGroupKey(settings: settingsJSON + name, seed: monteCarlo.seed, latents: trajectories.map { starts[$0].latent })
            }
            func groupOf(_ first: Int) -> Range<Int> { first..<min(starts.count, first + group) }
            var kept: [Int: (states: [[RestrictedFlowChains.State]], accepted: [Int])] = [:]
            for first in mine where first % group == 0 {
                kept[first] = cache.storedLatentGroup(first: first, key: key(groupOf(first)), chains: groupOf(first).count,
                                                      length: settings.proposalsPerTrajectory / settings.moves, width: width, prefix: prefix)
            }
            let keptGroups = comm.allreduce(Int64(kept.count), .sum)
            if comm.isRoot, keptGroups > 0 {
                say("tbg free-energy: resumed: \(keptGroups) of \(groups) groups of \(name) annealed trajectories were in \(cache.folder)")
            }
            // Each group's first start, integrated again, must give its sample (forward: the stored
            // proposal; reverse: the chain state its latent came from), within 0.01 nm and 1 nat.
            for first in mine where first % group == 0 {
                spent += 1
                guard kept[first] == nil else { continue }
                let check = try map([starts[first].latent])[0]
                var distance = 0.0
                for (a, b) in zip(check.state.positions, starts[first].state.positions) { distance = max(distance, abs(a - b)) }
                // The post-processing may map equivalent atoms (a methyl's hydrogens) onto each other
                // otherwise than the chain state has them: the same configuration, far in positions but
                // with the same energy. So positions within 0.01 nm, or energy within 1 kT; log w within 1 nat.
                let sameEnergy = abs(check.state.energy - starts[first].state.energy) / kT <= 1
                guard check.stratum == starts[first].stratum, distance <= 0.01 || sameEnergy,
                      abs(check.state.logWeight - starts[first].state.logWeight) <= 1 else {
                    let what = direction == .reverse ? "chain state \(reverseChosen[first].index)"
                        : chosen[first].source == .proposal ? "sample \(chosen[first].index) of \(samples)" : "restricted draw \(chosen[first].index)"
                    throw MonteCarloError(String(format: "annealed %@ trajectory %d: the latent of %@, integrated again with %@, gives a sample %.3g nm away, energy %.3f against %.3f kJ/mol (log w %.3f against %.3f%@); --annealed-chains needs the latents, model and ODE settings of the samples (expected within 0.01 nm or 1 kT, and 1 nat)",
                                                 name, first, what, checkpoint, distance, check.state.energy, starts[first].state.energy,
                                                 check.state.logWeight, starts[first].state.logWeight,
                                                 check.stratum == starts[first].stratum ? "" : ", another stratum"))
                }
            }
            let result = try AnnealedFlowChains.run(starts: starts, trajectories: mine, direction: direction, atoms: atoms, settings: settings,
                                                    seed: monteCarlo.seed, map: map, work: work, stored: { kept[$0.lowerBound] },
                                                    finished: { trajectories, states, accepted in
                                                        try cache.storeLatentGroup(first: trajectories.lowerBound, key: key(trajectories), states: states,
                                                                                   accepted: accepted, prefix: prefix)
                                                    },
                                                    shouldStop: { StopSignal.received != 0 }) { done in
                if comm.isRoot {
                    throttle.report(force: done == mine.count, to: say) {
                        String(format: "tbg free-energy: annealed %@ trajectories: %d/%d on rank 0 (%d in all), %.1f s", name, done, mine.count, starts.count,
                               Date().timeIntervalSince(started))
                    }
                }
            }
            spent += result.integrations
            if comm.allreduce(Int64(result.stopped ? 1 : 0), .max) != 0 {
                run.stopped = true
                return run
            }
            acceptedTotals[Int(direction.rawValue)] = Int(comm.allreduce(Int64(result.accepted.reduce(0, +)), .sum))
            for (k, trajectoryStates) in result.states.enumerated() {
                let t = mine.lowerBound + k
                let w = AnnealedFlowChains.work(start: starts[t].state, states: trajectoryStates, lambdas: settings.lambdas, direction: direction, work: work)
                localRows += [Double(direction.rawValue), Double(t), w, Double(result.accepted[k])]
            }
            // A stop between the directions: the forward groups are kept, the reverse ones not begun.
            if direction == .forward, !reverseStarts.isEmpty, comm.allreduce(Int64(StopSignal.received != 0 ? 1 : 0), .max) != 0 {
                run.stopped = true
                return run
            }
        }
        run.integrations = Int(comm.allreduce(Int64(spent), .sum))
        let proposals = Double(settings.proposalsPerTrajectory)
        run.forwardAcceptance = forwardStarts.isEmpty ? .nan : Double(acceptedTotals[0]) / (Double(forwardStarts.count) * proposals)
        run.reverseAcceptance = reverseStarts.isEmpty ? .nan : Double(acceptedTotals[1]) / (Double(reverseStarts.count) * proposals)
        run.seconds = Date().timeIntervalSince(started)
        let gathered = comm.gather(localRows, root: 0).flatMap { $0 }
        guard comm.isRoot else { return run }
        for row in stride(from: 0, to: gathered.count, by: 4) {
            let forward = gathered[row] == 0, t = Int(gathered[row + 1]), w = gathered[row + 2]
            run.direction.append(forward ? 0 : 1)
            run.trajectory.append(t)
            run.work.append(w)
            run.accepted.append(Int(gathered[row + 3]))
            if forward {
                let stratum = chosen[t].start.stratum
                run.strata.append(stratum)
                run.startSource.append(chosen[t].source.rawValue)
                run.start.append(chosen[t].index)
                run.works.forwardStrata.append(stratum)
                run.works.forwardWork.append(w)
                run.works.forwardClusters.append(chosen[t].cluster)    // trajectories from one start share it
            } else {
                let start = reverseChosen[t]
                run.strata.append(start.stratum)
                run.startSource.append(StartSource.chainState.rawValue)
                run.start.append(start.index)
                run.works.reverseStrata.append(start.stratum)
                run.works.reverseWork.append(w)
                run.works.reverseClusters.append(start.cluster)       // the equilibrium states' cluster (chains of one start)
            }
        }
        return run
    }

    /// /annealed_trajectories: one row per trajectory, as BAR used it.
    static func writeAnnealedTrajectories(_ run: AnnealedRun, settings: AnnealedFlowChainSettings, to root: HDF5Group) throws {
        let n = run.direction.count
        let group = try root.createGroup("annealed_trajectories")
        try group.writeAttribute("description", string: "annealed latent trajectories of tbg free-energy --annealed-chains (Sampling/AnnealedFlowChains.swift): pCN moves along pi_lambda ~ p w^lambda restricted to a stratum, lambda = k/levels; forward from the flow's samples, reverse from the chain states; BAR over their works gives the stratum's df")
        try group.writeAttribute("settings", string: (try? sortedJSON(settings)) ?? "")
        try group.writeDataset("direction", run.direction.map(Int64.init), shape: [n]).writeAttribute("description", string: "0: forward (from the flow), 1: reverse (from the chain states)")
        try group.writeDataset("trajectory", run.trajectory.map(Int64.init), shape: [n])
        try group.writeDataset("stratum", run.strata.map(Int64.init), shape: [n])
        try group.writeDataset("start_source", run.startSource.map(Int64.init), shape: [n])
            .writeAttribute("description", string: "what the trajectory started from: 0 a proposal (forward), 1 a restricted draw (forward), 2 a chain state (reverse)")
        try group.writeDataset("start", run.start.map(Int64.init), shape: [n])
            .writeAttribute("description", string: "by start_source: 0 the frame of the samples file, 1 the restricted draw's index (/restricted_draws/draw), 2 the index in /samples of the chain state")
        try group.writeDataset("work", run.work, shape: [n])
            .writeAttribute("description", string: "BAR work in kT: W_F = sum (lambda_k - lambda_k-1) W(z_k-1) forward, -W_R = sum (lambda_k - lambda_k-1) W(z'_k) reverse, W = -log w")
        try group.writeDataset("accepted", run.accepted.map(Int64.init), shape: [n])
    }
}
