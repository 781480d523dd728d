// Wasserstein-2 distance on the (φ, ψ) torus between two equally sized point sets with uniform
// weights, as TS computes torus-W2 (method.md §9.2: `pot.emd2` on the periodic squared distance),
// and on the D-torus of every residue's (φ, ψ) (the field's torsion W2, field.md §4):
//   C_ij = Σ_{d ∈ {φ, ψ}} min(|a_id − b_jd|, 2π − |a_id − b_jd|)²,   W2 = √( min_σ (1/M) Σᵢ C_iσ(i) ).
// With equal sizes and uniform weights the optimal plan is a permutation (Birkhoff), so the exact
// EMD is the assignment problem, solved exactly by `LinearAssignment` on costs quantised to
// integers q_ij = round(C_ij · 10⁶).
//
// Quantisation bound: |C_ij − q_ij/10⁶| ≤ ½·10⁻⁶ for every pair, so the integer optimum τ and the
// real optimum σ* satisfy C̄(σ*) ≤ C̄(τ) ≤ q̄(τ) + ½·10⁻⁶ ≤ q̄(σ*) + ½·10⁻⁶ ≤ C̄(σ*) + 10⁻⁶ (C̄ = mean
// real cost, q̄ = mean quantised cost / 10⁶). The reported W2² = C̄(τ), the exact real cost of the
// returned plan, is therefore within 10⁻⁶ rad² above the true minimum.
import Transport

public enum TorusTransport {
    /// Costs are rounded to multiples of this (rad²).
    public static let costQuantum = 1e-6
    /// Upper bound on (reported W2²) − (exact W2²), rad².
    public static let squaredDistanceErrorBound = 1e-6

    public struct Result: Sendable {
        /// √ of the mean cost of the optimal plan, rad.
        public var distance: Double
        /// The plan: point i of the first set goes to point `assignment[i]` of the second.
        public var assignment: [Int]
        /// Whether the solver's dual certificate confirmed optimality (checked in O(M²)).
        public var certified: Bool
    }

    /// Squared periodic distance between two (φ, ψ) points with angles in [−π, π].
    @inline(__always)
    public static func squaredDistance(_ a: SIMD2<Double>, _ b: SIMD2<Double>) -> Double {
        var dx = Swift.abs(a.x - b.x), dy = Swift.abs(a.y - b.y)
        if dx > .pi { dx = 2 * .pi - dx }   // min(|Δ|, 2π − |Δ|)
        if dy > .pi { dy = 2 * .pi - dy }
        return dx * dx + dy * dy
    }

    /// Exact torus W2 between `a` and `b` (same count M ≥ 1, angles in [−π, π]; M² Int32 of memory).
    public static func distance(_ a: [SIMD2<Double>], _ b: [SIMD2<Double>], certify: Bool = true) -> Result {
        distance(a.flatMap { [$0.x, $0.y] }, b.flatMap { [$0.x, $0.y] }, dimensions: 2, certify: certify)
    }

    /// Squared periodic distance Σ_d min(|Δ_d|, 2π − |Δ_d|)² between two D-vectors of angles in [−π, π].
    @inline(__always)
    static func squaredDistance(_ a: UnsafeBufferPointer<Double>, _ i: Int, _ b: UnsafeBufferPointer<Double>, _ j: Int, dimensions: Int) -> Double {
        var total = 0.0
        for d in 0..<dimensions {
            var delta = Swift.abs(a[i * dimensions + d] - b[j * dimensions + d])
            if delta > .pi { delta = 2 * .pi - delta }
            total += delta * delta
        }
        return total
    }

    /// Exact W2 on the D-torus: the torsion W2 of field.md §4, on the vector of every residue's
    /// (φ, ψ) with the minimal-angle (periodic) squared cost, in radians.
    /// - Parameters:
    ///   - a, b: M × D angles (row-major, radians in [−π, π]), the same M ≥ 1 and D ≥ 1; M² Int32 of
    ///     memory. D·π² must stay below 2147 rad² (the quantised costs are Int32): D ≤ 200.
    /// - Returns: √ of the mean periodic squared distance of the optimal one-to-one plan, within
    ///   `squaredDistanceErrorBound` of the exact optimum in W2² (the quantisation bound above).
    public static func distance(_ a: [Double], _ b: [Double], dimensions: Int, certify: Bool = true) -> Result {
        precondition(dimensions >= 1 && dimensions <= 200, "torus W2 needs 1 to 200 angles per point")
        precondition(a.count == b.count && !a.isEmpty && a.count % dimensions == 0, "torus W2 needs two non-empty sets of the same size")
        precondition((a + b).allSatisfy { abs($0) <= .pi }, "angles must be finite and in [-pi, pi]")
        let m = a.count / dimensions
        return a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                let costs = [Int32](unsafeUninitializedCapacity: m * m) { buffer, initialized in
                    for i in 0..<m {
                        let row = i * m
                        for j in 0..<m {
                            buffer[row + j] = Int32((squaredDistance(a, i, b, j, dimensions: dimensions) / costQuantum).rounded())
                        }
                    }
                    initialized = m * m
                }
                let solution = LinearAssignment.solve(costs: costs, size: m)
                let certified = certify ? LinearAssignment.isOptimal(solution, costs: costs, size: m) : false
                var total = 0.0
                for i in 0..<m { total += squaredDistance(a, i, b, solution.columnOfRow[i], dimensions: dimensions) }
                return Result(distance: (total / Double(m)).squareRoot(), assignment: solution.columnOfRow, certified: certified)
            }
        }
    }
}
