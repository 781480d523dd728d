// An exclusive lock on a run's folder (flock on FOLDER/lock), held until released or until the
// process ends, so that a second run of the same output (started twice, a job array that repeats a
// task, a --resume while the first run still goes) is refused instead of writing the same files and
// removing the folder under the first. Used by `tbg sample` (OUT.chunks/, SampleChunks) and `tbg
// free-energy` (OUT.logq/, ChainLogQCache). The lock file holds the holder's pid and host, to be named.
import Foundation
import HDF5
#if canImport(Glibc)
import Glibc
private func systemOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { Glibc.open(path, flags, mode) }
private func systemClose(_ fd: Int32) { _ = Glibc.close(fd) }
private func systemWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int { Glibc.write(fd, bytes, count) }
#elseif canImport(Darwin)
import Darwin
private func systemOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { Darwin.open(path, flags, mode) }
private func systemClose(_ fd: Int32) { _ = Darwin.close(fd) }
private func systemWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int { Darwin.write(fd, bytes, count) }
#endif

public enum FolderLock {
    public enum Outcome {
        /// Locked: the descriptor to keep open (closing it releases the lock).
        case locked(Int32)
        /// Another process holds it: its line in the lock file ("pid P on HOST"; may be empty).
        case busy(holder: String)
        /// The filesystem does not lock files (some NFS and Lustre mounts): what to say; the run goes
        /// on, unprotected.
        case unsupported(String)
        /// The lock file cannot be opened.
        case failed(String)
    }

    /// Tries to lock `folder` (which must exist), without waiting.
    public static func acquire(_ folder: String) -> Outcome {
        let path = folder + "/lock"
        let fd = systemOpen(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return .failed("cannot open \(path) to lock the run: \(String(cString: strerror(errno)))") }
        var result = flock(fd, LOCK_EX | LOCK_NB)
        while result != 0 && errno == EINTR { result = flock(fd, LOCK_EX | LOCK_NB) }
        guard result == 0 else {
            let code = errno
            systemClose(fd)
            if code == EWOULDBLOCK {
                // The holder's line, as it wrote it (the lock itself ends with its process).
                return .busy(holder: (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "")
            }
            return .unsupported("\(path): this filesystem does not lock files (flock: \(String(cString: strerror(code)))), so a second run of this output at the same time would not be detected")
        }
        let line = "pid \(getpid()) on \(HDF5File.hostName)\n"
        _ = ftruncate(fd, 0)
        _ = line.withCString { systemWrite(fd, $0, strlen($0)) }
        return .locked(fd)
    }

    /// Releases a lock taken by `acquire` (nothing for a negative descriptor).
    public static func release(_ descriptor: Int32) {
        if descriptor >= 0 { systemClose(descriptor) }
    }
}
