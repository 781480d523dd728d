// Owned HDF5 identifiers: files, groups and datasets close themselves when released.
//
// Every object remembers the file path and its path inside the file, so that any error can name
// both ("data/AD.h5:/coordinates: expected rank 3, found rank 2").
import CHDF5

/// An open HDF5 object (file, group or dataset). Attributes live here (HDF5Object+Attributes).
public class HDF5Object {
    let id: hid_t
    /// The file this object lives in, as given when it was opened.
    public let filePath: String
    /// The object's absolute path inside the file ("/" for the root group).
    public let path: String
    private let close: (hid_t) -> herr_t

    init(id: hid_t, filePath: String, path: String, close: @escaping (hid_t) -> herr_t) {
        self.id = id
        self.filePath = filePath
        self.path = path
        self.close = close
    }

    deinit { _ = close(id) }

    func error(_ message: String, detail: String? = takeLibraryErrorDetail()) -> HDF5Error {
        HDF5Error(file: filePath, object: path, message, libraryDetail: detail)
    }

    func childPath(_ name: String) -> String {
        if name.hasPrefix("/") { return name }
        return path == "/" ? "/" + name : path + "/" + name
    }
}


/// Runs `body` with the identifier and closes it afterwards.
func withID<R>(_ id: hid_t, close: (hid_t) -> herr_t, _ body: (hid_t) throws -> R) rethrows -> R {
    defer { if id >= 0 { _ = close(id) } }
    return try body(id)
}

/// The dimensions of a dataspace.
func dataspaceDimensions(_ space: hid_t) -> (dims: [Int], maxDims: [Int?]) {
    let rank = Int(H5Sget_simple_extent_ndims(space))
    guard rank > 0 else { return ([], []) }
    var dims = [hsize_t](repeating: 0, count: rank)
    var maxDims = [hsize_t](repeating: 0, count: rank)
    H5Sget_simple_extent_dims(space, &dims, &maxDims)
    let unlimited = swh5_unlimited()
    return (dims.map { Int($0) }, maxDims.map { $0 == unlimited ? nil : Int($0) })
}
