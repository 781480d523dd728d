// An HDF5 file: create, open read-only or read-write, and write-to-temporary-then-rename.
import CHDF5

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class HDF5File: HDF5Object {
    public enum Mode: Sendable {
        case readOnly
        case readWrite
    }

    /// Opens an existing file.
    public init(opening path: String, mode: Mode = .readOnly) throws {
        _ = hdf5LibraryReady
        guard access(path, F_OK) == 0 else {
            throw HDF5Error(file: path, "no such file")
        }
        if Self.isDirectory(path) {
            throw HDF5Error(file: path, "is a directory, not an HDF5 file")
        }
        guard H5Fis_hdf5(path) > 0 else {
            _ = takeLibraryErrorDetail()
            if Self.fileSize(path) == 0 {
                throw HDF5Error(file: path, "is empty (0 bytes): a file created but never written, or an interrupted copy or write")
            }
            // The signature without the rest of the superblock: a file cut short, not another format.
            if let needed = Self.superblockBytes(path), let size = Self.fileSize(path), size < needed {
                throw HDF5Error(file: path, Self.openFailure(detail: nil, size: size, superblockBytes: needed))
            }
            throw HDF5Error(file: path, "not an HDF5 file")
        }
        let flags = mode == .readOnly ? swh5_acc_rdonly() : swh5_acc_rdwr()
        let id = H5Fopen(path, flags, swh5_p_default())
        if id < 0 {
            let detail = takeLibraryErrorDetail()
            throw HDF5Error(file: path, Self.openFailure(detail: detail, size: Self.fileSize(path), superblockBytes: Self.superblockBytes(path)),
                            libraryDetail: detail)
        }
        super.init(id: id, filePath: path, path: "/", close: H5Fclose)
    }

    /// Why an existing HDF5 file (it has the signature) did not open, in words: a file cut short
    /// (an interrupted copy or download, a full disk) says so with its size and the size its
    /// superblock records, from libhdf5's "truncated file: eof = …, stored_eof = …".
    /// A file shorter than its own superblock (`superblockBytes`: what its version needs) is
    /// truncated too, though libhdf5 then only says that it cannot read the superblock.
    static func openFailure(detail: String?, size: Int?, superblockBytes: Int? = nil) -> String {
        if let size, let superblockBytes, size < superblockBytes {
            return "is truncated: it has \(size) bytes, fewer than the \(superblockBytes) of its HDF5 superblock (an interrupted copy, download or write; copy it again from where it came from)"
        }
        guard let detail, detail.contains("truncated file") else {
            return "cannot open HDF5 file (it has the HDF5 signature, but libhdf5 cannot read it: damaged, or being written)"
        }
        // "truncated file: eof = 2000000, sblock->base_addr = 0, stored_eof = 2637788"
        func number(after key: String) -> Int? {
            for part in detail.split(separator: ",") {
                let pair = part.split(separator: "=")
                guard pair.count == 2, pair[0].split(separator: " ").last.map(String.init) == key else { continue }
                return Int(pair[1].filter { $0.isNumber })
            }
            return nil
        }
        let have = number(after: "eof") ?? size
        if let have, let stored = number(after: "stored_eof") {
            return "is truncated: it has \(have) bytes, its HDF5 superblock says \(stored) (an interrupted copy, download or write; copy it again from where it came from)"
        }
        return "is truncated (an interrupted copy, download or write; copy it again from where it came from)"
    }

    /// The bytes a complete superblock of the file's version takes (HDF5 File Format Specification
    /// §II.A, with 8-byte offsets and lengths: version 0 96 including the root group's symbol-table
    /// entry, 1 100, 2 and 3 48), from the version byte after the signature at offset 0; nil when
    /// it cannot be read or is unknown (a user block moves the signature: libhdf5 decides then).
    static func superblockBytes(_ path: String) -> Int? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var head = [UInt8](repeating: 0, count: 9)
        let read = fread(&head, 1, 9, file)
        guard read >= 8, head[0..<8] == [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a] else { return nil }
        guard read == 9 else { return 48 }  // the signature alone: at least the smallest superblock is missing
        switch head[8] {
        case 0: return 96
        case 1: return 100
        case 2, 3: return 48
        default: return nil
        }
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func fileSize(_ path: String) -> Int? {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : nil
    }

    /// Creates a new file; an existing file is replaced only when `overwrite` is true.
    public init(creating path: String, overwrite: Bool = false) throws {
        _ = hdf5LibraryReady
        let flags = overwrite ? swh5_acc_trunc() : swh5_acc_excl()
        let id = H5Fcreate(path, flags, swh5_p_default(), swh5_p_default())
        try check(id, file: path, object: nil,
                  overwrite ? "cannot create HDF5 file" : "cannot create HDF5 file (does it already exist?)")
        super.init(id: id, filePath: path, path: "/", close: H5Fclose)
    }

    /// The root group "/".
    public func root() throws -> HDF5Group {
        let gid = H5Gopen2(id, "/", swh5_p_default())
        try check(gid, file: filePath, object: "/", "cannot open root group")
        return HDF5Group(id: gid, filePath: filePath, path: "/")
    }

    /// Writes buffered data to disk.
    public func flush() throws {
        try check(H5Fflush(id, H5F_SCOPE_GLOBAL), file: filePath, object: nil, "cannot flush file")
    }

    /// Creates `path` without ever exposing a partial file under that name, durably: `body` writes
    /// into `partialPath(for: path)` in the same directory (named by host and process, so that on a
    /// shared filesystem every writer can tell its own files from other live processes' ones), which
    /// is closed, `fsync`ed, renamed over `path` and followed by an `fsync` of the directory, so that
    /// after a crash of the node `path` holds the old file or the new one, whole, never an empty or
    /// truncated file. On any error the partial file is removed and `path` is untouched. Stale
    /// partial files of earlier writers of `path` on this host are removed first
    /// (`removeStalePartials`).
    /// - Throws: the error of `body`, or an `HDF5Error` naming `path` when the file cannot be
    ///   created, synced or renamed.
    public static func writeAtomically(to path: String, _ body: (HDF5Group) throws -> Void) throws {
        _ = removeStalePartials(for: path)
        let temporaryPath = partialPath(for: path)
        do {
            // The file object lives only inside this scope, so it is closed before the sync and rename.
            try {
                let file = try HDF5File(creating: temporaryPath, overwrite: true)
                try body(try file.root())
                try file.flush()
            }()
            try synchronize(temporaryPath, what: "the written file", final: path)
            guard rename(temporaryPath, path) == 0 else {
                let reason = String(cString: strerror(errno))
                throw HDF5Error(file: path, "cannot rename \(temporaryPath) to its final name: \(reason)")
            }
        } catch {
            unlink(temporaryPath)
            throw error
        }
        try synchronize(directory(of: path), what: "its directory (the file is complete under its final name, but the rename may not survive a crash)", final: path)
    }

    /// The name `writeAtomically` writes `path` under: `<path>.partial-<host>-<pid>`.
    public static func partialPath(for path: String, host: String = HDF5File.hostName, pid: Int32 = getpid()) -> String {
        "\(path).partial-\(host)-\(pid)"
    }

    /// This machine's host name (`gethostname`), as partial file names carry it.
    public static let hostName: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }()

    /// Removes the partial files of `path` (`partialPath(for:)` names) that a writer on this host
    /// left behind when it was killed: those whose process is no longer running, or carries this
    /// process's id (a reused id: this process is not writing `path` while it calls this). Partial
    /// files of other hosts and of live processes are never touched.
    /// - Returns: the paths removed.
    @discardableResult
    public static func removeStalePartials(for path: String) -> [String] {
        let folder = directory(of: path)
        let prefix = (path.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? path)
            + ".partial-\(hostName)-"
        guard let stream = opendir(folder) else { return [] }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasPrefix(prefix) { names.append(name) }
        }
        closedir(stream)
        var removed: [String] = []
        for name in names {
            let digits = name.dropFirst(prefix.count)
            guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), let pid = Int32(digits) else { continue }
            guard pid == getpid() || !isRunning(pid) else { continue }
            let stale = folder == "." && !path.hasPrefix("./") ? name : folder + "/" + name
            if unlink(stale) == 0 { removed.append(stale) }
        }
        return removed
    }

    /// Whether process `pid` exists on this host and is not a zombie (a killed process whose parent
    /// has not collected it yet still answers `kill(pid, 0)`, but can no longer write).
    static func isRunning(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        #if os(Linux)
        let descriptor = open("/proc/\(pid)/stat", O_RDONLY)
        guard descriptor >= 0 else { return true }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 1024)
        let count = read(descriptor, &buffer, buffer.count)
        guard count > 0 else { return true }
        // "pid (command) S …": the state is the first field after the last ')'.
        let text = buffer.prefix(count)
        guard let paren = text.lastIndex(of: UInt8(ascii: ")")), paren + 2 < count else { return true }
        return text[paren + 2] != UInt8(ascii: "Z")
        #else
        return true
        #endif
    }

    /// The directory holding `path` ("." for a bare file name).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// `fsync` of a file or directory. A filesystem that cannot sync directories (EINVAL) is accepted.
    private static func synchronize(_ target: String, what: String, final path: String) throws {
        let descriptor = open(target, O_RDONLY)
        guard descriptor >= 0 else {
            throw HDF5Error(file: path, "cannot open \(what) to sync it (\(target)): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        if fsync(descriptor) != 0 && errno != EINVAL {
            throw HDF5Error(file: path, "cannot fsync \(what) (\(target)): \(String(cString: strerror(errno)))")
        }
    }
}
