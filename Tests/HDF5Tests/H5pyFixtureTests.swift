// Reading a file written by h5py (HDF5 2.0, Tools/make_fixtures.py) with our wrapper over the
// system's HDF5 1.10: gzip+shuffle chunks, integer and float types, fixed- and variable-length
// strings (with non-ASCII text) as datasets and as attributes.
import HDF5
import TestSupport
import XCTest

final class H5pyFixtureTests: XCTestCase {
    private func root() throws -> HDF5Group {
        try HDF5File(opening: Fixtures.path("h5py_types.h5")).root()
    }

    func testChunkedCompressedFloat32DatasetReadsExactly() throws {
        let dataset = try root().dataset("chunked_f32")
        XCTAssertEqual(dataset.shape, [10, 4, 3])
        XCTAssertEqual(dataset.maxShape, [nil, 4, 3])
        XCTAssertEqual(dataset.chunkShape, [3, 4, 3])
        XCTAssertEqual(dataset.elementKind, .float(bits: 32))
        XCTAssertEqual(try dataset.read(as: Float.self), (0..<120).map { Float($0) * 0.5 })
        // A window that straddles chunk boundaries.
        XCTAssertEqual(try dataset.readRows(2..<7, as: Float.self), (24..<84).map { Float($0) * 0.5 })
    }

    func testNumericDatasetsOfEveryType() throws {
        let group = try root()
        // np.linspace(-1, 1, 7) rounds differently from i/3 in the last bit.
        assertClose(try group.dataset("f64").read(as: Double.self), (0..<7).map { -1 + Double($0) / 3 }, absolute: 1e-15)
        XCTAssertEqual(try group.dataset("i32").read(as: Int32.self), [-3, -2, -1, 0, 1, 2, 3])
        XCTAssertEqual(try group.dataset("i64").read(as: Int64.self), [1 << 40, -5])
        XCTAssertEqual(try group.dataset("i32").elementKind, .integer(bits: 32, signed: true))
    }

    func testFixedAndVariableLengthStringDatasets() throws {
        let group = try root().group("grp")
        XCTAssertEqual(try group.dataset("fixed_str").readStrings(), ["{\"key\": \"value\"}"])
        XCTAssertEqual(try group.dataset("fixed_str").elementKind, .fixedString(length: 16))
        XCTAssertEqual(try group.dataset("vlen_str").readStrings(), ["alpha", "βeta", "Ünïcödé"])
        XCTAssertEqual(try group.dataset("vlen_str").elementKind, .variableString)
    }

    func testAttributesOfEveryKind() throws {
        let group = try root()
        XCTAssertEqual(Set(try group.attributeNames()),
                       ["fixed_attr", "vlen_attr", "int_attr", "float_attr", "f32_array_attr"])
        XCTAssertEqual(try group.readStringAttribute("fixed_attr"), "fixed value")
        XCTAssertEqual(try group.readStringAttribute("vlen_attr"), "variable value ✓")
        XCTAssertEqual(try group.readAttribute("int_attr", as: Int64.self), [42])
        XCTAssertEqual(try group.readAttribute("float_attr", as: Double.self), [2.5])
        XCTAssertEqual(try group.readAttribute("f32_array_attr", as: Float.self), [1.5, 2.5, 3.5])
    }

    func testGroupListingAndKinds() throws {
        let group = try root()
        XCTAssertEqual(try group.childNames(), ["chunked_f32", "f64", "grp", "i32", "i64"])
        XCTAssertEqual(group.kind(of: "grp"), .group)
        XCTAssertEqual(group.kind(of: "grp/vlen_str"), .dataset)
        XCTAssertNil(group.kind(of: "grp/missing/deeper"))
        XCTAssertFalse(group.contains("nothing"))
    }
}
