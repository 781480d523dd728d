// Outputs never overwrite inputs: an output path that names the same file as an input (the same
// path, or another path to the same inode through a link) is refused before anything is computed,
// and so is an output that cannot be a new file (a directory, or in a directory that does not exist).
// Nothing already written is lost: an existing output is replaced only when the user says so
// (--overwrite).
import Foundation
import MDData

enum OutputPath {
    /// - Throws: `DataFormatError` naming `output` and the input it would replace.
    static func checkDistinct(_ output: String, from inputs: [String]) throws {
        let target = URL(fileURLWithPath: output).standardizedFileURL.resolvingSymlinksInPath().path
        var outputStatus = stat()
        let outputExists = stat(output, &outputStatus) == 0
        for input in inputs {
            var inputStatus = stat()
            let sameInode = outputExists && stat(input, &inputStatus) == 0
                && inputStatus.st_dev == outputStatus.st_dev && inputStatus.st_ino == outputStatus.st_ino
            if sameInode || URL(fileURLWithPath: input).standardizedFileURL.resolvingSymlinksInPath().path == target {
                throw DataFormatError(file: output, "is also an input (\(input)); the output must be a new file, inputs are never overwritten")
            }
        }
    }

    /// The checks of a new output file: not an input, a path it can be written to, and (unless
    /// `overwrite`) no file there yet.
    static func checkNewFile(_ output: String, from inputs: [String], overwrite: Bool) throws {
        try checkDistinct(output, from: inputs)
        try checkFileInExistingDirectory(output)
        if !overwrite { try checkNotExisting(output, option: "--out") }
    }

    /// - Throws: `DataFormatError` when `output` exists: a finished result (samples that took hours,
    ///   a trained checkpoint) is never replaced unless the user passes --overwrite. The message
    ///   says what is there (size, modification time) and the three ways on.
    ///   Both the path as given and its lexically normalised form are checked: "missing/../x.h5"
    ///   does not exist as given, but the writers (which create missing folders, or normalise the
    ///   path) would land on x.h5.
    static func checkNotExisting(_ output: String, option: String, alternative: String? = nil) throws {
        var status = stat()
        guard lstat(output, &status) == 0 || lstat(normalized(output), &status) == 0 else { return }
        let modified = Date(timeIntervalSince1970: TimeInterval(status.st_mtim.tv_sec))
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        let what = "exists already (\(status.st_size) bytes, modified \(formatter.string(from: modified)))"
        throw DataFormatError(file: output, "\(what) and is not replaced: \(alternative.map { $0 + ", " } ?? "")choose another \(option), remove the file, or pass --overwrite to replace it")
    }

    /// - Throws: `DataFormatError` unless `output` can become a new regular file: it must be a
    ///   non-empty path that does not end in "/", is not an existing directory, device or other
    ///   non-regular file (the atomic write renames onto it, which would replace /dev/null), and lies
    ///   in an existing directory this process may write to. Checked before any work, so that a long
    ///   run does not end with an output it cannot write.
    static func checkFileInExistingDirectory(_ output: String) throws {
        guard !output.isEmpty else { throw DataFormatError(file: "--out", "is empty; expected the path of a new .h5 file") }
        guard !output.hasSuffix("/") else {
            throw DataFormatError(file: output, "ends in '/'; expected the path of a file, for example \(output)out.h5")
        }
        try checkKind(output)
        // The folder as written: "missing/../x.h5" has no folder until "missing" exists, whatever
        // the lexically normalised path says.
        let written = (output as NSString).deletingLastPathComponent
        let parent = written.isEmpty ? "." : written
        var parentStatus = stat()
        guard stat(parent, &parentStatus) == 0, parentStatus.st_mode & S_IFMT == S_IFDIR else {
            throw DataFormatError(file: output, "cannot be written: its directory \(parent) does not exist")
        }
        guard access(parent, W_OK) == 0 else {
            throw DataFormatError(file: output, "cannot be written: no permission to create files in \(parent)")
        }
    }

    /// - Throws: `DataFormatError` when `output` (as given, or lexically normalised) exists and is
    ///   a directory or another non-regular file: a file is renamed onto the path at the end of
    ///   the work, which would fail (a directory) or replace a device. `allowLinks`: a symbolic
    ///   link is accepted (a training checkpoint continued through a link).
    static func checkKind(_ output: String, allowLinks: Bool = false) throws {
        var status = stat()
        if lstat(output, &status) == 0 || lstat(normalized(output), &status) == 0 {
            let kind = status.st_mode & S_IFMT
            if kind == S_IFDIR {
                throw DataFormatError(file: output, "is a directory; the output must be a file path (for example \((output as NSString).appendingPathComponent("out.h5")))")
            }
            guard kind == S_IFREG || (allowLinks && kind == S_IFLNK) else {
                throw DataFormatError(file: output, "exists and is not a regular file (a device, pipe, socket or link); the output is written to a temporary file and renamed onto its path, which would replace it: choose a file path")
            }
        }
    }

    /// `path` with "." and ".." resolved lexically (symbolic links are not followed), absolute.
    static func normalized(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }
}
