// MALA and HMC leave a known Gaussian invariant: particles drawn exactly from it stay distributed as
// it after many steps (moments within 4 standard errors), at step sizes where the Metropolis test
// rejects often enough that the unadjusted dynamics would be visibly biased. The step-size
// adaptation reaches its target acceptance.
import Kernels
import MonteCarlo
import XCTest

final class KernelInvarianceTests: XCTestCase {
    private let target = GaussianTarget(means: [1.0, -2.0, 0.0], sigmas: [0.5, 1.0, 2.0])

    private func checkInvariance(_ kernel: LocalKernel, stepSize: Double, leapfrogSteps: Int = 1, steps: Int) {
        let n = 20_000
        var batch = ParticleBatch(positions: target.exactDraws(n, seed: 5), dimension: target.dimension, potential: target.potential)
        var accepted = 0
        for step in 0..<steps {
            let streams = ParticleStreams(seed: 11, purpose: kernel.purpose, stage: 0, step: step)
            let statistics = kernel.step(&batch, settings: MoveSettings(beta: 1, stepSize: stepSize, leapfrogSteps: leapfrogSteps),
                                         streams: streams, potential: target.potential)
            accepted += statistics.acceptedCount
            XCTAssertEqual(statistics.evaluations, n * (kernel == .hmc ? leapfrogSteps : 1))
        }
        let acceptance = Double(accepted) / Double(n * steps)
        XCTAssertGreaterThan(acceptance, 0.3, "\(kernel): the kernel moves")
        XCTAssertLessThan(acceptance, 0.9, "\(kernel): the Metropolis test is active at this step size")
        for k in 0..<target.dimension {
            let values = (0..<n).map { batch.positions[$0 * target.dimension + k] }
            let mean = values.reduce(0, +) / Double(n)
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n - 1)
            let sigma = target.sigmas[k]
            // Particles are independent, so the standard errors are σ/√n and σ²√(2/n).
            XCTAssertEqual(mean, target.means[k], accuracy: 4 * sigma / Double(n).squareRoot(), "\(kernel) mean of coordinate \(k)")
            XCTAssertEqual(variance, sigma * sigma, accuracy: 4 * sigma * sigma * (2 / Double(n)).squareRoot(), "\(kernel) variance of coordinate \(k)")
        }
        // The energies carried along are the energies of the positions.
        let fresh = target.potential(batch.positions, n).energies
        XCTAssertEqual(fresh, batch.energies)
    }

    func testMALALeavesTheGaussianInvariant() { checkInvariance(.mala, stepSize: 0.7, steps: 30) }

    func testHMCLeavesTheGaussianInvariant() { checkInvariance(.hmc, stepSize: 0.85, leapfrogSteps: 5, steps: 10) }

    func testUnadjustedLangevinAtTheSameStepIsBiased() {
        // The control: the same MALA proposal always accepted (ULA) inflates the narrow coordinate's
        // variance far beyond the tolerance above: σ² = 0.25 becomes σ²/(1 − ε²/(4σ²)) ≈ 0.49.
        let n = 20_000, epsilon = 0.7, sigma = 0.5
        var random = RandomSource(seed: 1)
        var x = (0..<n).map { _ in sigma * random.gaussian() }
        for _ in 0..<30 { x = x.map { $0 - 0.5 * epsilon * epsilon * $0 / (sigma * sigma) + epsilon * random.gaussian() } }
        let variance = x.map { $0 * $0 }.reduce(0, +) / Double(n)
        XCTAssertGreaterThan(variance, sigma * sigma + 20 * sigma * sigma * (2 / Double(n)).squareRoot())
    }

    func testStepSizeAdaptationReachesTheTargetAcceptanceAndThenFreezes() {
        let n = 2_000
        var batch = ParticleBatch(positions: target.exactDraws(n, seed: 6), dimension: target.dimension, potential: target.potential)
        var adaptation = StepSizeAdaptation(stepSize: 0.01, targetAcceptance: 0.6, burnIn: 200)
        var lastRates: [Double] = []
        for step in 0..<300 {
            let statistics = MALA.step(&batch, settings: MoveSettings(beta: 1, stepSize: adaptation.stepSize),
                                       streams: ParticleStreams(seed: 2, purpose: .mala, stage: 0, step: step), potential: target.potential)
            let rate = Double(statistics.acceptedCount) / Double(n)
            if step >= 200 { lastRates.append(rate) }
            let before = adaptation.stepSize
            adaptation.observe(acceptanceRate: rate)
            if step >= 200 { XCTAssertEqual(adaptation.stepSize, before, "frozen after the burn-in") }
        }
        let mean = lastRates.reduce(0, +) / Double(lastRates.count)
        XCTAssertEqual(mean, 0.6, accuracy: 0.05, "acceptance after adaptation, step size \(adaptation.stepSize)")
    }
}
