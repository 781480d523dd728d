// Outputs never overwrite inputs: an output path that names the same file as an input (the same
// path, or another path to the same inode through a link) is refused before anything is computed.
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
}
