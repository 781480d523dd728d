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

    // MARK: a resume at another --count

    /// Chunks of 2 samples of a 1-atom "peptide" with recognisable records (index i at x = i).
    private func writeChunks(_ chunks: SampleChunks, _ ks: [Int]) throws {
        for k in ks {
            let records = chunks.indices(ofChunk: k).map {
                SampleRecord(index: $0, positions: [Double($0), 0, 0], logPrior: 0, deltaLogDet: 0, logQ: 0, energy: 1, topologyOK: true,
                             chiralityOK: true, mirrored: false, logWeight: -1)
            }
            try chunks.write(chunk: k, records: records, fieldEvaluations: 1, sampleEvaluations: 1)
        }
    }

    private func names(_ folder: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix("chunk-") }.sorted()
    }

    /// Fewer samples: the whole chunks inside the new count are kept, the one whose extent changes
    /// and those past the count are set aside (not deleted), run.json says the new count; a later
    /// resume at the first count takes them back; a merge keeps them beside the output.
    func testAResumeMayChangeTheCountAndKeepsEveryChunk() throws {
        let scratch = try ScratchDirectory("run-identity-count")
        defer { scratch.remove() }
        let out = scratch.file("samples.h5"), folder = SampleChunks.folder(for: out)
        var identity = self.identity(checkpoint: "/m.h5", checkpointContent: "1:1")
        identity.count = 9  // chunks 0…4 of 2; chunk 4 holds sample 8 only
        var first = try SampleChunks.open(out: out, identity: identity, atoms: 1, resume: false)
        try writeChunks(first, [0, 1, 2, 4])
        first.releaseLock()

        // Without --resume the folder is refused, as before.
        var smaller = identity
        smaller.count = 5  // chunks 0…2; chunk 2 holds sample 4 only
        XCTAssertThrowsError(try SampleChunks.open(out: out, identity: smaller, atoms: 1, resume: false))
        var resumed = try SampleChunks.open(out: out, identity: smaller, atoms: 1, resume: true)
        XCTAssertEqual(resumed.identity.count, 5)
        XCTAssertEqual(resumed.chunkCount, 3)
        XCTAssertEqual(resumed.doneChunks(), [0, 1], "chunk 2 held samples 4…5 and is computed again")
        XCTAssertEqual(try names(folder), ["chunk-000000.h5", "chunk-000001.h5", "chunk-000002.h5.other-count", "chunk-000004.h5.other-count"])
        XCTAssertEqual(try SampleChunks.readIdentity(manifest: folder + "/run.json").count, 5)
        let lines = resumed.setAside.joined(separator: "\n")
        XCTAssertTrue(lines.contains("--count 5 instead of the earlier 9"), lines)
        XCTAssertTrue(lines.contains("set aside chunk 2 (samples 4…5 of the run at --count 9)") && lines.contains("makes it samples 4…4, computed again"), lines)
        XCTAssertTrue(lines.contains("set aside chunk 4 (samples 8…8 of the run at --count 9)") && lines.contains("outside --count 5"), lines)
        // The kept chunks read as this run's: the count in their own description is not compared.
        XCTAssertEqual(try resumed.read(chunk: 1).records.map(\.index), [2, 3])
        try writeChunks(resumed, [2])
        resumed.releaseLock()

        // Back to 9: chunk 2 now holds sample 4 only (written at 5) and is set aside in turn; the
        // earlier chunk 2 (4…5) and chunk 4 (8) are taken back.
        var again = try SampleChunks.open(out: out, identity: identity, atoms: 1, resume: true)
        XCTAssertEqual(again.identity.count, 9)
        XCTAssertEqual(again.doneChunks(), [0, 1, 2, 4])
        XCTAssertEqual(try again.read(chunk: 2).records.map(\.index), [4, 5])
        XCTAssertEqual(try again.read(chunk: 4).records.map(\.index), [8])
        XCTAssertEqual(try names(folder), ["chunk-000000.h5", "chunk-000001.h5", "chunk-000002.h5", "chunk-000002.h5.other-count-2", "chunk-000004.h5"])
        XCTAssertTrue(again.setAside.contains { $0.hasPrefix("took back chunk 2") }, "\(again.setAside)")
        try writeChunks(again, [3])
        // The merge's clean-up keeps what was set aside beside the output.
        let kept = try XCTUnwrap(try again.remove())
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: kept), ["chunk-000002.h5.other-count-2"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder))

        // Another seed is still another run, named as such.
        var another = try SampleChunks.open(out: scratch.file("b.h5"), identity: identity, atoms: 1, resume: false)
        another.releaseLock()
        var otherSeed = identity
        otherSeed.seed = 2
        otherSeed.count = 4
        XCTAssertThrowsError(try SampleChunks.open(out: scratch.file("b.h5"), identity: otherSeed, atoms: 1, resume: true)) { error in
            XCTAssertTrue("\(error)".contains("seed 1 → 2") && !"\(error)".contains("count 9"), "\(error)")
        }
    }
}
