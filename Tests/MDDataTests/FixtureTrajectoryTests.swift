// The generator's own files (Tools/make_fixtures.py: OpenMM MD written through MDTraj) read back
// with the structure, provenance and reference energies the format promises.
import MDData
import TestSupport
import XCTest

final class FixtureTrajectoryTests: XCTestCase {
    func testAlanineDipeptideCappedAmberOrder() throws {
        let trajectory = try TrajectoryFile(path: Fixtures.path("ad2_capped.h5"))
        XCTAssertEqual(trajectory.atomCount, 22)
        XCTAssertEqual(trajectory.frameCount, 20)
        XCTAssertEqual(trajectory.topology.residues.map(\.name), ["ACE", "ALA", "NME"])
        // tleap ("amber") order is TBG's alanine-dipeptide indexing: 0 = ACE CH3, 6 = N, 8 = CA.
        let atoms = trajectory.topology.atoms
        XCTAssertEqual([atoms[0].name, atoms[4].name, atoms[6].name, atoms[8].name, atoms[14].name, atoms[16].name],
                       ["CH3", "C", "N", "CA", "C", "N"])
        XCTAssertEqual(trajectory.topology.hillFormula, "C6 H12 N2 O2")
        XCTAssertEqual(trajectory.metadata.preset, "amber99sbildn-obc2")
        XCTAssertEqual(trajectory.metadata.termini, "capped")
        XCTAssertEqual(trajectory.metadata.temperatureK, 300)
        XCTAssertEqual(trajectory.metadata.atomOrder, "amber")
        XCTAssertEqual(trajectory.system.forces.map(\.type),
                       ["HarmonicBondForce", "PeriodicTorsionForce", "NonbondedForce", "GBSAOBCForce",
                        "CMMotionRemover", "HarmonicAngleForce"])
        XCTAssertEqual(trajectory.system.forces[2].label, "NonbondedForce (NoCutoff)")
        XCTAssertEqual(trajectory.system.constraintCount, 0, "TBG data are unconstrained")
        // ACE-ALA-NME: C6H12N2O2, 144.17 g/mol with OpenMM's element masses.
        XCTAssertEqual(trajectory.system.masses.reduce(0, +), 144.17, accuracy: 0.01)
    }

    func testZwitterionicDipeptideUnderAmber14() throws {
        let trajectory = try TrajectoryFile(path: Fixtures.path("ks_zwitterion.h5"))
        XCTAssertEqual(trajectory.topology.residues.map(\.name), ["LYS", "SER"])
        XCTAssertEqual(trajectory.atomCount, 36)
        let names = trajectory.topology.atoms.map(\.name)
        XCTAssertEqual(Array(names.prefix(4)), ["N", "H", "H2", "H3"], "NH3+ terminus in OpenMM order")
        XCTAssertEqual(names.last, "OXT", "COO- terminus, OXT last")
        XCTAssertEqual(trajectory.metadata.preset, "amber14-obc1")
        XCTAssertEqual(trajectory.metadata.temperatureK, 310)
        XCTAssertEqual(trajectory.metadata.nonbondedCutoffNM, 2.0)
        XCTAssertEqual(trajectory.system.forces.map(\.type),
                       ["HarmonicBondForce", "PeriodicTorsionForce", "NonbondedForce", "CMMotionRemover",
                        "HarmonicAngleForce", "CustomGBForce"])
        XCTAssertEqual(trajectory.system.forces[2].label, "NonbondedForce (CutoffNonPeriodic, 2 nm)")
    }

    func testReferenceEnergiesMatchTheirFramesAndSum() throws {
        for name in ["ad2_capped.h5", "ks_zwitterion.h5"] {
            let trajectory = try TrajectoryFile(path: Fixtures.path(name))
            let reference = try XCTUnwrap(try trajectory.referenceEnergies(), name)
            XCTAssertEqual(reference.platform, "Reference")
            XCTAssertEqual(reference.frameCount, 5)
            XCTAssertEqual(reference.forceNames, trajectory.system.forces.map(\.type))
            let forces = reference.forceNames.count, perFrame = trajectory.atomCount * 3
            for entry in 0..<reference.frameCount {
                // The positions evaluated are the stored float32 frame, exactly.
                let row = Int(reference.frameIndex[entry])
                let stored = try trajectory.readFrames(row..<(row + 1)).map(Double.init)
                XCTAssertEqual(Array(reference.positions[(entry * perFrame)..<((entry + 1) * perFrame)]), stored)
                // Per-force energies add up to the total; the CMMotionRemover contributes nothing.
                let terms = reference.energies[(entry * forces)..<((entry + 1) * forces)]
                XCTAssertEqual(terms.reduce(0, +), reference.total[entry], accuracy: 1e-9 * max(1, abs(reference.total[entry])))
                let remover = try XCTUnwrap(reference.forceNames.firstIndex(of: "CMMotionRemover"))
                XCTAssertEqual(reference.energies[entry * forces + remover], 0)
                XCTAssertTrue(reference.forces.allSatisfy(\.isFinite))
            }
        }
    }

    func testFrameWindowsEqualTheFullRead() throws {
        let trajectory = try TrajectoryFile(path: Fixtures.path("ks_zwitterion.h5"))
        let full = try trajectory.readFrames(0..<trajectory.frameCount)
        let perFrame = trajectory.atomCount * 3
        for (start, end) in [(0, 1), (3, 11), (19, 20), (0, 20)] {
            XCTAssertEqual(try trajectory.readFrames(start..<end), Array(full[(start * perFrame)..<(end * perFrame)]))
        }
        XCTAssertThrowsError(try trajectory.readFrames(18..<21)) { error in
            XCTAssertTrue("\(error)".contains("the file has 20 frames"), "\(error)")
        }
        let scan = try trajectory.scanCoordinates(windowFrames: 7)
        XCTAssertEqual(scan.framesScanned, 20)
        XCTAssertGreaterThan(scan.maxBoxDiagonalNM, 0.5, "a dipeptide spans about a nanometre")
        XCTAssertLessThan(scan.maxBoxDiagonalNM, 3)
    }
}
