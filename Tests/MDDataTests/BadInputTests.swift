// Files that are not in the format are rejected with a message that names the file and says what
// was expected. Each case starts from a valid file rebuilt with `TrajectoryWriter` and breaks one thing.
import HDF5
import MDData
import TestSupport
import XCTest

final class BadInputTests: XCTestCase {
    private var scratch: ScratchDirectory!
    private var valid: TrajectoryContents!
    private var other: TrajectoryFile!

    override func setUpWithError() throws {
        scratch = try ScratchDirectory("bad-input")
        let source = try TrajectoryFile(path: Fixtures.path("ad2_capped.h5"))
        valid = TrajectoryContents(
            coordinates: try source.readFrames(0..<source.frameCount), frameCount: source.frameCount,
            atomCount: source.atomCount, time: source.time,
            topologyJSON: try HDF5File(opening: source.path).root().dataset("topology").readStrings()[0],
            metadataJSON: source.metadataJSON, systemXML: source.systemXML, title: "AD")
        other = try TrajectoryFile(path: Fixtures.path("ks_zwitterion.h5"))
    }

    override func tearDown() { scratch.remove() }

    private func write(_ contents: TrajectoryContents, extra: (HDF5Group) throws -> Void = { _ in }) throws -> String {
        let path = scratch.file("case-\(UUID().uuidString.prefix(8)).h5")
        try TrajectoryWriter.write(contents, to: path, extra: extra)
        return path
    }

    private func assertRejected(_ path: String, mentions fragments: [String], scan: Bool = false,
                                file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try { let t = try TrajectoryFile(path: path); if scan { _ = try t.scanCoordinates() } }(),
                             file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(error is DataFormatError, "\(type(of: error)): \(text)", file: file, line: line)
            for fragment in [path] + fragments {
                XCTAssertTrue(text.contains(fragment), "'\(text)' lacks '\(fragment)'", file: file, line: line)
            }
        }
    }

    func testRewrittenFileIsValidAndIdentical() throws {
        let path = try write(valid)
        let copy = try TrajectoryFile(path: path)
        XCTAssertEqual(try copy.readFrames(0..<copy.frameCount), valid.coordinates)
        XCTAssertEqual(copy.time, valid.time)
        XCTAssertEqual(copy.metadataJSON, valid.metadataJSON)
        XCTAssertEqual(copy.systemXML, valid.systemXML)
        XCTAssertEqual(copy.topology, try TrajectoryFile(path: Fixtures.path("ad2_capped.h5")).topology)
        XCTAssertEqual(try copy.scanCoordinates().framesScanned, 20)
    }

    func testMissingNodes() throws {
        let onlyTopology = scratch.file("only-topology.h5")
        try HDF5File.writeAtomically(to: onlyTopology) { root in try root.writeStringDataset("topology", [valid.topologyJSON]) }
        assertRejected(onlyTopology, mentions: ["missing dataset /coordinates", "frames×atoms×3"])
        for node in ["openmm_system", "metadata", "topology"] {
            let path = try write(valid) { root in try root.remove(node) }
            assertRejected(path, mentions: ["missing dataset /\(node)"])
        }
    }

    func testWrongShapesAndTypes() throws {
        let flat = TrajectoryContents(coordinates: valid.coordinates, frameCount: valid.frameCount, atomCount: valid.atomCount,
                                      topologyJSON: valid.topologyJSON, metadataJSON: valid.metadataJSON, systemXML: valid.systemXML)
        let twoComponents = try write(flat) { root in
            try root.remove("coordinates")
            try root.writeDataset("coordinates", [Float](repeating: 0, count: 20 * 22 * 2), shape: [20, 22, 2])
        }
        assertRejected(twoComponents, mentions: ["/coordinates has shape [20, 22, 2]", "expected frames×atoms×3"])
        let doubles = try write(valid) { root in
            try root.remove("coordinates")
            try root.writeDataset("coordinates", valid.coordinates.map(Double.init), shape: [20, 22, 3])
        }
        assertRejected(doubles, mentions: ["/coordinates holds float64, expected float32"])
        let shortTime = try write(valid) { root in
            try root.remove("time")
            try root.writeDataset("time", [Float](repeating: 0, count: 3), shape: [3])
        }
        assertRejected(shortTime, mentions: ["/time has shape [3], expected [20]"])
    }

    func testAtomCountsMustAgree() throws {
        var mismatchedTopology = valid!
        mismatchedTopology.topologyJSON = try HDF5File(opening: other.path).root().dataset("topology").readStrings()[0]
        assertRejected(try write(mismatchedTopology), mentions: ["/topology has 36 atoms but /coordinates has 22 atoms per frame"])
        var mismatchedSystem = valid!
        mismatchedSystem.systemXML = other.systemXML
        assertRejected(try write(mismatchedSystem), mentions: ["/openmm_system has 36 particles but /coordinates has 22"])
    }

    func testNonFiniteCoordinatesAreFoundWithFrameAndAtom() throws {
        var broken = valid!
        broken.coordinates[(3 * 22 + 5) * 3 + 1] = .nan
        let path = try write(broken)
        XCTAssertNoThrow(try TrajectoryFile(path: path), "opening reads no frames")
        assertRejected(path, mentions: ["frame 3, atom 5", "nan", "expected finite coordinates"], scan: true)
    }

    func testMalformedTextNodes() throws {
        var badJSON = valid!
        badJSON.metadataJSON = "{not json"
        assertRejected(try write(badJSON), mentions: ["/metadata is not the expected JSON object"])
        var future = valid!
        future.metadataJSON = "{\"format\": \"tbg-trajectory\", \"format_version\": 99}"
        assertRejected(try write(future), mentions: ["format_version 99 is newer"])
        // kT and the temperature both stored must agree (the weights use kT); neither may be ≤ 0.
        var stale = valid!
        stale.metadataJSON = "{\"temperature_K\": 300, \"kT_kJ_per_mol\": 5.0}"
        assertRejected(try write(stale), mentions: ["kT_kJ_per_mol 5 disagrees with temperature_K 300 (R T = 2.4943388 kJ/mol)"])
        var consistent = valid!
        consistent.metadataJSON = "{\"temperature_K\": 300, \"kT_kJ_per_mol\": 2.494338785445972}"
        XCTAssertEqual(try TrajectoryFile(path: try write(consistent)).metadata.kT, 2.494338785445972)
        var negative = valid!
        negative.metadataJSON = "{\"temperature_K\": -300}"
        assertRejected(try write(negative), mentions: ["/metadata: temperature_K is -300.0; expected a positive number"])
        var badXML = valid!
        badXML.systemXML = "<Forces></Forces>"
        assertRejected(try write(badXML), mentions: ["/openmm_system is not an OpenMM System XML document"])
        var badTopology = valid!
        badTopology.topologyJSON = "{\"chains\": []}"
        assertRejected(try write(badTopology), mentions: ["/topology is not MDTraj topology JSON"])
    }

    func testNotHDF5AndMissingFiles() throws {
        let text = scratch.file("notes.h5")
        try "plain text".write(toFile: text, atomically: true, encoding: .utf8)
        assertRejected(text, mentions: ["not an HDF5 file"])
        assertRejected(scratch.file("absent.h5"), mentions: ["no such file"])
    }

    func testReferenceEnergiesWithWrongShapeAreRejected() throws {
        let path = try write(valid) { root in
            let group = try root.createGroup("reference_energies")
            try group.writeDataset("frame_index", [Int32(0), 1], shape: [2])
            try group.writeDataset("positions", [Double](repeating: 0, count: 2 * 22 * 3), shape: [2, 22, 3])
            try group.writeDataset("energies", [Double](repeating: 0, count: 2 * 5), shape: [2, 5])
            try group.writeDataset("total", [0.0, 0.0], shape: [2])
            try group.writeDataset("forces", [Double](repeating: 0, count: 2 * 22 * 3), shape: [2, 22, 3])
            try group.writeAttribute("force_names", string: "[\"HarmonicBondForce\"]")
        }
        let trajectory = try TrajectoryFile(path: path)
        XCTAssertThrowsError(try trajectory.referenceEnergies()) { error in
            XCTAssertTrue("\(error)".contains("force_names lists 1 forces, the System has 6"), "\(error)")
        }
    }
}
