// Systematic resampling: every particle gets ⌊N w_i⌋ or ⌈N w_i⌉ copies, zero weights none, and the
// expected offspring count over U ~ U[0, 1) is exactly N w_i (unbiasedness), checked by averaging
// over a fine grid of U.
import Evaluation
import Kernels
import MonteCarlo
import XCTest

final class SystematicResamplingTests: XCTestCase {
    func testOffspringCountsLieBetweenFloorAndCeilingOfNTimesWeight() throws {
        var random = RandomSource(seed: 3)
        for trial in 0..<200 {
            let m = 1 + random.integer(below: 40), n = 1 + random.integer(below: 100)
            let logWeights = (0..<m).map { _ in random.uniform() < 0.2 ? -Double.infinity : 5 * random.gaussian() }
            guard let weights = ImportanceWeights.normalised(logWeights: logWeights) else { continue }
            let ancestors = try XCTUnwrap(SystematicResampling.ancestors(logWeights: logWeights, count: n, uniform: random.uniform()))
            XCTAssertEqual(ancestors.count, n)
            XCTAssertEqual(ancestors, ancestors.sorted(), "trial \(trial): ancestors ascend")
            let counts = SystematicResampling.offspringCounts(ancestors, particles: m)
            for i in 0..<m {
                let expected = Double(n) * weights[i]
                // A tolerance of 1e-9 on the bounds covers rounding of the cumulative sum.
                XCTAssertGreaterThanOrEqual(Double(counts[i]), (expected - 1e-9).rounded(.down), "trial \(trial) particle \(i)")
                XCTAssertLessThanOrEqual(Double(counts[i]), (expected + 1e-9).rounded(.up), "trial \(trial) particle \(i)")
                if weights[i] == 0 { XCTAssertEqual(counts[i], 0, "a zero weight is never resampled") }
            }
        }
    }

    func testExpectedOffspringIsNTimesWeight() throws {
        let logWeights = [0.3, -2.0, 1.1, -.infinity, 0.0, -0.7, 2.2].map { $0 }
        let weights = try XCTUnwrap(ImportanceWeights.normalised(logWeights: logWeights))
        let n = 5, grid = 100_000
        var mean = [Double](repeating: 0, count: weights.count)
        for g in 0..<grid {
            let counts = SystematicResampling.offspringCounts(
                try XCTUnwrap(SystematicResampling.ancestors(logWeights: logWeights, count: n, uniform: (Double(g) + 0.5) / Double(grid))),
                particles: weights.count)
            for i in counts.indices { mean[i] += Double(counts[i]) / Double(grid) }
        }
        // The count is a step function of U with N jumps: the midpoint grid integrates it to 1/grid per jump.
        for i in weights.indices {
            XCTAssertEqual(mean[i], Double(n) * weights[i], accuracy: Double(2 * n) / Double(grid), "particle \(i)")
        }
    }

    func testNothingToResampleIsReported() {
        XCTAssertNil(SystematicResampling.ancestors(logWeights: [-.infinity, .nan], count: 3, uniform: 0.5))
        XCTAssertEqual(SystematicResampling.ancestors(logWeights: [-.infinity, 0, -.infinity], count: 3, uniform: 0.99), [1, 1, 1])
    }
}
