// Exact 1-D Wasserstein distances against closed forms: identical sets, point masses, shifted and
// scaled Gaussians on exact quantile grids, and a weighted case computed by hand.
import Evaluation
import Foundation
import TestSupport
import XCTest

/// Φ⁻¹ by bisection on Φ(x) = ½ erfc(−x/√2) (to ~1e-15; tests only).
func normalQuantile(_ u: Double) -> Double {
    var low = -40.0, high = 40.0
    for _ in 0..<200 {
        let middle = (low + high) / 2
        if 0.5 * erfc(-middle / 2.0.squareRoot()) < u { low = middle } else { high = middle }
    }
    return (low + high) / 2
}

/// n points at the quantiles (k + ½)/n of N(mean, σ²).
func gaussianGrid(_ n: Int, mean: Double = 0, sigma: Double = 1) -> [Double] {
    (0..<n).map { mean + sigma * normalQuantile((Double($0) + 0.5) / Double(n)) }
}

final class Wasserstein1DTests: XCTestCase {
    func testIdenticalSetsAreAtZeroDistance() {
        let values = [3.0, -1.5, 2.25, 0, 7, 7, -4]
        XCTAssertEqual(Wasserstein1D.distance(values, values.reversed(), p: 1), 0)
        XCTAssertEqual(Wasserstein1D.distance(values, values.shuffled(), p: 2), 0)
        // The same distribution written with repeated atoms or as weights.
        XCTAssertEqual(Wasserstein1D.distance([1, 1, 2], weights: nil, [1, 2], weights: [2, 1], p: 2), 0, accuracy: 1e-15)
    }

    func testPointMasses() {
        XCTAssertEqual(Wasserstein1D.distance([0, 0, 0], [3, 3], p: 1), 3)
        XCTAssertEqual(Wasserstein1D.distance([0], [-3], p: 2), 3)
        // Half the mass moves 2, half moves 0: W1 = 1, W2 = √2.
        XCTAssertEqual(Wasserstein1D.distance([0, 2], [2, 2], p: 1), 1, accuracy: 1e-15)
        XCTAssertEqual(Wasserstein1D.distance([0, 2], [2, 2], p: 2), 2.0.squareRoot(), accuracy: 1e-15)
    }

    func testShiftedGaussiansOnQuantileGrids() {
        for mu in [0.5, -2.0, 3.7] {
            // Equal grids: every quantile moves by exactly μ.
            let a = gaussianGrid(1000), b = gaussianGrid(1000, mean: mu)
            XCTAssertEqual(Wasserstein1D.distance(a, b, p: 1), abs(mu), accuracy: 1e-12)
            XCTAssertEqual(Wasserstein1D.distance(a, b, p: 2), abs(mu), accuracy: 1e-12)
            // Different sizes: the merge of two different step functions, still ≈ |μ|.
            let c = gaussianGrid(3001, mean: mu)
            XCTAssertEqual(Wasserstein1D.distance(a, c, p: 1), abs(mu), accuracy: 2e-3)
            XCTAssertEqual(Wasserstein1D.distance(a, c, p: 2), abs(mu), accuracy: 2e-3)
        }
    }

    func testScaledGaussiansMatchTheClosedForm() {
        // N(0,1) vs N(0,σ²): W2 = |1 − σ|, W1 = |1 − σ| E|Z| = |1 − σ| √(2/π).
        let a = gaussianGrid(4000), b = gaussianGrid(5000, sigma: 2)
        XCTAssertEqual(Wasserstein1D.distance(a, b, p: 2), 1, accuracy: 5e-3)
        XCTAssertEqual(Wasserstein1D.distance(a, b, p: 1), (2 / Double.pi).squareRoot(), accuracy: 2e-3)
    }

    func testWeightedCaseComputedByHand() {
        // F: 0 w.p. ¼, 2 w.p. ¾.  G: 1 w.p. ½, 4 w.p. ½.
        // u ∈ (0, ¼]: |0−1| = 1;  (¼, ½]: |2−1| = 1;  (½, 1]: |2−4| = 2.
        // W1 = ¼ + ¼ + ½·2 = 1.5;  W2² = ¼ + ¼ + ½·4 = 2.5.
        let a = [2.0, 0], wa = [3.0, 1], b = [4.0, 1], wb = [0.5, 0.5]
        XCTAssertEqual(Wasserstein1D.distance(a, weights: wa, b, weights: wb, p: 1), 1.5, accuracy: 1e-15)
        XCTAssertEqual(Wasserstein1D.transportCost(a, weights: wa, b, weights: wb, p: 2), 2.5, accuracy: 1e-15)
        XCTAssertEqual(Wasserstein1D.distance(a, weights: wa, b, weights: wb, p: 2), 2.5.squareRoot(), accuracy: 1e-15)
        // Zero-weight atoms change nothing, and the distance is symmetric.
        XCTAssertEqual(Wasserstein1D.distance(a + [100], weights: wa + [0], b, weights: wb, p: 1), 1.5, accuracy: 1e-15)
        XCTAssertEqual(Wasserstein1D.distance(b, weights: wb, a, weights: wa, p: 2), 2.5.squareRoot(), accuracy: 1e-15)
        // p = 3 through the general power: ¼ + ¼ + ½·8 = 4.5.
        XCTAssertEqual(Wasserstein1D.transportCost(a, weights: wa, b, weights: wb, p: 3), 4.5, accuracy: 1e-14)
    }

    func testUniformEqualSizesIsSortedMatching() {
        var random = SplitMix64(seed: 5)
        let a = (0..<37).map { _ in random.unit() * 10 }, b = (0..<37).map { _ in random.unit() * 10 - 3 }
        let pairs = zip(a.sorted(), b.sorted())
        XCTAssertEqual(Wasserstein1D.transportCost(a, b, p: 1), pairs.map { abs($0 - $1) }.reduce(0, +) / 37, accuracy: 1e-12)
        XCTAssertEqual(Wasserstein1D.transportCost(a, b, p: 2), pairs.map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / 37, accuracy: 1e-12)
    }
}
