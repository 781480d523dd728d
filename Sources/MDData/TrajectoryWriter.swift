// Writes a trajectory file in the project's format (MDTraj HDF5 layout + `/openmm_system` +
// `/metadata`), atomically: the file appears under its final name only when complete.
//
// Layout choices follow what MDTraj itself writes (Tools/FORMAT.md): float32 coordinates in nm,
// chunked with an unlimited frame axis, zlib level 1 with byte shuffle; fixed-length strings; the
// root attributes MDTraj's reader looks for (`conventions = Pande`, `conventionVersion = 1.1`).
import HDF5

public struct TrajectoryContents: Sendable {
    /// Frames×atoms×3, nm, row-major.
    public var coordinates: [Float]
    public var frameCount: Int
    public var atomCount: Int
    /// Time of each frame in ps (defaults to the frame index).
    public var time: [Float]?
    public var topologyJSON: String
    public var metadataJSON: String
    public var systemXML: String
    /// Optional per-frame potential energies, kJ/mol.
    public var potentialEnergy: [Float]?
    public var title: String

    public init(coordinates: [Float], frameCount: Int, atomCount: Int, time: [Float]? = nil,
                topologyJSON: String, metadataJSON: String, systemXML: String,
                potentialEnergy: [Float]? = nil, title: String = "") {
        self.coordinates = coordinates
        self.frameCount = frameCount
        self.atomCount = atomCount
        self.time = time
        self.topologyJSON = topologyJSON
        self.metadataJSON = metadataJSON
        self.systemXML = systemXML
        self.potentialEnergy = potentialEnergy
        self.title = title
    }
}

public enum TrajectoryWriter {
    /// Writes `contents` to `path` (replacing an existing file only on success). `extra` may add
    /// further nodes (per-sample datasets, reference energies) before the file is renamed.
    public static func write(_ contents: TrajectoryContents, to path: String,
                             extra: (HDF5Group) throws -> Void = { _ in }) throws {
        precondition(contents.coordinates.count == contents.frameCount * contents.atomCount * 3,
                     "coordinates hold \(contents.coordinates.count) values, expected \(contents.frameCount)×\(contents.atomCount)×3")
        try formatErrors {
            try HDF5File.writeAtomically(to: path) { root in
                try root.writeAttribute("conventions", string: "Pande")
                try root.writeAttribute("conventionVersion", string: "1.1")
                try root.writeAttribute("program", string: "tbg")
                try root.writeAttribute("programVersion", string: "1")
                try root.writeAttribute("application", string: "tbg")
                try root.writeAttribute("title", string: contents.title)

                let frames = contents.frameCount, atoms = contents.atomCount
                let chunkFrames = max(1, min(max(frames, 1), 65536 / (12 * atoms)))
                let layout = HDF5StorageLayout(chunk: [chunkFrames, atoms, 3], compressionLevel: 1)
                let coordinates = try root.writeDataset("coordinates", contents.coordinates, shape: [frames, atoms, 3],
                                                        maxShape: [nil, atoms, 3], layout: layout)
                try coordinates.writeAttribute("units", string: "nanometers")
                let frameLayout = HDF5StorageLayout(chunk: [max(1, min(max(frames, 1), 16384))], compressionLevel: 1)
                let time = try root.writeDataset("time", contents.time ?? (0..<frames).map { Float($0) }, shape: [frames],
                                                 maxShape: [nil], layout: frameLayout)
                try time.writeAttribute("units", string: "picoseconds")
                if let energy = contents.potentialEnergy {
                    let dataset = try root.writeDataset("potentialEnergy", energy, shape: [frames], maxShape: [nil], layout: frameLayout)
                    try dataset.writeAttribute("units", string: "kilojoules_per_mole")
                }
                try root.writeStringDataset("topology", [contents.topologyJSON])
                try root.writeStringDataset("metadata", [contents.metadataJSON])
                try root.writeStringDataset("openmm_system", [contents.systemXML])
                try extra(root)
            }
        }
    }
}
