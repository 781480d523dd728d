// The divergence's row products y = [y +] x Wᵀ over τ·A rows of H (Ṗ, Q̇, ż_n, ḣ in
// Model/EGNNDivergence.swift). Float with the tangent family in AVX2 or AVX-512 runs the
// register-tiled product of CKernels/LinearProductBody.h on Wᵀ packed once per call (H² floats;
// OpenBLAS instead packed the τ·A rows of x on every call); Double, the portable variant, and widths
// that are not a multiple of the tile keep OpenBLAS (Linear.forward), which is also the reference the
// C kernel is tested against.
import CKernels
import Linalg

public enum TangentLinear {
    /// Elements of the packed Wᵀ scratch `forward` needs: inFeatures × outFeatures.
    public static func packedCount(inFeatures: Int, outFeatures: Int) -> Int { inFeatures * outFeatures }

    /// Whether `forward` runs the C kernel for Float rows of `outFeatures` columns (else OpenBLAS).
    public static func usesKernel(outFeatures: Int) -> Bool {
        let width = tbg_linear_product_width()
        return width > 0 && outFeatures % width == 0
    }

    /// y (rows × outFeatures) = x (rows × inFeatures) Wᵀ, or += with `accumulate`; W is outFeatures ×
    /// inFeatures with row stride `ldw`. `packed` (packedCount elements) is scratch.
    public static func forward<T: BLASScalar>(_ y: UnsafeMutableBufferPointer<T>, _ x: UnsafeBufferPointer<T>, weight: UnsafeBufferPointer<T>,
                                              ldw: Int, rows: Int, inFeatures k: Int, outFeatures n: Int, accumulate: Bool = false,
                                              packed: UnsafeMutablePointer<T>) {
        guard T.self == Float.self, rows > 0, usesKernel(outFeatures: n) else {
            Linear.forward(y, x, weight: weight, ldw: ldw, bias: nil, rows: rows, inFeatures: k, outFeatures: n, accumulate: accumulate)
            return
        }
        precondition(y.count >= rows * n && x.count >= rows * k && weight.count >= (n - 1) * ldw + k, "rows × features buffers")
        let w = weight.baseAddress!
        for o in 0..<n {
            for j in 0..<k { packed[j * n + o] = w[o * ldw + j] }
        }
        UnsafeMutableRawPointer(y.baseAddress!).withMemoryRebound(to: Float.self, capacity: rows * n) { out in
            UnsafeRawPointer(x.baseAddress!).withMemoryRebound(to: Float.self, capacity: rows * k) { input in
                UnsafeRawPointer(packed).withMemoryRebound(to: Float.self, capacity: k * n) { wt in
                    tbg_linear_product_f32(out, input, wt, rows, k, n, accumulate ? 1 : 0)
                }
            }
        }
    }
}
