// The position-only and restricted draws of `tbg free-energy --position-draws`
// (Sampling/StratumDraws.swift): position-only integrations give the samples of the full ones within
// the ODE tolerance; the restricted choice, chunks and rank shares; the draws' latents are apart
// from tbg sample's.
import Communication
import Foundation
import Kernels
import Model
import MonteCarlo
import Sampling
import TestSupport
import XCTest

final class StratumDrawsTests: XCTestCase {
    /// The flow's map without the divergence is the same map: on a model trained here on alanine
    /// dipeptide frames, at a tight tolerance, position-only samples agree with the full integration's
    /// within 1e-4 nm, are post-processed alike (bond graph, chirality), and carry no log q.
    func testPositionOnlyIntegrationGivesTheSamples() throws {
        let scratch = try ScratchDirectory("stratum-draws")
        defer { scratch.remove() }
        let checkpoint = try FlowSamplerTests.trainedCheckpoint(scratch)
        var settings = SamplerSettings()
        (settings.absoluteTolerance, settings.relativeTolerance) = (1e-7, 1e-7)
        let runner = try SampleRunner(checkpointPath: checkpoint, peptidePath: Fixtures.path("ad2_capped.h5"), settings: settings,
                                      seed: 5, communicator: SerialCommunicator())
        let flow = runner.flow
        let chunk = ChunkSampler(sampler: FlowSampler(model: flow.model, features: flow.features, atoms: runner.atomCount), settings: settings,
                                 seed: 5, postprocessor: runner.postprocessor)
        let latents = (0..<4).map { StratumDraws.latent(atoms: runner.atomCount, seed: 9, index: $0) }
        let full = try chunk.records(latents: latents, indices: Array(0..<4)).records
        let (positionOnly, evaluations) = try chunk.positionRecords(latents: latents, indices: Array(0..<4))
        XCTAssertGreaterThan(evaluations, 0)
        for (a, b) in zip(full, positionOnly) {
            XCTAssertTrue(a.integrationOK && b.integrationOK)
            XCTAssertEqual(a.topologyOK, b.topologyOK)
            XCTAssertEqual(a.chiralityOK, b.chiralityOK)
            XCTAssertEqual(a.mirrored, b.mirrored)
            assertClose(b.positions, a.positions, absolute: 1e-4, relative: 0, "sample \(a.index)")
            XCTAssertTrue(b.logQ.isNaN && !b.logWeight.isFinite, "no log q, so no weight, without the divergence")
            XCTAssertEqual(b.energy.isFinite, a.energy.isFinite)
        }
    }

    /// A draw's latent is mean-free, the same every time, and not any tbg sample latent of the same
    /// (seed, index).
    func testLatentsAreTheirOwnStream() {
        let z = StratumDraws.latent(atoms: 22, seed: 4, index: 17)
        XCTAssertEqual(z, StratumDraws.latent(atoms: 22, seed: 4, index: 17))
        XCTAssertNotEqual(z, StratumDraws.latent(atoms: 22, seed: 4, index: 18))
        XCTAssertNotEqual(z, MeanFreePrior.sample(atoms: 22, seed: 4, index: 17))
        for axis in 0..<3 {
            XCTAssertEqual(stride(from: axis, to: z.count, by: 3).map { z[$0] }.reduce(0, +), 0, accuracy: 1e-12)
        }
    }

    /// The draws' seed: --seed where given; else the samples' own seed, one seed as it is and a pool's
    /// seeds mixed whatever their order; 1 for samples that record none.
    func testDrawSeedFollowsTheSamplesUnlessGiven() {
        XCTAssertEqual(StratumDraws.seed(explicit: 9, sampleSeeds: [3, 3, 3]), 9)
        XCTAssertEqual(StratumDraws.seed(explicit: nil, sampleSeeds: [3, 3, 3]), 3)
        XCTAssertEqual(StratumDraws.seed(explicit: nil, sampleSeeds: nil), 1)
        XCTAssertEqual(StratumDraws.seed(explicit: nil, sampleSeeds: []), 1)
        let pool = StratumDraws.seed(explicit: nil, sampleSeeds: [3, 5, 5, 3])
        XCTAssertEqual(pool, StratumDraws.seed(explicit: nil, sampleSeeds: [5, 3]))
        XCTAssertFalse([1, 3, 5].contains(pool))
        XCTAssertNotEqual(pool, StratumDraws.seed(explicit: nil, sampleSeeds: [3, 7]))
    }

    /// Chunks cover the draws once, in order; rank blocks cover the chunks once for any number of ranks.
    func testChunksAndSharesCoverEveryDrawOnce() {
        var settings = StratumDrawSettings()
        (settings.draws, settings.chunk) = (150, 64)
        XCTAssertEqual(StratumDraws.chunks(settings), 3)
        XCTAssertEqual((0..<3).flatMap { Array(StratumDraws.indices(chunk: $0, settings: settings)) }, Array(0..<150))
        for size in 1...5 {
            XCTAssertEqual((0..<size).flatMap { Array(contiguousBlock(total: 7, rank: $0, size: size)) }, Array(0..<7), "\(size) ranks")
        }
    }

    /// The restricted draws: in each sparse stratum the first K usable draws there by index, ordered
    /// by stratum then index; draws that are not usable (nil) and dense strata are passed over.
    func testRestrictedChoiceTakesTheFirstDrawsOfEachSparseStratum() {
        let sparse = StratumDraws.sparse(flowStrata: [1, 1, 1, 0, 2, 1], strata: 3, sparseBelow: 3)
        XCTAssertEqual(sparse, [true, false, true])
        let drawStrata: [Int?] = [2, 0, nil, 1, 0, 2, 0, 2, 0]
        let chosen = StratumDraws.restrictedChoice(drawStrata: drawStrata, sparse: sparse, perStratum: 2)
        XCTAssertEqual(chosen.map(\.index), [1, 4, 0, 5])
        XCTAssertEqual(chosen.map(\.stratum), [0, 0, 2, 2])
        XCTAssertTrue(StratumDraws.restrictedChoice(drawStrata: drawStrata, sparse: sparse, perStratum: 0).isEmpty)
    }
}
