// Training end to end on real data (the committed alanine-dipeptide frames), in one process:
// losses are finite and logged, checkpoints round-trip, and resuming from a checkpoint reaches
// exactly the parameters of the uninterrupted run.
import Communication
import Foundation
import TestSupport
import FlowModel
import Training
import XCTest

final class TrainerTests: XCTestCase {
    func testResumeReachesTheUninterruptedParameters() throws {
        let scratch = try ScratchDirectory("trainer")
        defer { scratch.remove() }
        var lines: [String] = []
        let full = try TinyRun.config(scratch: scratch, steps: 8)
        let uninterrupted = try Trainer(config: full, communicator: SerialCommunicator(), resume: false) { lines.append($0) }
        XCTAssertEqual(try uninterrupted.run(), 8)
        XCTAssertTrue(uninterrupted.history.loss.allSatisfy(\.isFinite))
        XCTAssertTrue(lines.contains { $0.hasPrefix("step 8/8") }, lines.joined(separator: "\n"))
        XCTAssertTrue(lines.contains { $0.contains("validation loss") })
        let reference = uninterrupted.model.parameters.array
        let written = try Checkpoint.read(full.training.checkpoint)
        XCTAssertEqual(written.step, 8)
        XCTAssertEqual(written.parameters, reference, "checkpoint holds the final parameters")
        var resolved = full
        resolved.training.scheduleSteps = 8
        XCTAssertEqual(written.config, resolved, "the stored configuration has the schedule's total fixed")
        try FileManager.default.removeItem(atPath: full.training.checkpoint)

        // Stop at 3 (a checkpoint) of a run whose schedule spans 8 steps, then resume to 8 in a new trainer.
        var partial = full
        partial.training.steps = 3
        partial.training.scheduleSteps = 8
        _ = try Trainer(config: partial, communicator: SerialCommunicator(), resume: false) { _ in }.run()
        let resumed = try Trainer(config: full, communicator: SerialCommunicator(), resume: true) { _ in }
        XCTAssertEqual(try resumed.run(), 8)
        XCTAssertEqual(resumed.model.parameters.array, reference, "resumed run = uninterrupted run, bit for bit")
        XCTAssertEqual(resumed.history.loss, uninterrupted.history.loss)
    }

    func testBadDataIsReportedWithTheFile() throws {
        let scratch = try ScratchDirectory("trainer-bad")
        defer { scratch.remove() }
        var config = try TinyRun.config(scratch: scratch)
        config.data.framesPerPeptide = 50
        XCTAssertThrowsError(try Trainer(config: config, communicator: SerialCommunicator(), resume: false) { _ in }) {
            XCTAssertTrue("\($0)".contains("AD.h5"), "\($0)")
            XCTAssertTrue("\($0)".contains("fewer than data.frames_per_peptide = 50"), "\($0)")
        }
        config.data.framesPerPeptide = 4
        config.model.encoding = .full
        XCTAssertThrowsError(try Trainer(config: config, communicator: SerialCommunicator(), resume: false) { _ in }) {
            XCTAssertTrue("\($0)".contains("cannot encode this peptide with the 'full' encoding"), "\($0)")
        }
    }

    /// The log names the schedule as it acts: a total for the schedules that use one, warm-up and
    /// the decay phase for wsd (whose rate does not depend on the total).
    func testTheLogDescribesTheScheduleThatRuns() throws {
        let scratch = try ScratchDirectory("trainer-schedule")
        defer { scratch.remove() }
        var config = try TinyRun.config(scratch: scratch, steps: 1)
        config.training.schedule = .wsd
        config.training.warmupSteps = 2
        var lines: [String] = []
        try Trainer(config: config, communicator: SerialCommunicator(), resume: false) { lines.append($0) }.run()
        XCTAssertTrue(lines.contains { $0.contains("schedule wsd (warm-up 2 steps, then constant; no decay set (training.decay_start))") },
                      lines.joined(separator: "\n"))
        config.training.decayStart = 5
        config.training.decaySteps = 3
        config.training.finalLRFraction = 0.01
        lines = []
        try Trainer(config: config, communicator: SerialCommunicator(), resume: false) { lines.append($0) }.run()
        XCTAssertTrue(lines.contains { $0.contains("schedule wsd (warm-up 2 steps, then constant; decay from step 5 over 3 steps to 0.01 of the rate)") },
                      lines.joined(separator: "\n"))
    }
}
