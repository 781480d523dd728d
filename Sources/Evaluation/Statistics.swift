// Weighted summary statistics, and the JSON helper for values that may be undefined.

public enum WeightedStatistics {
    /// Σ w x / Σ w (nil = uniform); nil for no values or zero total weight.
    public static func mean(_ values: [Double], weights: [Double]? = nil) -> Double? {
        let w = weights ?? [Double](repeating: 1, count: values.count)
        let total = w.reduce(0, +)
        guard !values.isEmpty, total > 0 else { return nil }
        return zip(values, w).reduce(0) { $0 + $1.0 * $1.1 } / total
    }

    /// The median F⁻¹(½); where the cumulative weight is one half at a value (to 10⁻¹² relative, so
    /// that normalised equal weights count as equal), the midpoint to the next value with positive
    /// weight, so uniform weights give numpy's median.
    public static func median(_ values: [Double], weights: [Double]? = nil) -> Double? {
        let w = weights ?? [Double](repeating: 1, count: values.count)
        let order = values.indices.filter { w[$0] > 0 }.sorted { values[$0] < values[$1] }
        let total = order.reduce(0) { $0 + w[$1] }
        guard !order.isEmpty, total > 0 else { return nil }
        var running = 0.0
        for (position, index) in order.enumerated() {
            running += w[index]
            if abs(2 * running - total) <= 1e-12 * total, position + 1 < order.count { return (values[index] + values[order[position + 1]]) / 2 }
            if 2 * running >= total { return values[index] }
        }
        return values[order[order.count - 1]]
    }
}

/// Encodes as JSON null when the value is missing or a non-finite Double (JSON has no NaN or ∞).
@propertyWrapper
public struct JSONNullable<Value: Encodable & Sendable & Equatable>: Encodable, Sendable, Equatable {
    public var wrappedValue: Value?

    public init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let value = wrappedValue, (value as? Double)?.isFinite ?? true {
            try container.encode(value)
        } else {
            try container.encodeNil()
        }
    }
}
