// The sampler end to end on a model trained here on real alanine-dipeptide frames: forward then
// reverse integration recovers the latent and the log-density; the same seed reproduces the same
// samples; the written file holds every per-sample quantity.
import Communication
import Foundation
import HDF5
import MDData
import Sampling
import TestSupport
import FlowModel
import Model
import Training
import XCTest

final class FlowSamplerTests: XCTestCase {
    /// A small model trained for a few steps on the fixture frames, saved as a checkpoint.
    static func trainedCheckpoint(_ scratch: ScratchDirectory) throws -> String {
        let dataset = try TinyDataset.make(in: scratch)
        let checkpoint = scratch.file("model/checkpoint.h5")
        let config = try RunConfig.resolve(file: nil, overrides: TinyDataset.overrides(dataset: dataset, checkpoint: checkpoint, steps: 30))
        _ = try Trainer(config: config, communicator: SerialCommunicator(), resume: false) { _ in }.run()
        return checkpoint
    }

    func testForwardThenReverseRecoversLatentAndLogDensity() throws {
        let scratch = try ScratchDirectory("sampler")
        defer { scratch.remove() }
        let checkpoint = try Self.trainedCheckpoint(scratch)
        var settings = SamplerSettings()
        settings.absoluteTolerance = 1e-7
        settings.relativeTolerance = 1e-7
        let runner = try SampleRunner(checkpointPath: checkpoint, peptidePath: Fixtures.path("ad2_capped.h5"), settings: settings,
                                      seed: 5, communicator: SerialCommunicator())
        let outcome = try runner.run(count: 3)
        let (records, summary) = (outcome.records, outcome.summary)
        XCTAssertEqual(records.map(\.index), [0, 1, 2])
        XCTAssertNotNil(summary)
        // Integrate each sample's x₁ backwards: z and Δ must come back.
        let file = scratch.file("samples.h5")
        try runner.write(records, summary: summary!, to: file)
        XCTAssertEqual(try TrajectoryFile(path: file).frameCount, 3)
        let group = try HDF5File(opening: file).root().group("samples")
        for name in ["index", "latent_log_prior", "delta_log_det", "log_q", "energy_kj_mol", "energy_kT", "log_weight",
                     "topology_ok", "chirality_ok", "chirality_fixed"] {
            XCTAssertEqual(try group.dataset(name).shape, [3], name)
        }
        let nll = try XCTUnwrap(try LikelihoodRunner(checkpointPath: checkpoint, dataPath: file, settings: settings,
                                                     communicator: SerialCommunicator()).negativeLogLikelihood(frames: [0, 1, 2]))
        for (k, record) in records.enumerated() where record.topologyOK && !record.mirrored {
            // Only samples stored as generated (no permutation or mirror) can be compared exactly.
            let identity = record.positions.count == 66
            XCTAssertTrue(identity)
            XCTAssertEqual(-nll.negativeLogLikelihood[k], record.logQ, accuracy: 1e-3, "log q round trip, sample \(k)")
        }
        for (k, record) in records.enumerated() where !record.topologyOK {
            // Stored in raw order: the reverse integration must recover the latent itself.
            let z = MeanFreePrior.sample(atoms: 22, seed: 5, index: record.index)
            assertClose(nll.latents[k], z, absolute: 1e-3, relative: 0, "latent round trip, sample \(k)")
            XCTAssertEqual(-nll.negativeLogLikelihood[k], record.logQ, accuracy: 1e-3, "log q round trip, sample \(k)")
        }
    }

    func testSameSeedSameSamples() throws {
        let scratch = try ScratchDirectory("sampler-seed")
        defer { scratch.remove() }
        let checkpoint = try Self.trainedCheckpoint(scratch)
        var settings = SamplerSettings()
        settings.method = "rk4"
        settings.steps = 4
        func run(_ seed: UInt64) throws -> [SampleRecord] {
            try SampleRunner(checkpointPath: checkpoint, peptidePath: Fixtures.path("ad2_capped.h5"), settings: settings, seed: seed,
                             communicator: SerialCommunicator()).run(count: 4).records
        }
        let a = try run(9), b = try run(9), c = try run(10)
        XCTAssertEqual(a.map(\.positions), b.map(\.positions))
        XCTAssertEqual(a.map(\.logQ), b.map(\.logQ))
        XCTAssertNotEqual(a.map(\.logQ), c.map(\.logQ))
        XCTAssertTrue(a.allSatisfy { $0.logQ.isFinite })
    }

    /// A two-frame copy of the AD fixture at `name` with `topology` (default: its own) and frames
    /// changed by `edit` (22 × 3 floats per frame, nm).
    static func fixtureVariant(_ scratch: ScratchDirectory, _ name: String, topology: String? = nil,
                               edit: (inout [Float]) -> Void = { _ in }) throws -> String {
        let source = try TrajectoryFile(path: Fixtures.path("ad2_capped.h5"))
        var coordinates = try source.readFrames(0..<2)
        edit(&coordinates)
        let path = scratch.file(name)
        try TrajectoryWriter.write(TrajectoryContents(coordinates: coordinates, frameCount: 2, atomCount: 22, topologyJSON: topology ?? source.topologyJSON,
                                                      metadataJSON: source.metadataJSON, systemXML: source.systemXML), to: path)
        return path
    }

    func testASingleMoleculeModelRefusesAnotherTopology() throws {
        let scratch = try ScratchDirectory("sampler-topology")
        defer { scratch.remove() }
        let checkpoint = try Self.trainedCheckpoint(scratch)
        let source = try TrajectoryFile(path: Fixtures.path("ad2_capped.h5"))
        // Same atom count, one atom renamed (CB → CX).
        let renamed = try Self.fixtureVariant(scratch, "renamed.h5",
                                              topology: source.topologyJSON.replacingOccurrences(of: "\"name\": \"CB\"", with: "\"name\": \"CX\""))
        XCTAssertNotEqual(try TrajectoryFile(path: renamed).topologyJSON, source.topologyJSON, "the variant must differ")
        for path in [renamed] {
            XCTAssertThrowsError(try SampleRunner(checkpointPath: checkpoint, peptidePath: path, settings: SamplerSettings(), seed: 0,
                                                  communicator: SerialCommunicator())) {
                XCTAssertTrue("\($0)".contains("atom 10 is ALA2 CX (C), expected ALA2 CB (C)"), "\($0)")
                XCTAssertTrue("\($0)".contains("trained on AD"), "\($0)")
            }
        }
        XCTAssertNoThrow(try SampleRunner(checkpointPath: checkpoint, peptidePath: Fixtures.path("ad2_capped.h5"), settings: SamplerSettings(),
                                          seed: 0, communicator: SerialCommunicator()), "the molecule it was trained on")
    }

    /// Frame 0 is the chirality reference: a frame whose chiral centre is degenerate is refused,
    /// naming the centre, instead of silently accepting every sample's chirality. Here the bonds are
    /// plausible (0.12–0.20 nm) but Cα sits in the plane of its first three neighbours (N, HA, CB);
    /// a damaged frame (all atoms at the origin) is refused before that, by its bond lengths.
    func testADegenerateChiralityReferenceIsRefused() throws {
        let scratch = try ScratchDirectory("sampler-degenerate-reference")
        defer { scratch.remove() }
        let checkpoint = try Self.trainedCheckpoint(scratch)
        let planar = try Self.fixtureVariant(scratch, "planar-centre.h5") { coordinates in
            for axis in 0..<3 { coordinates[3 * 8 + axis] = (coordinates[3 * 6 + axis] + coordinates[3 * 9 + axis] + coordinates[3 * 10 + axis]) / 3 }
        }
        XCTAssertThrowsError(try SampleRunner(checkpointPath: checkpoint, peptidePath: planar, settings: SamplerSettings(), seed: 0,
                                              communicator: SerialCommunicator())) {
            for fragment in [planar, "frame 0 is the chirality reference", "chiral centre atom 8 (CA)", "coincident with it or coplanar"] {
                XCTAssertTrue("\($0)".contains(fragment), "'\($0)' does not mention '\(fragment)'")
            }
        }
        let zeros = try Self.fixtureVariant(scratch, "zero-frame.h5") { coordinates in
            for k in 0..<(3 * 22) { coordinates[k] = 0 }
        }
        XCTAssertThrowsError(try SampleRunner(checkpointPath: checkpoint, peptidePath: zeros, settings: SamplerSettings(), seed: 0,
                                              communicator: SerialCommunicator())) {
            for fragment in [zeros, "frame 0: the bond between atom 0 (CH3) and atom 1 (H1) is 0.0000 nm long", "expected 0.05–0.30 nm"] {
                XCTAssertTrue("\($0)".contains(fragment), "'\($0)' does not mention '\(fragment)'")
            }
        }
    }

    /// A transferable model (encoding `full`, zwitterionic dipeptides) given a capped peptide: the
    /// error names the peptide file and the checkpoint whose encoding refuses it.
    func testAModelWhoseEncodingCannotTakeThePeptideIsNamed() throws {
        let scratch = try ScratchDirectory("sampler-encoding")
        defer { scratch.remove() }
        let dataset = scratch.file("dataset")
        try FileManager.default.createDirectory(atPath: dataset, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Fixtures.path("ks_zwitterion.h5"), toPath: dataset + "/KS.h5")
        try #"{"format": "tbg-dataset", "format_version": 1, "peptides": [{"name": "KS", "file": "KS.h5", "split": "train", "n_atoms": 36, "n_frames": 20}]}"#
            .write(toFile: dataset + "/index.json", atomically: true, encoding: .utf8)
        let checkpoint = scratch.file("full/checkpoint.h5")
        let config = try RunConfig.resolve(file: nil, overrides: TinyDataset.overrides(dataset: dataset, checkpoint: checkpoint, steps: 2)
                                           + ["model.encoding=full"])
        _ = try Trainer(config: config, communicator: SerialCommunicator(), resume: false) { _ in }.run()
        let capped = Fixtures.path("ad2_capped.h5")
        XCTAssertThrowsError(try SampleRunner(checkpointPath: checkpoint, peptidePath: capped, settings: SamplerSettings(), seed: 0,
                                              communicator: SerialCommunicator())) {
            for fragment in [capped, "the model in \(checkpoint) cannot take this peptide", "'full' encoding", "residue ACE"] {
                XCTAssertTrue("\($0)".contains(fragment), "'\($0)' does not mention '\(fragment)'")
            }
        }
        XCTAssertNoThrow(try SampleRunner(checkpointPath: checkpoint, peptidePath: Fixtures.path("ks_zwitterion.h5"), settings: SamplerSettings(),
                                          seed: 0, communicator: SerialCommunicator()), "the peptide kind it was trained on")
    }

    /// `tbg nll` needs the checkpoint and the frames only: a data file without a temperature gives
    /// the same NLL, while sampling (which weights by −u/kT) still refuses it.
    func testLikelihoodNeedsNoTemperature() throws {
        let scratch = try ScratchDirectory("likelihood-no-kT")
        defer { scratch.remove() }
        let checkpoint = try Self.trainedCheckpoint(scratch)
        let fixture = Fixtures.path("ad2_capped.h5")
        let source = try TrajectoryFile(path: fixture)
        var metadata = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(source.metadataJSON.utf8)) as? [String: Any])
        metadata["kT_kJ_per_mol"] = nil
        metadata["temperature_K"] = nil
        let variant = scratch.file("no-kT.h5")
        try TrajectoryWriter.write(TrajectoryContents(
            coordinates: try source.readFrames(0..<3), frameCount: 3, atomCount: 22, topologyJSON: source.topologyJSON,
            metadataJSON: String(decoding: try JSONSerialization.data(withJSONObject: metadata), as: UTF8.self),
            systemXML: source.systemXML), to: variant)
        XCTAssertNil(try TrajectoryFile(path: variant).metadata.kT)
        var settings = SamplerSettings()
        settings.method = "rk4"
        settings.steps = 4
        func nll(_ path: String) throws -> [Double] {
            try XCTUnwrap(try LikelihoodRunner(checkpointPath: checkpoint, dataPath: path, settings: settings, communicator: SerialCommunicator())
                .negativeLogLikelihood(frames: [0, 1, 2])).negativeLogLikelihood
        }
        let values = try nll(variant)
        XCTAssertEqual(values, try nll(fixture))
        XCTAssertTrue(values.allSatisfy(\.isFinite))
        XCTAssertThrowsError(try SampleRunner(checkpointPath: checkpoint, peptidePath: variant, settings: settings, seed: 0,
                                              communicator: SerialCommunicator())) {
            XCTAssertTrue("\($0)".contains("neither kT_kJ_per_mol nor temperature_K"), "\($0)")
        }
    }
}
