// Vectorised logistic function for Float buffers: σ(z) = 1/(1 + e^{−z}) with e^x evaluated eight
// lanes at a time (Cephes expf: x = n ln2 + r, |r| ≤ ln2/2, degree-6 polynomial for e^r, 2^n from
// the exponent bits). Relative error ≈ 1e-7, i.e. float rounding; the tests compare it with the
// scalar libm path. Portable SIMD only (SSE2 baseline): rounding uses the 1.5·2²³ trick, not roundps.
// This is where training spends its elementwise time: three sigmoids per edge feature per layer.

enum FastSigmoid {
    @inline(__always)
    static func exp8(_ input: SIMD8<Float>) -> SIMD8<Float> {
        // Clamp so that 2ⁿ stays a normal float (masked replace: `clamped` is not inlined here).
        var x = input
        x.replace(with: SIMD8(repeating: -87.3), where: x .< -87.3)
        x.replace(with: SIMD8(repeating: 88.3), where: x .> 88.3)
        let shifter = SIMD8<Float>(repeating: 12_582_912)   // 1.5 · 2²³: adding it rounds to an integer
        let n = (x * 1.442_695_04 + shifter) - shifter
        let r = x - n * 0.693_359_375 + n * 2.121_944_4e-4
        var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        let er = p * r * r + r + 1
        // n is integral; its integer value is the low mantissa bits of n + 1.5·2²³ (a lane-wise
        // float → int conversion call would cost more than the whole polynomial).
        let integer = unsafeBitCast(n + shifter, to: SIMD8<Int32>.self) &- 0x4B40_0000
        let exponent = (integer &+ 127) &<< 23
        return er * unsafeBitCast(exponent, to: SIMD8<Float>.self)
    }

    static func sigmoid(_ z: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
        var k = 0
        let one = SIMD8<Float>(repeating: 1)
        while k + 8 <= count {
            let value = UnsafeRawPointer(z + k).loadUnaligned(as: SIMD8<Float>.self)
            let result = one / (one + exp8(-value))
            UnsafeMutableRawPointer(out + k).storeBytes(of: result, as: SIMD8<Float>.self)
            k += 8
        }
        while k < count {
            out[k] = Activation.sigmoid(z[k])
            k += 1
        }
    }
}

extension Activation {
    /// out[k] = σ(z[k]); vectorised for Float, libm for Double (tests run in Double).
    @inlinable
    public static func sigmoid<T: ActivationScalar>(_ z: UnsafePointer<T>, _ out: UnsafeMutablePointer<T>, count: Int) {
        if T.self == Float.self {
            sigmoidFloat(UnsafeRawPointer(z).assumingMemoryBound(to: Float.self),
                         UnsafeMutableRawPointer(out).assumingMemoryBound(to: Float.self), count: count)
        } else {
            for k in 0..<count { out[k] = sigmoid(z[k]) }
        }
    }

    public static func sigmoidFloat(_ z: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
        FastSigmoid.sigmoid(z, out, count: count)
    }
}
