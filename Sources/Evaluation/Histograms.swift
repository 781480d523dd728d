// The Jensen–Shannon divergence between Ramachandran histograms:
//   2-D histogram of (φ, ψ) with `bins` bins per axis over [−π, π) (periodic: an angle of exactly π
//   falls in the first bin, as −π), optionally weighted, normalised to probabilities p;
//   smoothed as TS does (method.md §9.2): p ← (p + ε)/(1 + Kε), ε = 10⁻¹⁰, K bins in all;
//   JSD(p, q) = ½ Σ p log₂(p/m) + ½ Σ q log₂(q/m),  m = (p + q)/2,
// i.e. the square of scipy's `jensenshannon(p, q, base=2)`: 0 for equal histograms, 1 bit (less the
// smoothing) for disjoint ones.
import Foundation

public enum RamachandranHistogram {
    public static let smoothing = 1e-10

    /// Normalised (φ, ψ) histogram, row-major [φ bin][ψ bin]; nil when the total weight is zero.
    public static func probabilities(_ points: [SIMD2<Double>], weights: [Double]? = nil, bins: Int) -> [Double]? {
        precondition(bins >= 1 && (weights == nil || weights?.count == points.count))
        var histogram = [Double](repeating: 0, count: bins * bins)
        for (k, point) in points.enumerated() {
            let weight = weights?[k] ?? 1
            guard weight > 0 else { continue }
            histogram[bin(point.x, bins) * bins + bin(point.y, bins)] += weight
        }
        let total = histogram.reduce(0, +)
        guard total > 0, total.isFinite else { return nil }
        return histogram.map { $0 / total }
    }

    /// The bin of an angle (periodic: wrapped into [−π, π), π counted as −π).
    static func bin(_ angle: Double, _ bins: Int) -> Int {
        let wrapped = remainder(angle, 2 * .pi)
        guard wrapped < .pi else { return 0 }
        let index = Int(((wrapped + .pi) / (2 * .pi) * Double(bins)).rounded(.down))
        return min(max(index, 0), bins - 1)   // rounding can give `bins` just below π
    }

    /// JSD in bits (base 2) of two probability vectors of the same length, after ε-smoothing.
    public static func jensenShannon(_ p: [Double], _ q: [Double], epsilon: Double = smoothing) -> Double {
        precondition(p.count == q.count && !p.isEmpty)
        let norm = 1 + Double(p.count) * epsilon
        var divergence = 0.0
        for k in p.indices {
            let a = (p[k] + epsilon) / norm, b = (q[k] + epsilon) / norm
            let m = (a + b) / 2
            divergence += 0.5 * a * log2(a / m) + 0.5 * b * log2(b / m)
        }
        return max(0, divergence)
    }
}
