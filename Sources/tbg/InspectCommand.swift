// `tbg inspect FILE…`: what a trajectory file or a dataset folder holds, after validating it fully.
// Every argument is inspected even if an earlier one is bad; the exit status is 1 if any was.
import ArgumentParser
import Evaluation
import Foundation
import MDData

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe and validate trajectory files and dataset folders.",
        discussion: "A FILE is a trajectory (.h5) or a dataset folder / its index.json.")

    @Argument(help: "Trajectory files, dataset folders or dataset index.json files.")
    var paths: [String]

    @Flag(help: "Print one JSON object per argument instead of text.")
    var json = false

    func validate() throws {
        if paths.isEmpty { throw ValidationError("give at least one trajectory file or dataset folder") }
    }

    func run() throws {
        var failed = false
        for path in paths {
            do {
                if isDataset(path) {
                    var report = try DatasetReport(location: path)
                    for member in report.members.indices { report.members[member].report?.measureBias() }
                    print(json ? try JSONOutput.line(report) : ReportText.dataset(report))
                    for problem in report.failures { writeError("tbg inspect: error: \(problem)") }
                    failed = failed || !report.failures.isEmpty
                } else {
                    var report = try TrajectoryReport(path: path)
                    report.measureBias()
                    print(json ? try JSONOutput.line(report) : ReportText.trajectory(report))
                }
            } catch {
                writeError("tbg inspect: error: \(error)")
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
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
