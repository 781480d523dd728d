// Dot products over short rows (H = 64 … 256), eight lanes at a time for Float.
//
// The compiler keeps floating-point sums in program order, so a plain `sum += a[k] * b[k]` loop
// runs one element at a time; the model has such a reduction per edge in the attention gate, the
// coordinate head and the edge-feature gradients. Eight partial sums change the rounding order
// only (float32 parity with PyTorch is tested at 1e-5).

extension Activation {
    /// Σ_k a[k] b[k].
    @inlinable
    public static func dot<T: ActivationScalar>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, count: Int) -> T {
        if T.self == Float.self {
            let result = dotFloat(UnsafeRawPointer(a).assumingMemoryBound(to: Float.self),
                                  UnsafeRawPointer(b).assumingMemoryBound(to: Float.self), count: count)
            return unsafeBitCast(result, to: T.self)
        }
        var sum = T.zero
        for k in 0..<count { sum += a[k] * b[k] }
        return sum
    }

    public static func dotFloat(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD8<Float>(repeating: 0)
        var k = 0
        while k + 8 <= count {
            let x = UnsafeRawPointer(a + k).loadUnaligned(as: SIMD8<Float>.self)
            let y = UnsafeRawPointer(b + k).loadUnaligned(as: SIMD8<Float>.self)
            lanes += x * y
            k += 8
        }
        var sum = lanes.sum()
        while k < count {
            sum += a[k] * b[k]
            k += 1
        }
        return sum
    }
}
