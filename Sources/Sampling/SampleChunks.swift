// The finished chunks of a `tbg sample` run on disk, so that a stopped, preempted or crashed run
// loses at most the chunks in flight and `tbg sample --resume` continues it.
//
// Layout, beside the output OUT:
//   OUT.chunks/run.json            what the run is (checkpoint and its step, peptide, count, chunk
//                                  size, seed, round-trip count, ODE settings); a resume must match it
//   OUT.chunks/chunk-000012.h5     chunk 12: samples [12·C, 13·C) as rows of SampleRecord.flattened()
//                                  (dataset /records, n × (14 + 3N) float64) and the network
//                                  evaluations spent on them (attributes)
// Chunk k always holds the same sample indices whatever rank computed it, and each chunk file is
// written atomically (HDF5File.writeAtomically: a partial name, fsync, rename), so a chunk file
// under its final name is complete. When every chunk exists, rank 0 merges them into OUT (the
// MDTraj-readable sample file) and removes the folder.
import FlowModel
import Foundation
import HDF5

public struct SampleChunks {
    /// The identity of a sampling run: a resume continues only the same run.
    ///
    /// The checkpoint and peptide are identified by their content (size and FNV-1a hash of the
    /// file's bytes) where run.json records it, so a resume finds them at another path (a SLURM job
    /// that stages its inputs to node-local disk, a moved folder) and refuses a file changed in
    /// place; run.json of an older tbg, without the hashes, is matched by path as before.
    public struct RunIdentity: Codable, Equatable, Sendable {
        public var checkpoint: String
        public var checkpointStep: Int
        /// "BYTES:HASH" of the checkpoint file (hash in hex; nil in run.json of an older tbg).
        public var checkpointContent: String?
        public var peptide: String
        /// "BYTES:HASH" of the peptide file (nil in run.json of an older tbg).
        public var peptideContent: String?
        public var count: Int
        public var chunk: Int
        public var seed: UInt64
        public var roundTrip: Int
        public var settings: SamplerSettings

        public init(checkpoint: String, checkpointStep: Int, checkpointContent: String? = nil, peptide: String, peptideContent: String? = nil,
                    count: Int, chunk: Int, seed: UInt64, roundTrip: Int, settings: SamplerSettings) {
            self.checkpoint = checkpoint
            self.checkpointStep = checkpointStep
            self.checkpointContent = checkpointContent
            self.peptide = peptide
            self.peptideContent = peptideContent
            self.count = count
            self.chunk = chunk
            self.seed = seed
            self.roundTrip = roundTrip
            self.settings = settings
        }

        enum CodingKeys: String, CodingKey {
            case checkpoint, peptide, count, chunk, seed, settings
            case checkpointStep = "checkpoint_step"
            case checkpointContent = "checkpoint_content"
            case peptideContent = "peptide_content"
            case roundTrip = "round_trip"
        }

        /// "BYTES:HASH" of the file at `path` (ContentHash.fnv1a64).
        public static func content(ofFile path: String) throws -> String {
            let (bytes, hash) = try ContentHash.fnv1a64(path: path)
            return "\(bytes):\(String(hash, radix: 16))"
        }

        /// Whether two runs' inputs are the same file: by content where both record it, else by path.
        static func sameFile(_ pathA: String, _ contentA: String?, _ pathB: String, _ contentB: String?) -> Bool {
            if let contentA, let contentB { return contentA == contentB }
            return pathA == pathB
        }

        /// The fields that differ from `other`, in words (empty when equal). The sample count is left
        /// out where `includingCount` is false: a resume may change it (`SampleChunks.open`), since
        /// chunk k holds samples [k·chunk, (k+1)·chunk) whatever the count, and a chunk's own indices
        /// say whether it is one of the new count's (`read(chunk:)`).
        public func differences(from other: RunIdentity, includingCount: Bool = true) -> [String] {
            var found: [String] = []
            func compare<V: Equatable>(_ name: String, _ a: V, _ b: V) { if a != b { found.append("\(name) \(b) → \(a)") } }
            func compareFile(_ name: String, _ path: String, _ content: String?, _ otherPath: String, _ otherContent: String?) {
                guard !Self.sameFile(path, content, otherPath, otherContent) else { return }
                if let content, let otherContent {
                    found.append(path == otherPath
                        ? "\(name) \(path) changed since the run started (bytes:FNV-1a \(otherContent) → \(content))"
                        : "\(name) \(otherPath) → \(path), another file (bytes:FNV-1a \(otherContent) → \(content))")
                } else {
                    found.append("\(name) \(otherPath) → \(path)")
                }
            }
            compareFile("checkpoint", checkpoint, checkpointContent, other.checkpoint, other.checkpointContent)
            compare("checkpoint step", checkpointStep, other.checkpointStep)
            compareFile("peptide", peptide, peptideContent, other.peptide, other.peptideContent)
            if includingCount { compare("count", count, other.count) }
            compare("chunk", chunk, other.chunk)
            compare("seed", seed, other.seed)
            compare("round-trip", roundTrip, other.roundTrip)
            found += settings.integrationDifferences(from: other.settings).map { "\($0.name) \($0.other) → \($0.this)" }
            compare("micro-batch", settings.microBatch, other.settings.microBatch)
            if settings.chunk != other.settings.chunk, chunk == other.chunk { compare("ODE batch", settings.chunk, other.settings.chunk) }
            return found
        }
    }

    /// One finished chunk read back.
    public struct Chunk {
        public var records: [SampleRecord]
        /// Batched network calls and per-sample velocity evaluations spent on the chunk.
        public var fieldEvaluations: Int
        public var sampleEvaluations: Double
    }

    public let folder: String
    public let identity: RunIdentity
    let atoms: Int
    /// What a resume found damaged and set aside (one line each; empty for a new run).
    public private(set) var setAside: [String] = []
    /// The open descriptor of FOLDER/lock that rank 0 holds for the run (`lock()`); −1 elsewhere.
    public private(set) var lockDescriptor: Int32 = -1
    /// Why the folder could not be locked (a filesystem without flock), to be said; nil otherwise.
    public private(set) var lockWarning: String?

    /// The chunk folder of output `out`.
    public static func folder(for out: String) -> String { out + ".chunks" }

    /// Number of chunks of `count` samples in chunks of `chunk`.
    public var chunkCount: Int { (identity.count + identity.chunk - 1) / identity.chunk }

    /// Sample indices of chunk `k`.
    public func indices(ofChunk k: Int) -> Range<Int> {
        (k * identity.chunk)..<min(identity.count, (k + 1) * identity.chunk)
    }

    /// Opens the chunk folder of `out` (rank 0 only: it creates the folder and run.json).
    /// - A new run (`resume` false) refuses an existing folder: it holds another run's work.
    /// - A resumed run requires the folder's run.json to equal `identity`, naming the differences,
    ///   except for the sample count: a resume may ask for more or fewer samples of the same run.
    ///   Chunk k holds samples [k·C, (k+1)·C) at any count, so every whole chunk inside the new
    ///   count is kept; a chunk outside it, and a last chunk whose extent the count changes, are set
    ///   aside as CHUNK.other-count (never deleted; a later resume at their count takes them back),
    ///   and run.json then records the new count.
    /// - Throws: `DataFormatError`-style `SampleChunksError` naming the folder and what to do.
    public static func open(out: String, identity: RunIdentity, atoms: Int, resume: Bool) throws -> SampleChunks {
        let folder = folder(for: out), manifest = folder + "/run.json"
        let manager = FileManager.default
        do {
            try manager.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw SampleChunksError("cannot create the chunk folder \(folder): \(error.localizedDescription)")
        }
        // The lock first: what the folder holds is read, and run.json written, by one run at a time.
        var chunks = SampleChunks(folder: folder, identity: identity, atoms: atoms)
        (chunks.lockDescriptor, chunks.lockWarning) = try chunks.lock()
        do {
            if manager.fileExists(atPath: manifest) {
                guard resume else {
                    throw SampleChunksError("\(folder) holds the finished chunks of an earlier, unfinished run of this output: continue it with --resume, or remove the folder to start over")
                }
                let stored = try readIdentity(manifest: manifest)
                let differences = identity.differences(from: stored, includingCount: false)
                guard differences.isEmpty else {
                    throw SampleChunksError("\(folder) holds the chunks of a different run (\(differences.joined(separator: "; "))): continue it with the same options (--count may change), or remove the folder to start over")
                }
                // The folder keeps the identity it was started with (its chunks carry it), also where
                // the same checkpoint and peptide are now found at other paths; only the count is the
                // one asked for now.
                var resumed = stored
                resumed.count = identity.count
                var checked = SampleChunks(folder: folder, identity: resumed, atoms: atoms)
                (checked.lockDescriptor, checked.lockWarning) = (chunks.lockDescriptor, chunks.lockWarning)
                // The chunks first, run.json after: a run stopped in between finds every chunk of
                // either count under a name that count's resume recognises.
                checked.setAside = try checked.sortChunksByCount(earlierCount: stored.count)
                if resumed.count != stored.count {
                    try writeManifest(resumed, to: manifest, replacing: true)
                    checked.setAside.insert("--count \(resumed.count) instead of the earlier \(stored.count): \(checked.doneChunks().count) finished chunk(s) of \(resumed.chunk) samples are inside the new count and kept; run.json now records \(resumed.count)", at: 0)
                }
                checked.setAside += try checked.setAsideDamagedChunks()
                return checked
            }
            // Chunk files without run.json: nothing says which run they belong to, so they are
            // neither used (they could be another seed's or model's samples) nor deleted.
            let orphans = ((try? manager.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasPrefix("chunk-") }
            guard orphans.isEmpty else {
                throw SampleChunksError("\(folder) holds \(orphans.count) chunk file(s) but no run.json, so nothing says which run they belong to: restore its run.json to continue that run, or remove the folder to start over")
            }
            try writeManifest(identity, to: manifest, replacing: false)
            return chunks
        } catch {
            chunks.releaseLock()
            throw error
        }
    }

    /// Writes run.json through a temporary file. A new run's (`replacing` false) is put in place with
    /// link(2), not rename: it never replaces a run.json that appeared meanwhile (a filesystem
    /// without flock, where two runs were not kept apart by the lock). A resume that changes the
    /// count replaces its own run.json by rename (atomic: the old or the new one, never a partial).
    static func writeManifest(_ identity: RunIdentity, to manifest: String, replacing: Bool) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let temporary = manifest + ".partial-\(HDF5File.hostName)-\(getpid())"
        do {
            try encoder.encode(identity).write(to: URL(fileURLWithPath: temporary))
        } catch {
            throw SampleChunksError("cannot write \(temporary): \(error.localizedDescription)")
        }
        var linked: Bool, linkError: Int32
        if replacing {
            linked = rename(temporary, manifest) == 0
            linkError = errno
        } else {
            linked = link(temporary, manifest) == 0
            linkError = errno
            if !linked, [EPERM, ENOTSUP, EOPNOTSUPP, ENOSYS].contains(linkError), !FileManager.default.fileExists(atPath: manifest) {
                // A filesystem without hard links (some FUSE and SMB mounts): rename, after the check.
                linked = rename(temporary, manifest) == 0
                linkError = errno
            }
        }
        unlink(temporary)
        guard linked else {
            let folder = (manifest as NSString).deletingLastPathComponent
            throw SampleChunksError(linkError == EEXIST
                ? "\(folder): another run wrote run.json meanwhile (two runs of this output started together); start only one"
                : "cannot \(replacing ? "replace" : "create") \(manifest): \(String(cString: strerror(linkError)))")
        }
    }

    /// `base` if nothing is there, else the first free of base-2, base-3, … (set-aside names never
    /// replace an earlier set-aside file or folder).
    static func unusedPath(_ base: String) -> String {
        var target = base, n = 1
        while FileManager.default.fileExists(atPath: target) { n += 1; target = base + "-\(n)" }
        return target
    }

    /// The file name of chunk `k` in its folder.
    static func fileName(ofChunk k: Int) -> String { String(format: "chunk-%06d.h5", k) }

    /// The run description a chunk file carries (its 'run' attribute), nil when it cannot be read.
    public static func runIdentity(ofChunkFile path: String) -> RunIdentity? {
        guard let root = try? HDF5File(opening: path).root(), root.hasAttribute("run"), let run = try? root.readStringAttribute("run") else { return nil }
        return try? JSONDecoder().decode(RunIdentity.self, from: Data(run.utf8))
    }

    /// The largest sample count of a run (tbg sample's --count limit; a run.json edited beyond it is refused).
    public static let maximumCount = 1_000_000_000

    /// Suffixes of the chunk files a resume set aside: damaged or another run's (`.damaged`, `-n`
    /// when taken), or finished at another --count and outside this one (`.other-count`).
    public static let setAsideSuffixes = [".h5.damaged", ".h5.other-count"]

    /// Whether the file `name` in a chunk folder is a chunk a resume set aside.
    public static func isSetAside(_ name: String) -> Bool {
        name.hasPrefix("chunk-") && setAsideSuffixes.contains { name.contains($0) }
    }

    /// The chunk index of a file named chunk-NNNNNN.h5 (or a set-aside one), else nil.
    static func chunkIndex(ofFile name: String) -> Int? {
        guard name.hasPrefix("chunk-"), name.count >= 15 else { return nil }
        let digits = name.dropFirst(6).prefix(6), rest = name.dropFirst(12)
        guard digits.count == 6, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), rest.hasPrefix(".h5") else { return nil }
        return Int(digits)
    }

    /// Sample indices of chunk `k` at another sample count.
    func indices(ofChunk k: Int, count: Int) -> Range<Int> {
        (k * identity.chunk)..<max(k * identity.chunk, min(count, (k + 1) * identity.chunk))
    }

    /// A resume at this count (after one at `earlierCount`): sets aside (CHUNK.other-count, a new
    /// name if taken) every chunk file outside this count, and the chunk whose extent the count
    /// changes; takes back the chunks set aside at another count that this count uses as they are.
    /// - Returns: one line per file moved.
    /// - Throws: a file that cannot be renamed (naming it).
    func sortChunksByCount(earlierCount: Int) throws -> [String] {
        let manager = FileManager.default
        let names = ((try? manager.contentsOfDirectory(atPath: folder)) ?? []).sorted()
        var lines: [String] = []
        func move(_ from: String, _ to: String) throws {
            guard rename(folder + "/" + from, folder + "/" + to) == 0 else {
                throw SampleChunksError("cannot rename \(folder)/\(from) to \(to): \(String(cString: strerror(errno)))")
            }
        }
        // The count a chunk file was written at, from its own run description (nil: unreadable;
        // such a file is left to the damaged-chunk check).
        func writtenCount(_ name: String) -> Int? { Self.runIdentity(ofChunkFile: folder + "/" + name)?.count }
        // First what goes aside, then what comes back (a chunk set aside at an earlier count may
        // fill the place of one set aside now), then the moves and one line each.
        var leaving: [(name: String, k: Int, written: Int)] = [], returning: [Int: (name: String, written: Int)] = [:]
        for name in names {
            guard let k = Self.chunkIndex(ofFile: name), name == Self.fileName(ofChunk: k) else { continue }
            let written = writtenCount(name) ?? earlierCount
            if k >= chunkCount || indices(ofChunk: k, count: written) != indices(ofChunk: k) { leaving.append((name, k, written)) }
        }
        for name in names where name.contains(".h5.other-count") {
            guard let k = Self.chunkIndex(ofFile: name), k < chunkCount, returning[k] == nil,
                  !manager.fileExists(atPath: path(ofChunk: k)) || leaving.contains(where: { $0.k == k }),
                  let written = writtenCount(name), indices(ofChunk: k, count: written) == indices(ofChunk: k) else { continue }
            returning[k] = (name, written)
        }
        for (name, k, written) in leaving {
            let target = (Self.unusedPath(folder + "/" + name + ".other-count") as NSString).lastPathComponent
            try move(name, target)
            let range = indices(ofChunk: k, count: written), now = k < chunkCount ? indices(ofChunk: k) : range
            let fate = k >= chunkCount ? "outside --count \(identity.count)"
                : returning[k] != nil ? "--count \(identity.count) makes it samples \(now.lowerBound)…\(now.upperBound - 1), which a chunk set aside earlier holds (below)"
                : "--count \(identity.count) makes it samples \(now.lowerBound)…\(now.upperBound - 1), computed again"
            lines.append("set aside chunk \(k) (samples \(range.lowerBound)…\(range.upperBound - 1) of the run at --count \(written)) as \(folder)/\(target): \(fate); "
                         + "a resume at --count \(written) takes it back while this run is unfinished (once it completes, the file is kept in \(setAsideFolder)/)")
        }
        for k in returning.keys.sorted() {
            let (name, written) = returning[k]!
            try move(name, Self.fileName(ofChunk: k))
            lines.append("took back chunk \(k) from \(folder)/\(name) (set aside at --count \(written); it is one of --count \(identity.count)'s as it stands)")
        }
        return lines
    }

    /// Reads a chunk folder's run.json.
    /// - Throws: `SampleChunksError` naming the file and, for a JSON that is not a run description,
    ///   the key or value that is wrong (not Swift's DecodingError dump).
    public static func readIdentity(manifest: String) throws -> RunIdentity {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: manifest))
        } catch {
            throw SampleChunksError("\(manifest) cannot be read (\(FileManager.default.fileExists(atPath: manifest) ? "not a readable file" : "no such file")): the chunk folder of a tbg sample run holds run.json, the run's description")
        }
        let identity: RunIdentity
        do {
            identity = try JSONDecoder().decode(RunIdentity.self, from: data)
        } catch {
            throw SampleChunksError("\(manifest) is not the description of a tbg sample run (expected a JSON object with checkpoint, checkpoint_step, peptide, count, chunk, seed, round_trip and settings): \(describe(decodingError: error))")
        }
        let settings = identity.settings
        var problems: [String] = []
        if identity.count < 1 || identity.count > maximumCount { problems.append("count \(identity.count) is not in 1...\(maximumCount) (tbg sample's --count)") }
        if identity.chunk < 1 { problems.append("chunk \(identity.chunk) is not positive") }
        if !["dopri5", "rk4"].contains(settings.method) { problems.append("settings.method '\(settings.method)' is neither dopri5 nor rk4") }
        if settings.steps < 1 || settings.microBatch < 1 || settings.chunk < 1 || settings.maximumSteps < 1 {
            problems.append("settings steps \(settings.steps), micro_batch \(settings.microBatch), chunk \(settings.chunk), max_steps \(settings.maximumSteps) must all be positive")
        }
        if !(settings.absoluteTolerance > 0) || !(settings.relativeTolerance > 0) { problems.append("settings atol and rtol must be positive") }
        guard problems.isEmpty else { throw SampleChunksError("\(manifest): \(problems.joined(separator: "; "))") }
        return identity
    }

    /// A JSON decoding error in words: the key that is missing or the value of the wrong type.
    public static func describe(decodingError error: Error) -> String {
        guard let decoding = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context, _ extra: String? = nil) -> String {
            let keys = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue } + (extra.map { [$0] } ?? [])
            return keys.isEmpty ? "the top level" : keys.joined(separator: ".")
        }
        switch decoding {
        case .keyNotFound(let key, let context):
            return "\(path(context, key.stringValue)) is missing"
        case .typeMismatch(let type, let context):
            return "\(path(context)) is not \(type == String.self ? "a string" : type == Dictionary<String, Any>.self ? "an object" : "a number of the expected kind (\(type))")"
        case .valueNotFound(_, let context):
            return "\(path(context)) is null"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON, or a number out of range" : "\(path(context)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    /// The identity as stored in every chunk file (sorted JSON): a chunk copied from another run's
    /// folder is recognised as such.
    public var identityJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(identity)).flatMap { String(data: $0, encoding: .utf8) } ?? ""
    }

    /// FNV-1a (64 bit) of the values' bit patterns: HDF5 keeps no checksum of raw data, so a chunk
    /// whose bytes changed on disk would otherwise be merged as it reads.
    static func checksum(_ values: [Double]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for value in values {
            var bits = value.bitPattern
            for _ in 0..<8 {
                hash = (hash ^ (bits & 0xff)) &* 0x0000_0100_0000_01b3
                bits >>= 8
            }
        }
        return hash
    }

    /// The view of an already opened folder (the other ranks, after rank 0 opened it).
    public init(folder: String, identity: RunIdentity, atoms: Int) {
        self.folder = folder
        self.identity = identity
        self.atoms = atoms
    }

    func path(ofChunk k: Int) -> String { folder + "/" + Self.fileName(ofChunk: k) }

    /// Whether chunk `k` is on disk (complete: chunk files appear only under their final name).
    public func isDone(_ k: Int) -> Bool { FileManager.default.fileExists(atPath: path(ofChunk: k)) }

    /// The chunks on disk.
    public func doneChunks() -> [Int] { (0..<chunkCount).filter(isDone) }

    /// Reads every chunk on disk; one that cannot be read as its chunk (a damaged disk, a file
    /// copied in by hand) is renamed CHUNK.damaged, never deleted, so that the run computes it
    /// again instead of failing at the merge after all the other work. (It stays in the folder
    /// for a look while the run is unfinished; the folder goes once the output is merged.)
    /// - Returns: one line per chunk set aside, naming the file and what is wrong with it.
    /// - Throws: the chunks of an older tbg (their run is finished with that tbg, not recomputed).
    func setAsideDamagedChunks() throws -> [String] {
        var lines: [String] = []
        for k in doneChunks() {
            do {
                _ = try read(chunk: k)
            } catch let error as SampleChunksError where error.olderFormat {
                throw error
            } catch {
                let path = path(ofChunk: k)
                let target = Self.unusedPath(path + ".damaged")
                if rename(path, target) == 0 {
                    lines.append("set aside damaged chunk \(k) as \(target) (\(error)); it is computed again (the file is kept in \(setAsideFolder)/ once the run completes)")
                } else {
                    lines.append("chunk \(k) at \(path) is damaged (\(error)) and cannot be renamed: \(String(cString: strerror(errno)))")
                }
            }
        }
        return lines
    }

    /// What is wrong with chunk `k` on disk, or nil when it reads as this run's chunk (`tbg inspect`:
    /// the atom count is taken from the chunk's own width).
    public func problem(ofChunk k: Int) -> String? { problem(ofFile: path(ofChunk: k), chunk: k) }

    /// What is wrong with the file at `path` read as chunk `k` of this run (a chunk a resume set
    /// aside, under another name), or nil when it reads as that chunk.
    public func problem(ofFile path: String, chunk k: Int) -> String? {
        do {
            let shape = try HDF5File(opening: path).root().dataset("records").shape
            guard shape.count == 2, shape[1] > SampleRecord.scalarFields, (shape[1] - SampleRecord.scalarFields) % 3 == 0 else {
                return "\(path): /records has shape \(shape), not samples × (\(SampleRecord.scalarFields) + 3 × atoms)"
            }
            _ = try SampleChunks(folder: folder, identity: identity, atoms: (shape[1] - SampleRecord.scalarFields) / 3).read(chunk: k, file: path)
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// Writes chunk `k` atomically.
    public func write(chunk k: Int, records: [SampleRecord], fieldEvaluations: Int, sampleEvaluations: Double) throws {
        let width = SampleRecord.scalarFields + 3 * atoms
        let values = records.flatMap { $0.flattened() }
        try HDF5File.writeAtomically(to: path(ofChunk: k)) { root in
            try root.writeDataset("records", values, shape: [records.count, width])
            try root.writeAttribute("run", string: identityJSON)
            try root.writeAttribute("checksum", [Int64(bitPattern: Self.checksum(values))])
            try root.writeAttribute("chunk", [Int64(k)])
            try root.writeAttribute("field_evaluations", [Int64(fieldEvaluations)])
            try root.writeAttribute("sample_evaluations", [sampleEvaluations])
        }
    }

    /// Reads chunk `k`, checking that it holds exactly the chunk's sample indices.
    public func read(chunk k: Int) throws -> Chunk { try read(chunk: k, file: path(ofChunk: k)) }

    /// Reads the file at `path` as chunk `k` of this run (a chunk a resume set aside, under another name).
    public func read(chunk k: Int, file path: String) throws -> Chunk {
        let width = SampleRecord.scalarFields + 3 * atoms
        let file = try HDF5File(opening: path)
        let root = try file.root()
        let dataset = try root.dataset("records")
        if dataset.shape.count == 2, let older = [12, 14].first(where: { dataset.shape[1] == $0 + 3 * atoms }) {
            throw SampleChunksError("\(path): a chunk of an older tbg sample (\(older) values per sample, without \(older == 12 ? "the raw energy of every sample" : "its ODE evaluations")); finish that run with the tbg that started it, or remove \(folder) to start over", olderFormat: true)
        }
        if root.hasAttribute("run"), let run = try? root.readStringAttribute("run"), run != identityJSON {
            // Compared as run.json is (RunIdentity.differences): inputs by content, so the same
            // run's chunk is not "another run's" because a path in run.json was edited or moved.
            guard let stored = try? JSONDecoder().decode(RunIdentity.self, from: Data(run.utf8)) else {
                throw SampleChunksError("\(path): its run description (attribute 'run') cannot be read, so it cannot be told to belong to this run")
            }
            // The count aside: a resume may change it, and the chunk's indices are checked below.
            let differences = identity.differences(from: stored, includingCount: false)
            if !differences.isEmpty {
                throw SampleChunksError("\(path): belongs to another run (\(differences.joined(separator: "; ")))")
            }
        }
        if root.hasAttribute("chunk"), let stored = try? root.readAttribute("chunk", as: Int64.self).first, stored != Int64(k) {
            throw SampleChunksError("\(path): is chunk \(stored) of its run (attribute 'chunk'), not chunk \(k)")
        }
        let flat = try dataset.read(as: Double.self)
        if root.hasAttribute("checksum"), let stored = try? root.readAttribute("checksum", as: Int64.self).first,
           UInt64(bitPattern: stored) != Self.checksum(flat) {
            throw SampleChunksError("\(path): its records do not match their checksum (the file changed on disk)")
        }
        guard flat.count % width == 0 else {
            throw SampleChunksError("\(path): /records holds \(flat.count) values, not a multiple of \(width) (\(SampleRecord.scalarFields) + 3 × \(atoms) atoms)")
        }
        let records = stride(from: 0, to: flat.count, by: width).map { SampleRecord.unflatten(flat[$0..<($0 + width)], atoms: atoms) }
        guard records.map(\.index) == Array(indices(ofChunk: k)) else {
            throw SampleChunksError("\(path): holds samples \(records.first?.index ?? -1)…\(records.last?.index ?? -1), expected \(indices(ofChunk: k).lowerBound)…\(indices(ofChunk: k).upperBound - 1)")
        }
        return Chunk(records: records, fieldEvaluations: Int(try root.readAttribute("field_evaluations", as: Int64.self)[0]),
                     sampleEvaluations: try root.readAttribute("sample_evaluations", as: Double.self)[0])
    }

    /// Where the files a resume set aside are kept once the run completes: OUT.set-aside/.
    public var setAsideFolder: String { String(folder.dropLast(".chunks".count)) + ".set-aside" }

    /// Removes the folder once the merged output is written. Files a resume set aside (CHUNK.damaged:
    /// damaged, or another run's; CHUNK.other-count: another count's), and any chunk outside this
    /// count, are not deleted with it: they move to `setAsideFolder` (a new name if that exists),
    /// which is returned; nil when there were none.
    public mutating func remove() throws -> String? {
        // The lock file is closed before its folder goes (NFS keeps an open file that is deleted as
        // .nfsXXXX, and the folder would not be empty); the output is written by now.
        releaseLock()
        let manager = FileManager.default
        let setAside = ((try? manager.contentsOfDirectory(atPath: folder)) ?? []).filter {
            Self.isSetAside($0) || (Self.chunkIndex(ofFile: $0).map { $0 >= chunkCount } ?? false)
        }
        guard !setAside.isEmpty else {
            try manager.removeItem(atPath: folder)
            return nil
        }
        let target = Self.unusedPath(setAsideFolder)
        try manager.createDirectory(atPath: target, withIntermediateDirectories: false)
        for name in setAside { try manager.moveItem(atPath: folder + "/" + name, toPath: target + "/" + name) }
        try manager.removeItem(atPath: folder)
        return target
    }

    /// Takes an exclusive lock on the folder (flock on FOLDER/lock), held until `releaseLock()` or
    /// the process ends, so that a second `tbg sample` of the same output (started twice, or a job
    /// array that repeats a task) is refused instead of computing the same chunks and removing the
    /// folder under the first.
    /// - Returns: the descriptor, and a warning where the filesystem has no flock (some NFS and
    ///   Lustre mounts: the run goes on, unprotected; descriptor −1).
    /// - Throws: `SampleChunksError` naming the folder when another process holds the lock.
    public func lock() throws -> (descriptor: Int32, warning: String?) {
        switch FolderLock.acquire(folder) {
        case .locked(let fd): return (fd, nil)
        case .busy(let holder):
            throw SampleChunksError("\(folder) is in use by another tbg sample run\(holder.isEmpty ? "" : " (\(holder))"): wait for it to finish or stop it; two runs of one output would compute the same chunks")
        case .unsupported(let warning): return (-1, warning)
        case .failed(let message): throw SampleChunksError(message)
        }
    }

    /// Releases the lock (closes its descriptor); nothing when none is held.
    public mutating func releaseLock() {
        FolderLock.release(lockDescriptor)
        lockDescriptor = -1
    }
}

public struct SampleChunksError: Error, CustomStringConvertible {
    public let description: String
    /// The chunk is sound but written by an older tbg (not damage: the run is refused instead).
    public var olderFormat = false
    public init(_ description: String, olderFormat: Bool = false) {
        self.description = description
        self.olderFormat = olderFormat
    }
}
