// Symmetries of the vector field, in float64 (method.md §4.3): v(Rx + b) = R v(x) for rotations and
// reflections R and translations b; permuting atoms with identical features permutes v; every
// molecule's velocity has zero mean.
import Kernels
import Model
import TestSupport
import XCTest

final class EquivarianceTests: XCTestCase {
    /// A random orthogonal matrix (QR of a Gaussian matrix by Gram–Schmidt); `reflect` flips det.
    private func orthogonal(seed: UInt64, reflect: Bool) -> [[Double]] {
        var random = RandomSource(seed: seed)
        var columns = (0..<3).map { _ in (0..<3).map { _ in random.gaussian() } }
        for c in 0..<3 {
            for p in 0..<c {
                let dot = zip(columns[c], columns[p]).map(*).reduce(0, +)
                columns[c] = zip(columns[c], columns[p]).map { $0 - dot * $1 }
            }
            let norm = columns[c].map { $0 * $0 }.reduce(0, +).squareRoot()
            columns[c] = columns[c].map { $0 / norm }
        }
        let c = columns
        let minor0: Double = c[1][1] * c[2][2] - c[1][2] * c[2][1]
        let minor1: Double = c[1][0] * c[2][2] - c[1][2] * c[2][0]
        let minor2: Double = c[1][0] * c[2][1] - c[1][1] * c[2][0]
        let det: Double = c[0][0] * minor0 - c[0][1] * minor1 + c[0][2] * minor2
        if (det < 0) != reflect { columns[2] = columns[2].map { -$0 } }
        return columns
    }

    private func apply(_ matrix: [[Double]], _ points: [Double], shift: [Double] = [0, 0, 0]) -> [Double] {
        var out = [Double](repeating: 0, count: points.count)
        for k in stride(from: 0, to: points.count, by: 3) {
            for row in 0..<3 {
                var sum: Double = shift[row]
                for column in 0..<3 { sum += matrix[row][column] * points[k + column] }
                out[k + row] = sum
            }
        }
        return out
    }

    func testRotationReflectionAndTranslation() {
        let model = makeModel(hidden: 8, layers: 3, seed: 11)
        let input = makeBatch(atomCounts: [6, 4], seed: 12)
        let v = velocity(model, input)
        for (seed, reflect) in [(UInt64(1), false), (2, true), (3, false), (4, true)] {
            let matrix = orthogonal(seed: seed, reflect: reflect)
            let moved = apply(matrix, input.positions, shift: [0.7, -2.1, 3.3])
            assertClose(velocity(model, input, positions: moved), apply(matrix, v), absolute: 1e-10, relative: 1e-9,
                        reflect ? "reflection" : "rotation")
        }
    }

    func testZeroMeanPerMolecule() {
        let model = makeModel(hidden: 8, layers: 3, seed: 13)
        let input = makeBatch(atomCounts: [6, 4, 3], seed: 14)
        let v = velocity(model, input)
        for molecule in 0..<3 {
            let atoms = input.batch.atomOffsets[molecule]..<input.batch.atomOffsets[molecule + 1]
            for axis in 0..<3 {
                XCTAssertEqual(atoms.map { v[3 * $0 + axis] }.reduce(0, +), 0, accuracy: 1e-12)
            }
        }
        XCTAssertGreaterThan(v.map(abs).max() ?? 0, 1e-3)
    }

    func testPermutingIdenticalAtomsPermutesTheVelocity() {
        let model = makeModel(hidden: 8, layers: 3, seed: 15)
        var input = makeBatch(atomCounts: [6], seed: 16)
        // Atoms 1 and 4 get the same features; swap them.
        for k in 0..<3 { input.features[4 * 3 + k] = input.features[1 * 3 + k] }
        let v = velocity(model, input)
        var swapped = input
        for k in 0..<3 { swapped.positions.swapAt(1 * 3 + k, 4 * 3 + k) }
        var expected = v
        for k in 0..<3 { expected.swapAt(1 * 3 + k, 4 * 3 + k) }
        assertClose(velocity(model, swapped), expected, absolute: 1e-12, relative: 1e-10, "permutation")
    }

    func testMoleculesInABatchDoNotInteract() {
        let model = makeModel(hidden: 8, layers: 2, seed: 17)
        let both = makeBatch(atomCounts: [5, 3], seed: 18)
        let first = TestBatch(batch: MoleculeBatch(atomCounts: [5]), features: Array(both.features[0..<15]),
                              times: [both.times[0]], positions: Array(both.positions[0..<15]))
        assertClose(Array(velocity(model, both)[0..<15]), velocity(model, first), absolute: 1e-13, relative: 1e-12, "batching")
    }
}
