// The `units` attribute MDTraj puts on every array of its HDF5 format (`mdtraj/formats/hdf5.py`:
// "nanometers", "picoseconds", "kilojoules_per_mole", …), and the conversion to the units tbg
// computes in: nm, ps, kJ/mol. `mdtraj.load` converts whatever a file declares; tbg does the same for
// a closed, tested list and refuses every other unit by name, so that a file written in Å or kcal/mol
// by another tool gives the same numbers as the nm/kJ file, never a silently scaled one.
// A dataset without the attribute is in the format's default unit (Tools/FORMAT.md §1.1).
import Foundation
import HDF5

/// The physical quantity an array holds, with the unit tbg computes in.
public enum PhysicalQuantity: String, Sendable {
    case length, time, energy

    /// The unit values are converted to (and the default when a file declares none).
    public var canonicalUnit: String {
        switch self {
        case .length: "nanometers"
        case .time: "picoseconds"
        case .energy: "kilojoules_per_mole"
        }
    }
}

public enum PhysicalUnits {
    /// Every unit name tbg reads: quantity and factor to the canonical unit (1 kcal = 4.184 kJ).
    public static let known: [String: (quantity: PhysicalQuantity, factor: Double)] = [
        "nanometers": (.length, 1),
        "angstroms": (.length, 0.1),
        "picoseconds": (.time, 1),
        "kilojoules_per_mole": (.energy, 1),
        "kilocalories_per_mole": (.energy, 4.184),
    ]

    /// The factor that turns the values of `dataset` into `quantity`'s canonical unit, from its
    /// `units` attribute (1 when the attribute is absent).
    /// - Throws: `DataFormatError` naming the file, the dataset and the unit when the attribute is
    ///   not a string, names a unit outside `known`, or a unit of another quantity (e.g. a time
    ///   unit on coordinates).
    public static func factor(of dataset: HDF5Dataset, quantity: PhysicalQuantity) throws -> Double {
        guard dataset.hasAttribute("units") else { return 1 }
        let unit: String
        do {
            unit = try dataset.readStringAttribute("units")
        } catch {
            throw DataFormatError(file: dataset.filePath, "\(dataset.path)@units is not a string; expected the name of a \(quantity.rawValue) unit such as '\(quantity.canonicalUnit)'")
        }
        let name = unit.trimmingCharacters(in: .whitespaces)
        let accepted = known.filter { $0.value.quantity == quantity }.keys.sorted()
        guard let entry = known[name] else {
            throw DataFormatError(file: dataset.filePath, "\(dataset.path) has units '\(unit)', which tbg does not convert; expected one of \(accepted.joined(separator: ", ")) (or no units attribute: \(quantity.canonicalUnit))",
                                  hint: "convert the array to \(quantity.canonicalUnit) and set its units attribute accordingly")
        }
        guard entry.quantity == quantity else {
            throw DataFormatError(file: dataset.filePath, "\(dataset.path) has units '\(unit)', a \(entry.quantity.rawValue) unit; expected a \(quantity.rawValue) unit: one of \(accepted.joined(separator: ", "))")
        }
        return entry.factor
    }
}
