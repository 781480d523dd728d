// Helpers shared by the test targets: fixture paths, scratch directories, tolerant comparisons and
// running the built `tbg` executable (also under mpirun).
import Foundation
import XCTest

public enum Fixtures {
    /// Tests/Fixtures, located from this source file so tests run from any working directory.
    public static let directory: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures").path
    }()

    public static func path(_ name: String) -> String { directory + "/" + name }
}

/// A fresh directory under the system temporary directory, removed by `remove()`.
public struct ScratchDirectory {
    public let path: String

    public init(_ label: String = "tbg-test") throws {
        path = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("\(label)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public func file(_ name: String) -> String { path + "/" + name }

    /// Deletes the directory, unless TBG_KEEP_TEST_FILES is set (to look at what a test wrote).
    public func remove() {
        guard ProcessInfo.processInfo.environment["TBG_KEEP_TEST_FILES"] == nil else { return }
        try? FileManager.default.removeItem(atPath: path)
    }

    public func contents() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }
}

/// Asserts |actual − expected| ≤ absolute + relative·|expected| element-wise, reporting the worst.
public func assertClose<T: BinaryFloatingPoint>(
    _ actual: [T], _ expected: [T], absolute: T = 0, relative: T = 0, _ message: String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(actual.count, expected.count, "count differs \(message)", file: file, line: line)
    var worst: (index: Int, excess: T)? = nil
    for index in 0..<min(actual.count, expected.count) {
        let error = abs(actual[index] - expected[index])
        let allowed = absolute + relative * abs(expected[index])
        if !(error <= allowed) {
            let excess = allowed > 0 ? error / allowed : error
            if worst == nil || excess > worst!.excess { worst = (index, excess) }
        }
    }
    if let worst {
        XCTFail("element \(worst.index): \(actual[worst.index]) vs \(expected[worst.index]) exceeds atol \(absolute) rtol \(relative) \(message)",
                file: file, line: line)
    }
}

/// The result of running a process.
public struct ProcessResult {
    public var status: Int32
    public var standardOutput: String
    public var standardError: String
}

public enum Executables {
    /// The directory holding the built products (the test bundle sits next to `tbg`).
    public static var productsDirectory: URL {
        #if os(macOS)
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            return bundle.bundleURL.deletingLastPathComponent()
        }
        fatalError("cannot locate the products directory")
        #else
        return Bundle.main.bundleURL
        #endif
    }

    public static var tbg: String { productsDirectory.appendingPathComponent("tbg").path }

    /// Finds a program on PATH.
    public static func which(_ program: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(program)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs `executable` with `arguments`, waiting at most `timeout` seconds.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           timeout: TimeInterval = 120) throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        // Drain both pipes while the process runs so a chatty child cannot block on a full pipe.
        nonisolated(unsafe) var outData = Data(), errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { outData = output.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { errData = error.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning {
            process.terminate()
            XCTFail("\(executable) \(arguments) did not finish within \(timeout) s")
        }
        process.waitUntilExit()
        group.wait()
        return ProcessResult(status: process.terminationStatus,
                             standardOutput: String(decoding: outData, as: UTF8.self),
                             standardError: String(decoding: errData, as: UTF8.self))
    }

    /// Starts `executable`, waits (at most 120 s) for `marker` in its output, sends `signal`, waits
    /// for the exit. Output goes to the file `log` (stdout and stderr together).
    /// `whileRunning` runs once the marker appeared, before the signal (checks on the live process).
    public static func interrupt(_ executable: String, _ arguments: [String], environment: [String: String] = [:], marker: String,
                                 signal: Int32, log logPath: String,
                                 whileRunning: (() throws -> Void)? = nil) throws -> (status: Int32, output: String) {
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, process.isRunning,
              !((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").contains(marker) {
            Thread.sleep(forTimeInterval: 0.01)
        }
        var failure: Error?
        do { try whileRunning?() } catch { failure = error }
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        try log.close()
        if let failure { throw failure }
        return (process.terminationStatus, (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")
    }

    /// Environment that lets Open MPI run as root and oversubscribe the cores (CI runs as root).
    public static let mpiEnvironment = [
        "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        "OMPI_MCA_rmaps_base_oversubscribe": "1",
    ]
}

/// A one-peptide dataset folder made from the committed alanine-dipeptide fixture (20 real frames).
public enum TinyDataset {
    public static func make(in scratch: ScratchDirectory) throws -> String {
        let dataset = scratch.file("dataset")
        if !FileManager.default.fileExists(atPath: dataset) {
            try FileManager.default.createDirectory(atPath: dataset, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: Fixtures.path("ad2_capped.h5"), toPath: dataset + "/AD.h5")
            let index = #"{"format": "tbg-dataset", "format_version": 1, "peptides": [{"name": "AD", "file": "AD.h5", "split": "train", "n_atoms": 22, "n_frames": 20}]}"#
            try index.write(toFile: dataset + "/index.json", atomically: true, encoding: .utf8)
        }
        return dataset
    }

    /// A tiny model trained by `tbg train` on `make(in:)` for `steps` steps (seconds); returns its
    /// checkpoint, `scratch/model.h5`.
    /// - Throws: `TinyDataset.TrainingFailed` with tbg's exit status and standard error.
    public static func trainedCheckpoint(in scratch: ScratchDirectory, steps: Int) throws -> String {
        let checkpoint = scratch.file("model.h5")
        let result = try Executables.run(Executables.tbg, ["train"] + overrides(dataset: try make(in: scratch), checkpoint: checkpoint, steps: steps)
            .flatMap { ["--set", $0] })
        guard result.status == 0 else { throw TrainingFailed(status: result.status, standardError: result.standardError) }
        return checkpoint
    }

    public struct TrainingFailed: Error, CustomStringConvertible {
        public var status: Int32
        public var standardError: String
        public var description: String { "tbg train of the tiny model exited \(status): \(standardError)" }
    }

    /// `--set` overrides for a tiny, fast training run on `make(in:)`.
    public static func overrides(dataset: String, checkpoint: String, steps: Int, framesPerPeptide: Int = 4) -> [String] {
        ["model.hidden=8", "model.layers=2", "data.dataset=\(dataset)", "data.frames_per_peptide=\(framesPerPeptide)",
         "data.window_frames=4", "data.shuffle_windows=2", "data.validation_fraction=0.2", "data.validation_frames=3",
         "data.micro_batch=3", "training.steps=\(steps)", "training.log_every=1", "training.validate_every=2",
         "training.checkpoint_every=100", "training.checkpoint=\(checkpoint)"]
    }
}
