// `tbg free-energy --position-draws M`: M position-only draws of the flow whose strata join Q, and,
// in the sparse strata, `--restricted-draws` of them integrated again with the exact divergence for
// BAR's flow side (Sampling/StratumDraws.swift). Chunks of draws and groups of restricted draws are
// split over the ranks and kept in OUT.logq/ as they finish; every rank gathers them. They run before
// the MALA chains, whose chains in a stratum without a usable proposal start from its restricted
// draws (Sampling/BasinChains.swift, FallbackChainStarts).
import Communication
import Foundation
import HDF5
import Model
import MonteCarlo
import Sampling

extension FreeEnergyCommand {
    /// The draws' settings, their latents seeded by `seed` (`StratumDraws.seed`).
    func stratumDrawSettings(seed: UInt64) -> StratumDrawSettings {
        var s = StratumDrawSettings()
        (s.draws, s.restricted, s.sparseBelow, s.seed) = (positionDraws, restrictedDraws, flowChainsBelow, seed)
        return s
    }

    /// The forward integrations of new latents (latent chains, restricted and position-only draws),
    /// with the ODE settings of this run (checked to be the proposals') and `tbg sample`'s
    /// post-processing; without `energy`, every sample's energy is 0 (no force-field evaluation: the
    /// position-only draws need only the bond graph and chirality, since a valid bond graph has no
    /// overlapping atoms, the one way to a non-finite energy).
    func flowIntegrator(runner: LikelihoodRunner, input: ProposalFile, energy: Bool = true) -> ChunkSampler {
        let flow = runner.flow
        let postprocessor = SampleRunner.postprocessor(for: flow, bondGraph: input.bondGraph, chirality: input.chirality, kT: input.kT,
                                                       energy: energy ? input.energy : nil)
        return ChunkSampler(sampler: FlowSampler(model: flow.model, features: flow.features, atoms: input.trajectory.atomCount),
                            settings: sampler.settings, seed: 0, postprocessor: postprocessor)
    }

    /// The stratum of a usable sample (valid, finite energy, and a finite log w where it has log q),
    /// else nil.
    static func usableStratum(_ record: SampleRecord, strata: RamachandranStrata, phiAtoms: [Int], psiAtoms: [Int], hasLogQ: Bool) -> Int? {
        guard record.integrationOK, record.topologyOK, record.chiralityOK, record.energy.isFinite,
              !hasLogQ || record.logWeight.isFinite else { return nil }
        return strata.stratum(phi: BasinChains.phi(record.positions, offset: 0, atoms: phiAtoms),
                                       psi: BasinChains.phi(record.positions, offset: 0, atoms: psiAtoms))
    }

    /// Latents → their samples with log q (one batch), each with its stratum when usable.
    func flowSampleMap(runner: LikelihoodRunner, input: ProposalFile, phiAtoms: [Int], psiAtoms: [Int])
        -> ([[Double]]) throws -> [(state: RestrictedFlowChains.State, stratum: Int?)] {
        let integrator = flowIntegrator(runner: runner, input: input), strata = settings.strata
        return { latents in
            try integrator.records(latents: latents, indices: Array(latents.indices)).records.map { record in
                (RestrictedFlowChains.State(positions: record.positions, energy: record.energy, logQ: record.logQ, logWeight: record.logWeight),
                 Self.usableStratum(record, strata: strata, phiAtoms: phiAtoms, psiAtoms: psiAtoms, hasLogQ: true))
            }
        }
    }

    /// The draws of a run, gathered on rank 0 (the counts on every rank).
    struct StratumDrawRun {
        /// The usable position-only draws' strata (for Q), and how many were drawn, usable, failed.
        var countedStrata: [Int] = []
        var drawn = 0, failed = 0
        /// The restricted draws kept for BAR: draw index, stratum, W = −log w and u = E/kT, log q, positions (nm).
        var index: [Int] = [], strata: [Int] = [], work: [(work: Double, reduced: Double)] = [], logQ: [Double] = [], positions: [Double] = []
        /// Restricted draws integrated (all ranks), and those left out because their second
        /// integration was not usable or left the stratum.
        var restrictedIntegrations = 0, restrictedDropped = 0
        var positionSeconds = 0.0, restrictedSeconds = 0.0
        var stopped = false
    }

    /// Runs the position-only draws, then the restricted draws in the sparse strata.
    /// - Parameters: `flowStrata`: the usable proposals' strata (which strata are sparse).
    func runStratumDraws(_ comm: any Communicator, settings: StratumDrawSettings, input: ProposalFile, runner: LikelihoodRunner, flowStrata: [Int],
                         phiAtoms: [Int], psiAtoms: [Int], cache: ChainLogQCache, say: @escaping (String) -> Void) throws -> StratumDrawRun {
        let strata = self.settings.strata, strataCount = strata.count
        var run = StratumDrawRun()
        guard settings.draws > 0 else { return run }
        let atoms = input.trajectory.atomCount, seed = settings.seed
        let integrator = flowIntegrator(runner: runner, input: input, energy: false)
        let settingsJSON = try sortedJSON(settings) + (try sortedJSON(sampler.settings))
        func key(_ indices: [Int]) -> String {
            ChainLogQCache.latentGroupKey(settings: settingsJSON, seed: seed, latents: indices.map { [Double($0)] })
        }
        // 1. Position-only draws, chunks split over the ranks.
        let chunks = StratumDraws.chunks(settings), mine = contiguousBlock(total: chunks, rank: comm.rank, size: comm.size)
        if comm.isRoot {
            say(String(format: "tbg free-energy: %d position-only draws of the flow (no divergence) for the strata's Q, in %d chunks on %d rank(s)",
                       settings.draws, chunks, comm.size))
        }
        var started = Date()
        var throttle = ProgressThrottle(seconds: Double(monteCarlo.progressSeconds))
        var local: [Int64] = [], reused = 0
        for chunk in mine {
            let indices = Array(StratumDraws.indices(chunk: chunk, settings: settings))
            if let stored = cache.storedDrawChunk(chunk, key: key(indices), count: indices.count) {
                local += stored.map(Int64.init)
                reused += 1
                continue
            }
            if StopSignal.received != 0 {
                run.stopped = true
                break
            }
            let records = try integrator.positionRecords(latents: indices.map { StratumDraws.latent(atoms: atoms, seed: seed, index: $0) },
                                                         indices: indices).records
            let strata = records.map { record in
                record.integrationOK ? Self.usableStratum(record, strata: strata, phiAtoms: phiAtoms, psiAtoms: psiAtoms, hasLogQ: false) ?? -1 : -2
            }
            try cache.storeDrawChunk(chunk, key: key(indices), strata: strata)
            local += strata.map(Int64.init)
            if comm.isRoot {
                throttle.report(force: chunk == mine.upperBound - 1, to: say) {
                    String(format: "tbg free-energy: position-only draws: %d/%d chunks on rank 0, %.1f s", chunk - mine.lowerBound + 1, mine.count,
                           Date().timeIntervalSince(started))
                }
            }
        }
        run.stopped = comm.allreduce(Int64(run.stopped ? 1 : 0), .max) != 0
        guard !run.stopped else { return run }
        let reusedChunks = comm.allreduce(Int64(reused), .sum)
        // Every rank needs every draw's stratum to choose the restricted draws.
        let all = comm.allgather(local).flatMap { $0 }.map(Int.init)
        precondition(all.count == settings.draws, "every chunk's strata gathered")
        run.drawn = all.count
        run.failed = all.filter { $0 == -2 }.count
        run.countedStrata = all.filter { $0 >= 0 }
        run.positionSeconds = Date().timeIntervalSince(started)
        if comm.isRoot {
            let counts = (0..<strataCount).map { s in run.countedStrata.filter { $0 == s }.count }
            say(String(format: "tbg free-energy: position-only draws: %d usable of %d (%d failed integrations), per stratum %@, %.1f s%@",
                       run.countedStrata.count, run.drawn, run.failed, counts.map(String.init).joined(separator: ", "), run.positionSeconds,
                       reusedChunks > 0 ? " (\(reusedChunks) of \(chunks) chunks were in \(cache.folder))" : ""))
        }
        // 2. Restricted draws in the sparse strata, groups split over the ranks.
        let sparse = StratumDraws.sparse(flowStrata: flowStrata, strata: strataCount, sparseBelow: settings.sparseBelow)
        let chosen = StratumDraws.restrictedChoice(drawStrata: all.map { $0 >= 0 ? $0 : nil }, sparse: sparse, perStratum: settings.restricted)
        guard !chosen.isEmpty else { return run }
        let group = max(1, settings.group), groups = (chosen.count + group - 1) / group
        let myGroups = contiguousBlock(total: groups, rank: comm.rank, size: comm.size)
        let map = flowSampleMap(runner: runner, input: input, phiAtoms: phiAtoms, psiAtoms: psiAtoms)
        if comm.isRoot {
            say(String(format: "tbg free-energy: restricted draws: %d of the position-only draws in the sparse strata (fewer than %d flow samples) integrated again with the exact divergence",
                       chosen.count, settings.sparseBelow))
        }
        started = Date()
        var rows: [Double] = [], integrations = 0
        let width = 5 + 3 * atoms
        for g in myGroups {
            let members = Array(chosen[(g * group)..<min(chosen.count, (g + 1) * group)])
            let groupKey = key(members.map(\.index))
            let states: [RestrictedFlowChains.State]
            if let stored = cache.storedLatentGroup(first: g * group, key: groupKey, chains: members.count, length: 1, width: 3 * atoms, prefix: "restricted-") {
                states = stored.states.map { $0[0] }
                integrations += members.count   // spent by the stopped run: the budget is the uninterrupted run's
            } else {
                if StopSignal.received != 0 {
                    run.stopped = true
                    break
                }
                let mapped = try map(members.map { StratumDraws.latent(atoms: atoms, seed: seed, index: $0.index) })
                integrations += members.count
                // A second sample that is not usable or left the stratum is kept with log w = −∞ and left out below.
                states = zip(mapped, members).map { m, member in
                    var state = m.state
                    if m.stratum != member.stratum { state.logWeight = -.infinity }
                    return state
                }
                try cache.storeLatentGroup(first: g * group, key: groupKey, states: states.map { [$0] }, accepted: states.map { $0.logWeight.isFinite ? 1 : 0 },
                                           prefix: "restricted-")
            }
            for (member, state) in zip(members, states) {
                rows += [Double(member.index), Double(member.stratum), -state.logWeight, state.energy / input.kT, state.logQ] + state.positions
            }
        }
        run.stopped = comm.allreduce(Int64(run.stopped ? 1 : 0), .max) != 0
        run.restrictedIntegrations = Int(comm.allreduce(Int64(integrations), .sum))
        guard !run.stopped else { return run }
        // On every rank: the annealed trajectories may start from them (FreeEnergyAnnealing.swift).
        let gathered = comm.allgather(rows).flatMap { $0 }
        run.restrictedSeconds = Date().timeIntervalSince(started)
        for row in stride(from: 0, to: gathered.count, by: width) {
            guard gathered[row + 2].isFinite else {
                run.restrictedDropped += 1
                continue
            }
            run.index.append(Int(gathered[row]))
            run.strata.append(Int(gathered[row + 1]))
            run.work.append((gathered[row + 2], gathered[row + 3]))
            run.logQ.append(gathered[row + 4])
            run.positions += gathered[(row + 5)..<(row + width)]
        }
        if comm.isRoot {
            say(String(format: "tbg free-energy: restricted draws: %d kept, %d left out (their integration with the divergence was not usable or left the stratum), %.1f s",
                       run.index.count, run.restrictedDropped, run.restrictedSeconds))
        }
        return run
    }

    /// /restricted_draws: the restricted draws as BAR used them (i.i.d. draws of the flow restricted to
    /// their stratum).
    static func writeRestrictedDraws(_ run: StratumDrawRun, seed: UInt64, atoms: Int, kT: Double, to root: HDF5Group) throws {
        let group = try writeFlowSamples(named: "restricted_draws", description: "the restricted draws of tbg free-energy --position-draws: position-only draws of the flow that landed in a sparse stratum, integrated again with the exact divergence; i.i.d. draws of the flow restricted to their stratum, BAR's flow side there besides the proposals",
                                         positions: run.positions, strata: run.strata, work: run.work, logQ: run.logQ, atoms: atoms, kT: kT, to: root)
        try group.writeDataset("draw", run.index.map(Int64.init), shape: [run.index.count])
            .writeAttribute("description", string: "the draw's index: its latent is seeded by (/restricted_draws@seed, 0x57A7, index)")
        try group.writeAttribute("seed", [Int64(bitPattern: seed)])
    }
}
