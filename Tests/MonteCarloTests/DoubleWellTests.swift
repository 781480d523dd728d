// SMC and flow-MCMC on a 1-D asymmetric double well (barrier 5 kT, exact basin populations by
// quadrature) with a deliberately poor Gaussian proposal N(0.7, 0.45²), which puts 0.01 % of its
// mass in the deeper left basin (where the target has 73 %). Local moves rarely cross the barrier
// in the steps given, so the basin populations must come from the importance weights and
// resampling (SMC) or the independence moves (flow-MCMC): exactly what these tests check.
// Statistical errors are standard errors over independent replicates (seeds) or chains.
import Communication
import Evaluation
import Foundation
import MonteCarlo
import Sampling
import XCTest

final class DoubleWellTests: XCTestCase {
    private let well = DoubleWell()

    private func smcLeftPopulation(particles: Int, seed: UInt64, initialBeta: Double = 1, stages: Int = 4) throws -> (Double, SMCResult) {
        let (pool, energies) = gaussianPool(well, count: 4 * particles, mean: 0.7, sigma: 0.45, seed: seed)
        var settings = SMCSettings()
        settings.particles = particles
        settings.stages = stages
        settings.initialBeta = initialBeta
        settings.stepsPerStage = 5
        settings.moves.stepSize = 0.15
        settings.burnIn = 5
        settings.moves.seed = seed
        let result = try ResampleMoveSMC.run(pool: pool, reducedEnergies: energies, poolEvaluations: pool.count, kT: 1, settings: settings,
                                             communicator: SerialCommunicator(), potential: well.potential)
        let weights = try XCTUnwrap(ImportanceWeights.normalised(logWeights: result.logWeights))
        let left = zip(result.positions, weights).reduce(0.0) { $0 + ($1.0 < 0 ? $1.1 : 0) }
        return (left, result)
    }

    func testSMCBasinPopulationConvergesAsParticlesGrow() throws {
        let exact = well.exactLeftPopulation
        XCTAssertEqual(exact, 0.721, accuracy: 0.001, "the tilt makes the left basin the deeper one")
        var rms: [Double] = []
        var largest: (mean: Double, error: Double) = (0, 0)
        for particles in [50, 500, 5000] {
            let estimates = try (1...10).map { try smcLeftPopulation(particles: particles, seed: UInt64(100 + $0)).0 }
            rms.append((estimates.map { ($0 - exact) * ($0 - exact) }.reduce(0, +) / Double(estimates.count)).squareRoot())
            largest = meanAndStandardError(estimates)
            print("double well SMC, N = \(particles): RMS error of P(left) \(rms.last!), mean \(largest.mean) ± \(largest.error), exact \(exact)")
        }
        XCTAssertLessThan(rms[2], rms[0] / 3, "the error shrinks with N (RMS \(rms))")
        XCTAssertEqual(largest.mean, exact, accuracy: 4 * largest.error, "N = 5000: within 4 standard errors of the quadrature value")
        XCTAssertLessThan(rms[2], 0.1, "N = 5000 (pool 20 000 proposals, pool ESS below 1 %)")
    }

    func testTemperedSMCReachesTheSameAnswer() throws {
        let exact = well.exactLeftPopulation
        var estimates: [Double] = []
        for seed in 1...10 {
            let (left, result) = try smcLeftPopulation(particles: 2000, seed: UInt64(seed), initialBeta: 0.3, stages: 6)
            estimates.append(left)
            XCTAssertEqual(result.stages.map(\.beta).first!, 0.3, accuracy: 1e-15)
            XCTAssertEqual(result.stages.map(\.beta).last, 1)
            XCTAssertTrue(result.stages[0].resampled)
            // Budget: the pool, one evaluation per particle at the start, one per MALA step.
            XCTAssertEqual(result.evaluations, 8000 + 2000 + 6 * 5 * 2000)
        }
        let (mean, error) = meanAndStandardError(estimates)
        print("double well tempered SMC (β0 = 0.3, 6 stages, N = 2000): P(left) \(mean) ± \(error), exact \(exact)")
        XCTAssertEqual(mean, exact, accuracy: 4 * error)
        XCTAssertLessThan(error, 0.05)
    }

    func testFlowMCMCChainsSampleTheBasinPopulations() throws {
        let exact = well.exactLeftPopulation
        // A poor but less extreme proposal, N(0.3, 0.7²) with 13 % of its mass at x < −0.5: with
        // 0.01 % (the SMC tests' proposal) a pool of 40 000 holds a handful of left-well anchors,
        // and the chains' answer would be limited by the pool, not by the sampler.
        let (pool, energies) = gaussianPool(well, count: 40_000, mean: 0.3, sigma: 0.7, seed: 9)
        var settings = FlowMCMCSettings()
        settings.chains = 40
        settings.length = 1000
        settings.burnIn = 20
        settings.independenceFraction = 0.5
        settings.stepsPerSweep = 3
        settings.moves.stepSize = 0.15
        settings.moves.seed = 4
        let result = try FlowMCMCChains.run(pool: pool, reducedEnergies: energies, poolEvaluations: pool.count, kT: 1, settings: settings,
                                            communicator: SerialCommunicator(), potential: well.potential)
        XCTAssertEqual(result.positions.count, 40 * 1000)
        XCTAssertLessThan(result.poolReuse, 1, "each pool sample proposed at most once")
        // Chains are independent: the standard error is the spread of the per-chain estimates.
        let perChain = (0..<40).map { c in Double((0..<1000).filter { result.positions[c * 1000 + $0] < 0 }.count) / 1000 }
        let (mean, error) = meanAndStandardError(perChain)
        let independence = result.sweeps.filter(\.recorded).map(\.independenceAcceptance)
        print("double well flow-MCMC (40 chains × 1000 sweeps): P(left) \(mean) ± \(error), exact \(exact); independence acceptance \(independence.reduce(0, +) / Double(independence.count)), reuse \(result.poolReuse)")
        XCTAssertEqual(mean, exact, accuracy: 4 * error)
        XCTAssertLessThan(error, 0.06)
    }
}
