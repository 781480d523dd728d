// Outputs never overwrite inputs: an output path that names the same file as an input (the same
// path, or another path to the same inode through a link) is refused before anything is computed,
// and so is an output that cannot be a new file (a directory, or in a directory that does not exist).
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

    /// - Throws: `DataFormatError` when `output` is a directory or its directory does not exist,
    ///   so that a long run does not end with an output it cannot write.
    static func checkFileInExistingDirectory(_ output: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory), isDirectory.boolValue {
            throw DataFormatError(file: output, "is a directory; the output must be a file path (for example \((output as NSString).appendingPathComponent("out.h5")))")
        }
        let parent = URL(fileURLWithPath: output).deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DataFormatError(file: output, "cannot be written: its directory \(parent) does not exist")
        }
    }
}
