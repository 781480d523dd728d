// The GEMM wrapper against a naive float64 triple loop, for all four transpose combinations,
// padded leading dimensions, α/β scaling and degenerate shapes. Float tolerance: sgemm accumulates
// k products in float32, so the error bound grows like √k·ε·Σ|a||b| (stack study §5: ≤ 1e-6·√k).
import Linalg
import TestSupport
import XCTest

final class GEMMTests: XCTestCase {
    private struct Case {
        var transA: Transpose, transB: Transpose
        var m: Int, n: Int, k: Int
        var padA: Int, padB: Int, padC: Int
    }

    /// Naive C = α·op(A)·op(B) + β·C in Double over row-major storage with leading dimensions.
    private func reference(_ c: Case, a: [Double], lda: Int, b: [Double], ldb: Int, cIn: [Double], ldc: Int,
                           alpha: Double, beta: Double) -> [Double] {
        var out = cIn
        for i in 0..<c.m {
            for j in 0..<c.n {
                var sum = 0.0
                for p in 0..<c.k {
                    let aValue = c.transA == .none ? a[i * lda + p] : a[p * lda + i]
                    let bValue = c.transB == .none ? b[p * ldb + j] : b[j * ldb + p]
                    sum += aValue * bValue
                }
                out[i * ldc + j] = alpha * sum + beta * cIn[i * ldc + j]
            }
        }
        return out
    }

    private func check<T: BLASScalar>(_ type: T.Type, _ c: Case, tolerance: Double, seed: UInt64) {
        var generator = SplitMix64(seed: seed)
        let (aRows, aCols) = c.transA == .none ? (c.m, c.k) : (c.k, c.m)
        let (bRows, bCols) = c.transB == .none ? (c.k, c.n) : (c.n, c.k)
        let lda = aCols + c.padA, ldb = bCols + c.padB, ldc = c.n + c.padC
        let a = (0..<(aRows * lda)).map { _ in generator.uniform() }
        let b = (0..<(bRows * ldb)).map { _ in generator.uniform() }
        let cIn = (0..<(c.m * ldc)).map { _ in generator.uniform() }
        let alpha = 0.75, beta = -0.5
        let expected = reference(c, a: a, lda: lda, b: b, ldb: ldb, cIn: cIn, ldc: ldc, alpha: alpha, beta: beta)
        let aT = a.map { T($0) }, bT = b.map { T($0) }
        var cT = cIn.map { T($0) }
        aT.withUnsafeBufferPointer { aBuffer in
            bT.withUnsafeBufferPointer { bBuffer in
                cT.withUnsafeMutableBufferPointer { cBuffer in
                    gemm(c.transA, c.transB, m: c.m, n: c.n, k: c.k, alpha: T(alpha), a: aBuffer, lda: lda,
                         b: bBuffer, ldb: ldb, beta: T(beta), c: cBuffer, ldc: ldc)
                }
            }
        }
        let bound = tolerance * Double(max(c.k, 1)).squareRoot()
        assertClose(cT.map { Double($0) }, expected, absolute: bound, relative: bound,
                    "\(T.self) \(c.transA)/\(c.transB) m=\(c.m) n=\(c.n) k=\(c.k)")
    }

    private var cases: [Case] {
        var cases: [Case] = []
        let shapes = [(1, 1, 1), (3, 5, 7), (17, 4, 130), (64, 33, 9), (5, 1, 64), (1, 40, 3)]
        for transA in [Transpose.none, .transpose] {
            for transB in [Transpose.none, .transpose] {
                for (index, shape) in shapes.enumerated() {
                    cases.append(Case(transA: transA, transB: transB, m: shape.0, n: shape.1, k: shape.2,
                                      padA: index % 3, padB: (index + 1) % 3, padC: index % 2))
                }
            }
        }
        return cases
    }

    func testDoubleMatchesNaiveProductForAllTransposes() {
        for (index, c) in cases.enumerated() { check(Double.self, c, tolerance: 1e-14, seed: UInt64(index)) }
    }

    func testFloatMatchesNaiveProductForAllTransposes() {
        for (index, c) in cases.enumerated() { check(Float.self, c, tolerance: 2e-6, seed: UInt64(100 + index)) }
    }

    func testZeroInnerDimensionScalesC() {
        var c: [Double] = [1, 2, 3, 4]
        gemm(.none, .none, m: 2, n: 2, k: 0, alpha: 1, a: [], b: [], beta: 0.5, c: &c)
        XCTAssertEqual(c, [0.5, 1, 1.5, 2])
    }

    func testArrayConvenienceComputesProduct() {
        // [1 2; 3 4] · [5 6; 7 8] = [19 22; 43 50]
        var c = [Float](repeating: 0, count: 4)
        gemm(.none, .none, m: 2, n: 2, k: 2, a: [1, 2, 3, 4], b: [5, 6, 7, 8], c: &c)
        XCTAssertEqual(c, [19, 22, 43, 50])
        // Aᵀ·B with A = [1 2; 3 4]: [1 3; 2 4]·[5 6; 7 8] = [26 30; 38 44]
        gemm(.transpose, .none, m: 2, n: 2, k: 2, a: [1, 2, 3, 4], b: [5, 6, 7, 8], c: &c)
        XCTAssertEqual(c, [26, 30, 38, 44])
    }

    func testThreadCountCanBeSet() {
        let before = BLASRuntime.threadCount
        BLASRuntime.setThreadCount(1)
        XCTAssertEqual(BLASRuntime.threadCount, 1)
        BLASRuntime.setThreadCount(before)
        XCTAssertFalse(BLASRuntime.coreName.isEmpty)
    }
}
