// A description of a dataset folder: its index, and a full report (or the error) for every file.

public struct DatasetReport: Codable, Sendable {
    public struct Member: Codable, Sendable {
        public var name: String
        public var split: String
        public var report: TrajectoryReport?
        public var error: String?
    }

    public var directory: String
    public var preset: String?
    public var termini: String?
    public var members: [Member]

    public var failures: [String] { members.compactMap(\.error) }

    /// Loads the index and inspects every file; a bad file is recorded, not thrown, so that one
    /// report lists every problem. Disagreement between index and file counts as an error.
    public init(location: String) throws {
        let (index, directory) = try DatasetIndex.load(location)
        self.directory = directory
        preset = index.preset
        termini = index.termini
        members = index.peptides.map { entry in
            let path = directory.isEmpty ? entry.file : directory + "/" + entry.file
            do {
                let report = try TrajectoryReport(path: path)
                var mismatches: [String] = []
                if let atoms = entry.nAtoms, atoms != report.atoms { mismatches.append("n_atoms \(atoms) in the index, \(report.atoms) in the file") }
                if let frames = entry.nFrames, frames != report.frames { mismatches.append("n_frames \(frames) in the index, \(report.frames) in the file") }
                let error = mismatches.isEmpty ? nil : "\(path): index entry \(entry.name) disagrees with the file: " + mismatches.joined(separator: "; ")
                return Member(name: entry.name, split: entry.split, report: report, error: error)
            } catch {
                return Member(name: entry.name, split: entry.split, report: nil, error: "\(error)")
            }
        }
    }
}
