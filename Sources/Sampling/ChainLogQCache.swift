// The reverse integrations of `tbg free-energy` kept as they finish, so that a stopped, preempted or
// crashed run loses at most the chain in flight and `--resume` continues it. They are the run's
// cost: one ODE solve with the exact divergence per chain state, against seconds for the chains.
//
// Layout, beside the output OUT:
//   OUT.logq/lock                 held (flock) by the run's rank 0: a second run of OUT is refused
//   OUT.logq/run.json             what the run is (IDENTITY: content hashes of the samples file and
//                                 the checkpoint, ODE settings, chain settings, proposal limit); a
//                                 resume must match it
//   OUT.logq/chain-000012.h5      global chain 12: /nll (float64, one per recorded state, model
//                                 units) and @positions_fnv1a, the FNV-1a hash of the chain's
//                                 recorded positions (float64 bytes)
//   OUT.logq/latent-000004.h5    the latent chains (--flow-chains) of the group whose first global
//                                 chain is 4: /positions, /energy, /log_q, /log_weight (chains ×
//                                 moves), /accepted (per chain) and @key, the FNV-1a hash of the
//                                 latent-chain settings, the seed and the group's start latents
//   OUT.logq/draws-000003.h5      position-only draws (--position-draws), chunk 3: /stratum (int64
//                                 per draw; −1 not usable, −2 failed integration) and @key
//   OUT.logq/restricted-000008.h5 the restricted draws (--restricted-draws) of the group starting at
//                                 restricted draw 8, in the latent-group layout (one move each)
// The chains are recomputed on a resume (they depend on (seed, step, chain) only, so any number of
// ranks gives the same chains); a chain's stored NLL is used only when its positions hash to the
// stored value, so a kept file never stands for other states. Each chain file is written
// atomically (HDF5File.writeAtomically). When OUT is written, the folder is removed.
import FlowModel
import Foundation
import HDF5

public struct ChainLogQCache {
    public let folder: String

    /// The folder of output `out`.
    public static func folder(for out: String) -> String { out + ".logq" }

    /// Opens the folder of `out` for a run described by `identity` (one JSON object, sorted keys);
    /// rank 0 only (the others use `init(folder:)`).
    /// - A new run (`resume` false) refuses a folder with a run.json and files of finished
    ///   integrations (chains, latent chains, draws, annealed trajectories): it holds an unfinished
    ///   run's work.
    /// - A resumed run requires run.json to equal `identity`, naming the keys that differ; a resume
    ///   without a folder starts one.
    /// - A run.json beside no such file (the run ended before its first integration) is replaced.
    /// - First of all the folder is locked (FolderLock, held until `remove()` or the process ends):
    ///   a second run of the same output while this one goes is refused.
    /// - Returns: the cache, the number of chain files it holds, and a warning where the filesystem
    ///   cannot lock files (the run goes on, unprotected).
    /// - Throws: `ChainLogQCacheError` naming the folder and what to do.
    public static func open(out: String, identity: String, resume: Bool) throws -> (cache: ChainLogQCache, kept: Int, lockWarning: String?) {
        let folder = folder(for: out), manifest = folder + "/run.json"
        let manager = FileManager.default
        do { try manager.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw ChainLogQCacheError("cannot create \(folder): \(error.localizedDescription)")
        }
        var lockWarning: String?
        switch FolderLock.acquire(folder) {
        case .locked(let fd):
            FolderLock.release(heldLocks[folder] ?? -1)
            heldLocks[folder] = fd
        case .busy(let holder):
            throw ChainLogQCacheError("\(folder) is in use by another tbg free-energy run\(holder.isEmpty ? "" : " (\(holder))"): wait for it to finish or stop it; two runs of one output would integrate the same chains and remove the folder under each other")
        case .unsupported(let warning): lockWarning = warning
        case .failed(let message): throw ChainLogQCacheError(message)
        }
        let finished = chainFiles(in: folder)
        // Every kept integration, not only the chains': the position-only and restricted draws run
        // before the chains, and their files' keys do not name the checkpoint.
        let work = numberedFiles(in: folder, prefixes: ["chain-", "latent-", "draws-", "restricted-", "annealed-forward-", "annealed-reverse-"])
        // A run.json beside no kept integration (a run that stopped or failed before its first one)
        // holds nothing to keep: it is replaced, whatever the options now.
        if manager.fileExists(atPath: manifest), !work.isEmpty {
            guard resume else {
                throw ChainLogQCacheError("\(folder) holds the finished integrations of an unfinished run of this output: continue it with --resume, or remove the folder to start over")
            }
            let stored = (try? String(contentsOfFile: manifest, encoding: .utf8)) ?? ""
            guard stored == identity else {
                throw ChainLogQCacheError("\(folder) holds the finished integrations of a different run (\(differences(stored, identity))): continue it with the same inputs and options, or remove the folder to start over")
            }
        } else {
            // Chain files without run.json: nothing says which checkpoint and ODE settings their log q
            // came from (the positions check cannot tell), so they are neither used nor deleted.
            guard work.isEmpty else {
                throw ChainLogQCacheError("\(folder) holds \(work.count) file(s) of finished integrations but no run.json, so nothing says which checkpoint and ODE settings their log q came from: restore its run.json to continue that run, or remove the folder to start over")
            }
            do {
                let temporary = manifest + ".partial-\(HDF5File.hostName)-\(getpid())"
                try Data(identity.utf8).write(to: URL(fileURLWithPath: temporary))
                guard rename(temporary, manifest) == 0 else { throw ChainLogQCacheError("cannot rename \(temporary) to \(manifest): \(String(cString: strerror(errno)))") }
            } catch let error as ChainLogQCacheError {
                throw error
            } catch {
                throw ChainLogQCacheError("cannot create \(manifest): \(error.localizedDescription)")
            }
        }
        let cache = ChainLogQCache(folder: folder)
        return (cache, finished.count, lockWarning)
    }

    /// The finished chain files in `folder` (chain-NNNNNN.h5; partial files of a write in flight are not).
    public static func chainFiles(in folder: String) -> [String] { numberedFiles(in: folder, prefix: "chain-") }

    /// The finished latent-group files in `folder` (latent-NNNNNN.h5; restricted-NNNNNN.h5 with `prefix`).
    public static func latentFiles(in folder: String, prefix: String = "latent-") -> [String] { numberedFiles(in: folder, prefix: prefix) }

    /// The finished position-only draw chunks in `folder` (draws-NNNNNN.h5).
    public static func drawFiles(in folder: String) -> [String] { numberedFiles(in: folder, prefix: "draws-") }

    /// The files of any of `prefixes` (`numberedFiles(in:prefix:)`).
    static func numberedFiles(in folder: String, prefixes: [String]) -> [String] {
        prefixes.flatMap { numberedFiles(in: folder, prefix: $0) }
    }

    /// PREFIX + digits + ".h5" in `folder` (partial files of a write in flight are not).
    static func numberedFiles(in folder: String, prefix: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { name in
            name.hasPrefix(prefix) && name.hasSuffix(".h5") && name.dropFirst(prefix.count).dropLast(3).allSatisfy(\.isNumber)
        }
    }

    public init(folder: String) { self.folder = folder }

    func file(ofChain chain: Int) -> String { folder + "/" + String(format: "chain-%06d.h5", chain) }

    /// The FNV-1a hash of the positions' float64 bytes, in hex.
    public static func hash(_ positions: ArraySlice<Double>) -> String {
        var hash = ContentHash.fnv1a64Offset
        for value in positions {
            withUnsafeBytes(of: value.bitPattern.littleEndian) { ContentHash.fnv1a64(&hash, adding: $0) }
        }
        return String(hash, radix: 16)
    }

    /// What one chain's file holds: its states' NLL (nats, −log q) and, when the file has them, the
    /// latents (states × width, model units) the reverse integrations reached.
    public struct StoredChain {
        public let nll: [Double]
        public let latents: [[Double]]?
    }

    /// The stored NLL (and latents, when `width` > 0 and the file has them) of global chain `chain`
    /// when a file for it exists, is readable and was computed for exactly these `positions`; else nil
    /// (the chain is integrated again). One open of the file.
    public func stored(chain: Int, positions: ArraySlice<Double>, states: Int, width: Int = 0) -> StoredChain? {
        let path = file(ofChain: chain)
        guard FileManager.default.fileExists(atPath: path),
              let root = try? HDF5File(opening: path).root(),
              let recorded = try? root.readStringAttribute("positions_fnv1a"), recorded == Self.hash(positions),
              let nll = try? root.dataset("nll").read(as: Double.self), nll.count == states else { return nil }
        guard width > 0, let flat = try? root.dataset("latent").read(as: Double.self), flat.count == states * width else {
            return StoredChain(nll: nll, latents: nil)
        }
        return StoredChain(nll: nll, latents: (0..<states).map { Array(flat[($0 * width)..<(($0 + 1) * width)]) })
    }

    /// Writes global chain `chain`'s NLL (and the latents the reverse integrations reached) atomically.
    public func store(chain: Int, positions: ArraySlice<Double>, nll: [Double], latents: [[Double]] = []) throws {
        try HDF5File.writeAtomically(to: file(ofChain: chain)) { root in
            let dataset = try root.writeDataset("nll", nll, shape: [nll.count])
            try dataset.writeAttribute("units", string: "nats (model units), -log q of each recorded state")
            if !latents.isEmpty, let width = latents.first?.count, width > 0 {
                try root.writeDataset("latent", Array(latents.joined()), shape: [latents.count, width])
                    .writeAttribute("units", string: "model units, the latent z of each recorded state")
            }
            try root.writeAttribute("positions_fnv1a", string: Self.hash(positions))
        }
    }

    func file(ofLatentGroup first: Int, prefix: String = "latent-") -> String { folder + "/" + prefix + String(format: "%06d.h5", first) }

    /// What a latent group's stored states must have been made from: the latent-chain settings (JSON),
    /// the seed and the group's start latents (float64 bytes), FNV-1a in hex.
    public static func latentGroupKey(settings: String, seed: UInt64, latents: [[Double]]) -> String {
        var hash = ContentHash.fnv1a64Offset
        Data(settings.utf8).withUnsafeBytes { ContentHash.fnv1a64(&hash, adding: $0) }
        withUnsafeBytes(of: seed.littleEndian) { ContentHash.fnv1a64(&hash, adding: $0) }
        for value in latents.joined() {
            withUnsafeBytes(of: value.bitPattern.littleEndian) { ContentHash.fnv1a64(&hash, adding: $0) }
        }
        return String(hash, radix: 16)
    }

    /// The stored states of the latent group starting at global chain `first`, when its file exists,
    /// is readable, has `key` and holds `chains` × `length` states of `width` coordinates; else nil.
    /// `prefix` "restricted-": the restricted draws' groups, in the same layout (length 1).
    public func storedLatentGroup(first: Int, key: String, chains: Int, length: Int, width: Int, prefix: String = "latent-")
        -> (states: [[RestrictedFlowChains.State]], accepted: [Int])? {
        let path = file(ofLatentGroup: first, prefix: prefix), n = chains * length
        guard FileManager.default.fileExists(atPath: path), let root = try? HDF5File(opening: path).root(),
              (try? root.readStringAttribute("key")) == key,
              let positions = try? root.dataset("positions").read(as: Double.self), positions.count == n * width,
              let energy = try? root.dataset("energy").read(as: Double.self), energy.count == n,
              let logQ = try? root.dataset("log_q").read(as: Double.self), logQ.count == n,
              let logWeight = try? root.dataset("log_weight").read(as: Double.self), logWeight.count == n,
              let accepted = try? root.dataset("accepted").read(as: Int64.self), accepted.count == chains else { return nil }
        let states = (0..<chains).map { c in
            (0..<length).map { k -> RestrictedFlowChains.State in
                let i = c * length + k
                return .init(positions: Array(positions[(i * width)..<((i + 1) * width)]), energy: energy[i], logQ: logQ[i], logWeight: logWeight[i])
            }
        }
        return (states, accepted.map(Int.init))
    }

    /// Writes the latent group starting at global chain `first` atomically (`prefix`: as for
    /// `storedLatentGroup`).
    public func storeLatentGroup(first: Int, key: String, states: [[RestrictedFlowChains.State]], accepted: [Int], prefix: String = "latent-") throws {
        let flat = states.joined(), positions = flat.flatMap(\.positions)
        try HDF5File.writeAtomically(to: file(ofLatentGroup: first, prefix: prefix)) { root in
            try root.writeDataset("positions", positions, shape: [positions.count])
            try root.writeDataset("energy", flat.map(\.energy), shape: [flat.count])
            try root.writeDataset("log_q", flat.map(\.logQ), shape: [flat.count])
            try root.writeDataset("log_weight", flat.map(\.logWeight), shape: [flat.count])
            try root.writeDataset("accepted", accepted.map(Int64.init), shape: [accepted.count])
            try root.writeAttribute("key", string: key)
        }
    }

    func file(ofDrawChunk chunk: Int) -> String { folder + "/" + String(format: "draws-%06d.h5", chunk) }

    /// The stored strata of position-only draw chunk `chunk` when its file exists, is readable, has
    /// `key` and holds `count` draws; else nil.
    public func storedDrawChunk(_ chunk: Int, key: String, count: Int) -> [Int]? {
        let path = file(ofDrawChunk: chunk)
        guard FileManager.default.fileExists(atPath: path), let root = try? HDF5File(opening: path).root(),
              (try? root.readStringAttribute("key")) == key,
              let strata = try? root.dataset("stratum").read(as: Int64.self), strata.count == count else { return nil }
        return strata.map(Int.init)
    }

    /// Writes position-only draw chunk `chunk`'s strata (−1: not usable, −2: failed integration) atomically.
    public func storeDrawChunk(_ chunk: Int, key: String, strata: [Int]) throws {
        try HDF5File.writeAtomically(to: file(ofDrawChunk: chunk)) { root in
            try root.writeDataset("stratum", strata.map(Int64.init), shape: [strata.count])
            try root.writeAttribute("key", string: key)
        }
    }

    /// The folders this process has locked (rank 0's), and their lock descriptors.
    nonisolated(unsafe) static var heldLocks: [String: Int32] = [:]

    /// Removes the folder (after OUT is written), then releases its lock.
    public func remove() throws {
        do { try FileManager.default.removeItem(atPath: folder) } catch {
            throw ChainLogQCacheError("cannot remove \(folder) after the output was written: \(error.localizedDescription); remove it by hand")
        }
        if let fd = Self.heldLocks.removeValue(forKey: folder) { FolderLock.release(fd) }
    }

    static func describe(_ value: Any?) -> String {
        guard let value, !(value is NSNull) else { return "none" }
        return "\(value)"
    }

    /// What differs between two identity JSON objects (the run's and the folder's), key by key, in words.
    static func differences(_ stored: String, _ now: String) -> String {
        guard let a = try? JSONSerialization.jsonObject(with: Data(stored.utf8)) as? [String: Any],
              let b = try? JSONSerialization.jsonObject(with: Data(now.utf8)) as? [String: Any] else { return "run.json is not the expected JSON" }
        func text(_ value: Any?) -> String? {
            value.flatMap { try? JSONSerialization.data(withJSONObject: ["v": $0], options: [.sortedKeys]) }.map { String(decoding: $0, as: UTF8.self) }
        }
        var found: [String] = []
        for key in Set(a.keys).union(b.keys).sorted() where text(a[key]) != text(b[key]) {
            // Settings objects: name the setting (chain_settings.seed, ode_settings.steps) with both values.
            if let x = a[key] as? [String: Any], let y = b[key] as? [String: Any] {
                for inner in Set(x.keys).union(y.keys).sorted() where text(x[inner]) != text(y[inner]) {
                    found.append("\(key).\(inner) \(describe(x[inner])) → \(describe(y[inner]))")
                }
            } else {
                found.append("\(key) \(describe(a[key])) → \(describe(b[key]))")
            }
        }
        return found.isEmpty ? "run.json differs" : found.joined(separator: "; ")
    }
}

public struct ChainLogQCacheError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
