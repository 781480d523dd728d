// Inputs real users bring (issue 16), made here from the committed alanine-dipeptide fixture by
// changing one thing the way another tool would: arrays in Å and kcal/mol with their MDTraj `units`
// attribute, NaN/±inf coordinates, a System whose particles are in another order or carry virtual
// sites or repartitioned hydrogen masses, a topology with a missing element or duplicated bonds, and
// a file without frames. Each gives the same numbers as the plain file, or an error that names the
// file and the frame/atom/dataset at fault.
import Foundation
import HDF5
import MDData
import TestSupport
import XCTest

final class UserInputTests: XCTestCase {
    private var scratch: ScratchDirectory!
    private var source: TrajectoryFile!
    private var valid: TrajectoryContents!

    override func setUpWithError() throws {
        scratch = try ScratchDirectory("user-input")
        source = try TrajectoryFile(path: Fixtures.path("ad2_capped.h5"))
        valid = TrajectoryContents(
            coordinates: try source.readFrames(0..<source.frameCount), frameCount: source.frameCount,
            atomCount: source.atomCount, time: source.time, topologyJSON: source.topologyJSON,
            metadataJSON: source.metadataJSON, systemXML: source.systemXML,
            potentialEnergy: try source.potentialEnergies(), title: "AD")
    }

    override func tearDown() { scratch.remove() }

    private func write(_ contents: TrajectoryContents, extra: (HDF5Group) throws -> Void = { _ in }) throws -> String {
        let path = scratch.file("case-\(UUID().uuidString.prefix(8)).h5")
        try TrajectoryWriter.write(contents, to: path, extra: extra)
        return path
    }

    private func assertError(_ body: @autoclosure () throws -> Any, mentions fragments: [String],
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(error is DataFormatError, "\(type(of: error)): \(text)", file: file, line: line)
            for fragment in fragments {
                XCTAssertTrue(text.contains(fragment), "'\(text)' lacks '\(fragment)'", file: file, line: line)
            }
        }
    }

    /// Replaces dataset `name` by `values` (shape `shape`) with the given `units` attribute (none if nil).
    private func replace<T: HDF5Scalar>(_ root: HDF5Group, _ name: String, _ values: [T], shape: [Int], units: String?) throws {
        try root.remove(name)
        let dataset = try root.writeDataset(name, values, shape: shape)
        if let units { try dataset.writeAttribute("units", string: units) }
    }

    // MARK: units

    func testAngstromAndKilocalorieArraysAreConvertedAsMDTrajDoes() throws {
        let energies = try XCTUnwrap(valid.potentialEnergy)
        let path = try write(valid) { root in
            try self.replace(root, "coordinates", self.valid.coordinates.map { $0 * 10 }, shape: [20, 22, 3], units: "angstroms")
            try self.replace(root, "potentialEnergy", energies.map { Float(Double($0) / 4.184) }, shape: [20], units: "kilocalories_per_mole")
        }
        let converted = try TrajectoryFile(path: path)
        XCTAssertEqual(converted.lengthFactor, 0.1)
        assertClose(try converted.readFrames(0..<20).map(Double.init), valid.coordinates.map(Double.init),
                    absolute: 1e-7, relative: 1e-6, "Å → nm")
        assertClose(try XCTUnwrap(try converted.potentialEnergies()).map(Double.init), energies.map(Double.init),
                    absolute: 0, relative: 1e-6, "kcal/mol → kJ/mol")
        // The windowed reader (training, scan) converts the same way.
        var window = [Float](repeating: 0, count: 3 * 22 * 3)
        try window.withUnsafeMutableBufferPointer { try converted.readFrames(4..<7, into: $0) }
        assertClose(window.map(Double.init), valid.coordinates[(4 * 66)..<(7 * 66)].map(Double.init), absolute: 1e-7, relative: 1e-6)
        let scanned = try converted.scanCoordinates().maxBoxDiagonalNM, plain = try source.scanCoordinates().maxBoxDiagonalNM
        XCTAssertEqual(scanned, plain, accuracy: 1e-5 * plain)
    }

    func testMissingUnitsMeanTheFormatDefaults() throws {
        let path = try write(valid) { root in
            try self.replace(root, "coordinates", self.valid.coordinates, shape: [20, 22, 3], units: nil)
            try self.replace(root, "time", (0..<20).map { Float($0 + 1) }, shape: [20], units: nil)
        }
        let file = try TrajectoryFile(path: path)
        XCTAssertEqual(try file.readFrames(0..<20), valid.coordinates)
        XCTAssertEqual(file.time, (0..<20).map { Float($0 + 1) })
    }

    func testOtherUnitsAreRefusedByName() throws {
        let cases: [(String, String, [String])] = [
            ("coordinates", "bohr", ["/coordinates has units 'bohr'", "expected one of angstroms, nanometers"]),
            ("coordinates", "picoseconds", ["/coordinates has units 'picoseconds', a time unit; expected a length unit"]),
            ("time", "nanoseconds", ["/time has units 'nanoseconds'", "expected one of picoseconds"]),
            ("potentialEnergy", "kelvin", ["/potentialEnergy has units 'kelvin'", "kilocalories_per_mole, kilojoules_per_mole"]),
            ("kineticEnergy", "hartree", ["/kineticEnergy has units 'hartree'"]),
        ]
        for (name, unit, fragments) in cases {
            let path = try write(valid) { root in
                if name == "kineticEnergy" {
                    try root.writeDataset(name, [Float](repeating: 1, count: 20), shape: [20]).writeAttribute("units", string: unit)
                } else {
                    try root.dataset(name).writeAttribute("units", string: unit)
                }
            }
            assertError(try TrajectoryFile(path: path), mentions: [path] + fragments)
        }
    }

    func testReferenceEnergyUnitsAreConvertedOrRefused() throws {
        let reference = try XCTUnwrap(try source.referenceEnergies())
        func group(positionsUnits: String?, energyUnits: String = "kJ/mol") throws -> String {
            try write(valid) { root in
                let group = try root.createGroup("reference_energies")
                let f = reference.frameCount
                try group.writeDataset("frame_index", reference.frameIndex, shape: [f])
                let positions = try group.writeDataset("positions", reference.positions.map { $0 * (positionsUnits == "angstroms" ? 10 : 1) }, shape: [f, 22, 3])
                if let positionsUnits { try positions.writeAttribute("units", string: positionsUnits) }
                try group.writeDataset("energies", reference.energies, shape: [f, 6])
                try group.writeDataset("total", reference.total, shape: [f])
                try group.writeDataset("forces", reference.forces, shape: [f, 22, 3])
                try group.writeAttribute("force_names", string: "[\"" + reference.forceNames.joined(separator: "\", \"") + "\"]")
                try group.writeAttribute("energy_units", string: energyUnits)
            }
        }
        let converted = try XCTUnwrap(try TrajectoryFile(path: try group(positionsUnits: "angstroms")).referenceEnergies())
        assertClose(converted.positions, reference.positions, absolute: 1e-12, relative: 1e-12)
        XCTAssertEqual(converted.total, reference.total)
        let kcal = try group(positionsUnits: nil, energyUnits: "kcal/mol")
        assertError(try TrajectoryFile(path: kcal).referenceEnergies() as Any, mentions: [kcal, "energy_units is 'kcal/mol'; expected 'kJ/mol'"])
    }

    // MARK: non-finite coordinates

    func testNonFiniteValuesAnywhereAreRefusedWithFrameAndAtom() throws {
        for (frame, atom, axis, value) in [(0, 0, 0, Float.nan), (7, 3, 1, .infinity), (19, 21, 2, -.infinity), (12, 10, 1, .nan)] {
            var broken = valid!
            broken.coordinates[(frame * 22 + atom) * 3 + axis] = value
            let path = try write(broken)
            let file = try TrajectoryFile(path: path)
            let name = file.topology.atoms[atom].name
            let fragments = [path, "frame \(frame), atom \(atom) (\(name)) is \(value)", "expected finite coordinates"]
            assertError(try file.readFrames(0..<20), mentions: fragments)
            assertError(try file.readFrames(frame..<(frame + 1)), mentions: fragments)
            var buffer = [Float](repeating: 0, count: 20 * 66)
            assertError(try buffer.withUnsafeMutableBufferPointer { try file.readFrames(0..<20, into: $0) }, mentions: fragments)
            assertError(try file.scanCoordinates(windowFrames: 3), mentions: fragments)
            // Frames that do not contain it read normally; a caller that checks a subset itself can opt out.
            let other = frame == 0 ? 1..<20 : 0..<frame
            XCTAssertEqual(try file.readFrames(other), Array(valid.coordinates[(other.lowerBound * 66)..<(other.upperBound * 66)]))
            XCTAssertEqual(try file.readFrames(frame..<(frame + 1), requireFinite: false)[atom * 3 + axis].isFinite, false)
        }
    }

    // MARK: System against topology

    /// The System XML with its `<Particle mass=…/>` entries replaced by `masses`.
    private func system(masses: [Double]) -> String {
        var lines = valid.systemXML.components(separatedBy: "\n")
        var next = 0
        for index in lines.indices where lines[index].contains("<Particle mass=") && next < masses.count {
            let indent = lines[index].prefix { $0 == " " || $0 == "\t" }
            lines[index] = "\(indent)<Particle mass=\"\(masses[next])\"/>"
            next += 1
        }
        return lines.joined(separator: "\n")
    }

    func testSystemInAnotherAtomOrderIsRefusedAtTheFirstMismatch() throws {
        let masses = source.system.masses
        XCTAssertEqual(masses.count, 22)
        // The particles in reverse order: atom 0 (ACE CH3, carbon) now has the mass of NME's last hydrogen.
        var reordered = valid!
        reordered.systemXML = system(masses: masses.reversed())
        let path = try write(reordered)
        assertError(try TrajectoryFile(path: path), mentions: [path, "particle 0 of /openmm_system (atom 0, CH3 of ACE 0, element C in /topology) has mass 1.00",
                                                                "expected 12.011 ± 0.5 Da", "same order"])
        // A swap of a carbon and an oxygen further in is found at the first of the two.
        var swapped = masses
        swapped.swapAt(4, 5)
        var swappedSystem = valid!
        swappedSystem.systemXML = system(masses: swapped)
        assertError(try TrajectoryFile(path: try write(swappedSystem)), mentions: ["particle 4", "(atom 4, C of ACE 0, element C", "has mass 15.99"])
    }

    func testVirtualSitesAreRefused() throws {
        var masses = source.system.masses
        masses[9] = 0
        var contents = valid!
        contents.systemXML = system(masses: masses)
        assertError(try TrajectoryFile(path: try write(contents)), mentions: ["particle 9", "has mass 0, a virtual site"])
    }

    func testHydrogenMassRepartitioningNeedsTheMetadataDeclaration() throws {
        let hydrogenMass = 4.0
        let topology = source.topology
        var masses = source.system.masses
        for atom in topology.atoms where atom.element == "H" { masses[atom.index] = hydrogenMass }
        for bond in topology.bonds {
            for (h, heavy) in [(bond[0], bond[1]), (bond[1], bond[0])] where topology.atoms[h].element == "H" {
                masses[heavy] -= hydrogenMass - source.system.masses[h]
            }
        }
        var contents = valid!
        contents.systemXML = system(masses: masses)
        let undeclared = try write(contents)
        assertError(try TrajectoryFile(path: undeclared), mentions: ["particle 0", "has mass 3.0", "no hydrogen mass repartitioning declared"])
        var metadata = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(valid.metadataJSON.utf8)) as? [String: Any])
        metadata["hydrogen_mass_amu"] = hydrogenMass
        contents.metadataJSON = String(decoding: try JSONSerialization.data(withJSONObject: metadata), as: UTF8.self)
        let declared = try TrajectoryFile(path: try write(contents))
        XCTAssertEqual(declared.metadata.hydrogenMassAMU, hydrogenMass)
        assertClose(declared.system.masses, masses, absolute: 1e-12)
    }

    // MARK: topology

    private func editedTopology(_ edit: (inout [String: Any]) -> Void) throws -> String {
        var object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(valid.topologyJSON.utf8)) as? [String: Any])
        edit(&object)
        return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    func testAnAtomWithoutElementIsNamed() throws {
        for element: Any in [NSNull(), ""] {
            var contents = valid!
            contents.topologyJSON = try editedTopology { object in
                var chains = object["chains"] as! [[String: Any]]
                var residues = chains[0]["residues"] as! [[String: Any]]
                var atoms = residues[1]["atoms"] as! [[String: Any]]
                atoms[2]["element"] = element
                residues[1]["atoms"] = atoms
                chains[0]["residues"] = residues
                object["chains"] = chains
            }
            let path = try write(contents)
            assertError(try TrajectoryFile(path: path), mentions: [path, "/topology: atom 8 (CA of ALA 1) has no element"])
        }
    }

    func testDuplicatedBondsAreRemovedAndCounted() throws {
        var contents = valid!
        contents.topologyJSON = try editedTopology { object in
            let bonds = object["bonds"] as! [[Int]]
            object["bonds"] = bonds + [bonds[0], [bonds[3][1], bonds[3][0]], bonds[0]]
        }
        let file = try TrajectoryFile(path: try write(contents))
        XCTAssertEqual(file.topology.bonds, source.topology.bonds)
        XCTAssertEqual(file.topology.duplicateBondsRemoved, 3)
        XCTAssertEqual(try TrajectoryReport(path: file.path).duplicateBondsRemoved, 3)
        XCTAssertEqual(source.topology.duplicateBondsRemoved, 0)
    }

    // MARK: empty files

    func testAFileWithoutFramesIsAnErrorWhereFramesAreNeeded() throws {
        var empty = valid!
        (empty.coordinates, empty.frameCount, empty.time, empty.potentialEnergy) = ([], 0, [], [])
        let path = try write(empty)
        let file = try TrajectoryFile(path: path)
        XCTAssertEqual(file.frameCount, 0)
        assertError(try file.requireFrames(for: "tbg energy"), mentions: [path, "has no frames (/coordinates is 0×22×3); tbg energy needs at least one frame"])
        assertError(try TrajectoryReport(path: path), mentions: [path, "has no frames"])
        XCTAssertEqual(try file.readFrames(0..<0), [])
    }
}
