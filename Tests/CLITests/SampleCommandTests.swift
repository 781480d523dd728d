// `tbg sample` as users run it: 1 and 2 MPI ranks produce the same set of samples (each sample is
// seeded by its index, not by its rank), and the file holds exactly the requested count.
import Foundation
import HDF5
import TestSupport
import XCTest

final class SampleCommandTests: XCTestCase {
    func testOneAndTwoRanksProduceTheSameSamples() throws {
        let mpirun = try XCTUnwrap(Executables.which("mpirun"), "mpirun not found")
        let scratch = try ScratchDirectory("sample-cli")
        defer { scratch.remove() }
        let dataset = try TinyDataset.make(in: scratch)
        let checkpoint = scratch.file("model.h5")
        let train = try Executables.run(Executables.tbg, ["train"] + TinyDataset.overrides(dataset: dataset, checkpoint: checkpoint, steps: 20).flatMap { ["--set", $0] })
        XCTAssertEqual(train.status, 0, train.standardError)
        let common = ["sample", "--checkpoint", checkpoint, "--peptide", Fixtures.path("ad2_capped.h5"), "--count", "5",
                      "--method", "rk4", "--steps", "3", "--seed", "17"]
        let one = try Executables.run(Executables.tbg, common + ["--out", scratch.file("one.h5"), "--progress-seconds", "0", "--chunk", "2"])
        XCTAssertEqual(one.status, 0, one.standardError)
        XCTAssertTrue(one.standardOutput.contains("5 samples:"), one.standardOutput)
        XCTAssertTrue(one.standardOutput.contains("tbg sample: progress: ~2/5 samples"), one.standardOutput)
        XCTAssertTrue(one.standardOutput.contains("tbg sample: progress: ~5/5 samples"), one.standardOutput)
        // Samples 0 … 2 (on both ranks) are also integrated back; the accuracy itself is tested in
        // FlowSamplerTests, here that the check runs where the samples are and reaches the file.
        let two = try Executables.run(mpirun, ["-np", "2", Executables.tbg] + common + ["--round-trip", "3", "--out", scratch.file("two.h5")],
                                      environment: Executables.mpiEnvironment)
        XCTAssertEqual(two.status, 0, two.standardOutput + two.standardError)
        XCTAssertTrue(two.standardOutput.contains("on 2 rank(s)"), two.standardOutput)
        XCTAssertTrue(two.standardOutput.contains("forward-then-reverse check of 3 samples"), two.standardOutput)
        let roundTrip: [Double] = try HDF5File(opening: scratch.file("two.h5")).root().dataset("samples/roundtrip_log_q_error").read()
        XCTAssertEqual(roundTrip.map(\.isFinite), [true, true, true, false, false])
        func read(_ name: String) throws -> (coordinates: [Float], logQ: [Double], index: [Int64]) {
            let root = try HDF5File(opening: scratch.file(name)).root()
            return (try root.dataset("coordinates").read(), try root.dataset("samples/log_q").read(), try root.dataset("samples/index").read())
        }
        let a = try read("one.h5"), b = try read("two.h5")
        XCTAssertEqual(a.index, [0, 1, 2, 3, 4])
        XCTAssertEqual(b.index, a.index)
        assertClose(b.logQ, a.logQ, absolute: 1e-6, relative: 1e-6, "log q, 2 ranks vs 1")
        assertClose(b.coordinates.map(Double.init), a.coordinates.map(Double.init), absolute: 1e-5, relative: 0, "coordinates")
        // The output is a valid trajectory file for tbg itself too.
        let inspect = try Executables.run(Executables.tbg, ["inspect", scratch.file("two.h5")])
        XCTAssertEqual(inspect.status, 0, inspect.standardError)
    }

    func testSamplesWhoseIntegrationFailsAreReportedAndTheRunCompletes() throws {
        let mpirun = try XCTUnwrap(Executables.which("mpirun"), "mpirun not found")
        let scratch = try ScratchDirectory("sample-fail")
        defer { scratch.remove() }
        let dataset = try TinyDataset.make(in: scratch)
        let checkpoint = scratch.file("model.h5")
        let train = try Executables.run(Executables.tbg, ["train"] + TinyDataset.overrides(dataset: dataset, checkpoint: checkpoint, steps: 20).flatMap { ["--set", $0] })
        XCTAssertEqual(train.status, 0, train.standardError)
        // dopri5 at a tight tolerance with at most 3 steps per sample: every integration gives up.
        let out = scratch.file("failed.h5")
        let run = try Executables.run(mpirun, ["-np", "2", Executables.tbg, "sample", "--checkpoint", checkpoint, "--peptide",
                                               Fixtures.path("ad2_capped.h5"), "--count", "4", "--tolerance", "1e-9", "--max-steps", "3",
                                               "--out", out], environment: Executables.mpiEnvironment)
        XCTAssertEqual(run.status, 0, run.standardOutput + run.standardError)
        XCTAssertTrue(run.standardOutput.contains("4 samples: 0 valid (0.0 %), 4 failed the integration, 0 failed the bond-graph check"), run.standardOutput)
        let root = try HDF5File(opening: out).root()
        XCTAssertEqual(try root.dataset("samples/integration_ok").read(as: UInt8.self), [0, 0, 0, 0])
        XCTAssertTrue(try root.dataset("samples/log_weight").read(as: Double.self).allSatisfy { $0 == -.infinity })
        XCTAssertTrue(try root.dataset("coordinates").read(as: Float.self).allSatisfy { $0 == 0 })
    }

    func testBadRequestsFailClearly() throws {
        let result = try Executables.run(Executables.tbg, ["sample", "--checkpoint", "/nonexistent.h5", "--peptide", Fixtures.path("ad2_capped.h5"),
                                                            "--count", "2", "--out", "/tmp/never.h5"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.standardError.contains("/nonexistent.h5"), result.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/never.h5"))
    }
}
