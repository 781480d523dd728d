// Pooling independent `tbg sample` runs of one model and one peptide into one sample file, so that
// samples drawn in several jobs (SLURM array tasks with --seed 1, 2, …; a later session that adds
// 2 000 samples to a milestone's 2 000) are evaluated, reweighted and used as proposals together.
//
// Pooling is exact for self-normalised importance sampling: every input holds i.i.d. draws of the
// same proposal q (same checkpoint, same weights, same ODE method and tolerances, same peptide and
// force field, same kT), so their union is an i.i.d. sample of q of the summed size, and the log
// weights −u(x) − log q(x) need no change. What would break that is refused, naming the file and
// what differs:
//   - an input that is not a tbg sample output (smc/mcmc outputs are resampled or correlated);
//   - another checkpoint step, training configuration, EMA/raw weights, or (where both files record
//     it) another checkpoint or peptide content hash;
//   - another ODE method, tolerance, rk4 step count or step limit (log q carries the ODE's error);
//     the micro-batch and chunk sizes are not compared: they change no sample's distribution;
//   - another topology, OpenMM System, kT or log q unit;
//   - a repeated (seed, sample index): sample i of seed s is the same latent in every run, so two
//     runs with one seed repeat their samples.
//
// Layout of the pool (SampleFile.swift's, so every reader of a sample file reads it): the inputs'
// frames in input order; every per-sample dataset under /samples that all inputs hold, concatenated
// (with its attributes, e.g. units); /samples/seed (int64) with each sample's seed beside
// /samples/index; /samples@seeds (the distinct seeds), /samples@pooled_from (JSON: each input's
// path, sample count and seeds) instead of /samples@seed and @ranks; effective_sample_size,
// energy_evaluations and evaluations_per_sample recomputed over the pool; the other provenance
// attributes are the first input's. Datasets only some inputs hold are left out and named.
import Evaluation
import Foundation
import HDF5
import MDData

public enum SamplePool {
    /// What a pooling wrote.
    public struct Summary: Sendable {
        public var inputs: [(path: String, samples: Int, seeds: [UInt64])]
        public var samples: Int
        public var valid: Int
        /// Normalised Kish ESS over the valid samples' log weights (as tbg sample reports it).
        public var effectiveSampleSize: Double
        /// Per-sample datasets that not every input holds, with the first input that lacks each.
        public var dropped: [(dataset: String, missingIn: String)]
    }

    /// One input read and checked on its own.
    struct Input {
        let path: String
        let file: SampleFile
        /// Per sample: its seed (/samples/seed of a pool, else /samples@seed) and index.
        let seeds: [UInt64]
        let indices: [Int64]
        let settings: SamplerSettings
    }

    static let hint = "the inputs of a pool are outputs of tbg sample --out (or earlier pools)"

    /// Pools the sample files `paths` (at least two) into a new sample file `out`, written atomically.
    /// - Throws: `DataFormatError` naming the input and what differs from the first input (see the
    ///   file's header); HDF5 errors of reading or writing.
    @discardableResult
    public static func pool(_ paths: [String], to out: String) throws -> Summary {
        guard paths.count >= 2 else { throw DataFormatError(file: paths.first ?? "(none)", "a pool needs at least two sample files") }
        var seen: [String: String] = [:]
        for path in paths {
            let resolved = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
            if let earlier = seen[resolved] {
                throw DataFormatError(file: path, "is given twice (also as \(earlier)): its samples would count twice")
            }
            seen[resolved] = path
        }
        let inputs = try paths.map(read)
        let first = inputs[0]
        for input in inputs.dropFirst() { try checkCompatible(input, with: first) }
        try checkNoRepeats(inputs)
        let (datasets, dropped) = try sharedDatasets(inputs)

        let frameCount = inputs.map(\.file.frameCount).reduce(0, +)
        var positions: [Float] = []
        positions.reserveCapacity(frameCount * 3 * first.file.trajectory.atomCount)
        var validLogWeights: [Double] = []
        var energyEvaluations: Int64 = 0, networkEvaluations = 0.0
        for input in inputs {
            let valid = zip(try input.file.topologyOK(), try input.file.chiralityOK()).map { $0 && $1 }
            // What every reader of the pool refuses is refused here, naming the input it comes from.
            let coordinates = try input.file.coordinates()
            try input.file.trajectory.requireFinite(coordinates, frames: valid.indices.filter { valid[$0] }, what: "valid sample")
            positions += coordinates
            let mine = zip(try input.file.logWeights(), valid).filter(\.1).map(\.0)
            validLogWeights += mine
            energyEvaluations += Int64(input.file.energyEvaluations(validCount: mine.count))
            networkEvaluations += (input.file.doubleAttribute("evaluations_per_sample") ?? .nan) * Double(input.file.frameCount)
        }
        let ess = ImportanceWeights.effectiveSampleSize(logWeights: validLogWeights)
        var distinctSeeds: [UInt64] = []
        for seed in inputs.flatMap(\.seeds) where !distinctSeeds.contains(seed) { distinctSeeds.append(seed) }
        let provenance: [[String: Any]] = inputs.map { input in
            ["file": URL(fileURLWithPath: input.path).standardizedFileURL.path, "samples": input.file.frameCount, "seeds": Array(Set(input.seeds)).sorted().map { Int64(bitPattern: $0) }]
        }
        let provenanceJSON = String(decoding: try JSONSerialization.data(withJSONObject: provenance, options: [.sortedKeys]), as: UTF8.self)

        try SampleFile.writeTrajectory(
            source: first.file.trajectory, positions: positions, frameCount: frameCount, time: (0..<frameCount).map(Float.init),
            metadata: ["pooled_from": inputs.map { URL(fileURLWithPath: $0.path).standardizedFileURL.path }],
            title: "tbg samples of \(first.file.trajectory.metadata.name ?? first.path) (pool of \(inputs.count) runs)", to: out
        ) { group in
            for name in datasets { try concatenate(name, of: inputs, into: group, count: frameCount) }
            try group.writeDataset("seed", inputs.flatMap(\.seeds).map { Int64(bitPattern: $0) }, shape: [frameCount])
            // Provenance: the first input's, then what the pool changes.
            let replaced: Set<String> = ["seed", "seeds", "ranks", "pooled_from", "effective_sample_size", "energy_evaluations", "evaluations_per_sample"]
            try copyAttributes(of: first.file.group, to: group, except: replaced)
            try group.writeAttribute("effective_sample_size", [ess])
            try group.writeAttribute("energy_evaluations", [energyEvaluations])
            try group.writeAttribute("evaluations_per_sample", [networkEvaluations / Double(frameCount)])
            try group.writeAttribute("seeds", distinctSeeds.map { Int64(bitPattern: $0) })
            try group.writeAttribute("pooled_from", string: provenanceJSON)
        }
        return Summary(inputs: inputs.map { ($0.path, $0.file.frameCount, Array(Set($0.seeds)).sorted()) }, samples: frameCount,
                       valid: validLogWeights.count, effectiveSampleSize: ess, dropped: dropped)
    }

    static func read(_ path: String) throws -> Input {
        let file = try SampleFile(trajectory: try TrajectoryFile(path: path), hint: hint)
        guard file.sampler == "flow" else {
            let what = file.sampler.map { "a tbg \($0) output" } ?? "not a tbg sample output (no /samples@sampler)"
            throw DataFormatError(file: path, "is \(what); only tbg sample outputs are pooled (i.i.d. draws of the flow; smc and mcmc outputs are resampled or correlated)", hint: hint)
        }
        guard let (seeds, indices) = try file.latentSources() else {
            throw DataFormatError(file: path, "/samples has no seed (attribute or per-sample dataset); without it a pool cannot tell whether two runs repeat the same samples", hint: hint)
        }
        guard let text = file.stringAttribute("settings"),
              let settings = try? JSONDecoder().decode(SamplerSettings.self, from: Data(text.utf8)) else {
            throw DataFormatError(file: path, "/samples@settings is missing or not the ODE settings JSON of tbg sample; the pool compares the ODE settings of its inputs", hint: hint)
        }
        return Input(path: path, file: file, seeds: seeds, indices: indices, settings: settings)
    }

    /// Refuses an input whose samples are not draws of the first input's proposal.
    static func checkCompatible(_ input: Input, with first: Input) throws {
        var differences: [String] = []
        func compare<V: Equatable>(_ name: String, _ a: V?, _ b: V?) {
            if a != b { differences.append("\(name) \(b.map { "\($0)" } ?? "absent") here, \(a.map { "\($0)" } ?? "absent") in \(first.path)") }
        }
        let (a, b) = (first.file, input.file)
        compare("checkpoint step", a.integerAttribute("checkpoint_step"), b.integerAttribute("checkpoint_step"))
        compare("model weights (ema/raw)", a.stringAttribute("weights"), b.stringAttribute("weights"))
        if a.stringAttribute("config") != b.stringAttribute("config") { differences.append("the checkpoint's training configuration (/samples@config) differs from \(first.path)'s") }
        for name in ["checkpoint_content", "peptide_content"] {
            if let x = a.stringAttribute(name), let y = b.stringAttribute(name), x != y { compare(name.replacingOccurrences(of: "_", with: " "), x, y) }
        }
        differences += input.settings.integrationDifferences(from: first.settings).map { "ODE \($0.name) \($0.this) here, \($0.other) in \(first.path)" }
        compare("kT (kJ/mol)", a.kT, b.kT)
        compare("log q units", a.stringAttribute("log_q_units"), b.stringAttribute("log_q_units"))
        compare("atoms", a.trajectory.atomCount, b.trajectory.atomCount)
        if a.trajectory.topologyJSON != b.trajectory.topologyJSON { differences.append("another topology than \(first.path)'s") }
        if a.trajectory.systemXML != b.trajectory.systemXML { differences.append("another OpenMM System (force field) than \(first.path)'s") }
        guard differences.isEmpty else {
            throw DataFormatError(file: input.path, "is not a sample of the same proposal as \(first.path): \(differences.joined(separator: "; ")); pool only runs of one checkpoint, peptide and ODE setting (they may differ in --seed, --micro-batch, --chunk and ranks)", hint: hint)
        }
    }

    /// Refuses a (seed, index) pair that occurs twice: the same latent, so the same sample.
    static func checkNoRepeats(_ inputs: [Input]) throws {
        var owner: [SampleKey: String] = [:]
        for input in inputs {
            for (seed, index) in zip(input.seeds, input.indices) {
                let key = SampleKey(seed: seed, index: index)
                if let earlier = owner[key] {
                    let same = earlier == input.path
                    throw DataFormatError(file: input.path, "holds sample \(index) of seed \(seed)\(same ? " twice" : ", which \(earlier) holds too"): runs with the same --seed draw the same latents, so their samples repeat; draw further samples with another --seed")
                }
                owner[key] = input.path
            }
        }
    }

    struct SampleKey: Hashable { let seed: UInt64; let index: Int64 }

    /// The per-sample datasets every input holds (first input's order, /samples/seed excluded), and
    /// those some input lacks.
    static func sharedDatasets(_ inputs: [Input]) throws -> (shared: [String], dropped: [(dataset: String, missingIn: String)]) {
        var shared: [String] = [], dropped: [(dataset: String, missingIn: String)] = []
        let names = try inputs[0].file.group.childNames().filter { $0 != "seed" && inputs[0].file.group.kind(of: $0) == .dataset }
        for name in names {
            if let lacking = inputs.first(where: { $0.file.group.kind(of: name) != .dataset }) {
                dropped.append((name, lacking.path))
            } else {
                shared.append(name)
            }
        }
        for input in inputs.dropFirst() {
            for name in try input.file.group.childNames() where name != "seed" && input.file.group.kind(of: name) == .dataset && !names.contains(name) {
                if !dropped.contains(where: { $0.dataset == name }) { dropped.append((name, inputs[0].path)) }
            }
        }
        return (shared, dropped)
    }

    /// Writes /samples/`name` of the pool: the inputs' datasets end to end, of the first input's type,
    /// with the first input's attributes (units, description).
    static func concatenate(_ name: String, of inputs: [Input], into group: HDF5Group, count: Int) throws {
        let datasets = try inputs.map { try $0.file.dataset(name, expected: "one value per sample") }
        let kind = datasets[0].elementKind
        for (input, dataset) in zip(inputs, datasets) where dataset.elementKind != kind {
            throw DataFormatError(file: input.path, "/samples/\(name) is \(dataset.elementKind), but \(kind) in \(inputs[0].path)", hint: hint)
        }
        func write<T: HDF5Scalar>(_ type: T.Type) throws -> HDF5Dataset {
            try group.writeDataset(name, try datasets.flatMap { try $0.read(as: T.self) }, shape: [count])
        }
        let written: HDF5Dataset
        switch kind {
        case .float(64): written = try write(Double.self)
        case .float(32): written = try write(Float.self)
        case .integer(64, true): written = try write(Int64.self)
        case .integer(32, true): written = try write(Int32.self)
        case .integer(8, false): written = try write(UInt8.self)
        default:
            throw DataFormatError(file: inputs[0].path, "/samples/\(name) is \(kind); a pool concatenates float32/64, int32/64 and uint8 datasets", hint: hint)
        }
        try copyAttributes(of: datasets[0], to: written, except: [])
    }

    /// Copies the string, float64 and int64 attributes of `source` to `target` (other kinds are left out).
    static func copyAttributes(of source: HDF5Object, to target: HDF5Object, except excluded: Set<String>) throws {
        for name in try source.attributeNames() where !excluded.contains(name) {
            switch try source.attributeKind(name) {
            case .fixedString, .variableString:
                let values = try source.readStringArrayAttribute(name)
                if values.count == 1 { try target.writeAttribute(name, string: values[0]) }
            case .float(64): try target.writeAttribute(name, try source.readAttribute(name, as: Double.self))
            case .integer(64, true): try target.writeAttribute(name, try source.readAttribute(name, as: Int64.self))
            default: continue
            }
        }
    }
}
