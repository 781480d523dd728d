// The interface every force-field term implements: energy of one configuration and, on request,
// its gradient, in double precision.
//
// Conventions: positions are N×3 row-major in nm; energies in kJ/mol; the gradient dE/dx is in
// kJ/mol/nm and is *accumulated* (+=) into the caller's buffer, so terms can share one buffer.
// Forces are −gradient.

public protocol EnergyTerm: Sendable {
    /// The OpenMM class this term came from, e.g. "NonbondedForce".
    var forceName: String { get }
    /// E(x); adds dE/dx into `gradient` when it is non-nil.
    func energy(positions: UnsafeBufferPointer<Double>, gradient: UnsafeMutablePointer<Double>?) -> Double
}

/// Small vector helpers over flat N×3 buffers (no allocation).
@inline(__always) func displacement(_ x: UnsafeBufferPointer<Double>, _ i: Int, _ j: Int) -> SIMD3<Double> {
    SIMD3(x[3 * j] - x[3 * i], x[3 * j + 1] - x[3 * i + 1], x[3 * j + 2] - x[3 * i + 2])
}

@inline(__always) func accumulate(_ gradient: UnsafeMutablePointer<Double>, _ atom: Int, _ value: SIMD3<Double>) {
    gradient[3 * atom] += value.x
    gradient[3 * atom + 1] += value.y
    gradient[3 * atom + 2] += value.z
}

@inline(__always) func dot(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> Double { (a * b).sum() }

@inline(__always) func cross(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> SIMD3<Double> {
    SIMD3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
}

@inline(__always) func norm(_ a: SIMD3<Double>) -> Double { dot(a, a).squareRoot() }
