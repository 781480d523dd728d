// Generated samples can contain clashes: they must give +∞ energy (weight 0), never NaN or a crash.
// Systems the force field cannot evaluate exactly must be refused with the force named.
import ForceField
import Foundation
import MDData
import TestSupport
import XCTest

final class RobustnessTests: XCTestCase {
    private func systemXML(_ name: String) throws -> String {
        try TrajectoryFile(path: Fixtures.path(name)).systemXML
    }

    func testOverlappingAtomsGiveInfiniteEnergyNotNaN() throws {
        for name in ["ad2_capped.h5", "ks_zwitterion.h5"] {
            let trajectory = try TrajectoryFile(path: Fixtures.path(name))
            let system = try ForceFieldSystem(xml: trajectory.systemXML)
            var frames = try trajectory.readFrames(0..<3).map(Double.init)
            let stride = trajectory.atomCount * 3
            // Frame 1: atom 7 placed exactly on atom 2. Frame 2: every atom at the origin.
            for axis in 0..<3 { frames[stride + 7 * 3 + axis] = frames[stride + 2 * 3 + axis] }
            for k in (2 * stride)..<(3 * stride) { frames[k] = 0 }
            let batch = frames.withUnsafeBufferPointer {
                EnergyEvaluator(system: system).evaluate($0, frameCount: 3, forces: true, threads: 2)
            }
            XCTAssertTrue(batch.totals[0].isFinite, name)
            XCTAssertEqual(batch.totals[1], .infinity, name)
            XCTAssertEqual(batch.totals[2], .infinity, name)
            XCTAssertFalse(batch.termEnergies.contains { $0.isNaN }, "no NaN term energy in \(name)")
            let forces = try XCTUnwrap(batch.forces)
            XCTAssertTrue(forces[0..<stride].allSatisfy(\.isFinite))
            XCTAssertTrue(forces[stride..<(2 * stride)].allSatisfy(\.isNaN), "forces of a clash are undefined")
        }
    }

    func testThreadCountDoesNotChangeResults() throws {
        let trajectory = try TrajectoryFile(path: Fixtures.path("ks_zwitterion.h5"))
        let system = try ForceFieldSystem(xml: trajectory.systemXML)
        let frames = try trajectory.readFrames(0..<trajectory.frameCount)
        let one = frames.withUnsafeBufferPointer { EnergyEvaluator(system: system).evaluate($0, frameCount: 20, forces: true, threads: 1) }
        let three = frames.withUnsafeBufferPointer { EnergyEvaluator(system: system).evaluate($0, frameCount: 20, forces: true, threads: 3) }
        XCTAssertEqual(one.totals, three.totals)
        XCTAssertEqual(one.forces, three.forces)
        XCTAssertEqual(one.termEnergies, three.termEnergies)
    }

    private func assertRefused(_ xml: String, mentions fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ForceFieldSystem(xml: xml), file: file, line: line) { error in
            for fragment in fragments {
                XCTAssertTrue("\(error)".contains(fragment), "'\(error)' lacks '\(fragment)'", file: file, line: line)
            }
        }
    }

    func testUnsupportedForcesAreRefusedByName() throws {
        let xml = try systemXML("ks_zwitterion.h5")
        let custom = xml.replacingOccurrences(of: "name=\"CMMotionRemover\" type=\"CMMotionRemover\"",
                                              with: "name=\"CustomNonbondedForce\" type=\"CustomNonbondedForce\"")
        assertRefused(custom, mentions: ["force 3 (CustomNonbondedForce)", "unsupported force CustomNonbondedForce"])
        let periodic = xml.replacingOccurrences(of: "method=\"1\" name=\"NonbondedForce\"", with: "method=\"4\" name=\"NonbondedForce\"")
        assertRefused(periodic, mentions: ["NonbondedForce", "nonbonded method 4 (periodic)"])
        let switching = xml.replacingOccurrences(of: "useSwitchingFunction=\"0\"", with: "useSwitchingFunction=\"1\"")
        assertRefused(switching, mentions: ["switching function"])
        let gbn = xml.replacingOccurrences(of: "tanh(0.8*psi+2.909125*psi^3)", with: "tanh(0.8*psi+2.909125*psi^3)*neck(r)")
        assertRefused(gbn, mentions: ["force 5 (CustomGBForce)", "unsupported CustomGBForce", "Born radius expression"])
        let salt = xml.replacingOccurrences(of: "kappa=0;", with: "kappa=0.7;")
        assertRefused(salt, mentions: ["salt screening"])
        assertRefused("<System><Forces></Forces>", mentions: ["not well-formed XML"])
        assertRefused(String(xml.prefix(xml.count / 2)), mentions: ["not well-formed XML"])
    }

    func testOBC2CustomGBFormIsRecognised() throws {
        // implicit/obc2.xml differs from obc1.xml only in the Born-radius polynomial.
        let xml = try systemXML("ks_zwitterion.h5").replacingOccurrences(
            of: "tanh(0.8*psi+2.909125*psi^3)", with: "tanh(1*psi-0.8*psi^2+4.85*psi^3)")
        XCTAssertNoThrow(try ForceFieldSystem(xml: xml))
    }
}
