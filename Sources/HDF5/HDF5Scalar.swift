// Numeric element types that the wrapper reads and writes, with their HDF5 memory and file types.
//
// Files are written little-endian IEEE/two's-complement (what h5py and MDTraj write); reads convert
// from whatever the file holds into the requested memory type, as libhdf5 does.
import CHDF5

public protocol HDF5Scalar: Numeric & Sendable {
    /// The native in-memory HDF5 type.
    static var memoryType: hid_t { get }
    /// The type written to new datasets and attributes.
    static var fileType: hid_t { get }
    /// A short name used in messages ("float32").
    static var typeName: String { get }
}

extension Float: HDF5Scalar {
    public static var memoryType: hid_t { swh5_native_float() }
    public static var fileType: hid_t { swh5_ieee_f32le() }
    public static var typeName: String { "float32" }
}

extension Double: HDF5Scalar {
    public static var memoryType: hid_t { swh5_native_double() }
    public static var fileType: hid_t { swh5_ieee_f64le() }
    public static var typeName: String { "float64" }
}

extension Int32: HDF5Scalar {
    public static var memoryType: hid_t { swh5_native_int32() }
    public static var fileType: hid_t { swh5_std_i32le() }
    public static var typeName: String { "int32" }
}

extension Int64: HDF5Scalar {
    public static var memoryType: hid_t { swh5_native_int64() }
    public static var fileType: hid_t { swh5_std_i64le() }
    public static var typeName: String { "int64" }
}

extension UInt8: HDF5Scalar {
    public static var memoryType: hid_t { swh5_native_uint8() }
    public static var fileType: hid_t { swh5_std_u8le() }
    public static var typeName: String { "uint8" }
}

/// What a dataset or attribute holds, as read from its file type.
public enum HDF5ElementKind: Equatable, Sendable, CustomStringConvertible {
    case float(bits: Int)
    case integer(bits: Int, signed: Bool)
    case fixedString(length: Int)
    case variableString
    case other(String)

    init(typeID: hid_t) {
        let size = Int(H5Tget_size(typeID))
        switch H5Tget_class(typeID) {
        case H5T_FLOAT: self = .float(bits: size * 8)
        case H5T_INTEGER: self = .integer(bits: size * 8, signed: H5Tget_sign(typeID) == H5T_SGN_2)
        case H5T_STRING:
            self = H5Tis_variable_str(typeID) > 0 ? .variableString : .fixedString(length: size)
        default: self = .other("HDF5 type class \(H5Tget_class(typeID).rawValue)")
        }
    }

    public var isString: Bool {
        switch self {
        case .fixedString, .variableString: return true
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .float(let bits): return "float\(bits)"
        case .integer(let bits, let signed): return (signed ? "int" : "uint") + "\(bits)"
        case .fixedString(let length): return "fixed-length string (\(length) bytes)"
        case .variableString: return "variable-length string"
        case .other(let text): return text
        }
    }
}
