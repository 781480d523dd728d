// What a model was trained on, stored in its checkpoint (attribute `training_data`, JSON):
//   {"stream": "iid", "peptides": [{"name": "AD", "atoms": [[0, "ACE", "H1", "H"], …],
//     "files": [{"path": …, "training_frames": [0, 9500], "frames": 10000, "bytes": …, "fnv1a64": "…"}]}]}
// so that NLL can avoid training frames, and so that a single-molecule model (`atoms` encoding)
// refuses a peptide whose atoms differ from the one it learned.
import Foundation
import MDData

public struct TrainingDataRecord: Codable, Equatable, Sendable {
    public struct File: Codable, Equatable, Sendable {
        public var path: String
        /// [first, end) of the frames trained on.
        public var trainingFrames: [Int]
        public var frames: Int
        public var bytes: Int
        public var fnv1a64: String

        public init(path: String, trainingFrames: [Int], frames: Int, bytes: Int, fnv1a64: String) {
            (self.path, self.trainingFrames, self.frames, self.bytes, self.fnv1a64) = (path, trainingFrames, frames, bytes, fnv1a64)
        }

        enum CodingKeys: String, CodingKey {
            case path, frames, bytes, fnv1a64
            case trainingFrames = "training_frames"
        }
    }

    /// One atom: residue position, residue name, atom name, element.
    public struct Atom: Codable, Equatable, Sendable, CustomStringConvertible {
        public var residueIndex: Int
        public var residue: String
        public var name: String
        public var element: String

        public init(residueIndex: Int, residue: String, name: String, element: String) {
            self.residueIndex = residueIndex
            self.residue = residue
            self.name = name
            self.element = element
        }

        public init(from decoder: Decoder) throws {
            var container = try decoder.unkeyedContainer()
            residueIndex = try container.decode(Int.self)
            residue = try container.decode(String.self)
            name = try container.decode(String.self)
            element = try container.decode(String.self)
        }

        public func encode(to encoder: Encoder) throws {
            var container = encoder.unkeyedContainer()
            try container.encode(residueIndex)
            try container.encode(residue)
            try container.encode(name)
            try container.encode(element)
        }

        public var description: String { "\(residue)\(residueIndex + 1) \(name) (\(element.isEmpty ? "no element" : element))" }
    }

    public struct Peptide: Codable, Equatable, Sendable {
        public var name: String
        public var atoms: [Atom]
        public var files: [File]

        public init(name: String, atoms: [Atom], files: [File]) {
            (self.name, self.atoms, self.files) = (name, atoms, files)
        }
    }

    public var peptides: [Peptide]
    public var stream: String

    public init(peptides: [Peptide], stream: String) {
        self.peptides = peptides
        self.stream = stream
    }

    public static func atoms(of topology: MDTrajTopology) -> [Atom] {
        PeptideEncoding.atoms(of: topology).map {
            Atom(residueIndex: $0.residueIndex, residue: $0.residueName, name: $0.name, element: $0.element)
        }
    }

    /// The first difference between two atom lists, in words (nil when they are the same).
    public static func firstMismatch(_ expected: [Atom], _ actual: [Atom]) -> String? {
        for (index, (a, b)) in zip(expected, actual).enumerated() where a != b {
            return "atom \(index) is \(b), expected \(a)"
        }
        if expected.count != actual.count { return "\(actual.count) atoms, expected \(expected.count)" }
        return nil
    }

    /// The frames ([first, end)) of the file at `path` that training used, recognised by content
    /// (size and FNV-1a hash, so a copy or another path to the same file counts too), or nil when
    /// the file is none of the training files.
    /// - Throws: `DataFormatError` when the file cannot be read.
    public func trainingFrames(ofFileAt path: String) throws -> Range<Int>? {
        let files = peptides.flatMap(\.files)
        guard !files.isEmpty else { return nil }
        let (bytes, hash) = try ContentHash.fnv1a64(path: path)
        let digest = String(hash, radix: 16)   // as TrainingData records it
        guard let file = files.first(where: { $0.bytes == bytes && $0.fnv1a64 == digest }), file.trainingFrames.count == 2 else { return nil }
        return file.trainingFrames[0]..<file.trainingFrames[1]
    }

    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    public static func decode(json: String) throws -> TrainingDataRecord {
        try JSONDecoder().decode(TrainingDataRecord.self, from: Data(json.utf8))
    }
}

public enum ContentHash {
    /// The size and 64-bit FNV-1a hash of a file's bytes.
    public static func fnv1a64(path: String) throws -> (bytes: Int, hash: UInt64) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw DataFormatError(file: path, "cannot read the file to hash it")
        }
        defer { try? handle.close() }
        var hash = fnv1a64Offset
        var bytes = 0
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            bytes += chunk.count
            chunk.withUnsafeBytes { fnv1a64(&hash, adding: $0) }
        }
        return (bytes, hash)
    }

    /// FNV-1a's 64-bit offset basis: the hash of no bytes.
    public static let fnv1a64Offset: UInt64 = 0xcbf2_9ce4_8422_2325

    /// Continues the 64-bit FNV-1a hash `hash` over `bytes`.
    public static func fnv1a64(_ hash: inout UInt64, adding bytes: UnsafeRawBufferPointer) {
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
    }
}
