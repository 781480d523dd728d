// Wasserstein distances between two weighted 1-D empirical distributions, exactly:
//   W_p(F, G)^p = ∫₀¹ |F⁻¹(u) − G⁻¹(u)|^p du,
// where F⁻¹ and G⁻¹ are the step quantile functions of the sorted atoms with their normalised
// weights. Both are constant between the cumulative-weight breakpoints of either distribution, so
// merging the two breakpoint lists gives the integral as a finite sum (no binning, no sampling);
// sizes and weights may differ. With uniform weights and equal sizes this is the sorted-matching
// formula of POT's `emd2_1d`, which TS uses for energy-W1/W2 (method.md §9.2).
import Foundation

public enum Wasserstein1D {
    /// ∫₀¹ |F⁻¹(u) − G⁻¹(u)|^p du. Values must be finite; weights (nil = uniform) non-negative, finite,
    /// not all zero, and need not be normalised.
    public static func transportCost(_ a: [Double], weights wa: [Double]? = nil, _ b: [Double], weights wb: [Double]? = nil,
                                     p: Double) -> Double {
        precondition(p >= 1, "p must be at least 1")
        let (va, ca) = quantileSteps(a, weights: wa), (vb, cb) = quantileSteps(b, weights: wb)
        var i = 0, j = 0
        var u = 0.0, cost = 0.0
        while i < va.count && j < vb.count {
            let next = min(ca[i], cb[j])
            let gap = Swift.abs(va[i] - vb[j])
            cost += (next - u) * (p == 1 ? gap : p == 2 ? gap * gap : pow(gap, p))
            u = next
            if ca[i] <= next { i += 1 }
            if cb[j] <= next { j += 1 }
        }
        return cost
    }

    /// W_p = (transport cost)^(1/p).
    public static func distance(_ a: [Double], weights wa: [Double]? = nil, _ b: [Double], weights wb: [Double]? = nil,
                                p: Double) -> Double {
        let cost = transportCost(a, weights: wa, b, weights: wb, p: p)
        return p == 1 ? cost : p == 2 ? cost.squareRoot() : pow(cost, 1 / p)
    }

    /// Sorted values and their cumulative normalised weights (the last exactly 1).
    static func quantileSteps(_ values: [Double], weights: [Double]?) -> (values: [Double], cumulative: [Double]) {
        precondition(!values.isEmpty && values.allSatisfy(\.isFinite), "values must be finite and non-empty")
        let w = weights ?? [Double](repeating: 1, count: values.count)
        precondition(w.count == values.count && w.allSatisfy { $0 >= 0 && $0.isFinite }, "weights must be finite and non-negative, one per value")
        let order = values.indices.sorted { values[$0] < values[$1] }
        let total = order.reduce(0.0) { $0 + w[$1] }
        precondition(total > 0, "weights must not all be zero")
        var running = 0.0
        var cumulative = order.map { index -> Double in
            running += w[index]
            return running / total
        }
        cumulative[cumulative.count - 1] = 1
        return (order.map { values[$0] }, cumulative)
    }
}
