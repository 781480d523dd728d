// Importance weights (normalisation, ESS, multinomial resampling), the φ-basin free energy with
// its bootstrap errors, and the Jensen–Shannon divergence of Ramachandran histograms.
import Evaluation
import Foundation
import Kernels
import TestSupport
import XCTest

final class ImportanceWeightTests: XCTestCase {
    func testEffectiveSampleSize() {
        XCTAssertEqual(ImportanceWeights.effectiveSampleSize(logWeights: [Double](repeating: -7.5, count: 40)), 1, accuracy: 1e-12)
        XCTAssertEqual(ImportanceWeights.effectiveSampleSize(logWeights: [0] + [Double](repeating: -800, count: 19)), 1.0 / 20, accuracy: 1e-12)
        // Two equal weights among four (the others −∞ or NaN): (2w)²/(2w²)/4 = ½.
        XCTAssertEqual(ImportanceWeights.effectiveSampleSize(logWeights: [3, 3, -.infinity, .nan]), 0.5, accuracy: 1e-12)
        XCTAssertEqual(ImportanceWeights.effectiveSampleSize(logWeights: [-.infinity, -.infinity]), 0)
        // Large log weights do not overflow.
        XCTAssertEqual(ImportanceWeights.effectiveSampleSize(logWeights: [1000, 1000 + log(3.0)]), 16.0 / 10 / 2, accuracy: 1e-12)
        // A +∞ log weight (log q = −∞: a failed integration; energies are finite) is flagged as
        // ESS 0 and no weights, not given all the weight.
        XCTAssertEqual(ImportanceWeights.effectiveSampleSize(logWeights: [.infinity, 2, -1, .nan]), 0)
    }

    func testNormalisation() throws {
        let weights = try XCTUnwrap(ImportanceWeights.normalised(logWeights: [log(1.0), log(3.0), -.infinity, .nan]))
        assertClose(weights, [0.25, 0.75, 0, 0], absolute: 1e-15)
        XCTAssertNil(ImportanceWeights.normalised(logWeights: [-.infinity, .nan]))
        XCTAssertNil(ImportanceWeights.normalised(logWeights: [.infinity, 4, .nan]))
    }

    func testMultinomialResamplingFollowsTheWeights() {
        let weights = [0.1, 0.0, 0.2, 0.7, 0.0]
        var random = RandomSource(seed: 9, streams: [1])
        let draws = ImportanceWeights.resample(weights: weights, count: 200_000, random: &random)
        var counts = [Double](repeating: 0, count: 5)
        for index in draws { counts[index] += 1 }
        XCTAssertEqual(counts[1] + counts[4], 0, "zero weights are never drawn")
        // Binomial standard deviation √(p(1−p)/n) ≤ 0.0011: allow 5σ.
        assertClose(counts.map { $0 / 200_000 }, weights, absolute: 0.0055)
        var again = RandomSource(seed: 9, streams: [1])
        XCTAssertEqual(ImportanceWeights.resample(weights: weights, count: 1000, random: &again), Array(draws.prefix(1000)), "seeded")
    }

    func testTransportSetTakesEquallyWeightedSamplesAsTheyAre() {
        var random = RandomSource(seed: 4, streams: [6])
        let equal = [Double](repeating: 0.125, count: 8)
        XCTAssertEqual(ImportanceWeights.transportSet(weights: equal, count: 8, random: &random), Array(0..<8), "all of them, in order")
        // Equal to rounding counts as equal: weights computed one by one from one log weight.
        XCTAssertEqual(ImportanceWeights.transportSet(weights: [0.25, 0.25.nextUp, 0.25, 0.25.nextDown], count: 4, random: &random), [0, 1, 2, 3])
        // Fewer: distinct samples, each of the 8 in a subset of 3 with probability 3/8.
        var counts = [Double](repeating: 0, count: 8)
        for _ in 0..<40_000 {
            let subset = ImportanceWeights.transportSet(weights: equal, count: 3, random: &random)
            XCTAssertEqual(Set(subset).count, 3, "without replacement: \(subset)")
            for index in subset { counts[index] += 1 }
        }
        // Binomial standard deviation √(p(1−p)/n) ≈ 0.0024 for p = 3/8: allow 5σ.
        assertClose(counts.map { $0 / 40_000 }, [Double](repeating: 0.375, count: 8), absolute: 0.012)
        // Unequal weights: the multinomial draws of `resample`, from the same stream.
        let unequal = [0.1, 0.0, 0.2, 0.7, 0.0]
        var a = RandomSource(seed: 9, streams: [1]), b = RandomSource(seed: 9, streams: [1])
        XCTAssertEqual(ImportanceWeights.transportSet(weights: unequal, count: 50, random: &a),
                       ImportanceWeights.resample(weights: unequal, count: 50, random: &b))
    }
}

final class BasinFreeEnergyTests: XCTestCase {
    /// n angles with exactly round(p·n) of them in the positive basin, in a shuffled order.
    private func angles(_ n: Int, positive p: Double, seed: UInt64) -> [Double] {
        var random = SplitMix64(seed: seed)
        let plus = Int((p * Double(n)).rounded())
        var phi = (0..<n).map { $0 < plus ? 0.2 + 1.9 * random.unit() : -0.1 - 3.0 * random.unit() }
        for i in stride(from: n - 1, to: 0, by: -1) { phi.swapAt(i, Int(random.next() % UInt64(i + 1))) }
        return phi
    }

    /// A weighted trajectory is the unweighted one with frame k repeated w_k times, when the blocks
    /// hold the same frames: same ΔF, same block sums, hence the same bootstrap replicates.
    func testWeightedBlockBootstrapEqualsRepeatedFrames() throws {
        let phi = [1.0, -1.0, -2.0, 0.5, -0.5, 2.0, -3.0, 1.5]
        let weights = [2.0, 1.0, 3.0, 1.0, 1.0, 4.0, 1.0, 2.0]
        // Frames 0–3 (7 repeated frames) and 4–7 (8 repeated frames): two blocks both ways.
        let repeated = zip(phi, weights).flatMap { [Double](repeating: $0.0, count: Int($0.1)) }
        XCTAssertEqual(repeated.count, 15)
        var a = RandomSource(seed: 3, streams: [2]), b = RandomSource(seed: 3, streams: [2])
        let weighted = BasinFreeEnergy.trajectory(phi: phi, weights: weights, blocks: 2, resamples: 100, random: &a)
        let expanded = BasinFreeEnergy.trajectory(phi: Array(repeated.prefix(7)) + Array(repeated.suffix(8)), blocks: 2, resamples: 100, random: &b)
        // 15 frames in 2 blocks split 7 | 8, as the weighted blocks do.
        XCTAssertEqual(try XCTUnwrap(weighted.value), -log((2.0 + 1 + 4 + 2) / (1.0 + 3 + 1 + 1)), accuracy: 1e-12)
        XCTAssertEqual(weighted.value, expanded.value)
        XCTAssertEqual(try XCTUnwrap(weighted.standardError), try XCTUnwrap(expanded.standardError), accuracy: 1e-12)
        XCTAssertGreaterThan(try XCTUnwrap(weighted.standardError), 0)
        XCTAssertEqual(weighted.positiveFraction, 9.0 / 15, accuracy: 1e-15)
    }

    func testKnownPopulations() throws {
        var random = RandomSource(seed: 1)
        let phi = angles(1000, positive: 0.3, seed: 1)
        let estimate = BasinFreeEnergy.samples(phi: phi, resamples: 50, random: &random)
        XCTAssertEqual(try XCTUnwrap(estimate.value), -log(300.0 / 700.0), accuracy: 1e-12)
        XCTAssertEqual(estimate.positiveFraction, 0.3, accuracy: 1e-15)
        // Weights: the positive basin weighted 7/3 as much per sample gives equal basins, ΔF = 0.
        let weights = phi.map { PhiBasin.standard.contains($0) ? 7.0 : 3.0 }
        XCTAssertEqual(try XCTUnwrap(BasinFreeEnergy.samples(phi: phi, weights: weights, resamples: 10, random: &random).value), 0, accuracy: 1e-12)
        // Basin edges: 0 < φ < 2.15 is open; 0, 2.15, π and −π are in the other basin.
        XCTAssertEqual(try XCTUnwrap(BasinFreeEnergy.samples(phi: [1e-9, 2.149, 0, 2.15, .pi, -.pi], resamples: 0, random: &random).value),
                       log(2.0), accuracy: 1e-15)
        // The time series estimate uses the same populations.
        XCTAssertEqual(try XCTUnwrap(BasinFreeEnergy.trajectory(phi: phi, blocks: 20, resamples: 10, random: &random).value),
                       -log(300.0 / 700.0), accuracy: 1e-12)
    }

    func testTheBetaTailPastTwoPointFifteenIsNotThePositiveBasinUnlessConfigured() throws {
        var random = RandomSource(seed: 3)
        // C7ax at 1.2 rad, αR at −1.2, and the β basin's tail that wraps past π to φ ≈ 2.5–3.1.
        let phi = [1.2, 1.3, -1.2, -1.4, -2.6, 2.6, 2.9, 3.1]
        let standard = BasinFreeEnergy.samples(phi: phi, resamples: 0, random: &random)
        XCTAssertEqual(try XCTUnwrap(standard.value), -log(2.0 / 6.0), accuracy: 1e-15)
        XCTAssertEqual(standard.positiveFraction, 0.25)
        // The old split at π (configurable, e.g. `tbg evaluate --phi-basin 0:3.14159`) counts the tail as positive.
        let halves = BasinFreeEnergy.samples(phi: phi, resamples: 0, random: &random, basin: PhiBasin(lower: 0, upper: .pi))
        XCTAssertEqual(try XCTUnwrap(halves.value), -log(5.0 / 3.0), accuracy: 1e-15)
        let series = BasinFreeEnergy.trajectory(phi: phi, blocks: 4, resamples: 0, random: &random, basin: PhiBasin(lower: 0, upper: .pi))
        XCTAssertEqual(try XCTUnwrap(series.value), -log(5.0 / 3.0), accuracy: 1e-15)
        XCTAssertEqual(PhiBasin.standard.description, "0 < phi < 2.15")
    }

    func testEmptyBasinGivesNullWithAReason() {
        var random = RandomSource(seed: 2)
        let estimate = BasinFreeEnergy.samples(phi: [-1, -2, -0.5], resamples: 20, random: &random)
        XCTAssertNil(estimate.value)
        XCTAssertNil(estimate.standardError)
        XCTAssertEqual(estimate.reason, "no population with 0 < phi < 2.15")
        XCTAssertEqual(BasinFreeEnergy.samples(phi: [], resamples: 20, random: &random).reason, "no samples")
    }

    func testBootstrapErrorMatchesTheDeltaMethodAndShrinksLikeOneOverRootN() throws {
        // Var ΔF ≈ 1/(n p (1−p)) for n independent samples (delta method on the log-odds).
        var random = RandomSource(seed: 3)
        var errors: [Double] = []
        for n in [400, 6400] {
            let estimate = BasinFreeEnergy.samples(phi: angles(n, positive: 0.3, seed: UInt64(n)), resamples: 2000, random: &random)
            let error = try XCTUnwrap(estimate.standardError)
            XCTAssertEqual(error, 1 / (Double(n) * 0.21).squareRoot(), accuracy: 0.08 / (Double(n) * 0.21).squareRoot(), "n = \(n)")
            errors.append(error)
        }
        XCTAssertEqual(errors[0] / errors[1], 4, accuracy: 0.4, "16× the samples, ¼ the error")
    }

    func testBlockBootstrapSeesTimeCorrelation() throws {
        // The same frames, in runs that fill whole blocks, or shuffled: the correlated series must
        // give a much larger error than the independent one, which matches the delta method.
        let n = 4000
        let runs = (0..<n).map { frame -> Double in (frame / 200) % 10 < 3 ? 1.0 : -1.0 }   // 30 % positive, 200-frame runs
        var random = RandomSource(seed: 4)
        let correlated = try XCTUnwrap(BasinFreeEnergy.trajectory(phi: runs, blocks: 20, resamples: 1000, random: &random).standardError)
        let shuffled = angles(n, positive: 0.3, seed: 5)
        let independent = try XCTUnwrap(BasinFreeEnergy.trajectory(phi: shuffled, blocks: 20, resamples: 1000, random: &random).standardError)
        XCTAssertGreaterThan(correlated, 4 * independent)
        XCTAssertEqual(independent, 1 / (Double(n) * 0.21).squareRoot(), accuracy: 0.4 / (Double(n) * 0.21).squareRoot())
        // Every block is all-positive or all-negative here, so the block bootstrap is a bootstrap of
        // 20 Bernoulli(0.3) blocks: Var ΔF ≈ 1/(20 · 0.21).
        XCTAssertEqual(correlated, 1 / (20 * 0.21).squareRoot(), accuracy: 0.3 / (20 * 0.21).squareRoot())
    }

    func testClusterBootstrapOfSingletonsIsTheSampleBootstrap() throws {
        let phi = angles(300, positive: 0.4, seed: 6)
        let weights = (0..<300).map { 0.5 + Double($0 % 7) }
        var a = RandomSource(seed: 7), b = RandomSource(seed: 7)
        let plain = BasinFreeEnergy.samples(phi: phi, weights: weights, resamples: 100, random: &a)
        let clustered = BasinFreeEnergy.clusters(phi: phi, weights: weights, clusters: Array(0..<300), resamples: 100, random: &b)
        XCTAssertEqual(clustered, plain)
    }

    func testClusterBootstrapCountsCopiesOfOneSampleOnce() throws {
        // SMC particles resampled from few proposals: 8 copies of each of 500 independent samples.
        // Treated as 4 000 independent samples the error is √8 too small; by cluster it is the
        // error of the 500 (delta method: 1/√(n p (1−p))).
        let n = 500, copies = 8
        let distinct = angles(n, positive: 0.3, seed: 8)
        let phi = distinct.flatMap { [Double](repeating: $0, count: copies) }
        let labels = (0..<n).flatMap { [Int](repeating: 1000 + 3 * $0, count: copies) }
        var random = RandomSource(seed: 9)
        let naive = try XCTUnwrap(BasinFreeEnergy.samples(phi: phi, resamples: 2000, random: &random).standardError)
        let clustered = BasinFreeEnergy.clusters(phi: phi, clusters: labels, resamples: 2000, random: &random)
        let error = try XCTUnwrap(clustered.standardError)
        let expected = 1 / (Double(n) * 0.21).squareRoot()
        XCTAssertEqual(error, expected, accuracy: 0.1 * expected)
        XCTAssertEqual(error / naive, Double(copies).squareRoot(), accuracy: 0.4)
        XCTAssertEqual(try XCTUnwrap(clustered.value), try XCTUnwrap(BasinFreeEnergy.samples(phi: distinct, resamples: 0, random: &random).value),
                       accuracy: 1e-12, "copies do not move the estimate")
    }

    func testOneClusterOrNoReplicatesGiveNoErrorWithAReason() throws {
        // Every particle descends from one proposal: each replicate is the estimate itself, and a
        // zero error would be a claim without evidence.
        let phi = angles(40, positive: 0.3, seed: 10)
        var random = RandomSource(seed: 11)
        let one = BasinFreeEnergy.clusters(phi: phi, clusters: [Int](repeating: 7, count: 40), resamples: 50, random: &random)
        XCTAssertNotNil(one.value)
        XCTAssertNil(one.standardError)
        XCTAssertTrue(try XCTUnwrap(one.reason).contains("one group that shares a history"), one.reason ?? "")
        let none = BasinFreeEnergy.samples(phi: phi, resamples: 0, random: &random)
        XCTAssertNotNil(none.value)
        XCTAssertNil(none.standardError)
        XCTAssertEqual(none.reason, "no error: 0 bootstrap replicates requested (at least 2 needed)")
        let two = BasinFreeEnergy.clusters(phi: phi, clusters: (0..<40).map { $0 % 2 }, resamples: 50, random: &random)
        XCTAssertNotNil(two.standardError, "two clusters: a (rough) error")
    }

    func testChainsSharingAProposalAreOneCluster() {
        // Chains 0..3 of 3 states each; chain 1 accepted proposal 7, which chain 3 started from;
        // chains 0 and 2 share nothing. Components: {0}, {1, 3}, {2}, numbered by first sample.
        let chain = [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
        let source = [10, 10, 11, 12, 7, 7, 13, 13, 13, 7, 7, 14]
        XCTAssertEqual(SharedHistory.components([chain, source]), [0, 0, 0, 1, 1, 1, 2, 2, 2, 1, 1, 1])
        // A chain of links across label sets: a–b by chain, b–c by source, c–d by chain.
        XCTAssertEqual(SharedHistory.components([[0, 0, 1, 1], [5, 6, 6, 7]]), [0, 0, 0, 0])
        XCTAssertEqual(SharedHistory.components([[4, 2, 4, 9]]), [0, 1, 0, 2], "one label set: its own classes")
        XCTAssertEqual(SharedHistory.components([[], []]), [])
    }
}

final class HistogramTests: XCTestCase {
    func testJensenShannonKnownValues() {
        XCTAssertEqual(RamachandranHistogram.jensenShannon([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]), 0, accuracy: 1e-15)
        XCTAssertEqual(RamachandranHistogram.jensenShannon([0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]), 1, accuracy: 1e-8, "disjoint: 1 bit")
        // p = (1, 0), q = (½, ½), m = (¾, ¼): ½·log₂(4/3) + ½·(½ log₂(2/3) + ½ log₂ 2).
        let expected = 0.5 * log2(4.0 / 3) + 0.5 * (0.5 * log2(2.0 / 3) + 0.5)
        XCTAssertEqual(RamachandranHistogram.jensenShannon([1, 0], [0.5, 0.5]), expected, accuracy: 1e-8, "ε-smoothing: ~ε log₂(1/ε)")
        XCTAssertEqual(RamachandranHistogram.jensenShannon([0.5, 0.5], [1, 0]), expected, accuracy: 1e-8, "symmetric")
    }

    func testHistogramBinsArePeriodicAndWeighted() throws {
        let points = [SIMD2(-Double.pi, -Double.pi), SIMD2(Double.pi, Double.pi), SIMD2(0.0, 0), SIMD2(Double.pi.nextDown, 0)]
        let p = try XCTUnwrap(RamachandranHistogram.probabilities(points, weights: [1, 1, 2, 4], bins: 4))
        XCTAssertEqual(p[0 * 4 + 0], 0.25, "±π both land in the first bin")
        XCTAssertEqual(p[2 * 4 + 2], 0.25, "0 opens the third of four bins")
        XCTAssertEqual(p[3 * 4 + 2], 0.5, "just below π is in the last φ bin")
        XCTAssertEqual(p.reduce(0, +), 1, accuracy: 1e-15)
        XCTAssertNil(RamachandranHistogram.probabilities(points, weights: [0, 0, 0, 0], bins: 4))
        // Disjoint sets of angles: JSD 1 bit; the same set (reordered): 0.
        let a = (0..<50).map { SIMD2(-2.0 + 0.01 * Double($0), 2.5) }, b = a.map { SIMD2($0.x + 3, -1.0) }
        let pa = try XCTUnwrap(RamachandranHistogram.probabilities(a, bins: 36))
        XCTAssertEqual(RamachandranHistogram.jensenShannon(pa, try XCTUnwrap(RamachandranHistogram.probabilities(b, bins: 36))), 1, accuracy: 1e-6)
        XCTAssertEqual(RamachandranHistogram.jensenShannon(pa, try XCTUnwrap(RamachandranHistogram.probabilities(a.reversed(), bins: 36))), 0)
    }
}
