// `tbg evaluate` as users run it. A samples file made from the fixture's own MD frames (all valid,
// equal weights, energies from /potentialEnergy) must be indistinguishable from MD: W = 0, JSD = 0,
// ESS = 1, the same ΔF. The NLL part agrees with `tbg nll` on the same frames, on 1 and 2 ranks.
// Bad inputs fail with the file named.
import Foundation
import HDF5
import TestSupport
import XCTest

final class EvaluateCommandTests: XCTestCase {
    private let kT = 300 * 0.00831446261815324

    /// The committed fixture with a /samples group as `tbg sample` writes it: every frame valid,
    /// log weights zero, energies from /potentialEnergy; `edit` may change the arrays first.
    private func makeSamples(_ path: String, kT: Double? = nil,
                             edit: (inout [Double], inout [Double], inout [UInt8]) -> Void = { _, _, _ in }) throws {
        try FileManager.default.copyItem(atPath: Fixtures.path("ad2_capped.h5"), toPath: path)
        let root = try HDF5File(opening: path, mode: .readWrite).root()
        var energies = try root.dataset("potentialEnergy").read(as: Float.self).map(Double.init)
        var logWeights = [Double](repeating: 0, count: energies.count)
        var topologyOK = [UInt8](repeating: 1, count: energies.count)
        edit(&energies, &logWeights, &topologyOK)
        let n = energies.count
        let group = try root.createGroup("samples")
        try group.writeDataset("index", (0..<n).map { Int64($0) }, shape: [n])
        try group.writeDataset("energy_kj_mol", energies, shape: [n])
        try group.writeDataset("energy_kT", energies.map { $0 / self.kT }, shape: [n])
        try group.writeDataset("log_weight", logWeights, shape: [n])
        try group.writeDataset("topology_ok", topologyOK, shape: [n])
        try group.writeDataset("chirality_ok", [UInt8](repeating: 1, count: n), shape: [n])
        try group.writeDataset("chirality_fixed", [UInt8](repeating: 0, count: n), shape: [n])
        try group.writeAttribute("kT_kJ_per_mol", [kT ?? self.kT])
    }

    private func evaluate(_ arguments: [String]) throws -> (result: ProcessResult, json: [String: Any]?) {
        let result = try Executables.run(Executables.tbg, ["evaluate"] + arguments)
        let json = try? JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any]
        return (result, json)
    }

    func testSamplesMadeOfTheMDFramesMatchMD() throws {
        let scratch = try ScratchDirectory("evaluate-cli")
        defer { scratch.remove() }
        try makeSamples(scratch.file("samples.h5"))
        let (result, object) = try evaluate(["--samples", scratch.file("samples.h5"), "--reference", Fixtures.path("ad2_capped.h5"), "--json"])
        XCTAssertEqual(result.status, 0, result.standardError)
        let json = try XCTUnwrap(object, result.standardOutput)
        XCTAssertEqual(json["kT_kJ_per_mol"] as? Double, kT)
        XCTAssertEqual(json["phi_atoms"] as? [Int], [4, 6, 8, 14], "mdtraj's phi of ACE-ALA-NME (amber order)")
        XCTAssertEqual(json["psi_atoms"] as? [Int], [6, 8, 14, 16])
        XCTAssertTrue(json["nll"] is NSNull)
        // Without /samples@energy_evaluations the budget is one evaluation per valid sample (what tbg sample spends).
        XCTAssertEqual(json["energy_evaluations"] as? Int, 20)
        XCTAssertEqual(json["sampler"] as? String, "flow")
        let counts = try XCTUnwrap(json["counts"] as? [String: Any])
        XCTAssertEqual(counts["samples"] as? Int, 20)
        XCTAssertEqual(counts["valid"] as? Int, 20)
        XCTAssertEqual(try XCTUnwrap(counts["ess"] as? Double), 1, accuracy: 1e-12)
        XCTAssertTrue(counts["pareto_khat"] is NSNull, "20 samples: a tail of 4, too short to fit")
        let md = try XCTUnwrap(json["md"] as? [String: Any])
        XCTAssertEqual(md["frames"] as? Int, 20)
        let mdDeltaF = try XCTUnwrap(md["delta_f_kT"] as? [String: Any])
        // Every fixture frame has φ < 0: ΔF is undefined, and says why.
        XCTAssertTrue(mdDeltaF["value"] is NSNull)
        XCTAssertEqual(mdDeltaF["reason"] as? String, "no population with 0 < phi < 2.15")
        for name in ["proposal", "reweighted"] {
            let set = try XCTUnwrap(json[name] as? [String: Any])
            XCTAssertEqual(try XCTUnwrap(set["energy_w1_kT"] as? Double), 0, accuracy: 1e-12, name)
            XCTAssertEqual(try XCTUnwrap(set["energy_w2_kT"] as? Double), 0, accuracy: 1e-7, name)
            XCTAssertEqual(try XCTUnwrap(set["jsd_bits"] as? Double), 0, accuracy: 1e-15, name)
            XCTAssertEqual(try XCTUnwrap(set["energy_mean_kT"] as? Double), try XCTUnwrap(md["energy_mean_kT"] as? Double), accuracy: 1e-12)
            XCTAssertEqual(set["energy_median_kT"] as? Double, md["energy_median_kT"] as? Double)
            XCTAssertEqual(set["torus_points"] as? Int, 20)
            XCTAssertEqual(set["torus_certified"] as? Bool, true)
            XCTAssertEqual((set["delta_f_kT"] as? [String: Any])?["reason"] as? String, "no population with 0 < phi < 2.15")
        }
        XCTAssertEqual((json["proposal"] as? [String: Any])?["torus_w2"] as? Double, 0)
        // The field's protocols: snis_tbg over the 20 valid samples (20 draws against 20 MD frames, on
        // the 2 backbone torsions); snis_clipped needs the raw energies this file does not have.
        let snisTBG = try XCTUnwrap(json["snis_tbg"] as? [String: Any])
        XCTAssertEqual(snisTBG["samples"] as? Int, 20)
        XCTAssertEqual(snisTBG["resampled"] as? Int, 20)
        XCTAssertEqual(snisTBG["torsion_dimensions"] as? Int, 2)
        XCTAssertEqual(try XCTUnwrap(snisTBG["ess"] as? Double), 1, accuracy: 1e-12)
        XCTAssertNotNil(snisTBG["energy_w2_kT"] as? Double)
        XCTAssertEqual(snisTBG["torsion_certified"] as? Bool, true)
        let snisClipped = try XCTUnwrap(json["snis_clipped"] as? [String: Any])
        XCTAssertTrue(snisClipped["energy_w2_kT"] is NSNull)
        XCTAssertTrue((snisClipped["reason"] as? String)?.contains("no /samples/raw_energy and raw_log_weight") ?? false, "\(snisClipped)")

        // The text report carries the same facts.
        let text = try Executables.run(Executables.tbg, ["evaluate", "--samples", scratch.file("samples.h5"), "--reference", Fixtures.path("ad2_capped.h5")])
        XCTAssertEqual(text.status, 0, text.standardError)
        for fragment in ["samples 20: 20 valid (100.0 %)", "ESS 1.0000", "phi atoms 4-6-8-14", "energy W1 (kT)", "torus W2 phi/psi (rad)",
                         "0.0000 (M 20)", "note: MD dF: no population with 0 < phi < 2.15", "dF = F(0<phi<2.15) - F(rest) (kT)", "samples: bootstrap over samples, "] {
            XCTAssertTrue(text.standardOutput.contains(fragment), "missing '\(fragment)' in:\n\(text.standardOutput)")
        }
    }

    func testInvalidSamplesAndWeights() throws {
        let scratch = try ScratchDirectory("evaluate-cli")
        defer { scratch.remove() }
        // Sample 0 fails the topology check; sample 1 carries (nearly) all the weight.
        try makeSamples(scratch.file("samples.h5")) { energies, logWeights, topologyOK in
            topologyOK[0] = 0
            energies[0] = .infinity
            logWeights[0] = -.infinity
            logWeights[1] = 50
        }
        let (result, object) = try evaluate(["--samples", scratch.file("samples.h5"), "--reference", Fixtures.path("ad2_capped.h5"), "--json"])
        XCTAssertEqual(result.status, 0, result.standardError)
        let json = try XCTUnwrap(object)
        let counts = try XCTUnwrap(json["counts"] as? [String: Any])
        XCTAssertEqual(counts["valid"] as? Int, 19)
        XCTAssertEqual(counts["topology_failures"] as? Int, 1)
        XCTAssertEqual(try XCTUnwrap(counts["ess"] as? Double), 1.0 / 19, accuracy: 1e-9)
        let energies = try HDF5File(opening: Fixtures.path("ad2_capped.h5")).root().dataset("potentialEnergy").read(as: Float.self).map { Double($0) / kT }
        let reweighted = try XCTUnwrap(json["reweighted"] as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(reweighted["energy_mean_kT"] as? Double), energies[1], accuracy: 1e-9)
        // W1 of MD against a point mass at E₁ is the mean |E − E₁|.
        XCTAssertEqual(try XCTUnwrap(reweighted["energy_w1_kT"] as? Double), energies.map { abs($0 - energies[1]) }.reduce(0, +) / 20, accuracy: 1e-9)
        let proposal = try XCTUnwrap(json["proposal"] as? [String: Any])
        XCTAssertEqual(proposal["energy_samples"] as? Int, 19)
        XCTAssertEqual(proposal["torus_points"] as? Int, 19)
    }

    /// Adds /samples/raw_energy (`units`, values `factor` × kJ/mol) and raw_log_weight to a samples file.
    private func addRawWeights(_ path: String, energies: [Double], logWeights: [Double], units: String = "kilojoules_per_mole",
                               factor: Double = 1, only: String? = nil) throws {
        let group = try HDF5File(opening: path, mode: .readWrite).root().group("samples")
        if only != "raw_log_weight" {
            let dataset = try group.writeDataset("raw_energy", energies.map { $0 * factor }, shape: [energies.count])
            try dataset.writeAttribute("units", string: units)
        }
        if only != "raw_energy" { try group.writeDataset("raw_log_weight", logWeights, shape: [logWeights.count]) }
    }

    func testClippedProtocolKeepsInvalidSamplesWithTheirRawEnergiesInAnyUnit() throws {
        let scratch = try ScratchDirectory("evaluate-clipped")
        defer { scratch.remove() }
        let fixture = Fixtures.path("ad2_capped.h5")
        let mdEnergies = try HDF5File(opening: fixture).root().dataset("potentialEnergy").read(as: Float.self).map(Double.init)
        // Sample 0 fails the bond graph: snis_tbg drops it, snis_clipped keeps it with its raw energy.
        let edit: (inout [Double], inout [Double], inout [UInt8]) -> Void = { energies, logWeights, topologyOK in
            topologyOK[0] = 0
            energies[0] = .infinity
            logWeights[0] = -.infinity
        }
        let rawLogWeights = [Double](repeating: 0, count: 20)
        var results: [[String: Any]] = []
        for (name, units, factor) in [("kj.h5", "kilojoules_per_mole", 1.0), ("kcal.h5", "kilocalories_per_mole", 1 / 4.184)] {
            try makeSamples(scratch.file(name), edit: edit)
            try addRawWeights(scratch.file(name), energies: mdEnergies, logWeights: rawLogWeights, units: units, factor: factor)
            let (result, object) = try evaluate(["--samples", scratch.file(name), "--reference", fixture, "--json", "--bootstrap", "0"])
            XCTAssertEqual(result.status, 0, result.standardError)
            results.append(try XCTUnwrap(object))
        }
        let snisTBG = try XCTUnwrap(results[0]["snis_tbg"] as? [String: Any])
        XCTAssertEqual(snisTBG["samples"] as? Int, 19)
        XCTAssertEqual(snisTBG["dropped_invalid"] as? Int, 1)
        let clipped = try XCTUnwrap(results[0]["snis_clipped"] as? [String: Any])
        XCTAssertTrue(clipped["reason"] is NSNull, "\(clipped)")
        XCTAssertEqual(clipped["samples"] as? Int, 20)
        XCTAssertEqual(clipped["kept_invalid"] as? Int, 1)
        XCTAssertEqual(clipped["clipped"] as? Int, 0, "equal log weights: none lies above the quantile")
        XCTAssertEqual(clipped["clip_fraction"] as? Double, 0.002)
        XCTAssertEqual(try XCTUnwrap(clipped["ess"] as? Double), 1, accuracy: 1e-12)
        // The same energies declared in kcal/mol give the same numbers (to rounding of the conversion).
        let inKcal = try XCTUnwrap(results[1]["snis_clipped"] as? [String: Any])
        for key in ["energy_w2_kT", "torsion_w2", "ess"] {
            XCTAssertEqual(try XCTUnwrap(inKcal[key] as? Double), try XCTUnwrap(clipped[key] as? Double), accuracy: 1e-9, key)
        }
        // A larger clip drops the single largest of otherwise equal weights.
        let path = scratch.file("one-high.h5")
        try makeSamples(path, edit: edit)
        try addRawWeights(path, energies: mdEnergies, logWeights: [3] + [Double](repeating: 0, count: 19))
        let (result, object) = try evaluate(["--samples", path, "--reference", fixture, "--json", "--bootstrap", "0", "--clip-fraction", "0.05"])
        XCTAssertEqual(result.status, 0, result.standardError)
        let oneHigh = try XCTUnwrap(object?["snis_clipped"] as? [String: Any])
        XCTAssertEqual(oneHigh["clipped"] as? Int, 1, "h = 19 · 0.95 = 18.05 lies between 0 and 3: only the 3 is above")
        XCTAssertEqual(oneHigh["kept_invalid"] as? Int, 0, "the invalid sample 0 was the one dropped")
    }

    func testBadRawWeightsFailWithTheFileNamed() throws {
        let scratch = try ScratchDirectory("evaluate-raw-errors")
        defer { scratch.remove() }
        let fixture = Fixtures.path("ad2_capped.h5")
        let zeros = [Double](repeating: 0, count: 20)
        try makeSamples(scratch.file("half.h5"))
        try addRawWeights(scratch.file("half.h5"), energies: zeros, logWeights: zeros, only: "raw_energy")
        try makeSamples(scratch.file("short.h5"))
        try addRawWeights(scratch.file("short.h5"), energies: Array(zeros.prefix(7)), logWeights: zeros)
        try makeSamples(scratch.file("hours.h5"))
        try addRawWeights(scratch.file("hours.h5"), energies: zeros, logWeights: zeros, units: "picoseconds")
        // An invalid sample (its coordinates are not checked by the TBG protocol) that the clipped one could draw.
        try makeSamples(scratch.file("nan.h5")) { energies, logWeights, topologyOK in
            (topologyOK[3], energies[3], logWeights[3]) = (0, .infinity, -.infinity)
        }
        try addRawWeights(scratch.file("nan.h5"), energies: zeros, logWeights: zeros)
        do {
            let coordinates = try HDF5File(opening: scratch.file("nan.h5"), mode: .readWrite).root().dataset("coordinates")
            try coordinates.write([Float.nan, 0, 0], start: [3, 7, 0], count: [1, 1, 3])
        }
        let cases: [(String, String)] = [
            ("half.h5", "/samples has only one of raw_energy and raw_log_weight"),
            ("short.h5", "/samples/raw_energy has shape [7], expected [20]"),
            ("hours.h5", "/samples/raw_energy has units 'picoseconds', a time unit; expected a energy unit"),
            ("nan.h5", "/coordinates of sample 3, atom 7 (H) is nan, but its /samples/raw_log_weight is finite"),
        ]
        for (name, message) in cases {
            let (result, _) = try evaluate(["--samples", scratch.file(name), "--reference", fixture])
            XCTAssertNotEqual(result.status, 0, name)
            XCTAssertTrue(result.standardError.contains(scratch.file(name)), "the file is named: \(result.standardError)")
            XCTAssertTrue(result.standardError.contains(message), "expected '\(message)' in: \(result.standardError)")
        }
        let (result, _) = try evaluate(["--samples", scratch.file("half.h5"), "--reference", fixture, "--clip-fraction=-0.1"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.standardError.contains("--clip-fraction must be in [0, 1)"), result.standardError)
    }

    func testLikelihoodAgreesWithTbgNLLOnOneAndTwoRanks() throws {
        let mpirun = try XCTUnwrap(Executables.which("mpirun"), "mpirun not found")
        let scratch = try ScratchDirectory("evaluate-nll")
        defer { scratch.remove() }
        let checkpoint = try TinyDataset.trainedCheckpoint(in: scratch, steps: 4)
        try makeSamples(scratch.file("samples.h5"))
        let ode = ["--method", "rk4", "--steps", "3"]
        // The model trained on a copy of this very file (frames 0..<16; 16..<20 held out for
        // validation): by default evaluate leaves the training frames out, and says so.
        let heldOut = try Executables.run(Executables.tbg, ["evaluate", "--samples", scratch.file("samples.h5"), "--reference", Fixtures.path("ad2_capped.h5"),
                                                            "--json", "--nll-checkpoint", checkpoint, "--nll-frames", "4"] + ode)
        XCTAssertEqual(heldOut.status, 0, heldOut.standardError)
        let heldOutReport = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(heldOut.standardOutput.utf8)) as? [String: Any])?["nll"] as? [String: Any])
        XCTAssertEqual(heldOutReport["excluded_training_frames"] as? Int, 16)
        let validationNLL = try Executables.run(Executables.tbg, ["nll", "--checkpoint", checkpoint, "--data", Fixtures.path("ad2_capped.h5"),
                                                                  "--frames", "16:20"] + ode)
        XCTAssertTrue(validationNLL.standardOutput.contains(String(format: "NLL %.4f", try XCTUnwrap(heldOutReport["mean"] as? Double))),
                      validationNLL.standardOutput + heldOut.standardOutput)
        // With --nll-include-training-frames: frames 0, 5, 10, 15 (k·T/K), and a warning; tbg nll on
        // the same frames warns too.
        let arguments = ["evaluate", "--samples", scratch.file("samples.h5"), "--reference", Fixtures.path("ad2_capped.h5"), "--json",
                         "--nll-checkpoint", checkpoint, "--nll-frames", "4", "--nll-include-training-frames"] + ode
        let nll = try Executables.run(Executables.tbg, ["nll", "--checkpoint", checkpoint, "--data", Fixtures.path("ad2_capped.h5"),
                                                        "--every", "5", "--json"] + ode)
        XCTAssertEqual(nll.status, 0, nll.standardError)
        XCTAssertTrue(nll.standardError.contains("4 of the 4 frames are frames \(checkpoint) trained on"), nll.standardError)
        let values = try nll.standardOutput.split(separator: "\n").map { line -> Double in
            try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["nll"] as? Double)
        }
        XCTAssertEqual(values.count, 4)
        let expected = values.reduce(0, +) / 4
        for (label, result) in [("1 rank", try Executables.run(Executables.tbg, arguments)),
                                ("2 ranks", try Executables.run(mpirun, ["-np", "2", Executables.tbg] + arguments, environment: Executables.mpiEnvironment))] {
            XCTAssertEqual(result.status, 0, label + ": " + result.standardError)
            XCTAssertTrue(result.standardError.contains("their NLL is optimistic"), result.standardError)
            let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any], label)
            let report = try XCTUnwrap(json["nll"] as? [String: Any], label)
            XCTAssertEqual(report["frames"] as? Int, 4)
            XCTAssertEqual(report["dimensions"] as? Int, 63, "3(N − 1) for 22 atoms")
            let mean = try XCTUnwrap(report["mean"] as? Double)
            XCTAssertEqual(mean, expected, accuracy: 1e-6 * abs(expected), label)
            XCTAssertEqual(try XCTUnwrap(report["mean_per_dimension"] as? Double), mean / 63, accuracy: 1e-12 * abs(mean), label)
            XCTAssertNotNil(report["standard_error"] as? Double)
        }
    }

    func testBadInputsFailWithTheFileNamed() throws {
        let scratch = try ScratchDirectory("evaluate-errors")
        defer { scratch.remove() }
        let samples = scratch.file("samples.h5")
        try makeSamples(samples)
        try makeSamples(scratch.file("hot.h5"), kT: 310 * 0.00831446261815324)
        try makeSamples(scratch.file("nan.h5"))
        do {   // closed again before tbg opens it
            let coordinates = try HDF5File(opening: scratch.file("nan.h5"), mode: .readWrite).root().dataset("coordinates")
            try coordinates.write([Float.nan, 0, 0], start: [3, 7, 0], count: [1, 1, 3])
        }
        let fixture = Fixtures.path("ad2_capped.h5")
        let cases: [([String], String)] = [
            (["--samples", scratch.file("absent.h5"), "--reference", fixture], "\(scratch.file("absent.h5")): no such file"),
            (["--samples", samples, "--reference", scratch.file("absent.h5")], "\(scratch.file("absent.h5")): no such file"),
            (["--samples", samples, "--reference", Fixtures.path("ks_zwitterion.h5")],
             "\(samples): has 22 atoms per frame but the reference \(Fixtures.path("ks_zwitterion.h5")) has 36"),
            (["--samples", fixture, "--reference", fixture], "\(fixture): missing group /samples"),
            (["--samples", scratch.file("hot.h5"), "--reference", fixture], "samples and MD must be at the same temperature"),
            (["--samples", scratch.file("nan.h5"), "--reference", fixture], "/coordinates of valid sample 3, atom 7 (H) is nan"),
            (["--samples", samples, "--reference", scratch.file("nan.h5")], "/coordinates of frame 3, atom 7 (H) is nan"),
        ]
        for (arguments, message) in cases {
            let (result, _) = try evaluate(arguments)
            XCTAssertNotEqual(result.status, 0, "\(arguments)")
            XCTAssertTrue(result.standardError.contains(message), "expected '\(message)' in: \(result.standardError)")
        }
        let help = try Executables.run(Executables.tbg, ["evaluate", "--max-points", "0", "--samples", samples, "--reference", fixture])
        XCTAssertNotEqual(help.status, 0)
        XCTAssertTrue(help.standardError.contains("--max-points"), help.standardError)
    }
}
