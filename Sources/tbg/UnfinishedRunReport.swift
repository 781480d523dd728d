// `tbg inspect` of an unfinished `tbg sample` run: its chunk folder OUT.chunks/, the folder's
// run.json, or OUT itself while only OUT.chunks/ exists (SampleChunks.swift). It says what the run
// is (checkpoint and step, peptide, count, seed, ODE settings), how far it got, and the command that
// continues it; without this, inspecting them gave "not an HDF5 file" or a JSON decoding error.
import Foundation
import HDF5
import MDData
import Sampling

struct UnfinishedRunReport: Encodable {
    let kind = "unfinished_sampling_run"
    /// The chunk folder.
    let file: String
    /// The output the run will write when complete.
    let output: String
    let run: SampleChunks.RunIdentity
    let chunks: Int
    let finishedChunks: Int
    let finishedSamples: Int
    /// Chunk files that do not read as this run's (a resume sets them aside and computes them
    /// again), one line each, and chunk files a resume has set aside already (CHUNK.damaged).
    let damaged: [String]
    let setAsideChunks: Int
    let resumeCommand: String
    /// When `tbg inspect` was given one chunk file of the run: which chunk it is and whether it reads
    /// as the run's (nil otherwise).
    var inspectedChunk: InspectedChunk?

    struct InspectedChunk: Encodable {
        let file: String
        let chunk: Int
        /// First and last sample index the chunk holds.
        let samples: [Int]
        /// Whether it reads as this run's chunk (sample indices, run description, checksum).
        let sound: Bool
        /// What is wrong with it (nil when sound).
        let problem: String?
        /// What it is, for a chunk a resume set aside at another count (nil otherwise).
        let note: String?
    }

    enum CodingKeys: String, CodingKey {
        case kind, file, output, run, chunks
        case inspectedChunk = "inspected_chunk"
        case finishedChunks = "finished_chunks"
        case finishedSamples = "finished_samples"
        case damaged = "damaged_chunks"
        case setAsideChunks = "set_aside_chunks"
        case resumeCommand = "resume_command"
    }

    /// The chunk folder that `path` names, if it names one: OUT.chunks, OUT.chunks/run.json, or an
    /// OUT that does not exist while OUT.chunks/run.json does.
    static func folder(for path: String) -> String? {
        let manager = FileManager.default
        var trimmed = path
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
        if trimmed.hasSuffix(".chunks/run.json") { return String(trimmed.dropLast("/run.json".count)) }
        var isDirectory: ObjCBool = false
        if trimmed.hasSuffix(".chunks"), manager.fileExists(atPath: trimmed, isDirectory: &isDirectory), isDirectory.boolValue { return trimmed }
        if !manager.fileExists(atPath: trimmed), manager.fileExists(atPath: SampleChunks.folder(for: trimmed) + "/run.json") {
            return SampleChunks.folder(for: trimmed)
        }
        return nil
    }

    /// The chunk folder and chunk index of a chunk file `FOLDER.chunks/chunk-NNNNNN.h5` (or one a
    /// resume set aside, `….h5.damaged[-n]` or `….h5.other-count[-n]`), else nil.
    static func chunkFile(_ path: String) -> (folder: String, chunk: Int, setAside: Bool)? {
        let url = URL(fileURLWithPath: path)
        let name = url.lastPathComponent, folder = url.deletingLastPathComponent().path
        guard folder.hasSuffix(".chunks"), name.hasPrefix("chunk-"), let dot = name.firstIndex(of: ".") else { return nil }
        let suffix = name[dot...]
        guard let k = Int(name[name.index(name.startIndex, offsetBy: 6)..<dot]), k >= 0, suffix == ".h5" || SampleChunks.isSetAside(name) else { return nil }
        return (folder, k, suffix != ".h5")
    }

    /// A chunk file away from its run's folder (copied or renamed): a line naming the run it
    /// belongs to, from its own 'run' and 'chunk' attributes; nil when `path` is not a chunk file.
    static func strayChunk(_ path: String) -> String? {
        guard let root = try? HDF5File(opening: path).root(), root.kind(of: "records") == .dataset,
              let run = SampleChunks.runIdentity(ofChunkFile: path) else { return nil }
        let k = (try? root.readAttribute("chunk", as: Int64.self).first).flatMap { $0 }.map { "chunk \($0)" } ?? "a chunk"
        return "\(k) of a tbg sample run (\(run.count) samples of \(run.peptide) with \(run.checkpoint) at step \(run.checkpointStep), seed \(run.seed), chunks of \(run.chunk)), away from its run's folder OUT.chunks/ (as chunk-NNNNNN.h5 beside run.json): it is read only there, by tbg sample --resume"
    }

    /// The report of the run that chunk file `path` belongs to, with that chunk checked.
    /// - Throws: as `init(folder:)`; a chunk index outside the run.
    init(chunkFile path: String) throws {
        guard let (folder, k, setAside) = Self.chunkFile(path) else {
            throw SampleChunksError("\(path) is not a chunk file of a tbg sample run (FOLDER.chunks/chunk-NNNNNN.h5)")
        }
        try self.init(folder: folder)
        let view = SampleChunks(folder: folder, identity: run, atoms: 0)
        guard k < chunks || setAside else {
            throw SampleChunksError("\(path): chunk \(k) is outside the run in \(folder) (\(chunks) chunks of \(run.chunk) samples)")
        }
        if path.contains(".h5.other-count") {
            // Sound samples of this run at another count: the extent at the count it was written at
            // (its own run description says which), checked as a chunk of that count.
            let written = SampleChunks.runIdentity(ofChunkFile: path)?.count
            var atWritten = run
            atWritten.count = written ?? run.count
            let range = (k * run.chunk)..<max(k * run.chunk, min(atWritten.count, (k + 1) * run.chunk))
            let problem = written == nil ? "its run description (attribute 'run') cannot be read"
                : SampleChunks(folder: folder, identity: atWritten, atoms: 0).problem(ofFile: path, chunk: k)
            inspectedChunk = InspectedChunk(file: path, chunk: k, samples: [range.lowerBound, range.upperBound - 1], sound: problem == nil, problem: problem,
                                            note: written.map { "set aside by a resume at --count \(run.count); written at --count \($0), whose chunk \(k) it is: a resume at --count \($0) takes it back while the run is unfinished" })
            return
        }
        // A chunk set aside at a larger count may lie past this count's last sample.
        let range = k < chunks ? view.indices(ofChunk: k) : (k * run.chunk)..<((k + 1) * run.chunk)
        let problem = setAside ? "set aside by a resume (damaged, or another run's); chunk \(k) is computed again" : view.problem(ofChunk: k)
        inspectedChunk = InspectedChunk(file: path, chunk: k, samples: [range.lowerBound, range.upperBound - 1], sound: problem == nil,
                                        problem: problem, note: nil)
    }

    /// - Throws: `SampleChunksError` naming run.json when it is missing or not a run description.
    init(folder: String) throws {
        run = try SampleChunks.readIdentity(manifest: folder + "/run.json")
        file = folder
        output = String(folder.dropLast(".chunks".count))
        let view = SampleChunks(folder: folder, identity: run, atoms: 0)
        chunks = view.chunkCount
        // Every chunk file is read and checked (indices, run, checksum), as a resume would.
        var done: [Int] = [], problems: [String] = []
        for k in view.doneChunks() {
            if let problem = view.problem(ofChunk: k) { problems.append(problem) } else { done.append(k) }
        }
        finishedChunks = done.count
        finishedSamples = done.map { view.indices(ofChunk: $0).count }.reduce(0, +)
        damaged = problems
        setAsideChunks = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter (SampleChunks.isSetAside).count
        var words = ["tbg", "sample", "--checkpoint", run.checkpoint, "--peptide", run.peptide, "--count", "\(run.count)",
                     "--chunk", "\(run.chunk)", "--seed", "\(run.seed)", "--method", run.settings.method]
        if run.settings.method == "rk4" {
            words += ["--steps", "\(run.settings.steps)"]
        } else {
            // One --tolerance sets both; runs made by tbg always have them equal.
            words += ["--tolerance", "\(run.settings.absoluteTolerance)", "--max-steps", "\(run.settings.maximumSteps)"]
        }
        words += ["--micro-batch", "\(run.settings.microBatch)"]
        if run.roundTrip > 0 { words += ["--round-trip", "\(run.roundTrip)"] }
        words += ["--out", output, "--resume"]
        // An earlier output under the same name: the run was started with --overwrite.
        if FileManager.default.fileExists(atPath: output) { words.append("--overwrite") }
        resumeCommand = words.map(Self.shellQuoted).joined(separator: " ")
    }

    var text: String {
        let settings = run.settings.method == "rk4"
            ? "rk4, \(run.settings.steps) steps"
            : "dopri5, atol \(run.settings.absoluteTolerance), rtol \(run.settings.relativeTolerance), at most \(run.settings.maximumSteps) steps"
        var lines: [String] = []
        if let inspected = inspectedChunk {
            let named = "\(inspected.file): chunk \(inspected.chunk) (samples \(inspected.samples[0])…\(inspected.samples[1])) of the run below"
            lines.append(inspected.problem.map { named + ", NOT sound: \($0)" }
                         ?? named + ", sound (its sample indices, run description and checksum match)")
            if let note = inspected.note { lines.append("  \(note)") }
        }
        lines += [
            "\(file): an unfinished tbg sample run (its output \(output) is written when every chunk is done)",
            "  checkpoint   \(run.checkpoint) (step \(run.checkpointStep))",
            "  peptide      \(run.peptide)",
            "  samples      \(run.count) in \(chunks) chunk(s) of \(run.chunk); seed \(run.seed)\(run.roundTrip > 0 ? "; round trip of \(run.roundTrip)" : "")",
            "  ODE          \(settings), micro-batch \(run.settings.microBatch)",
            "  finished     \(finishedChunks) of \(chunks) chunks (\(finishedSamples) of \(run.count) samples)",
        ]
        for problem in damaged { lines.append("  damaged      \(problem) (a resume sets it aside and computes it again)") }
        if setAsideChunks > 0 { lines.append("  set aside    \(setAsideChunks) chunk file(s) (*.damaged: damaged, or another run's, computed again; *.other-count: of another --count); moved to \(String(output)).set-aside/ (or -2, -3, …) when the run completes") }
        if FileManager.default.fileExists(atPath: output) { lines.append("  replaces     \(output), which exists (the run was started with --overwrite)") }
        lines.append("  continue     \(resumeCommand)   (under mpirun with any number of ranks)")
        return lines.joined(separator: "\n")
    }

    private static func shellQuoted(_ word: String) -> String {
        let plain = word.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:+@,".contains($0) }
        return plain && !word.isEmpty ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
