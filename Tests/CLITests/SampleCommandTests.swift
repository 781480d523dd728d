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
        let checkpoint = try TinyDataset.trainedCheckpoint(in: scratch, steps: 20)
        let common = ["sample", "--checkpoint", checkpoint, "--peptide", Fixtures.path("ad2_capped.h5"), "--count", "5",
                      "--method", "rk4", "--steps", "3", "--seed", "17"]
        let one = try Executables.run(Executables.tbg, common + ["--out", scratch.file("one.h5"), "--progress-seconds", "0", "--chunk", "2"])
        XCTAssertEqual(one.status, 0, one.standardError)
        XCTAssertTrue(one.standardOutput.contains("5 samples:"), one.standardOutput)
        // An existing output is refused before any work (nothing already written is lost), and
        // replaced with --overwrite.
        let written = try Data(contentsOf: URL(fileURLWithPath: scratch.file("one.h5")))
        let again = try Executables.run(Executables.tbg, common + ["--out", scratch.file("one.h5")])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.standardError.contains("\(scratch.file("one.h5")): exists already") && again.standardError.contains("--overwrite"),
                      again.standardError)
        XCTAssertFalse(again.standardOutput.contains("progress"), again.standardOutput)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: scratch.file("one.h5"))), written)
        // Through a folder that does not exist, "missing/../one.h5" would land on one.h5: refused.
        let around = try Executables.run(Executables.tbg, common + ["--out", scratch.file("missing/../one.h5")])
        XCTAssertNotEqual(around.status, 0)
        XCTAssertTrue(around.standardError.contains("does not exist"), around.standardError)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: scratch.file("one.h5"))), written)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("missing")))
        let replaced = try Executables.run(Executables.tbg, common + ["--out", scratch.file("one.h5"), "--overwrite", "--chunk", "2"])
        XCTAssertEqual(replaced.status, 0, replaced.standardError)
        XCTAssertTrue(one.standardOutput.contains("tbg sample: progress: ~2/5 samples"), one.standardOutput)
        XCTAssertTrue(one.standardOutput.contains("tbg sample: progress: ~5/5 samples"), one.standardOutput)
        // Before any valid sample there is no ESS: a dash, never "nan".
        for line in one.standardOutput.split(separator: "\n") where line.contains("progress:") {
            XCTAssertFalse(line.contains("nan"), String(line))
            if line.contains("valid 0.0 %") { XCTAssertTrue(line.contains("ESS – "), String(line)) }
        }
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
        // Every sample has an energy and a log weight, valid or not (the clipped SNIS protocol): the
        // valid ones' equal energy_kj_mol, and log w = −u/kT − log q; one energy per sample spent.
        for name in ["one.h5", "two.h5"] {
            let group = try HDF5File(opening: scratch.file(name)).root().group("samples")
            let raw: [Double] = try group.dataset("raw_energy").read(), rawLogWeight: [Double] = try group.dataset("raw_log_weight").read()
            let energy: [Double] = try group.dataset("energy_kj_mol").read(), logQ: [Double] = try group.dataset("log_q").read()
            let valid = zip(try group.dataset("topology_ok").read(as: UInt8.self), try group.dataset("chirality_ok").read(as: UInt8.self)).map { $0 != 0 && $1 != 0 }
            let kT = try group.readAttribute("kT_kJ_per_mol", as: Double.self)[0]
            XCTAssertEqual(raw.count, 5)
            XCTAssertFalse(raw.contains { $0.isNaN }, "every integration finished: \(raw)")
            for k in 0..<5 {
                if valid[k] { XCTAssertEqual(raw[k], energy[k], name) }
                if raw[k].isFinite { XCTAssertEqual(rawLogWeight[k], -raw[k] / kT - logQ[k], accuracy: 1e-12 * max(1, abs(rawLogWeight[k])), name) }
            }
            XCTAssertEqual(try group.dataset("raw_energy").readStringAttribute("units"), "kilojoules_per_mole")
            XCTAssertEqual(try group.dataset("isomorphism_budget_exhausted").read(as: UInt8.self).count, 5)
            XCTAssertEqual(try group.readAttribute("energy_evaluations", as: Int64.self), [5])
        }
        // tbg evaluate reads the file as the flow sampler's and computes both SNIS protocols from it.
        let evaluate = try Executables.run(Executables.tbg, ["evaluate", "--samples", scratch.file("one.h5"), "--reference",
                                                              Fixtures.path("ad2_capped.h5"), "--bootstrap", "0", "--json"])
        XCTAssertEqual(evaluate.status, 0, evaluate.standardError)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(evaluate.standardOutput.utf8)) as? [String: Any])
        XCTAssertEqual(report["sampler"] as? String, "flow", "/samples@sampler of tbg sample holds its ODE settings, not a sampler name")
        XCTAssertEqual(report["energy_evaluations"] as? Int, 5)
        let clipped = try XCTUnwrap(report["snis_clipped"] as? [String: Any])
        XCTAssertTrue(clipped["reason"] is NSNull, "\(clipped)")
        XCTAssertEqual(clipped["samples"] as? Int, 4, "5 samples, the largest log weight above the 0.998 quantile")
        let rawOne: [Double] = try HDF5File(opening: scratch.file("one.h5")).root().dataset("samples/raw_energy").read()
        let rawTwo: [Double] = try HDF5File(opening: scratch.file("two.h5")).root().dataset("samples/raw_energy").read()
        assertClose(rawTwo, rawOne, absolute: 1e-3, relative: 1e-5, "raw energies, 2 ranks vs 1")
        // The output is a valid trajectory file for tbg itself too.
        let inspect = try Executables.run(Executables.tbg, ["inspect", scratch.file("two.h5")])
        XCTAssertEqual(inspect.status, 0, inspect.standardError)
        // ... and inspect describes it as samples: the sampler, valid share, cost, the model and step.
        let topologyOK: [UInt8] = try HDF5File(opening: scratch.file("two.h5")).root().dataset("samples/topology_ok").read()
        let chiralityOK: [UInt8] = try HDF5File(opening: scratch.file("two.h5")).root().dataset("samples/chirality_ok").read()
        let valid = zip(topologyOK, chiralityOK).filter { $0 != 0 && $1 != 0 }.count
        for fragment in ["5 samples (not MD", "sampler      flow (tbg sample): 5 samples, \(valid) valid", "model        \(checkpoint) at step 20",
                         "seed 17, 2 rank(s)", "\"method\":\"rk4\""] {
            XCTAssertTrue(inspect.standardOutput.contains(fragment), "missing '\(fragment)' in:\n\(inspect.standardOutput)")
        }
        let samplesJSON = try Executables.run(Executables.tbg, ["inspect", "--json", scratch.file("two.h5")])
        let samplesObject = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(samplesJSON.standardOutput.utf8)) as? [String: Any])
        XCTAssertEqual(samplesObject["kind"] as? String, "samples")
        XCTAssertEqual(samplesObject["atoms"] as? Int, 22, "the trajectory report's keys are kept")
        let samplesPart = try XCTUnwrap(samplesObject["samples"] as? [String: Any])
        XCTAssertEqual(samplesPart["count"] as? Int, 5)
        XCTAssertEqual(samplesPart["valid"] as? Int, valid)
        XCTAssertEqual(samplesPart["checkpoint_step"] as? Int, 20)
        // A checkpoint is described, not refused as a trajectory without /coordinates.
        let model = try Executables.run(Executables.tbg, ["inspect", checkpoint])
        XCTAssertEqual(model.status, 0, model.standardError)
        for fragment in ["step 20 (epoch", "training samples seen", "EGNN vector field, H = ", "resumable  Adam state at step 20", "data       \(scratch.file("dataset"))"] {
            XCTAssertTrue(model.standardOutput.contains(fragment), "missing '\(fragment)' in:\n\(model.standardOutput)")
        }
        let modelJSON = try Executables.run(Executables.tbg, ["inspect", "--json", checkpoint])
        let modelObject = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(modelJSON.standardOutput.utf8)) as? [String: Any])
        XCTAssertEqual(modelObject["kind"] as? String, "checkpoint")
        XCTAssertEqual(modelObject["step"] as? Int, 20)
        let batch = try XCTUnwrap(modelObject["global_batch"] as? Int)
        XCTAssertEqual(modelObject["samples_seen"] as? Int, 20 * batch)
    }

    /// Two real runs with --seed 1 and 2 pooled (tbg pool): the pool holds both runs' samples as they
    /// were drawn, tbg evaluate and tbg inspect read it, and pooling a run with itself, with another
    /// ODE setting, or onto an input is refused with nothing written.
    func testRunsWithTwoSeedsPoolIntoOneSampleFile() throws {
        let scratch = try ScratchDirectory("pool-cli")
        defer { scratch.remove() }
        let checkpoint = try TinyDataset.trainedCheckpoint(in: scratch, steps: 20)
        func sample(_ name: String, seed: Int, count: Int = 3, steps: Int = 3) throws -> String {
            let run = try Executables.run(Executables.tbg, ["sample", "--checkpoint", checkpoint, "--peptide", Fixtures.path("ad2_capped.h5"),
                                                            "--count", "\(count)", "--method", "rk4", "--steps", "\(steps)", "--seed", "\(seed)",
                                                            "--out", scratch.file(name)])
            XCTAssertEqual(run.status, 0, run.standardError)
            return scratch.file(name)
        }
        let one = try sample("s1.h5", seed: 1), two = try sample("s2.h5", seed: 2, count: 4)
        // tbg sample records what it read, by content, for the pool's check.
        let content = try HDF5File(opening: one).root().group("samples").readStringAttribute("checkpoint_content")
        XCTAssertTrue(content.hasPrefix("\(try FileManager.default.attributesOfItem(atPath: checkpoint)[.size] as? Int ?? -1):"), content)

        let pool = scratch.file("pool.h5")
        let pooled = try Executables.run(Executables.tbg, ["pool", one, two, "--out", pool])
        XCTAssertEqual(pooled.status, 0, pooled.standardError)
        XCTAssertTrue(pooled.standardOutput.contains("wrote \(pool): 7 samples"), pooled.standardOutput)
        func read(_ path: String) throws -> (coordinates: [Float], logWeight: [Double], index: [Int64]) {
            let root = try HDF5File(opening: path).root()
            return (try root.dataset("coordinates").read(), try root.dataset("samples/log_weight").read(), try root.dataset("samples/index").read())
        }
        let a = try read(one), b = try read(two), p = try read(pool)
        XCTAssertEqual(p.coordinates, a.coordinates + b.coordinates)
        XCTAssertEqual(p.logWeight.map(\.bitPattern), (a.logWeight + b.logWeight).map(\.bitPattern))
        XCTAssertEqual(p.index, [0, 1, 2, 0, 1, 2, 3])
        XCTAssertNotEqual(Array(a.coordinates.prefix(66)), Array(b.coordinates.prefix(66)), "seeds 1 and 2 draw other latents")
        let evaluate = try Executables.run(Executables.tbg, ["evaluate", "--samples", pool, "--reference", Fixtures.path("ad2_capped.h5"), "--json", "--bootstrap", "0"])
        XCTAssertEqual(evaluate.status, 0, evaluate.standardError)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(evaluate.standardOutput.utf8)) as? [String: Any])
        XCTAssertEqual((report["counts"] as? [String: Any])?["samples"] as? Int, 7, evaluate.standardOutput)
        let inspect = try Executables.run(Executables.tbg, ["inspect", pool])
        XCTAssertEqual(inspect.status, 0, inspect.standardError)
        XCTAssertTrue(inspect.standardOutput.contains("seeds 1, 2") && inspect.standardOutput.contains("pool of      \(one), \(two)"), inspect.standardOutput)

        // Refused, with nothing written: a run pooled with itself, another rk4 step count, the
        // output onto an input, an existing output.
        let itself = try Executables.run(Executables.tbg, ["pool", one, one, "--out", scratch.file("twice.h5")])
        XCTAssertNotEqual(itself.status, 0)
        XCTAssertTrue(itself.standardError.contains("is given twice"), itself.standardError)
        let coarse = try sample("coarse.h5", seed: 3, steps: 2)
        let mixed = try Executables.run(Executables.tbg, ["pool", one, coarse, "--out", scratch.file("mixed.h5")])
        XCTAssertNotEqual(mixed.status, 0)
        XCTAssertTrue(mixed.standardError.contains("\(coarse)") && mixed.standardError.contains("ODE steps 2 here, 3 in \(one)"), mixed.standardError)
        let before = try Data(contentsOf: URL(fileURLWithPath: two))
        let onto = try Executables.run(Executables.tbg, ["pool", one, two, "--out", two, "--overwrite"])
        XCTAssertNotEqual(onto.status, 0)
        XCTAssertTrue(onto.standardError.contains("is also an input"), onto.standardError)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: two)), before)
        let existing = try Executables.run(Executables.tbg, ["pool", one, two, "--out", pool])
        XCTAssertNotEqual(existing.status, 0)
        XCTAssertTrue(existing.standardError.contains("exists already"), existing.standardError)
        for name in ["twice.h5", "mixed.h5"] { XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file(name)), name) }
    }

    func testSamplesWhoseIntegrationFailsAreReportedAndTheRunCompletes() throws {
        let mpirun = try XCTUnwrap(Executables.which("mpirun"), "mpirun not found")
        let scratch = try ScratchDirectory("sample-fail")
        defer { scratch.remove() }
        let checkpoint = try TinyDataset.trainedCheckpoint(in: scratch, steps: 20)
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
        // No energy was computed: raw energies and log weights are NaN, and the budget spent is 0.
        XCTAssertTrue(try root.dataset("samples/raw_energy").read(as: Double.self).allSatisfy(\.isNaN))
        XCTAssertTrue(try root.dataset("samples/raw_log_weight").read(as: Double.self).allSatisfy(\.isNaN))
        XCTAssertEqual(try root.group("samples").readAttribute("energy_evaluations", as: Int64.self), [0])
    }

    /// A 2-rank run stopped part-way (SIGUSR1, which mpirun forwards to every rank; SIGTERM would make
    /// mpirun kill the ranks) keeps its finished chunks and exits 0; the same command
    /// with --resume on 1 rank completes it, and the file equals an uninterrupted run's.
    func testStopThenResumeEqualsUninterrupted() throws {
        let mpirun = try XCTUnwrap(Executables.which("mpirun"), "mpirun not found")
        let scratch = try ScratchDirectory("sample-resume")
        defer { scratch.remove() }
        let checkpoint = try TinyDataset.trainedCheckpoint(in: scratch, steps: 5)
        func arguments(_ out: String) -> [String] {
            ["sample", "--checkpoint", checkpoint, "--peptide", Fixtures.path("ad2_capped.h5"), "--count", "40", "--chunk", "2",
             "--method", "rk4", "--steps", "3", "--progress-seconds", "0", "--out", scratch.file(out)]
        }
        let whole = try Executables.run(Executables.tbg, arguments("whole.h5"))
        XCTAssertEqual(whole.status, 0, whole.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("whole.h5.chunks")), "the chunk folder is removed after the merge")
        // Every sample records its own ODE evaluations: rk4 with 3 steps takes 4 × 3.
        let perSample = try HDF5File(opening: scratch.file("whole.h5")).root().dataset("samples/ode_evaluations").read(as: Double.self)
        XCTAssertEqual(perSample, [Double](repeating: 12, count: 40))
        XCTAssertTrue(whole.standardOutput.contains("12.0 velocity evaluations per sample (median 12, max 12)"), whole.standardOutput)

        let stopped = try Executables.interrupt(mpirun, ["-np", "2", Executables.tbg] + arguments("resumed.h5"), environment: Executables.mpiEnvironment,
                                                marker: "tbg sample: progress", signal: SIGUSR1, log: scratch.file("stopped.log"))
        XCTAssertEqual(stopped.status, 0, stopped.output)
        XCTAssertTrue(stopped.output.contains("stopped on SIGUSR1"), stopped.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("resumed.h5")), "no output before all chunks are done")
        let kept = try FileManager.default.contentsOfDirectory(atPath: scratch.file("resumed.h5.chunks")).filter { $0.hasPrefix("chunk-") }
        XCTAssertGreaterThan(kept.count, 0, stopped.output)
        XCTAssertLessThan(kept.count, 20, "the signal must have stopped the run early")

        let again = try Executables.run(Executables.tbg, arguments("resumed.h5"))
        XCTAssertNotEqual(again.status, 0, "without --resume an unfinished run's chunks are not overwritten")
        XCTAssertTrue(again.standardError.contains("--resume"), again.standardError)
        // Kept chunks damaged on disk are set aside and computed again, not trusted until the merge:
        // one cut short, and (when two were kept) one whose numbers changed in place, which HDF5
        // itself would read without complaint (the chunk's checksum catches it).
        let damaged = scratch.file("resumed.h5.chunks/" + kept.sorted()[0])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: damaged))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: damaged))
        if kept.count > 1 {
            let records = try HDF5File(opening: scratch.file("resumed.h5.chunks/" + kept.sorted()[1]), mode: .readWrite).root().dataset("records")
            try records.write([Double(7)], start: [0, 20], count: [1, 1])
        }
        // Chunk files in a folder without run.json are neither used nor deleted.
        try FileManager.default.createDirectory(atPath: scratch.file("orphan.h5.chunks"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: scratch.file("resumed.h5.chunks/" + kept.sorted().last!),
                                         toPath: scratch.file("orphan.h5.chunks/" + kept.sorted().last!))
        for extra in [["--resume"], []] {
            let orphan = try Executables.run(Executables.tbg, arguments("orphan.h5") + extra)
            XCTAssertNotEqual(orphan.status, 0)
            XCTAssertTrue(orphan.standardError.contains("but no run.json"), orphan.standardError)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: scratch.file("orphan.h5.chunks/" + kept.sorted().last!)))
        // inspect of the unfinished output (only its chunk folder exists) says how far it got and
        // gives the command that continues it; that command is what resumes it here.
        let unfinished = try Executables.run(Executables.tbg, ["inspect", scratch.file("resumed.h5")])
        XCTAssertEqual(unfinished.status, 0, unfinished.standardError)
        XCTAssertTrue(unfinished.standardOutput.contains("an unfinished tbg sample run"), unfinished.standardOutput)
        // The damaged chunks are not counted as finished: inspect reads and checks every chunk.
        let sound = kept.count - min(2, kept.count)
        XCTAssertTrue(unfinished.standardOutput.contains("finished     \(sound) of 20 chunks (\(2 * sound) of 40 samples)"), unfinished.standardOutput)
        XCTAssertTrue(unfinished.standardOutput.contains("damaged      "), unfinished.standardOutput)
        // One chunk file: which chunk of which run it is, and what is wrong with it (here: cut short).
        let chunkReport = try Executables.run(Executables.tbg, ["inspect", damaged])
        XCTAssertEqual(chunkReport.status, 1, "a damaged chunk is a bad file: \(chunkReport.standardError)")
        XCTAssertTrue(chunkReport.standardOutput.contains("\(damaged): chunk ") && chunkReport.standardOutput.contains("of the run below, NOT sound: ")
                      && chunkReport.standardOutput.contains("is truncated") && chunkReport.standardOutput.contains("an unfinished tbg sample run"),
                      chunkReport.standardOutput)
        // A chunk copied out of its folder says what it is and where it belongs (not "missing /coordinates").
        // (The last kept chunk is readable when two or more were kept: only the first was cut short.)
        if kept.count >= 2 {
            try FileManager.default.copyItem(atPath: scratch.file("resumed.h5.chunks/" + kept.sorted().last!), toPath: scratch.file("stray-chunk.h5"))
            let stray = try Executables.run(Executables.tbg, ["inspect", scratch.file("stray-chunk.h5")])
            XCTAssertEqual(stray.status, 1)
            XCTAssertTrue(stray.standardError.contains("not a trajectory or sample file but chunk ") && stray.standardError.contains("of a tbg sample run (40 samples of")
                          && stray.standardError.contains("away from its run's folder"), stray.standardError)
        }
        let unfinishedJSON = try Executables.run(Executables.tbg, ["inspect", "--json", scratch.file("resumed.h5.chunks/run.json")])
        XCTAssertEqual(unfinishedJSON.status, 0, unfinishedJSON.standardError)
        let described = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(unfinishedJSON.standardOutput.utf8)) as? [String: Any])
        XCTAssertEqual(described["kind"] as? String, "unfinished_sampling_run")
        XCTAssertEqual(described["finished_chunks"] as? Int, sound)
        let command = try XCTUnwrap(described["resume_command"] as? String).split(separator: " ").map(String.init)
        XCTAssertEqual(command.first, "tbg")
        XCTAssertTrue(command.contains("--resume") && command.contains(scratch.file("resumed.h5")), command.joined(separator: " "))
        let badManifest = scratch.file("bad.h5.chunks/run.json")
        try FileManager.default.createDirectory(atPath: scratch.file("bad.h5.chunks"), withIntermediateDirectories: true)
        try Data(#"{"count": 3}"#.utf8).write(to: URL(fileURLWithPath: badManifest))
        let bad = try Executables.run(Executables.tbg, ["inspect", scratch.file("bad.h5.chunks")])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.standardError.contains(badManifest) && bad.standardError.contains("is missing"), bad.standardError)
        let resumed = try Executables.run(Executables.tbg, Array(command.dropFirst()) + ["--progress-seconds", "0"])
        XCTAssertEqual(resumed.status, 0, resumed.standardError)
        XCTAssertTrue(resumed.standardOutput.contains("set aside damaged chunk"), resumed.standardOutput)
        if kept.count > 1 { XCTAssertTrue(resumed.standardOutput.contains("do not match their checksum"), resumed.standardOutput) }
        if sound > 0 { XCTAssertTrue(resumed.standardOutput.contains("resumed: \(sound) of 20 chunks"), resumed.standardOutput) }
        // What was set aside is not deleted with the folder: it is kept beside the output.
        XCTAssertTrue(resumed.standardOutput.contains("are kept in \(scratch.file("resumed.h5.set-aside"))"), resumed.standardOutput)
        XCTAssertTrue(try FileManager.default.contentsOfDirectory(atPath: scratch.file("resumed.h5.set-aside")).contains { $0.contains(".h5.damaged") })
        let complete = try Executables.run(Executables.tbg, arguments("resumed.h5") + ["--resume"])
        XCTAssertNotEqual(complete.status, 0)
        XCTAssertTrue(complete.standardError.contains("is complete already"), complete.standardError)
        for name in ["coordinates", "samples/log_q", "samples/log_weight", "samples/index", "samples/topology_ok"] {
            let a = try HDF5File(opening: scratch.file("whole.h5")).root().dataset(name)
            let b = try HDF5File(opening: scratch.file("resumed.h5")).root().dataset(name)
            XCTAssertEqual(try a.read(as: Double.self).map(\.bitPattern), try b.read(as: Double.self).map(\.bitPattern), name)
        }
        // kill -9 of one rank: mpirun ends the job; the chunks finished before stay, and a resume
        // completes the same file.
        let log = scratch.file("killed.log")
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        let job = Process()
        job.executableURL = URL(fileURLWithPath: mpirun)
        job.arguments = ["-np", "2", Executables.tbg] + arguments("killed.h5")
        job.environment = ProcessInfo.processInfo.environment.merging(Executables.mpiEnvironment) { $1 }
        job.standardOutput = handle
        job.standardError = handle
        try job.run()
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, job.isRunning,
              ((try? FileManager.default.contentsOfDirectory(atPath: scratch.file("killed.h5.chunks"))) ?? []).filter({ $0.hasPrefix("chunk-") && $0.hasSuffix(".h5") }).count < 2 {
            Thread.sleep(forTimeInterval: 0.01)
        }
        // The ranks are mpirun's children (from /proc/PID/stat: "pid (name) state ppid …").
        let ranks = try FileManager.default.contentsOfDirectory(atPath: "/proc").compactMap(Int32.init).filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return stat.contains("(tbg)") && fields.count > 1 && Int32(fields[1]) == job.processIdentifier
        }
        XCTAssertEqual(ranks.count, 2, "the two tbg ranks under mpirun")
        kill(try XCTUnwrap(ranks.last), SIGKILL)
        job.waitUntilExit()
        try handle.close()
        XCTAssertNotEqual(job.terminationStatus, 0)
        let survived = try FileManager.default.contentsOfDirectory(atPath: scratch.file("killed.h5.chunks")).filter { $0.hasPrefix("chunk-") && $0.hasSuffix(".h5") }
        XCTAssertGreaterThanOrEqual(survived.count, 2)
        let completed = try Executables.run(Executables.tbg, arguments("killed.h5") + ["--resume"])
        XCTAssertEqual(completed.status, 0, completed.standardError)
        for name in ["coordinates", "samples/log_q", "samples/log_weight"] {
            let a = try HDF5File(opening: scratch.file("whole.h5")).root().dataset(name)
            let b = try HDF5File(opening: scratch.file("killed.h5")).root().dataset(name)
            XCTAssertEqual(try a.read(as: Double.self).map(\.bitPattern), try b.read(as: Double.self).map(\.bitPattern), "after kill -9: \(name)")
        }

        // A resume with other options is refused, naming what differs, and the kept chunks stay.
        let cut = try Executables.interrupt(Executables.tbg, arguments("other.h5"), marker: "tbg sample: progress", signal: SIGTERM,
                                            log: scratch.file("other.log"))
        XCTAssertEqual(cut.status, 0, cut.output)
        let changed = try Executables.run(Executables.tbg, arguments("other.h5").map { $0 == "2" ? "4" : $0 } + ["--resume"])
        XCTAssertNotEqual(changed.status, 0)
        XCTAssertTrue(changed.standardError.contains("chunk 2 → 4"), changed.standardError)
        var otherSteps = arguments("other.h5")
        otherSteps[otherSteps.firstIndex(of: "--steps")! + 1] = "4"
        let steps = try Executables.run(Executables.tbg, otherSteps + ["--resume"])
        XCTAssertNotEqual(steps.status, 0)
        XCTAssertTrue(steps.standardError.contains("steps 3 → 4"), "names the ODE setting that differs: \(steps.standardError)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: scratch.file("other.h5.chunks/run.json")))
        // A running tbg sample holds its folder's lock; a second run of the same output, new or
        // resumed, is refused while it runs and leaves the folder as it was.
        var long = arguments("locked.h5")
        long[long.firstIndex(of: "--count")! + 1] = "400"
        let held = try Executables.interrupt(Executables.tbg, long, marker: "tbg sample: progress", signal: SIGTERM,
                                             log: scratch.file("locked.log")) {
            let fd = open(scratch.file("locked.h5.chunks/lock"), O_RDWR)
            defer { close(fd) }
            XCTAssertGreaterThanOrEqual(fd, 0)
            XCTAssertNotEqual(flock(fd, LOCK_EX | LOCK_NB), 0, "the running tbg sample holds the lock")
            XCTAssertEqual(errno, EWOULDBLOCK)
            let manifest = try Data(contentsOf: URL(fileURLWithPath: scratch.file("locked.h5.chunks/run.json")))
            for extra in [["--resume"], []] {
                let second = try Executables.run(Executables.tbg, long + extra)
                XCTAssertNotEqual(second.status, 0)
                XCTAssertTrue(second.standardError.contains("is in use by another tbg sample run (pid "), second.standardError)
            }
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: scratch.file("locked.h5.chunks/run.json"))), manifest)
        }
        XCTAssertEqual(held.status, 0, held.output)
        XCTAssertTrue(held.output.contains("stopped on SIGTERM"), held.output)
        // The same checkpoint at another path (a job that stages its inputs to local disk) is the
        // same run: it is recognised by its content, and the resume completes the same samples;
        // a path in run.json edited by hand does not make the kept chunks another run's either.
        try FileManager.default.createDirectory(atPath: scratch.file("staged"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: checkpoint, toPath: scratch.file("staged/model.h5"))
        var staged = arguments("other.h5")
        staged[staged.firstIndex(of: "--checkpoint")! + 1] = scratch.file("staged/model.h5")
        let manifest = scratch.file("other.h5.chunks/run.json")
        var description = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: manifest))) as? [String: Any])
        XCTAssertNotNil(description["checkpoint_content"], "run.json records the checkpoint's content")
        description["checkpoint"] = "/moved/away/model.h5"
        try JSONSerialization.data(withJSONObject: description).write(to: URL(fileURLWithPath: manifest))
        let moved = try Executables.run(Executables.tbg, staged + ["--resume"])
        XCTAssertEqual(moved.status, 0, moved.standardError)
        XCTAssertFalse(moved.standardOutput.contains("set aside"), moved.standardOutput)
        XCTAssertTrue(moved.standardOutput.contains("resumed: "), moved.standardOutput)
        XCTAssertEqual(try HDF5File(opening: scratch.file("whole.h5")).root().dataset("samples/log_q").read(as: Double.self).map(\.bitPattern),
                       try HDF5File(opening: scratch.file("other.h5")).root().dataset("samples/log_q").read(as: Double.self).map(\.bitPattern),
                       "resumed with the checkpoint at another path")

        // Ctrl-C (SIGINT) stops as cleanly, says how to go on, and exits 130 so that a following
        // `&&` step does not run; --resume completes the same file.
        let interrupted = try Executables.interrupt(Executables.tbg, arguments("ctrl-c.h5"), marker: "tbg sample: progress", signal: SIGINT,
                                                    log: scratch.file("ctrl-c.log"))
        XCTAssertEqual(interrupted.status, 130, interrupted.output)
        XCTAssertTrue(interrupted.output.contains("Ctrl-C: stopping cleanly"), interrupted.output)
        XCTAssertTrue(interrupted.output.contains("stopped on SIGINT (Ctrl-C)") && interrupted.output.contains("--resume"), interrupted.output)
        let finished = try Executables.run(Executables.tbg, arguments("ctrl-c.h5") + ["--resume"])
        XCTAssertEqual(finished.status, 0, finished.standardError)
        let a = try HDF5File(opening: scratch.file("whole.h5")).root().dataset("samples/log_q")
        let b = try HDF5File(opening: scratch.file("ctrl-c.h5")).root().dataset("samples/log_q")
        XCTAssertEqual(try a.read(as: Double.self).map(\.bitPattern), try b.read(as: Double.self).map(\.bitPattern), "after Ctrl-C and --resume")
    }

    /// A stopped run resumed with another --count keeps its chunks (chunk k holds samples
    /// [k·C, (k+1)·C) at any count, and C is the run's, not the new count's default) and gives the
    /// file of an uninterrupted run at that count; what lies outside is kept beside the output.
    func testResumeWithAnotherCountKeepsTheFinishedChunks() throws {
        let scratch = try ScratchDirectory("sample-resume-count")
        defer { scratch.remove() }
        let checkpoint = try TinyDataset.trainedCheckpoint(in: scratch, steps: 5)
        func arguments(_ out: String, count: Int) -> [String] {
            ["sample", "--checkpoint", checkpoint, "--peptide", Fixtures.path("ad2_capped.h5"), "--count", "\(count)",
             "--method", "rk4", "--steps", "3", "--progress-seconds", "0", "--out", scratch.file(out)]
        }
        // 200 samples: default chunks of 13; 40 samples alone would have chunks of 8.
        let stopped = try Executables.interrupt(Executables.tbg, arguments("resumed.h5", count: 200), marker: "tbg sample: progress",
                                                signal: SIGUSR1, log: scratch.file("stopped.log"))
        XCTAssertEqual(stopped.status, 0, stopped.output)
        XCTAssertTrue(stopped.output.contains("stopped on SIGUSR1"), stopped.output)
        let kept = try FileManager.default.contentsOfDirectory(atPath: scratch.file("resumed.h5.chunks")).filter { $0.hasPrefix("chunk-") }
        XCTAssertGreaterThan(kept.count, 0, stopped.output)
        XCTAssertLessThan(kept.count, 16, "the signal must have stopped the run early")

        // inspect of a chunk set aside at another count: sound, its own extent, the count it was written at.
        let last = scratch.file("resumed.h5.chunks/" + kept.sorted().last!), aside = last + ".other-count"
        try FileManager.default.moveItem(atPath: last, toPath: aside)
        let asideReport = try Executables.run(Executables.tbg, ["inspect", aside])
        XCTAssertEqual(asideReport.status, 0, asideReport.standardError)
        XCTAssertTrue(asideReport.standardOutput.contains(", sound (") && asideReport.standardOutput.contains("written at --count 200"), asideReport.standardOutput)
        try FileManager.default.moveItem(atPath: aside, toPath: last)

        let resumed = try Executables.run(Executables.tbg, arguments("resumed.h5", count: 40) + ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.standardError)
        XCTAssertTrue(resumed.standardOutput.contains("--count 40 instead of the earlier 200"), resumed.standardOutput)
        let inside = kept.filter { Int($0.dropFirst(6).prefix(6))! < 3 }.count  // chunks 0…2 are whole at 40
        if inside > 0 { XCTAssertTrue(resumed.standardOutput.contains("resumed: \(inside) of 4 chunks"), resumed.standardOutput) }
        let outside = kept.count - inside
        if outside > 0 {
            XCTAssertTrue(resumed.standardOutput.contains("are kept in \(scratch.file("resumed.h5.set-aside"))")
                          && resumed.standardOutput.contains("CHUNK.other-count: sound samples of this run at another --count"), resumed.standardOutput)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.file("resumed.h5.set-aside")).count, outside)
            let folderReport = try Executables.run(Executables.tbg, ["inspect", scratch.file("resumed.h5.set-aside")])
            XCTAssertEqual(folderReport.status, 0, folderReport.standardError)
            XCTAssertTrue(folderReport.standardOutput.contains("other count  \(outside) (*.other-count"), folderReport.standardOutput)
        }
        // The merged file cannot grow: a resume asking for more says how to get them.
        let more = try Executables.run(Executables.tbg, arguments("resumed.h5", count: 60) + ["--resume"])
        XCTAssertNotEqual(more.status, 0)
        XCTAssertTrue(more.standardError.contains("is complete already with 40 samples") && more.standardError.contains("tbg pool"), more.standardError)
        let whole = try Executables.run(Executables.tbg, arguments("whole.h5", count: 40) + ["--chunk", "13"])
        XCTAssertEqual(whole.status, 0, whole.standardError)
        for name in ["coordinates", "samples/log_q", "samples/log_weight", "samples/index"] {
            let a = try HDF5File(opening: scratch.file("whole.h5")).root().dataset(name)
            let b = try HDF5File(opening: scratch.file("resumed.h5")).root().dataset(name)
            XCTAssertEqual(try a.read(as: Double.self).map(\.bitPattern), try b.read(as: Double.self).map(\.bitPattern), name)
        }
        // Another seed is still refused, and says that only the count may change.
        let stoppedAgain = try Executables.interrupt(Executables.tbg, arguments("other.h5", count: 200) + ["--round-trip", "50"],
                                                     marker: "tbg sample: progress", signal: SIGUSR1, log: scratch.file("stopped-again.log"))
        XCTAssertEqual(stoppedAgain.status, 0, stoppedAgain.output)
        let otherSeed = try Executables.run(Executables.tbg, arguments("other.h5", count: 40) + ["--resume", "--seed", "9", "--round-trip", "50"])
        XCTAssertNotEqual(otherSeed.status, 0)
        XCTAssertTrue(otherSeed.standardError.contains("seed") && otherSeed.standardError.contains("--count may change"), otherSeed.standardError)
        // A count below the run's --round-trip: the same options continue it (every sample is then
        // round-tripped), as a fresh run at that count checking all of its samples.
        let fewer = try Executables.run(Executables.tbg, arguments("other.h5", count: 40) + ["--resume", "--round-trip", "50"])
        XCTAssertEqual(fewer.status, 0, fewer.standardError)
        let fresh = try Executables.run(Executables.tbg, arguments("other-fresh.h5", count: 40) + ["--chunk", "13", "--round-trip", "40"])
        XCTAssertEqual(fresh.status, 0, fresh.standardError)
        for name in ["coordinates", "samples/log_q", "samples/roundtrip_log_q_error"] {
            let a = try HDF5File(opening: scratch.file("other-fresh.h5")).root().dataset(name)
            let b = try HDF5File(opening: scratch.file("other.h5")).root().dataset(name)
            XCTAssertEqual(try a.read(as: Double.self).map(\.bitPattern), try b.read(as: Double.self).map(\.bitPattern), name)
        }
        XCTAssertFalse(try HDF5File(opening: scratch.file("other.h5")).root().dataset("samples/roundtrip_log_q_error").read(as: Double.self).contains { $0.isNaN },
                       "all 40 samples round-tripped")
        // A new run still refuses a round trip past its count.
        let past = try Executables.run(Executables.tbg, arguments("past.h5", count: 40) + ["--round-trip", "50"])
        XCTAssertNotEqual(past.status, 0)
        XCTAssertTrue(past.standardError.contains("more than the --count 40"), past.standardError)
    }

    func testBadRequestsFailClearly() throws {
        let result = try Executables.run(Executables.tbg, ["sample", "--checkpoint", "/nonexistent.h5", "--peptide", Fixtures.path("ad2_capped.h5"),
                                                            "--count", "2", "--out", "/tmp/never.h5"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.standardError.contains("/nonexistent.h5"), result.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/never.h5"))
        // Options that the chosen method would ignore are refused, naming the option, before any work.
        let common = ["sample", "--checkpoint", "/nonexistent.h5", "--peptide", Fixtures.path("ad2_capped.h5"), "--count", "2", "--out", "/tmp/never.h5"]
        for (extra, fragment) in [(["--method", "rk4", "--tolerance", "1e-6"], "--method rk4 takes a fixed --steps"),
                                  (["--steps", "40"], "--steps is the fixed step count of --method rk4"),
                                  (["--round-trip", "3"], "--round-trip 3 checks samples 0..<3, more than the --count 2"),
                                  (["--progress-seconds=-1"], "--progress-seconds must be at least 0")] {
            let refused = try Executables.run(Executables.tbg, common + extra)
            XCTAssertNotEqual(refused.status, 0)
            XCTAssertTrue(refused.standardError.contains(fragment), "\(extra): \(refused.standardError)")
        }
        let evaluate = try Executables.run(Executables.tbg, ["evaluate", "--samples", "/nonexistent.h5", "--reference", Fixtures.path("ad2_capped.h5"),
                                                             "--method", "rk4"])
        XCTAssertNotEqual(evaluate.status, 0)
        XCTAssertTrue(evaluate.standardError.contains("--method: only used for the NLL of MD frames") && evaluate.standardError.contains("--nll-checkpoint"),
                      evaluate.standardError)
        // With SAMPLES the ODE options do not apply at all, and the message says that first.
        let given = try Executables.run(Executables.tbg, ["smc", Fixtures.path("ad2_capped.h5"), "--out", "/tmp/never.h5", "--steps", "3"])
        XCTAssertNotEqual(given.status, 0)
        XCTAssertTrue(given.standardError.contains("go with --checkpoint (drawing proposals)"), given.standardError)
        let smc = try Executables.run(Executables.tbg, ["smc", Fixtures.path("ad2_capped.h5"), "--out", "/tmp/never.h5", "--leapfrog-steps", "5"])
        XCTAssertNotEqual(smc.status, 0)
        XCTAssertTrue(smc.standardError.contains("--leapfrog-steps is HMC's"), smc.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/never.h5"))
    }
}
