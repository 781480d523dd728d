// Groups: navigation (open, list, test for existence) and creation of children.
import CHDF5

public final class HDF5Group: HDF5Object {
    init(id: hid_t, filePath: String, path: String) {
        super.init(id: id, filePath: filePath, path: path, close: H5Gclose)
    }

    /// What a link inside a group points to.
    public enum ChildKind: Sendable, Equatable {
        case group
        case dataset
        case other
    }

    /// Whether `relativePath` ("a/b/c") resolves to an object; intermediate groups may be missing.
    public func contains(_ relativePath: String) -> Bool {
        var prefix = ""
        for component in relativePath.split(separator: "/") {
            prefix += prefix.isEmpty ? String(component) : "/" + component
            guard H5Lexists(id, prefix, swh5_p_default()) > 0 else {
                _ = takeLibraryErrorDetail()
                return false
            }
        }
        return H5Oexists_by_name(id, prefix, swh5_p_default()) > 0
    }

    /// The kind of object at `relativePath`, or nil if there is none.
    public func kind(of relativePath: String) -> ChildKind? {
        guard contains(relativePath) else { return nil }
        let objectID = H5Oopen(id, relativePath, swh5_p_default())
        guard objectID >= 0 else {
            _ = takeLibraryErrorDetail()
            return nil
        }
        defer { H5Oclose(objectID) }
        switch H5Iget_type(objectID) {
        case H5I_GROUP: return .group
        case H5I_DATASET: return .dataset
        default: return .other
        }
    }

    /// The names of the links in this group, in name order.
    public func childNames() throws -> [String] {
        var info = H5G_info_t()
        try check(H5Gget_info(id, &info), file: filePath, object: path, "cannot list group")
        var names: [String] = []
        for index in 0..<info.nlinks {
            let length = H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0, swh5_p_default())
            try check(length, file: filePath, object: path, "cannot read link name \(index)")
            var buffer = [CChar](repeating: 0, count: Int(length) + 1)
            H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, index, &buffer, buffer.count, swh5_p_default())
            names.append(String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return names
    }

    /// Opens the group at `relativePath`.
    public func group(_ relativePath: String) throws -> HDF5Group {
        guard kind(of: relativePath) == .group else {
            throw missing(relativePath, expected: "group")
        }
        let gid = H5Gopen2(id, relativePath, swh5_p_default())
        try check(gid, file: filePath, object: childPath(relativePath), "cannot open group")
        return HDF5Group(id: gid, filePath: filePath, path: childPath(relativePath))
    }

    /// Creates a group (and any missing intermediate groups).
    @discardableResult
    public func createGroup(_ relativePath: String) throws -> HDF5Group {
        let linkProperties = H5Pcreate(swh5_p_link_create())
        defer { H5Pclose(linkProperties) }
        H5Pset_create_intermediate_group(linkProperties, 1)
        let gid = H5Gcreate2(id, relativePath, linkProperties, swh5_p_default(), swh5_p_default())
        try check(gid, file: filePath, object: childPath(relativePath), "cannot create group")
        return HDF5Group(id: gid, filePath: filePath, path: childPath(relativePath))
    }

    /// Opens the dataset at `relativePath`.
    public func dataset(_ relativePath: String) throws -> HDF5Dataset {
        guard kind(of: relativePath) == .dataset else {
            throw missing(relativePath, expected: "dataset")
        }
        let did = H5Dopen2(id, relativePath, swh5_p_default())
        try check(did, file: filePath, object: childPath(relativePath), "cannot open dataset")
        return HDF5Dataset(id: did, filePath: filePath, path: childPath(relativePath))
    }

    /// Removes the link `relativePath` (the space is reclaimed only by repacking the file).
    public func remove(_ relativePath: String) throws {
        try check(H5Ldelete(id, relativePath, swh5_p_default()), file: filePath,
                  object: childPath(relativePath), "cannot delete link")
    }

    private func missing(_ relativePath: String, expected: String) -> HDF5Error {
        let found = kind(of: relativePath)
        let what = found.map { "found a \($0) where a \(expected) was expected" } ?? "no such \(expected)"
        return HDF5Error(file: filePath, object: childPath(relativePath), what)
    }
}
