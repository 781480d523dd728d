// Particles and chains move the same whatever the split over ranks: ranks are simulated with plain
// (rank, size) integers, each rank's contiguous block moved on its own with its global indices,
// and the concatenation compared bit for bit with one rank. (Real ranks: CLITests/
// MonteCarloCommandTests runs tbg smc and tbg mcmc under mpirun -np 2.)
import MonteCarlo
import XCTest

final class SimulatedRankTests: XCTestCase {
    private let target = GaussianTarget(means: [0.5, -1.0], sigmas: [0.3, 1.5])

    func testKernelStepsAreIndependentOfTheSplit() {
        let n = 13
        let start = ParticleBatch(positions: target.exactDraws(n, seed: 8), dimension: 2, potential: target.potential)
        for kernel in LocalKernel.allCases {
            func run(rank: Int, size: Int) -> ParticleBatch {
                let block = contiguousBlock(total: n, rank: rank, size: size)
                var batch = start.selecting(Array(block))
                for step in 0..<4 {
                    _ = kernel.step(&batch, settings: MoveSettings(beta: 1, stepSize: 0.4, leapfrogSteps: 3),
                                    streams: ParticleStreams(seed: 5, purpose: kernel.purpose, stage: 2, step: step, firstParticle: block.lowerBound),
                                    potential: target.potential)
                }
                return batch
            }
            let one = run(rank: 0, size: 1)
            XCTAssertNotEqual(one.positions, start.positions, "\(kernel): the particles moved")
            for size in [2, 3, 5] {
                let parts = (0..<size).map { run(rank: $0, size: size) }
                XCTAssertEqual(parts.flatMap(\.positions), one.positions, "\(kernel) on \(size) simulated ranks")
                XCTAssertEqual(parts.flatMap(\.energies), one.energies)
            }
        }
    }

    func testBlocksCoverEveryParticleOnce() {
        for total in [0, 1, 7, 100] {
            for size in 1...6 {
                let blocks = (0..<size).map { contiguousBlock(total: total, rank: $0, size: size) }
                XCTAssertEqual(blocks.flatMap { Array($0) }, Array(0..<total), "\(total) over \(size)")
            }
        }
    }

    func testFlowChainSweepsAreIndependentOfTheSplit() {
        let well = DoubleWell()
        let (pool, _) = gaussianPool(well, count: 500, mean: 0.3, sigma: 0.7, seed: 2)
        let chains = 7, order = (0..<pool.count).reversed().map { $0 }
        func run(rank: Int, size: Int) -> FlowChains {
            let block = contiguousBlock(total: chains, rank: rank, size: size)
            var (state, _) = FlowMCMC.start(chainIndices: Array(block), anchors: block.map { $0 * 3 }, pool: pool, kernel: .mala,
                                            settings: MoveSettings(beta: 1, stepSize: 0.2), relaxationSteps: 2, seed: 3, sweep: 0,
                                            potential: well.potential)
            for sweep in 1...6 {
                _ = FlowMCMC.sweep(&state, pool: pool, order: order, chainCount: chains, independenceFraction: 0.5, kernel: .mala,
                                   settings: MoveSettings(beta: 1, stepSize: 0.2), relaxationSteps: 2, seed: 3, sweep: sweep,
                                   potential: well.potential)
            }
            return state
        }
        let one = run(rank: 0, size: 1)
        let two = (0..<2).map { run(rank: $0, size: 2) }
        XCTAssertEqual(two.flatMap(\.anchors), one.anchors)
        XCTAssertEqual(two.flatMap(\.state.positions), one.state.positions)
        XCTAssertNotEqual(one.anchors, (0..<chains).map { $0 * 3 }, "some independence move was accepted")
    }
}
