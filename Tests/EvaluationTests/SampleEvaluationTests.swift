// The whole comparison on synthetic data: samples identical to MD give zero distances, MD's ΔF and
// an ESS of 1; invalid samples, infinite energies and empty sets are counted and give nulls; the
// JSON keys are the documented ones.
import Evaluation
import Foundation
import TestSupport
import XCTest

final class SampleEvaluationTests: XCTestCase {
    /// A two-basin "MD" series: φ mostly negative, energies in kT.
    private func reference(_ n: Int, seed: UInt64) -> ReferenceSet {
        var random = SplitMix64(seed: seed)
        var phi: [Double] = [], psi: [Double] = [], energies: [Double] = []
        for _ in 0..<n {
            let positive = random.unit() < 0.2
            phi.append(positive ? 1.0 + 0.3 * random.uniform() : -1.4 + 0.5 * random.uniform())
            psi.append(positive ? 0.6 + 0.4 * random.uniform() : remainder(2.8 + 0.6 * random.uniform(), 2 * .pi))
            energies.append(-20 + 3 * random.uniform() + (positive ? 2 : 0))
        }
        return ReferenceSet(energies: energies, phi: phi, psi: psi)
    }

    private func samples(from md: ReferenceSet, logWeights: [Double]? = nil) -> SampleSet {
        let n = md.phi.count
        return SampleSet(energies: md.energies, phi: md.phi, psi: md.psi, logWeights: logWeights ?? [Double](repeating: -3, count: n),
                         topologyOK: [Bool](repeating: true, count: n), chiralityOK: [Bool](repeating: true, count: n),
                         chiralityFixed: [Bool](repeating: false, count: n))
    }

    func testSamplesIdenticalToMDGiveZeroDistances() throws {
        let md = reference(500, seed: 1)
        var settings = EvaluationSettings()
        settings.bootstrap = 100
        let report = SampleEvaluation.evaluate(reference: md, samples: samples(from: md), settings: settings)
        XCTAssertEqual(report.counts.valid, 500)
        XCTAssertEqual(try XCTUnwrap(report.counts.effectiveSampleSize), 1, accuracy: 1e-12)
        XCTAssertEqual(report.proposal.energyW1, 0)
        XCTAssertEqual(report.proposal.energyW2, 0)
        XCTAssertEqual(report.proposal.energyMean, report.md.energyMean)
        for set in [report.proposal, report.reweighted] {
            // Normalised weights exp(log w − LSE) are 1/n only to rounding: zero up to ~1e-16 in W1.
            XCTAssertEqual(try XCTUnwrap(set.energyW1), 0, accuracy: 1e-12)
            XCTAssertEqual(try XCTUnwrap(set.energyW2), 0, accuracy: 1e-7)
            XCTAssertEqual(try XCTUnwrap(set.jsdBits), 0, accuracy: 1e-15)
            XCTAssertEqual(try XCTUnwrap(set.energyMean), try XCTUnwrap(report.md.energyMean), accuracy: 1e-12)
            XCTAssertEqual(set.energyMedian, report.md.energyMedian)
            XCTAssertEqual(set.deltaF?.value, report.md.deltaF.value)
            XCTAssertEqual(try XCTUnwrap(set.deltaFMinusMD?.value), 0, accuracy: 1e-12)
            XCTAssertEqual(set.torusPoints, 500)
            XCTAssertEqual(set.torusCertified, true)
        }
        XCTAssertEqual(report.proposal.torusW2, 0, "the first M valid samples are the MD frames themselves")
        // Equal weights: the reweighted torus set is the samples themselves (ImportanceWeights.transportSet),
        // not a multinomial draw from them, so it too is the MD frames.
        XCTAssertEqual(report.reweighted.torusW2, 0)
        XCTAssertEqual(report.md.torusStride, 1)
    }

    /// A biased reference (log weights V/kT per frame) against samples that are the same frames with
    /// the same log weights: the reweighted set is the weighted MD, so every distance vanishes and the
    /// ΔF agree; the unweighted proposal differs from it.
    func testBiasedReferenceIsWeightedInEveryMetric() throws {
        var md = reference(400, seed: 5)
        // A bias that favours the positive basin (as metadynamics' V is low there): the weights undo it.
        let logWeights = md.phi.indices.map { md.phi[$0] >= 0 ? -1.5 + 0.1 * sin(Double($0)) : 0.2 * cos(Double($0)) }
        md.logWeights = logWeights
        var settings = EvaluationSettings()
        (settings.bootstrap, settings.blocks) = (50, 10)
        let report = SampleEvaluation.evaluate(reference: md, samples: samples(from: md, logWeights: logWeights), settings: settings)
        XCTAssertTrue(report.md.weightedByBias)
        XCTAssertEqual(try XCTUnwrap(report.md.biasEffectiveSampleSize), ImportanceWeights.effectiveSampleSize(logWeights: logWeights), accuracy: 1e-15)
        let w = logWeights.map { exp($0) }
        let plus = md.phi.indices.filter { md.phi[$0] >= 0 }.map { w[$0] }.reduce(0, +)
        XCTAssertEqual(try XCTUnwrap(report.md.deltaF.value), -log(plus / (w.reduce(0, +) - plus)), accuracy: 1e-12)
        XCTAssertNotNil(report.md.deltaF.standardError)
        XCTAssertEqual(try XCTUnwrap(report.md.energyMean), zip(w, md.energies).map(*).reduce(0, +) / w.reduce(0, +), accuracy: 1e-12)
        XCTAssertEqual(report.md.torusStride, 0)
        let reweighted = report.reweighted
        XCTAssertEqual(try XCTUnwrap(reweighted.energyW1), 0, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(reweighted.jsdBits), 0, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(reweighted.deltaFMinusMD?.value), 0, accuracy: 1e-12)
        // The proposal is the biased frames unweighted: the bias shows.
        XCTAssertGreaterThan(try XCTUnwrap(report.proposal.energyW1), 0.05)
        XCTAssertGreaterThan(try XCTUnwrap(report.proposal.deltaFMinusMD?.value).magnitude, 0.5)
        // Unbiased, the same frames would be counted equally.
        let plain = SampleEvaluation.evaluate(reference: reference(400, seed: 5), samples: samples(from: md), settings: settings)
        XCTAssertFalse(plain.md.weightedByBias)
        XCTAssertNil(plain.md.biasEffectiveSampleSize)
        XCTAssertEqual(plain.settings.blocks, 10)
        // More blocks than frames: one frame per block, and the report says so rather than the request.
        settings.blocks = 1000
        let short = SampleEvaluation.evaluate(reference: reference(40, seed: 5), samples: samples(from: md), settings: settings)
        XCTAssertEqual(short.settings.blocks, 40)
        XCTAssertTrue(short.md.deltaF.method.contains("over 40 contiguous blocks"), short.md.deltaF.method)
    }

    func testTruncationToMaxPoints() throws {
        let md = reference(1000, seed: 2)
        var settings = EvaluationSettings()
        settings.maxPoints = 100
        settings.bootstrap = 10
        let sampleSet = samples(from: reference(300, seed: 3))
        let report = SampleEvaluation.evaluate(reference: md, samples: sampleSet, settings: settings)
        XCTAssertEqual(report.settings.torusPoints, 100)
        XCTAssertEqual(report.md.torusStride, 10)
        // The proposal's torus W2 is exactly the W2 of MD frames 0, 10, … against the first 100 samples.
        let expected = TorusTransport.distance((0..<100).map { SIMD2(md.phi[10 * $0], md.psi[10 * $0]) },
                                               (0..<100).map { SIMD2(sampleSet.phi[$0], sampleSet.psi[$0]) })
        XCTAssertEqual(report.proposal.torusW2, expected.distance)
        // Energy W uses every frame and every valid sample.
        XCTAssertEqual(report.proposal.energyW1, Wasserstein1D.distance(md.energies, sampleSet.energies, p: 1))
    }

    func testWeightsAndInvalidSamples() throws {
        let md = reference(200, seed: 4)
        var set = samples(from: md)
        set.topologyOK[0] = false
        set.chiralityOK[1] = false
        set.chiralityFixed[2] = true
        set.energies[3] = .infinity
        set.logWeights[3] = -.infinity
        // Sample 4 carries all the weight.
        set.logWeights[4] = 100
        var settings = EvaluationSettings()
        settings.bootstrap = 20
        let report = SampleEvaluation.evaluate(reference: md, samples: set, settings: settings)
        XCTAssertEqual(report.counts.samples, 200)
        XCTAssertEqual(report.counts.valid, 198)
        XCTAssertEqual(report.counts.topologyFailures, 1)
        XCTAssertEqual(report.counts.chiralityFailures, 1)
        XCTAssertEqual(report.counts.chiralityFixes, 1)
        XCTAssertEqual(report.counts.nonFiniteEnergies, 1)
        XCTAssertEqual(report.proposal.energySamples, 197)
        XCTAssertEqual(try XCTUnwrap(report.counts.effectiveSampleSize), 1.0 / 198, accuracy: 1e-9)
        // The reweighted set is sample 4 alone (the others have weight e^-103 relative).
        XCTAssertEqual(try XCTUnwrap(report.reweighted.energyMean), md.energies[4], accuracy: 1e-9)
        XCTAssertEqual(report.reweighted.energyMedian, md.energies[4])
        XCTAssertEqual(try XCTUnwrap(report.reweighted.energyW1), md.energies.map { abs($0 - md.energies[4]) }.reduce(0, +) / 200, accuracy: 1e-9)
    }

    func testNoValidSamplesGivesCountsAndNulls() throws {
        let md = reference(50, seed: 5)
        var set = samples(from: md)
        set.topologyOK = [Bool](repeating: false, count: 50)
        let report = SampleEvaluation.evaluate(reference: md, samples: set, settings: EvaluationSettings())
        XCTAssertEqual(report.counts.valid, 0)
        XCTAssertNil(report.counts.effectiveSampleSize)
        XCTAssertEqual(report.proposal.reason, "no valid samples")
        XCTAssertNil(report.proposal.torusW2)
        XCTAssertNil(report.reweighted.energyW1)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: try JSONEncoder().encode(report)) as? [String: Any])
        let proposal = try XCTUnwrap(json["proposal"] as? [String: Any])
        XCTAssertTrue(proposal["torus_w2"] is NSNull, "undefined numbers are null, not missing")
        XCTAssertTrue(proposal["delta_f_kT"] is NSNull)
        XCTAssertTrue((json["counts"] as? [String: Any])?["ess"] is NSNull)
        XCTAssertTrue((json["counts"] as? [String: Any])?["pareto_khat"] is NSNull)
    }

    func testJSONKeys() throws {
        let md = reference(40, seed: 6)
        var settings = EvaluationSettings()
        settings.bootstrap = 5
        let set = samples(from: md, logWeights: (0..<40).map { 2 * sin(1.7 * Double($0)) })
        let report = SampleEvaluation.evaluate(reference: md, samples: set, settings: settings)
        // k̂ is PSIS's over the valid samples' log weights.
        let validLogWeights = set.logWeights.indices.filter { set.topologyOK[$0] && set.chiralityOK[$0] }.map { set.logWeights[$0] }
        XCTAssertEqual(try XCTUnwrap(report.counts.paretoKHat), try XCTUnwrap(ParetoSmoothing.khat(logWeights: validLogWeights)))
        XCTAssertEqual(try XCTUnwrap(report.counts.paretoKHatThreshold), 1 - 1 / log10(40.0), accuracy: 1e-12)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: try JSONEncoder().encode(report)) as? [String: Any])
        XCTAssertEqual(Set(json.keys), ["counts", "md", "proposal", "reweighted", "settings"])
        XCTAssertEqual(Set((json["counts"] as? [String: Any] ?? [:]).keys),
                       ["samples", "valid", "valid_fraction", "topology_failures", "integration_failures", "isomorphism_budget_exhausted",
                        "not_isomorphic", "chirality_failures", "chirality_fixes", "chirality_fix_rate", "non_finite_energies", "ess", "pareto_khat", "pareto_khat_threshold"])
        XCTAssertEqual(Set((json["md"] as? [String: Any] ?? [:]).keys), ["frames", "energy_mean_kT", "energy_median_kT", "delta_f_kT", "torus_stride",
                                                                         "weighted_by_bias", "bias_ess"])
        XCTAssertEqual(Set((json["proposal"] as? [String: Any] ?? [:]).keys),
                       ["energy_samples", "energy_mean_kT", "energy_median_kT", "energy_w1_kT", "energy_w2_kT", "torus_w2", "torus_points",
                        "torus_certified", "jsd_bits", "delta_f_kT", "delta_f_minus_md_kT", "reason"])
        let deltaF = try XCTUnwrap((json["md"] as? [String: Any])?["delta_f_kT"] as? [String: Any])
        XCTAssertEqual(Set(deltaF.keys), ["value", "standard_error", "positive_fraction", "bootstrap_replicates_without_both_basins", "reason", "method"])
        XCTAssertEqual((json["settings"] as? [String: Any])?["clip_fraction"] as? Double, 0.002)
        // The SNIS protocols' reports (tbg evaluate puts them under snis_tbg and snis_clipped).
        let protocols = SNISProtocols.evaluate(reference: md, samples: samples(from: md), settings: settings)
        let tbg = try XCTUnwrap(try JSONSerialization.jsonObject(with: try JSONEncoder().encode(protocols.tbg)) as? [String: Any])
        XCTAssertEqual(Set(tbg.keys), ["protocol", "samples", "dropped_invalid", "kept_invalid", "clip_fraction", "clipped", "log_weight_threshold",
                                       "zero_weights", "ess", "resampled", "energy_w2_kT", "torsion_w2", "torsion_dimensions", "torsion_certified",
                                       "resampled_indices", "md_frame_indices", "reason"])
    }

    func testWeightedMedianAndMean() {
        XCTAssertEqual(WeightedStatistics.median([3, 1, 2, 4]), 2.5, "numpy's median for even counts")
        XCTAssertEqual(WeightedStatistics.median([3, 1, 2]), 2)
        XCTAssertEqual(WeightedStatistics.median([1, 2, 3], weights: [0.6, 0.2, 0.2]), 1)
        XCTAssertEqual(WeightedStatistics.median([1, 2, 3], weights: [0.5, 0, 0.5]), 2, "midpoint across a zero weight")
        // Normalised equal weights (not exactly ¼ in floating point) still give the midpoint.
        let equal = [Double](repeating: exp(-log(4.0)), count: 4)
        XCTAssertEqual(WeightedStatistics.median([3, 1, 2, 4], weights: equal), 2.5)
        XCTAssertEqual(WeightedStatistics.mean([1, 2, 3], weights: [1, 0, 3]), 2.5)
        XCTAssertNil(WeightedStatistics.mean([]))
    }
}
