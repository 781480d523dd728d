// The TBG+backbone encoding on real topologies: the zwitterionic dipeptide's 8 backbone atoms get
// classes 5…12 in index order; capped alanine dipeptide, whose ACE/NME atoms also carry the names
// C, O, N by coincidence, is refused with a message that names the cap and what to use instead.
import MDData
import Model
import TestSupport
import XCTest

final class BackboneEncodingTests: XCTestCase {
    private func atoms(_ fixture: String) throws -> [AtomDescription] {
        let topology = try TrajectoryFile(path: Fixtures.path(fixture)).topology
        return topology.residues.enumerated().flatMap { position, residue in
            residue.atoms.map { AtomDescription(name: $0.name, element: $0.element ?? "", residueIndex: position, residueName: residue.name) }
        }
    }

    func testZwitterionicDipeptideBackboneAtomsGetTheirOwnClasses() throws {
        let ks = try atoms("ks_zwitterion.h5")
        let classes = try AtomEncoder.classes(.backbone, atoms: ks).map { $0[0] }
        let backbone = ks.indices.filter { classes[$0] >= 5 }
        XCTAssertEqual(backbone.map { classes[$0] }, Array(5...12))
        XCTAssertEqual(backbone.map { ks[$0].name }, ["N", "CA", "C", "O", "N", "CA", "C", "O"])
        XCTAssertEqual(backbone.map { ks[$0].residueIndex }, [0, 0, 0, 0, 1, 1, 1, 1])
    }

    func testCappedAlanineDipeptideIsRefused() throws {
        let ad = try atoms("ad2_capped.h5")
        XCTAssertEqual(ad.filter { ["N", "CA", "C", "O"].contains($0.name) }.count, 8, "the coincidence the check guards against")
        XCTAssertThrowsError(try AtomEncoder.classes(.backbone, atoms: ad)) { error in
            for fragment in ["residue ACE (atom", "not an amino acid", "use 'atoms'"] {
                XCTAssertTrue("\(error)".contains(fragment), "\(error)")
            }
        }
    }

    func testADipeptideMissingABackboneAtomIsRefused() throws {
        var ks = try atoms("ks_zwitterion.h5")
        let oxygen = try XCTUnwrap(ks.lastIndex { $0.name == "O" })
        ks[oxygen].name = "OXX"
        XCTAssertThrowsError(try AtomEncoder.classes(.backbone, atoms: ks)) { error in
            XCTAssertTrue("\(error)".contains("found 7 in 2 residues"), "\(error)")
        }
    }
}
