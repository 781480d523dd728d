// `tbg train` as users run it, on real data: the same step on 1 and 2 MPI ranks, and a run stopped
// by a signal (SIGTERM alone, SIGUSR1 through mpirun) that resumes to exactly the parameters of an
// uninterrupted run.
import Foundation
import HDF5
import TestSupport
import XCTest

final class TrainCommandTests: XCTestCase {
    private var scratch: ScratchDirectory!
    private var dataset = ""

    override func setUpWithError() throws {
        scratch = try ScratchDirectory("train-cli")
        dataset = try TinyDataset.make(in: scratch)
    }

    override func tearDown() { scratch.remove() }

    private func arguments(_ checkpoint: String, steps: Int, extra: [String] = []) -> [String] {
        ["train"] + (TinyDataset.overrides(dataset: dataset, checkpoint: scratch.file(checkpoint), steps: steps) + extra).flatMap { ["--set", $0] }
    }

    private func parameters(_ checkpoint: String) throws -> [Float] {
        let group = try HDF5File(opening: scratch.file(checkpoint)).root().group("parameters")
        return try group.childNames().flatMap { try group.dataset($0).read(as: Float.self) }
    }

    private func step(_ checkpoint: String) throws -> Int64 {
        try HDF5File(opening: scratch.file(checkpoint)).root().readAttribute("step", as: Int64.self)[0]
    }

    func testTwoRanksWithHalfBatchesTakeTheSameStepAsOneRank() throws {
        let mpirun = try XCTUnwrap(Executables.which("mpirun"), "mpirun not found")
        // ε = 1 makes Adam's update smooth in the gradient, so float32 summation-order differences
        // between the rank layouts stay at rounding level instead of flipping near-zero signs.
        // The OT couplings pair prior and data over the global batch, so they must agree too.
        for coupling in ["independent", "ot", "equivariant_ot"] {
            let extra = ["training.adam.epsilon=1", "training.learning_rate=0.01", "data.frames_per_peptide=6", "training.coupling=\(coupling)"]
            let one = try Executables.run(Executables.tbg, arguments("one-\(coupling).h5", steps: 3, extra: extra))
            XCTAssertEqual(one.status, 0, one.standardError)
            let two = try Executables.run(mpirun, ["-np", "2", Executables.tbg] + arguments("two-\(coupling).h5", steps: 3, extra: extra),
                                          environment: Executables.mpiEnvironment)
            XCTAssertEqual(two.status, 0, two.standardOutput + two.standardError)
            XCTAssertTrue(two.standardOutput.contains("global batch 6 (6 frames each), 2 rank(s)"), two.standardOutput)
            XCTAssertTrue(two.standardOutput.contains("coupling \(coupling)"), two.standardOutput)
            let a = try parameters("one-\(coupling).h5"), b = try parameters("two-\(coupling).h5")
            XCTAssertEqual(a.count, b.count)
            XCTAssertGreaterThan(a.count, 0)
            assertClose(b.map(Double.init), a.map(Double.init), absolute: 2e-6, relative: 1e-5, "\(coupling): parameters after 3 steps, 2 ranks vs 1")
            let lossOne: [Double] = try HDF5File(opening: scratch.file("one-\(coupling).h5")).root().dataset("history/train_loss").read()
            let lossTwo: [Double] = try HDF5File(opening: scratch.file("two-\(coupling).h5")).root().dataset("history/train_loss").read()
            assertClose(lossTwo, lossOne, absolute: 0, relative: 1e-5, "\(coupling): losses")
        }
    }

    /// More ranks than cores (oversubscribed), and a batch that does not split evenly: 4 ranks share
    /// 6 frames as 1, 1, 2, 2 and still take the 1-rank step (OT coupling over the global batch).
    func testFourRanksTakeTheSameStepAsOneRank() throws {
        let mpirun = try XCTUnwrap(Executables.which("mpirun"), "mpirun not found")
        let extra = ["training.adam.epsilon=1", "training.learning_rate=0.01", "data.frames_per_peptide=6", "training.coupling=ot"]
        let one = try Executables.run(Executables.tbg, arguments("one-4.h5", steps: 3, extra: extra))
        XCTAssertEqual(one.status, 0, one.standardError)
        let four = try Executables.run(mpirun, ["-np", "4", Executables.tbg] + arguments("four.h5", steps: 3, extra: extra),
                                       environment: Executables.mpiEnvironment)
        XCTAssertEqual(four.status, 0, four.standardOutput + four.standardError)
        XCTAssertTrue(four.standardOutput.contains("4 rank(s)"), four.standardOutput)
        assertClose(try parameters("four.h5").map(Double.init), try parameters("one-4.h5").map(Double.init), absolute: 2e-6, relative: 1e-5,
                    "parameters after 3 steps, 4 ranks vs 1")
    }

    private func interrupt(_ executable: String, _ args: [String], environment: [String: String] = [:], marker: String,
                           signal: Int32) throws -> (status: Int32, output: String) {
        try Executables.interrupt(executable, args, environment: environment, marker: marker, signal: signal,
                                  log: scratch.file("log-\(UUID().uuidString.prefix(6)).txt"))
    }

    func testSIGTERMThenResumeEqualsUninterrupted() throws {
        let total = 150
        let reference = try Executables.run(Executables.tbg, arguments("reference.h5", steps: total))
        XCTAssertEqual(reference.status, 0, reference.standardError)
        let stopped = try interrupt(Executables.tbg, arguments("stopped.h5", steps: total), marker: "step 10/", signal: SIGTERM)
        XCTAssertEqual(stopped.status, 0, stopped.output)
        XCTAssertTrue(stopped.output.contains("stopping after step"), stopped.output)
        XCTAssertTrue(stopped.output.contains("SIGTERM"), stopped.output)
        let stoppedAt = try step("stopped.h5")
        XCTAssertLessThan(stoppedAt, Int64(total), "the signal must have stopped the run early")
        let resumed = try Executables.run(Executables.tbg, arguments("stopped.h5", steps: total) + ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.standardError)
        XCTAssertTrue(resumed.standardOutput.contains("resumed from"), resumed.standardOutput)
        XCTAssertEqual(try step("stopped.h5"), Int64(total))
        XCTAssertEqual(try parameters("stopped.h5"), try parameters("reference.h5"), "bit-identical after stop and resume")

        // Ctrl-C: the same clean stop with a checkpoint, and the shell's status 130.
        let interrupted = try interrupt(Executables.tbg, arguments("ctrl-c.h5", steps: total), marker: "step 10/", signal: SIGINT)
        XCTAssertEqual(interrupted.status, 130, interrupted.output)
        XCTAssertTrue(interrupted.output.contains("stopping after step") && interrupted.output.contains("SIGINT (Ctrl-C)"), interrupted.output)
        XCTAssertLessThan(try step("ctrl-c.h5"), Int64(total))
    }

    /// A trained checkpoint is never replaced by a new run by accident: without --resume (continue)
    /// or --overwrite (start over) the run is refused before any step, and the file is untouched.
    func testAnExistingCheckpointIsContinuedOrReplacedOnlyWhenAsked() throws {
        let first = try Executables.run(Executables.tbg, arguments("model.h5", steps: 4))
        XCTAssertEqual(first.status, 0, first.standardError)
        let trained = try Data(contentsOf: URL(fileURLWithPath: scratch.file("model.h5")))
        let again = try Executables.run(Executables.tbg, arguments("model.h5", steps: 8))
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.standardError.contains(scratch.file("model.h5")) && again.standardError.contains("exists already"), again.standardError)
        XCTAssertTrue(again.standardError.contains("--resume") && again.standardError.contains("--overwrite"), again.standardError)
        XCTAssertFalse(again.standardOutput.contains("step 1/"), "refused before any step")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: scratch.file("model.h5"))), trained, "the trained checkpoint is untouched")
        // The same file through a folder that does not exist yet (the writer would create it).
        let around = try Executables.run(Executables.tbg, arguments("missing/../model.h5", steps: 8))
        XCTAssertNotEqual(around.status, 0)
        XCTAssertTrue(around.standardError.contains("exists already"), around.standardError)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: scratch.file("model.h5"))), trained)
        // A directory as the checkpoint is refused before any step, with --overwrite too.
        try FileManager.default.createDirectory(atPath: scratch.file("folder.h5"), withIntermediateDirectories: true)
        let folder = try Executables.run(Executables.tbg, arguments("folder.h5", steps: 2) + ["--overwrite"])
        XCTAssertNotEqual(folder.status, 0)
        XCTAssertTrue(folder.standardError.contains("is a directory"), folder.standardError)
        XCTAssertFalse(folder.standardOutput.contains("step 1/"), folder.standardOutput)
        let both = try Executables.run(Executables.tbg, arguments("model.h5", steps: 8) + ["--resume", "--overwrite"])
        XCTAssertNotEqual(both.status, 0)
        XCTAssertTrue(both.standardError.contains("give one of them"), both.standardError)
        let resumed = try Executables.run(Executables.tbg, arguments("model.h5", steps: 8) + ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.standardError)
        XCTAssertEqual(try step("model.h5"), 8)
        let done = try Executables.run(Executables.tbg, arguments("model.h5", steps: 8) + ["--resume"])
        XCTAssertEqual(done.status, 0, done.standardError)
        XCTAssertTrue(done.standardOutput.contains("nothing to train: the checkpoint is at step 8"), done.standardOutput)
        let fresh = try Executables.run(Executables.tbg, arguments("model.h5", steps: 2) + ["--overwrite"])
        XCTAssertEqual(fresh.status, 0, fresh.standardError)
        XCTAssertEqual(try step("model.h5"), 2, "--overwrite starts a new run")
    }

    func testSIGUSR1ThroughMpirunStopsAllRanksAfterTheSameStep() throws {
        let mpirun = try XCTUnwrap(Executables.which("mpirun"), "mpirun not found")
        let total = 150
        let env = Executables.mpiEnvironment
        // The modern recipe: i.i.d. stream, equivariant OT with random rotations, OneCycle, EMA, clipping.
        let recipe = ["training.coupling=equivariant_ot", "training.schedule=onecycle", "training.ema_decay=0.99",
                      "training.gradient_clip=1.0", "training.sigma=0", "data.stream=iid"]
        func arguments(_ checkpoint: String, steps: Int) -> [String] { self.arguments(checkpoint, steps: steps, extra: recipe) }
        let reference = try Executables.run(mpirun, ["-np", "2", Executables.tbg] + arguments("reference2.h5", steps: total), environment: env)
        XCTAssertEqual(reference.status, 0, reference.standardError)
        let stopped = try interrupt(mpirun, ["-np", "2", Executables.tbg] + arguments("stopped2.h5", steps: total),
                                    environment: env, marker: "step 10/", signal: SIGUSR1)
        XCTAssertEqual(stopped.status, 0, stopped.output)
        XCTAssertTrue(stopped.output.contains("stopping after step"), stopped.output)
        XCTAssertLessThan(try step("stopped2.h5"), Int64(total))
        let resumed = try Executables.run(mpirun, ["-np", "2", Executables.tbg] + arguments("stopped2.h5", steps: total) + ["--resume"],
                                          environment: env)
        XCTAssertEqual(resumed.status, 0, resumed.standardError)
        XCTAssertEqual(try parameters("stopped2.h5"), try parameters("reference2.h5"), "bit-identical after stop and resume on 2 ranks")
        let ema = { (name: String) throws -> [Float] in
            let group = try HDF5File(opening: self.scratch.file(name)).root().group("ema")
            return try group.childNames().flatMap { try group.dataset($0).read(as: Float.self) }
        }
        XCTAssertEqual(try ema("stopped2.h5"), try ema("reference2.h5"), "the EMA too")
    }

    func testBadConfigurationFailsClearly() throws {
        let result = try Executables.run(Executables.tbg, ["train", "--set", "training.stepz=1"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.standardError.contains("unknown key 'stepz'"), result.standardError)
        let missing = try Executables.run(Executables.tbg, ["train", "--set", "data.dataset=\(scratch.file("nowhere"))"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.standardError.contains("no such dataset index"), missing.standardError)
    }
}
