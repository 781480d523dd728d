// The one home of the nm ↔ model-unit conversion (method.md §2.2, §2.3, §8.5). The model works on
// coordinates centred on their unweighted mean and multiplied by s = model.scaling (AD2 10, i.e. Å;
// 2AA 30):
//   x_model = s · (x_nm − mean(x_nm)),      x_nm = x_model / s   (samples: already mean-free)
// Densities change by the Jacobian of that map on the 3(N−1) mean-free dimensions:
//   log q_nm(x) = log q_model(s x) + D ln s,   D = 3(N−1)
// so an NLL in nm is the model-unit NLL minus D ln s.
import Foundation

public struct ModelUnits: Equatable, Sendable {
    /// Model units per nm (the checkpoint's model.scaling).
    public let scaling: Double

    public init(scaling: Double) { self.scaling = scaling }

    /// Centred model coordinates (atoms × 3) of one configuration in nm, in Double.
    public func modelCoordinates<T: BinaryFloatingPoint>(nanometres nm: ArraySlice<T>, atoms: Int) -> [Double] {
        let base = nm.startIndex
        var mean = SIMD3<Double>(repeating: 0)
        for atom in 0..<atoms {
            for axis in 0..<3 { mean[axis] += Double(nm[base + 3 * atom + axis]) / Double(atoms) }
        }
        var x = [Double](repeating: 0, count: atoms * 3)
        for atom in 0..<atoms {
            for axis in 0..<3 { x[3 * atom + axis] = (Double(nm[base + 3 * atom + axis]) - mean[axis]) * scaling }
        }
        return x
    }

    /// Coordinates in nm of model coordinates (no re-centring: the flow's samples stay mean-free).
    public func nanometres(_ model: [Double]) -> [Double] { model.map { $0 / scaling } }

    /// −log q in nm from −log q in model units, over `dimensions` (3(N−1)) mean-free dimensions.
    public func nanometreNLL(_ modelUnitNLL: Double, dimensions: Int) -> Double {
        modelUnitNLL - Double(dimensions) * log(scaling)
    }

    /// The units of a log-density, in words (the sample file's /samples@log_q_units).
    public var logDensityUnits: String { "model units (positions x \(scaling) per nm)" }
}

extension RunConfig.ModelSection {
    /// The coordinate units of this model.
    public var units: ModelUnits { ModelUnits(scaling: scaling) }
}
