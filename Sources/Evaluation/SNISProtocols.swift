// The two self-normalised importance sampling (SNIS) protocols the field reports (field.md §4),
// side by side, each with the field's energy W2 and torsion W2 over resampled samples:
//
//   snis_tbg      TBG (Klein & Noé 2024): drop the samples that fail the bond-graph or chirality
//                 check (after the mirror fix), SNIS over the rest (the `valid` samples).
//   snis_clipped  Prose/SBG (Tan et al. 2025, "Scalable equilibrium sampling with sequential
//                 Boltzmann generators"; the transferable-samplers code): mirror-fix, KEEP the
//                 samples that cannot be fixed or fail the bond graph, with the energy and log
//                 weight of their coordinates as sampled (/samples/raw_energy, raw_log_weight), and
//                 drop the top `clipFraction` (0.2 %) of log weights (LogWeightClip.swift).
//
// For each protocol's set of N samples with normalised weights w:
//   ESS           Kish, (Σw)² / (N Σw²), a fraction (samples of weight 0 count in N);
//   resampling    M = min(max points, MD frames, N) indices drawn with replacement ∝ w
//                 (multinomial, RandomSource(seed, [6]) for snis_tbg, [7] for snis_clipped);
//                 equal weights (SMC, MCMC, MD as samples): M of the samples without replacement,
//                 all of them when M = N (ImportanceWeights.transportSet);
//   MD points     M frames: every ⌊T/M⌋-th from frame 0, or for a biased reference M multinomial
//                 draws ∝ exp(+V/kT) (RandomSource(seed, [5]), as SampleEvaluation's torus set);
//   energy W2     √(emd2_1d) between the M resampled energies and the M MD energies, uniform
//                 weights, in kT (Wasserstein1D, exact);
//   torsion W2    exact OT between the M resampled and the M MD points on the torus of every
//                 residue's (φ, ψ), cost Σ_d min(|Δ_d|, 2π − |Δ_d|)², in radians (TorusTransport:
//                 the M × M assignment, W2² within 10⁻⁶ rad² of the optimum).
import Kernels

/// One protocol's numbers; energies in kT, angles in radians (JSON keys are part of the interface).
public struct ProtocolReport: Encodable, Sendable, Equatable {
    /// What the protocol does, in words.
    public var description: String
    /// Samples in the protocol's set (after dropping invalid samples and clipping).
    public var samples = 0
    /// Invalid samples (bond graph, chirality, integration) left out: snis_tbg only.
    public var droppedInvalid = 0
    /// Bond-graph failures and mixed-chirality samples kept with their raw energies: snis_clipped only.
    public var keptInvalid = 0
    @JSONNullable public var clipFraction: Double? = nil
    /// Samples dropped by the clip (log weight above the threshold).
    public var clipped = 0
    @JSONNullable public var logWeightThreshold: Double? = nil
    /// Samples of the set whose weight is 0 (log weight −∞ or NaN: an infinite energy, a failed integration).
    public var zeroWeights = 0
    /// Normalised Kish ESS over the set.
    @JSONNullable public var effectiveSampleSize: Double? = nil
    /// M: resampled samples and MD points in the W2s.
    public var resampled = 0
    @JSONNullable public var energyW2: Double? = nil
    @JSONNullable public var torsionW2: Double? = nil
    /// Angles per point of the torsion W2 (every φ and ψ).
    public var torsionDimensions = 0
    @JSONNullable public var torsionCertified: Bool? = nil
    /// The resampled sample indices (file order) and the MD frames, only when asked for (`listResampled`).
    @JSONNullable public var resampledIndices: [Int]? = nil
    @JSONNullable public var mdFrameIndices: [Int]? = nil
    /// Why the numbers are null, when they are.
    @JSONNullable public var reason: String? = nil

    enum CodingKeys: String, CodingKey {
        case description = "protocol"
        case samples
        case droppedInvalid = "dropped_invalid"
        case keptInvalid = "kept_invalid"
        case clipFraction = "clip_fraction"
        case clipped
        case logWeightThreshold = "log_weight_threshold"
        case zeroWeights = "zero_weights"
        case effectiveSampleSize = "ess"
        case resampled
        case energyW2 = "energy_w2_kT"
        case torsionW2 = "torsion_w2"
        case torsionDimensions = "torsion_dimensions"
        case torsionCertified = "torsion_certified"
        case resampledIndices = "resampled_indices"
        case mdFrameIndices = "md_frame_indices"
        case reason
    }
}

/// Both protocols of one evaluation.
public struct SNISProtocolsReport: Encodable, Sendable, Equatable {
    public var tbg: ProtocolReport
    public var clipped: ProtocolReport
}

public enum SNISProtocols {
    public static let tbgDescription = "TBG: drop samples failing the bond-graph or chirality check (after the mirror fix), SNIS over the rest"
    public static let clippedDescription = "Prose/SBG: mirror-fix, keep samples that cannot be fixed or fail the bond graph (raw energies), drop log weights above the (1 - clip_fraction) quantile, SNIS over the rest"

    /// Both protocols (header of this file).
    /// - Parameters:
    ///   - md: the reference frames (energies in kT, torsions; bias log weights if any).
    ///   - samples: the samples in file order; `rawEnergies`/`rawLogWeights` nil makes snis_clipped
    ///     not computable (its `reason` says so).
    ///   - settings: `maxPoints` (M), `seed`, `clipFraction` in [0, 1).
    ///   - listResampled: include the drawn sample indices and MD frames in the reports.
    public static func evaluate(reference md: ReferenceSet, samples: SampleSet, settings: EvaluationSettings,
                                listResampled: Bool = false) -> SNISProtocolsReport {
        let (mdTorsions, dimensions) = torsionVectors(torsions: md.torsions, dimensions: md.torsionDimensions, phi: md.phi, psi: md.psi)
        let (sampleTorsions, sampleDimensions) = torsionVectors(torsions: samples.torsions, dimensions: samples.torsionDimensions,
                                                               phi: samples.phi, psi: samples.psi)
        precondition(dimensions == sampleDimensions, "samples and MD need the same torsions")
        let context = Context(md: md, mdTorsions: mdTorsions, samples: samples, sampleTorsions: sampleTorsions, dimensions: dimensions,
                              settings: settings, listResampled: listResampled)

        let valid = samples.validIndices
        var tbg = ProtocolReport(description: tbgDescription)
        tbg.droppedInvalid = samples.energies.count - valid.count
        context.fill(&tbg, indices: valid, energies: samples.energies, logWeights: samples.logWeights, stream: 6)

        var clipped = ProtocolReport(description: clippedDescription)
        clipped.clipFraction = settings.clipFraction
        if let energies = samples.rawEnergies, let logWeights = samples.rawLogWeights {
            let everySample = Array(samples.energies.indices)
            let (kept, threshold) = LogWeightClip.kept(logWeights: logWeights, fraction: settings.clipFraction)
            clipped.logWeightThreshold = threshold
            clipped.clipped = everySample.count - kept.count
            clipped.keptInvalid = kept.filter { !(samples.topologyOK[$0] && samples.chiralityOK[$0]) && (samples.integrationOK?[$0] ?? true) }.count
            context.fill(&clipped, indices: kept, energies: energies, logWeights: logWeights, stream: 7)
        } else {
            clipped.torsionDimensions = dimensions
            clipped.reason = "the samples file has no /samples/raw_energy and raw_log_weight (the energy and log weight of every sample, valid or not; written by tbg sample since this protocol was added, not by older versions, tbg smc or tbg mcmc): the clipped protocol cannot be computed for it"
        }
        return SNISProtocolsReport(tbg: tbg, clipped: clipped)
    }

    /// Rows of `dimensions` angles, or (φ, ψ) when `torsions` is empty.
    static func torsionVectors(torsions: [Double], dimensions: Int, phi: [Double], psi: [Double]) -> ([Double], Int) {
        guard torsions.isEmpty else {
            precondition(dimensions > 0 && torsions.count == dimensions * phi.count, "torsions must hold one row per frame")
            return (torsions, dimensions)
        }
        return (zip(phi, psi).flatMap { [$0, $1] }, 2)
    }

    /// The MD frames of the W2s: M evenly strided frames from 0, or M draws ∝ the bias weights.
    static func mdFrames(_ md: ReferenceSet, count: Int, seed: UInt64) -> [Int] {
        guard count > 0 else { return [] }
        if let logWeights = md.logWeights, let weights = ImportanceWeights.normalised(logWeights: logWeights) {
            var random = RandomSource(seed: seed, streams: [5])
            return ImportanceWeights.resample(weights: weights, count: count, random: &random)
        }
        let stride = md.energies.count / count
        return (0..<count).map { $0 * stride }
    }

    private struct Context {
        let md: ReferenceSet
        let mdTorsions: [Double]
        let samples: SampleSet
        let sampleTorsions: [Double]
        let dimensions: Int
        let settings: EvaluationSettings
        let listResampled: Bool

        /// ESS, resampling and the two W2s of the set `indices` (file order) with log weights
        /// `logWeights[index]` and energies (kT) `energies[index]`.
        func fill(_ report: inout ProtocolReport, indices: [Int], energies: [Double], logWeights: [Double], stream: UInt64) {
            report.samples = indices.count
            report.torsionDimensions = dimensions
            // A non-finite energy has weight 0 whatever its log weight says.
            let setLogWeights = indices.map { energies[$0].isFinite ? logWeights[$0] : -.infinity }
            report.zeroWeights = setLogWeights.filter { $0.isNaN || $0 == -.infinity }.count
            guard !indices.isEmpty else {
                report.reason = "no samples in the set"
                return
            }
            report.effectiveSampleSize = ImportanceWeights.effectiveSampleSize(logWeights: setLogWeights)
            guard let weights = ImportanceWeights.normalised(logWeights: setLogWeights) else {
                report.reason = "no sample of the set has a positive finite weight"
                return
            }
            let m = min(settings.maxPoints, md.energies.count, indices.count)
            var random = RandomSource(seed: settings.seed, streams: [stream])
            let drawn = ImportanceWeights.transportSet(weights: weights, count: m, random: &random).map { indices[$0] }
            let frames = SNISProtocols.mdFrames(md, count: m, seed: settings.seed)
            report.resampled = m
            report.energyW2 = Wasserstein1D.distance(frames.map { md.energies[$0] }, drawn.map { energies[$0] }, p: 2)
            let d = dimensions
            let a = frames.flatMap { mdTorsions[($0 * d)..<(($0 + 1) * d)] }, b = drawn.flatMap { sampleTorsions[($0 * d)..<(($0 + 1) * d)] }
            let result = TorusTransport.distance(a, b, dimensions: d)
            report.torsionW2 = result.distance
            report.torsionCertified = result.certified
            if listResampled {
                report.resampledIndices = drawn
                report.mdFrameIndices = frames
            }
        }
    }
}
