// The field's two SNIS protocols (field.md §4): the 0.2 % log-weight clip on known answers (numpy's
// linear quantile), torsion W2 on the D-torus against brute force over all plans, and the protocols
// on small sets where every number can be recomputed here: which samples each set holds, its ESS,
// the resampled indices (in the set, positive weight, frequencies ∝ w), energy W2 as sorted
// matching, torsion W2 as brute force; and an old samples file (no raw energies) reported as such.
import Evaluation
import Foundation
import TestSupport
import XCTest

final class SNISProtocolTests: XCTestCase {
    // MARK: the clip

    func testClipDropsLogWeightsAboveTheLinearQuantile() {
        // 1000 distinct log weights 0 … 999: h = 999 · 0.998 = 997.002, q = 997.002; 998 and 999 go.
        var random = SplitMix64(seed: 4)
        let logWeights = (0..<1000).map(Double.init).shuffled(using: &random)
        let threshold = try? XCTUnwrap(LogWeightClip.threshold(logWeights: logWeights, fraction: 0.002))
        XCTAssertEqual(threshold ?? .nan, 997.002, accuracy: 1e-9)
        let (kept, _) = LogWeightClip.kept(logWeights: logWeights, fraction: 0.002)
        XCTAssertEqual(Set(kept.map { logWeights[$0] }), Set((0..<998).map(Double.init)))
        XCTAssertEqual(kept, kept.sorted(), "positions in ascending order")

        // −∞ and NaN take no part in the quantile and are kept (weight 0); +∞ is dropped.
        let padded = logWeights + [-.infinity, .nan, -.infinity, .infinity]
        XCTAssertEqual(LogWeightClip.threshold(logWeights: padded, fraction: 0.002) ?? .nan, 997.002, accuracy: 1e-9)
        let keptPadded = LogWeightClip.kept(logWeights: padded, fraction: 0.002).kept
        XCTAssertEqual(keptPadded.count, 998 + 3)
        XCTAssertFalse(keptPadded.contains(1003), "+inf is above every threshold")

        // 10 000 samples: h = 9999 · 0.998 = 9979.002: the top 20 go (0.2 %).
        let many = (0..<10_000).map { Double($0) * 0.5 }
        XCTAssertEqual(LogWeightClip.kept(logWeights: many, fraction: 0.002).kept.count, 9980)
        // Fraction 0 keeps everything (the threshold is the maximum); no finite weight: nothing to clip.
        XCTAssertEqual(LogWeightClip.kept(logWeights: many, fraction: 0).kept.count, 10_000)
        XCTAssertNil(LogWeightClip.kept(logWeights: [-.infinity, .nan], fraction: 0.002).threshold)
        XCTAssertEqual(LogWeightClip.kept(logWeights: [-.infinity, .nan], fraction: 0.002).kept, [0, 1])
        XCTAssertEqual(LogWeightClip.kept(logWeights: [.infinity, -.infinity], fraction: 0.002).kept, [1], "+inf always goes")
        // Interpolation between unequal neighbours: [0, 1, 10], f = 0.25: h = 1.5, q = 5.5; only 10 goes.
        XCTAssertEqual(LogWeightClip.threshold(logWeights: [10, 0, 1], fraction: 0.25) ?? .nan, 5.5, accuracy: 1e-12)
        XCTAssertEqual(LogWeightClip.kept(logWeights: [10, 0, 1], fraction: 0.25).kept, [1, 2])
    }

    // MARK: torsion W2 on the D-torus

    private func wrapped(_ x: Double) -> Double { remainder(x, 2 * .pi) }

    private func bruteForceSquared(_ a: [Double], _ b: [Double], dimensions d: Int) -> Double {
        let m = a.count / d
        func cost(_ i: Int, _ j: Int) -> Double {
            (0..<d).map { k -> Double in
                let delta = abs(a[i * d + k] - b[j * d + k])
                return pow(min(delta, 2 * .pi - delta), 2)
            }.reduce(0, +)
        }
        var best = Double.infinity
        func search(_ i: Int, _ used: Set<Int>, _ total: Double) {
            if total >= best { return }
            if i == m { best = total; return }
            for j in 0..<m where !used.contains(j) { search(i + 1, used.union([j]), total + cost(i, j)) }
        }
        search(0, [], 0)
        return best / Double(m)
    }

    func testTorsionW2MatchesBruteForceInThreeAndFiveDimensions() {
        var random = SplitMix64(seed: 9)
        for (m, d) in [(6, 3), (5, 5), (7, 1)] {
            // Clouds near the wrap at ±π, so that the short way round matters.
            let a = (0..<(m * d)).map { _ in wrapped(3.0 + 0.8 * random.uniform()) }
            let b = (0..<(m * d)).map { _ in wrapped(-2.9 + 0.8 * random.uniform()) }
            let result = TorusTransport.distance(a, b, dimensions: d)
            let exact = bruteForceSquared(a, b, dimensions: d)
            XCTAssertEqual(result.distance * result.distance, exact, accuracy: TorusTransport.squaredDistanceErrorBound, "M \(m), D \(d)")
            XCTAssertGreaterThanOrEqual(result.distance * result.distance, exact - 1e-12)
            XCTAssertTrue(result.certified)
        }
    }

    func testTwoDimensionalFormIsThePairForm() {
        var random = SplitMix64(seed: 3)
        let a = (0..<40).map { _ in SIMD2(wrapped(3 * random.uniform()), wrapped(3 * random.uniform())) }
        let b = (0..<40).map { _ in SIMD2(wrapped(3 * random.uniform() + 1), wrapped(3 * random.uniform())) }
        let pairs = TorusTransport.distance(a, b)
        let flat = TorusTransport.distance(a.flatMap { [$0.x, $0.y] }, b.flatMap { [$0.x, $0.y] }, dimensions: 2)
        XCTAssertEqual(pairs.distance, flat.distance)
        XCTAssertEqual(pairs.assignment, flat.assignment)
    }

    // MARK: the protocols

    /// MD: `frames` frames with energies 0, 1, 2, … kT and torsions on a line; samples from `rows`.
    private func reference(frames: Int, dimensions: Int = 3) -> ReferenceSet {
        var md = ReferenceSet(energies: (0..<frames).map(Double.init), phi: (0..<frames).map { wrapped(0.01 * Double($0)) },
                              psi: [Double](repeating: 0.5, count: frames))
        md.torsions = (0..<frames).flatMap { f in (0..<dimensions).map { wrapped(0.01 * Double(f) + 0.3 * Double($0)) } }
        md.torsionDimensions = dimensions
        return md
    }

    private struct Row {
        var energy: Double          // kT; the raw energy too
        var logWeight: Double       // the raw log weight too
        var valid = true
        var integrated = true
    }

    private func samples(_ rows: [Row], dimensions: Int = 3, raw: Bool = true) -> SampleSet {
        let n = rows.count
        var set = SampleSet(energies: rows.map { $0.valid ? $0.energy : .infinity }, phi: (0..<n).map { wrapped(0.7 * Double($0)) },
                            psi: [Double](repeating: -0.5, count: n), logWeights: rows.map { $0.valid ? $0.logWeight : -.infinity },
                            topologyOK: rows.map(\.valid), chiralityOK: rows.map { _ in true }, chiralityFixed: rows.map { _ in false })
        set.torsions = (0..<n).flatMap { s in (0..<dimensions).map { wrapped(0.7 * Double(s) - 0.2 * Double($0)) } }
        set.torsionDimensions = dimensions
        if raw {
            set.rawEnergies = rows.map { $0.integrated ? $0.energy : .nan }
            set.rawLogWeights = rows.map { $0.integrated ? $0.logWeight : .nan }
            set.integrationOK = rows.map(\.integrated)
            set.isomorphismBudgetExhausted = rows.map { _ in false }
        }
        return set
    }

    private func kish(_ logWeights: [Double]) -> Double {
        let top = logWeights.filter(\.isFinite).max()!
        let w = logWeights.map { $0.isFinite ? exp($0 - top) : 0 }
        return pow(w.reduce(0, +), 2) / (Double(w.count) * w.map { $0 * $0 }.reduce(0, +))
    }

    func testBothProtocolsOnASmallSetAgainstDirectComputation() throws {
        // 600 samples: every 7th invalid (bond graph), the 3 largest log weights on invalid samples,
        // two failed integrations; h = 597 · 0.998 = 595.806 over the 598 finite log weights.
        var random = SplitMix64(seed: 11)
        var rows = (0..<600).map { k in Row(energy: 10 + 2 * random.uniform(), logWeight: 0.8 * random.uniform(), valid: k % 7 != 3) }
        for k in [3, 10, 17] { rows[k].logWeight = 5 + Double(k) / 10 }   // invalid and the largest
        for k in [100, 101] { (rows[k].valid, rows[k].integrated) = (false, false) }
        let set = samples(rows)
        let md = reference(frames: 700)
        var settings = EvaluationSettings()
        settings.maxPoints = 6   // brute-force-able torsion W2
        let report = SNISProtocols.evaluate(reference: md, samples: set, settings: settings, listResampled: true)

        let valid = set.validIndices
        XCTAssertEqual(report.tbg.samples, valid.count)
        XCTAssertEqual(report.tbg.droppedInvalid, 600 - valid.count)
        XCTAssertEqual(report.tbg.effectiveSampleSize ?? .nan, kish(valid.map { rows[$0].logWeight }), accuracy: 1e-12)

        // The clip: the two largest (samples 17 and 10) go; sample 3 and the other invalid samples stay.
        XCTAssertEqual(report.clipped.clipped, 2)
        let kept = (0..<600).filter { $0 != 17 && $0 != 10 }
        XCTAssertEqual(report.clipped.samples, 598)
        XCTAssertEqual(report.clipped.keptInvalid, kept.filter { !rows[$0].valid && rows[$0].integrated }.count)
        XCTAssertEqual(report.clipped.zeroWeights, 2)
        XCTAssertEqual(report.clipped.effectiveSampleSize ?? .nan,
                       kish(kept.map { rows[$0].integrated ? rows[$0].logWeight : -.infinity }), accuracy: 1e-12)

        for (protocolReport, members) in [(report.tbg, valid), (report.clipped, kept)] {
            let drawn = try XCTUnwrap(protocolReport.resampledIndices), frames = try XCTUnwrap(protocolReport.mdFrameIndices)
            XCTAssertEqual(protocolReport.resampled, 6)
            XCTAssertEqual(frames, (0..<6).map { $0 * (700 / 6) })
            XCTAssertTrue(drawn.allSatisfy { Set(members).contains($0) && rows[$0].integrated }, "\(drawn)")
            let a = frames.map { md.energies[$0] }.sorted(), b = drawn.map { rows[$0].energy }.sorted()
            let w2 = (zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / 6).squareRoot()
            XCTAssertEqual(protocolReport.energyW2 ?? .nan, w2, accuracy: 1e-12)
            let x = frames.flatMap { md.torsions[($0 * 3)..<($0 * 3 + 3)] }, y = drawn.flatMap { set.torsions[($0 * 3)..<($0 * 3 + 3)] }
            let torsion = try XCTUnwrap(protocolReport.torsionW2)
            XCTAssertEqual(torsion * torsion, bruteForceSquared(x, y, dimensions: 3), accuracy: TorusTransport.squaredDistanceErrorBound)
            XCTAssertEqual(protocolReport.torsionDimensions, 3)
            XCTAssertNil(protocolReport.reason)
        }
    }

    func testResamplingFollowsTheWeights() throws {
        // 2000 samples in groups of four: weights ∝ 0.6, 0.3, 0.1 and an infinite energy whose log
        // weight claims 5 (weight 0 all the same); M = 2000 draws.
        let pattern = [Row(energy: 1, logWeight: log(0.6)), Row(energy: 2, logWeight: log(0.3)), Row(energy: 3, logWeight: log(0.1)),
                       Row(energy: .infinity, logWeight: 5)]
        var settings = EvaluationSettings()
        settings.maxPoints = 2000
        let set = samples((0..<2000).map { pattern[$0 % 4] })
        let report = SNISProtocols.evaluate(reference: reference(frames: 2000), samples: set, settings: settings, listResampled: true)
        for protocolReport in [report.tbg, report.clipped] {
            let drawn = try XCTUnwrap(protocolReport.resampledIndices)
            XCTAssertEqual(drawn.count, 2000)
            XCTAssertFalse(drawn.contains { $0 % 4 == 3 }, "an infinite energy has weight 0")
            for (residue, p) in [(0, 0.6), (1, 0.3), (2, 0.1)] {
                let frequency = Double(drawn.filter { $0 % 4 == residue }.count) / 2000
                XCTAssertEqual(frequency, p, accuracy: 4 * (p * (1 - p) / 2000).squareRoot(), "residue \(residue)")
            }
        }
        XCTAssertNotEqual(report.tbg.resampledIndices, report.clipped.resampledIndices, "independent streams")
        XCTAssertEqual(report.clipped.clipped, 0, "the claimed log weight 5 is the quantile itself: not above it")
    }

    func testEquallyWeightedSamplesEnterTheW2sAsTheyAre() throws {
        // SMC particles, MCMC states: one log weight for all. M = N: every valid sample once, not
        // N draws with replacement (which leave out about 1/e of them); M < N: M distinct ones.
        let rows = (0..<300).map { k in Row(energy: 5 + Double(k % 17) / 4, logWeight: -2.5, valid: k % 10 != 4) }
        let set = samples(rows)
        let valid = set.validIndices
        var settings = EvaluationSettings()
        settings.maxPoints = valid.count
        let all = SNISProtocols.evaluate(reference: reference(frames: 400), samples: set, settings: settings, listResampled: true)
        XCTAssertEqual(try XCTUnwrap(all.tbg.resampledIndices), valid)
        settings.maxPoints = 40
        let some = SNISProtocols.evaluate(reference: reference(frames: 400), samples: set, settings: settings, listResampled: true)
        let drawn = try XCTUnwrap(some.tbg.resampledIndices)
        XCTAssertEqual(drawn.count, 40)
        XCTAssertEqual(Set(drawn).count, 40, "distinct samples")
        XCTAssertTrue(Set(drawn).isSubset(of: valid))
    }

    func testFilesWithoutRawEnergiesReportTheClippedProtocolAsNotComputable() {
        let rows = (0..<20).map { Row(energy: Double($0), logWeight: -0.1 * Double($0), valid: $0 % 5 != 0) }
        let report = SNISProtocols.evaluate(reference: reference(frames: 30), samples: samples(rows, raw: false), settings: EvaluationSettings())
        XCTAssertNotNil(report.tbg.energyW2)
        XCTAssertEqual(report.tbg.resampled, 16)
        XCTAssertNil(report.tbg.resampledIndices, "listed only when asked for")
        XCTAssertNil(report.clipped.energyW2)
        XCTAssertNil(report.clipped.torsionW2)
        XCTAssertTrue(report.clipped.reason?.contains("no /samples/raw_energy") ?? false)
        XCTAssertEqual(report.clipped.clipFraction, 0.002)
    }

    func testNoValidSamplesGiveAReasonNotACrash() {
        let rows = (0..<5).map { _ in Row(energy: 1, logWeight: 0, valid: false) }
        let report = SNISProtocols.evaluate(reference: reference(frames: 10), samples: samples(rows), settings: EvaluationSettings())
        XCTAssertEqual(report.tbg.samples, 0)
        XCTAssertEqual(report.tbg.reason, "no samples in the set")
        XCTAssertNotNil(report.clipped.energyW2, "the clipped protocol keeps them")
        XCTAssertEqual(report.clipped.keptInvalid, 5)
    }

    func testCountsSeparateUndecidedSearchesFromNonIsomorphicGraphs() throws {
        var set = samples((0..<6).map { Row(energy: 1, logWeight: 0, valid: $0 < 2) })
        set.integrationOK = [true, true, false, true, true, true]
        set.isomorphismBudgetExhausted = [false, false, false, true, true, false]
        let report = SampleEvaluation.evaluate(reference: reference(frames: 10), samples: set, settings: EvaluationSettings())
        XCTAssertEqual(report.counts.topologyFailures, 4)
        XCTAssertEqual(report.counts.integrationFailures, 1)
        XCTAssertEqual(report.counts.isomorphismBudgetExhausted, 2)
        XCTAssertEqual(report.counts.notIsomorphic, 1)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(report.counts)) as? [String: Any]
        XCTAssertEqual(json?["isomorphism_budget_exhausted"] as? Int, 2)
        XCTAssertEqual(json?["not_isomorphic"] as? Int, 1)
        // A file without the flags: null, not a guess.
        let old = SampleEvaluation.evaluate(reference: reference(frames: 10), samples: samples((0..<3).map { Row(energy: 1, logWeight: 0, valid: $0 == 0) }, raw: false),
                                            settings: EvaluationSettings())
        XCTAssertNil(old.counts.isomorphismBudgetExhausted)
        XCTAssertNil(old.counts.notIsomorphic)
    }
}
