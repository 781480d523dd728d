// Pareto-smoothed importance sampling against ArviZ's psislw (fixture by
// Tools/reference/make_psis_fixture.py), and k̂ on tails of known shape.
import Evaluation
import Foundation
import HDF5
import Kernels
import TestSupport
import XCTest

final class ParetoSmoothingTests: XCTestCase {
    /// k̂ and the smoothed log weights equal ArviZ's (0.23.4, reff 1, unnormalised) in every case of
    /// the fixture: light and Pareto tails at S = 64 and 1 000, a tail too short to fit (k̂ = +∞, the
    /// weights unchanged), the shortest tail that fits (S = 21), zero weights (log −∞, counted in S),
    /// ties at the cut-off, and the 63 αL draws of an alanine-dipeptide run
    /// (k̂ ≈ 1.5). Elementwise where the tail has no ties (their order among equal values is arbitrary
    /// in both), as sorted values everywhere.
    func testMatchesArviZ() throws {
        let root = try HDF5File(opening: Fixtures.path("psis/psislw.h5")).root()
        let names = try root.childNames()
        XCTAssertEqual(names.count, 12, "\(names)")
        for name in names {
            let group = try root.group(name)
            let logWeights = try group.dataset("log_weights").read(as: Double.self)
            let expected = try group.dataset("smoothed_log_weights").read(as: Double.self)
            let khat = try XCTUnwrap(try group.readAttribute("khat", as: Double.self).first)
            let result = ParetoSmoothing.smooth(logWeights: logWeights)
            if khat.isInfinite {
                XCTAssertEqual(result.khat, .infinity, name)
                XCTAssertEqual(result.smoothedLogWeights, logWeights, name)
                XCTAssertNil(ParetoSmoothing.khat(logWeights: logWeights), name)
                continue
            }
            XCTAssertEqual(result.khat, khat, accuracy: 1e-10, name)
            XCTAssertEqual(try XCTUnwrap(ParetoSmoothing.khat(logWeights: logWeights)), khat, accuracy: 1e-10, name)
            XCTAssertEqual(result.smoothedLogWeights.count, logWeights.count, name)
            let largest = logWeights.max()!
            XCTAssertLessThanOrEqual(result.smoothedLogWeights.max()!, largest + 1e-12, "\(name): no smoothed weight above the largest raw one")
            func same(_ a: Double, _ b: Double) { a == -.infinity ? XCTAssertEqual(b, -.infinity, name) : XCTAssertEqual(a, b, accuracy: 1e-9, name) }
            for (a, b) in zip(result.smoothedLogWeights.sorted(), expected.sorted()) { same(a, b) }
            if Set(logWeights).count == logWeights.count {
                for (a, b) in zip(result.smoothedLogWeights, expected) { same(a, b) }
            }
        }
    }

    /// Large samples (S = 20 000, a tail of 424) of Pareto(α) weights (k = 1/α) and of a Gaussian log
    /// weight (all moments finite; finite samples give k̂ of 0.2–0.35): k̂ lands near the true shape; an offset in the log weights changes nothing but shifts the smoothed ones by it.
    func testKnownTailShapes() throws {
        var random = RandomSource(seed: 11, streams: [3])
        for alpha in [4.0, 2.0, 1.25] {
            let logWeights = (0..<20_000).map { _ in -log(1 - random.uniform()) / alpha }
            let khat = try XCTUnwrap(ParetoSmoothing.khat(logWeights: logWeights))
            XCTAssertEqual(khat, 1 / alpha, accuracy: 0.2, "alpha \(alpha)")   // the fit's SD is about (1 + k)/√424 ≈ 0.07 here
            let shifted = ParetoSmoothing.smooth(logWeights: logWeights.map { $0 - 123.0 })
            XCTAssertEqual(shifted.khat, khat, accuracy: 1e-9)
            let plain = ParetoSmoothing.smooth(logWeights: logWeights)
            for (a, b) in zip(shifted.smoothedLogWeights, plain.smoothedLogWeights) { XCTAssertEqual(a + 123.0, b, accuracy: 1e-9) }
        }
        let gaussian = (0..<20_000).map { _ in random.gaussian() }
        XCTAssertLessThan(try XCTUnwrap(ParetoSmoothing.khat(logWeights: gaussian)), 0.45)   // ArviZ gives 0.24–0.33 at this size
        // A weight of zero (log −∞) counts in S (as in ArviZ) but is never in the tail; NaN and +∞ are left out.
        XCTAssertEqual(ParetoSmoothing.smooth(logWeights: gaussian + [-.infinity]).sampleSize, 20_001)
        XCTAssertEqual(ParetoSmoothing.khat(logWeights: gaussian + [.nan, .infinity]), ParetoSmoothing.khat(logWeights: gaussian))
        XCTAssertNil(ParetoSmoothing.khat(logWeights: [-.infinity, -.infinity]))
        // The sample-size threshold min(1 − 1/log10 S, 0.7).
        XCTAssertEqual(ParetoSmoothing.threshold(sampleSize: 100), 0.5, accuracy: 1e-15)
        XCTAssertEqual(ParetoSmoothing.threshold(sampleSize: 1_000_000), 0.7)
    }
}
