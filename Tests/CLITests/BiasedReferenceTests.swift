// A biased MD reference (Tools/FORMAT.md §1.7): `tbg inspect` reports its bias, and `tbg evaluate`
// weights its frames by exp(+V/kT) in every MD metric, says so, and refuses a bad /bias_energy.
// The reference is synthetic: the committed AD fixture with frames 0–4 mirrored (x → −x turns φ
// into −φ > 0) and a chosen V per frame, so the weighted ΔF is known by hand.
import Foundation
import HDF5
import MDData
import TestSupport
import XCTest

final class BiasedReferenceTests: XCTestCase {
    private let kT = 300 * 0.00831446261815324
    /// V of frame k in kJ/mol: the mirrored (φ > 0) frames 0–4 get the small values.
    private let bias = (0..<20).map { 0.7 * Double($0) }
    private var scratch: ScratchDirectory!

    override func setUpWithError() throws { scratch = try ScratchDirectory("biased-reference") }
    override func tearDown() { scratch.remove() }

    /// Writes the synthetic biased reference; `energies` replaces /bias_energy (wrong length, NaN, …).
    private func writeReference(_ name: String, energies: [Double]? = nil) throws -> String {
        let source = try TrajectoryFile(path: Fixtures.path("ad2_capped.h5"))
        var coordinates = try source.readFrames(0..<source.frameCount)
        for frame in 0..<5 {
            for atom in 0..<source.atomCount { coordinates[(frame * source.atomCount + atom) * 3] *= -1 }
        }
        var metadata = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(source.metadataJSON.utf8)) as? [String: Any])
        metadata["bias"] = ["kind": "metad_phi", "cv": "phi", "cv_atoms": [4, 6, 8, 14], "bias_factor": 6.0, "build_ps": 2000.0]
        let metadataJSON = String(decoding: try JSONSerialization.data(withJSONObject: metadata), as: UTF8.self)
        let potential = try XCTUnwrap(try source.potentialEnergies())
        let path = scratch.file(name)
        let values = energies ?? bias
        try TrajectoryWriter.write(
            TrajectoryContents(coordinates: coordinates, frameCount: source.frameCount, atomCount: source.atomCount, time: source.time,
                               topologyJSON: source.topologyJSON, metadataJSON: metadataJSON, systemXML: source.systemXML,
                               potentialEnergy: potential, title: "AD biased"),
            to: path) { root in
                let dataset = try root.writeDataset("bias_energy", values, shape: [values.count])
                try dataset.writeAttribute("units", string: "kilojoules_per_mole")
            }
        return path
    }

    /// The fixture with a /samples group: every frame valid, equal log weights.
    private func writeSamples() throws -> String {
        let path = scratch.file("samples.h5")
        try FileManager.default.copyItem(atPath: Fixtures.path("ad2_capped.h5"), toPath: path)
        let root = try HDF5File(opening: path, mode: .readWrite).root()
        let energies = try root.dataset("potentialEnergy").read(as: Float.self).map(Double.init)
        let n = energies.count
        let group = try root.createGroup("samples")
        try group.writeDataset("index", (0..<n).map { Int64($0) }, shape: [n])
        try group.writeDataset("energy_kj_mol", energies, shape: [n])
        try group.writeDataset("energy_kT", energies.map { $0 / kT }, shape: [n])
        try group.writeDataset("log_weight", [Double](repeating: 0, count: n), shape: [n])
        for name in ["topology_ok", "chirality_ok"] { try group.writeDataset(name, [UInt8](repeating: 1, count: n), shape: [n]) }
        try group.writeDataset("chirality_fixed", [UInt8](repeating: 0, count: n), shape: [n])
        try group.writeAttribute("kT_kJ_per_mol", [kT])
        return path
    }

    private var weights: [Double] { bias.map { exp($0 / kT) } }

    /// Normalised Kish ESS of `w`, written out: (Σw)² / Σw² / n.
    private func kish(_ w: [Double]) -> Double {
        let sum: Double = w.reduce(0, +)
        let squares: Double = w.map { $0 * $0 }.reduce(0, +)
        return sum * sum / squares / Double(w.count)
    }

    func testEvaluateWeightsABiasedReferenceByItsBias() throws {
        let reference = try writeReference("biased.h5")
        let samples = try writeSamples()
        // The mirrored frames lie anywhere in 0 < φ < π (some in the wrapped β tail past 2.15 rad),
        // so this test takes the whole half-plane as the positive basin.
        let halfPlane = "--phi-basin=0:3.14159"
        let result = try Executables.run(Executables.tbg, ["evaluate", "--samples", samples, "--reference", reference, "--json", "--blocks", "4", halfPlane])
        XCTAssertEqual(result.status, 0, result.standardError)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        let md = try XCTUnwrap(json["md"] as? [String: Any])
        XCTAssertEqual(md["weighted_by_bias"] as? Bool, true)
        // ΔF by hand: the mirrored frames 0–4 are the φ > 0 basin.
        let w = weights
        let positive: Double = w[0..<5].reduce(0, +), negative: Double = w[5...].reduce(0, +)
        let expected = -log(positive / negative)
        let deltaF = try XCTUnwrap(md["delta_f_kT"] as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(deltaF["value"] as? Double), expected, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(deltaF["positive_fraction"] as? Double), positive / (positive + negative), accuracy: 1e-12)
        XCTAssertTrue((deltaF["method"] as? String)?.hasPrefix("bias-weighted block bootstrap over 4") == true, "\(deltaF)")
        // Unweighted, 5 of 20 frames would give ln 3 = 1.0986; the weights move it far from that.
        XCTAssertGreaterThan(abs(expected - log(3.0)), 1)
        XCTAssertEqual(try XCTUnwrap(md["bias_ess"] as? Double), kish(w), accuracy: 1e-12)
        let energies = try HDF5File(opening: reference).root().dataset("potentialEnergy").read(as: Float.self).map { Double($0) / kT }
        let weightedSum: Double = zip(w, energies).map { $0.0 * $0.1 }.reduce(0, +)
        let mean = weightedSum / w.reduce(0, +)
        XCTAssertEqual(try XCTUnwrap(md["energy_mean_kT"] as? Double), mean, accuracy: 1e-9)
        XCTAssertEqual(md["torus_stride"] as? Int, 0, "weighted MD torus points are draws, not a stride")
        // The proposal (the unmirrored fixture frames, unweighted) against the weighted MD energies:
        // W1 between two discrete distributions on the same 20 energies, by the quantile functions.
        let proposal = try XCTUnwrap(json["proposal"] as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(proposal["energy_w1_kT"] as? Double), w1(energies, w, energies), accuracy: 1e-9)

        let text = try Executables.run(Executables.tbg, ["evaluate", "--samples", samples, "--reference", reference, halfPlane])
        XCTAssertEqual(text.status, 0, text.standardError)
        for fragment in ["a biased run: every MD metric weights its frames by exp(+V/kT) (/bias_energy)", "MD: multinomial draws ∝ exp(+V/kT)",
                         "block bootstrap (bias-weighted)", String(format: "%.3f", expected)] {
            XCTAssertTrue(text.standardOutput.contains(fragment), "missing '\(fragment)' in:\n\(text.standardOutput)")
        }
    }

    func testPlainReferenceIsNotWeighted() throws {
        let result = try Executables.run(Executables.tbg, ["evaluate", "--samples", try writeSamples(), "--reference", Fixtures.path("ad2_capped.h5"), "--json"])
        XCTAssertEqual(result.status, 0, result.standardError)
        let md = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])?["md"] as? [String: Any])
        XCTAssertEqual(md["weighted_by_bias"] as? Bool, false)
        XCTAssertTrue(md["bias_ess"] is NSNull)
    }

    func testInspectReportsTheBias() throws {
        let reference = try writeReference("biased.h5")
        let text = try Executables.run(Executables.tbg, ["inspect", reference])
        XCTAssertEqual(text.status, 0, text.standardError)
        let ess = kish(weights)
        for fragment in ["bias         metad_phi on phi (atoms 4-6-8-14), bias factor 6, built over 2000 ps; V 0 … 13.3 kJ/mol",
                         String(format: "ESS %.1f %% of frames", 100 * ess)] {
            XCTAssertTrue(text.standardOutput.contains(fragment), "missing '\(fragment)' in:\n\(text.standardOutput)")
        }
        let json = try Executables.run(Executables.tbg, ["inspect", "--json", reference])
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any])
        let report = try XCTUnwrap(object["bias"] as? [String: Any])
        XCTAssertEqual(report["kind"] as? String, "metad_phi")
        XCTAssertEqual(report["cv_atoms"] as? [Int], [4, 6, 8, 14])
        let range = try XCTUnwrap(report["energy_range_kj_mol"] as? [Double])
        XCTAssertEqual(range.count, 2)
        XCTAssertEqual(range[0], 0)
        XCTAssertEqual(range[1], 0.7 * 19, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(report["ess"] as? Double), ess, accuracy: 1e-12)
        // A plain file has no bias entry.
        let plain = try Executables.run(Executables.tbg, ["inspect", "--json", Fixtures.path("ad2_capped.h5")])
        let plainReport = try JSONSerialization.jsonObject(with: Data(plain.standardOutput.utf8)) as? [String: Any]
        XCTAssertNil(plainReport?["bias"])
        // MD from the generator is not flagged as a prepared (minimised, one-frame) input.
        XCTAssertNil(plainReport?["prepared"])
    }

    /// A pooled dataset entry (unbiased and biased files under `files`): every file is inspected,
    /// the bias shown, and n_frames compared with the sum over the files.
    func testInspectsEveryFileOfAPooledDatasetEntry() throws {
        _ = try writeReference("AD-biased.h5")
        try FileManager.default.copyItem(atPath: Fixtures.path("ad2_capped.h5"), toPath: scratch.file("AD-plain.h5"))
        func index(frames: Int) throws {
            let text = #"{"format": "tbg-dataset", "format_version": 1, "peptides": [{"name": "AD", "file": "AD-plain.h5", "files": ["AD-plain.h5", "AD-biased.h5"], "biased_files": ["AD-biased.h5"], "split": "train", "n_atoms": 22, "n_frames": \#(frames)}]}"#
            try text.write(toFile: scratch.file("index.json"), atomically: true, encoding: .utf8)
        }
        try index(frames: 40)
        let result = try Executables.run(Executables.tbg, ["inspect", scratch.path])
        XCTAssertEqual(result.status, 0, result.standardError)
        for fragment in ["dataset of 1 peptides in 2 files", "train      1 peptides, 40 frames: AD", scratch.file("AD-biased.h5"),
                         "bias         metad_phi on phi"] {
            XCTAssertTrue(result.standardOutput.contains(fragment), "missing '\(fragment)' in:\n\(result.standardOutput)")
        }
        try index(frames: 20)
        let wrong = try Executables.run(Executables.tbg, ["inspect", scratch.path])
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.standardError.contains("\(scratch.file("AD-plain.h5")): index entry AD disagrees with its 2 files: n_frames 20 in the index, 40 in the files"),
                      wrong.standardError)
    }

    func testBadBiasEnergiesAreRefusedWithTheFileAndDatasetNamed() throws {
        let samples = try writeSamples()
        let cases: [(String, [Double], String)] = [
            ("short.h5", Array(bias.prefix(19)), "/bias_energy has shape [19], expected [20] (one value per frame)"),
            ("nan.h5", bias.enumerated().map { $0.offset == 3 ? .nan : $0.element }, "/bias_energy of frame 3 is nan; expected a finite bias energy"),
            ("inf.h5", bias.enumerated().map { $0.offset == 7 ? .infinity : $0.element }, "/bias_energy of frame 7 is inf"),
        ]
        for (name, values, message) in cases {
            let reference = try writeReference(name, energies: values)
            for arguments in [["evaluate", "--samples", samples, "--reference", reference], ["inspect", reference]] {
                let result = try Executables.run(Executables.tbg, arguments)
                XCTAssertNotEqual(result.status, 0, "\(arguments[0]) \(name): \(result.standardOutput)")
                XCTAssertTrue(result.standardError.contains("\(reference): \(message)"), "\(arguments[0]) \(name): \(result.standardError)")
            }
        }
    }

    /// Exact W1 of two weighted 1-D distributions: ∫ |F_a − F_b| over the merged support.
    private func w1(_ a: [Double], _ wa: [Double], _ b: [Double]) -> Double {
        let ta = wa.reduce(0, +)
        let points = (a + b).sorted()
        var total = 0.0
        for (x, next) in zip(points, points.dropFirst()) where next > x {
            let fa = zip(a, wa).filter { $0.0 <= x }.map(\.1).reduce(0, +) / ta
            let fb = Double(b.filter { $0 <= x }.count) / Double(b.count)
            total += abs(fa - fb) * (next - x)
        }
        return total
    }
}
