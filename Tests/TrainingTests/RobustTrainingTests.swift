// Training that never loses work to bad numbers: a step whose loss or gradient overflows is skipped
// and counted, k such steps in a row stop the run with a clear error and without a checkpoint,
// non-finite parameters are never written, the previous checkpoint is kept beside the current one,
// and the checkpoint records what the model trained on.
import Communication
import Foundation
import HDF5
import MDData
import TestSupport
import FlowModel
import Training
import XCTest

final class RobustTrainingTests: XCTestCase {
    private var scratch: ScratchDirectory!

    override func setUpWithError() throws { scratch = try ScratchDirectory("robust") }
    override func tearDown() { scratch.remove() }

    /// The tiny dataset with frame `frame` moved 10³⁰ nm away: finite input whose loss overflows.
    /// The runs below set `data.check_bonds` false, so that the check of the data before the first
    /// step (a bond of 10³⁰ nm is not a molecule) lets the frame through to the loss: the guard
    /// under test is the one for overflows that no check of the data foresees.
    private func datasetWithAnOverflowingFrame(_ frame: Int) throws -> String {
        let dataset = try TinyDataset.make(in: scratch)
        let file = try TrajectoryFile(path: dataset + "/AD.h5")
        var coordinates = try file.readFrames(0..<file.frameCount)
        coordinates[frame * 66 + 30] = 1e30
        try FileManager.default.removeItem(atPath: dataset + "/AD.h5")
        try TrajectoryWriter.write(TrajectoryContents(coordinates: coordinates, frameCount: file.frameCount, atomCount: 22,
                                                      topologyJSON: file.topologyJSON, metadataJSON: file.metadataJSON,
                                                      systemXML: file.systemXML), to: dataset + "/AD.h5")
        return dataset
    }

    func testAnOverflowingStepIsSkippedAndTheCheckpointStaysFinite() throws {
        _ = try datasetWithAnOverflowingFrame(5)
        var config = try TinyRun.config(scratch: scratch, steps: 8)
        config.data.checkBonds = false
        config.training.checkpointEvery = 2
        var lines: [String] = []
        let trainer = try Trainer(config: config, communicator: SerialCommunicator(), resume: false) { lines.append($0) }
        XCTAssertEqual(try trainer.run(), 8)
        let skips = lines.filter { $0.contains("step skipped") }
        XCTAssertEqual(skips.count, 2, "frame 5 is in one step of each of the two epochs:\n" + lines.joined(separator: "\n"))
        let checkpoint = try Checkpoint.read(config.training.checkpoint)
        XCTAssertEqual(checkpoint.skippedSteps, 2)
        XCTAssertTrue(checkpoint.parameters.allSatisfy(\.isFinite))
        XCTAssertTrue(checkpoint.adamSecond.allSatisfy(\.isFinite))
        XCTAssertEqual(checkpoint.adamStep, 6, "Adam took only the 6 good steps")
        // The previous checkpoint (step 6) is kept beside the current one (step 8).
        XCTAssertEqual(try Checkpoint.read(Checkpoint.previousPath(config.training.checkpoint)).step, 6)
    }

    func testConsecutiveSkipsStopTheRunWithoutWritingACheckpoint() throws {
        _ = try datasetWithAnOverflowingFrame(5)
        var config = try TinyRun.config(scratch: scratch, steps: 8)
        config.data.checkBonds = false
        config.training.maxSkippedSteps = 1
        XCTAssertThrowsError(try Trainer(config: config, communicator: SerialCommunicator(), resume: false) { _ in }.run()) {
            XCTAssertTrue("\($0)".contains("non-finite loss or gradient"), "\($0)")
            XCTAssertTrue("\($0)".contains("max_skipped_steps"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: config.training.checkpoint))
    }

    /// By default the same data is refused before the first step, naming the frame: a bad frame
    /// must not end a run hours in (at the window or validation step that first reads it).
    func testAFrameThatIsNotAMoleculeIsRefusedBeforeTheFirstStep() throws {
        let dataset = try datasetWithAnOverflowingFrame(13)
        let config = try TinyRun.config(scratch: scratch, steps: 8)
        var lines: [String] = []
        XCTAssertThrowsError(try Trainer(config: config, communicator: SerialCommunicator(), resume: false) { lines.append($0) }) {
            XCTAssertTrue("\($0)".contains(dataset + "/AD.h5") && "\($0)".contains("frame 13: the bond between atom 10 (CB) and atom 11 (HB1)"), "\($0)")
        }
        XCTAssertFalse(lines.contains { $0.hasPrefix("step ") }, "no step ran: \(lines)")
    }

    func testNonFiniteParametersAreNeverWritten() throws {
        let config = try TinyRun.config(scratch: scratch, steps: 2)
        let trainer = try Trainer(config: config, communicator: SerialCommunicator(), resume: false) { _ in }
        try trainer.run()
        var state = try Checkpoint.read(config.training.checkpoint)
        let before = try Data(contentsOf: URL(fileURLWithPath: config.training.checkpoint))
        state.parameters[7] = .nan
        XCTAssertThrowsError(try Checkpoint.write(state, layout: trainer.model.layout, to: config.training.checkpoint)) {
            XCTAssertTrue("\($0)".contains("non-finite") && "\($0)".contains("entry 7"), "\($0)")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: config.training.checkpoint)), before, "the last good checkpoint is untouched")
    }

    /// A damaged or edited checkpoint is refused when read, naming the file and what is wrong: a
    /// non-finite weight (the tensor and its index), a configuration that is not JSON.
    func testADamagedCheckpointIsRefusedWhenRead() throws {
        let config = try TinyRun.config(scratch: scratch, steps: 2)
        let trainer = try Trainer(config: config, communicator: SerialCommunicator(), resume: false) { _ in }
        try trainer.run()
        let entry = try XCTUnwrap(trainer.model.layout.entries.dropFirst().first)
        let nanWeights = scratch.file("nan-weights.h5"), badConfig = scratch.file("bad-config.h5")
        for copy in [nanWeights, badConfig] { try FileManager.default.copyItem(atPath: config.training.checkpoint, toPath: copy) }
        do {
            let dataset = try HDF5File(opening: nanWeights, mode: .readWrite).root().dataset("parameters/\(entry.name)")
            var values: [Float] = try dataset.read()
            values[3] = .nan
            try dataset.write(values)
        }
        XCTAssertThrowsError(try Checkpoint.read(nanWeights)) {
            for fragment in [nanWeights, "/parameters/\(entry.name) holds nan at flat index 3", "damaged"] {
                XCTAssertTrue("\($0)".contains(fragment), "'\($0)' does not mention '\(fragment)'")
            }
        }
        try HDF5File(opening: badConfig, mode: .readWrite).root().writeAttribute("config", string: "{not json")
        XCTAssertThrowsError(try Checkpoint.read(badConfig)) {
            XCTAssertTrue("\($0)".contains(badConfig) && "\($0)".contains("attribute config is not"), "\($0)")
            XCTAssertFalse("\($0)".contains("NSCocoaErrorDomain"), "\($0)")
        }
    }

    func testTheCheckpointRecordsTheTrainingData() throws {
        let config = try TinyRun.config(scratch: scratch, steps: 2)
        try Trainer(config: config, communicator: SerialCommunicator(), resume: false) { _ in }.run()
        let record = try XCTUnwrap(try Checkpoint.read(config.training.checkpoint).trainingData)
        XCTAssertEqual(record.stream, "iid")
        XCTAssertEqual(record.peptides.map(\.name), ["AD"])
        XCTAssertEqual(record.peptides[0].atoms.count, 22)
        XCTAssertEqual(record.peptides[0].atoms[8], TrainingDataRecord.Atom(residueIndex: 1, residue: "ALA", name: "CA", element: "C"))
        let file = try XCTUnwrap(record.peptides[0].files.first)
        XCTAssertTrue(file.path.hasSuffix("dataset/AD.h5"))
        XCTAssertEqual(file.trainingFrames, [0, 16])
        XCTAssertEqual(file.frames, 20)
        XCTAssertEqual(file.fnv1a64, String(try ContentHash.fnv1a64(path: file.path).hash, radix: 16))
        // FNV-1a of "a" is 0xaf63dc4c8601ec8c (the published test vector).
        let a = scratch.file("a.txt")
        try "a".write(toFile: a, atomically: true, encoding: .utf8)
        XCTAssertEqual(try ContentHash.fnv1a64(path: a).hash, 0xaf63_dc4c_8601_ec8c)
    }

    func testEMAIsValidatedBesideTheRawWeights() throws {
        var config = try TinyRun.config(scratch: scratch, steps: 4)
        config.training.emaDecay = 0.999
        var lines: [String] = []
        try Trainer(config: config, communicator: SerialCommunicator(), resume: false) { lines.append($0) }.run()
        XCTAssertTrue(lines.contains { $0.contains("validation loss") && $0.contains("EMA") }, lines.joined(separator: "\n"))
        let checkpoint = try Checkpoint.read(config.training.checkpoint)
        XCTAssertEqual(checkpoint.validationLossEMA.count, checkpoint.validationLoss.count)
        XCTAssertEqual(checkpoint.emaUpdates, 4)
        XCTAssertNotEqual(checkpoint.ema, checkpoint.parameters)
    }
}
