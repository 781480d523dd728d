// The sample file, reader and writer in one place: what `tbg sample`, `tbg smc` and `tbg mcmc`
// write, and what `tbg evaluate`, `tbg smc` and `tbg mcmc` read.
//
// Layout: MDTraj's HDF5 trajectory layout (coordinates in nm, in the peptide's reference atom order;
// topology, /openmm_system, /metadata with kind = "samples"), so `mdtraj.load` reads it, plus
//   /samples/<name>      one value per frame of /coordinates:
//       index (int64), energy_kj_mol, energy_kT, log_weight (float64), integration_ok, topology_ok,
//       chirality_ok, chirality_fixed (uint8); tbg sample adds latent_log_prior, delta_log_det, log_q,
//       roundtrip_log_q_error, roundtrip_latent_error, raw_energy, raw_log_weight,
//       isomorphism_budget_exhausted (RawSampleWeights.swift), ode_evaluations (velocity evaluations
//       of the sample's integration: how stiff its path was); smc/mcmc add source_frame (and chain);
//   /samples@kT_kJ_per_mol        the kT the weights were computed at (required to read)
//   /samples@energy_evaluations   target-energy evaluations spent (field.md §4 budgets); readers fall
//                                 back to one per valid sample (what tbg sample spent before it weighed every sample)
//   /samples@sampler              "flow" (tbg sample), "smc" or "mcmc"; files of tbg sample before
//                                 2026-12 hold the ODE settings JSON here instead (read as "flow")
//   /samples@settings             the sampler's settings (JSON, sorted keys)
//   /samples@checkpoint_content, @peptide_content   "BYTES:FNV-1a hash" of the checkpoint and peptide
//                                 files the run read (tbg sample since 2026-12-02)
//   /samples/seed, @seeds, @pooled_from   a pool of several runs (SamplePool.swift) instead of @seed
// and further provenance attributes (see the writers). A sample is valid when topology_ok and
// chirality_ok; only valid samples' coordinates need be finite.
import FlowModel
import Foundation
import HDF5
import MDData

/// A sample file opened for reading: the trajectory, the /samples group and its kT. The per-sample
/// datasets are read on request, each checked for presence and shape with an error naming the file.
public struct SampleFile {
    public let trajectory: TrajectoryFile
    /// kJ/mol, from /samples@kT_kJ_per_mol.
    public let kT: Double
    let group: HDF5Group
    /// What the reader expects the file to be, in the errors' hint.
    let hint: String

    public var path: String { trajectory.path }
    public var frameCount: Int { trajectory.frameCount }

    /// Reads /samples and its kT from an opened trajectory file.
    /// - Throws: `DataFormatError` naming the file when /samples or a positive, finite
    ///   /samples@kT_kJ_per_mol is missing; `hint` says what the file should have been.
    public init(trajectory: TrajectoryFile, hint: String = "the input is the output of tbg sample --out") throws {
        self.trajectory = trajectory
        self.hint = hint
        let path = trajectory.path
        do {
            let root = try HDF5File(opening: path).root()
            guard root.kind(of: "samples") == .group else {
                throw DataFormatError(file: path, "missing group /samples; expected the per-sample datasets of tbg sample", hint: hint)
            }
            group = try root.group("samples")
        } catch let error as HDF5Error {
            throw DataFormatError(error)
        }
        guard group.hasAttribute("kT_kJ_per_mol"), let kT = try? group.readAttribute("kT_kJ_per_mol", as: Double.self).first, kT > 0, kT.isFinite else {
            throw DataFormatError(file: path, "/samples has no positive attribute kT_kJ_per_mol; expected the kT the weights were computed at", hint: hint)
        }
        self.kT = kT
    }

    /// The dataset /samples/`name`, which must hold one value per frame; `expected` describes it
    /// in the error when it is missing.
    public func dataset(_ name: String, expected: String) throws -> HDF5Dataset {
        guard group.kind(of: name) == .dataset else {
            throw DataFormatError(file: path, "missing dataset /samples/\(name); expected \(expected)", hint: hint)
        }
        do {
            let dataset = try group.dataset(name)
            guard dataset.shape == [frameCount] else {
                throw DataFormatError(file: path, "/samples/\(name) has shape \(dataset.shape), expected [\(frameCount)] (one value per frame of /coordinates)")
            }
            return dataset
        } catch let error as HDF5Error {
            throw DataFormatError(error)
        }
    }

    /// The dataset /samples/`name` if the file has one (checked as `dataset`), else nil: for the
    /// datasets that only some writers or versions record.
    public func optionalDataset(_ name: String, expected: String) throws -> HDF5Dataset? {
        group.kind(of: name) == nil ? nil : try dataset(name, expected: expected)
    }

    func flags(_ name: String) throws -> [Bool] {
        try dataset(name, expected: "uint8 flag per sample").read(as: UInt8.self).map { $0 != 0 }
    }

    /// The flag dataset /samples/`name` if the file has one (checked as `dataset`), else nil.
    public func optionalFlags(_ name: String) throws -> [Bool]? {
        try optionalDataset(name, expected: "uint8 flag per sample")?.read(as: UInt8.self).map { $0 != 0 }
    }

    /// log w per sample: finite, or −∞ (weight 0: an invalid sample). NaN and +∞ are refused,
    /// naming the sample: no writer of this format produces them, and either one would silently
    /// make every weight undefined (+∞) or drop the sample from the ESS (NaN).
    public func logWeights() throws -> [Double] {
        let values = try dataset("log_weight", expected: "float64 log importance weight per sample").read(as: Double.self)
        if let bad = values.firstIndex(where: { $0.isNaN || $0 == .infinity }) {
            throw DataFormatError(file: path, "/samples/log_weight of sample \(bad) is \(values[bad]); expected a finite log weight, or -inf for a sample of weight 0", hint: hint)
        }
        return values
    }

    /// Energy per sample in kJ/mol (converted when another tool wrote a units attribute).
    public func energies() throws -> [Double] {
        let dataset = try dataset("energy_kj_mol", expected: "float64 energy per sample in kJ/mol")
        let factor = try PhysicalUnits.factor(of: dataset, quantity: .energy)
        return try dataset.read(as: Double.self).map { $0 * factor }
    }

    public func topologyOK() throws -> [Bool] { try flags("topology_ok") }
    public func chiralityOK() throws -> [Bool] { try flags("chirality_ok") }
    public func chiralityFixed() throws -> [Bool] { try flags("chirality_fixed") }

    /// All frames' coordinates (nm), unchecked: invalid samples may hold anything.
    public func coordinates() throws -> [Float] { try trajectory.readFrames(0..<frameCount, requireFinite: false) }

    /// Target-energy evaluations the samples cost: /samples@energy_evaluations when present, else
    /// `validCount` (tbg sample evaluates the energy of each valid sample only).
    public func energyEvaluations(validCount: Int) -> Int {
        guard group.hasAttribute("energy_evaluations") else { return validCount }
        return Int((try? group.readAttribute("energy_evaluations", as: Int64.self).first ?? Int64(validCount)) ?? Int64(validCount))
    }

    /// /samples@sampler: "flow", "smc", "mcmc" (or another writer's name); nil when absent. Files of
    /// the older tbg sample, which stored its ODE settings (a JSON object) there, read as "flow".
    public var sampler: String? {
        let attribute = group.hasAttribute("sampler") ? try? group.readStringAttribute("sampler") : nil
        return attribute.map { $0.hasPrefix("{") ? "flow" : $0 }
    }

    /// Where each sample's latent came from: its seed (/samples/seed of a pool, else /samples@seed)
    /// and its index (/samples/index), so that `MeanFreePrior.sample(atoms:seed:index:)` draws it again.
    /// - Returns: nil when the file records no seed.
    /// - Throws: `DataFormatError` when /samples/index is missing or not one value per sample.
    public func latentSources() throws -> (seeds: [UInt64], indices: [Int64])? {
        let indices = try dataset("index", expected: "int64 sample index per sample").read(as: Int64.self)
        if let perSample = try optionalDataset("seed", expected: "int64 seed per sample") {
            return (try perSample.read(as: Int64.self).map { UInt64(bitPattern: $0) }, indices)
        }
        guard let seed = integerAttribute("seed") else { return nil }
        return (Array(repeating: UInt64(bitPattern: seed), count: frameCount), indices)
    }

    /// Optional provenance attributes of /samples (nil when absent or of another type).
    public func stringAttribute(_ name: String) -> String? {
        group.hasAttribute(name) ? try? group.readStringAttribute(name) : nil
    }
    public func integerAttribute(_ name: String) -> Int64? {
        group.hasAttribute(name) ? (try? group.readAttribute(name, as: Int64.self))?.first : nil
    }
    public func integerArrayAttribute(_ name: String) -> [Int64]? {
        group.hasAttribute(name) ? try? group.readAttribute(name, as: Int64.self) : nil
    }
    public func doubleAttribute(_ name: String) -> Double? {
        group.hasAttribute(name) ? (try? group.readAttribute(name, as: Double.self))?.first : nil
    }
}

/// `value` as JSON with sorted keys, so that the same settings always give the same attribute.
public func sortedJSON<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

extension SampleFile {
    /// What produced a `tbg sample` file, for its /samples attributes.
    public struct Provenance {
        public var checkpoint: String
        public var checkpointStep: Int
        /// The checkpoint's resolved run configuration (JSON).
        public var configJSON: String
        public var usesEMA: Bool
        public var settings: SamplerSettings
        public var seed: UInt64
        public var ranks: Int
        /// "BYTES:FNV-1a" of the checkpoint and peptide files (SampleChunks.RunIdentity), when known:
        /// /samples@checkpoint_content and @peptide_content, which `tbg pool` compares.
        public var checkpointContent: String?
        public var peptideContent: String?

        public init(checkpoint: String, checkpointStep: Int, configJSON: String, usesEMA: Bool, settings: SamplerSettings, seed: UInt64, ranks: Int,
                    checkpointContent: String? = nil, peptideContent: String? = nil) {
            (self.checkpoint, self.checkpointStep, self.configJSON, self.usesEMA) = (checkpoint, checkpointStep, configJSON, usesEMA)
            (self.settings, self.seed, self.ranks) = (settings, seed, ranks)
            (self.checkpointContent, self.peptideContent) = (checkpointContent, peptideContent)
        }
    }

    /// Writes `tbg sample`'s records (index order) atomically: the trajectory of `peptide` with the
    /// samples as frames (time = sample index) and every per-sample quantity under /samples.
    public static func write(_ records: [SampleRecord], summary: SampleSummary, peptide: TrajectoryFile, kT: Double, units: ModelUnits,
                             provenance: Provenance, to path: String) throws {
        let settingsJSON = try sortedJSON(provenance.settings)
        // Absolute paths: the file is read from other folders (plots, notebooks, a moved run).
        let peptidePath = URL(fileURLWithPath: peptide.path).standardizedFileURL.path
        try writeTrajectory(
            source: peptide, positions: records.flatMap { $0.positions.map(Float.init) }, frameCount: records.count,
            time: records.map { Float($0.index) }, metadata: ["source_peptide_file": peptidePath],
            title: "tbg samples of \(peptide.metadata.name ?? peptide.path)", to: path
        ) { group in
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
            try group.writeDataset("ode_evaluations", records.map(\.odeEvaluations), shape: [n])
            try writeRawWeights(records, kT: kT, to: group)
            try group.writeAttribute("log_q_units", string: units.logDensityUnits)
            try group.writeAttribute("kT_kJ_per_mol", [kT])
            try group.writeAttribute("effective_sample_size", [summary.effectiveSampleSize])
            try group.writeAttribute("config", string: provenance.configJSON)
            try group.writeAttribute("checkpoint", string: provenance.checkpoint)
            try group.writeAttribute("checkpoint_step", [Int64(provenance.checkpointStep)])
            try group.writeAttribute("weights", string: provenance.usesEMA ? "ema" : "raw")
            try group.writeAttribute("evaluations_per_sample", [summary.evaluationsPerSample])
            // Target (force-field) energies computed: one per sample whose integration finished (valid
            // or not: the clipped protocol weights every sample); what SNIS spent, for comparisons at
            // equal budgets (field.md §4).
            try group.writeAttribute("energy_evaluations", [Int64(records.filter(\.integrationOK).count)])
            try group.writeAttribute("peptide", string: peptidePath)
            try group.writeAttribute("sampler", string: "flow")
            try group.writeAttribute("settings", string: settingsJSON)
            try group.writeAttribute("seed", [Int64(bitPattern: provenance.seed)])
            try group.writeAttribute("ranks", [Int64(provenance.ranks)])
            if let content = provenance.checkpointContent { try group.writeAttribute("checkpoint_content", string: content) }
            if let content = provenance.peptideContent { try group.writeAttribute("peptide_content", string: content) }
        }
    }

    /// The layout every sample file shares, written atomically: `source`'s topology, System and
    /// metadata (plus kind = "samples", n_frames and `metadata`), the frames `positions` (nm,
    /// frameCount × 3·atoms), and a /samples group that `samples` fills; `body` may add more to the
    /// root after it.
    static func writeTrajectory(source: TrajectoryFile, positions: [Float], frameCount: Int, time: [Float], metadata extra: [String: Any],
                                title: String, to path: String, samples: (HDF5Group) throws -> Void,
                                body: (HDF5Group) throws -> Void = { _ in }) throws {
        var metadata: [String: Any] = (try? JSONSerialization.jsonObject(with: Data(source.metadataJSON.utf8))) as? [String: Any] ?? [:]
        metadata["kind"] = "samples"
        metadata["n_frames"] = frameCount
        for (key, value) in extra { metadata[key] = value }
        let metadataJSON = String(decoding: try JSONSerialization.data(withJSONObject: metadata, options: [.sortedKeys]), as: UTF8.self)
        let contents = TrajectoryContents(
            coordinates: positions, frameCount: frameCount, atomCount: source.atomCount, time: time, topologyJSON: source.topologyJSON,
            metadataJSON: metadataJSON, systemXML: source.systemXML, title: title)
        try TrajectoryWriter.write(contents, to: path) { root in
            try samples(try root.createGroup("samples"))
            try body(root)
        }
    }
}
