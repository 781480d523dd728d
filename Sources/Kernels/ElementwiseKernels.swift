// Elementwise activations over buffers (method.md §4.7): Float runs the C kernels
// (CKernels/ElementwiseBody.h: vectorised σ with a Cephes e^x, relative error ≈ 1e-7, in the
// variant KernelVariant chose); Double (the float64 tests) runs the same formulas in Swift with
// libm. With σ(z) saved by the forward pass, SiLU(z) = zσ and SiLU′(z) = σ(1 + z(1 − σ)) cost
// no exponential.
import CKernels

extension Activation {
    /// out[k] = σ(z[k]).
    @inlinable
    public static func sigmoid<T: ActivationScalar>(_ z: UnsafePointer<T>, _ out: UnsafeMutablePointer<T>, count: Int) {
        if T.self == Float.self { return tbg_sigmoid_f32(float32(out), float32(z), count) }
        for k in 0..<count { out[k] = sigmoid(z[k]) }
    }

    /// sigma[k] = σ(z[k]), y[k] = SiLU(z[k]).
    @inlinable
    public static func sigmoidSilu<T: ActivationScalar>(sigma: UnsafeMutablePointer<T>, y: UnsafeMutablePointer<T>, z: UnsafePointer<T>,
                                                        count: Int) {
        if T.self == Float.self { return tbg_sigmoid_silu_f32(float32(sigma), float32(y), float32(z), count) }
        for k in 0..<count {
            sigma[k] = sigmoid(z[k])
            y[k] = z[k] * sigma[k]
        }
    }

    /// out[k] = a[k] · b[k] (out may be a or b).
    @inlinable
    public static func multiply<T: ActivationScalar>(_ out: UnsafeMutablePointer<T>, _ a: UnsafePointer<T>, _ b: UnsafePointer<T>,
                                                     count: Int) {
        if T.self == Float.self { return tbg_multiply_f32(float32(out), float32(a), float32(b), count) }
        for k in 0..<count { out[k] = a[k] * b[k] }
    }

    /// SiLU′(z) = σ(z)(1 + z(1 − σ(z))) from z and the stored σ(z) (out may be sigma).
    @inlinable
    public static func siluSlope<T: ActivationScalar>(_ out: UnsafeMutablePointer<T>, z: UnsafePointer<T>, sigma: UnsafePointer<T>,
                                                      count: Int) {
        if T.self == Float.self { return tbg_silu_slope_f32(float32(out), float32(z), float32(sigma), count) }
        for k in 0..<count { out[k] = sigma[k] * (1 + z[k] * (1 - sigma[k])) }
    }

    /// dz[k] = dy[k] · SiLU′(z[k]) from the stored σ(z): backward through y = SiLU(z) (dz may be dy).
    @inlinable
    public static func siluBackward<T: ActivationScalar>(_ dz: UnsafeMutablePointer<T>, _ dy: UnsafePointer<T>, z: UnsafePointer<T>,
                                                         sigma: UnsafePointer<T>, count: Int) {
        if T.self == Float.self { return tbg_silu_backward_f32(float32(dz), float32(dy), float32(z), float32(sigma), count) }
        for k in 0..<count { dz[k] = dy[k] * (sigma[k] * (1 + z[k] * (1 - sigma[k]))) }
    }
}
