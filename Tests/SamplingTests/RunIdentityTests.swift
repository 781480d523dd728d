// What a `tbg sample --resume` accepts as the same run (SampleChunks.RunIdentity): the checkpoint
// and peptide by their content where run.json records it, by path where it does not (older tbg).
import Foundation
import Sampling
import TestSupport
import XCTest

final class RunIdentityTests: XCTestCase {
    private func identity(checkpoint: String, checkpointContent: String?, peptide: String = "/data/AD.h5",
                          peptideContent: String? = "100:abc") -> SampleChunks.RunIdentity {
        SampleChunks.RunIdentity(checkpoint: checkpoint, checkpointStep: 7, checkpointContent: checkpointContent, peptide: peptide,
                                 peptideContent: peptideContent, count: 40, chunk: 2, seed: 1, roundTrip: 0, settings: SamplerSettings())
    }

    func testTheSameContentAtAnotherPathIsTheSameRun() throws {
        let scratch = try ScratchDirectory("run-identity")
        defer { scratch.remove() }
        let first = scratch.file("model.h5"), copy = scratch.file("staged/model.h5")
        try Data("a checkpoint's bytes".utf8).write(to: URL(fileURLWithPath: first))
        try FileManager.default.createDirectory(atPath: scratch.file("staged"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: first, toPath: copy)
        let contentA = try SampleChunks.RunIdentity.content(ofFile: first)
        XCTAssertEqual(contentA, try SampleChunks.RunIdentity.content(ofFile: copy))
        XCTAssertTrue(contentA.hasPrefix("20:"), contentA)
        let started = identity(checkpoint: first, checkpointContent: contentA)
        let staged = identity(checkpoint: copy, checkpointContent: contentA, peptide: "/scratch/job-42/AD.h5")
        XCTAssertEqual(staged.differences(from: started), [])

        // The same path with other bytes (a campaign wrote a new checkpoint there) is another run.
        try Data("another checkpoint".utf8).write(to: URL(fileURLWithPath: first))
        let changed = identity(checkpoint: first, checkpointContent: try SampleChunks.RunIdentity.content(ofFile: first))
        let differences = changed.differences(from: started)
        XCTAssertEqual(differences.count, 1, "\(differences)")
        XCTAssertTrue(differences[0].contains("checkpoint \(first) changed since the run started"), differences[0])
        // Another file at another path names both paths.
        let other = identity(checkpoint: copy, checkpointContent: "18:ff")
        XCTAssertTrue(other.differences(from: started).first?.contains("\(first) → \(copy), another file") == true, "\(other.differences(from: started))")
    }

    func testRunJSONOfAnOlderTbgWithoutContentIsMatchedByPath() throws {
        let old = identity(checkpoint: "/runs/model.h5", checkpointContent: nil, peptideContent: nil)
        let now = identity(checkpoint: "/runs/model.h5", checkpointContent: "5:1")
        XCTAssertEqual(now.differences(from: old), [])
        let moved = identity(checkpoint: "/elsewhere/model.h5", checkpointContent: "5:1")
        XCTAssertEqual(moved.differences(from: old), ["checkpoint /runs/model.h5 → /elsewhere/model.h5"])
        // run.json written without the content keys decodes (they are optional) and re-encodes
        // without them, so the chunks of such a run still match their folder.
        let encoded = try JSONEncoder().encode(old)
        let text = try XCTUnwrap(String(data: encoded, encoding: .utf8))
        XCTAssertFalse(text.contains("checkpoint_content"), text)
        XCTAssertEqual(try JSONDecoder().decode(SampleChunks.RunIdentity.self, from: encoded), old)
    }

    func testOnlyTheSettingsOfTheMethodInUseAreCompared() {
        var rk4 = identity(checkpoint: "/m.h5", checkpointContent: "1:1")
        rk4.settings.method = "rk4"
        rk4.settings.steps = 3
        var dopri5 = rk4
        dopri5.settings.method = "dopri5"
        dopri5.settings.steps = 20
        dopri5.settings.absoluteTolerance = 1e-5
        XCTAssertEqual(dopri5.differences(from: rk4), ["method rk4 → dopri5"])
        var moreSteps = rk4
        moreSteps.settings.steps = 4
        moreSteps.settings.absoluteTolerance = 1e-6  // not used by rk4
        XCTAssertEqual(moreSteps.differences(from: rk4), ["steps 3 → 4"])
        var tighter = dopri5
        tighter.settings.absoluteTolerance = 1e-6
        tighter.settings.steps = 7  // not used by dopri5
        XCTAssertEqual(tighter.differences(from: dopri5), ["atol 1e-05 → 1e-06"])
    }
}
