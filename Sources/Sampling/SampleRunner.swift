// `tbg sample`: zero-shot Boltzmann samples of one peptide with exact likelihoods, split over ranks.
//
// Samples are handed out in chunks from a shared counter (dynamic load balance), and sample i's
// latent is seeded by (seed, i): 1 and 2 ranks produce the same set. Each rank integrates its samples,
// checks topology (bond graph isomorphism, permutation onto the reference order) and chirality
// (mirror fix), evaluates the force field on the fixed configuration in nm and forms
//   log w = −u/kT − log q;
// finished chunks go to disk as they come (SampleChunks.swift: resume after a stop or a crash);
// rank 0 merges everything, computes the ESS over the valid samples and writes the file.
import Communication
import Evaluation
import Foundation
import ForceField
import HDF5
import Kernels
import Linalg
import MDData
import Model
import Training

/// Everything known about one sample, in a flat form that travels through the communicator.
public struct SampleRecord: Sendable {
    public var index: Int
    public var positions: [Double]      // nm, reference atom order (raw order if the topology check failed)
    public var logPrior: Double
    public var deltaLogDet: Double
    public var logQ: Double
    public var energy: Double           // kJ/mol (+∞ if invalid)
    public var topologyOK: Bool
    public var chiralityOK: Bool
    public var mirrored: Bool
    public var logWeight: Double        // −∞ if invalid
    /// Forward-then-reverse check (`run(count:roundTrip:)`): |log q − log q after integrating the
    /// sample back to t = 0| and max |z − z_back| (model units); NaN when not checked.
    public var roundTripLogQError = Double.nan
    public var roundTripLatentError = Double.nan
    /// Whether the ODE integration reached t = 1 (else: coordinates zero, log q NaN, log w −∞).
    public var integrationOK = true
    /// kJ/mol: the force-field energy of `positions` as written, for every sample whose integration
    /// finished, valid or not (mirror-fixed; reference order after a passed bond-graph check, the
    /// sampled order after a failed one); NaN when the integration failed. The Prose/SBG protocol
    /// keeps invalid samples with this energy (field.md §4); equal to `energy` for valid samples.
    public var rawEnergy = Double.nan
    /// The bond-graph check gave up (`BondGraph.Match.budgetExhausted`) rather than finding that
    /// the graphs differ; `topologyOK` is false either way.
    public var isomorphismBudgetExhausted = false

    static let scalarFields = 14

    func flattened() -> [Double] {
        [Double(index), logPrior, deltaLogDet, logQ, energy, topologyOK ? 1 : 0, chiralityOK ? 1 : 0, mirrored ? 1 : 0, logWeight,
         roundTripLogQError, roundTripLatentError, integrationOK ? 1 : 0, rawEnergy, isomorphismBudgetExhausted ? 1 : 0] + positions
    }

    static func unflatten(_ values: ArraySlice<Double>, atoms: Int) -> SampleRecord {
        let v = Array(values)
        var record = SampleRecord(index: Int(v[0]), positions: Array(v[scalarFields..<(scalarFields + 3 * atoms)]), logPrior: v[1],
                                  deltaLogDet: v[2], logQ: v[3], energy: v[4], topologyOK: v[5] != 0, chiralityOK: v[6] != 0,
                                  mirrored: v[7] != 0, logWeight: v[8], roundTripLogQError: v[9], roundTripLatentError: v[10],
                                  integrationOK: v[11] != 0)
        (record.rawEnergy, record.isomorphismBudgetExhausted) = (v[12], v[13] != 0)
        return record
    }

    /// log w = −u/kT − log q of the written coordinates (`rawEnergy`), whether or not the sample
    /// is valid; −∞ for an infinite energy, NaN when the integration failed.
    func rawLogWeight(kT: Double) -> Double {
        guard integrationOK, !rawEnergy.isNaN else { return .nan }
        return rawEnergy == .infinity ? -.infinity : -rawEnergy / kT - logQ
    }
}

extension SampleRecord {
    /// A sample whose integration did not reach t = 1: counted, written with zero coordinates and
    /// log w = −∞, never valid.
    static func failedIntegration(index: Int, atoms: Int, logPrior: Double) -> SampleRecord {
        var record = SampleRecord(index: index, positions: [Double](repeating: 0, count: 3 * atoms), logPrior: logPrior,
                                  deltaLogDet: .nan, logQ: .nan, energy: .infinity, topologyOK: false, chiralityOK: false,
                                  mirrored: false, logWeight: -.infinity)
        record.integrationOK = false
        return record
    }
}

public struct SampleSummary: Sendable {
    public var count: Int
    public var valid: Int
    public var topologyFailures: Int
    /// Bond-graph failures where the isomorphism search ran out of budget (undecided).
    public var isomorphismBudgetExhausted = 0
    public var chiralityFixes: Int
    public var chiralityFailures: Int
    public var effectiveSampleSize: Double
    public var energyMean: Double
    public var energyMinimum: Double
    public var energyMedian: Double
    public var fieldEvaluations: Int
    /// Samples whose integration failed (non-finite state, step-size underflow, too many steps).
    public var integrationFailures = 0
    /// Mean network evaluations (velocity with the exact divergence) per sample, forward pass only.
    public var evaluationsPerSample = Double.nan
    /// Round-trip checks: how many, and the largest |Δ log q| and |Δz| among them.
    public var roundTripChecked = 0
    public var roundTripMaxLogQError = Double.nan
    public var roundTripMaxLatentError = Double.nan

    public var description: String {
        let fraction = count > 0 ? Double(valid) / Double(count) : 0
        let roundTrip = roundTripChecked == 0 ? "" : String(
            format: "; forward-then-reverse check of %d samples: max |Δ log q| %.2e, max |Δz| %.2e (model units)",
            roundTripChecked, roundTripMaxLogQError, roundTripMaxLatentError)
        let exhausted = isomorphismBudgetExhausted == 0 ? "" : String(format: " (%d of them undecided: isomorphism search budget exhausted)", isomorphismBudgetExhausted)
        return String(format: "%d samples: %d valid (%.1f %%), %d failed the integration, %d failed the bond-graph check%@, %d mirrored to the reference chirality, %d with mixed chirality; normalised ESS %.4f (%.1f %%) over the valid samples; energy of valid samples: mean %.2f, median %.2f, min %.2f kJ/mol; %d batched network calls, %.1f velocity evaluations per sample",
                      count, valid, 100 * fraction, integrationFailures, topologyFailures - integrationFailures, exhausted, chiralityFixes, chiralityFailures, effectiveSampleSize,
                      100 * effectiveSampleSize, energyMean, energyMedian, energyMinimum, fieldEvaluations, evaluationsPerSample) + roundTrip
    }
}

public final class SampleRunner {
    let checkpointPath: String
    let checkpoint: CheckpointState
    let peptide: TrajectoryFile
    let settings: SamplerSettings
    let seed: UInt64
    let comm: any Communicator
    let model: EGNNVectorField<Float>
    let features: [Float]
    let energy: EnergyEvaluator
    /// The reference bond graph, labelled by the model's atom classes (`atomClassLabels`).
    let reference: BondGraph
    /// Element symbols (the bond cutoffs of the inferred graph).
    let elements: [String]
    let chirality: ChiralCentres
    let kT: Double
    /// Whether the model's weights are the checkpoint's EMA (used whenever the checkpoint has one).
    public let usesEMA: Bool

    /// The weights in use, in words, for logs and output attributes.
    public var weightsDescription: String {
        usesEMA ? "EMA weights (decay \(checkpoint.config.training.emaDecay.map { "\($0)" } ?? "?"), step \(checkpoint.step))"
                : "raw weights (no EMA in the checkpoint), step \(checkpoint.step)"
    }

    /// A single-molecule model (`atoms` encoding: one class per atom position) only applies to the
    /// molecule it was trained on, atom for atom; any difference is refused, naming the first.
    /// Checkpoints without a training-data record cannot be checked.
    static func requireTrainedTopology(_ checkpoint: CheckpointState, checkpointPath: String, peptide: TrajectoryFile) throws {
        guard checkpoint.config.model.encoding == .atoms, let record = checkpoint.trainingData, let trained = record.peptides.first else { return }
        let atoms = TrainingDataRecord.atoms(of: peptide.topology)
        if let mismatch = TrainingDataRecord.firstMismatch(trained.atoms, atoms) {
            throw DataFormatError(file: peptide.path, "the model in \(checkpointPath) (encoding 'atoms') was trained on \(trained.name) and applies to that molecule only, atom for atom: \(mismatch)")
        }
    }

    public init(checkpointPath: String, peptidePath: String, settings: SamplerSettings, seed: UInt64, communicator: any Communicator) throws {
        self.checkpointPath = checkpointPath
        BLASRuntime.setThreadCount(1)   // one rank per core: OpenBLAS's spinning workers would steal it
        checkpoint = try Checkpoint.read(checkpointPath)
        peptide = try TrajectoryFile(path: peptidePath)
        self.settings = settings
        self.seed = seed
        comm = communicator
        let (rows, width) = try PeptideEncoding.features(of: peptide, encoding: checkpoint.config.model.encoding)
        let egnn = try ModelFactory.egnnConfig(checkpoint.config, featureWidth: width)
        guard ParameterLayout(egnn).count == checkpoint.parameters.count else {
            throw DataFormatError(file: peptidePath, "this peptide gives feature width \(width), the model in \(checkpointPath) was trained with a different width (encoding '\(checkpoint.config.model.encoding.rawValue)'); it cannot be sampled with this model")
        }
        try Self.requireTrainedTopology(checkpoint, checkpointPath: checkpointPath, peptide: peptide)
        model = EGNNVectorField<Float>(config: egnn)
        model.parameters.pointer.update(from: checkpoint.ema ?? checkpoint.parameters, count: checkpoint.parameters.count)
        usesEMA = checkpoint.ema != nil
        features = rows
        do {
            energy = EnergyEvaluator(system: try ForceFieldSystem(xml: peptide.systemXML))
        } catch {
            throw DataFormatError(file: peptidePath, "/openmm_system: \(error)")
        }
        let elements = peptide.topology.atoms.map(\.element)
        self.elements = elements
        reference = BondGraph(elements: elements, bonds: peptide.topology.bonds)
            .relabelled(Self.atomClassLabels(elements: elements, features: rows, width: width))
        try peptide.requireFrames(for: "the reference chirality (taken from frame 0)")
        let frame0 = try peptide.readFrames(0..<1).map(Double.init)
        chirality = ChiralCentres(elements: elements, bonds: peptide.topology.bonds, reference: frame0[...])
        guard let kT = peptide.metadata.kT else {
            throw DataFormatError(file: peptidePath, "/metadata has neither kT_kJ_per_mol nor temperature_K")
        }
        self.kT = kT
    }

    /// One label per atom for the topology check: its element and the model's features (the
    /// non-zero columns of its feature row), so that atoms the model tells apart (under `full`:
    /// atom type, amino acid and position; under `atoms`: each atom) are never swapped by the
    /// isomorphism, while atoms it cannot tell apart (the hydrogens of a methyl) may be.
    /// - Parameters: `features`: atoms × `width`, the encoding's rows.
    public static func atomClassLabels(elements: [String], features: [Float], width: Int) -> [String] {
        elements.indices.map { atom in
            let row = features[(atom * width)..<((atom + 1) * width)]
            return elements[atom] + ":" + row.indices.filter { row[$0] != 0 }.map { String($0 - atom * width) }.joined(separator: ",")
        }
    }

    /// What a resumed run must match (SampleChunks.swift): this runner's model, peptide and settings.
    public func runIdentity(count: Int, roundTrip: Int) -> SampleChunks.RunIdentity {
        func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }
        return SampleChunks.RunIdentity(checkpoint: absolute(checkpointPath), checkpointStep: checkpoint.step, peptide: absolute(peptide.path),
                                        count: count, chunk: max(1, settings.chunk), seed: seed, roundTrip: roundTrip, settings: settings)
    }

    /// What the checkpoint was trained on (nil for checkpoints older than the record).
    public var trainingData: TrainingDataRecord? { checkpoint.trainingData }

    /// Atoms of the peptide.
    public var atomCount: Int { peptide.atomCount }

    /// The integrator of this peptide under the checkpoint's model (what `run` uses).
    public func makeSampler() -> FlowSampler { FlowSampler(model: model, features: features, atoms: peptide.atomCount) }

    /// What `run` produced. On rank 0: every sample in index order and the summary, unless the run
    /// was stopped (then `records` is empty and the finished chunks are on disk). Elsewhere: empty.
    public struct Outcome {
        public var records: [SampleRecord] = []
        public var summary: SampleSummary?
        /// A rank saw `shouldStop()`: every rank stopped after its chunk in flight.
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
        let sampler = makeSampler()
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
            progress(String(format: "progress: ~%d/%d samples (chunks handed out), %.2f samples/s, valid %.1f %%, ESS %@ (rank 0's %d samples), ETA %.0f s",
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
            let (records, chunkEvaluations, chunkSampleEvaluations) = try sample(indices: indices, roundTrip: roundTrip, sampler: sampler)
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
        outcome.stopped = comm.allreduce(Int64(stopped ? 1 : 0), .max) != 0
        outcome.resumedChunks = Int(comm.allreduce(Int64(resumed), .sum))
        outcome.finishedChunks = outcome.resumedChunks + Int(comm.allreduce(Int64(computed), .sum))
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
            outcome.summary = summarize(records, evaluations: totalEvaluations)
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
        outcome.summary = summarize(outcome.records, evaluations: evaluations)
        outcome.summary?.evaluationsPerSample = sampleEvaluations / Double(max(1, count))
        return outcome
    }

    /// Integrates, checks and weights the samples `indices` (one chunk).
    /// - Returns: their records, the batched network calls and the per-sample velocity evaluations.
    func sample(indices: [Int], roundTrip: Int, sampler: FlowSampler) throws -> ([SampleRecord], Int, Double) {
        let atoms = peptide.atomCount
        var states: [Double] = [], logPriors: [Double] = []
        for index in indices {
            let z = MeanFreePrior.sample(atoms: atoms, seed: seed, index: index)
            logPriors.append(MeanFreePrior.logDensity(z[...], atoms: atoms))
            states += z + [0]
        }
        let latents = states
        let statistics = try sampler.integrate(states: &states, from: 0, to: 1, settings: settings)
        let checked = try roundTripErrors(sampler: sampler, rows: indices.indices.filter { indices[$0] < roundTrip && statistics.succeeded($0) },
                                          latents: latents, samples: states)
        var records: [SampleRecord] = []
        for (row, index) in indices.enumerated() {
            let base = row * (3 * atoms + 1)
            guard statistics.succeeded(row) else {
                records.append(SampleRecord.failedIntegration(index: index, atoms: atoms, logPrior: logPriors[row]))
                continue
            }
            var record = postprocess(index: index, modelUnits: Array(states[base..<(base + 3 * atoms)]), logPrior: logPriors[row],
                                     deltaLogDet: states[base + 3 * atoms])
            if let errors = checked[row] { (record.roundTripLogQError, record.roundTripLatentError) = errors }
            records.append(record)
        }
        return (records, statistics.fieldEvaluations, Double(statistics.sampleEvaluations.reduce(0, +)))
    }

    /// Integrates rows `rows` of `samples` (x₁, Δ) back to t = 0 and compares with their `latents`.
    func roundTripErrors(sampler: FlowSampler, rows: [Int], latents: [Double], samples: [Double]) throws -> [Int: (Double, Double)] {
        guard !rows.isEmpty else { return [:] }
        let atoms = peptide.atomCount, width = 3 * atoms + 1
        var states: [Double] = []
        for row in rows { states += samples[(row * width)..<(row * width + 3 * atoms)] + [0] }
        let statistics = try sampler.integrate(states: &states, from: 1, to: 0, settings: settings)
        var errors: [Int: (Double, Double)] = [:]
        for (k, row) in rows.enumerated() {
            guard statistics.succeeded(k) else {
                errors[row] = (.infinity, .infinity)
                continue
            }
            let z = latents[(row * width)..<(row * width + 3 * atoms)]
            let back = states[(k * width)..<(k * width + 3 * atoms)]
            let forward: Double = MeanFreePrior.logDensity(z, atoms: atoms) - samples[row * width + 3 * atoms]
            let reverse: Double = MeanFreePrior.logDensity(back, atoms: atoms) + states[k * width + 3 * atoms]
            var latentError = 0.0
            for (a, b) in zip(z, back) { latentError = max(latentError, abs(a - b)) }
            errors[row] = (abs(forward - reverse), latentError)
        }
        return errors
    }

    func postprocess(index: Int, modelUnits: [Double], logPrior: Double, deltaLogDet: Double) -> SampleRecord {
        let atoms = peptide.atomCount
        let nm = modelUnits.map { $0 / checkpoint.config.model.scaling }
        var record = SampleRecord(index: index, positions: nm, logPrior: logPrior, deltaLogDet: deltaLogDet,
                                  logQ: logPrior - deltaLogDet, energy: .infinity, topologyOK: false, chiralityOK: false,
                                  mirrored: false, logWeight: -.infinity)
        // Every sample gets the energy of its written coordinates (`rawEnergy`), valid or not.
        func forceFieldEnergy(_ positions: [Double]) -> Double {
            positions.withUnsafeBufferPointer { energy.evaluate($0, frameCount: 1, forces: false, threads: 1) }.totals[0]
        }
        let inferred = BondGraph.inferred(elements: elements, positions: nm[...]).relabelled(reference.elements)
        let mapping: [Int]
        switch reference.match(to: inferred) {
        case .isomorphic(let found): mapping = found
        case .notIsomorphic:
            record.rawEnergy = forceFieldEnergy(nm)
            return record
        case .budgetExhausted:
            record.isomorphismBudgetExhausted = true
            record.rawEnergy = forceFieldEnergy(nm)
            return record
        }
        record.topologyOK = true
        var ordered = [Double](repeating: 0, count: atoms * 3)
        for (referenceAtom, sampleAtom) in mapping.enumerated() {
            for axis in 0..<3 { ordered[3 * referenceAtom + axis] = nm[3 * sampleAtom + axis] }
        }
        switch chirality.verdict(ordered[...]) {
        case .correct: record.chiralityOK = true
        case .mirrored:
            ordered = ordered.map { -$0 }
            record.chiralityOK = true
            record.mirrored = true
        case .mixed: break
        }
        record.positions = ordered
        record.rawEnergy = forceFieldEnergy(ordered)
        guard record.chiralityOK else { return record }
        record.energy = record.rawEnergy
        if record.energy.isFinite { record.logWeight = -record.energy / kT - record.logQ }
        return record
    }

    func summarize(_ records: [SampleRecord], evaluations: Int) -> SampleSummary {
        let valid = records.filter { $0.topologyOK && $0.chiralityOK }
        let energies = valid.map(\.energy).filter(\.isFinite).sorted()
        var summary = SampleSummary(
            count: records.count, valid: valid.count, topologyFailures: records.filter { !$0.topologyOK }.count,
            isomorphismBudgetExhausted: records.filter(\.isomorphismBudgetExhausted).count, chiralityFixes: records.filter(\.mirrored).count,
            chiralityFailures: records.filter { $0.topologyOK && !$0.chiralityOK }.count,
            effectiveSampleSize: ImportanceWeights.effectiveSampleSize(logWeights: valid.map(\.logWeight)),
            energyMean: energies.isEmpty ? .nan : energies.reduce(0, +) / Double(energies.count),
            energyMinimum: energies.first ?? .nan, energyMedian: energies.isEmpty ? .nan : energies[energies.count / 2],
            fieldEvaluations: evaluations,
            roundTripChecked: records.filter { !$0.roundTripLogQError.isNaN }.count,
            roundTripMaxLogQError: records.map(\.roundTripLogQError).filter { !$0.isNaN }.max() ?? .nan,
            roundTripMaxLatentError: records.map(\.roundTripLatentError).filter { !$0.isNaN }.max() ?? .nan)
        summary.integrationFailures = records.filter { !$0.integrationOK }.count
        return summary
    }

    /// Writes the samples in MDTraj's HDF5 layout (coordinates in nm, reference order) with the
    /// per-sample datasets under /samples, atomically.
    public func write(_ records: [SampleRecord], summary: SampleSummary, to path: String) throws {
        let atoms = peptide.atomCount
        var metadata: [String: Any] = (try? JSONSerialization.jsonObject(with: Data(peptide.metadataJSON.utf8))) as? [String: Any] ?? [:]
        metadata["kind"] = "samples"
        metadata["n_frames"] = records.count
        metadata["source_peptide_file"] = peptide.path
        let metadataJSON = String(decoding: try JSONSerialization.data(withJSONObject: metadata, options: [.sortedKeys]), as: UTF8.self)
        let contents = TrajectoryContents(
            coordinates: records.flatMap { $0.positions.map(Float.init) }, frameCount: records.count, atomCount: atoms,
            time: records.map { Float($0.index) }, topologyJSON: peptide.topologyJSON, metadataJSON: metadataJSON,
            systemXML: peptide.systemXML, title: "tbg samples of \(peptide.metadata.name ?? peptide.path)")
        let settingsJSON = String(decoding: try JSONEncoder().encode(settings), as: UTF8.self)
        try TrajectoryWriter.write(contents, to: path) { root in
            let group = try root.createGroup("samples")
            let n = records.count
            try group.writeDataset("index", records.map { Int64($0.index) }, shape: [n])
            try group.writeDataset("latent_log_prior", records.map(\.logPrior), shape: [n])
            try group.writeDataset("delta_log_det", records.map(\.deltaLogDet), shape: [n])
            try group.writeDataset("log_q", records.map(\.logQ), shape: [n])
            try group.writeDataset("energy_kj_mol", records.map(\.energy), shape: [n])
            try group.writeDataset("energy_kT", records.map { $0.energy / kT }, shape: [n])
            try group.writeDataset("log_weight", records.map(\.logWeight), shape: [n])
            try group.writeDataset("integration_ok", records.map { UInt8($0.integrationOK ? 1 : 0) }, shape: [n])
            try group.writeDataset("topology_ok", records.map { UInt8($0.topologyOK ? 1 : 0) }, shape: [n])
            try group.writeDataset("chirality_ok", records.map { UInt8($0.chiralityOK ? 1 : 0) }, shape: [n])
            try group.writeDataset("chirality_fixed", records.map { UInt8($0.mirrored ? 1 : 0) }, shape: [n])
            try group.writeDataset("roundtrip_log_q_error", records.map(\.roundTripLogQError), shape: [n])
            try group.writeDataset("roundtrip_latent_error", records.map(\.roundTripLatentError), shape: [n])
            try Self.writeRawWeights(records, kT: kT, to: group)
            try group.writeAttribute("log_q_units", string: "model units (positions x \(checkpoint.config.model.scaling) per nm)")
            try group.writeAttribute("kT_kJ_per_mol", [kT])
            try group.writeAttribute("effective_sample_size", [summary.effectiveSampleSize])
            try group.writeAttribute("config", string: checkpoint.config.json())
            try group.writeAttribute("checkpoint", string: checkpointPath)
            try group.writeAttribute("checkpoint_step", [Int64(checkpoint.step)])
            try group.writeAttribute("weights", string: usesEMA ? "ema" : "raw")
            try group.writeAttribute("evaluations_per_sample", [summary.evaluationsPerSample])
            // Target (force-field) energies computed: one per sample whose integration finished (valid
            // or not: the clipped protocol weights every sample); what SNIS spent, for comparisons at
            // equal budgets (field.md §4).
            try group.writeAttribute("energy_evaluations", [Int64(records.filter(\.integrationOK).count)])
            try group.writeAttribute("peptide", string: peptide.path)
            try group.writeAttribute("sampler", string: settingsJSON)
            try group.writeAttribute("seed", [Int64(bitPattern: seed)])
            try group.writeAttribute("ranks", [Int64(comm.size)])
        }
    }
}
