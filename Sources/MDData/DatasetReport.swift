// A description of a dataset folder: its index, and a full report (or the error) for every file —
// every file of a peptide with several (`files`: segments, unbiased and biased MD).

public struct DatasetReport: Codable, Sendable {
    /// One trajectory file of a peptide.
    public struct Member: Codable, Sendable {
        public var name: String
        public var split: String
        public var file: String
        public var report: TrajectoryReport?
        public var error: String?
    }

    public var directory: String
    public var preset: String?
    public var termini: String?
    public var members: [Member]

    public var failures: [String] { members.compactMap(\.error) }

    /// Loads the index and inspects every file; a bad file is recorded, not thrown, so that one
    /// report lists every problem. Disagreement between index and files counts as an error: atoms
    /// per file, and frames summed over the peptide's files.
    public init(location: String) throws {
        let (index, directory) = try DatasetIndex.load(location)
        self.directory = directory
        preset = index.preset
        termini = index.termini
        members = index.peptides.flatMap { entry -> [Member] in
            let files = entry.files ?? [entry.file]
            var members = files.map { file -> Member in
                let path = directory.isEmpty ? file : directory + "/" + file
                do {
                    let report = try TrajectoryReport(path: path)
                    var error: String?
                    if let atoms = entry.nAtoms, atoms != report.atoms {
                        error = "\(path): index entry \(entry.name) disagrees with the file: n_atoms \(atoms) in the index, \(report.atoms) in the file"
                    }
                    return Member(name: entry.name, split: entry.split, file: path, report: report, error: error)
                } catch {
                    return Member(name: entry.name, split: entry.split, file: path, report: nil, error: "\(error)")
                }
            }
            let frames = members.compactMap { $0.report?.frames }
            if let expected = entry.nFrames, frames.count == files.count, expected != frames.reduce(0, +) {
                let problem = "index entry \(entry.name) disagrees with its \(files.count == 1 ? "file" : "\(files.count) files"): n_frames \(expected) in the index, \(frames.reduce(0, +)) in the file\(files.count == 1 ? "" : "s")"
                members[0].error = members[0].error.map { $0 + "; " + problem } ?? "\(members[0].file): \(problem)"
            }
            return members
        }
    }
}
