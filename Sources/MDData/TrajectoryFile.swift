// A dipeptide trajectory file in the project's format (Tools/FORMAT.md): MDTraj's HDF5 layout
// (`/coordinates` float32 T×N×3 nm, `/time`, `/topology` JSON) plus `/openmm_system` (the OpenMM
// System XML) and `/metadata` (JSON), optionally `/potentialEnergy`, `/kineticEnergy`,
// `/reference_energies` and, for a biased run, `/bias_energy`.
//
// Opening validates the structure (nodes, types, shapes, atom counts agree between coordinates,
// topology and System, the System's particle masses match the topology's elements, every array's
// `units` attribute is one tbg converts) but reads no frames: frames are read by hyperslab windows,
// so a rank only ever holds its own shard. Every frame read is converted to nm and checked to be
// finite (an error names the file, frame and atom), so no caller can compute on a NaN;
// `scanCoordinates` streams the whole file through the same check.
import HDF5

public final class TrajectoryFile {
    public let path: String
    public let frameCount: Int
    public let atomCount: Int
    public let topology: MDTrajTopology
    /// `/topology` as stored (MDTraj JSON), for writing files of the same peptide.
    public let topologyJSON: String
    public let metadata: TrajectoryMetadata
    /// `/metadata` as stored, for display and provenance.
    public let metadataJSON: String
    /// `/openmm_system` as stored: the authoritative Hamiltonian.
    public let systemXML: String
    public let system: OpenMMSystemSummary
    /// `/time` in ps (converted from the file's `units`), if present.
    public let time: [Float]?
    /// The factor from `/coordinates` as stored to nm (0.1 for `units="angstroms"`, else 1).
    public let lengthFactor: Float

    private let root: HDF5Group
    private let coordinates: HDF5Dataset
    /// Factors to kJ/mol of the `/potentialEnergy` and `/kineticEnergy` arrays.
    private let energyFactors: [String: Double]

    private static let generatorHint = "files in this format are written by Tools/generate_trajectory.py (see Tools/FORMAT.md)"

    public init(path: String) throws {
        self.path = path
        let file: HDF5File
        do {
            file = try HDF5File(opening: path)
        } catch let error as HDF5Error {
            throw DataFormatError(file: path, error.message, hint: error.message == "not an HDF5 file" ? Self.generatorHint : nil)
        }
        let root = try formatErrors { try file.root() }
        self.root = root

        let coordinates = try Self.requireDataset(root, "coordinates", expected: "float32 frames×atoms×3 in nm (MDTraj layout)")
        self.coordinates = coordinates
        let shape = coordinates.shape
        guard shape.count == 3, shape[2] == 3, shape[1] > 0 else {
            throw DataFormatError(file: path, "/coordinates has shape \(shape), expected frames×atoms×3 with at least one atom")
        }
        guard coordinates.elementKind == .float(bits: 32) else {
            throw DataFormatError(file: path, "/coordinates holds \(coordinates.elementKind), expected float32 (nm)")
        }
        frameCount = shape[0]
        atomCount = shape[1]
        lengthFactor = Float(try PhysicalUnits.factor(of: coordinates, quantity: .length))

        let topologyJSON = try Self.requireString(root, "topology", expected: "MDTraj topology JSON string")
        self.topologyJSON = topologyJSON
        topology = try MDTrajTopology.decode(json: topologyJSON, file: path)
        guard topology.atomCount == atomCount else {
            throw DataFormatError(file: path, "/topology has \(topology.atomCount) atoms but /coordinates has \(atomCount) atoms per frame")
        }

        metadataJSON = try Self.requireString(root, "metadata", expected: "JSON object describing how the trajectory was made")
        metadata = try TrajectoryMetadata.decode(json: metadataJSON, file: path)

        systemXML = try Self.requireString(root, "openmm_system", expected: "OpenMM System XML (XmlSerializer)")
        system = try OpenMMSystemSummary.parse(xml: systemXML, file: path)
        guard system.particleCount == atomCount else {
            throw DataFormatError(file: path, "/openmm_system has \(system.particleCount) particles but /coordinates has \(atomCount) atoms per frame")
        }
        try SystemTopologyAgreement.check(system: system, topology: topology, metadata: metadata, file: path)

        let frameCount = self.frameCount
        if metadata.bias != nil, !root.contains("bias_energy") {
            throw DataFormatError(file: path, "/metadata records a bias but the dataset /bias_energy is missing; expected the bias energy of every frame in kJ/mol (Tools/FORMAT.md §1.7)")
        }
        var energyFactors: [String: Double] = [:]
        var timeFactor = 1.0
        for (name, quantity) in [("time", PhysicalQuantity.time), ("potentialEnergy", .energy), ("kineticEnergy", .energy),
                                 ("bias_energy", .energy)] where root.contains(name) {
            let dataset = try formatErrors { try root.dataset(name) }
            guard dataset.shape == [frameCount] else {
                throw DataFormatError(file: path, "/\(name) has shape \(dataset.shape), expected [\(frameCount)] (one value per frame)")
            }
            let factor = try PhysicalUnits.factor(of: dataset, quantity: quantity)
            if quantity == .time { timeFactor = factor } else { energyFactors[name] = factor }
        }
        self.energyFactors = energyFactors
        time = root.contains("time") ? try formatErrors { try root.dataset("time").read(as: Float.self) }.map { Float(Double($0) * timeFactor) } : nil
    }

    /// Frames `range` as a flat frames×atoms×3 array in nm (one hyperslab read).
    /// - Parameter requireBonds: also refuse a frame whose bonds are not a molecule's
    ///   (`requirePlausibleBonds`): for MD frames that a model trains on, is scored on (NLL), or is
    ///   compared with, never for sample files (their invalid samples are zeros by design).
    /// - Throws: `DataFormatError` naming the file, frame and atom of the first non-finite value
    ///   (unless `requireFinite` is false: callers that check a subset themselves), or for a range
    ///   outside the file.
    public func readFrames(_ range: Range<Int>, requireFinite: Bool = true, requireBonds: Bool = false) throws -> [Float] {
        var values = [Float](repeating: 0, count: range.count * atomCount * 3)
        try values.withUnsafeMutableBufferPointer { try readFrames(range, into: $0, requireFinite: requireFinite, requireBonds: requireBonds) }
        return values
    }

    /// Frames `range` into caller-owned memory of at least `range.count · atomCount · 3` floats, in nm,
    /// checked as `readFrames(_:requireFinite:requireBonds:)`.
    public func readFrames(_ range: Range<Int>, into buffer: UnsafeMutableBufferPointer<Float>, requireFinite: Bool = true,
                           requireBonds: Bool = false) throws {
        try checkRange(range)
        let count = range.count * atomCount * 3
        precondition(buffer.count >= count, "buffer holds \(buffer.count) floats, \(range.count) frames need \(count)")
        guard count > 0 else { return }
        try formatErrors {
            try coordinates.read(into: buffer, start: [range.lowerBound, 0, 0], count: [range.count, atomCount, 3])
        }
        if requireFinite, let bad = buffer[0..<count].firstIndex(where: { !$0.isFinite }) {
            throw nonFinite(frame: range.lowerBound + bad / (3 * atomCount), atom: (bad % (3 * atomCount)) / 3, value: buffer[bad])
        }
        if lengthFactor != 1 {
            for index in 0..<count { buffer[index] *= lengthFactor }
        }
        if requireBonds { try requirePlausibleBonds(UnsafeBufferPointer(rebasing: buffer[0..<count]), firstFrame: range.lowerBound) }
    }

    /// The bonds `requirePlausibleBonds` checks: the topology's, or where it lists none (a file
    /// written from a PDB without CONECT records), the OpenMM System's HarmonicBondForce bonds and
    /// constraints, which every peptide System has.
    public var checkedBonds: [[Int]] {
        if !topology.bonds.isEmpty { return topology.bonds }
        return system.bondedPairs.filter { $0[0] != $0[1] && $0.allSatisfy { (0..<atomCount).contains($0) } }
    }

    /// Bond lengths (nm) that a frame of a molecule has: covalent bonds of peptides lie at
    /// 0.09–0.16 nm (C–H 0.109, C–N 0.133, C–C 0.153, C–S 0.181); 0.05 and 0.3 leave room for any
    /// thermal stretch and stop only frames that are not molecules.
    public static let plausibleBondLengths: ClosedRange<Float> = 0.05...0.3

    /// Refuses a frame in which a bond (`checkedBonds`) is outside `plausibleBondLengths`: a damaged
    /// or degenerate frame (bonded atoms on top of each other, zeros, a molecule split by periodic
    /// wrapping, coordinates in Å labelled nm). Such a frame trains and scores without a word
    /// otherwise (an NLL of 10⁵ nats, a model that learns to make it). Any two atoms, bonded or
    /// not, closer than the shortest plausible bond (0.05 nm; non-bonded atoms of a molecule stay
    /// beyond ~0.15 nm) are refused too: two hydrogens of one methyl on one point keep their bonds.
    /// A file of more than one atom with no bonds at all is refused.
    /// - Parameters: `coordinates`: frames × atoms × 3, nm; `firstFrame`: the file's index of the first.
    /// - Throws: `DataFormatError` naming the file, frame, both atoms and the length or distance.
    public func requirePlausibleBonds(_ coordinates: UnsafeBufferPointer<Float>, firstFrame: Int) throws {
        let stride = 3 * atomCount, bonds = checkedBonds
        guard stride > 0 else { return }
        guard !bonds.isEmpty || atomCount == 1 else {
            throw DataFormatError(file: path, "lists no bonds, in its topology or in its OpenMM System (HarmonicBondForce, constraints), so its frames cannot be checked to be molecules; write it with its bonds (MDTraj topology with bonds, as Tools/generate_trajectory.py does)")
        }
        let low = Self.plausibleBondLengths.lowerBound, high = Self.plausibleBondLengths.upperBound
        let lowSquared = low * low, highSquared = high * high
        for frame in 0..<(coordinates.count / stride) {
            let base = frame * stride
            for bond in bonds {
                let a = base + 3 * bond[0], b = base + 3 * bond[1]
                let dx = coordinates[a] - coordinates[b], dy = coordinates[a + 1] - coordinates[b + 1], dz = coordinates[a + 2] - coordinates[b + 2]
                let squared = dx * dx + dy * dy + dz * dz
                guard squared >= lowSquared, squared <= highSquared else {
                    throw DataFormatError(file: path, String(format: "frame %d: the bond between %@ and %@ is %.4f nm long; expected %.2f–%.2f nm in a frame of a molecule (a damaged or degenerate frame: bonded atoms on top of each other, zeros, a molecule split by periodic wrapping, or coordinates not in nm)",
                                                             firstFrame + frame, atomName(bond[0]), atomName(bond[1]), Double(squared.squareRoot()), Double(low), Double(high)))
                }
            }
            // Atoms on top of each other (O(N²) per frame: 10³ pairs for a dipeptide, negligible
            // next to one network evaluation of it).
            for i in 0..<atomCount {
                let a = base + 3 * i
                let x = coordinates[a], y = coordinates[a + 1], z = coordinates[a + 2]
                for j in (i + 1)..<atomCount {
                    let b = base + 3 * j
                    let dx = x - coordinates[b], dy = y - coordinates[b + 1], dz = z - coordinates[b + 2]
                    let squared = dx * dx + dy * dy + dz * dz
                    if squared < lowSquared {
                        throw DataFormatError(file: path, String(format: "frame %d: %@ and %@ are %.4f nm apart; expected no two atoms closer than %.2f nm in a frame of a molecule (a damaged frame: atoms on top of each other)",
                                                                 firstFrame + frame, atomName(i), atomName(j), Double(squared.squareRoot()), Double(low)))
                    }
                }
            }
        }
    }

    private func atomName(_ i: Int) -> String {
        let names = topology.atoms
        return "atom \(i) (\(i < names.count ? names[i].name : "?"))"
    }

    /// Throws unless the file has at least one frame: `purpose` says what needs them
    /// (e.g. "tbg energy").
    public func requireFrames(for purpose: String) throws {
        guard frameCount > 0 else {
            throw DataFormatError(file: path, "has no frames (/coordinates is 0×\(atomCount)×3); \(purpose) needs at least one frame")
        }
    }

    /// Refuses a non-finite coordinate in `frames` of `coordinates` (all frames of this file, nm),
    /// naming the frame and atom: for readers that read every frame unchecked because only some
    /// (the valid samples) must be finite.
    public func requireFinite(_ coordinates: [Float], frames: [Int], what: String) throws {
        let width = 3 * atomCount
        for frame in frames {
            if let bad = (frame * width..<(frame + 1) * width).first(where: { !coordinates[$0].isFinite }) {
                throw nonFinite(frame: frame, atom: (bad - frame * width) / 3, value: coordinates[bad], what: what)
            }
        }
    }

    /// The error for a non-finite coordinate: file, frame, atom (index and name) and the value.
    public func nonFinite(frame: Int, atom: Int, value: Float, what: String = "frame") -> DataFormatError {
        let atomName = atom < topology.atoms.count ? topology.atoms[atom].name : "?"
        return DataFormatError(file: path, "/coordinates of \(what) \(frame), atom \(atom) (\(atomName)) is \(value); expected finite coordinates")
    }

    /// `/potentialEnergy` in kJ/mol (converted from the file's `units`; from the simulation platform), if present.
    public func potentialEnergies() throws -> [Float]? {
        guard root.contains("potentialEnergy") else { return nil }
        let factor = energyFactors["potentialEnergy"] ?? 1
        let values = try formatErrors { try root.dataset("potentialEnergy").read(as: Float.self) }
        return factor == 1 ? values : values.map { Float(Double($0) * factor) }
    }

    /// True when the file holds `/samples`: a sample file of tbg (its frames are a model's output,
    /// which need not be molecules, and are scored as they are).
    public var holdsSamples: Bool { root.contains("samples") }

    /// True when the file holds `/bias_energy`: frames of a biased run (Tools/FORMAT.md §1.7).
    public var isBiased: Bool { root.contains("bias_energy") }

    /// `/bias_energy` (kJ/mol, the static bias V of each frame), nil for plain MD. Every value must be
    /// finite: a frame's reweighting factor exp(+V/kT) is meaningless otherwise.
    public func biasEnergies() throws -> [Double]? {
        guard isBiased else { return nil }
        let dataset = try formatErrors { try root.dataset("bias_energy") }
        guard case .float = dataset.elementKind else {
            throw DataFormatError(file: path, "/bias_energy holds \(dataset.elementKind), expected float64 bias energies in kJ/mol")
        }
        let factor = energyFactors["bias_energy"] ?? 1
        let values = try formatErrors { try dataset.read(as: Double.self) }.map { $0 * factor }
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw DataFormatError(file: path, "/bias_energy of frame \(bad) is \(values[bad]); expected a finite bias energy in kJ/mol for every frame")
        }
        return values
    }

    /// `/reference_energies`, shape-checked against this file, if present.
    public func referenceEnergies() throws -> ReferenceEnergies? {
        guard root.contains("reference_energies") else { return nil }
        return try formatErrors {
            try ReferenceEnergies.read(from: try root.group("reference_energies"), atomCount: atomCount,
                                       forceCount: system.forces.count)
        }
    }

    /// Reads every frame in windows and refuses the first that is not finite or not a molecule
    /// (`requirePlausibleBonds`), naming it: for data a long job is about to use (training checks its
    /// files before the first step, so that a bad frame does not end the run hours in).
    public func requireMolecules(windowFrames: Int = 4096) throws {
        try forEachWindow(windowFrames, requireBonds: true) { _, _ in }
    }

    /// Reads every frame in windows of `windowFrames` (one buffer, checked as `readFrames`) and
    /// hands each window's frames (nm, flat) and frame range to `body`.
    private func forEachWindow(_ windowFrames: Int, requireBonds: Bool, _ body: ([Float], Range<Int>) throws -> Void) throws {
        let window = max(1, windowFrames)
        var buffer = [Float](repeating: 0, count: window * atomCount * 3)
        var start = 0
        while start < frameCount {
            let range = start..<min(frameCount, start + window)
            try buffer.withUnsafeMutableBufferPointer { try readFrames(range, into: $0, requireBonds: requireBonds) }
            try body(buffer, range)
            start = range.upperBound
        }
    }

    /// Streams every frame in windows and fails on the first non-finite coordinate, or, in a file
    /// that is not a sample file, on the first frame that is not a molecule (`requirePlausibleBonds`).
    public func scanCoordinates(windowFrames: Int = 4096) throws -> CoordinateScan {
        var scan = CoordinateScan()
        try forEachWindow(windowFrames, requireBonds: !holdsSamples) { buffer, range in
            for frame in 0..<range.count {
                let base = frame * atomCount * 3
                var low = [Float](repeating: .infinity, count: 3), high = [Float](repeating: -.infinity, count: 3)
                for atom in 0..<atomCount {
                    for axis in 0..<3 {
                        let value = buffer[base + atom * 3 + axis]
                        low[axis] = min(low[axis], value)
                        high[axis] = max(high[axis], value)
                    }
                }
                let diagonal = zip(low, high).map { ($1 - $0) * ($1 - $0) }.reduce(0, +).squareRoot()
                scan.maxBoxDiagonalNM = max(scan.maxBoxDiagonalNM, Double(diagonal))
            }
            scan.framesScanned += range.count
        }
        return scan
    }

    private func checkRange(_ range: Range<Int>) throws {
        guard range.lowerBound >= 0, range.upperBound <= frameCount else {
            throw DataFormatError(file: path, "frames \(range) requested, the file has \(frameCount) frames")
        }
    }

    private static func requireDataset(_ root: HDF5Group, _ name: String, expected: String) throws -> HDF5Dataset {
        guard root.kind(of: name) == .dataset else {
            let found = root.kind(of: name).map { " (found a \($0))" } ?? ""
            throw DataFormatError(file: root.filePath, "missing dataset /\(name)\(found); expected \(expected)", hint: generatorHint)
        }
        return try formatErrors { try root.dataset(name) }
    }

    private static func requireString(_ root: HDF5Group, _ name: String, expected: String) throws -> String {
        let dataset = try requireDataset(root, name, expected: expected)
        guard dataset.elementKind.isString else {
            throw DataFormatError(file: root.filePath, "/\(name) holds \(dataset.elementKind), expected a string: \(expected)")
        }
        let strings = try formatErrors { try dataset.readStrings() }
        guard strings.count == 1 else {
            throw DataFormatError(file: root.filePath, "/\(name) holds \(strings.count) strings, expected exactly one: \(expected)")
        }
        return strings[0]
    }
}

/// What a full pass over the coordinates found.
public struct CoordinateScan: Sendable, Equatable {
    public var framesScanned = 0
    /// The largest bounding-box diagonal of any frame, nm (a quick sanity check of the units).
    public var maxBoxDiagonalNM = 0.0
}
