// `tbg energy` as a user runs it: per-frame JSON that scripts can parse, values equal to OpenMM's
// Reference energies stored in the file, and clear errors for bad frame ranges and bad files.
import Foundation
import HDF5
import TestSupport
import XCTest

final class EnergyCommandTests: XCTestCase {
    func testJSONLinesMatchTheReferenceEnergiesInTheFile() throws {
        let path = Fixtures.path("ks_zwitterion.h5")
        let group = try HDF5File(opening: path).root().group("reference_energies")
        let frames: [Int32] = try group.dataset("frame_index").read()
        let totals: [Double] = try group.dataset("total").read()
        let result = try Executables.run(Executables.tbg, ["energy", path, "--json", "--threads", "2"])
        XCTAssertEqual(result.status, 0, result.standardError)
        let lines = result.standardOutput.split(separator: "\n")
        XCTAssertEqual(lines.count, 20)
        let objects = try lines.map { try XCTUnwrap(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        for (frame, expected) in zip(frames, totals) {
            let object = objects[Int(frame)]
            XCTAssertEqual(object["frame"] as? Int, Int(frame))
            let total = try XCTUnwrap(object["total_kj_mol"] as? Double)
            XCTAssertEqual(total, expected, accuracy: 1e-9 * abs(expected))
            XCTAssertEqual(try XCTUnwrap(object["reduced"] as? Double), total / (310 * 0.00831446261815324), accuracy: 1e-9)
            let terms = try XCTUnwrap(object["terms"] as? [String: Double])
            XCTAssertEqual(Set(terms.keys), ["HarmonicBondForce", "PeriodicTorsionForce", "NonbondedForce", "HarmonicAngleForce", "CustomGBForce"])
            XCTAssertEqual(terms.values.reduce(0, +), total, accuracy: 1e-9 * abs(total))
        }
    }

    func testFrameSliceAndTable() throws {
        let result = try Executables.run(Executables.tbg, ["energy", Fixtures.path("ad2_capped.h5"), "--frames", "2:5"])
        XCTAssertEqual(result.status, 0, result.standardError)
        let lines = result.standardOutput.split(separator: "\n")
        XCTAssertEqual(lines.count, 5, "comment, header and three frames")
        XCTAssertEqual(lines[1], "frame\ttotal\ttotal/kT\tHarmonicBondForce\tPeriodicTorsionForce\tNonbondedForce\tGBSAOBCForce\tHarmonicAngleForce")
        XCTAssertTrue(lines[2].hasPrefix("2\t"))
        XCTAssertTrue(lines[4].hasPrefix("4\t"))
    }

    func testBadRequestsFailClearly() throws {
        let outOfRange = try Executables.run(Executables.tbg, ["energy", Fixtures.path("ad2_capped.h5"), "--frames", "18:25"])
        XCTAssertNotEqual(outOfRange.status, 0)
        XCTAssertTrue(outOfRange.standardError.contains("frames 18:25 requested, the file has frames 0..<20"), outOfRange.standardError)
        let notTrajectory = try Executables.run(Executables.tbg, ["energy", Fixtures.path("h5py_types.h5")])
        XCTAssertNotEqual(notTrajectory.status, 0)
        XCTAssertTrue(notTrajectory.standardError.contains("missing dataset /coordinates"), notTrajectory.standardError)
        let badSlice = try Executables.run(Executables.tbg, ["energy", Fixtures.path("ad2_capped.h5"), "--frames", "x"])
        XCTAssertNotEqual(badSlice.status, 0)
    }

    func testBenchmarkPrintsItsFigures() throws {
        let result = try Executables.run(Executables.tbg, ["bench", "energy", Fixtures.path("ad2_capped.h5"), "--frames", "200", "--repeats", "1", "--json"])
        XCTAssertEqual(result.status, 0, result.standardError)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        XCTAssertEqual(object["frames"] as? Int, 200)
        XCTAssertGreaterThan(try XCTUnwrap(object["energies_per_second"] as? Double), 0)
        XCTAssertTrue(try XCTUnwrap(object["checksum_kj_mol"] as? Double).isFinite)
    }
}
