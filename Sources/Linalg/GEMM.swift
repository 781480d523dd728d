// Shape-checked general matrix multiply over row-major flat buffers, backed by OpenBLAS.
//
//   C ← α · op(A) · op(B) + β · C,   op(A): m×k,  op(B): k×n,  C: m×n
//
// Buffers are row-major. A stored matrix has `rows × cols` logical entries with a leading dimension
// (row stride) `ld ≥ cols`; for `op = .transpose` the stored A is k×m (resp. B is n×k). Every call
// checks that each buffer is long enough for its (rows, cols, ld) before BLAS touches memory: a
// wrong shape is a programmer error and stops with a message, never a silent out-of-bounds read.
import CBLAS

/// Whether a GEMM operand is used as stored or transposed.
public enum Transpose: Sendable {
    case none
    case transpose

    var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
}

/// Element types with a BLAS GEMM (Float → sgemm, Double → dgemm).
public protocol BLASScalar: BinaryFloatingPoint & Sendable {
    // swiftlint:disable:next function_parameter_count
    static func blasGEMM(
        _ transA: Transpose, _ transB: Transpose, m: Int32, n: Int32, k: Int32,
        alpha: Self, a: UnsafePointer<Self>, lda: Int32, b: UnsafePointer<Self>, ldb: Int32,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int32)
}

extension Float: BLASScalar {
    public static func blasGEMM(
        _ transA: Transpose, _ transB: Transpose, m: Int32, n: Int32, k: Int32,
        alpha: Float, a: UnsafePointer<Float>, lda: Int32, b: UnsafePointer<Float>, ldb: Int32,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int32
    ) {
        cblas_sgemm(CblasRowMajor, transA.cblas, transB.cblas, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }
}

extension Double: BLASScalar {
    public static func blasGEMM(
        _ transA: Transpose, _ transB: Transpose, m: Int32, n: Int32, k: Int32,
        alpha: Double, a: UnsafePointer<Double>, lda: Int32, b: UnsafePointer<Double>, ldb: Int32,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int32
    ) {
        cblas_dgemm(CblasRowMajor, transA.cblas, transB.cblas, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }
}

/// `C ← α·op(A)·op(B) + β·C` for row-major buffers.
///
/// - Parameters:
///   - m, n, k: op(A) is m×k, op(B) is k×n, C is m×n.
///   - lda, ldb, ldc: row strides of the *stored* matrices; `nil` means tightly packed
///     (A: k if `.none` else m; B: n if `.none` else k; C: n).
/// - Precondition: every buffer holds at least `(rows − 1)·ld + cols` elements of its stored shape.
public func gemm<T: BLASScalar>(
    _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
    alpha: T = 1, a: UnsafeBufferPointer<T>, lda: Int? = nil,
    b: UnsafeBufferPointer<T>, ldb: Int? = nil,
    beta: T = 0, c: UnsafeMutableBufferPointer<T>, ldc: Int? = nil
) {
    precondition(m >= 0 && n >= 0 && k >= 0, "gemm: negative dimension m=\(m) n=\(n) k=\(k)")
    let (aRows, aCols) = transA == .none ? (m, k) : (k, m)
    let (bRows, bCols) = transB == .none ? (k, n) : (n, k)
    let lda = lda ?? max(1, aCols), ldb = ldb ?? max(1, bCols), ldc = ldc ?? max(1, n)
    checkOperand("A", rows: aRows, cols: aCols, ld: lda, count: a.count)
    checkOperand("B", rows: bRows, cols: bCols, ld: ldb, count: b.count)
    checkOperand("C", rows: m, cols: n, ld: ldc, count: c.count)
    if m == 0 || n == 0 { return }
    guard let cBase = c.baseAddress else { return }
    if k == 0 {
        // BLAS leaves C untouched when k = 0 only if beta = 1; make the β-scaling explicit.
        for row in 0..<m { for col in 0..<n { cBase[row * ldc + col] *= beta } }
        return
    }
    guard let aBase = a.baseAddress, let bBase = b.baseAddress else { return }
    T.blasGEMM(
        transA, transB, m: Int32(m), n: Int32(n), k: Int32(k), alpha: alpha,
        a: aBase, lda: Int32(lda), b: bBase, ldb: Int32(ldb), beta: beta, c: cBase, ldc: Int32(ldc))
}

/// Array convenience for `gemm` (tightly packed operands).
public func gemm<T: BLASScalar>(
    _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
    alpha: T = 1, a: [T], b: [T], beta: T = 0, c: inout [T]
) {
    a.withUnsafeBufferPointer { aBuffer in
        b.withUnsafeBufferPointer { bBuffer in
            c.withUnsafeMutableBufferPointer { cBuffer in
                gemm(transA, transB, m: m, n: n, k: k, alpha: alpha, a: aBuffer, b: bBuffer,
                     beta: beta, c: cBuffer)
            }
        }
    }
}

private func checkOperand(_ name: String, rows: Int, cols: Int, ld: Int, count: Int) {
    precondition(ld >= max(1, cols), "gemm: leading dimension of \(name) is \(ld), must be ≥ \(max(1, cols))")
    let needed = rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols
    precondition(
        count >= needed,
        "gemm: \(name) is \(rows)×\(cols) with leading dimension \(ld) and needs \(needed) elements, buffer has \(count)")
    precondition(rows <= Int(Int32.max) && cols <= Int(Int32.max) && ld <= Int(Int32.max),
                 "gemm: \(name) dimensions exceed the 32-bit BLAS interface")
}
