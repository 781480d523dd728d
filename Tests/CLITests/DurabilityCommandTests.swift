// Killing a writer with SIGKILL mid-write (a node crash, a job killed at its time limit) never
// leaves a partial file under the final name: that name holds the previous whole file or the new
// whole file. The partial file it leaves (`<final>.partial-<host>-<pid>`) is removed by the next tbg
// command that writes the same output, while a partial file of a live writer is never touched.
// `tbg selftest atomic-write` writes exactly as checkpoints and samples are written; `--hold`
// stops it just before the rename, so the kill lands mid-write for certain.
import Foundation
import HDF5
import TestSupport
import XCTest

final class DurabilityCommandTests: XCTestCase {
    private var scratch: ScratchDirectory!

    override func setUpWithError() throws { scratch = try ScratchDirectory("durability") }
    override func tearDown() { scratch.remove() }

    /// Starts `tbg selftest atomic-write … --hold` and returns once it says it holds its partial file.
    private func startHoldingWriter(_ out: String, seed: Int) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Executables.tbg)
        process.arguments = ["selftest", "atomic-write", "--out", out, "--megabytes", "4", "--payload-seed", "\(seed)", "--hold"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var text = ""
        while !text.contains("holding") {
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { break }   // end of file: the writer exited
            text += String(decoding: data, as: UTF8.self)
        }
        XCTAssertTrue(text.contains("holding \(HDF5File.partialPath(for: out, pid: process.processIdentifier))"), text)
        return process
    }

    private func kill9(_ process: Process) {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal)
    }

    private func write(_ out: String, seed: Int, megabytes: Int = 1) throws -> ProcessResult {
        let result = try Executables.run(Executables.tbg, ["selftest", "atomic-write", "--out", out, "--megabytes", "\(megabytes)", "--payload-seed", "\(seed)"])
        XCTAssertEqual(result.status, 0, result.standardError)
        return result
    }

    /// The seed of the whole file at `path`, after checking every payload value against it.
    private func wholeFileSeed(_ path: String) throws -> Int {
        let root = try HDF5File(opening: path).root()
        let seed = Int(try root.readAttribute("payload_seed", as: Int64.self)[0])
        let payload: [Double] = try root.dataset("payload").read()
        XCTAssertFalse(payload.isEmpty)
        XCTAssertNil(payload.indices.first { payload[$0] != Double($0 + seed) }, "payload of \(path) is not whole")
        return seed
    }

    func testKillDuringAWriteKeepsTheOldFileAndTheNextStartRemovesThePartial() throws {
        let out = scratch.file("checkpoint.h5")
        _ = try write(out, seed: 1)
        let killed = try startHoldingWriter(out, seed: 2)
        let killedPartial = HDF5File.partialPath(for: out, pid: killed.processIdentifier)
        kill9(killed)
        XCTAssertEqual(try wholeFileSeed(out), 1, "the final name still holds the previous whole file")
        XCTAssertTrue(FileManager.default.fileExists(atPath: killedPartial))

        // The next writer of the same output removes it when it starts; while that writer is alive
        // and mid-write, its own partial file must survive a third writer.
        let live = try startHoldingWriter(out, seed: 3)
        defer { if live.isRunning { kill9(live) } }
        XCTAssertFalse(FileManager.default.fileExists(atPath: killedPartial), "the next start removes the stale partial file")
        let livePartial = HDF5File.partialPath(for: out, pid: live.processIdentifier)
        let third = try write(out, seed: 4)
        XCTAssertFalse(third.standardOutput.contains("removed"), third.standardOutput)
        XCTAssertTrue(FileManager.default.fileExists(atPath: livePartial), "a live writer's partial file was removed")
        XCTAssertEqual(try wholeFileSeed(out), 4)

        kill9(live)
        let fourth = try write(out, seed: 5)
        XCTAssertTrue(fourth.standardOutput.contains("removed stale partial file \(livePartial)"), fourth.standardOutput)
        XCTAssertEqual(scratch.contents(), ["checkpoint.h5"])
        XCTAssertEqual(try wholeFileSeed(out), 5)
    }

    func testKillAtAnyMomentOfALargeWriteLeavesAWholeFileOrTheOldOne() throws {
        let out = scratch.file("samples.h5")
        _ = try write(out, seed: 10)
        for attempt in 0..<3 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Executables.tbg)
            process.arguments = ["selftest", "atomic-write", "--out", out, "--megabytes", "64", "--payload-seed", "\(20 + attempt)"]
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let partial = HDF5File.partialPath(for: out, pid: process.processIdentifier)
            // Kill once the partial file has appeared (or the writer has finished): wherever the write is then.
            while process.isRunning && !FileManager.default.fileExists(atPath: partial) { usleep(1000) }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let seed = try wholeFileSeed(out)
            XCTAssertTrue(seed == 10 || seed == 20 + attempt, "final name holds seed \(seed)")
            _ = try write(out, seed: 10)
            XCTAssertEqual(scratch.contents(), ["samples.h5"])
        }
    }
}
