// Errors from the HDF5 wrapper, and the capture of libhdf5's own error stack.
//
// libhdf5 prints its error stack to stderr by default; we switch that off once and instead fold the
// innermost message (e.g. "unable to open file: name = 'x.h5', errno = 2, …") into an `HDF5Error`
// that names the file and the object, so the user sees one clear line.
import CHDF5

/// An HDF5 operation that failed, with the file and object it concerned.
public struct HDF5Error: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let object: String?
    public let message: String
    /// The innermost message of libhdf5's error stack, if it produced one.
    public let libraryDetail: String?

    public init(file: String, object: String? = nil, _ message: String, libraryDetail: String? = nil) {
        self.file = file
        self.object = object
        self.message = message
        self.libraryDetail = libraryDetail
    }

    public var description: String {
        var text = file
        if let object { text += ":\(object)" }
        text += ": \(message)"
        if let libraryDetail, !libraryDetail.isEmpty { text += " (HDF5: \(libraryDetail))" }
        return text
    }
}

/// Initialises libhdf5 once and silences its automatic stderr error printing.
let hdf5LibraryReady: Void = {
    H5open()
    H5Eset_auto2(swh5_e_default(), nil, nil)
}()

/// Reads and clears libhdf5's error stack, returning its innermost description.
func takeLibraryErrorDetail() -> String? {
    var messages: [String] = []
    withUnsafeMutablePointer(to: &messages) { pointer in
        _ = H5Ewalk2(swh5_e_default(), H5E_WALK_DOWNWARD, { _, error, context in
            if let description = error?.pointee.desc, let context {
                context.assumingMemoryBound(to: [String].self).pointee.append(String(cString: description))
            }
            return 0
        }, pointer)
    }
    H5Eclear2(swh5_e_default())
    return messages.last
}

/// Throws an `HDF5Error` when an HDF5 call returned a negative status or identifier.
@discardableResult
func check<T: BinaryInteger>(_ status: T, file: String, object: String?, _ message: @autoclosure () -> String) throws -> T {
    if status < 0 {
        throw HDF5Error(file: file, object: object, message(), libraryDetail: takeLibraryErrorDetail())
    }
    return status
}
