// Bennett's acceptance ratio on known answers (Gaussians of known normalisers, an exact constant
// shift), and the stratified flow-BAR ΔF between the basins of a 1-D double well with a poor
// Gaussian "flow" and exact equilibrium samples of each basin, against quadrature.
import Evaluation
import Foundation
import Kernels
import XCTest

final class BennettAcceptanceRatioTests: XCTestCase {
    /// u₁ = u₀ + c everywhere: W ≡ c and Δf = c exactly, whatever the samples and their counts.
    func testAConstantShiftIsExact() throws {
        let forward = [Double](repeating: 2.75, count: 37), reverse = [Double](repeating: 2.75, count: 5)
        let estimate = try XCTUnwrap(BennettAcceptanceRatio.estimate(forward: forward, reverse: reverse))
        XCTAssertEqual(estimate.deltaF, 2.75, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(estimate.forward), 2.75, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(estimate.reverse), 2.75, accuracy: 1e-12)
        XCTAssertEqual(estimate.forwardCount, 37)
        XCTAssertEqual(estimate.reverseCount, 5)
    }

    /// State 0: u₀ = x²/2 (Z₀ = √2π); state 1: u₁ = (x − μ)²/(2s²) + c (Z₁ = s√2π e^{−c}), so
    /// Δf = f₁ − f₀ = c − ln s. 3 000 and 1 000 samples (M ≠ 0), 20 seeds: the mean is within 4
    /// standard errors of the exact value and the spread is small (overlap is good here).
    func testGaussiansOfKnownNormalisers() throws {
        let mu = 0.7, s = 0.6, c = 1.3
        let exact = c - log(s)
        func work(_ x: Double) -> Double { (x - mu) * (x - mu) / (2 * s * s) + c - x * x / 2 }
        var estimates: [Double] = [], forwards: [Double] = []
        for seed in 0..<20 {
            var random = RandomSource(seed: UInt64(seed), streams: [7])
            let forward = (0..<3000).map { _ in work(random.gaussian()) }
            let reverse = (0..<1000).map { _ in work(mu + s * random.gaussian()) }
            let estimate = try XCTUnwrap(BennettAcceptanceRatio.estimate(forward: forward, reverse: reverse))
            estimates.append(estimate.deltaF)
            forwards.append(try XCTUnwrap(estimate.forward))
        }
        let mean = estimates.reduce(0, +) / 20
        let sd = (estimates.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 19).squareRoot()
        XCTAssertEqual(mean, exact, accuracy: 4 * sd / 20.0.squareRoot() + 1e-3, "BAR \(mean) ± \(sd / 20.0.squareRoot()), exact \(exact)")
        XCTAssertLessThan(sd, 0.05, "per-run spread of BAR")
        // The forward exponential average converges here too (state 1 is inside state 0), more noisily.
        let forwardMean = forwards.reduce(0, +) / 20
        XCTAssertEqual(forwardMean, exact, accuracy: 0.1)
    }

    /// +∞ works of state-0 samples add nothing but count in n₀; no sample on a side, or an infinite
    /// state-1 work, gives no estimate.
    func testInfiniteWorksAndEmptySides() throws {
        XCTAssertNil(BennettAcceptanceRatio.estimate(forward: [], reverse: [1]))
        XCTAssertNil(BennettAcceptanceRatio.estimate(forward: [1], reverse: []))
        XCTAssertNil(BennettAcceptanceRatio.estimate(forward: [.infinity], reverse: [1]))
        XCTAssertNil(BennettAcceptanceRatio.estimate(forward: [1], reverse: [.infinity]))
        XCTAssertNil(BennettAcceptanceRatio.estimate(forward: [1, .nan], reverse: [1]))
        // W ≡ 1 on the finite ones, one +∞ among n₀ = 4 forward samples, n₁ = 2: Bennett's equation
        // 3σ(M + 1 − Δf) = 2σ(−M − 1 + Δf), M = ln 2; with t = Δf − 1 − M it is 3e^{2t} + e^t − 2 = 0,
        // so e^t = 2/3 and Δf = 1 + ln 2 + ln(2/3).
        let estimate = try XCTUnwrap(BennettAcceptanceRatio.estimate(forward: [1, 1, 1, .infinity], reverse: [1, 1]))
        XCTAssertEqual(estimate.deltaF, 1 + log(2.0) + log(2.0 / 3), accuracy: 1e-9)
        // The forward exponential average: −ln(¾) + 1.
        XCTAssertEqual(try XCTUnwrap(estimate.forward), 1 - log(0.75), accuracy: 1e-12)
        // The overlap: d = Δf − 1 = ln(4/3) at the 5 finite works, N = 6: 6·5·(4/3)/(4 + 2·4/3)² = 0.9.
        XCTAssertEqual(estimate.overlap, 0.9, accuracy: 1e-9)
    }

    /// The overlap scalar is 1 for identical states and falls towards 0 as they separate: unit
    /// Gaussians u₀ = x²/2 and u₁ = (x − μ)²/2 (Δf = 0), 2 000 samples each; below Klimovich et al.'s
    /// 0.03 only when they hardly overlap (μ = 6).
    func testOverlapFallsAsTheStatesSeparate() throws {
        var random = RandomSource(seed: 5, streams: [0x0E])
        let x0 = (0..<2000).map { _ in random.gaussian() }, x1 = (0..<2000).map { _ in random.gaussian() }
        var overlaps: [Double] = []
        for mu in [0.0, 1, 3, 6] {
            func work(_ x: Double) -> Double { (x - mu) * (x - mu) / 2 - x * x / 2 }
            let estimate = try XCTUnwrap(BennettAcceptanceRatio.estimate(forward: x0.map(work), reverse: x1.map { work($0 + mu) }))
            overlaps.append(estimate.overlap)
        }
        XCTAssertEqual(overlaps[0], 1, accuracy: 1e-12)
        XCTAssertTrue(zip(overlaps, overlaps.dropFirst()).allSatisfy { $0 > $1 }, "\(overlaps)")
        XCTAssertGreaterThan(overlaps[2], 0.03)
        XCTAssertLessThan(overlaps[3], 0.03, "\(overlaps)")
    }

    /// A 1-D double well u(x) = 3(x² − 1)² + 0.8x, basins x > 0 and x < 0, exact ΔF by quadrature.
    /// The "flow" is N(−0.3, 1.2²), far from either well's shape. Equilibrium samples of each basin
    /// are exact (rejection from the flow). The stratified estimate is within 4 bootstrap standard
    /// errors of the exact ΔF, and its error is smaller than SNIS's over the same proposals.
    func testStratifiedBARMatchesQuadratureOnADoubleWell() throws {
        func u(_ x: Double) -> Double { 3 * (x * x - 1) * (x * x - 1) + 0.8 * x }
        let m = -0.3, s = 1.2
        func logQ(_ x: Double) -> Double { -0.5 * (x - m) * (x - m) / (s * s) - log(s * (2 * Double.pi).squareRoot()) }
        // Quadrature of Z₊ and Z₋ (midpoint rule, h = 1e-4 on [−4, 4]).
        var plus = 0.0, minus = 0.0
        let h = 1e-4
        for k in 0..<80_000 {
            let x = -4 + (Double(k) + 0.5) * h
            if x > 0 { plus += exp(-u(x)) * h } else { minus += exp(-u(x)) * h }
        }
        let exact = -log(plus / minus)
        // Rejection bound: max of e^{−u}/q on a grid (with 10 % margin).
        var bound = 0.0
        for k in 0..<80_000 { let x = -4 + Double(k) * 1e-4; bound = max(bound, -u(x) - logQ(x)) }
        bound += log(1.1)

        var random = RandomSource(seed: 11, streams: [2])
        let flow = (0..<3000).map { _ in m + s * random.gaussian() }
        var equilibrium: [Double] = []
        var perBasin = [true: 0, false: 0]
        while perBasin[true]! < 400 || perBasin[false]! < 400 {
            let x = m + s * random.gaussian()
            guard log(random.uniform()) < -u(x) - logQ(x) - bound, perBasin[x > 0]! < 400 else { continue }
            equilibrium.append(x)
            perBasin[x > 0]! += 1
        }
        var bootstrap = RandomSource(seed: 5, streams: [3])
        let estimate = StratifiedBAR.estimate(flowStrata: flow.map { $0 > 0 ? 0 : 1 }, flowWork: flow.map { u($0) + logQ($0) },
                                              equilibriumStrata: equilibrium.map { $0 > 0 ? 0 : 1 }, equilibriumWork: equilibrium.map { u($0) + logQ($0) },
                                              clusters: Array(equilibrium.indices), positiveStrata: [true, false], resamples: 200, random: &bootstrap)
        let value = try XCTUnwrap(estimate.value), error = try XCTUnwrap(estimate.standardError)
        XCTAssertEqual(value, exact, accuracy: 4 * error, "stratified BAR \(value) ± \(error), exact \(exact)")
        XCTAssertLessThan(error, 0.1)
        XCTAssertEqual(estimate.strata[0].equilibriumSamples, 400)
        XCTAssertEqual(estimate.strata[0].flowSamples + estimate.strata[1].flowSamples, 3000)
        XCTAssertEqual(estimate.strata[0].flowFraction, Double(flow.filter { $0 > 0 }.count) / 3000, accuracy: 1e-15)
        XCTAssertEqual(estimate.degenerateReplicates, 0)
        XCTAssertEqual(try XCTUnwrap(estimate.positiveFraction), plus / (plus + minus), accuracy: 4 * error * 0.25)
        // Each stratum's flow-side diagnostic is PSIS k̂ of its e^{−W}; this Gaussian "flow" is broader
        // than each well, so the weights are bounded there and k̂ is well below 0.7.
        for s in 0..<2 {
            let weights = flow.filter { ($0 > 0) == (s == 0) }.map { -(u($0) + logQ($0)) }
            let khat = try XCTUnwrap(estimate.strata[s].forwardParetoKHat)
            XCTAssertEqual(khat, try XCTUnwrap(ParetoSmoothing.khat(logWeights: weights)), accuracy: 1e-12)
            XCTAssertLessThan(khat, 0.7)
        }

        // Without equilibrium samples in a basin there is no estimate.
        let one = StratifiedBAR.estimate(flowStrata: flow.map { $0 > 0 ? 0 : 1 }, flowWork: flow.map { u($0) + logQ($0) },
                                         equilibriumStrata: [1], equilibriumWork: [u(-1) + logQ(-1)], clusters: [0], positiveStrata: [true, false],
                                         resamples: 10, random: &bootstrap)
        XCTAssertNil(one.value)
        XCTAssertNil(one.strata[0].bar)

        // Four strata (each basin split at |x| = 1): the same ΔF within the errors, and the stratum
        // populations add up to the basins'.
        var perStratum = [Int](repeating: 0, count: 4)
        var fine: [Double] = []
        func stratum(_ x: Double) -> Int { (x > 0 ? 0 : 2) + (abs(x) < 1 ? 0 : 1) }
        while perStratum.min()! < 300 {
            let x = m + s * random.gaussian()
            guard log(random.uniform()) < -u(x) - logQ(x) - bound, perStratum[stratum(x)] < 300 else { continue }
            fine.append(x)
            perStratum[stratum(x)] += 1
        }
        let four = StratifiedBAR.estimate(flowStrata: flow.map(stratum), flowWork: flow.map { u($0) + logQ($0) },
                                          equilibriumStrata: fine.map(stratum), equilibriumWork: fine.map { u($0) + logQ($0) },
                                          clusters: Array(fine.indices), positiveStrata: [true, true, false, false], resamples: 200, random: &bootstrap)
        let fourValue = try XCTUnwrap(four.value), fourError = try XCTUnwrap(four.standardError)
        XCTAssertEqual(fourValue, exact, accuracy: 4 * fourError, "four strata \(fourValue) ± \(fourError), exact \(exact)")
        let populations = try XCTUnwrap(four.populations)
        XCTAssertEqual(populations.reduce(0, +), 1, accuracy: 1e-12)
        XCTAssertEqual(populations[0] + populations[1], try XCTUnwrap(four.positiveFraction), accuracy: 1e-12)
    }

    /// Chains are the bootstrap's unit: two chains per basin whose states sit at two different works
    /// (W = ∓1.5, 50 states each; the flow's works near 0). Resampled by chain, half the replicates hold one kind only
    /// and the estimate swings; resampled by state, the mix stays near half and half.
    func testTheBootstrapResamplesChains() throws {
        var random = RandomSource(seed: 2, streams: [9])
        let flowWork = (0..<400).map { _ in 0.2 * random.gaussian() }
        let flowStrata = (0..<400).map { $0 % 2 }
        var work: [Double] = [], strata: [Int] = [], chains: [Int] = []
        for chain in 0..<4 {
            work += [Double](repeating: chain % 2 == 0 ? -1.5 : 1.5, count: 50)
            strata += [Int](repeating: chain < 2 ? 0 : 1, count: 50)
            chains += [Int](repeating: chain, count: 50)
        }
        var a = RandomSource(seed: 1, streams: [1]), b = RandomSource(seed: 1, streams: [1])
        let byChain = StratifiedBAR.estimate(flowStrata: flowStrata, flowWork: flowWork, equilibriumStrata: strata,
                                             equilibriumWork: work, clusters: chains, positiveStrata: [true, false], resamples: 300, random: &a)
        let byState = StratifiedBAR.estimate(flowStrata: flowStrata, flowWork: flowWork, equilibriumStrata: strata,
                                             equilibriumWork: work, clusters: Array(work.indices), positiveStrata: [true, false], resamples: 300, random: &b)
        XCTAssertEqual(try XCTUnwrap(byChain.value), try XCTUnwrap(byState.value), accuracy: 1e-12, "the estimate does not depend on the labels")
        XCTAssertGreaterThan(try XCTUnwrap(byChain.standardError), 3 * (try XCTUnwrap(byState.standardError)),
                             "resampling states as if independent would understate the error")
    }
    /// The double well u(x) = 3(x² − 1)² + 0.8x (kT) with a "flow" N(−1.2, 0.6²) that puts Q₊ ≈ 2.3 %
    /// in the positive basin x > 0 (stratum 0); ΔF by quadrature.
    struct SparseWell {
        static let m = -1.2, s = 0.6
        static func u(_ x: Double) -> Double { 3 * (x * x - 1) * (x * x - 1) + 0.8 * x }
        static func logQ(_ x: Double) -> Double { -0.5 * (x - m) * (x - m) / (s * s) - log(s * (2 * Double.pi).squareRoot()) }
        static func work(_ x: Double) -> Double { u(x) + logQ(x) }
        static func stratum(_ x: Double) -> Int { x > 0 ? 0 : 1 }
        static var exact: Double {
            var plus = 0.0, minus = 0.0
            for k in 0..<80_000 {
                let x = -4 + (Double(k) + 0.5) * 1e-4
                if x > 0 { plus += exp(-u(x)) * 1e-4 } else { minus += exp(-u(x)) * 1e-4 }
            }
            return -log(plus / minus)
        }
        static func flow(_ count: Int, _ random: inout RandomSource) -> [Double] { (0..<count).map { _ in m + s * random.gaussian() } }
        /// `perBasin` equilibrium samples of each basin: rejection from the uniform density on [−3, 3].
        static func equilibrium(perBasin count: Int, _ random: inout RandomSource) -> [Double] {
            var bound = -Double.infinity
            for k in 0..<60_000 { bound = max(bound, -u(-3 + Double(k) * 1e-4)) }
            var samples: [Double] = [], perBasin = [0, 0]
            while perBasin.min()! < count {
                let x = random.uniform(-3, 3)
                guard log(random.uniform()) < -u(x) - bound, perBasin[stratum(x)] < count else { continue }
                samples.append(x)
                perBasin[stratum(x)] += 1
            }
            return samples
        }
        /// `count` exact draws of the flow restricted to x > 0.
        static func restricted(_ count: Int, _ random: inout RandomSource) -> [Double] {
            var samples: [Double] = []
            while samples.count < count {
                let x = m + s * random.gaussian()
                if x > 0 { samples.append(x) }
            }
            return samples
        }
        static func rms(_ e: [Double]) -> Double { (e.map { $0 * $0 }.reduce(0, +) / Double(e.count)).squareRoot() }
    }

    /// Samples of the flow restricted to a stratum it rarely visits (latent chains) join BAR's flow
    /// side there but not its Q. 300 proposals of SparseWell's flow hold about 7 in x > 0. Adding 600
    /// exact draws of the flow restricted to x > 0 (in clusters of 20, as chains) leaves Q₊ and the
    /// proposal counts as they were, keeps the estimate within 4 standard errors of quadrature, and
    /// over 12 seeds lowers the RMS error.
    func testRestrictedFlowSamplesJoinTheFlowSideButNotQ() throws {
        typealias W = SparseWell
        let exact = W.exact
        var errorsWith: [Double] = [], errorsWithout: [Double] = []
        for seed in 0..<12 {
            var random = RandomSource(seed: UInt64(seed), streams: [0xF1])
            let flow = W.flow(300, &random)
            let equilibrium = W.equilibrium(perBasin: 200, &random)
            let restricted = W.restricted(600, &random)
            let resamples = seed == 0 ? 100 : 0
            var a = RandomSource(seed: 3, streams: [UInt64(seed)]), b = a
            let with = StratifiedBAR.estimate(flowStrata: flow.map(W.stratum), flowWork: flow.map(W.work),
                                              equilibriumStrata: equilibrium.map(W.stratum), equilibriumWork: equilibrium.map(W.work),
                                              clusters: Array(equilibrium.indices), restrictedStrata: restricted.map(W.stratum),
                                              restrictedWork: restricted.map(W.work), restrictedClusters: restricted.indices.map { $0 / 20 },
                                              positiveStrata: [true, false], resamples: resamples, random: &a)
            let without = StratifiedBAR.estimate(flowStrata: flow.map(W.stratum), flowWork: flow.map(W.work),
                                                 equilibriumStrata: equilibrium.map(W.stratum), equilibriumWork: equilibrium.map(W.work),
                                                 clusters: Array(equilibrium.indices), positiveStrata: [true, false], resamples: resamples, random: &b)
            XCTAssertEqual(with.strata.map(\.flowSamples), without.strata.map(\.flowSamples))
            XCTAssertEqual(with.strata.map(\.flowFraction), without.strata.map(\.flowFraction))
            XCTAssertEqual(with.strata.map(\.restrictedFlowSamples), [600, 0])
            XCTAssertEqual(with.strata[0].bar?.forwardCount, with.strata[0].flowSamples + 600)
            // The flow side's k̂ is over the proposals and the restricted samples together.
            let flowSide = flow.filter { W.stratum($0) == 0 }.map { -W.work($0) } + restricted.map { -W.work($0) }
            XCTAssertEqual(with.strata[0].forwardParetoKHat, ParetoSmoothing.khat(logWeights: flowSide))
            XCTAssertEqual(with.strata[0].forwardParetoThreshold, ParetoSmoothing.threshold(sampleSize: flowSide.count))
            let value = try XCTUnwrap(with.value), plain = try XCTUnwrap(without.value)
            if seed == 0 {
                let error = try XCTUnwrap(with.standardError)
                XCTAssertEqual(value, exact, accuracy: 4 * error, "with restricted samples \(value) ± \(error), exact \(exact)")
            }
            errorsWith.append(value - exact)
            errorsWithout.append(plain - exact)
        }
        XCTAssertLessThan(W.rms(errorsWith), W.rms(errorsWithout), "with \(errorsWith), without \(errorsWithout)")
    }

    /// Draws of the flow without log q (position-only draws) join Q only: Q_s = (n_s + m_s)/(N + M).
    /// SparseWell with 300 proposals and 600 restricted draws as above; adding 6 000 counted draws
    /// leaves BAR's sides as they were, puts the counts in Q, keeps the estimate within 4 standard
    /// errors of quadrature (its bootstrap error smaller), and over 24 seeds lowers the RMS error by
    /// more than a third: at these sizes Q₊'s binomial noise (±0.4 kT with 7 proposals in x > 0) is
    /// most of the error.
    func testCountedDrawsJoinQOnly() throws {
        typealias W = SparseWell
        let exact = W.exact
        var errorsWith: [Double] = [], errorsWithout: [Double] = []
        for seed in 0..<24 {
            var random = RandomSource(seed: UInt64(seed), streams: [0xC0])
            let flow = W.flow(300, &random)
            let equilibrium = W.equilibrium(perBasin: 200, &random)
            let restricted = W.restricted(600, &random)
            let counted = W.flow(6_000, &random)
            let resamples = seed == 0 ? 100 : 0
            func estimate(counted: [Double]) -> StratifiedBasinFreeEnergy {
                var r = RandomSource(seed: 3, streams: [UInt64(seed)])
                return StratifiedBAR.estimate(flowStrata: flow.map(W.stratum), flowWork: flow.map(W.work),
                                              equilibriumStrata: equilibrium.map(W.stratum), equilibriumWork: equilibrium.map(W.work),
                                              clusters: Array(equilibrium.indices), restrictedStrata: restricted.map(W.stratum),
                                              restrictedWork: restricted.map(W.work), restrictedClusters: Array(restricted.indices),
                                              countedStrata: counted.map(W.stratum), positiveStrata: [true, false], resamples: resamples, random: &r)
            }
            let with = estimate(counted: counted), without = estimate(counted: [])
            let positive = counted.filter { $0 > 0 }.count
            XCTAssertEqual(with.strata.map(\.countedDraws), [positive, counted.count - positive])
            XCTAssertEqual(with.strata[0].flowFraction, Double(with.strata[0].flowSamples + positive) / 6_300, accuracy: 1e-15)
            XCTAssertEqual(with.strata.map(\.bar), without.strata.map(\.bar), "counted draws are not in BAR")
            let value = try XCTUnwrap(with.value)
            if seed == 0 {
                let error = try XCTUnwrap(with.standardError), plainError = try XCTUnwrap(without.standardError)
                XCTAssertEqual(value, exact, accuracy: 4 * error, "with counted draws \(value) ± \(error), exact \(exact)")
                XCTAssertLessThan(error, plainError)
            }
            errorsWith.append(value - exact)
            errorsWithout.append(try XCTUnwrap(without.value) - exact)
        }
        XCTAssertLessThan(W.rms(errorsWith), 0.67 * W.rms(errorsWithout), "with \(errorsWith), without \(errorsWithout)")
    }

    /// Annealed trajectories in both directions replace a stratum's BAR by BAR over their works,
    /// keeping the one-step BAR as `directBAR`; in one direction only they are not used. With
    /// zero-length paths (forward works of exact draws of the flow restricted to x > 0, reverse works
    /// of its equilibrium states, as AnnealedFlowChains gives with one level) the estimate is within
    /// 4 standard errors of quadrature, and the bootstrap resamples the trajectories' clusters.
    func testAnnealedWorksReplaceTheStratumsBAR() throws {
        typealias W = SparseWell
        var random = RandomSource(seed: 5, streams: [0xA1])
        let flow = W.flow(300, &random)
        let equilibrium = W.equilibrium(perBasin: 200, &random)
        let restricted = W.restricted(600, &random)
        let reverse = W.equilibrium(perBasin: 300, &random).filter { $0 > 0 }
        var annealed = AnnealedWorks()
        (annealed.forwardStrata, annealed.forwardWork, annealed.forwardClusters) =
            (restricted.map(W.stratum), restricted.map(W.work), restricted.indices.map { $0 / 4 })
        (annealed.reverseStrata, annealed.reverseWork, annealed.reverseClusters) = (reverse.map(W.stratum), reverse.map(W.work), Array(reverse.indices))
        func estimate(_ annealed: AnnealedWorks, resamples: Int = 100) -> StratifiedBasinFreeEnergy {
            var r = RandomSource(seed: 3)
            return StratifiedBAR.estimate(flowStrata: flow.map(W.stratum), flowWork: flow.map(W.work),
                                          equilibriumStrata: equilibrium.map(W.stratum), equilibriumWork: equilibrium.map(W.work),
                                          clusters: Array(equilibrium.indices), annealed: annealed, positiveStrata: [true, false],
                                          resamples: resamples, random: &r)
        }
        let with = estimate(annealed), without = estimate(AnnealedWorks())
        XCTAssertEqual(with.strata[0].bar, BennettAcceptanceRatio.estimate(forward: restricted.map(W.work), reverse: reverse.map(W.work)))
        XCTAssertEqual(with.strata[0].directBAR, without.strata[0].bar)
        // k̂ is of the works BAR used: the annealed forward works where they replace the one-step BAR.
        XCTAssertEqual(try XCTUnwrap(with.strata[0].forwardParetoKHat), try XCTUnwrap(ParetoSmoothing.khat(logWeights: restricted.map { -W.work($0) })))
        XCTAssertEqual(with.strata[1].forwardParetoKHat, without.strata[1].forwardParetoKHat)
        XCTAssertEqual(with.strata.map(\.annealedForward), [600, 0])
        XCTAssertEqual(with.strata.map(\.annealedReverse), [reverse.count, 0])
        XCTAssertEqual(with.strata[1].bar, without.strata[1].bar)
        XCTAssertNil(with.strata[1].directBAR)
        XCTAssertEqual(with.strata.map(\.flowFraction), without.strata.map(\.flowFraction), "Q is the proposals' alone")
        let value = try XCTUnwrap(with.value), error = try XCTUnwrap(with.standardError)
        XCTAssertEqual(value, W.exact, accuracy: 4 * error, "annealed \(value) ± \(error), exact \(W.exact)")
        // One direction only: the one-step BAR stays.
        var forwardOnly = annealed
        (forwardOnly.reverseStrata, forwardOnly.reverseWork, forwardOnly.reverseClusters) = ([], [], [])
        XCTAssertEqual(estimate(forwardOnly).strata.map(\.bar), without.strata.map(\.bar))
        XCTAssertNil(estimate(forwardOnly).strata[0].directBAR)
        // The trajectories are resampled: one cluster per direction leaves only the rest's spread.
        var oneCluster = annealed
        oneCluster.forwardClusters = oneCluster.forwardClusters.map { _ in 0 }
        oneCluster.reverseClusters = oneCluster.reverseClusters.map { _ in 0 }
        XCTAssertEqual(try XCTUnwrap(estimate(oneCluster).value), value, accuracy: 1e-12)
        XCTAssertNotEqual(try XCTUnwrap(estimate(oneCluster).standardError), error)
    }

    /// A stratum's concerns: a forward/reverse gap above 3 kT, overlap below 0.03, or k̂ above its
    /// threshold with a gap above 1 kT; each alone, together, and none without a BAR.
    func testStratumConcerns() {
        func stratum(forward: Double, reverse: Double, overlap: Double, khat: Double?, draws: Int = 80) -> StratifiedBasinFreeEnergy.Stratum {
            var part = StratifiedBasinFreeEnergy.Stratum(positive: true, flowSamples: draws, equilibriumSamples: 64, flowFraction: 0.02,
                                                         bar: BAREstimate(deltaF: 0.5 * (forward + reverse), forward: forward, reverse: reverse,
                                                                          forwardCount: draws, reverseCount: 64, overlap: overlap))
            part.forwardParetoKHat = khat
            part.forwardParetoThreshold = khat.map { _ in ParetoSmoothing.threshold(sampleSize: draws) }
            return part
        }
        XCTAssertEqual(ParetoSmoothing.threshold(sampleSize: 80), 1 - 1 / log10(80.0), accuracy: 1e-15)   // 0.47
        XCTAssertEqual(stratum(forward: 48.0, reverse: 47.5, overlap: 0.5, khat: 0.4).concerns, [])
        XCTAssertEqual(stratum(forward: 49.9, reverse: 45.7, overlap: 0.14, khat: 0.3).concerns, [.forwardReverseGap])
        XCTAssertEqual(stratum(forward: 48.0, reverse: 47.5, overlap: 0.01, khat: nil).concerns, [.lowOverlap])
        // s13+s14's αL: gap 1.5 kT, overlap 0.13, k̂ 1.7 over 80 draws.
        XCTAssertEqual(stratum(forward: 46.32, reverse: 44.83, overlap: 0.13, khat: 1.7).concerns, [.heavyTail])
        // The same k̂ with a gap within 1 kT (a φ < 0 stratum), or a gap of 1.5 with k̂ below the threshold: none.
        XCTAssertEqual(stratum(forward: 47.8, reverse: 47.0, overlap: 0.5, khat: 0.83).concerns, [])
        XCTAssertEqual(stratum(forward: 46.32, reverse: 44.83, overlap: 0.13, khat: 0.4).concerns, [])
        XCTAssertEqual(stratum(forward: 50.8, reverse: 47.0, overlap: 0.02, khat: 1.1).concerns, [.forwardReverseGap, .lowOverlap, .heavyTail])
        var empty = stratum(forward: 48, reverse: 47, overlap: 0.01, khat: 2)
        empty.bar = nil
        XCTAssertEqual(empty.concerns, [])
    }
}
