// The annealed latent chains of `tbg free-energy --annealed-chains` (Sampling/AnnealedFlowChains.swift)
// on a known answer: with the identity as the "flow" and W = c z₀², the path from the mean-free
// Gaussian prior restricted to z₀ > t to p·e^{−W} restricted to it has Δf = −ln E_{p|S}[e^{−c z₀²}],
// a ratio of Gaussian tails in closed form; BAR over the forward and reverse works must find it.
import Evaluation
import Foundation
import Kernels
import Model
import Sampling
import XCTest

final class AnnealedFlowChainsTests: XCTestCase {
    static let atoms = 4
    /// Under the mean-free prior of 4 atoms each coordinate is N(0, 3/4).
    static let sigma = (3.0 / 4.0).squareRoot()
    static let threshold = 0.6
    static let c = 4.0

    static func work(_ state: RestrictedFlowChains.State) -> Double { -state.logWeight }

    /// The identity "flow": log w = −c z₀²; stratum 0 where z₀ > threshold, else not usable.
    static func identity(_ latents: [[Double]]) -> [(state: RestrictedFlowChains.State, stratum: Int?)] {
        latents.map { z in
            (RestrictedFlowChains.State(positions: z, energy: 0, logQ: MeanFreePrior.logDensity(z[...], atoms: atoms), logWeight: -c * z[0] * z[0]),
             z[0] > threshold ? 0 : nil)
        }
    }

    /// Exact draws of π_0 (the prior restricted to z₀ > t) or of π_1 ∝ p e^{−c z₀²} restricted to it, by rejection.
    static func starts(_ count: Int, target: Bool, seed: UInt64 = 77) -> [RestrictedFlowChainStart] {
        var starts: [RestrictedFlowChainStart] = []
        var index = 0
        var random = RandomSource(seed: seed, streams: [1])
        while starts.count < count {
            let z = MeanFreePrior.sample(atoms: atoms, seed: seed, index: index)
            index += 1
            guard z[0] > threshold else { continue }
            // e^{−c(z₀² − t²)} ≤ 1 on the stratum.
            if target && random.uniform() >= exp(-c * (z[0] * z[0] - threshold * threshold)) { continue }
            starts.append(RestrictedFlowChainStart(latent: z, stratum: 0, state: identity([z])[0].state))
        }
        return starts
    }

    /// Δf = −ln(E_{p|S}[e^{−c z₀²}]): e^{−c z²} N(0, σ²) = (σ'/σ) N(0, σ'²), 1/σ'² = 1/σ² + 2c.
    static var exactDeltaF: Double {
        let sigmaPrime = 1 / (1 / (sigma * sigma) + 2 * c).squareRoot()
        let ratio = sigmaPrime / sigma * erfc(threshold / (sigmaPrime * 2.squareRoot())) / erfc(threshold / (sigma * 2.squareRoot()))
        return -log(ratio)
    }

    static func works(_ starts: [RestrictedFlowChainStart], _ result: AnnealedFlowChains.Result, settings: AnnealedFlowChainSettings,
                      direction: AnnealedFlowChains.Direction) -> [Double] {
        zip(starts, result.states).map { start, states in
            AnnealedFlowChains.work(start: start.state, states: states, lambdas: settings.lambdas, direction: direction, work: Self.work)
        }
    }

    /// BAR over 300 forward and 300 reverse trajectories is within 4 bootstrap standard errors of the
    /// exact Δf; the works obey the second law (mean W_F ≥ Δf ≥ mean −W_R); and the moves at
    /// intermediate λ shrink the dissipation mean W_F − mean(−W_R) well below the one-step BAR's
    /// (the same starts, no path).
    func testForwardAndReverseWorksGiveTheExactFreeEnergy() throws {
        var settings = AnnealedFlowChainSettings()
        (settings.trajectories, settings.levels, settings.moves, settings.step) = (300, 8, 3, 0.4)
        let forwardStarts = Self.starts(300, target: false), reverseStarts = Self.starts(300, target: true, seed: 78)
        let forward = try AnnealedFlowChains.run(starts: forwardStarts, trajectories: 0..<300, direction: .forward, atoms: Self.atoms,
                                             settings: settings, seed: 5, map: Self.identity, work: Self.work)
        let reverse = try AnnealedFlowChains.run(starts: reverseStarts, trajectories: 0..<300, direction: .reverse, atoms: Self.atoms,
                                             settings: settings, seed: 5, map: Self.identity, work: Self.work)
        XCTAssertEqual(forward.integrations, 300 * 7 * 3)
        XCTAssertTrue((forward.states + reverse.states).joined().allSatisfy { $0.positions[0] > Self.threshold }, "every state in the stratum")
        let acceptance = Double((forward.accepted + reverse.accepted).reduce(0, +)) / Double(forward.integrations + reverse.integrations)
        XCTAssertGreaterThan(acceptance, 0.1)
        XCTAssertLessThan(acceptance, 0.95)
        let wF = Self.works(forwardStarts, forward, settings: settings, direction: .forward)
        let wR = Self.works(reverseStarts, reverse, settings: settings, direction: .reverse)
        let estimate = try XCTUnwrap(BennettAcceptanceRatio.estimate(forward: wF, reverse: wR))
        var random = RandomSource(seed: 3)
        var replicates: [Double] = []
        for _ in 0..<200 {
            let f = wF.map { _ in wF[random.integer(below: wF.count)] }, r = wR.map { _ in wR[random.integer(below: wR.count)] }
            replicates.append(try XCTUnwrap(BennettAcceptanceRatio.estimate(forward: f, reverse: r)).deltaF)
        }
        let mean = replicates.reduce(0, +) / 200
        let error = (replicates.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 199).squareRoot()
        let exact = Self.exactDeltaF
        XCTAssertEqual(estimate.deltaF, exact, accuracy: 4 * error, "BAR \(estimate.deltaF) ± \(error), exact \(exact)")
        let meanForward = wF.reduce(0, +) / 300, meanReverse = wR.reduce(0, +) / 300
        XCTAssertGreaterThan(meanForward, exact)
        XCTAssertLessThan(meanReverse, exact)
        // One step: W at the starts on both sides.
        let oneStep = forwardStarts.map { Self.work($0.state) }.reduce(0, +) / 300 - reverseStarts.map { Self.work($0.state) }.reduce(0, +) / 300
        XCTAssertLessThan(meanForward - meanReverse, 0.6 * oneStep, "annealed dissipation \(meanForward - meanReverse), one-step \(oneStep)")
    }

    /// The works follow the path: forward W_F = Σ (λ_k − λ_{k−1}) W(z_{k−1}), reverse −W_R = Σ (λ_k −
    /// λ_{k−1}) W(z'_k), shown on an uneven path; with one level (no intermediate state) both are W(start).
    func testWorksWeighTheStatesByTheirLambdaSteps() throws {
        func state(_ w: Double) -> RestrictedFlowChains.State { .init(positions: [], energy: 0, logQ: 0, logWeight: -w) }
        let lambdas = [0, 0.1, 1.0]
        XCTAssertEqual(AnnealedFlowChains.work(start: state(10), states: [state(2)], lambdas: lambdas, direction: .forward, work: Self.work),
                       0.1 * 10 + 0.9 * 2, accuracy: 1e-12)
        XCTAssertEqual(AnnealedFlowChains.work(start: state(10), states: [state(2)], lambdas: lambdas, direction: .reverse, work: Self.work),
                       0.1 * 2 + 0.9 * 10, accuracy: 1e-12)
        for direction in [AnnealedFlowChains.Direction.forward, .reverse] {
            XCTAssertEqual(AnnealedFlowChains.work(start: state(7), states: [], lambdas: [0, 1], direction: direction, work: Self.work), 7)
            XCTAssertEqual(AnnealedFlowChains.work(start: state(.infinity), states: [], lambdas: [0, 1], direction: direction, work: Self.work),
                           .infinity)
        }
        var settings = AnnealedFlowChainSettings()
        settings.levels = 1
        let starts = Self.starts(3, target: false)
        let result = try AnnealedFlowChains.run(starts: starts, trajectories: 0..<3, direction: .forward, atoms: Self.atoms, settings: settings, seed: 1,
                                            map: Self.identity, work: Self.work)
        XCTAssertEqual(result.integrations, 0)
        XCTAssertEqual(result.states.map(\.count), [0, 0, 0])
    }

    /// The trajectories do not depend on how they are split over calls at group boundaries (ranks);
    /// the two directions draw other noise; a stop after a group keeps the groups done; stored groups
    /// are not integrated again and count as spent.
    func testSplittingStoppingAndResumingGiveTheUninterruptedTrajectories() throws {
        var settings = AnnealedFlowChainSettings()
        (settings.levels, settings.moves, settings.group) = (4, 2, 2)
        let starts = Self.starts(8, target: false)
        func run(_ range: Range<Int>, direction: AnnealedFlowChains.Direction = .forward, seed: UInt64 = 3,
                 map: ([[Double]]) -> [(state: RestrictedFlowChains.State, stratum: Int?)] = AnnealedFlowChainsTests.identity,
                 stored: (Range<Int>) -> (states: [[RestrictedFlowChains.State]], accepted: [Int])? = { _ in nil },
                 finished: (Range<Int>, [[RestrictedFlowChains.State]], [Int]) -> Void = { _, _, _ in },
                 stop: Bool = false) throws -> AnnealedFlowChains.Result {
            try AnnealedFlowChains.run(starts: starts, trajectories: range, direction: direction, atoms: Self.atoms, settings: settings, seed: seed,
                                   map: map, work: Self.work, stored: stored, finished: finished, shouldStop: { stop })
        }
        var kept: [Int: (states: [[RestrictedFlowChains.State]], accepted: [Int])] = [:]
        let whole = try run(0..<8, finished: { group, states, accepted in if group.lowerBound < 4 { kept[group.lowerBound] = (states, accepted) } })
        XCTAssertEqual(whole.states.map(\.count), [Int](repeating: 3, count: 8))
        let low = try run(0..<4), high = try run(4..<8)
        XCTAssertEqual(low.states + high.states, whole.states)
        XCTAssertEqual(low.accepted + high.accepted, whole.accepted)
        XCTAssertNotEqual(try run(0..<8, direction: .reverse).states, whole.states)
        XCTAssertNotEqual(try run(0..<8, seed: 4).states, whole.states)
        let stopped = try run(0..<8, stop: true)
        XCTAssertTrue(stopped.stopped)
        XCTAssertEqual(stopped.states, Array(whole.states.prefix(2)))
        var batches: [Int] = []
        let resumed = try run(0..<8, map: { batches.append($0.count); return Self.identity($0) }, stored: { kept[$0.lowerBound] })
        XCTAssertEqual(batches, [Int](repeating: 2, count: 2 * 3 * 2), "the two groups not kept, one batch per move")
        XCTAssertEqual(resumed.states, whole.states)
        XCTAssertEqual(resumed.accepted, whole.accepted)
        XCTAssertEqual(resumed.integrations, whole.integrations)
    }
}
