// The training frame streams on real data: the i.i.d. stream draws every training frame once per
// epoch in a fresh uniformly random order, from every file of a peptide; rank slices concatenate
// to the one-rank batch; the windowed fallback also covers every frame; files of one peptide with
// different atoms are refused.
import Foundation
import MDData
import TestSupport
import FlowModel
import Training
import XCTest

final class FrameStreamTests: XCTestCase {
    private var scratch: ScratchDirectory!

    override func setUpWithError() throws { scratch = try ScratchDirectory("streams") }
    override func tearDown() { scratch.remove() }

    private func frames(_ path: String) throws -> [[Float]] {
        let file = try TrajectoryFile(path: path)
        let all = try file.readFrames(0..<file.frameCount)
        let stride = file.atomCount * 3
        return (0..<file.frameCount).map { Array(all[($0 * stride)..<(($0 + 1) * stride)]) }
    }

    func testIIDStreamDrawsEveryTrainingFrameOncePerEpoch() throws {
        let config = try TinyRun.config(scratch: scratch)
        let data = try TrainingData(config: config)
        XCTAssertEqual(data.stream, .iid, "20 frames fit any memory budget")
        XCTAssertEqual(data.stepsPerEpoch, 4, "16 training frames, 4 per step")
        let file = try frames(scratch.file("dataset/AD.h5"))
        for epoch in 0..<3 {
            var drawn: [[Float]] = []
            for step in 0..<data.stepsPerEpoch {
                let samples = data.samples(epoch: epoch, stepInEpoch: step, rank: 0, size: 1)
                let coordinates = try data.coordinates(of: samples, epoch: epoch)
                drawn += stride(from: 0, to: coordinates.count, by: 66).map { Array(coordinates[$0..<($0 + 66)]) }
            }
            let indices = drawn.map { frame in file.firstIndex(of: frame)! }
            XCTAssertEqual(indices.sorted(), Array(0..<16), "epoch \(epoch): each of the 16 training frames once, no held-out frame")
            XCTAssertEqual(indices, data.peptides[0].iidOrder(epoch: epoch))
        }
        XCTAssertNotEqual(data.peptides[0].iidOrder(epoch: 0), data.peptides[0].iidOrder(epoch: 1), "a fresh order each epoch")
    }

    func testIIDOrderIsUniform() throws {
        let data = try TrainingData(config: try TinyRun.config(scratch: scratch))
        // The frame at position 0 over 3200 epochs: 200 expected per frame; χ² with 15 degrees of
        // freedom exceeds 37.7 with probability 0.001 (the seed is fixed, so this is deterministic).
        var counts = [Int](repeating: 0, count: 16)
        for epoch in 0..<3200 { counts[data.peptides[0].iidOrder(epoch: epoch)[0]] += 1 }
        let chiSquared = counts.reduce(0.0) { $0 + pow(Double($1) - 200, 2) / 200 }
        XCTAssertLessThan(chiSquared, 37.7, "\(counts)")
    }

    func testRankSlicesConcatenateToTheOneRankBatch() throws {
        let config = try TinyRun.config(scratch: scratch, framesPerPeptide: 5)
        let whole = try TrainingData(config: config)
        let expected = try whole.coordinates(of: whole.samples(epoch: 2, stepInEpoch: 1, rank: 0, size: 1), epoch: 2)
        for size in 2...3 {
            var joined: [Float] = []
            for rank in 0..<size {
                let data = try TrainingData(config: config)   // each rank has its own reader
                joined += try data.coordinates(of: data.samples(epoch: 2, stepInEpoch: 1, rank: rank, size: size), epoch: 2)
            }
            XCTAssertEqual(joined, expected, "\(size) ranks")
        }
    }

    func testPooledFilesOfOnePeptideAreAllDrawn() throws {
        // A second file of the same peptide: the fixture's frames moved by +1 nm in x.
        let dataset = try TinyDataset.make(in: scratch)
        let first = try TrajectoryFile(path: dataset + "/AD.h5")
        var coordinates = try first.readFrames(0..<first.frameCount)
        for k in stride(from: 0, to: coordinates.count, by: 3) { coordinates[k] += 1 }
        try TrajectoryWriter.write(TrajectoryContents(coordinates: coordinates, frameCount: first.frameCount, atomCount: 22,
                                                      topologyJSON: first.topologyJSON, metadataJSON: first.metadataJSON,
                                                      systemXML: first.systemXML), to: dataset + "/AD-biased.h5")
        let index = #"{"format": "tbg-dataset", "format_version": 1, "peptides": [{"name": "AD", "file": "AD.h5", "files": ["AD.h5", "AD-biased.h5"], "split": "train"}]}"#
        try index.write(toFile: dataset + "/index.json", atomically: true, encoding: .utf8)
        for stream in ["iid", "windowed"] {
            var config = try TinyRun.config(scratch: scratch)
            config = try RunConfig.resolve(file: nil, overrides: TinyDataset.overrides(dataset: dataset, checkpoint: scratch.file("c.h5"), steps: 1)
                                           + ["data.stream=\(stream)"])
            let data = try TrainingData(config: config)
            XCTAssertEqual(data.peptides[0].trainingFrames, 32, "16 leading frames of each file")
            XCTAssertEqual(data.stepsPerEpoch, 8)
            var xs: [Float] = []
            for step in 0..<8 {
                let c = try data.coordinates(of: data.samples(epoch: 1, stepInEpoch: step, rank: 0, size: 1), epoch: 1)
                xs += stride(from: 0, to: c.count, by: 66).map { c[$0] }
            }
            let all = try frames(dataset + "/AD.h5").prefix(16).map { $0[0] } + frames(dataset + "/AD-biased.h5").prefix(16).map { $0[0] }
            XCTAssertEqual(xs.sorted(), all.sorted(), "\(stream): every training frame of both files once per epoch")
            XCTAssertEqual(Set(data.validation.map { $0.file.path }).count, 2, "\(stream): validation frames from the tail of each file")
        }
        // A file with other atoms cannot be pooled with the peptide.
        let ks = try TrajectoryFile(path: Fixtures.path("ks_zwitterion.h5"))
        try FileManager.default.copyItem(atPath: ks.path, toPath: dataset + "/KS.h5")
        try assertPoolingRefused(dataset: dataset, second: "KS.h5", saying: "pooled with")
    }

    /// An index pooling AD.h5 with `second` for one peptide; training data must refuse it, naming the file.
    private func assertPoolingRefused(dataset: String, second: String, saying fragment: String, line: UInt = #line) throws {
        let index = #"{"format": "tbg-dataset", "format_version": 1, "peptides": [{"name": "AD", "file": "AD.h5", "files": ["AD.h5", "SECOND"], "split": "train"}]}"#
        try index.replacingOccurrences(of: "SECOND", with: second).write(toFile: dataset + "/index.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TrainingData(config: try TinyRun.config(scratch: scratch)), line: line) {
            XCTAssertTrue("\($0)".contains(second) && "\($0)".contains(fragment), "\($0)", line: line)
        }
    }

    func testAFileWithoutFramesIsRefusedByName() throws {
        let dataset = try TinyDataset.make(in: scratch)
        let first = try TrajectoryFile(path: dataset + "/AD.h5")
        try TrajectoryWriter.write(TrajectoryContents(coordinates: [], frameCount: 0, atomCount: 22, topologyJSON: first.topologyJSON,
                                                      metadataJSON: first.metadataJSON, systemXML: first.systemXML), to: dataset + "/empty.h5")
        try assertPoolingRefused(dataset: dataset, second: "empty.h5", saying: "has no frames")
    }

    func testIIDStreamRefusesASetAboveTheMemoryBudget() throws {
        var config = try TinyRun.config(scratch: scratch)
        config.data.stream = .iid
        config.data.memoryBudgetMB = 0.001
        XCTAssertThrowsError(try TrainingData(config: config)) { XCTAssertTrue("\($0)".contains("memory_budget_mb"), "\($0)") }
        config.data.stream = .auto
        XCTAssertEqual(try TrainingData(config: config).stream, .windowed, "auto falls back to the windowed stream")
    }
}
