// Swift writes → Swift reads: every dataset layout, type, string storage and attribute kind the
// wrapper can write comes back unchanged; hyperslab windows equal slices of the full read.
import HDF5
import TestSupport
import XCTest

final class RoundTripTests: XCTestCase {
    private var scratch: ScratchDirectory!

    override func setUpWithError() throws { scratch = try ScratchDirectory("hdf5") }
    override func tearDown() { scratch.remove() }

    func testNumericDatasetsRoundTripWithLayoutAndAttributes() throws {
        let path = scratch.file("numbers.h5")
        let frames = (0..<(50 * 7 * 3)).map { Float($0) * 0.25 - 3 }
        do {
            let root = try HDF5File(creating: path).root()
            let coordinates = try root.writeDataset(
                "coordinates", frames, shape: [50, 7, 3], maxShape: [nil, 7, 3],
                layout: HDF5StorageLayout(chunk: [8, 7, 3], compressionLevel: 4))
            try coordinates.writeAttribute("units", string: "nanometers")
            try root.writeDataset("nested/deeper/doubles", [1.5, -2.25, .pi], shape: [3])
            try root.writeDataset("ints", [Int32.min, 0, Int32.max], shape: [3])
            try root.writeDataset("longs", [Int64.min, 7], shape: [2])
            try root.writeDataset("bytes", [UInt8(0), 255], shape: [2])
            try root.writeAttribute("count", [Int64(42)])
            try root.writeAttribute("weights", [0.5, 0.25])
        }
        let root = try HDF5File(opening: path).root()
        let coordinates = try root.dataset("coordinates")
        XCTAssertEqual(coordinates.shape, [50, 7, 3])
        XCTAssertEqual(coordinates.maxShape, [nil, 7, 3])
        XCTAssertEqual(coordinates.chunkShape, [8, 7, 3])
        XCTAssertEqual(try coordinates.read(as: Float.self), frames)
        XCTAssertEqual(try coordinates.readStringAttribute("units"), "nanometers")
        XCTAssertEqual(try root.group("nested").dataset("deeper/doubles").read(as: Double.self), [1.5, -2.25, .pi])
        XCTAssertEqual(try root.dataset("ints").read(as: Int32.self), [Int32.min, 0, Int32.max])
        XCTAssertEqual(try root.dataset("longs").read(as: Int64.self), [Int64.min, 7])
        XCTAssertEqual(try root.dataset("bytes").read(as: UInt8.self), [0, 255])
        XCTAssertEqual(try root.readAttribute("count", as: Int64.self), [42])
        XCTAssertEqual(try root.readAttribute("weights", as: Double.self), [0.5, 0.25])
        XCTAssertEqual(try root.childNames(), ["bytes", "coordinates", "ints", "longs", "nested"])
    }

    func testHyperslabWindowsEqualSlicesOfTheFullRead() throws {
        let path = scratch.file("windows.h5")
        let (frames, atoms) = (203, 5)
        var generator = SplitMix64(seed: 7)
        let values = (0..<(frames * atoms * 3)).map { _ in Float(generator.uniform()) }
        do {
            let root = try HDF5File(creating: path).root()
            try root.writeDataset("coordinates", values, shape: [frames, atoms, 3], maxShape: [nil, atoms, 3],
                                  layout: HDF5StorageLayout(chunk: [16, atoms, 3], compressionLevel: 1))
        }
        let dataset = try HDF5File(opening: path).root().dataset("coordinates")
        let full = try dataset.read(as: Float.self)
        XCTAssertEqual(full, values)
        let rowSize = atoms * 3
        for _ in 0..<40 {
            let start = Int(generator.next() % UInt64(frames))
            let count = Int(generator.next() % UInt64(frames - start)) + 1
            let window = try dataset.readRows(start..<(start + count), as: Float.self)
            XCTAssertEqual(window, Array(full[(start * rowSize)..<((start + count) * rowSize)]), "rows \(start)+\(count)")
        }
        // A general slab: frames 10..<13, atoms 1..<4, only the y and z components.
        let slab = try dataset.read(start: [10, 1, 1], count: [3, 3, 2], as: Float.self)
        var expected: [Float] = []
        for frame in 10..<13 { for atom in 1..<4 { for axis in 1..<3 { expected.append(full[(frame * atoms + atom) * 3 + axis]) } } }
        XCTAssertEqual(slab, expected)
        // Reading into caller memory gives the same as the allocating read.
        var buffer = [Float](repeating: .nan, count: 4 * rowSize)
        try buffer.withUnsafeMutableBufferPointer { try dataset.read(into: $0, start: [199, 0, 0], count: [4, atoms, 3]) }
        XCTAssertEqual(buffer, Array(full[(199 * rowSize)...]))
    }

    func testAppendingRowsGrowsTheFrameAxis() throws {
        let path = scratch.file("append.h5")
        do {
            let root = try HDF5File(creating: path).root()
            let dataset = try root.createDataset("energies", of: Double.self, shape: [0, 2], maxShape: [nil, 2],
                                                 layout: HDF5StorageLayout(chunk: [4, 2]))
            try dataset.appendRows([1, 2, 3, 4])
            try dataset.appendRows([5, 6])
        }
        let dataset = try HDF5File(opening: path).root().dataset("energies")
        XCTAssertEqual(dataset.shape, [3, 2])
        XCTAssertEqual(try dataset.read(as: Double.self), [1, 2, 3, 4, 5, 6])
    }

    func testStringsRoundTripInBothStorages() throws {
        let path = scratch.file("strings.h5")
        let json = "{\"chains\": [], \"note\": \"Ünïcödé ✓\"}"
        do {
            let root = try HDF5File(creating: path).root()
            try root.writeStringDataset("fixed", ["short", "a longer string", ""], storage: .fixedLength)
            try root.writeStringDataset("variable", ["alpha", "βeta", json], storage: .variableLength)
            try root.writeStringDataset("topology", [json])
            try root.writeAttribute("fixed_attr", string: "fixed ✓", storage: .fixedLength)
            try root.writeAttribute("vlen_attr", string: json, storage: .variableLength)
            try root.writeAttribute("vlen_attr", string: "replaced", storage: .variableLength)
        }
        let root = try HDF5File(opening: path).root()
        XCTAssertEqual(try root.dataset("fixed").readStrings(), ["short", "a longer string", ""])
        XCTAssertEqual(try root.dataset("fixed").elementKind, .fixedString(length: 15))
        XCTAssertEqual(try root.dataset("variable").readStrings(), ["alpha", "βeta", json])
        XCTAssertEqual(try root.dataset("variable").elementKind, .variableString)
        XCTAssertEqual(try root.dataset("topology").readStrings(), [json])
        XCTAssertEqual(try root.readStringAttribute("fixed_attr"), "fixed ✓")
        XCTAssertEqual(try root.readStringAttribute("vlen_attr"), "replaced")
        XCTAssertEqual(try root.attributeKind("vlen_attr"), .variableString)
    }
}
