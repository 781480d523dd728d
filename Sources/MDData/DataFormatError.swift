// The error every reader of trajectory and dataset files throws: which file, what is wrong, what was
// expected, and (when useful) what to run to fix it.
import HDF5

public struct DataFormatError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let problem: String
    public let hint: String?

    public init(file: String, _ problem: String, hint: String? = nil) {
        self.file = file
        self.problem = problem
        self.hint = hint
    }

    /// Re-labels a lower-level HDF5 error as a data-format error about `file`.
    public init(_ error: HDF5Error) {
        var problem = error.object.map { "\($0): \(error.message)" } ?? error.message
        if let detail = error.libraryDetail, !detail.isEmpty { problem += " (HDF5: \(detail))" }
        self.init(file: error.file, problem)
    }

    public var description: String {
        var text = "\(file): \(problem)"
        if let hint { text += "\n  hint: \(hint)" }
        return text
    }
}

/// Runs `body`, turning HDF5 errors into `DataFormatError`s.
func formatErrors<R>(_ body: () throws -> R) throws -> R {
    do {
        return try body()
    } catch let error as HDF5Error {
        throw DataFormatError(error)
    }
}
