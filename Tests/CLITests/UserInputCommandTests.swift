// Every command that reads frames, run on the inputs of issue 16 as a user would run it: a file in
// Å and kcal/mol gives the same energies, inspect figures and evaluation as the nm/kJ file; NaN/inf
// in a frame a command uses, an empty frame selection or a file without frames is an error naming
// the file (and the frame and atom), exit status ≠ 0; a System in another atom order is refused.
// The variants are written here from the committed alanine-dipeptide fixture.
import Foundation
import HDF5
import TestSupport
import XCTest

final class UserInputCommandTests: XCTestCase {
    private static let fixture = Fixtures.path("ad2_capped.h5")
    private var scratch: ScratchDirectory!

    override func setUpWithError() throws { scratch = try ScratchDirectory("user-input-cli") }
    override func tearDown() { scratch.remove() }

    /// A copy of the fixture at `name`, edited through its root group (closed before tbg opens it).
    private func variant(_ name: String, _ edit: (HDF5Group) throws -> Void) throws -> String {
        let path = scratch.file(name)
        try FileManager.default.copyItem(atPath: Self.fixture, toPath: path)
        try edit(try HDF5File(opening: path, mode: .readWrite).root())
        return path
    }

    private func replace<T: HDF5Scalar>(_ root: HDF5Group, _ name: String, _ values: [T], shape: [Int], units: String) throws {
        try root.remove(name)
        try root.writeDataset(name, values, shape: shape).writeAttribute("units", string: units)
    }

    /// The fixture in Å and kcal/mol, as MDTraj would read it back in nm and kJ/mol.
    private func angstromKilocalorieVariant() throws -> String {
        try variant("angstrom-kcal.h5") { root in
            let coordinates: [Float] = try root.dataset("coordinates").read()
            let energies: [Float] = try root.dataset("potentialEnergy").read()
            try replace(root, "coordinates", coordinates.map { $0 * 10 }, shape: [20, 22, 3], units: "angstroms")
            try replace(root, "potentialEnergy", energies.map { Float(Double($0) / 4.184) }, shape: [20], units: "kilocalories_per_mole")
        }
    }

    /// A copy with coordinate (frame, atom, axis) set to `value`.
    private func nonFiniteVariant(_ name: String, frame: Int, atom: Int, value: Float) throws -> String {
        try variant(name) { root in
            try root.dataset("coordinates").write([value], start: [frame, atom, 1], count: [1, 1, 1])
        }
    }

    /// A copy with no frames (coordinates 0×22×3, time and energies empty, no reference energies).
    private func emptyVariant() throws -> String {
        try variant("empty.h5") { root in
            try replace(root, "coordinates", [Float](), shape: [0, 22, 3], units: "nanometers")
            try replace(root, "time", [Float](), shape: [0], units: "picoseconds")
            try replace(root, "potentialEnergy", [Float](), shape: [0], units: "kilojoules_per_mole")
            if root.contains("kineticEnergy") { try replace(root, "kineticEnergy", [Float](), shape: [0], units: "kilojoules_per_mole") }
            if root.contains("reference_energies") { try root.remove("reference_energies") }
        }
    }

    /// `/samples` as `tbg sample` writes it, on a copy of `trajectory` (every frame valid).
    private func samples(from trajectory: String, name: String) throws -> String {
        let path = scratch.file(name)
        try FileManager.default.copyItem(atPath: trajectory, toPath: path)
        let root = try HDF5File(opening: path, mode: .readWrite).root()
        let n = root.contains("potentialEnergy") ? try root.dataset("potentialEnergy").shape[0] : 0
        let energies = [Double](repeating: -40, count: n)
        let group = try root.createGroup("samples")
        try group.writeDataset("index", (0..<n).map { Int64($0) }, shape: [n])
        try group.writeDataset("energy_kj_mol", energies, shape: [n])
        try group.writeDataset("log_weight", [Double](repeating: 0, count: n), shape: [n])
        for flag in ["topology_ok", "chirality_ok"] { try group.writeDataset(flag, [UInt8](repeating: 1, count: n), shape: [n]) }
        try group.writeDataset("chirality_fixed", [UInt8](repeating: 0, count: n), shape: [n])
        try group.writeAttribute("kT_kJ_per_mol", [300 * 0.00831446261815324])
        return path
    }

    private func tbg(_ arguments: [String]) throws -> ProcessResult { try Executables.run(Executables.tbg, arguments) }

    private func assertFails(_ arguments: [String], mentions fragments: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try tbg(arguments)
        XCTAssertNotEqual(result.status, 0, "\(arguments) succeeded: \(result.standardOutput)", file: file, line: line)
        for fragment in fragments {
            XCTAssertTrue(result.standardError.contains(fragment), "\(arguments): '\(fragment)' not in: \(result.standardError)", file: file, line: line)
        }
    }

    private func energyTotals(_ path: String) throws -> [Double] {
        let result = try tbg(["energy", path, "--json"])
        XCTAssertEqual(result.status, 0, result.standardError)
        return try result.standardOutput.split(separator: "\n").map { line in
            try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["total_kj_mol"] as? Double)
        }
    }

    private func json(_ arguments: [String]) throws -> [String: Any] {
        let result = try tbg(arguments)
        XCTAssertEqual(result.status, 0, result.standardError)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
    }

    func testAngstromKilocalorieFileGivesTheSameNumbersAsTheNanometreFile() throws {
        let converted = try angstromKilocalorieVariant()
        let plain = try energyTotals(Self.fixture), fromAngstrom = try energyTotals(converted)
        XCTAssertEqual(fromAngstrom.count, 20)
        // Only the float32 rounding of x·10 then ·0.1 separates the positions (≈1e-7 relative).
        assertClose(fromAngstrom, plain, absolute: 2e-3, relative: 0, "tbg energy, Å file vs nm file (kJ/mol)")
        let a = try json(["inspect", "--json", converted]), b = try json(["inspect", "--json", Self.fixture])
        assertClose(try XCTUnwrap(a["potential_energy_range_kj_mol"] as? [Double]), try XCTUnwrap(b["potential_energy_range_kj_mol"] as? [Double]),
                    absolute: 0, relative: 1e-6, "inspect energy range")
        XCTAssertEqual(try XCTUnwrap(a["max_box_diagonal_nm"] as? Double), try XCTUnwrap(b["max_box_diagonal_nm"] as? Double), accuracy: 1e-5)
        // evaluate: the MD reference in Å/kcal against samples made of the same frames in nm.
        let samples = try samples(from: Self.fixture, name: "samples.h5")
        let viaAngstrom = try json(["evaluate", "--samples", samples, "--reference", converted, "--json"])
        let viaNanometre = try json(["evaluate", "--samples", samples, "--reference", Self.fixture, "--json"])
        for key in ["md", "proposal"] {
            let x = try XCTUnwrap(viaAngstrom[key] as? [String: Any]), y = try XCTUnwrap(viaNanometre[key] as? [String: Any])
            for metric in ["energy_mean_kT", "energy_w1_kT", "torus_w2", "jsd_bits"] where y[metric] is Double {
                XCTAssertEqual(try XCTUnwrap(x[metric] as? Double), try XCTUnwrap(y[metric] as? Double), accuracy: 1e-5, "\(key).\(metric)")
            }
        }
    }

    func testSampleEnergiesWithAUnitsAttributeAreConvertedOrRefused() throws {
        let plain = try samples(from: Self.fixture, name: "samples.h5")
        func relabelled(_ name: String, factor: Double, units: String) throws -> String {
            let path = try samples(from: Self.fixture, name: name)
            let group = try HDF5File(opening: path, mode: .readWrite).root().group("samples")
            let energies: [Double] = try group.dataset("energy_kj_mol").read()
            try group.remove("energy_kj_mol")
            try group.writeDataset("energy_kj_mol", energies.map { $0 / factor }, shape: [energies.count]).writeAttribute("units", string: units)
            return path
        }
        let kcal = try relabelled("kcal.h5", factor: 4.184, units: "kilocalories_per_mole")
        let a = try json(["evaluate", "--samples", plain, "--reference", Self.fixture, "--json"])
        let b = try json(["evaluate", "--samples", kcal, "--reference", Self.fixture, "--json"])
        let meanA = try XCTUnwrap((a["proposal"] as? [String: Any])?["energy_mean_kT"] as? Double)
        let meanB = try XCTUnwrap((b["proposal"] as? [String: Any])?["energy_mean_kT"] as? Double)
        XCTAssertEqual(meanB, meanA, accuracy: 1e-9 * abs(meanA))
        let hartree = try relabelled("hartree.h5", factor: 2625.5, units: "hartree")
        try assertFails(["evaluate", "--samples", hartree, "--reference", Self.fixture], mentions: [hartree, "/samples/energy_kj_mol has units 'hartree'"])
    }

    func testNonFiniteFramesAreRefusedByEveryCommandThatReadsThem() throws {
        let nan = try nonFiniteVariant("nan.h5", frame: 7, atom: 3, value: .nan)
        let inf = try nonFiniteVariant("inf.h5", frame: 0, atom: 12, value: -.infinity)
        let at7 = [nan, "/coordinates of frame 7, atom 3 (H3) is nan"]
        try assertFails(["energy", nan], mentions: at7)
        try assertFails(["energy", nan, "--frames", "5:9", "--json"], mentions: at7)
        XCTAssertEqual(try tbg(["energy", nan, "--frames", "0:7"]).status, 0, "frames before the NaN are fine")
        try assertFails(["bench", "energy", nan, "--frames", "30", "--repeats", "1"], mentions: at7)
        try assertFails(["inspect", nan], mentions: at7)
        try assertFails(["evaluate", "--samples", try samples(from: Self.fixture, name: "s.h5"), "--reference", nan], mentions: at7)
        try assertFails(["energy", inf], mentions: [inf, "/coordinates of frame 0, atom 12", "is -inf"])
        // Commands with a model: a tiny checkpoint trained on the clean fixture.
        let checkpoint = try trainTinyModel()
        try assertFails(["nll", "--checkpoint", checkpoint, "--data", nan, "--method", "rk4", "--steps", "2"], mentions: at7)
        try assertFails(["sample", "--checkpoint", checkpoint, "--peptide", inf, "--count", "2", "--method", "rk4", "--steps", "2",
                         "--out", scratch.file("never.h5")], mentions: [inf, "frame 0, atom 12"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("never.h5")))
    }

    func testTrainingRefusesANonFiniteFrameItReads() throws {
        // Every frame of atom 5 is NaN, so whichever window the schedule reads first holds one.
        let dataset = scratch.file("nan-dataset")
        try FileManager.default.createDirectory(atPath: dataset, withIntermediateDirectories: true)
        let trajectory = try variant("nan-dataset/AD.h5") { root in
            for frame in 0..<20 { try root.dataset("coordinates").write([Float.nan], start: [frame, 5, 0], count: [1, 1, 1]) }
        }
        let index = #"{"format": "tbg-dataset", "format_version": 1, "peptides": [{"name": "AD", "file": "AD.h5", "split": "train", "n_atoms": 22, "n_frames": 20}]}"#
        try index.write(toFile: dataset + "/index.json", atomically: true, encoding: .utf8)
        let overrides = TinyDataset.overrides(dataset: dataset, checkpoint: scratch.file("never.h5"), steps: 2)
        let result = try tbg(["train"] + overrides.flatMap { ["--set", $0] })
        XCTAssertNotEqual(result.status, 0, result.standardOutput)
        XCTAssertTrue(result.standardError.contains(trajectory) && result.standardError.contains(", atom 5 (") &&
                      result.standardError.contains("is nan; expected finite coordinates"), result.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("never.h5")))
    }

    /// A frame that is not a molecule (here frame 4 all zeros, as a damaged copy or a crashed
    /// writer leaves it) is finite, so only its bond lengths give it away: training, NLL, the MD
    /// reference of evaluate and the peptide of sample refuse it, naming file, frame and bond
    /// (the NLL of such a frame was 85 943 nats without a word). tbg energy still computes it.
    func testFramesThatAreNotMoleculesAreRefusedWhereTheyAreUsedAsMD() throws {
        let dataset = scratch.file("zero-dataset")
        try FileManager.default.createDirectory(atPath: dataset, withIntermediateDirectories: true)
        let zeros = try variant("zero-dataset/AD.h5") { root in
            try root.dataset("coordinates").write([Float](repeating: 0, count: 66), start: [4, 0, 0], count: [1, 22, 3])
        }
        let at4 = [zeros, "frame 4: the bond between atom 0 (CH3) and atom 1 (H1) is 0.0000 nm long", "expected 0.05–0.30 nm"]
        let checkpoint = try trainTinyModel()
        let ode = ["--method", "rk4", "--steps", "2"]
        try assertFails(["nll", "--checkpoint", checkpoint, "--data", zeros, "--frames", "2:6"] + ode, mentions: at4)
        XCTAssertEqual(try tbg(["nll", "--checkpoint", checkpoint, "--data", zeros, "--frames", "5:7"] + ode).status, 0, "the other frames are fine")
        // One frame has no standard error, and the line says so (it printed "± nan").
        let one = try tbg(["nll", "--checkpoint", checkpoint, "--data", zeros, "--frames", "5:6"] + ode)
        XCTAssertEqual(one.status, 0, one.standardError)
        XCTAssertTrue(one.standardOutput.contains("tbg nll: 1 frame, NLL ") && one.standardOutput.contains("(one frame: no standard error)")
                      && !one.standardOutput.contains("nan"), one.standardOutput)
        try assertFails(["evaluate", "--samples", try samples(from: Self.fixture, name: "z.h5"), "--reference", zeros], mentions: at4)
        XCTAssertEqual(try tbg(["energy", zeros, "--frames", "4:5"]).status, 0, "an energy of any structure can be asked for")
        try assertFails(["inspect", zeros], mentions: at4)
        // A topology without bonds (a PDB without CONECT records): the System's bonds are checked instead.
        let unbonded = try variant("unbonded.h5") { root in
            try root.dataset("coordinates").write([Float](repeating: 0, count: 66), start: [4, 0, 0], count: [1, 22, 3])
            let text = try XCTUnwrap(try root.dataset("topology").readStrings().first)
            var topology = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            topology["bonds"] = [[Int]]()
            try root.remove("topology")
            try root.writeStringDataset("topology", [String(decoding: try JSONSerialization.data(withJSONObject: topology), as: UTF8.self)])
        }
        try assertFails(["nll", "--checkpoint", checkpoint, "--data", unbonded, "--frames", "2:6"] + ode, mentions: [unbonded, "frame 4: the bond between", "0.0000 nm"])
        // Two hydrogens of one methyl on one point: every bond is 0.109 nm, the atoms are not apart.
        let stacked = try variant("stacked.h5") { root in
            let h1: [Float] = try root.dataset("coordinates").read(start: [6, 1, 0], count: [1, 1, 3])
            try root.dataset("coordinates").write(h1, start: [6, 2, 0], count: [1, 1, 3])
        }
        try assertFails(["nll", "--checkpoint", checkpoint, "--data", stacked, "--frames", "5:8"] + ode,
                        mentions: [stacked, "frame 6: atom 1 (H1) and atom 2 (H2) are 0.0000 nm apart", "no two atoms closer than 0.05 nm"])
        try assertFails(["inspect", stacked], mentions: [stacked, "frame 6: atom 1 (H1) and atom 2 (H2)"])
        let index = #"{"format": "tbg-dataset", "format_version": 1, "peptides": [{"name": "AD", "file": "AD.h5", "split": "train", "n_atoms": 22, "n_frames": 20}]}"#
        try index.write(toFile: dataset + "/index.json", atomically: true, encoding: .utf8)
        let overrides = TinyDataset.overrides(dataset: dataset, checkpoint: scratch.file("never.h5"), steps: 2) + ["data.stream=iid"]
        let result = try tbg(["train"] + overrides.flatMap { ["--set", $0] })
        XCTAssertNotEqual(result.status, 0, result.standardOutput)
        XCTAssertTrue(at4.allSatisfy { result.standardError.contains($0) }, result.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.file("never.h5")))
    }

    func testEmptySelectionsAndFramelessFilesAreErrorsNamingTheFile() throws {
        let empty = try emptyVariant()
        let checkpoint = try trainTinyModel()
        let ode = ["--method", "rk4", "--steps", "2"]
        try assertFails(["energy", Self.fixture, "--frames", "0:0"], mentions: [Self.fixture, "frames 0:0 select no frames"])
        try assertFails(["energy", Self.fixture, "--frames", "20:"], mentions: [Self.fixture, "frames 20: select no frames"])
        try assertFails(["nll", "--checkpoint", checkpoint, "--data", Self.fixture, "--frames", "0:0"] + ode, mentions: [Self.fixture, "frames 0:0 select no frames"])
        try assertFails(["nll", "--checkpoint", checkpoint, "--data", Self.fixture, "--every", "0"] + ode, mentions: ["--every"])
        try assertFails(["energy", Self.fixture, "--frames", "5:2"], mentions: [Self.fixture, "frames 5:2: the start 5 is after the end 2"])
        // A phi range that parses but cannot be one says why.
        for (range, reason) in [("2:1", "LOWER 2.0 must be below UPPER 1.0"), ("-10:10", "within -pi...pi"), ("abc", "expected LOWER:UPPER")] {
            try assertFails(["evaluate", "--samples", Self.fixture, "--reference", Self.fixture, "--phi-basin=\(range)"], mentions: ["--phi-basin", reason])
            try assertFails(["free-energy", Self.fixture, "--checkpoint", checkpoint, "--out", scratch.file("never.h5"), "--psi-split=\(range)"],
                            mentions: ["--psi-split", reason])
        }
        try assertFails(["energy", empty], mentions: [empty, "has no frames"])
        try assertFails(["bench", "energy", empty], mentions: [empty, "has no frames"])
        // Benchmark settings that would crash or mean nothing are refused before any work.
        for (option, value, message) in [("--steps", "0", "--steps must be at least 1"), ("--ema", "nan", "--ema must be a decay in [0, 1)"),
                                          ("--ema", "1.5", "--ema must be a decay in [0, 1)"), ("--clip", "0", "--clip must be a positive"),
                                          ("--clip", "inf", "--clip must be a positive")] {
            try assertFails(["bench", "train", "--batch", "2", "--hidden", "4", "--layers", "1", option, value], mentions: [message])
        }
        try assertFails(["inspect", empty], mentions: [empty, "has no frames"])
        try assertFails(["nll", "--checkpoint", checkpoint, "--data", empty] + ode, mentions: [empty, "has no frames"])
        try assertFails(["sample", "--checkpoint", checkpoint, "--peptide", empty, "--count", "1", "--out", scratch.file("never.h5")] + ode,
                        mentions: [empty, "has no frames"])
        try assertFails(["evaluate", "--samples", try samples(from: Self.fixture, name: "s.h5"), "--reference", empty], mentions: [empty, "has no frames"])
        let emptySamples = try samples(from: empty, name: "empty-samples.h5")
        try assertFails(["evaluate", "--samples", emptySamples, "--reference", Self.fixture], mentions: [emptySamples, "has no frames"])
    }

    func testInspectSaysWhenDuplicatedBondsWereRemoved() throws {
        // As PDB CONECT records give them: some bonds twice, one of them in the other direction.
        let duplicated = try variant("conect.h5") { root in
            let json = try root.dataset("topology").readStrings()[0]
            var object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            let bonds = try XCTUnwrap(object["bonds"] as? [[Int]])
            object["bonds"] = bonds + [bonds[2], [bonds[7][1], bonds[7][0]]]
            try root.remove("topology")
            try root.writeStringDataset("topology", [String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)])
        }
        let text = try tbg(["inspect", duplicated])
        XCTAssertEqual(text.status, 0, text.standardError)
        XCTAssertTrue(text.standardOutput.contains("21 bonds"), text.standardOutput)
        XCTAssertTrue(text.standardOutput.contains("2 duplicated bond(s) in /topology (e.g. from PDB CONECT records) removed; 21 distinct bonds used"), text.standardOutput)
        XCTAssertEqual(try json(["inspect", "--json", duplicated])["duplicate_bonds_removed"] as? Int, 2)
        XCTAssertEqual(try json(["inspect", "--json", Self.fixture])["duplicate_bonds_removed"] as? Int, 0)
        // Energies do not count a duplicated bond twice (they come from the System, not the topology).
        XCTAssertEqual(try energyTotals(duplicated), try energyTotals(Self.fixture))
    }

    func testSystemInAnotherAtomOrderIsRefusedByInspectAndEnergy() throws {
        // The System's particles reversed: the same 22 particles, listed in another order.
        let reordered = try variant("reordered.h5") { root in
            let xml = try root.dataset("openmm_system").readStrings()[0]
            var lines = xml.components(separatedBy: "\n")
            let particles = lines.indices.filter { lines[$0].contains("<Particle mass=") }
            XCTAssertEqual(particles.count, 22)
            let reversed = particles.map { lines[$0] }.reversed()
            for (index, line) in zip(particles, reversed) { lines[index] = line }
            try root.remove("openmm_system")
            try root.writeStringDataset("openmm_system", [lines.joined(separator: "\n")])
        }
        let expected = [reordered, "particle 0 of /openmm_system (atom 0, CH3 of ACE 0, element C in /topology) has mass 1.00", "same order"]
        try assertFails(["inspect", reordered], mentions: expected)
        try assertFails(["energy", reordered], mentions: expected)
    }

    func testSampleOutputNeverReplacesAnInput() throws {
        let peptide = try variant("peptide.h5") { _ in }
        let link = scratch.file("link-to-peptide.h5")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: peptide)
        let before = try Data(contentsOf: URL(fileURLWithPath: peptide))
        let checkpoint = try trainTinyModel()
        for out in [peptide, link, checkpoint] {
            try assertFails(["sample", "--checkpoint", checkpoint, "--peptide", peptide, "--count", "1", "--method", "rk4", "--steps", "2", "--out", out],
                            mentions: [out, "is also an input", "inputs are never overwritten"])
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: peptide)), before)
    }

    func testPhiBasinOfDeltaFIsConfigurable() throws {
        let samples = try samples(from: Self.fixture, name: "samples.h5")
        // Every fixture frame has phi < 0: with the default basin 0 < phi < 2.15 ΔF is undefined; with
        // the basin −π < phi < 0 every frame is positive, and the other basin is empty instead.
        let standard = try json(["evaluate", "--samples", samples, "--reference", Self.fixture, "--json"])
        XCTAssertEqual((standard["settings"] as? [String: Any])?["phi_positive_basin"] as? [Double], [0, 2.15])
        let configured = try json(["evaluate", "--samples", samples, "--reference", Self.fixture, "--json", "--phi-basin=-3.14159:0"])
        XCTAssertEqual((configured["settings"] as? [String: Any])?["phi_positive_basin"] as? [Double], [-3.14159, 0])
        let md = try XCTUnwrap((configured["md"] as? [String: Any])?["delta_f_kT"] as? [String: Any])
        XCTAssertEqual(md["positive_fraction"] as? Double, 1)
        XCTAssertEqual(md["reason"] as? String, "no population outside -3.14159 < phi < 0")
        // A negative LOWER after a space is the option's value, not an unknown option.
        let spaced = try json(["evaluate", "--samples", samples, "--reference", Self.fixture, "--json", "--phi-basin", "-3.14159:0"])
        XCTAssertEqual((spaced["settings"] as? [String: Any])?["phi_positive_basin"] as? [Double], [-3.14159, 0])
        try assertFails(["evaluate", "--samples", samples, "--reference", Self.fixture, "--phi-basin", "2:1"], mentions: ["--phi-basin"])
    }

    func testConfigurationTextThatCrashedYamsIsAnError() throws {
        // Found by Tools/fuzz.sh (run-config): a complex mapping key made Yams.load trap.
        let config = scratch.file("complex-key.yaml")
        try "model:\n  hidden: 8\n? [a, b]\n: 1\n".write(toFile: config, atomically: true, encoding: .utf8)
        try assertFails(["train", "--config", config, "--print-config"], mentions: [config, "mapping key under top level (line 3) is a sequence"])
        try assertFails(["train", "--set", "model.hidden={[1]: 2}", "--print-config"], mentions: ["override 'model.hidden={[1]: 2}'", "is a sequence"])
    }

    func testTrainingCheckpointNeverReplacesADatasetFile() throws {
        let dataset = try TinyDataset.make(in: scratch)
        let trajectory = dataset + "/AD.h5"
        let before = try Data(contentsOf: URL(fileURLWithPath: trajectory))
        for checkpoint in [trajectory, dataset + "/index.json"] {
            let overrides = TinyDataset.overrides(dataset: dataset, checkpoint: checkpoint, steps: 2)
            try assertFails(["train"] + overrides.flatMap { ["--set", $0] }, mentions: [checkpoint, "is also an input"])
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: trajectory)), before)
    }

    private func trainTinyModel() throws -> String {
        try TinyDataset.trainedCheckpoint(in: scratch, steps: 2)
    }
}
