// The sample file round trip: what SampleFile.write stores is what the SampleFile reader (used by
// tbg evaluate) and ProposalFile (tbg smc, tbg mcmc) read back, dataset for dataset; and the
// reader's errors name the file and what is missing.
import FlowModel
import Foundation
import HDF5
import MDData
import Sampling
import TestSupport
import XCTest

final class SampleFileTests: XCTestCase {
    /// Four records on the fixture peptide: valid, mirrored, failed topology, failed integration.
    func records(_ peptide: TrajectoryFile) throws -> [SampleRecord] {
        let frames = try peptide.readFrames(0..<3).map(Double.init), width = 3 * peptide.atomCount
        func frame(_ k: Int) -> [Double] { Array(frames[(k * width)..<((k + 1) * width)]) }
        var records = [
            SampleRecord(index: 0, positions: frame(0), logPrior: -50.5, deltaLogDet: 3.25, logQ: -53.75, energy: -40.5, topologyOK: true,
                         chiralityOK: true, mirrored: false, logWeight: 37.55, roundTripLogQError: 1e-5, roundTripLatentError: 2e-6),
            SampleRecord(index: 1, positions: frame(1), logPrior: -49, deltaLogDet: -1, logQ: -48, energy: -38.25, topologyOK: true,
                         chiralityOK: true, mirrored: true, logWeight: 31.7),
            SampleRecord(index: 2, positions: frame(2), logPrior: -51, deltaLogDet: 0.5, logQ: -51.5, energy: .infinity, topologyOK: false,
                         chiralityOK: false, mirrored: false, logWeight: -.infinity),
            SampleRecord(index: 3, positions: [Double](repeating: 0, count: width), logPrior: -52, deltaLogDet: .nan, logQ: .nan,
                         energy: .infinity, topologyOK: false, chiralityOK: false, mirrored: false, logWeight: -.infinity, integrationOK: false),
        ]
        // Raw energies: the valid samples' own, the failed topology's of its coordinates as written,
        // none for the failed integration.
        (records[0].rawEnergy, records[1].rawEnergy, records[2].rawEnergy) = (-40.5, -38.25, 912.5)
        return records
    }

    func testWrittenSamplesReadBack() throws {
        let scratch = try ScratchDirectory("sample-file")
        defer { scratch.remove() }
        let peptide = try TrajectoryFile(path: Fixtures.path("ad2_capped.h5"))
        let records = try records(peptide)
        var settings = SamplerSettings()
        settings.chunk = 4
        let summary = SamplePostprocessor.summarize(records, evaluations: 9)
        let provenance = SampleFile.Provenance(checkpoint: "model.h5", checkpointStep: 12, configJSON: "{\"model\": {}}", usesEMA: true,
                                               settings: settings, seed: 5, ranks: 2)
        let path = scratch.file("samples.h5")
        let kT = 2.49
        try SampleFile.write(records, summary: summary, peptide: peptide, kT: kT, units: ModelUnits(scaling: 10), provenance: provenance, to: path)

        // The reader of tbg evaluate.
        let file = try SampleFile(trajectory: try TrajectoryFile(path: path))
        XCTAssertEqual(file.frameCount, 4)
        XCTAssertEqual(file.kT, kT)
        XCTAssertEqual(try file.logWeights(), records.map(\.logWeight))
        XCTAssertEqual(try file.energies(), records.map(\.energy))
        XCTAssertEqual(try file.topologyOK(), records.map(\.topologyOK))
        XCTAssertEqual(try file.chiralityOK(), records.map(\.chiralityOK))
        XCTAssertEqual(try file.chiralityFixed(), records.map(\.mirrored))
        XCTAssertEqual(try file.coordinates(), records.flatMap { $0.positions.map(Float.init) }, "nm, float32 as MDTraj stores them")
        XCTAssertEqual(file.energyEvaluations(validCount: 0), 3, "the attribute: one energy per finished integration, valid or not")
        XCTAssertEqual(file.sampler, "flow")
        XCTAssertEqual(file.trajectory.topologyJSON, peptide.topologyJSON)
        XCTAssertEqual(file.trajectory.systemXML, peptide.systemXML)
        XCTAssertTrue(file.trajectory.metadataJSON.contains("\"kind\":\"samples\""), file.trajectory.metadataJSON)

        // The datasets only tbg sample writes, and the provenance.
        let group = try HDF5File(opening: path).root().group("samples")
        // tbg sample stores its ODE settings under /samples@settings (JSON, sorted keys: the same settings, the same text).
        let settingsText = try group.readStringAttribute("settings")
        XCTAssertEqual(try JSONDecoder().decode(SamplerSettings.self, from: Data(settingsText.utf8)), settings)
        XCTAssertEqual(settingsText, try sortedJSON(settings))
        XCTAssertTrue(settingsText.hasPrefix("{\"atol\":"), settingsText)
        // Every sample's raw energy and log weight (RawSampleWeights.swift), for the clipped SNIS protocol.
        let rawEnergies = try group.dataset("raw_energy").read(as: Double.self)
        XCTAssertEqual(Array(rawEnergies[0..<3]), [-40.5, -38.25, 912.5])
        XCTAssertTrue(rawEnergies[3].isNaN, "no energy where the integration failed")
        let rawLogWeights = try group.dataset("raw_log_weight").read(as: Double.self)
        XCTAssertEqual(Array(rawLogWeights[0..<3]), records[0..<3].map { -$0.rawEnergy / kT - $0.logQ })
        XCTAssertTrue(rawLogWeights[3].isNaN)
        XCTAssertEqual(try group.dataset("raw_energy").readStringAttribute("units"), "kilojoules_per_mole")
        XCTAssertEqual(try group.dataset("isomorphism_budget_exhausted").read(as: UInt8.self), [0, 0, 0, 0])
        XCTAssertEqual(try group.dataset("index").read(as: Int64.self), [0, 1, 2, 3])
        XCTAssertEqual(try group.dataset("latent_log_prior").read(as: Double.self), records.map(\.logPrior))
        XCTAssertEqual(try group.dataset("log_q").read(as: Double.self).map(\.bitPattern), records.map(\.logQ.bitPattern))
        XCTAssertEqual(try group.dataset("energy_kT").read(as: Double.self), records.map { $0.energy / kT })
        XCTAssertEqual(try group.dataset("integration_ok").read(as: UInt8.self), [1, 1, 1, 0])
        XCTAssertEqual(try group.dataset("roundtrip_log_q_error").read(as: Double.self)[0], 1e-5)
        XCTAssertEqual(try group.readStringAttribute("log_q_units"), "model units (positions x 10.0 per nm)")
        XCTAssertEqual(try group.readStringAttribute("checkpoint"), "model.h5")
        XCTAssertEqual(try group.readAttribute("checkpoint_step", as: Int64.self), [12])
        XCTAssertEqual(try group.readStringAttribute("weights"), "ema")
        XCTAssertEqual(try group.readAttribute("seed", as: Int64.self), [5])
        XCTAssertEqual(try group.readAttribute("ranks", as: Int64.self), [2])
        XCTAssertEqual(try group.readAttribute("effective_sample_size", as: Double.self), [summary.effectiveSampleSize])

        // The reader of tbg smc and tbg mcmc: the usable proposals are the valid ones.
        let proposals = try ProposalFile(path: path)
        XCTAssertEqual(proposals.frames, [0, 1])
        XCTAssertEqual(proposals.kT, kT)
        XCTAssertEqual(proposals.evaluations, 3, "what the proposals cost: /samples@energy_evaluations")
        XCTAssertEqual(proposals.reducedEnergies, [records[0].energy / kT, records[1].energy / kT])
        XCTAssertEqual(proposals.samplesUsed, 4)
        // The first samples only (tbg smc/mcmc --proposals): their pool and their budget.
        let first = try ProposalFile(path: path, limit: 1)
        XCTAssertEqual(first.frames, [0])
        XCTAssertEqual(first.samplesUsed, 1)
        XCTAssertEqual(first.evaluations, 1, "one finished integration among the first sample")
        XCTAssertEqual(try ProposalFile(path: path, limit: 3).evaluations, 3, "the failed topology's raw energy counts, the failed integration is not reached")
        XCTAssertThrowsError(try ProposalFile(path: path, limit: 5)) {
            XCTAssertTrue("\($0)".contains("holds 4 samples; the proposal limit 5"), "\($0)")
        }
    }

    func testTheReaderNamesWhatIsMissing() throws {
        let scratch = try ScratchDirectory("sample-file-errors")
        defer { scratch.remove() }
        // An MD trajectory is not a sample file.
        XCTAssertThrowsError(try SampleFile(trajectory: try TrajectoryFile(path: Fixtures.path("ad2_capped.h5")), hint: "HINT")) {
            XCTAssertTrue("\($0)".contains("missing group /samples"), "\($0)")
            XCTAssertTrue("\($0)".contains("HINT"), "\($0)")
        }
        // A sample file without one dataset.
        let peptide = try TrajectoryFile(path: Fixtures.path("ad2_capped.h5"))
        let path = scratch.file("partial.h5")
        try TrajectoryWriter.write(TrajectoryContents(coordinates: try peptide.readFrames(0..<2), frameCount: 2, atomCount: peptide.atomCount,
                                                      topologyJSON: peptide.topologyJSON, metadataJSON: peptide.metadataJSON,
                                                      systemXML: peptide.systemXML), to: path, extra: { root in
            let group = try root.createGroup("samples")
            try group.writeAttribute("kT_kJ_per_mol", [2.5])
            try group.writeDataset("log_weight", [0.0, 1.0, 2.0], shape: [3])
        })
        let file = try SampleFile(trajectory: try TrajectoryFile(path: path))
        XCTAssertEqual(file.kT, 2.5)
        XCTAssertThrowsError(try file.topologyOK()) { XCTAssertTrue("\($0)".contains("missing dataset /samples/topology_ok"), "\($0)") }
        XCTAssertThrowsError(try file.logWeights()) { XCTAssertTrue("\($0)".contains("/samples/log_weight has shape [3], expected [2]"), "\($0)") }
        XCTAssertEqual(file.energyEvaluations(validCount: 7), 7, "no attribute: one per valid sample")
        XCTAssertNil(try file.optionalDataset("raw_energy", expected: "float64 per sample"))
        XCTAssertThrowsError(try file.optionalDataset("log_weight", expected: "float64 per sample"), "present, so checked")
        XCTAssertNil(file.sampler)
    }
}
