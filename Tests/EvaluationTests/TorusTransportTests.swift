// Torus W2 on (φ, ψ): known answers for shifted sets (also across the periodic boundary, where the
// short way round must be taken), identical sets, and brute force over all plans for small M.
import Evaluation
import Foundation
import TestSupport
import XCTest

final class TorusTransportTests: XCTestCase {
    private func cloud(_ m: Int, around centre: SIMD2<Double>, spread: Double, seed: UInt64) -> [SIMD2<Double>] {
        var random = SplitMix64(seed: seed)
        return (0..<m).map { _ in centre + SIMD2(random.uniform(), random.uniform()) * spread }
    }

    private func wrap(_ p: SIMD2<Double>) -> SIMD2<Double> { SIMD2(remainder(p.x, 2 * .pi), remainder(p.y, 2 * .pi)) }

    func testPeriodicDistance() {
        XCTAssertEqual(TorusTransport.squaredDistance(SIMD2(3.0, 0), SIMD2(-3.0, 0)), pow(2 * .pi - 6, 2), accuracy: 1e-15)
        XCTAssertEqual(TorusTransport.squaredDistance(SIMD2(.pi, -.pi), SIMD2(-.pi, .pi)), 0, accuracy: 1e-24)
        XCTAssertEqual(TorusTransport.squaredDistance(SIMD2(0.0, 0), SIMD2(.pi, .pi)), 2 * .pi * .pi, accuracy: 1e-12)
    }

    func testIdenticalSetsAreAtZeroDistance() {
        let a = cloud(60, around: SIMD2(-1.3, 2.4), spread: 1.5, seed: 1).map(wrap)
        let result = TorusTransport.distance(a, a.reversed())
        XCTAssertEqual(result.distance, 0)
        XCTAssertTrue(result.certified)
    }

    func testConstantShiftAwayFromTheWrap() {
        // A translation is an optimal map in flat space; far from the wrap W2 = |δ|.
        let a = cloud(120, around: SIMD2(-1.2, 0.4), spread: 0.05, seed: 2)
        for delta in [0.3, 0.05] {
            let b = a.map { $0 + SIMD2(delta, 0) }.shuffled()
            XCTAssertEqual(TorusTransport.distance(a, b).distance, delta, accuracy: 1e-5)
        }
        // A shift in both angles: W2 = |(δφ, δψ)|.
        let b = a.map { $0 + SIMD2(0.3, -0.4) }
        XCTAssertEqual(TorusTransport.distance(a, b).distance, 0.5, accuracy: 1e-5)
    }

    func testShiftAcrossThePeriodicBoundaryGoesTheShortWay() {
        // φ near +π shifted by +0.1 wraps to near −π: the distance is 0.1, not 2π − 0.1.
        let a = cloud(80, around: SIMD2(.pi - 0.06, -2.0), spread: 0.02, seed: 3)
        let b = a.map { wrap($0 + SIMD2(0.1, 0)) }
        XCTAssertTrue(b.allSatisfy { $0.x < -3.0 }, "the shifted set lies across the boundary")
        XCTAssertEqual(TorusTransport.distance(a, b).distance, 0.1, accuracy: 1e-5)
        // The same in ψ, shifting downwards across −π.
        let c = cloud(80, around: SIMD2(1.0, -.pi + 0.05), spread: 0.02, seed: 4)
        XCTAssertEqual(TorusTransport.distance(c, c.map { wrap($0 - SIMD2(0, 0.15)) }).distance, 0.15, accuracy: 1e-5)
    }

    func testTwoPointsPickTheCheaperPairing() {
        let a = [SIMD2(0.0, 0), SIMD2(1.0, 0)], b = [SIMD2(1.1, 0), SIMD2(0.1, 0)]
        let result = TorusTransport.distance(a, b)
        XCTAssertEqual(result.assignment, [1, 0])
        XCTAssertEqual(result.distance, 0.1, accuracy: 1e-12)
    }

    func testMatchesBruteForceWithinTheQuantisationBound() {
        var random = SplitMix64(seed: 21)
        for m in 1...7 {
            for _ in 0..<10 {
                let a = (0..<m).map { _ in SIMD2(random.uniform(), random.uniform()) * .pi }
                let b = (0..<m).map { _ in SIMD2(random.uniform(), random.uniform()) * .pi }
                var best = Double.infinity
                var permutation = Array(0..<m)
                func visit(_ k: Int) {
                    if k == m {
                        best = min(best, (0..<m).map { TorusTransport.squaredDistance(a[$0], b[permutation[$0]]) }.reduce(0, +) / Double(m))
                        return
                    }
                    for i in k..<m {
                        permutation.swapAt(k, i)
                        visit(k + 1)
                        permutation.swapAt(k, i)
                    }
                }
                visit(0)
                let result = TorusTransport.distance(a, b)
                let squared = result.distance * result.distance
                XCTAssertGreaterThanOrEqual(squared, best - 1e-12, "never below the true optimum")
                XCTAssertLessThanOrEqual(squared, best + TorusTransport.squaredDistanceErrorBound, "M = \(m)")
                XCTAssertTrue(result.certified)
            }
        }
    }

    /// Ramachandran-like and uniform problems of 500 points are solved with a valid optimality
    /// certificate (timings at 2000 and 10 000 points: `tbg bench transport`).
    func testCertifiedOnTorusProblems() throws {
        let sizes = [500]
        var random = SplitMix64(seed: 13)
        for m in sizes {
            // Two Ramachandran-like clouds: points spread over two basins with periodic wrap.
            func cloud() -> [SIMD2<Double>] {
                (0..<m).map { _ in
                    let basin = random.unit() < 0.7 ? SIMD2(-1.4, 2.6) : SIMD2(-1.4, -0.6)
                    let angle = basin + SIMD2(normalQuantile(random.unit() * 0.998 + 0.001), normalQuantile(random.unit() * 0.998 + 0.001)) * 0.4
                    return SIMD2(remainder(angle.x, 2 * .pi), remainder(angle.y, 2 * .pi))
                }
            }
            let uniform = { (0..<m).map { _ in SIMD2(random.uniform(), random.uniform()) * .pi } }
            for (label, a, b) in [("two-basin", cloud(), cloud()), ("uniform", uniform(), uniform())] {
                let result = TorusTransport.distance(a, b)
                XCTAssertTrue(result.certified, "\(label), M = \(m)")
            }
        }
    }
}
