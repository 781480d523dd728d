// Numeric datasets: creation (contiguous or chunked, optionally shuffle+deflate), whole reads,
// hyperslab reads and writes, and growth along the first dimension.
//
// Hyperslabs are given as (start, count) per dimension; `readRows` is the common case of a window of
// frames [a, b) over all remaining dimensions, which is how trajectories are streamed.
import CHDF5

public final class HDF5Dataset: HDF5Object {
    init(id: hid_t, filePath: String, path: String) {
        super.init(id: id, filePath: filePath, path: path, close: H5Dclose)
    }

    /// Current dimensions.
    public var shape: [Int] {
        withID(H5Dget_space(id), close: H5Sclose) { dataspaceDimensions($0).dims }
    }

    /// Maximum dimensions (`nil` = unlimited).
    public var maxShape: [Int?] {
        withID(H5Dget_space(id), close: H5Sclose) { dataspaceDimensions($0).maxDims }
    }

    /// Chunk dimensions, or nil for a contiguous or compact dataset.
    public var chunkShape: [Int]? {
        withID(H5Dget_create_plist(id), close: H5Pclose) { plist in
            guard H5Pget_layout(plist) == H5D_CHUNKED else { return nil }
            let rank = shape.count
            var dims = [hsize_t](repeating: 0, count: max(rank, 1))
            H5Pget_chunk(plist, Int32(rank), &dims)
            return dims.prefix(rank).map { Int($0) }
        }
    }

    /// The element type stored in the file.
    public var elementKind: HDF5ElementKind {
        withID(H5Dget_type(id), close: H5Tclose) { HDF5ElementKind(typeID: $0) }
    }

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// Reads the whole dataset, converting to `T`.
    public func read<T: HDF5Scalar>(as type: T.Type = T.self) throws -> [T] {
        try read(start: shape.map { _ in 0 }, count: shape)
    }

    /// Reads the hyperslab `start ..< start + count` (per dimension), row-major.
    public func read<T: HDF5Scalar>(start: [Int], count: [Int], as type: T.Type = T.self) throws -> [T] {
        let total = count.reduce(1, *)
        var values = [T](repeating: 0, count: total)
        try values.withUnsafeMutableBufferPointer { try read(into: $0, start: start, count: count) }
        return values
    }

    /// Reads rows `rows` of the first dimension, all of every other dimension.
    public func readRows<T: HDF5Scalar>(_ rows: Range<Int>, as type: T.Type = T.self) throws -> [T] {
        var start = shape.map { _ in 0 }
        var count = shape
        guard !count.isEmpty else { throw error("cannot take rows of a scalar dataset", detail: nil) }
        start[0] = rows.lowerBound
        count[0] = rows.count
        return try read(start: start, count: count)
    }

    /// Reads a hyperslab into caller-owned memory (no allocation; for streaming loops).
    public func read<T: HDF5Scalar>(into buffer: UnsafeMutableBufferPointer<T>, start: [Int], count: [Int]) throws {
        try requireNumeric(T.self)
        try validateSlab(start: start, count: count)
        let total = count.reduce(1, *)
        guard buffer.count >= total else {
            throw error("buffer of \(buffer.count) elements is too small for a slab of \(total)", detail: nil)
        }
        if total == 0 { return }
        try withSelection(start: start, count: count) { memorySpace, fileSpace in
            try check(H5Dread(id, T.memoryType, memorySpace, fileSpace, swh5_p_default(), buffer.baseAddress),
                      file: filePath, object: path, "cannot read \(T.typeName) slab start \(start) count \(count)")
        }
    }

    /// Writes the whole dataset.
    public func write<T: HDF5Scalar>(_ values: [T]) throws {
        try write(values, start: shape.map { _ in 0 }, count: shape)
    }

    /// Writes the hyperslab `start ..< start + count`.
    public func write<T: HDF5Scalar>(_ values: [T], start: [Int], count: [Int]) throws {
        try requireNumeric(T.self)
        try validateSlab(start: start, count: count)
        let total = count.reduce(1, *)
        guard values.count == total else {
            throw error("writing \(values.count) values into a slab of \(total) (count \(count))", detail: nil)
        }
        if total == 0 { return }
        try withSelection(start: start, count: count) { memorySpace, fileSpace in
            try values.withUnsafeBufferPointer { pointer in
                try check(H5Dwrite(id, T.memoryType, memorySpace, fileSpace, swh5_p_default(), pointer.baseAddress),
                          file: filePath, object: path, "cannot write \(T.typeName) slab start \(start) count \(count)")
            }
        }
    }

    /// Grows the first dimension by `values.count / rowSize` rows and writes them at the end.
    /// The dataset must be chunked with an unlimited (or large enough) first maximum dimension.
    public func appendRows<T: HDF5Scalar>(_ values: [T]) throws {
        var dims = shape
        guard !dims.isEmpty else { throw error("cannot append to a scalar dataset", detail: nil) }
        let rowSize = dims.dropFirst().reduce(1, *)
        guard rowSize > 0, values.count % rowSize == 0 else {
            throw error("appending \(values.count) values: not a whole number of rows of \(rowSize)", detail: nil)
        }
        let oldRows = dims[0]
        dims[0] += values.count / rowSize
        var newDims = dims.map { hsize_t($0) }
        try check(H5Dset_extent(id, &newDims), file: filePath, object: path,
                  "cannot extend to \(dims) (is it chunked with an unlimited first dimension?)")
        var start = dims.map { _ in 0 }
        start[0] = oldRows
        var count = dims
        count[0] = values.count / rowSize
        try write(values, start: start, count: count)
    }

    private func requireNumeric<T: HDF5Scalar>(_ type: T.Type) throws {
        let kind = elementKind
        switch kind {
        case .float, .integer: return
        default: throw error("expected numeric data to read as \(T.typeName), found \(kind)", detail: nil)
        }
    }

    private func validateSlab(start: [Int], count: [Int]) throws {
        let dims = shape
        guard start.count == dims.count, count.count == dims.count else {
            throw error("slab of rank \(start.count) on a dataset of shape \(dims)", detail: nil)
        }
        for axis in 0..<dims.count where start[axis] < 0 || count[axis] < 0 || start[axis] + count[axis] > dims[axis] {
            throw error("slab start \(start) count \(count) is outside the shape \(dims)", detail: nil)
        }
    }

    private func withSelection(start: [Int], count: [Int], _ body: (hid_t, hid_t) throws -> Void) throws {
        let fileSpace = H5Dget_space(id)
        defer { H5Sclose(fileSpace) }
        var memoryDims = count.map { hsize_t($0) }
        if !count.isEmpty {
            var offset = start.map { hsize_t($0) }
            try check(H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &offset, nil, &memoryDims, nil),
                      file: filePath, object: path, "cannot select slab")
        }
        let memorySpace = count.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(count.count), &memoryDims, nil)
        defer { H5Sclose(memorySpace) }
        try body(memorySpace, fileSpace)
    }
}

/// How a new dataset is laid out on disk.
public struct HDF5StorageLayout: Sendable {
    /// Chunk dimensions; required when any maximum dimension is unlimited or compression is on.
    public var chunk: [Int]?
    /// Deflate (zlib) level 1–9 with the byte-shuffle filter, as MDTraj/PyTables write; nil = none.
    public var compressionLevel: Int?

    public init(chunk: [Int]? = nil, compressionLevel: Int? = nil) {
        self.chunk = chunk
        self.compressionLevel = compressionLevel
    }

    public static let contiguous = HDF5StorageLayout()
}

extension HDF5Group {
    /// Creates a numeric dataset of `shape`; `maxShape` entries of nil are unlimited.
    public func createDataset<T: HDF5Scalar>(
        _ name: String, of type: T.Type, shape: [Int], maxShape: [Int?]? = nil,
        layout: HDF5StorageLayout = .contiguous
    ) throws -> HDF5Dataset {
        try createDataset(name, fileType: T.fileType, shape: shape, maxShape: maxShape, layout: layout)
    }

    /// Creates a dataset and writes `values` (row-major, `shape.reduce(1,*)` elements) into it.
    @discardableResult
    public func writeDataset<T: HDF5Scalar>(
        _ name: String, _ values: [T], shape: [Int], maxShape: [Int?]? = nil,
        layout: HDF5StorageLayout = .contiguous
    ) throws -> HDF5Dataset {
        let dataset = try createDataset(name, of: T.self, shape: shape, maxShape: maxShape, layout: layout)
        try dataset.write(values)
        return dataset
    }

    func createDataset(
        _ name: String, fileType: hid_t, shape: [Int], maxShape: [Int?]?, layout: HDF5StorageLayout
    ) throws -> HDF5Dataset {
        let target = childPath(name)
        let unlimited = swh5_unlimited()
        var dims = shape.map { hsize_t($0) }
        var maxDims = (maxShape ?? shape.map { Optional($0) }).map { $0.map { hsize_t($0) } ?? unlimited }
        guard maxDims.count == dims.count else {
            throw HDF5Error(file: filePath, object: target, "maxShape \(String(describing: maxShape)) does not match shape \(shape)")
        }
        let space = shape.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(dims.count), &dims, &maxDims)
        try check(space, file: filePath, object: target, "cannot create dataspace \(shape)")
        defer { H5Sclose(space) }
        let plist = H5Pcreate(swh5_p_dataset_create())
        defer { H5Pclose(plist) }
        if let chunk = layout.chunk ?? defaultChunk(shape: shape, maxDims: maxDims, layout: layout) {
            guard chunk.count == shape.count, chunk.allSatisfy({ $0 > 0 }) else {
                throw HDF5Error(file: filePath, object: target, "chunk \(chunk) does not fit shape \(shape)")
            }
            var chunkDims = chunk.map { hsize_t($0) }
            try check(H5Pset_chunk(plist, Int32(chunk.count), &chunkDims), file: filePath, object: target, "cannot set chunk \(chunk)")
            if let level = layout.compressionLevel {
                H5Pset_shuffle(plist)
                try check(H5Pset_deflate(plist, UInt32(level)), file: filePath, object: target, "cannot set deflate level \(level)")
            }
        }
        let linkProperties = H5Pcreate(swh5_p_link_create())
        defer { H5Pclose(linkProperties) }
        H5Pset_create_intermediate_group(linkProperties, 1)
        let did = H5Dcreate2(id, name, fileType, space, linkProperties, plist, swh5_p_default())
        try check(did, file: filePath, object: target, "cannot create dataset of shape \(shape)")
        return HDF5Dataset(id: did, filePath: filePath, path: target)
    }

    /// A chunk is needed for unlimited dimensions and for filters; pick rows of about 64 KiB.
    private func defaultChunk(shape: [Int], maxDims: [hsize_t], layout: HDF5StorageLayout) -> [Int]? {
        let needsChunk = layout.compressionLevel != nil || maxDims.contains(swh5_unlimited())
        guard needsChunk, !shape.isEmpty else { return nil }
        let rowElements = max(1, shape.dropFirst().reduce(1, *))
        let rows = max(1, min(max(shape[0], 1), 65536 / (4 * rowElements)))
        return [rows] + shape.dropFirst().map { max($0, 1) }
    }
}
