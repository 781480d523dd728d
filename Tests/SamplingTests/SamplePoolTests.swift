// Pooling tbg sample runs (SamplePool.swift): the pool holds every input's samples, dataset for
// dataset and with their seeds, its ESS is the ESS of the union, every sample-file reader reads it,
// and what would make the union not one i.i.d. sample of one proposal is refused with the file named.
import Evaluation
import FlowModel
import Foundation
import HDF5
import MDData
import Sampling
import TestSupport
import XCTest

final class SamplePoolTests: XCTestCase {
    let kT = 2.49

    /// `count` records on the fixture peptide's frames: valid ones with distinct log weights, and one
    /// failed topology (−∞) when `count` > 2.
    func records(_ peptide: TrajectoryFile, count: Int, logWeightOffset: Double) throws -> [SampleRecord] {
        let frames = try peptide.readFrames(0..<3).map(Double.init), width = 3 * peptide.atomCount
        return (0..<count).map { i in
            let k = i % 3
            let valid = i != 2
            var record = SampleRecord(index: i, positions: Array(frames[(k * width)..<((k + 1) * width)]), logPrior: -50 - Double(i),
                                      deltaLogDet: 0.5 * Double(i), logQ: -50 - 0.5 * Double(i), energy: valid ? -40 + Double(i) : .infinity,
                                      topologyOK: valid, chiralityOK: valid, mirrored: i == 1,
                                      logWeight: valid ? logWeightOffset + 0.75 * Double(i) : -.infinity)
            record.rawEnergy = valid ? record.energy : 900
            return record
        }
    }

    /// Writes a tbg sample file of `records` with `seed` and ODE `settings` (defaults: dopri5 1e-4).
    @discardableResult
    func write(_ path: String, _ records: [SampleRecord], seed: UInt64, step: Int = 12, settings: SamplerSettings = SamplerSettings(),
               content: String? = "1000:abc", evaluationsPerSample: Double = 80) throws -> String {
        let peptide = try TrajectoryFile(path: Fixtures.path("ad2_capped.h5"))
        var summary = SamplePostprocessor.summarize(records, evaluations: 9)
        summary.evaluationsPerSample = evaluationsPerSample
        let provenance = SampleFile.Provenance(checkpoint: "model.h5", checkpointStep: step, configJSON: "{\"model\": {}}", usesEMA: true,
                                               settings: settings, seed: seed, ranks: 2, checkpointContent: content, peptideContent: "77:def")
        try SampleFile.write(records, summary: summary, peptide: peptide, kT: kT, units: ModelUnits(scaling: 10), provenance: provenance, to: path)
        return path
    }

    func testThePoolIsTheUnionOfItsInputs() throws {
        let scratch = try ScratchDirectory("sample-pool")
        defer { scratch.remove() }
        let peptide = try TrajectoryFile(path: Fixtures.path("ad2_capped.h5"))
        let a = try records(peptide, count: 4, logWeightOffset: 30), b = try records(peptide, count: 3, logWeightOffset: 31.5)
        var other = SamplerSettings()
        (other.microBatch, other.chunk) = (2, 3)  // another batching: the same distribution
        try write(scratch.file("a.h5"), a, seed: 1, evaluationsPerSample: 80)
        try write(scratch.file("b.h5"), b, seed: 2, settings: other, evaluationsPerSample: 100)
        let summary = try SamplePool.pool([scratch.file("a.h5"), scratch.file("b.h5")], to: scratch.file("pool.h5"))

        let all = a + b, valid = all.filter { $0.topologyOK && $0.chiralityOK }
        XCTAssertEqual(summary.samples, 7)
        XCTAssertEqual(summary.valid, 5)
        XCTAssertTrue(summary.dropped.isEmpty, "\(summary.dropped)")
        let ess = ImportanceWeights.effectiveSampleSize(logWeights: valid.map(\.logWeight))
        XCTAssertEqual(summary.effectiveSampleSize, ess, accuracy: 1e-15)
        XCTAssertNotEqual(ess, ImportanceWeights.effectiveSampleSize(logWeights: Array(valid.prefix(3)).map(\.logWeight)), accuracy: 1e-3,
                          "the test's inputs must have ESS values that differ from the pool's")

        // The sample-file reader (tbg evaluate, free-energy) and the proposal reader (smc, mcmc).
        let file = try SampleFile(trajectory: try TrajectoryFile(path: scratch.file("pool.h5")))
        XCTAssertEqual(file.frameCount, 7)
        XCTAssertEqual(file.kT, kT)
        XCTAssertEqual(try file.logWeights(), all.map(\.logWeight))
        XCTAssertEqual(try file.energies(), all.map(\.energy))
        XCTAssertEqual(try file.topologyOK(), all.map(\.topologyOK))
        XCTAssertEqual(try file.chiralityFixed(), all.map(\.mirrored))
        XCTAssertEqual(try file.coordinates(), all.flatMap { $0.positions.map(Float.init) })
        XCTAssertEqual(file.energyEvaluations(validCount: 0), 7, "both inputs' finished integrations")
        XCTAssertEqual(file.sampler, "flow")
        XCTAssertEqual(file.trajectory.topologyJSON, peptide.topologyJSON)
        XCTAssertEqual(file.trajectory.systemXML, peptide.systemXML)
        let proposals = try ProposalFile(path: scratch.file("pool.h5"))
        XCTAssertEqual(proposals.frames, [0, 1, 3, 4, 5])
        XCTAssertEqual(proposals.samplesUsed, 7)

        let group = try HDF5File(opening: scratch.file("pool.h5")).root().group("samples")
        XCTAssertEqual(try group.dataset("index").read(as: Int64.self), [0, 1, 2, 3, 0, 1, 2])
        XCTAssertEqual(try group.dataset("seed").read(as: Int64.self), [1, 1, 1, 1, 2, 2, 2])
        XCTAssertEqual(try group.dataset("log_q").read(as: Double.self), all.map(\.logQ))
        XCTAssertEqual(try group.dataset("chirality_fixed").read(as: UInt8.self), all.map { $0.mirrored ? 1 : 0 })
        XCTAssertEqual(try group.dataset("raw_energy").read(as: Double.self), all.map(\.rawEnergy))
        XCTAssertEqual(try group.dataset("raw_energy").readStringAttribute("units"), "kilojoules_per_mole", "dataset attributes come along")
        XCTAssertEqual(try group.readAttribute("seeds", as: Int64.self), [1, 2])
        XCTAssertFalse(group.hasAttribute("seed"), "no single seed describes a pool")
        XCTAssertFalse(group.hasAttribute("ranks"))
        XCTAssertEqual(try group.readAttribute("effective_sample_size", as: Double.self), [summary.effectiveSampleSize])
        XCTAssertEqual(try group.readAttribute("evaluations_per_sample", as: Double.self)[0], (4 * 80 + 3 * 100) / 7.0, accuracy: 1e-12)
        XCTAssertEqual(try group.readAttribute("checkpoint_step", as: Int64.self), [12])
        XCTAssertEqual(try group.readStringAttribute("checkpoint_content"), "1000:abc")
        XCTAssertEqual(try group.readStringAttribute("weights"), "ema")
        let pooledFrom = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try group.readStringAttribute("pooled_from").utf8)) as? [[String: Any]])
        XCTAssertEqual(pooledFrom.map { $0["file"] as? String }, [scratch.file("a.h5"), scratch.file("b.h5")])
        XCTAssertEqual(pooledFrom.map { $0["samples"] as? Int }, [4, 3])

        // A pool pools again with a third run (the per-sample seeds carry over) but not with one of
        // its own inputs (the same samples twice).
        try write(scratch.file("c.h5"), try records(peptide, count: 2, logWeightOffset: 29), seed: 3)
        let again = try SamplePool.pool([scratch.file("pool.h5"), scratch.file("c.h5")], to: scratch.file("pool2.h5"))
        XCTAssertEqual(again.samples, 9)
        let seeds = try HDF5File(opening: scratch.file("pool2.h5")).root().dataset("samples/seed").read(as: Int64.self)
        XCTAssertEqual(seeds, [1, 1, 1, 1, 2, 2, 2, 3, 3])
        XCTAssertThrowsError(try SamplePool.pool([scratch.file("pool.h5"), scratch.file("b.h5")], to: scratch.file("bad.h5"))) {
            XCTAssertTrue("\($0)".contains("\(scratch.file("b.h5"))") && "\($0)".contains("sample 0 of seed 2") && "\($0)".contains("another --seed"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("bad.h5")), "nothing is written when a check fails")
    }

    func testWhatIsNotOneProposalIsRefused() throws {
        let scratch = try ScratchDirectory("sample-pool-refused")
        defer { scratch.remove() }
        let peptide = try TrajectoryFile(path: Fixtures.path("ad2_capped.h5"))
        let samples = try records(peptide, count: 3, logWeightOffset: 30)
        let a = try write(scratch.file("a.h5"), samples, seed: 1)
        func refused(_ path: String, _ fragments: [String], line: UInt = #line) {
            XCTAssertThrowsError(try SamplePool.pool([a, path], to: scratch.file("out.h5")), line: line) { error in
                for fragment in [path] + fragments { XCTAssertTrue("\(error)".contains(fragment), "\(error) lacks \(fragment)", line: line) }
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("out.h5")), line: line)
        }
        // The same seed: the same latents, so the same samples.
        refused(try write(scratch.file("same-seed.h5"), samples, seed: 1), ["sample 0 of seed 1", a])
        // Another checkpoint step, another checkpoint file, another tolerance, another method.
        refused(try write(scratch.file("step.h5"), samples, seed: 2, step: 13), ["checkpoint step 13 here, 12 in"])
        refused(try write(scratch.file("content.h5"), samples, seed: 2, content: "1000:abd"), ["checkpoint content 1000:abd here, 1000:abc in"])
        var loose = SamplerSettings()
        loose.absoluteTolerance = 1e-3
        refused(try write(scratch.file("atol.h5"), samples, seed: 2, settings: loose), ["atol 0.001 here, 0.0001 in"])
        var rk4 = SamplerSettings()
        rk4.method = "rk4"
        refused(try write(scratch.file("rk4.h5"), samples, seed: 2, settings: rk4), ["ODE method rk4 here, dopri5 in"])
        // An SMC output: resampled, not draws of q.
        let proposals = try ProposalFile(path: a)
        let width = 3 * peptide.atomCount
        let frames = MonteCarloFrames(positions: samples[0].positions + samples[1].positions, energies: [-40, -39], logWeights: [0, 0],
                                      sourceFrames: [0, 1], index: [0, 1])
        try MonteCarloOutput.write(frames, input: proposals, sampler: "smc", settingsJSON: "{}", seed: 2, ranks: 1, evaluations: 2,
                                   diagnostics: [], to: scratch.file("smc.h5"))
        XCTAssertEqual(samples[0].positions.count, width)
        refused(scratch.file("smc.h5"), ["is a tbg smc output", "only tbg sample outputs are pooled"])
        // An MD trajectory is no sample file at all.
        refused(Fixtures.path("ad2_capped.h5"), ["missing group /samples", "outputs of tbg sample"])
        // Damaged values that every reader of the pool would refuse are refused in the input that
        // holds them: a NaN coordinate of a valid sample, a NaN or +inf log weight.
        func damaged(_ name: String, _ edit: (HDF5Group) throws -> Void) throws -> String {
            let path = try write(scratch.file(name), samples, seed: 2)
            try edit(try HDF5File(opening: path, mode: .readWrite).root())
            return path
        }
        refused(try damaged("nan-coordinate.h5") { root in
            let dataset = try root.dataset("coordinates")
            var values: [Float] = try dataset.read()
            values[3 * peptide.atomCount + 4] = .nan   // sample 1 (valid), atom 1, y
            try dataset.write(values)
        }, ["/coordinates of valid sample 1, atom 1", "is nan"])
        for (name, value) in [("nan-log-weight.h5", Double.nan), ("inf-log-weight.h5", Double.infinity)] {
            refused(try damaged(name) { root in
                let dataset = try root.dataset("samples/log_weight")
                var values: [Double] = try dataset.read()
                values[1] = value
                try dataset.write(values)
            }, ["/samples/log_weight of sample 1 is \(value)", "or -inf for a sample of weight 0"])
        }
    }

    func testADatasetOnlySomeInputsHoldIsLeftOutAndNamed() throws {
        let scratch = try ScratchDirectory("sample-pool-dropped")
        defer { scratch.remove() }
        let peptide = try TrajectoryFile(path: Fixtures.path("ad2_capped.h5"))
        let a = try write(scratch.file("a.h5"), try records(peptide, count: 3, logWeightOffset: 30), seed: 1)
        let b = try write(scratch.file("b.h5"), try records(peptide, count: 3, logWeightOffset: 30), seed: 2)
        do {  // b as an older tbg sample wrote it, without the raw weights
            let group = try HDF5File(opening: b, mode: .readWrite).root().group("samples")
            try group.remove("raw_energy")
        }
        let summary = try SamplePool.pool([a, b], to: scratch.file("pool.h5"))
        XCTAssertEqual(summary.dropped.map(\.dataset), ["raw_energy"])
        XCTAssertEqual(summary.dropped.map(\.missingIn), [b])
        let group = try HDF5File(opening: scratch.file("pool.h5")).root().group("samples")
        XCTAssertNil(group.kind(of: "raw_energy"))
        XCTAssertEqual(try group.dataset("raw_log_weight").read(as: Double.self).count, 6)
    }
}
