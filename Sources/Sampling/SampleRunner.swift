// `tbg sample`'s rank orchestrator: zero-shot Boltzmann samples of one peptide with exact
// likelihoods, split over ranks. The work itself is elsewhere: a chunk's integration in ChunkSampler,
// each sample's topology → chirality → energy → weight in SamplePostprocessor (pure), the output in
// SampleFile, the finished chunks on disk in SampleChunks. This file hands out the chunks, keeps
// the progress line, stops on request and merges.
//
// Samples are handed out in chunks from a shared counter (dynamic load balance), and sample i's
// latent is seeded by (seed, i): 1 and 2 ranks produce the same set. Finished chunks go to disk as
// they come (resume after a stop or a crash); rank 0 merges everything, computes the ESS over the
// valid samples and writes the file.
import Communication
import Evaluation
import FlowModel
import ForceField
import Foundation
import Linalg
import MDData
import Model

public final class SampleRunner {
    /// The checkpoint's model, made ready for the peptide.
    public let flow: TrainedFlow
    let settings: SamplerSettings
    let seed: UInt64
    let comm: any Communicator
    /// Topology, chirality, energy and weight of each sample.
    public let postprocessor: SamplePostprocessor

    var peptide: TrajectoryFile { flow.peptide }
    /// Whether the model's weights are the checkpoint's EMA (used whenever the checkpoint has one).
    public var usesEMA: Bool { flow.usesEMA }
    /// The weights in use, in words, for logs and output attributes.
    public var weightsDescription: String { flow.weightsDescription }

    /// Content hashes (SampleChunks.RunIdentity.content) of the checkpoint and the peptide file taken
    /// on rank 0 just before they were read, so that the run's identity describes the bytes the model
    /// and the peptide came from (`runIdentity` hashes again and refuses a file that changed in between).
    let contentBeforeLoad: (checkpoint: String, peptide: String)?

    public init(checkpointPath: String, peptidePath: String, settings: SamplerSettings, seed: UInt64, communicator: any Communicator) throws {
        BLASRuntime.setThreadCount(1)   // one rank per core: OpenBLAS's spinning workers would steal it
        if communicator.isRoot, let checkpoint = try? SampleChunks.RunIdentity.content(ofFile: checkpointPath),
           let peptide = try? SampleChunks.RunIdentity.content(ofFile: peptidePath) {
            contentBeforeLoad = (checkpoint, peptide)
        } else {
            contentBeforeLoad = nil
        }
        flow = try TrainedFlow(checkpointPath: checkpointPath, peptidePath: peptidePath)
        self.settings = settings
        self.seed = seed
        comm = communicator
        postprocessor = try Self.postprocessor(for: flow)
    }

    /// The post-processing of `flow`'s peptide file: its force field (the file's OpenMM System), its
    /// bond graph labelled by the model's atom classes, the chirality of its frame 0 and its kT.
    public static func postprocessor(for flow: TrainedFlow) throws -> SamplePostprocessor {
        let peptide = flow.peptide
        let energy: EnergyEvaluator
        do {
            energy = EnergyEvaluator(system: try ForceFieldSystem(xml: peptide.systemXML))
        } catch {
            throw DataFormatError(file: peptide.path, "/openmm_system: \(error)")
        }
        let elements = peptide.topology.atoms.map(\.element)
        try peptide.requireFrames(for: "the reference chirality (taken from frame 0)")
        let frame0 = try peptide.readFrames(0..<1, requireBonds: true).map(Double.init)
        let chirality = ChiralCentres(elements: elements, bonds: peptide.topology.bonds, reference: frame0[...])
        if let bad = chirality.degenerateCentre(in: frame0[...]) {
            let names = ([bad.centre] + bad.neighbours).map { "\($0) (\(peptide.topology.atoms[$0].name))" }
            throw DataFormatError(file: peptide.path, String(format: "frame 0 is the chirality reference, but at chiral centre atom %@ the neighbours %@ are coincident with it or coplanar (normalised volume %.3g; about 0.8 at a tetrahedral centre): expected a real structure of the peptide in frame 0", names[0], names.dropFirst().joined(separator: ", "), bad.volume))
        }
        guard let kT = peptide.metadata.kT else {
            throw DataFormatError(file: peptide.path, "/metadata has neither kT_kJ_per_mol nor temperature_K")
        }
        return postprocessor(for: flow, bondGraph: BondGraph(elements: elements, bonds: peptide.topology.bonds), chirality: chirality, kT: kT,
                             energy: energy)
    }

    /// The post-processing under `flow`'s model of a peptide given by its (unlabelled) bond graph,
    /// reference chirality, kT (kJ/mol) and force field: the graph labelled by the model's atom
    /// classes, one energy evaluation per sample (`tbg free-energy`'s latent chains build theirs
    /// from a samples file this way). Without a force field (`energy` nil) every energy is 0.
    public static func postprocessor(for flow: TrainedFlow, bondGraph: BondGraph, chirality: ChiralCentres, kT: Double,
                                     energy: EnergyEvaluator?) -> SamplePostprocessor {
        let elements = bondGraph.elements
        let reference = bondGraph.relabelled(SamplePostprocessor.atomClassLabels(elements: elements, features: flow.features, width: flow.featureWidth))
        return SamplePostprocessor(reference: reference, elements: elements, chirality: chirality, units: flow.units, kT: kT) { positions in
            guard let energy else { return 0 }
            return positions.withUnsafeBufferPointer { energy.evaluate($0, frameCount: 1, forces: false, threads: 1) }.totals[0]
        }
    }

    /// What a resumed run must match (SampleChunks.swift): this runner's model, peptide and settings.
    /// `hashingContent` false leaves out the content hashes (ranks other than 0, which take the
    /// run's identity from rank 0 and need not read both files again).
    /// - Throws: `DataFormatError` when the checkpoint or peptide file cannot be read to hash it.
    public func runIdentity(count: Int, roundTrip: Int, hashingContent: Bool = true) throws -> SampleChunks.RunIdentity {
        func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }
        /// The file's content now, which must be what it was before the model and peptide were read.
        func content(_ path: String, before: String?) throws -> String {
            let now = try SampleChunks.RunIdentity.content(ofFile: path)
            if let before, before != now {
                throw DataFormatError(file: path, "changed while it was being read (bytes:FNV-1a \(before) → \(now)); run again once nothing writes to it")
            }
            return now
        }
        return SampleChunks.RunIdentity(checkpoint: absolute(flow.checkpointPath), checkpointStep: flow.checkpoint.step,
                                        checkpointContent: hashingContent ? try content(flow.checkpointPath, before: contentBeforeLoad?.checkpoint) : nil,
                                        peptide: absolute(peptide.path),
                                        peptideContent: hashingContent ? try content(peptide.path, before: contentBeforeLoad?.peptide) : nil,
                                        count: count, chunk: max(1, settings.chunk), seed: seed, roundTrip: roundTrip, settings: settings)
    }

    /// Atoms of the peptide.
    public var atomCount: Int { peptide.atomCount }

    /// The integrator of this peptide under the checkpoint's model (what `run` uses).
    public func makeSampler() -> FlowSampler { FlowSampler(model: flow.model, features: flow.features, atoms: peptide.atomCount) }

    /// What `run` produced. On rank 0: every sample in index order and the summary, unless the run
    /// was stopped (then `records` is empty and the finished chunks are on disk). Elsewhere: empty.
    public struct Outcome {
        public var records: [SampleRecord] = []
        public var summary: SampleSummary?
        /// A rank saw `shouldStop()` before the last chunk: every rank stopped after its chunk in flight.
        public var stopped = false
        /// Chunks found on disk from an earlier run (`--resume`), over all ranks.
        public var resumedChunks = 0
        /// Chunks finished on disk after this call (all ranks), and the number of chunks.
        public var finishedChunks = 0
        public var chunkCount = 0
    }

    /// Produces `count` samples over all ranks; rank 0 receives them all (in index order).
    ///
    /// Work is handed out in chunks of `settings.chunk` samples from a shared counter
    /// (`Communicator.makeWorkCounter`), so a rank that finishes early takes the next chunk (dynamic
    /// load balance). Chunk k always holds samples [k·C, (k+1)·C) and sample i's latent is seeded by
    /// (seed, i), so the samples do not depend on the number of ranks or on who computed what.
    /// With `chunks`, each finished chunk is written to disk at once and chunks already there are
    /// skipped (resume); rank 0 merges from disk at the end. `shouldStop` is asked after each chunk
    /// (SIGTERM/SIGUSR1): a rank that stops finishes its chunk in flight, and the run ends without
    /// a merge once every rank has stopped or run out of work.
    ///
    /// Samples with index < `roundTrip` are also integrated back from t = 1 to 0 (with a(1) = 0),
    /// which must recover their latent z and log q = log p(z) − Δ (method.md §7.4).
    ///
    /// `progress`, on rank 0, receives a line at most every `progressSeconds`: chunks handed out
    /// (all ranks), samples/s, the valid fraction and ESS of rank 0's samples so far (an i.i.d.
    /// subset), and the ETA.
    public func run(count: Int, roundTrip: Int = 0, chunks: SampleChunks? = nil, shouldStop: () -> Bool = { false },
                    progressSeconds: Double = 30, progress: ((String) -> Void)? = nil) throws -> Outcome {
        let atoms = peptide.atomCount, chunkSize = max(1, settings.chunk)
        let chunkCount = (count + chunkSize - 1) / chunkSize
        let chunkSampler = ChunkSampler(sampler: makeSampler(), settings: settings, seed: seed, postprocessor: postprocessor)
        var mine: [SampleRecord] = []
        var evaluations = 0, sampleEvaluations = 0.0
        var resumed = 0, computed = 0, stopped = false
        let started = Date()
        var lastReport = started
        func report(handedOut: Int) {
            guard comm.isRoot, let progress, Date().timeIntervalSince(lastReport) >= progressSeconds else { return }
            lastReport = Date()
            let elapsed = Date().timeIntervalSince(started)
            let done = min(count, handedOut * chunkSize), fresh = max(0, done - resumed * chunkSize)
            let valid = mine.filter { $0.topologyOK && $0.chiralityOK }
            // No valid sample yet: no ESS (the dash, not "nan").
            let ess = valid.isEmpty ? "–" : String(format: "%.4f", ImportanceWeights.effectiveSampleSize(logWeights: valid.map(\.logWeight)))
            let rate = Double(fresh) / max(elapsed, 1e-9)
            progress(String(format: "progress: ~%ld/%ld samples (chunks handed out), %.2f samples/s, valid %.1f %%, ESS %@ (rank 0's %ld samples), ETA %.0f s",
                            done, count, rate, 100 * Double(valid.count) / Double(max(1, mine.count)), ess, mine.count,
                            rate > 0 ? Double(count - done) / rate : .nan))
        }
        let counter = comm.makeWorkCounter()
        while !stopped {
            let k = counter.next()
            guard k < chunkCount else { break }
            if let chunks, chunks.isDone(k) {
                resumed += 1
                continue
            }
            let indices = Array((k * chunkSize)..<min(count, (k + 1) * chunkSize))
            let (records, chunkEvaluations, chunkSampleEvaluations) = try chunkSampler.sample(indices: indices, roundTrip: roundTrip)
            evaluations += chunkEvaluations
            sampleEvaluations += chunkSampleEvaluations
            if let chunks {
                try chunks.write(chunk: k, records: records, fieldEvaluations: chunkEvaluations, sampleEvaluations: chunkSampleEvaluations)
            }
            mine += records
            computed += 1
            report(handedOut: k + 1)
            stopped = shouldStop()
        }
        counter.close()
        var outcome = Outcome(chunkCount: chunkCount)
        let stopRequested = comm.allreduce(Int64(stopped ? 1 : 0), .max) != 0
        outcome.resumedChunks = Int(comm.allreduce(Int64(resumed), .sum))
        outcome.finishedChunks = outcome.resumedChunks + Int(comm.allreduce(Int64(computed), .sum))
        // A stop that came after the last chunk stops nothing: the run merges as usual, rather
        // than asking for a resume that would only merge.
        outcome.stopped = stopRequested && outcome.finishedChunks < chunkCount
        if let chunks {
            // Every rank's chunks are on disk: rank 0 merges them (also those of earlier runs).
            comm.barrier()
            guard comm.isRoot, !outcome.stopped else { return outcome }
            var records: [SampleRecord] = []
            var totalEvaluations = 0, totalSampleEvaluations = 0.0
            for k in 0..<chunkCount {
                let chunk = try chunks.read(chunk: k)
                records += chunk.records
                totalEvaluations += chunk.fieldEvaluations
                totalSampleEvaluations += chunk.sampleEvaluations
            }
            outcome.records = records
            outcome.summary = SamplePostprocessor.summarize(records, evaluations: totalEvaluations)
            outcome.summary?.evaluationsPerSample = totalSampleEvaluations / Double(max(1, count))
            return outcome
        }
        let gathered = comm.gather(mine.flatMap { $0.flattened() }, root: 0)
        sampleEvaluations = comm.allreduce(sampleEvaluations, .sum)
        evaluations = Int(comm.allreduce(Int64(evaluations), .sum))
        guard comm.isRoot, !outcome.stopped else { return outcome }
        let width = SampleRecord.scalarFields + 3 * atoms
        outcome.records = gathered.flatMap { flat in
            stride(from: 0, to: flat.count, by: width).map { SampleRecord.unflatten(flat[$0..<($0 + width)], atoms: atoms) }
        }.sorted { $0.index < $1.index }
        outcome.summary = SamplePostprocessor.summarize(outcome.records, evaluations: evaluations)
        outcome.summary?.evaluationsPerSample = sampleEvaluations / Double(max(1, count))
        return outcome
    }

    /// Writes the samples (index order) as the sample file `path` (SampleFile.swift), atomically.
    /// `identity` (the run's, with the files' content hashes) adds them as provenance.
    public func write(_ records: [SampleRecord], summary: SampleSummary, identity: SampleChunks.RunIdentity? = nil, to path: String) throws {
        let provenance = SampleFile.Provenance(checkpoint: URL(fileURLWithPath: flow.checkpointPath).standardizedFileURL.path, checkpointStep: flow.checkpoint.step,
                                               configJSON: flow.checkpoint.config.json(), usesEMA: usesEMA, settings: settings,
                                               seed: seed, ranks: comm.size, checkpointContent: identity?.checkpointContent,
                                               peptideContent: identity?.peptideContent)
        try SampleFile.write(records, summary: summary, peptide: peptide, kT: postprocessor.kT, units: flow.units,
                             provenance: provenance, to: path)
    }
}
