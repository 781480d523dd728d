// Scalar activations and their derivatives (method.md §4.7).
//
//   σ(z) = 1/(1 + e^{−z})        σ′ = σ(1 − σ)
//   SiLU(z) = z σ(z)             SiLU′(z) = σ(z)(1 + z(1 − σ(z)))
//   tanh′ = 1 − tanh²
// The exponential is taken of −|z| so that neither branch overflows.
import Foundation

public protocol ActivationScalar: BinaryFloatingPoint {
    static func exponential(_ x: Self) -> Self
    static func hyperbolicTangent(_ x: Self) -> Self
}

extension Float: ActivationScalar {
    @inlinable public static func exponential(_ x: Float) -> Float { expf(x) }
    @inlinable public static func hyperbolicTangent(_ x: Float) -> Float { tanhf(x) }
}

extension Double: ActivationScalar {
    @inlinable public static func exponential(_ x: Double) -> Double { exp(x) }
    @inlinable public static func hyperbolicTangent(_ x: Double) -> Double { tanh(x) }
}

public enum Activation {
    @inlinable @inline(__always)
    public static func sigmoid<T: ActivationScalar>(_ z: T) -> T {
        if z >= 0 {
            return 1 / (1 + T.exponential(-z))
        }
        let e = T.exponential(z)
        return e / (1 + e)
    }

    @inlinable @inline(__always)
    public static func silu<T: ActivationScalar>(_ z: T) -> T { z * sigmoid(z) }

    @inlinable @inline(__always)
    public static func siluDerivative<T: ActivationScalar>(_ z: T) -> T {
        let s = sigmoid(z)
        return s * (1 + z * (1 - s))
    }
}
