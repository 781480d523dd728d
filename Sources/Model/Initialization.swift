// Parameter initialisation as the original (method.md §4.5): every Linear layer PyTorch's default
// U(−1/√fan_in, 1/√fan_in) for weight and bias; the last coordinate layer (H → 1, no bias)
// Xavier-uniform with gain 0.001, so the initial velocity is almost zero.
import Kernels

extension EGNNVectorField {
    public func initializeParameters(seed: UInt64) {
        var random = RandomSource(seed: seed, streams: [0x1217])
        let p = parameters.pointer
        let coordOutputs = Set(layout.layers.map(\.coord2Weight))
        var fanIn: [String: Int] = [:]
        for entry in layout.entries where entry.name.hasSuffix(".weight") {
            fanIn[String(entry.name.dropLast(".weight".count))] = entry.shape[1]
        }
        for entry in layout.entries {
            let module = entry.name.hasSuffix(".weight") ? String(entry.name.dropLast(".weight".count))
                                                         : String(entry.name.dropLast(".bias".count))
            let fan = Double(fanIn[module] ?? 1)
            var bound = 1 / fan.squareRoot()
            if coordOutputs.contains(entry.offset) {
                bound = 0.001 * (6 / Double(entry.shape[0] + entry.shape[1])).squareRoot()
            }
            for k in entry.offset..<(entry.offset + entry.count) { p[k] = T(random.uniform(-bound, bound)) }
        }
    }

    /// Sets parameters by name (e.g. from a PyTorch state dict or a checkpoint); every name in the
    /// layout must be given with the right number of values.
    public func setParameters(_ named: [String: [T]]) throws {
        for entry in layout.entries {
            guard let values = named[entry.name] else { throw ModelError("missing parameter \(entry.name) \(entry.shape)") }
            guard values.count == entry.count else {
                throw ModelError("parameter \(entry.name) has \(values.count) values, expected \(entry.shape) = \(entry.count)")
            }
            (parameters.pointer + entry.offset).update(from: values, count: entry.count)
        }
    }
}

public struct ModelError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
