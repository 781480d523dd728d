// `/reference_energies`: per-force energies and total forces that OpenMM's Reference platform
// (double precision) computed for a few frames when the file was generated. They are the yardstick
// for the Swift energy (tolerances in the energy tests).
import HDF5

public struct ReferenceEnergies: Sendable {
    /// Row of `/coordinates` each entry was computed for (−1: a position not in the trajectory).
    public var frameIndex: [Int32]
    /// Positions evaluated, nm, F×N×3 row-major.
    public var positions: [Double]
    /// Energies in kJ/mol, F×K row-major, one column per force of the System in System order.
    public var energies: [Double]
    /// Total energies in kJ/mol (all force groups).
    public var total: [Double]
    /// Total forces in kJ/mol/nm, F×N×3 row-major.
    public var forces: [Double]
    /// OpenMM class names of the K forces.
    public var forceNames: [String]
    public var platform: String

    public var frameCount: Int { frameIndex.count }

    /// Reads and shape-checks the group for a system of `atomCount` atoms and `forceCount` forces.
    static func read(from group: HDF5Group, atomCount: Int, forceCount: Int) throws -> ReferenceEnergies {
        let file = group.filePath
        func dataset(_ name: String, shape expected: [Int?]) throws -> HDF5Dataset {
            let dataset = try group.dataset(name)
            let shape = dataset.shape
            let matches = shape.count == expected.count && zip(shape, expected).allSatisfy { $1 == nil || $0 == $1 }
            guard matches else {
                let wanted = expected.map { $0.map(String.init) ?? "F" }.joined(separator: "×")
                throw DataFormatError(file: file, "\(dataset.path) has shape \(shape), expected \(wanted)")
            }
            return dataset
        }
        /// Values in the canonical unit of `quantity`, converted by the dataset's `units` attribute.
        func values(_ dataset: HDF5Dataset, _ quantity: PhysicalQuantity) throws -> [Double] {
            let factor = try PhysicalUnits.factor(of: dataset, quantity: quantity)
            let raw: [Double] = try dataset.read()
            return factor == 1 ? raw : raw.map { $0 * factor }
        }
        // The group declares its energy and force units (Tools/FORMAT.md §1.2); only the format's are read.
        for (attribute, unit) in [("energy_units", "kJ/mol"), ("force_units", "kJ/mol/nm")] where group.hasAttribute(attribute) {
            let declared = try group.readStringAttribute(attribute)
            guard declared == unit else {
                throw DataFormatError(file: file, "\(group.path)@\(attribute) is '\(declared)'; expected '\(unit)' (tbg does not convert reference energies or forces)")
            }
        }
        let frameIndex: [Int32] = try dataset("frame_index", shape: [nil]).read()
        let frames = frameIndex.count
        let names = try JSONStrings.decode(try group.readStringAttribute("force_names"), what: "\(group.path)@force_names", file: file)
        guard names.count == forceCount else {
            throw DataFormatError(file: file, "\(group.path)@force_names lists \(names.count) forces, the System has \(forceCount)")
        }
        let forces = try dataset("forces", shape: [frames, atomCount, 3])
        if forces.hasAttribute("units") {
            throw DataFormatError(file: file, "\(forces.path) has a units attribute ('\((try? forces.readStringAttribute("units")) ?? "?")'); expected none: forces are in kJ/mol/nm as \(group.path)@force_units says")
        }
        return ReferenceEnergies(
            frameIndex: frameIndex,
            positions: try values(try dataset("positions", shape: [frames, atomCount, 3]), .length),
            energies: try values(try dataset("energies", shape: [frames, forceCount]), .energy),
            total: try values(try dataset("total", shape: [frames]), .energy),
            forces: try forces.read(),
            forceNames: names,
            platform: group.hasAttribute("platform") ? try group.readStringAttribute("platform") : "unknown")
    }
}
