// The configuration layering, the streaming shuffle, the rank split of a batch, the encodings on
// real topologies and Adam's update against its formula.
import Foundation
import MDData
import Model
import Optim
import TestSupport
import FlowModel
import Training
import XCTest

final class ConfigAndScheduleTests: XCTestCase {
    func testConfigurationLayers() throws {
        let scratch = try ScratchDirectory("config")
        defer { scratch.remove() }
        let file = scratch.file("run.yaml")
        try "model:\n  hidden: 32\ntraining:\n  steps: 77\n  ema_decay: 0.999\n".write(toFile: file, atomically: true, encoding: .utf8)
        let config = try RunConfig.resolve(file: file, overrides: ["training.steps=12", "data.dataset=elsewhere", "training.lr_decay_epochs=[2, 5]"])
        XCTAssertEqual(config.model.hidden, 32, "from the file")
        XCTAssertEqual(config.model.layers, 5, "default")
        XCTAssertEqual(config.training.steps, 12, "override wins over the file")
        XCTAssertEqual(config.training.emaDecay, 0.999)
        XCTAssertEqual(config.training.lrDecayEpochs, [2, 5])
        XCTAssertEqual(config.data.dataset, "elsewhere")
        XCTAssertEqual(try RunConfig.decode(json: config.json()), config, "the stored JSON restores the configuration")
        XCTAssertThrowsError(try RunConfig.resolve(file: nil, overrides: ["training.stepz=3"])) {
            XCTAssertTrue("\($0)".contains("unknown key 'stepz'"), "\($0)")
        }
        XCTAssertThrowsError(try RunConfig.resolve(file: nil, overrides: ["model.hidden=-1"]))
        XCTAssertThrowsError(try RunConfig.resolve(file: scratch.file("missing.yaml"), overrides: [])) {
            XCTAssertTrue("\($0)".contains("missing.yaml: cannot read"), "\($0)")
        }
        for preset in ["ad2.yaml", "ad2-modern.yaml", "dipeptides.yaml", "models/ad2.yaml"] {
            let path = URL(fileURLWithPath: Fixtures.directory).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Configs/" + preset).path
            XCTAssertNoThrow(try RunConfig.resolve(file: path, overrides: []), preset)
        }
    }

    func testShuffleIsAPermutationPerEpochAndDeterministic() {
        let schedule = FrameSchedule(frameCount: 1003, windowFrames: 64, groupWindows: 4, seed: 9, peptide: 2)
        let epoch = schedule.epoch(3)
        var seen: [Int] = []
        for position in 0..<1003 {
            let (group, offset) = schedule.locate(epoch, position: position)
            seen.append(schedule.groupFrames(epoch, group: group)[offset])
        }
        XCTAssertEqual(seen.sorted(), Array(0..<1003), "every frame exactly once per epoch")
        XCTAssertNotEqual(seen, Array(0..<1003), "shuffled")
        let again = FrameSchedule(frameCount: 1003, windowFrames: 64, groupWindows: 4, seed: 9, peptide: 2)
        XCTAssertEqual(again.groupFrames(again.epoch(3), group: 1), schedule.groupFrames(epoch, group: 1))
        XCTAssertNotEqual(schedule.epoch(4).windows, epoch.windows, "a new order each epoch")
        // A group only spans its windows: a batch of positions reads at most a few windows.
        let frames = schedule.groupFrames(epoch, group: 0)
        XCTAssertLessThanOrEqual(Set(frames.map { $0 / 64 }).count, 4)
    }

    func testRankSlicesPartitionTheGlobalBatch() throws {
        let scratch = try ScratchDirectory("slices")
        defer { scratch.remove() }
        let data = try TrainingData(config: try TinyRun.config(scratch: scratch, framesPerPeptide: 5))
        let whole = data.samples(epoch: 0, stepInEpoch: 1, rank: 0, size: 1)
        XCTAssertEqual(whole.count, 5)
        for size in 2...3 {
            let union = (0..<size).flatMap { data.samples(epoch: 0, stepInEpoch: 1, rank: $0, size: size) }
            XCTAssertEqual(union, whole, "\(size) ranks")
        }
    }

    func testEncodingsOfRealTopologies() throws {
        func atoms(_ name: String) throws -> (atoms: [AtomDescription], bonds: [[Int]]) {
            let topology = try TrajectoryFile(path: Fixtures.path(name)).topology
            return (PeptideEncoding.atoms(of: topology), topology.bonds)
        }
        let ad = try atoms("ad2_capped.h5")
        // AD2 "full": one class per atom, the three methyl groups' hydrogens merged: 22 → 16 classes.
        let classes = try AtomEncoder.classes(.atoms, atoms: ad.atoms, bonds: ad.bonds).map { $0[0] }
        XCTAssertEqual(Set(classes).count, 16)
        XCTAssertEqual(Array(classes[1...3]), [1, 1, 1], "ACE methyl hydrogens share atom 1's class")
        XCTAssertThrowsError(try AtomEncoder.classes(.backbone, atoms: ad.atoms), "ACE/NME caps are not backbone") {
            XCTAssertTrue("\($0)".contains("residue ACE (atom"), "\($0)")
        }
        XCTAssertThrowsError(try AtomEncoder.classes(.full, atoms: ad.atoms)) {
            XCTAssertTrue("\($0)".contains("residue ACE cannot be encoded"), "\($0)")
        }
        let ks = try atoms("ks_zwitterion.h5")
        XCTAssertEqual(try AtomEncoder.classes(.element, atoms: ks.atoms).map { $0[0] }.filter { $0 == 2 }.count, 3, "three N")
        var unknown = ks.atoms
        unknown[5].name = "XZ9"
        XCTAssertThrowsError(try AtomEncoder.classes(.full, atoms: unknown)) { XCTAssertTrue("\($0)".contains("XZ9"), "\($0)") }
        XCTAssertEqual(AtomEncoder.canonicalAtomName("HD21", residue: "ASN"), "HD2")
        XCTAssertEqual(AtomEncoder.canonicalAtomName("HE1", residue: "TRP"), "HE1", "aromatic ring H kept")
        XCTAssertEqual(AtomEncoder.canonicalAtomName("OD1", residue: "ASP"), "OD")
        XCTAssertEqual(AtomEncoder.canonicalAtomName("H3", residue: "LYS"), "H")
    }

    func testAdamMatchesItsFormula() {
        var settings = AdamSettings()
        settings.weightDecay = 0.01
        let adam = Adam(count: 2, settings: settings)
        var parameters: [Float] = [1, -2]
        let gradients: [[Float]] = [[0.5, -1], [0.25, 2]]
        var m = [0.0, 0.0], v = [0.0, 0.0], theta = [1.0, -2.0]
        for (step, g) in gradients.enumerated() {
            parameters.withUnsafeMutableBufferPointer { p in g.withUnsafeBufferPointer { adam.step(parameters: p.baseAddress!, gradients: $0.baseAddress!, learningRate: 0.1) } }
            for k in 0..<2 {
                m[k] = 0.9 * m[k] + 0.1 * Double(g[k])
                v[k] = 0.999 * v[k] + 0.001 * Double(g[k]) * Double(g[k])
                let mHat = m[k] / (1 - pow(0.9, Double(step + 1))), vHat = v[k] / (1 - pow(0.999, Double(step + 1)))
                theta[k] -= 0.1 * (mHat / (vHat.squareRoot() + 1e-8) + 0.01 * theta[k])
            }
        }
        assertClose(parameters.map(Double.init), theta, absolute: 1e-6, relative: 1e-6, "Adam")
    }
}

/// A tiny real training setup: the committed alanine-dipeptide fixture as a one-peptide dataset.
enum TinyRun {
    static func config(scratch: ScratchDirectory, framesPerPeptide: Int = 4, steps: Int = 6) throws -> RunConfig {
        let dataset = try TinyDataset.make(in: scratch)
        return try RunConfig.resolve(file: nil, overrides: TinyDataset.overrides(
            dataset: dataset, checkpoint: scratch.file("run/checkpoint.h5"), steps: steps, framesPerPeptide: framesPerPeptide))
    }
}
