// Dense layers over row-major buffers: y = x Wᵀ + b with W stored as PyTorch does, (out, in).
//
//   forward   y[r, o] = Σ_i x[r, i] W[o, i] + b[o]                 GEMM (N, T)
//   backward  dW += dyᵀ x      (out × in)                          GEMM (T, N), β = 1
//             db += Σ_r dy[r, :]
//             dx  = dy W  (or += with accumulate)                  GEMM (N, N)
// `ldw` lets a layer use a column block of a wider weight matrix (the factorised first edge layer
// reads W₁'s h_i and h_j blocks separately, method.md §4.7 hint).
import Linalg

public enum Linear {
    /// y (rows × out) ← x (rows × in) · Wᵀ (+ b), W is out × in with row stride `ldw`.
    @inlinable
    public static func forward<T: BLASScalar>(
        _ y: UnsafeMutableBufferPointer<T>, _ x: UnsafeBufferPointer<T>, weight: UnsafeBufferPointer<T>, ldw: Int? = nil,
        bias: UnsafeBufferPointer<T>?, rows: Int, inFeatures: Int, outFeatures: Int, accumulate: Bool = false
    ) {
        gemm(.none, .transpose, m: rows, n: outFeatures, k: inFeatures, alpha: 1, a: x, lda: inFeatures,
             b: weight, ldb: ldw ?? inFeatures, beta: accumulate ? 1 : 0, c: y, ldc: outFeatures)
        guard let bias else { return }
        let out = y.baseAddress!, b = bias.baseAddress!
        for row in 0..<rows {
            let line = out + row * outFeatures
            for o in 0..<outFeatures { line[o] += b[o] }
        }
    }

    /// dW (out × in, row stride `ldw`) += dyᵀ x ; db += column sums of dy.
    @inlinable
    public static func accumulateParameterGradients<T: BLASScalar>(
        dWeight: UnsafeMutableBufferPointer<T>, ldw: Int? = nil, dBias: UnsafeMutableBufferPointer<T>?,
        dy: UnsafeBufferPointer<T>, x: UnsafeBufferPointer<T>, rows: Int, inFeatures: Int, outFeatures: Int
    ) {
        gemm(.transpose, .none, m: outFeatures, n: inFeatures, k: rows, alpha: 1, a: dy, lda: outFeatures,
             b: x, ldb: inFeatures, beta: 1, c: dWeight, ldc: ldw ?? inFeatures)
        guard let dBias else { return }
        let db = dBias.baseAddress!, g = dy.baseAddress!
        for row in 0..<rows {
            let line = g + row * outFeatures
            for o in 0..<outFeatures { db[o] += line[o] }
        }
    }

    /// dx (rows × in) ← dy (rows × out) · W (or += with `accumulate`).
    @inlinable
    public static func inputGradient<T: BLASScalar>(
        _ dx: UnsafeMutableBufferPointer<T>, dy: UnsafeBufferPointer<T>, weight: UnsafeBufferPointer<T>, ldw: Int? = nil,
        rows: Int, inFeatures: Int, outFeatures: Int, accumulate: Bool
    ) {
        gemm(.none, .none, m: rows, n: inFeatures, k: outFeatures, alpha: 1, a: dy, lda: outFeatures,
             b: weight, ldb: ldw ?? inFeatures, beta: accumulate ? 1 : 0, c: dx, ldc: inFeatures)
    }
}
