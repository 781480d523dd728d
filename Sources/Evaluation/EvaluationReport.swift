// The result of `SampleEvaluation`, encoded by `tbg evaluate --json` (keys are part of the
// interface: snake_case, sorted; undefined numbers are null). Energies in kT, angles in radians,
// JSD in bits.

public struct EvaluationReport: Encodable, Sendable, Equatable {
    public var counts: SampleCounts
    public var md: ReferenceReport
    public var proposal: SetReport
    public var reweighted: SetReport
    public var settings: SettingsReport
}

public struct SampleCounts: Encodable, Sendable, Equatable {
    public var samples: Int
    /// topology_ok && chirality_ok.
    public var valid: Int
    @JSONNullable public var validFraction: Double? = nil
    /// Failed the bond-graph check (including failed integrations and undecided searches).
    public var topologyFailures: Int
    /// Of those, when the file records it (else null): integrations that did not finish; bond-graph
    /// searches that ran out of budget (undecided); the rest, proven not isomorphic.
    @JSONNullable public var integrationFailures: Int? = nil
    @JSONNullable public var isomorphismBudgetExhausted: Int? = nil
    @JSONNullable public var notIsomorphic: Int? = nil
    /// Passed the bond-graph check but have mixed chirality.
    public var chiralityFailures: Int
    /// Valid samples that were mirrored to the reference chirality, and their fraction of the valid.
    public var chiralityFixes: Int
    @JSONNullable public var chiralityFixRate: Double? = nil
    /// Valid samples whose energy is not finite (left out of the proposal's energy metrics).
    public var nonFiniteEnergies: Int
    /// Normalised Kish ESS over the valid samples.
    @JSONNullable public var effectiveSampleSize: Double? = nil
    /// PSIS Pareto k̂ of the valid samples' importance weights (`ParetoSmoothing`; Vehtari et al.
    /// 2024) and its threshold min(1 − 1/log10 S, 0.7) for their number S: up to the threshold the
    /// reweighted (SNIS) estimates are reliable at this S, above it they rest on a few samples (above
    /// 0.7, whatever S); null with fewer than 21 valid samples or a degenerate tail (equal weights).
    @JSONNullable public var paretoKHat: Double? = nil
    @JSONNullable public var paretoKHatThreshold: Double? = nil

    enum CodingKeys: String, CodingKey {
        case samples, valid
        case validFraction = "valid_fraction"
        case topologyFailures = "topology_failures"
        case integrationFailures = "integration_failures"
        case isomorphismBudgetExhausted = "isomorphism_budget_exhausted"
        case notIsomorphic = "not_isomorphic"
        case chiralityFailures = "chirality_failures"
        case chiralityFixes = "chirality_fixes"
        case chiralityFixRate = "chirality_fix_rate"
        case nonFiniteEnergies = "non_finite_energies"
        case effectiveSampleSize = "ess"
        case paretoKHat = "pareto_khat", paretoKHatThreshold = "pareto_khat_threshold"
    }

    init(samples set: SampleSet, valid: [Int]) {
        samples = set.energies.count
        self.valid = valid.count
        validFraction = samples > 0 ? Double(valid.count) / Double(samples) : nil
        topologyFailures = set.topologyOK.filter { !$0 }.count
        chiralityFailures = set.energies.indices.filter { set.topologyOK[$0] && !set.chiralityOK[$0] }.count
        chiralityFixes = valid.filter { set.chiralityFixed[$0] }.count
        chiralityFixRate = valid.isEmpty ? nil : Double(chiralityFixes) / Double(valid.count)
        nonFiniteEnergies = valid.filter { !set.energies[$0].isFinite }.count
        let validLogWeights = valid.map { set.logWeights[$0] }
        effectiveSampleSize = valid.isEmpty ? nil : ImportanceWeights.effectiveSampleSize(logWeights: validLogWeights)
        if let tail = ParetoSmoothing.diagnose(logWeights: validLogWeights) { (paretoKHat, paretoKHatThreshold) = (tail.khat, tail.threshold) }
        let integration = set.integrationOK.map { flags in flags.filter { !$0 }.count }
        let exhausted = set.isomorphismBudgetExhausted.map { flags in flags.indices.filter { flags[$0] && !set.topologyOK[$0] }.count }
        (integrationFailures, isomorphismBudgetExhausted) = (integration, exhausted)
        if let integration, let exhausted { notIsomorphic = topologyFailures - integration - exhausted }
    }
}

/// ΔF = −ln(P(φ in the positive basin) / P(otherwise)) in kT (`PhiBasin`) with its bootstrap standard error.
public struct DeltaFReport: Encodable, Sendable, Equatable {
    @JSONNullable public var value: Double? = nil
    @JSONNullable public var standardError: Double? = nil
    @JSONNullable public var positiveFraction: Double? = nil
    public var degenerateReplicates: Int
    @JSONNullable public var reason: String? = nil
    public var method: String

    enum CodingKeys: String, CodingKey {
        case value
        case standardError = "standard_error"
        case positiveFraction = "positive_fraction"
        case degenerateReplicates = "bootstrap_replicates_without_both_basins"
        case reason, method
    }

    init(_ estimate: BasinFreeEnergy, method: String) {
        value = estimate.value
        standardError = estimate.standardError
        positiveFraction = estimate.positiveFraction
        degenerateReplicates = estimate.degenerateReplicates
        reason = estimate.reason
        self.method = method
    }
}

/// A set's ΔF minus MD's, with the errors combined in quadrature.
public struct DifferenceReport: Encodable, Sendable, Equatable {
    @JSONNullable public var value: Double? = nil
    @JSONNullable public var standardError: Double? = nil

    enum CodingKeys: String, CodingKey {
        case value
        case standardError = "standard_error"
    }

    init(_ set: BasinFreeEnergy, minus md: BasinFreeEnergy) {
        if let a = set.value, let b = md.value { value = a - b }
        if let a = set.standardError, let b = md.standardError { standardError = (a * a + b * b).squareRoot() }
    }
}

public struct ReferenceReport: Encodable, Sendable, Equatable {
    public var frames: Int
    @JSONNullable public var energyMean: Double? = nil
    @JSONNullable public var energyMedian: Double? = nil
    public var deltaF: DeltaFReport
    /// Torus W2 uses MD frames 0, s, 2s, … (M of them); 0 when the MD points are weighted draws.
    public var torusStride: Int
    /// Whether the frames were weighted by exp(+V/kT) of a biased run's `/bias_energy`.
    public var weightedByBias: Bool
    /// Normalised Kish ESS of those frame weights; null for plain MD.
    @JSONNullable public var biasEffectiveSampleSize: Double? = nil

    enum CodingKeys: String, CodingKey {
        case frames
        case energyMean = "energy_mean_kT"
        case energyMedian = "energy_median_kT"
        case deltaF = "delta_f_kT"
        case torusStride = "torus_stride"
        case weightedByBias = "weighted_by_bias"
        case biasEffectiveSampleSize = "bias_ess"
    }
}

public struct SetReport: Encodable, Sendable, Equatable {
    /// Samples in the energy metrics (valid, finite energy, positive weight).
    public var energySamples = 0
    @JSONNullable public var energyMean: Double? = nil
    @JSONNullable public var energyMedian: Double? = nil
    @JSONNullable public var energyW1: Double?
    @JSONNullable public var energyW2: Double?
    @JSONNullable public var torusW2: Double?
    public var torusPoints = 0
    /// Whether the assignment solver's dual certificate confirmed the optimum.
    @JSONNullable public var torusCertified: Bool? = nil
    @JSONNullable public var jsdBits: Double? = nil
    @JSONNullable public var deltaF: DeltaFReport? = nil
    @JSONNullable public var deltaFMinusMD: DifferenceReport? = nil
    /// Why the metrics are null, when they are.
    @JSONNullable public var reason: String? = nil

    enum CodingKeys: String, CodingKey {
        case energySamples = "energy_samples"
        case energyMean = "energy_mean_kT"
        case energyMedian = "energy_median_kT"
        case energyW1 = "energy_w1_kT"
        case energyW2 = "energy_w2_kT"
        case torusW2 = "torus_w2"
        case torusPoints = "torus_points"
        case torusCertified = "torus_certified"
        case jsdBits = "jsd_bits"
        case deltaF = "delta_f_kT"
        case deltaFMinusMD = "delta_f_minus_md_kT"
        case reason
    }

    static func undefined(_ reason: String?) -> SetReport {
        var report = SetReport()
        report.reason = reason
        return report
    }
}

public struct SettingsReport: Encodable, Sendable, Equatable {
    public var maxPoints: Int
    public var torusPoints: Int
    public var bins: Int
    /// The MD blocks the bootstrap used: --blocks, or the frame count when that is smaller.
    public var blocks: Int
    public var bootstrap: Int
    public var seed: UInt64
    /// The clipped SNIS protocol's fraction of largest log weights dropped.
    public var clipFraction: Double
    public var torusCostQuantum = TorusTransport.costQuantum
    public var torusW2SquaredErrorBound = TorusTransport.squaredDistanceErrorBound
    public var jsdSmoothing = RamachandranHistogram.smoothing
    public var resampling = "reweighted torus set: torus_points indices drawn with replacement with probability w (multinomial), RandomSource(seed, [1]), or, when every weight is the same (SMC after a final resampling, flow-MCMC), torus_points distinct samples (all of them in order when that is their number, else a uniformly random subset from the same stream); snis_tbg and snis_clipped: their resampled indices drawn the same way, RandomSource(seed, [6]) and (seed, [7]); a biased MD reference's torus set and W2 frames: the same with w = exp(+V/kT), RandomSource(seed, [5])"
    public var basins: String
    /// The positive φ basin [lower, upper] (open interval), radians.
    public var phiPositiveBasin: [Double]

    enum CodingKeys: String, CodingKey {
        case maxPoints = "max_points"
        case torusPoints = "torus_points"
        case bins, blocks, bootstrap, seed
        case clipFraction = "clip_fraction"
        case torusCostQuantum = "torus_cost_quantum"
        case torusW2SquaredErrorBound = "torus_w2_squared_error_bound"
        case jsdSmoothing = "jsd_smoothing"
        case resampling, basins
        case phiPositiveBasin = "phi_positive_basin"
    }

    init(settings: EvaluationSettings, torusPoints: Int) {
        (maxPoints, bins, blocks, bootstrap, seed) = (settings.maxPoints, settings.bins, settings.blocks, settings.bootstrap, settings.seed)
        clipFraction = settings.clipFraction
        self.torusPoints = torusPoints
        basins = "delta_f = -ln(P(\(settings.phiBasin.description)) / P(otherwise)), phi in radians"
        phiPositiveBasin = [settings.phiBasin.lower, settings.phiBasin.upper]
    }
}
