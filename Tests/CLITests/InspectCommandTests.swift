// `tbg inspect`, run as a user runs it: the description of real files, JSON for scripts, and a
// clear error with a non-zero exit status for anything that is not in the format.
import Foundation
import TestSupport
import XCTest

final class InspectCommandTests: XCTestCase {
    func testDescribesTrajectories() throws {
        let result = try Executables.run(Executables.tbg, ["inspect", Fixtures.path("ad2_capped.h5"), Fixtures.path("ks_zwitterion.h5")])
        XCTAssertEqual(result.status, 0, result.standardError)
        let text = result.standardOutput
        for fragment in ["22 in 3 residues (ACE ALA NME), 21 bonds, C6 H12 N2 O2", "frames       20",
                         "amber99sbildn-obc2: amber99sbildn.xml + amber99_obc.xml, 300 K",
                         "GBSAOBCForce", "36 in 2 residues (LYS SER)", "NonbondedForce (CutoffNonPeriodic, 2 nm)",
                         "CustomGBForce", "5 frames with per-force energies and forces from OpenMM Reference",
                         "all finite"] {
            XCTAssertTrue(text.contains(fragment), "missing '\(fragment)' in:\n\(text)")
        }
    }

    func testJSONOutputIsMachineReadable() throws {
        let result = try Executables.run(Executables.tbg, ["inspect", "--json", Fixtures.path("ks_zwitterion.h5")])
        XCTAssertEqual(result.status, 0, result.standardError)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        XCTAssertEqual(object["atoms"] as? Int, 36)
        XCTAssertEqual(object["frames"] as? Int, 20)
        XCTAssertEqual(object["preset"] as? String, "amber14-obc1")
        XCTAssertEqual(object["reference_frames"] as? Int, 5)
        XCTAssertEqual(object["temperature_K"] as? Double, 310)
    }

    func testBadInputFailsWithTheFileNamed() throws {
        let scratch = try ScratchDirectory("cli")
        defer { scratch.remove() }
        let text = scratch.file("notes.h5")
        try "plain text".write(toFile: text, atomically: true, encoding: .utf8)
        let cases: [(String, String)] = [
            (scratch.file("absent.h5"), "no such file"),
            (text, "not an HDF5 file"),
            (Fixtures.path("h5py_types.h5"), "missing dataset /coordinates; expected float32 frames×atoms×3 in nm"),
        ]
        for (path, message) in cases {
            let result = try Executables.run(Executables.tbg, ["inspect", path])
            XCTAssertEqual(result.status, 1, "\(path): \(result.standardOutput)")
            XCTAssertTrue(result.standardError.contains("tbg inspect: error: \(path): \(message)"), result.standardError)
        }
        // A good file next to a bad one is still described, and the status reports the bad one.
        let mixed = try Executables.run(Executables.tbg, ["inspect", Fixtures.path("ad2_capped.h5"), text])
        XCTAssertEqual(mixed.status, 1)
        XCTAssertTrue(mixed.standardOutput.contains("ACE ALA NME"))
        // --json: one line per argument, in order, a bad one as {"kind": "error", "file", "error"}.
        let lines = try Executables.run(Executables.tbg, ["inspect", "--json", Fixtures.path("ad2_capped.h5"), text, Fixtures.path("ks_zwitterion.h5")])
        XCTAssertEqual(lines.status, 1)
        let objects = try lines.standardOutput.split(separator: "\n").map {
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        XCTAssertEqual(objects.map { $0["kind"] as? String }, ["trajectory", "error", "trajectory"])
        XCTAssertEqual(objects[1]["file"] as? String, text)
        XCTAssertTrue((objects[1]["error"] as? String ?? "").contains("not an HDF5 file"), "\(objects[1])")
    }

    func testDescribesDatasetFolders() throws {
        let scratch = try ScratchDirectory("cli-dataset")
        defer { scratch.remove() }
        try FileManager.default.copyItem(atPath: Fixtures.path("ks_zwitterion.h5"), toPath: scratch.file("KS.h5"))
        let index = #"{"format": "tbg-dataset", "format_version": 1, "preset": "amber14-obc1", "termini": "zwitterion", "peptides": [{"name": "KS", "file": "KS.h5", "split": "validation", "n_atoms": 36, "n_frames": 20}]}"#
        try index.write(toFile: scratch.file("index.json"), atomically: true, encoding: .utf8)
        let result = try Executables.run(Executables.tbg, ["inspect", scratch.path])
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertTrue(result.standardOutput.contains("dataset of 1 peptides, preset amber14-obc1, zwitterion termini"), result.standardOutput)
        XCTAssertTrue(result.standardOutput.contains("validation 1 peptides, 20 frames: KS"), result.standardOutput)
    }

    func testHelpListsTheSubcommands() throws {
        let result = try Executables.run(Executables.tbg, ["--help"])
        XCTAssertEqual(result.status, 0)
        XCTAssertTrue(result.standardOutput.contains("inspect"), result.standardOutput)
        let missing = try Executables.run(Executables.tbg, ["inspect"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.standardError.contains("Missing expected argument"), missing.standardError)
    }
}
