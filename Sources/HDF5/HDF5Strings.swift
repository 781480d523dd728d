// String datasets and attributes, fixed-length and variable-length.
//
// MDTraj/PyTables write every string fixed-length (`S<n>`, NUL-padded), h5py writes Python `str` as
// variable-length UTF-8. We read both. We write fixed-length NUL-padded by default, because that is
// what MDTraj reads and what serial HDF5 1.10 converts without surprises; HDF5 1.10 has no ASCII↔UTF-8
// conversion path, so the memory type always copies the character set of the file type.
import CHDF5

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How strings are stored when written.
public enum HDF5StringStorage: Sendable {
    /// `S<n>`, NUL-padded, n = longest UTF-8 byte count (MDTraj/numpy style).
    case fixedLength
    /// Variable-length UTF-8 (h5py's default for Python `str`).
    case variableLength
}

/// Reads the strings held by a dataset or attribute of `fileType` through `readRaw(memoryType, buffer)`.
func readStrings(
    fileType: hid_t, count: Int, context: () -> HDF5Error,
    readRaw: (hid_t, UnsafeMutableRawPointer) -> herr_t, reclaim: (hid_t, UnsafeMutableRawPointer) -> Void
) throws -> [String] {
    guard H5Tget_class(fileType) == H5T_STRING else {
        _ = takeLibraryErrorDetail()
        throw context()
    }
    let memoryType = H5Tcopy(swh5_c_s1())
    defer { H5Tclose(memoryType) }
    H5Tset_cset(memoryType, H5Tget_cset(fileType))
    if H5Tis_variable_str(fileType) > 0 {
        H5Tset_size(memoryType, swh5_variable())
        var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
        let status = pointers.withUnsafeMutableBytes { readRaw(memoryType, $0.baseAddress!) }
        guard status >= 0 else { throw context() }
        let strings = pointers.map { $0.map { String(cString: $0) } ?? "" }
        pointers.withUnsafeMutableBytes { reclaim(memoryType, $0.baseAddress!) }
        return strings
    }
    let size = Int(H5Tget_size(fileType))
    H5Tset_size(memoryType, size)
    H5Tset_strpad(memoryType, H5Tget_strpad(fileType))
    var bytes = [UInt8](repeating: 0, count: max(1, size * count))
    let status = bytes.withUnsafeMutableBytes { readRaw(memoryType, $0.baseAddress!) }
    guard status >= 0 else { throw context() }
    let spacePadded = H5Tget_strpad(fileType) == H5T_STR_SPACEPAD
    return (0..<count).map { index in
        var element = bytes[(index * size)..<((index + 1) * size)]
        if let nul = element.firstIndex(of: 0) { element = element[..<nul] }
        if spacePadded { while element.last == 0x20 { element = element.dropLast() } }
        return String(decoding: element, as: UTF8.self)
    }
}

/// Builds the file type and the write buffer for `strings`; `body` receives (type, buffer pointer).
func withStringWriteBuffer<R>(
    _ strings: [String], storage: HDF5StringStorage, _ body: (hid_t, UnsafeRawPointer) throws -> R
) rethrows -> R {
    let type = H5Tcopy(swh5_c_s1())
    defer { H5Tclose(type) }
    let isASCII = strings.allSatisfy { $0.utf8.allSatisfy { $0 < 0x80 } }
    H5Tset_cset(type, isASCII && storage == .fixedLength ? H5T_CSET_ASCII : H5T_CSET_UTF8)
    switch storage {
    case .variableLength:
        H5Tset_size(type, swh5_variable())
        let copies = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        return try copies.withUnsafeBytes { try body(type, $0.baseAddress!) }
    case .fixedLength:
        let length = max(1, strings.map { $0.utf8.count }.max() ?? 1)
        H5Tset_size(type, length)
        H5Tset_strpad(type, H5T_STR_NULLPAD)
        var bytes = [UInt8](repeating: 0, count: length * max(1, strings.count))
        for (index, string) in strings.enumerated() {
            bytes.replaceSubrange((index * length)..<(index * length + string.utf8.count), with: string.utf8)
        }
        return try bytes.withUnsafeBytes { try body(type, $0.baseAddress!) }
    }
}

extension HDF5Dataset {
    /// Reads a string dataset (fixed- or variable-length) as an array in row-major order.
    public func readStrings() throws -> [String] {
        let fileType = H5Dget_type(id)
        defer { H5Tclose(fileType) }
        let kind = HDF5ElementKind(typeID: fileType)
        let total = count
        return try HDF5.readStrings(
            fileType: fileType, count: total,
            context: { error("expected a string dataset, found \(kind)") },
            readRaw: { memoryType, buffer in
                H5Dread(id, memoryType, H5S_ALL, H5S_ALL, swh5_p_default(), buffer)
            },
            reclaim: { memoryType, buffer in
                withID(H5Dget_space(id), close: H5Sclose) { space in
                    _ = H5Dvlen_reclaim(memoryType, space, swh5_p_default(), buffer)
                }
            })
    }
}

extension HDF5Group {
    /// Writes a 1-D string dataset of `strings.count` elements.
    @discardableResult
    public func writeStringDataset(
        _ name: String, _ strings: [String], storage: HDF5StringStorage = .fixedLength
    ) throws -> HDF5Dataset {
        try withStringWriteBuffer(strings, storage: storage) { type, buffer in
            let dataset = try createDataset(name, fileType: type, shape: [strings.count], maxShape: nil, layout: .contiguous)
            try check(H5Dwrite(dataset.id, type, H5S_ALL, H5S_ALL, swh5_p_default(), buffer),
                      file: filePath, object: dataset.path, "cannot write \(strings.count) strings")
            return dataset
        }
    }
}
