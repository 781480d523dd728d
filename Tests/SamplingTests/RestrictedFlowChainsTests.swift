// The latent pCN chains of `tbg free-energy --flow-chains` (Sampling/RestrictedFlowChains.swift)
// on a known answer: with the identity as the "flow", the chains must sample the mean-free Gaussian
// prior restricted to a half-space, whose first coordinate is a truncated normal with a closed form.
import Foundation
import Kernels
import Model
import Sampling
import XCTest

final class RestrictedFlowChainsTests: XCTestCase {
    static let atoms = 4
    /// Under the mean-free prior of 4 atoms each coordinate is N(0, 3/4).
    static let sigma = (3.0 / 4.0).squareRoot()
    static let threshold = 0.6

    /// The identity "flow": the state holds z itself; stratum 0 where z₀ > threshold, else not usable.
    static func identity(_ latents: [[Double]]) -> [(state: RestrictedFlowChains.State, stratum: Int?)] {
        latents.map { z in
            (RestrictedFlowChains.State(positions: z, energy: 0, logQ: MeanFreePrior.logDensity(z[...], atoms: atoms), logWeight: 0),
             z[0] > threshold ? 0 : nil)
        }
    }

    /// Exact draws of the prior restricted to z₀ > threshold (by rejection), as chain starts.
    static func starts(_ count: Int) -> [RestrictedFlowChainStart] {
        var starts: [RestrictedFlowChainStart] = []
        var index = 0
        while starts.count < count {
            let z = MeanFreePrior.sample(atoms: atoms, seed: 77, index: index)
            index += 1
            guard z[0] > threshold else { continue }
            starts.append(RestrictedFlowChainStart(latent: z, stratum: 0, state: identity([z])[0].state))
        }
        return starts
    }

    /// Chains started in the restricted law stay in it: the mean and second moment of z₀ over all
    /// states match the truncated normal's within 4 standard errors (chains as clusters), and every
    /// state lies in the stratum; the acceptance is neither 0 nor 1.
    func testChainsSampleThePriorRestrictedToTheStratum() throws {
        var settings = RestrictedFlowChainSettings()
        (settings.chains, settings.length, settings.step) = (400, 25, 0.5)
        let starts = Self.starts(settings.chains)
        let result = try RestrictedFlowChains.run(starts: starts, chains: 0..<starts.count, atoms: Self.atoms, settings: settings, seed: 5,
                                              map: Self.identity)
        XCTAssertEqual(result.integrations, 400 * 25)
        XCTAssertFalse(result.stopped)
        let acceptance = Double(result.accepted.reduce(0, +)) / Double(result.integrations)
        XCTAssertGreaterThan(acceptance, 0.1)
        XCTAssertLessThan(acceptance, 0.95)
        let a = Self.threshold / Self.sigma
        let pdf = exp(-0.5 * a * a) / (2 * Double.pi).squareRoot()
        let tail = 0.5 * erfc(a / 2.squareRoot())
        let exactMean = Self.sigma * pdf / tail
        let exactSecond = Self.sigma * Self.sigma * (1 + a * pdf / tail)
        for (moment, exact) in [(1, exactMean), (2, exactSecond)] {
            let perChain = result.states.map { states in states.map { pow($0.positions[0], Double(moment)) }.reduce(0, +) / Double(states.count) }
            let mean = perChain.reduce(0, +) / Double(perChain.count)
            let variance = perChain.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(perChain.count - 1)
            let error = (variance / Double(perChain.count)).squareRoot()
            XCTAssertEqual(mean, exact, accuracy: 4 * error, "moment \(moment): \(mean) ± \(error), exact \(exact)")
        }
        XCTAssertTrue(result.states.joined().allSatisfy { $0.positions[0] > Self.threshold })
        // The latents stay mean-free.
        for state in result.states.joined().prefix(50) {
            for axis in 0..<3 {
                XCTAssertEqual((0..<Self.atoms).map { state.positions[3 * $0 + axis] }.reduce(0, +), 0, accuracy: 1e-12)
            }
        }
    }

    /// The chains do not depend on how they are split over calls at group boundaries (ranks), and a
    /// stop after a group keeps the groups done.
    func testSplittingAtGroupsGivesTheSameChainsAndAStopKeepsFinishedGroups() throws {
        var settings = RestrictedFlowChainSettings()
        (settings.chains, settings.length, settings.group) = (8, 6, 2)
        let starts = Self.starts(8)
        let whole = try RestrictedFlowChains.run(starts: starts, chains: 0..<8, atoms: Self.atoms, settings: settings, seed: 3, map: Self.identity)
        let low = try RestrictedFlowChains.run(starts: starts, chains: 0..<4, atoms: Self.atoms, settings: settings, seed: 3, map: Self.identity)
        let high = try RestrictedFlowChains.run(starts: starts, chains: 4..<8, atoms: Self.atoms, settings: settings, seed: 3, map: Self.identity)
        XCTAssertEqual(low.states + high.states, whole.states)
        XCTAssertEqual(low.accepted + high.accepted, whole.accepted)
        var batches: [Int] = []
        _ = try RestrictedFlowChains.run(starts: starts, chains: 0..<8, atoms: Self.atoms, settings: settings, seed: 3) { latents in
            batches.append(latents.count)
            return Self.identity(latents)
        }
        XCTAssertEqual(batches, [Int](repeating: 2, count: 4 * 6), "one batch of a group's chains per step")
        let stopped = try RestrictedFlowChains.run(starts: starts, chains: 0..<8, atoms: Self.atoms, settings: settings, seed: 3,
                                               map: Self.identity, shouldStop: { true })
        XCTAssertTrue(stopped.stopped)
        XCTAssertEqual(stopped.states, Array(whole.states.prefix(2)))
        // Another seed moves otherwise.
        let other = try RestrictedFlowChains.run(starts: starts, chains: 0..<8, atoms: Self.atoms, settings: settings, seed: 4, map: Self.identity)
        XCTAssertNotEqual(other.states, whole.states)
    }

    /// Groups kept by `finished` and given back by `stored` are not integrated again, and the result
    /// (states, acceptances, integrations counted) is the uninterrupted run's.
    func testStoredGroupsAreUsedAndCountAsSpent() throws {
        var settings = RestrictedFlowChainSettings()
        (settings.chains, settings.length, settings.group) = (6, 5, 2)
        let starts = Self.starts(6)
        var kept: [Int: (states: [[RestrictedFlowChains.State]], accepted: [Int])] = [:]
        let whole = RestrictedFlowChains.run(starts: starts, chains: 0..<6, atoms: Self.atoms, settings: settings, seed: 8, map: Self.identity,
                                                 finished: { group, states, accepted in
                                                     if group.lowerBound < 4 { kept[group.lowerBound] = (states, accepted) }
                                                 })
        XCTAssertEqual(Set(kept.keys), [0, 2])
        var integrated = 0
        let resumed = try RestrictedFlowChains.run(starts: starts, chains: 0..<6, atoms: Self.atoms, settings: settings, seed: 8,
                                                   map: { latents in integrated += latents.count; return Self.identity(latents) },
                                                   stored: { kept[$0.lowerBound] })
        XCTAssertEqual(integrated, 2 * 5, "only the last group is integrated")
        XCTAssertEqual(resumed.states, whole.states)
        XCTAssertEqual(resumed.accepted, whole.accepted)
        XCTAssertEqual(resumed.integrations, whole.integrations)
    }

    /// Starts go to the sparse strata only, spread evenly over their samples.
    func testStartsAreSpreadOverTheSparseStrata() {
        var settings = RestrictedFlowChainSettings()
        (settings.chains, settings.sparseBelow) = (4, 5)
        // Stratum 0: samples 1, 4; stratum 1: 6 samples (not sparse); stratum 2: none; stratum 3: samples 2, 9, 11.
        let strata = [1, 0, 3, 1, 0, 1, 1, 1, 1, 3, 1, 3]
        let starts = RestrictedFlowChains.startSamples(flowStrata: strata, strata: 4, settings: settings)
        XCTAssertEqual(starts.map(\.sample), [1, 1, 4, 4, 2, 2, 9, 11])
        XCTAssertEqual(starts.map(\.stratum), [0, 0, 0, 0, 3, 3, 3, 3])
        settings.chains = 0
        XCTAssertTrue(RestrictedFlowChains.startSamples(flowStrata: strata, strata: 4, settings: settings).isEmpty)
    }

    /// Every member is picked ⌊count/n⌋ or ⌈count/n⌉ times, in order; nothing from nothing.
    func testSpreadEvenlyPicksEveryMemberAsOftenAsItCan() {
        XCTAssertEqual(spreadEvenly([10, 20, 30], count: 7), [10, 10, 10, 20, 20, 30, 30])
        XCTAssertEqual(spreadEvenly([10, 20, 30, 40, 50, 60], count: 3), [10, 30, 50])
        for n in 1...9 {
            for count in 0...20 {
                let picks = spreadEvenly(Array(0..<n), count: count)
                XCTAssertEqual(picks.count, count)
                XCTAssertEqual(picks, picks.sorted())
                for member in 0..<n where count >= n {
                    let times = picks.filter { $0 == member }.count
                    XCTAssertTrue(times == count / n || times == (count + n - 1) / n, "n \(n), count \(count), member \(member): \(times)")
                }
            }
        }
        XCTAssertTrue(spreadEvenly([Int](), count: 5).isEmpty)
        XCTAssertTrue(spreadEvenly([1, 2], count: 0).isEmpty)
    }

    /// The pCN proposal keeps the prior: from exact prior draws, its coordinates have variance 3/4
    /// (within 4 standard errors) and stay mean-free.
    func testProposalKeepsThePrior() {
        let n = 4000
        var values: [Double] = []
        for i in 0..<n {
            let z = MeanFreePrior.sample(atoms: Self.atoms, seed: 9, index: i)
            let moved = RestrictedFlowChains.proposal(from: z, atoms: Self.atoms, beta: 0.7, seed: 1, chain: i, step: 0)
            values.append(moved[4])
        }
        let variance = values.map { $0 * $0 }.reduce(0, +) / Double(n)
        // The variance of a sample variance of a normal: 2σ⁴/n.
        XCTAssertEqual(variance, 0.75, accuracy: 4 * (2 * 0.75 * 0.75 / Double(n)).squareRoot())
    }
}
