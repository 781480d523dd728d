// Dihedral angles with MDTraj's formula on hand-built geometry (values, sign convention, range),
// and MDTraj's φ/ψ atom search on the alanine-dipeptide topology (amber order, Tools/FORMAT.md §1.4).
import Evaluation
import Foundation
import TestSupport
import XCTest

final class DihedralTests: XCTestCase {
    /// x0 on +y, the axis x1 → x2 along +x, x3 rotated by θ about the axis from +y towards +z.
    private func geometry(_ theta: Double) -> [SIMD3<Double>] {
        [SIMD3(0, 1, 0), SIMD3(0, 0, 0), SIMD3(1.5, 0, 0), SIMD3(1.5, cos(theta), sin(theta))]
    }

    func testHandBuiltAngles() {
        for degrees in [0.0, 60, 180, -90, 120, -150, 179.9] {
            let x = geometry(degrees * .pi / 180)
            XCTAssertEqual(BackboneTorsions.dihedral(x[0], x[1], x[2], x[3]) * 180 / .pi, degrees, accuracy: 1e-10, "\(degrees)°")
        }
        // Trans is +π, never −π: the range is (−π, π].
        let trans = geometry(.pi)
        XCTAssertEqual(BackboneTorsions.dihedral(trans[0], trans[1], trans[2], trans[3]), .pi)
    }

    func testSignConventionAndInvariances() {
        let x = geometry(60 * .pi / 180)
        let angle = BackboneTorsions.dihedral(x[0], x[1], x[2], x[3])
        // IUPAC sign: viewed along x1 → x2 (z to the viewer's right, y up), the far bond points 60°
        // clockwise from the near one, and the angle is positive.
        XCTAssertGreaterThan(angle, 0)
        // A mirror image flips the sign; reversing the atom order keeps it.
        let mirrored = x.map { SIMD3($0.x, $0.y, -$0.z) }
        XCTAssertEqual(BackboneTorsions.dihedral(mirrored[0], mirrored[1], mirrored[2], mirrored[3]), -angle, accuracy: 1e-14)
        XCTAssertEqual(BackboneTorsions.dihedral(x[3], x[2], x[1], x[0]), angle, accuracy: 1e-14)
        // Rigid motions and scaling leave it unchanged.
        let (c, s) = (cos(0.7), sin(0.7))
        let moved = x.map { SIMD3(c * $0.x - s * $0.z, $0.y, s * $0.x + c * $0.z) * 3 + SIMD3(5, -2, 1) }
        XCTAssertEqual(BackboneTorsions.dihedral(moved[0], moved[1], moved[2], moved[3]), angle, accuracy: 1e-13)
    }

    func testDihedralsOverFlatFrames() {
        let frames = [geometry(1.0), geometry(-2.0)].flatMap { $0.flatMap { [Float($0.x), Float($0.y), Float($0.z)] } }
        let angles = BackboneTorsions.dihedrals(frames, atoms: 4, quartet: [0, 1, 2, 3])
        assertClose(angles, [1.0, -2.0], absolute: 1e-6)
    }

    func testPhiAndPsiAtomsOfAlanineDipeptide() {
        let residues = [
            ResidueAtoms(chain: 0, index: 0, atoms: [("CH3", 0), ("H1", 1), ("H2", 2), ("H3", 3), ("C", 4), ("O", 5)]),
            ResidueAtoms(chain: 0, index: 1, atoms: [("N", 6), ("H", 7), ("CA", 8), ("HA", 9), ("CB", 10), ("HB1", 11), ("HB2", 12),
                                                    ("HB3", 13), ("C", 14), ("O", 15)]),
            ResidueAtoms(chain: 0, index: 2, atoms: [("N", 16), ("H", 17), ("C", 18), ("H1", 19), ("H2", 20), ("H3", 21)]),
        ]
        XCTAssertEqual(BackboneTorsions.quartets(residues, pattern: BackboneTorsions.phiPattern), [[4, 6, 8, 14]])
        XCTAssertEqual(BackboneTorsions.quartets(residues, pattern: BackboneTorsions.psiPattern), [[6, 8, 14, 16]])
        // Residues are neighbours only within a chain and by consecutive index.
        var split = residues
        split[2].chain = 1
        XCTAssertEqual(BackboneTorsions.quartets(split, pattern: BackboneTorsions.psiPattern), [])
        XCTAssertEqual(BackboneTorsions.quartets(split, pattern: BackboneTorsions.phiPattern), [[4, 6, 8, 14]])
        var gap = residues
        gap[0].index = -5
        XCTAssertEqual(BackboneTorsions.quartets(gap, pattern: BackboneTorsions.phiPattern), [])
        // A zwitterionic dipeptide (no caps) has the φ of residue 2 and the ψ of residue 1.
        let zwitterion = [
            ResidueAtoms(chain: 0, index: 0, atoms: [("N", 0), ("H1", 1), ("CA", 2), ("C", 3), ("O", 4)]),
            ResidueAtoms(chain: 0, index: 1, atoms: [("N", 5), ("H", 6), ("CA", 7), ("C", 8), ("O", 9), ("OXT", 10)]),
        ]
        XCTAssertEqual(BackboneTorsions.quartets(zwitterion, pattern: BackboneTorsions.phiPattern), [[3, 5, 7, 8]])
        XCTAssertEqual(BackboneTorsions.quartets(zwitterion, pattern: BackboneTorsions.psiPattern), [[0, 2, 3, 5]])
    }
}
