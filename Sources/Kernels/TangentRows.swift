// The per-(tangent, edge) row of the forward-mode divergence (Model/EGNNDivergence.swift), fused:
// building ȧ₁ and reading it back for two dot products in separate passes made these rows the
// largest cost after the GEMMs. Float goes to CKernels (CKernels/TangentRowsBody.h, in the variant
// KernelVariant chose); Double (the float64 tests) is plain Swift with the same arithmetic.
import CKernels

extension Activation {
    /// row[o] = (p[o] + q[o] + a·u[o] + b·v[o]) · slope[o] (p, q may be nil: zero), and returns
    /// (row·k1, row·k2).
    @inlinable
    public static func tangentRow<T: ActivationScalar>(
        _ row: UnsafeMutablePointer<T>, p: UnsafePointer<T>?, q: UnsafePointer<T>?, a: T, u: UnsafePointer<T>, b: T,
        v: UnsafePointer<T>, slope: UnsafePointer<T>, k1: UnsafePointer<T>, k2: UnsafePointer<T>, count: Int
    ) -> (T, T) {
        if T.self == Float.self {
            let (x, y) = tangentRowFloat(
                UnsafeMutableRawPointer(row).assumingMemoryBound(to: Float.self),
                p: p.map { UnsafeRawPointer($0).assumingMemoryBound(to: Float.self) },
                q: q.map { UnsafeRawPointer($0).assumingMemoryBound(to: Float.self) }, a: unsafeBitCast(a, to: Float.self),
                u: UnsafeRawPointer(u).assumingMemoryBound(to: Float.self), b: unsafeBitCast(b, to: Float.self),
                v: UnsafeRawPointer(v).assumingMemoryBound(to: Float.self),
                slope: UnsafeRawPointer(slope).assumingMemoryBound(to: Float.self),
                k1: UnsafeRawPointer(k1).assumingMemoryBound(to: Float.self),
                k2: UnsafeRawPointer(k2).assumingMemoryBound(to: Float.self), count: count)
            return (unsafeBitCast(x, to: T.self), unsafeBitCast(y, to: T.self))
        }
        var first = T.zero, second = T.zero
        for o in 0..<count {
            let value = ((p?[o] ?? 0) + (q?[o] ?? 0) + a * u[o] + b * v[o]) * slope[o]
            row[o] = value
            first += value * k1[o]
            second += value * k2[o]
        }
        return (first, second)
    }

    public static func tangentRowFloat(
        _ row: UnsafeMutablePointer<Float>, p: UnsafePointer<Float>?, q: UnsafePointer<Float>?, a: Float, u: UnsafePointer<Float>,
        b: Float, v: UnsafePointer<Float>, slope: UnsafePointer<Float>, k1: UnsafePointer<Float>, k2: UnsafePointer<Float>,
        count: Int
    ) -> (Float, Float) {
        precondition((p == nil) == (q == nil), "p and q are given together")
        var products: (Float, Float) = (0, 0)
        withUnsafeMutableBytes(of: &products) { raw in
            tbg_tangent_row_f32(row, p, q, a, u, b, v, slope, k1, k2, count, raw.baseAddress!.assumingMemoryBound(to: Float.self))
        }
        return products
    }
}

extension Activation {
    /// target[o] += g · slope[o] · row[o] + c · m[o]: one tangent message ṁ added to its receiver's sum.
    @inlinable
    public static func accumulateMessageTangent<T: ActivationScalar>(
        _ target: UnsafeMutablePointer<T>, g: T, slope: UnsafePointer<T>, row: UnsafePointer<T>, c: T, m: UnsafePointer<T>,
        count: Int
    ) {
        if T.self == Float.self {
            accumulateMessageTangentFloat(UnsafeMutableRawPointer(target).assumingMemoryBound(to: Float.self),
                                          g: unsafeBitCast(g, to: Float.self),
                                          slope: UnsafeRawPointer(slope).assumingMemoryBound(to: Float.self),
                                          row: UnsafeRawPointer(row).assumingMemoryBound(to: Float.self),
                                          c: unsafeBitCast(c, to: Float.self),
                                          m: UnsafeRawPointer(m).assumingMemoryBound(to: Float.self), count: count)
            return
        }
        for o in 0..<count { target[o] += g * slope[o] * row[o] + c * m[o] }
    }

    public static func accumulateMessageTangentFloat(
        _ target: UnsafeMutablePointer<Float>, g: Float, slope: UnsafePointer<Float>, row: UnsafePointer<Float>, c: Float,
        m: UnsafePointer<Float>, count: Int
    ) {
        tbg_accumulate_message_tangent_f32(target, g, slope, row, c, m, count)
    }
}
