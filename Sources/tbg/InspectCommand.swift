// `tbg inspect FILE…`: what a trajectory file, a dataset folder, a sampler's output or a training
// checkpoint holds, after validating it fully.
// Every argument is inspected even if an earlier one is bad; the exit status is 1 if any was.
import ArgumentParser
import Evaluation
import Foundation
import MDData
import Sampling

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe and validate trajectory files, dataset folders, sample files and checkpoints.",
        discussion: """
            A FILE is a trajectory (.h5), a dataset folder / its index.json, the output of tbg \
            sample, smc or mcmc (its samples: valid share, ESS, cost, the model that drew them), \
            a training checkpoint / shipped model (step, samples seen, recipe, last losses, data), \
            or an unfinished tbg sample run (OUT.chunks/, or OUT while only OUT.chunks/ exists: \
            what the run is, how far it got, and the command that continues it), or an \
            unfinished tbg free-energy run (OUT.logq/: the reverse integrations it keeps).
            """)

    @Argument(help: "Trajectory files, dataset folders, dataset index.json files, sample files or checkpoints.")
    var paths: [String]

    @Flag(help: "Print one JSON object per argument instead of text, with \"kind\": trajectory, samples, checkpoint, dataset, unfinished_sampling_run, unfinished_free_energy_run, or error (then \"error\" holds the message).")
    var json = false

    func validate() throws {
        if paths.isEmpty { throw ValidationError("give at least one trajectory file or dataset folder") }
    }

    func run() throws {
        var failed = false
        for path in paths {
            do {
                if UnfinishedRunReport.chunkFile(path) != nil {
                    let report = try UnfinishedRunReport(chunkFile: path)
                    print(json ? try JSONOutput.line(report) : report.text)
                    // A chunk that is not sound is a bad file, as any other (exit status 1).
                    if let problem = report.inspectedChunk?.problem {
                        writeError("tbg inspect: error: \(path): \(problem)")
                        failed = true
                    }
                } else if let stray = UnfinishedRunReport.strayChunk(path) {
                    // Not a trajectory: say what it is (exit 1, as for any file inspect cannot describe).
                    throw DataFormatError(file: path, "not a trajectory or sample file but " + stray)
                } else if let (folder, names) = Self.setAsideFolder(path) {
                    // What a completed tbg sample run kept of the chunks a resume set aside.
                    let damaged = names.filter { $0.contains(".h5.damaged") }.count, otherCount = names.filter { $0.contains(".h5.other-count") }.count
                    let output = String(folder[..<folder.range(of: ".set-aside", options: .backwards)!.lowerBound])
                    if json {
                        print(try JSONOutput.line(["kind": "set_aside_chunks", "file": folder, "output": output, "damaged": "\(damaged)", "other_count": "\(otherCount)"]))
                    } else {
                        print("""
                            \(folder): chunk files that tbg sample resumes set aside while computing \(output), kept when it completed; no run reads them
                              damaged      \(damaged) (*.damaged: damaged on disk, or another run's)
                              other count  \(otherCount) (*.other-count: sound samples of that run at another --count; for more samples draw another --seed and join with tbg pool)
                            """)
                    }
                } else if let folder = FreeEnergyRunReport.folder(for: path) {
                    let report = FreeEnergyRunReport(folder: folder)
                    print(json ? try JSONOutput.line(report) : report.text)
                    if let problem = report.problem {
                        writeError("tbg inspect: error: \(problem)")
                        failed = true
                    }
                } else if let folder = UnfinishedRunReport.folder(for: path) {
                    let report = try UnfinishedRunReport(folder: folder)
                    print(json ? try JSONOutput.line(report) : report.text)
                } else if isDataset(path) {
                    var report = try DatasetReport(location: path)
                    for member in report.members.indices { report.members[member].report?.measureBias() }
                    print(json ? try JSONOutput.line(KindedReport(kind: "dataset", report: report)) : ReportText.dataset(report))
                    for problem in report.failures { writeError("tbg inspect: error: \(problem)") }
                    failed = failed || !report.failures.isEmpty
                } else if CheckpointReport.isCheckpoint(path) {
                    let report = try CheckpointReport(path: path)
                    print(json ? try JSONOutput.line(report) : ReportText.checkpoint(report))
                } else {
                    var report = try TrajectoryReport(path: path)
                    report.measureBias()
                    if SamplesReport.hasSamples(path) {
                        let samples = try SamplesReport(path: path)
                        print(json ? try JSONOutput.line(KindedReport(kind: "samples", report: report, samples: samples))
                                   : ReportText.trajectory(report, samples: samples))
                    } else {
                        print(json ? try JSONOutput.line(KindedReport(kind: "trajectory", report: report)) : ReportText.trajectory(report))
                    }
                    let chunks = SampleChunks.folder(for: path)
                    if !json, FileManager.default.fileExists(atPath: chunks + "/run.json") {
                        print("note: \(chunks) holds an unfinished tbg sample run that will replace this file when it completes: tbg inspect \(chunks)")
                    }
                }
            } catch {
                writeError("tbg inspect: error: \(error)")
                // One JSON line per argument, also for a bad one, so that lines match arguments.
                if json, let line = try? JSONOutput.line(["file": path, "kind": "error", "error": "\(error)"]) { print(line) }
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }

    /// OUT.set-aside (or -2, -3, …), the folder where a completed tbg sample run keeps the chunk
    /// files a resume set aside, and its chunk files; nil for anything else.
    static func setAsideFolder(_ path: String) -> (String, [String])? {
        var trimmed = path
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let marker = trimmed.range(of: ".set-aside", options: .backwards),
              trimmed[marker.upperBound...].allSatisfy({ $0 == "-" || $0.isNumber }) else { return nil }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: trimmed, isDirectory: &isDirectory), isDirectory.boolValue,
              let names = try? FileManager.default.contentsOfDirectory(atPath: trimmed) else { return nil }
        return (trimmed, names.filter(SampleChunks.isSetAside))
    }

    private func isDataset(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        return (exists && isDirectory.boolValue) || path.hasSuffix(".json")
    }
}

extension TrajectoryReport {
    /// The effective fraction of a biased file's frames: Kish ESS of the weights exp(+V/kT), the
    /// same estimator as the samples' ESS (Evaluation.ImportanceWeights).
    mutating func measureBias() {
        guard let reduced = bias?.reducedEnergies, !reduced.isEmpty else { return }
        bias?.effectiveFraction = ImportanceWeights.effectiveSampleSize(logWeights: reduced)
    }
}
