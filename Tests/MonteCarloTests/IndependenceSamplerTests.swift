// Detailed balance of the independence Metropolis–Hastings sampler on a discrete toy: the exact
// transition matrix P_ij = q_j α(i → j) (i ≠ j) built from the implemented acceptance satisfies
// π_i P_ij = π_j P_ji and π P = π; a chain run with the implemented decision visits the states in
// proportion to π within 4 batch-means standard errors.
import Kernels
import MonteCarlo
import XCTest

final class IndependenceSamplerTests: XCTestCase {
    private let target: [Double] = [0.05, 0.4, 0.1, 0.3, 0.15]
    private let proposal: [Double] = [0.3, 0.1, 0.3, 0.2, 0.1]   // poor on purpose: q ≠ π
    private var logWeights: [Double] { zip(target, proposal).map { log($0 / $1) + 1.7 } }   // unnormalised

    func testExactTransitionMatrixSatisfiesDetailedBalance() {
        let m = target.count
        var p = [[Double]](repeating: [Double](repeating: 0, count: m), count: m)
        for i in 0..<m {
            for j in 0..<m where j != i {
                p[i][j] = proposal[j] * IndependenceMetropolis.acceptanceProbability(current: logWeights[i], proposed: logWeights[j])
            }
            p[i][i] = 1 - p[i].reduce(0, +)
            XCTAssertGreaterThanOrEqual(p[i][i], 0)
        }
        for i in 0..<m {
            for j in 0..<m { XCTAssertEqual(target[i] * p[i][j], target[j] * p[j][i], accuracy: 1e-15, "π_\(i) P_\(i)\(j) vs π_\(j) P_\(j)\(i)") }
            let stationary = (0..<m).map { target[$0] * p[$0][i] }.reduce(0, +)
            XCTAssertEqual(stationary, target[i], accuracy: 1e-15, "(πP)_\(i)")
        }
    }

    func testChainVisitsStatesInProportionToTheTarget() {
        let steps = 400_000, batches = 40, m = target.count
        var random = RandomSource(seed: 21)
        var cumulative: [Double] = []
        var running = 0.0
        for q in proposal { running += q; cumulative.append(running) }
        var state = 0
        var batchCounts = [[Double]](repeating: [Double](repeating: 0, count: m), count: batches)
        for step in 0..<steps {
            let u = random.uniform()
            let proposed = cumulative.firstIndex { u < $0 } ?? m - 1
            if IndependenceMetropolis.accepts(current: logWeights[state], proposed: logWeights[proposed], uniform: random.uniform()) {
                state = proposed
            }
            batchCounts[step * batches / steps][state] += Double(batches) / Double(steps)
        }
        for i in 0..<m {
            let (mean, error) = meanAndStandardError(batchCounts.map { $0[i] })
            XCTAssertEqual(mean, target[i], accuracy: 4 * error, "state \(i): frequency \(mean) ± \(error)")
            XCTAssertLessThan(error, 0.005, "the batch means resolve the frequencies")
        }
    }

    func testImpossibleProposalsAreNeverAccepted() {
        XCTAssertEqual(IndependenceMetropolis.acceptanceProbability(current: 0, proposed: -.infinity), 0)
        XCTAssertEqual(IndependenceMetropolis.acceptanceProbability(current: 0, proposed: .nan), 0)
        XCTAssertEqual(IndependenceMetropolis.acceptanceProbability(current: -.infinity, proposed: -3), 1)
        XCTAssertEqual(IndependenceMetropolis.acceptanceProbability(current: 1, proposed: 0), exp(-1), accuracy: 1e-15)
    }
}
