// `tbg inspect` of an unfinished `tbg sample` run: its chunk folder OUT.chunks/, the folder's
// run.json, or OUT itself while only OUT.chunks/ exists (SampleChunks.swift). It says what the run
// is (checkpoint and step, peptide, count, seed, ODE settings), how far it got, and the command that
// continues it; without this, inspecting them gave "not an HDF5 file" or a JSON decoding error.
import Foundation
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
    /// Chunks a resume found damaged and set aside (CHUNK.damaged).
    let damagedChunks: Int
    let resumeCommand: String

    enum CodingKeys: String, CodingKey {
        case kind, file, output, run, chunks
        case finishedChunks = "finished_chunks"
        case finishedSamples = "finished_samples"
        case damagedChunks = "damaged_chunks"
        case resumeCommand = "resume_command"
    }

    /// The chunk folder that `path` names, if it names one: OUT.chunks, OUT.chunks/run.json, or an
    /// OUT that does not exist while OUT.chunks/run.json does.
    static func folder(for path: String) -> String? {
        let manager = FileManager.default
        var trimmed = path
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
        if trimmed.hasSuffix(".chunks/run.json") { return String(trimmed.dropLast("/run.json".count)) }
        if trimmed.hasSuffix(".chunks"), manager.fileExists(atPath: trimmed + "/run.json") { return trimmed }
        if !manager.fileExists(atPath: trimmed), manager.fileExists(atPath: SampleChunks.folder(for: trimmed) + "/run.json") {
            return SampleChunks.folder(for: trimmed)
        }
        return nil
    }

    /// - Throws: `DataFormatError` naming run.json when it is missing or not a run description.
    init(folder: String) throws {
        let manifest = folder + "/run.json"
        guard let data = FileManager.default.contents(atPath: manifest) else {
            throw DataFormatError(file: manifest, "no such file: the chunk folder of a tbg sample run holds run.json, the run's description")
        }
        do {
            run = try JSONDecoder().decode(SampleChunks.RunIdentity.self, from: data)
        } catch {
            throw DataFormatError(file: manifest, "is not the description of a tbg sample run (expected a JSON object with checkpoint, checkpoint_step, peptide, count, chunk, seed, round_trip and settings): \(Self.reason(error))")
        }
        guard run.count > 0, run.chunk > 0 else {
            throw DataFormatError(file: manifest, "count \(run.count) and chunk \(run.chunk) must be positive")
        }
        file = folder
        output = String(folder.dropLast(".chunks".count))
        let view = SampleChunks(folder: folder, identity: run, atoms: 0)
        chunks = view.chunkCount
        let done = view.doneChunks()
        finishedChunks = done.count
        finishedSamples = done.map { view.indices(ofChunk: $0).count }.reduce(0, +)
        damagedChunks = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.contains(".h5.damaged") }.count
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
        resumeCommand = words.map(Self.shellQuoted).joined(separator: " ")
    }

    var text: String {
        let settings = run.settings.method == "rk4"
            ? "rk4, \(run.settings.steps) steps"
            : "dopri5, atol \(run.settings.absoluteTolerance), rtol \(run.settings.relativeTolerance), at most \(run.settings.maximumSteps) steps"
        var lines = [
            "\(file): an unfinished tbg sample run (its output \(output) is written when every chunk is done)",
            "  checkpoint   \(run.checkpoint) (step \(run.checkpointStep))",
            "  peptide      \(run.peptide)",
            "  samples      \(run.count) in \(chunks) chunk(s) of \(run.chunk); seed \(run.seed)\(run.roundTrip > 0 ? "; round trip of \(run.roundTrip)" : "")",
            "  ODE          \(settings), micro-batch \(run.settings.microBatch)",
            "  finished     \(finishedChunks) of \(chunks) chunks (\(finishedSamples) of \(run.count) samples)",
        ]
        if damagedChunks > 0 { lines.append("  damaged      \(damagedChunks) chunk file(s) set aside by a resume (*.damaged); they are computed again") }
        lines.append("  continue     \(resumeCommand)   (under mpirun with any number of ranks)")
        return lines.joined(separator: "\n")
    }

    private static func shellQuoted(_ word: String) -> String {
        let plain = word.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:+@,".contains($0) }
        return plain && !word.isEmpty ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// A JSON decoding error in words (the key or value that is wrong), not Swift's dump.
    private static func reason(_ error: Error) -> String {
        guard let decoding = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch decoding {
        case .keyNotFound(let key, let context):
            return "\(([path(context)].filter { !$0.isEmpty } + [key.stringValue]).joined(separator: ".")) is missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "\(path(context)): \(context.debugDescription)"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON" : "\(path(context)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
