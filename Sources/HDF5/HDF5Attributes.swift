// Attributes on files, groups and datasets: strings (fixed or variable length) and numbers.
import CHDF5

extension HDF5Object {
    /// Whether the object has an attribute `name`.
    public func hasAttribute(_ name: String) -> Bool {
        let exists = H5Aexists(id, name) > 0
        if !exists { _ = takeLibraryErrorDetail() }
        return exists
    }

    /// The names of all attributes, in creation order.
    public func attributeNames() throws -> [String] {
        let total = H5Aget_num_attrs(id)
        try check(total, file: filePath, object: path, "cannot count attributes")
        var names: [String] = []
        for index in 0..<Int(total) {
            let attribute = H5Aopen_by_idx(id, ".", H5_INDEX_CRT_ORDER, H5_ITER_INC, hsize_t(index), swh5_p_default(), swh5_p_default())
            let opened = attribute >= 0 ? attribute
                : H5Aopen_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(index), swh5_p_default(), swh5_p_default())
            try check(opened, file: filePath, object: path, "cannot open attribute \(index)")
            defer { H5Aclose(opened) }
            let length = H5Aget_name(opened, 0, nil)
            var buffer = [CChar](repeating: 0, count: Int(length) + 1)
            H5Aget_name(opened, buffer.count, &buffer)
            names.append(String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return names
    }

    /// The element kind of attribute `name`.
    public func attributeKind(_ name: String) throws -> HDF5ElementKind {
        try withAttribute(name) { attribute, _ in
            withID(H5Aget_type(attribute), close: H5Tclose) { HDF5ElementKind(typeID: $0) }
        }
    }

    /// Reads a string attribute (scalar or one-element array), fixed- or variable-length.
    public func readStringAttribute(_ name: String) throws -> String {
        let strings = try readStringArrayAttribute(name)
        guard strings.count == 1 else {
            throw error("attribute '\(name)': expected one string, found \(strings.count)", detail: nil)
        }
        return strings[0]
    }

    /// Reads a string attribute with any number of elements.
    public func readStringArrayAttribute(_ name: String) throws -> [String] {
        try withAttribute(name) { attribute, count in
            let fileType = H5Aget_type(attribute)
            defer { H5Tclose(fileType) }
            let kind = HDF5ElementKind(typeID: fileType)
            return try readStrings(
                fileType: fileType, count: count,
                context: { error("attribute '\(name)': expected a string, found \(kind)") },
                readRaw: { memoryType, buffer in H5Aread(attribute, memoryType, buffer) },
                reclaim: { memoryType, buffer in
                    withID(H5Aget_space(attribute), close: H5Sclose) { space in
                        _ = H5Dvlen_reclaim(memoryType, space, swh5_p_default(), buffer)
                    }
                })
        }
    }

    /// Reads a numeric attribute (scalar → one element), converting to `T`.
    public func readAttribute<T: HDF5Scalar>(_ name: String, as type: T.Type = T.self) throws -> [T] {
        try withAttribute(name) { attribute, count in
            let kind = try attributeKind(name)
            switch kind {
            case .float, .integer: break
            default: throw error("attribute '\(name)': expected a number to read as \(T.typeName), found \(kind)", detail: nil)
            }
            var values = [T](repeating: 0, count: count)
            try values.withUnsafeMutableBytes { buffer in
                _ = try check(H5Aread(attribute, T.memoryType, buffer.baseAddress), file: filePath, object: path,
                          "cannot read attribute '\(name)' as \(T.typeName)")
            }
            return values
        }
    }

    /// Writes (or replaces) a scalar string attribute.
    public func writeAttribute(_ name: String, string: String, storage: HDF5StringStorage = .fixedLength) throws {
        try withStringWriteBuffer([string], storage: storage) { type, buffer in
            try replaceAttribute(name, type: type, shape: nil, buffer: buffer)
        }
    }

    /// Writes (or replaces) a numeric attribute; one value is stored as a scalar, more as a 1-D array.
    public func writeAttribute<T: HDF5Scalar>(_ name: String, _ values: [T]) throws {
        try values.withUnsafeBytes { buffer in
            try replaceAttribute(name, type: T.fileType, shape: values.count == 1 ? nil : [values.count],
                                 buffer: buffer.baseAddress!, memoryType: T.memoryType)
        }
    }

    /// Removes attribute `name` if present (for editing files and for tests of older files).
    public func removeAttribute(_ name: String) throws {
        guard hasAttribute(name) else { return }
        try check(H5Adelete(id, name), file: filePath, object: path, "cannot remove attribute '\(name)'")
    }

    private func replaceAttribute(
        _ name: String, type: hid_t, shape: [Int]?, buffer: UnsafeRawPointer, memoryType: hid_t? = nil
    ) throws {
        if hasAttribute(name) {
            try check(H5Adelete(id, name), file: filePath, object: path, "cannot replace attribute '\(name)'")
        }
        var dims = (shape ?? []).map { hsize_t($0) }
        let space = shape == nil ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(dims.count), &dims, nil)
        defer { H5Sclose(space) }
        let attribute = H5Acreate2(id, name, type, space, swh5_p_default(), swh5_p_default())
        try check(attribute, file: filePath, object: path, "cannot create attribute '\(name)'")
        defer { H5Aclose(attribute) }
        try check(H5Awrite(attribute, memoryType ?? type, buffer), file: filePath, object: path,
                  "cannot write attribute '\(name)'")
    }

    private func withAttribute<R>(_ name: String, _ body: (hid_t, Int) throws -> R) throws -> R {
        guard hasAttribute(name) else { throw error("no attribute '\(name)'", detail: nil) }
        let attribute = H5Aopen(id, name, swh5_p_default())
        try check(attribute, file: filePath, object: path, "cannot open attribute '\(name)'")
        defer { H5Aclose(attribute) }
        let count = withID(H5Aget_space(attribute), close: H5Sclose) { space in
            Int(H5Sget_simple_extent_npoints(space))
        }
        return try body(attribute, count)
    }
}
