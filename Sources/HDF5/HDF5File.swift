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
        guard H5Fis_hdf5(path) > 0 else {
            _ = takeLibraryErrorDetail()
            throw HDF5Error(file: path, "not an HDF5 file")
        }
        let flags = mode == .readOnly ? swh5_acc_rdonly() : swh5_acc_rdwr()
        let id = H5Fopen(path, flags, swh5_p_default())
        try check(id, file: path, object: nil, "cannot open HDF5 file")
        super.init(id: id, filePath: path, path: "/", close: H5Fclose)
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

    /// Creates `path` without ever exposing a partial file under that name: `body` writes into a
    /// temporary file in the same directory, which is flushed and renamed over `path` only if
    /// `body` returns normally. On any error the temporary file is removed and `path` is untouched.
    public static func writeAtomically(to path: String, _ body: (HDF5Group) throws -> Void) throws {
        let temporaryPath = "\(path).partial-\(getpid())"
        do {
            // The file object lives only inside this scope, so it is closed before the rename.
            try {
                let file = try HDF5File(creating: temporaryPath, overwrite: true)
                try body(try file.root())
                try file.flush()
            }()
            guard rename(temporaryPath, path) == 0 else {
                let reason = String(cString: strerror(errno))
                throw HDF5Error(file: path, "cannot rename \(temporaryPath) to its final name: \(reason)")
            }
        } catch {
            unlink(temporaryPath)
            throw error
        }
    }
}
