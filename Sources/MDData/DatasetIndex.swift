// A dataset: a folder of trajectory files plus `index.json`, which lists every peptide with its
// split (train / validation / test, by peptide: a peptide is never in two splits).
import Foundation

public struct DatasetIndex: Codable, Sendable, Equatable {
    public static let formatName = "tbg-dataset"
    public static let fileName = "index.json"

    public struct Entry: Codable, Sendable, Equatable {
        public var name: String
        public var sequence: String?
        /// Path of the trajectory file, relative to the dataset folder.
        public var file: String
        /// Every trajectory file of the peptide when it has several (e.g. unbiased and biased MD),
        /// relative to the dataset folder; `file` is then the first. Training pools their frames.
        public var files: [String]?
        public var split: String
        public var nAtoms: Int?
        public var nFrames: Int?
        public var temperatureK: Double?
        public var preset: String?
        public var termini: String?

        enum CodingKeys: String, CodingKey {
            case name, sequence, file, files, split, preset, termini
            case nAtoms = "n_atoms"
            case nFrames = "n_frames"
            case temperatureK = "temperature_K"
        }
    }

    public var format: String?
    public var formatVersion: Int?
    public var preset: String?
    public var termini: String?
    public var peptides: [Entry]

    enum CodingKeys: String, CodingKey {
        case format, preset, termini, peptides
        case formatVersion = "format_version"
    }

    public static let splits = ["train", "validation", "test"]

    /// Loads `index.json` from a dataset folder (or the path of the index itself) and checks it:
    /// known splits, unique names, every listed file present.
    public static func load(_ location: String) throws -> (index: DatasetIndex, directory: String) {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: location, isDirectory: &isDirectory)
        let indexPath = exists && isDirectory.boolValue ? location + "/" + fileName : location
        let directory = (indexPath as NSString).deletingLastPathComponent
        guard let data = FileManager.default.contents(atPath: indexPath) else {
            throw DataFormatError(file: indexPath, "no such dataset index", hint: "a dataset folder holds index.json; build one with Tools/make_dataset.py")
        }
        let index: DatasetIndex
        do {
            index = try JSONDecoder().decode(DatasetIndex.self, from: data)
        } catch {
            throw DataFormatError(file: indexPath, "not a dataset index: \(error)")
        }
        if let format = index.format, format != formatName {
            throw DataFormatError(file: indexPath, "format is '\(format)', expected '\(formatName)'")
        }
        var seen = Set<String>()
        for entry in index.peptides {
            guard splits.contains(entry.split) else {
                throw DataFormatError(file: indexPath, "peptide \(entry.name) has split '\(entry.split)', expected one of \(splits.joined(separator: ", "))")
            }
            guard seen.insert(entry.name).inserted else {
                throw DataFormatError(file: indexPath, "peptide \(entry.name) is listed twice")
            }
            if let files = entry.files, files.first != entry.file {
                throw DataFormatError(file: indexPath, "peptide \(entry.name): 'file' must be the first of 'files'")
            }
            for file in entry.allFiles {
                let filePath = directory.isEmpty ? file : directory + "/" + file
                guard FileManager.default.fileExists(atPath: filePath) else {
                    throw DataFormatError(file: indexPath, "peptide \(entry.name): file \(filePath) is missing")
                }
            }
        }
        return (index, directory)
    }

    /// The entries of one split.
    public func entries(inSplit split: String) -> [Entry] { peptides.filter { $0.split == split } }
}

extension DatasetIndex.Entry {
    /// The peptide's trajectory files (`files`, or the single `file`).
    public var allFiles: [String] { files ?? [file] }
}
