// Samples against MD (method.md §8–§9, TS conventions of §9.2), for two sets built from the samples:
//   proposal   = the valid samples (topology and chirality ok), unweighted;
//   reweighted = the valid samples with self-normalised importance weights w ∝ exp(log w).
// Metrics: counts and ESS; energy W1/W2 (exact weighted 1-D, all MD frames against all valid
// samples with finite energy); torus W2 on (φ, ψ) with TS's truncation to M = min(max points, MD
// frames, valid samples) points per set (MD: every ⌊T/M⌋-th frame from frame 0; proposal: the
// first M valid samples; reweighted: M multinomial draws ∝ w, or M distinct samples when every
// weight is the same, ImportanceWeights.transportSet); JSD of the (φ, ψ) histograms (all
// frames and valid samples, weighted for reweighted); ΔF between the φ basins with bootstrap errors.
// A biased reference (frames of a run under a static bias V, Tools/FORMAT.md §1.7) carries log
// weights V/kT: every MD quantity is then weighted by w ∝ exp(+V/kT) — energy mean/median/W1/W2,
// the JSD histogram, ΔF and its block bootstrap (weights summed per block) — and its torus points
// are M multinomial draws ∝ w instead of every ⌊T/M⌋-th frame, as for the reweighted samples.
// Random streams: RandomSource(seed, [purpose]) with purpose 1 = resampling, 2 = MD block
// bootstrap, 3 = proposal bootstrap, 4 = reweighted bootstrap, 5 = resampling of weighted MD.
import Kernels

public struct EvaluationSettings: Sendable, Equatable {
    /// Most points per set in the torus W2 (TS uses 10 000).
    public var maxPoints = 10_000
    /// Histogram bins per angle for the JSD.
    public var bins = 36
    /// Contiguous blocks of the MD block bootstrap.
    public var blocks = 20
    /// Bootstrap replicates.
    public var bootstrap = 200
    public var seed: UInt64 = 1
    /// The positive φ basin of ΔF (default 0 < φ < 2.15 rad).
    public var phiBasin = PhiBasin.standard
    /// The fraction of largest log weights the clipped SNIS protocol drops (Prose/SBG: 0.002).
    public var clipFraction = 0.002

    public init() {}
}

/// MD reference frames in time order: energies in kT, φ and ψ in radians, and for a biased run the
/// log weights V/kT of the frames (nil: equally weighted frames).
public struct ReferenceSet: Sendable {
    public var energies: [Double]
    public var phi: [Double]
    public var psi: [Double]
    public var logWeights: [Double]?
    /// Every backbone torsion of each frame, frames × `torsionDimensions` (radians: all φ, then all
    /// ψ, in MDTraj's order); empty means (φ, ψ) above. For the torsion W2 (SNISProtocols).
    public var torsions: [Double] = []
    public var torsionDimensions = 0

    public init(energies: [Double], phi: [Double], psi: [Double], logWeights: [Double]? = nil) {
        precondition(energies.count == phi.count && phi.count == psi.count && (logWeights?.count ?? phi.count) == phi.count)
        (self.energies, self.phi, self.psi, self.logWeights) = (energies, phi, psi, logWeights)
    }
}

/// Generated samples in file order, with the per-sample results of `tbg sample`.
public struct SampleSet: Sendable {
    public var energies: [Double]
    public var phi: [Double]
    public var psi: [Double]
    public var logWeights: [Double]
    public var topologyOK: [Bool]
    public var chiralityOK: [Bool]
    public var chiralityFixed: [Bool]
    /// Every backbone torsion of each sample, samples × `torsionDimensions` (radians: all φ, then
    /// all ψ); empty means (φ, ψ) above.
    public var torsions: [Double] = []
    public var torsionDimensions = 0
    /// The energy (kT) and log weight of every sample, valid or not (/samples/raw_energy,
    /// raw_log_weight; RawSampleWeights.swift); nil when the file does not record them.
    public var rawEnergies: [Double]?
    public var rawLogWeights: [Double]?
    /// Per sample, when the file records it: the integration finished; the bond-graph check gave
    /// up (search budget) rather than finding the graphs different.
    public var integrationOK: [Bool]?
    public var isomorphismBudgetExhausted: [Bool]?
    /// Samples that share a history, for the ΔF bootstrap (FreeEnergy.swift): `labels[k]` is sample
    /// k's cluster, `name` what a cluster is ("proposal ancestor" for SMC particles, "chain" for
    /// MCMC states). nil: the samples are independent draws (tbg sample).
    public var clusters: (labels: [Int], name: String)?

    public init(energies: [Double], phi: [Double], psi: [Double], logWeights: [Double], topologyOK: [Bool], chiralityOK: [Bool],
                chiralityFixed: [Bool]) {
        precondition([phi.count, psi.count, logWeights.count, topologyOK.count, chiralityOK.count, chiralityFixed.count].allSatisfy { $0 == energies.count })
        (self.energies, self.phi, self.psi, self.logWeights) = (energies, phi, psi, logWeights)
        (self.topologyOK, self.chiralityOK, self.chiralityFixed) = (topologyOK, chiralityOK, chiralityFixed)
    }

    public var validIndices: [Int] { energies.indices.filter { topologyOK[$0] && chiralityOK[$0] } }
}

public enum SampleEvaluation {
    public static func evaluate(reference md: ReferenceSet, samples: SampleSet, settings: EvaluationSettings) -> EvaluationReport {
        precondition(!md.energies.isEmpty, "the reference needs at least one frame")
        let valid = samples.validIndices
        let logWeights = valid.map { samples.logWeights[$0] }
        let counts = SampleCounts(samples: samples, valid: valid)
        let points = min(settings.maxPoints, md.phi.count, valid.count)
        let mdWeights = md.logWeights.map { logWeights -> [Double] in
            guard let weights = ImportanceWeights.normalised(logWeights: logWeights) else {
                preconditionFailure("the reference's log weights need a finite maximum")
            }
            return weights
        }
        var stride = points > 0 ? md.phi.count / points : 0
        var torusFrames = (0..<points).map { $0 * stride }
        if let mdWeights, points > 0 {
            var random = RandomSource(seed: settings.seed, streams: [5])
            torusFrames = ImportanceWeights.resample(weights: mdWeights, count: points, random: &random)
            stride = 0
        }
        var blockRandom = RandomSource(seed: settings.seed, streams: [2])
        let mdDeltaF = BasinFreeEnergy.trajectory(phi: md.phi, weights: mdWeights, blocks: settings.blocks, resamples: settings.bootstrap,
                                                  random: &blockRandom, basin: settings.phiBasin)
        let mdTorus = torusFrames.map { SIMD2(md.phi[$0], md.psi[$0]) }
        let mdHistogram = RamachandranHistogram.probabilities(zip(md.phi, md.psi).map { SIMD2($0, $1) }, weights: mdWeights, bins: settings.bins)
        let context = Context(md: md, mdWeights: mdWeights, mdTorus: mdTorus, mdHistogram: mdHistogram, mdDeltaF: mdDeltaF, settings: settings)

        let proposal = context.metrics(samples: samples, indices: valid, weights: nil, torusIndices: Array(valid.prefix(points)), stream: 3)
        var reweighted = SetReport.undefined("no valid samples")
        if let weights = ImportanceWeights.normalised(logWeights: logWeights) {
            var random = RandomSource(seed: settings.seed, streams: [1])
            let drawn = ImportanceWeights.transportSet(weights: weights, count: points, random: &random).map { valid[$0] }
            reweighted = context.metrics(samples: samples, indices: valid, weights: weights, torusIndices: drawn, stream: 4)
        } else if !valid.isEmpty {
            reweighted = SetReport.undefined("no valid sample has a positive finite weight")
        }
        let blocks = "block bootstrap over \(min(settings.blocks, md.phi.count)) contiguous blocks, \(settings.bootstrap) replicates"
        let mdReport = ReferenceReport(
            frames: md.energies.count, energyMean: WeightedStatistics.mean(md.energies, weights: mdWeights),
            energyMedian: WeightedStatistics.median(md.energies, weights: mdWeights),
            deltaF: DeltaFReport(mdDeltaF, method: mdWeights == nil ? blocks : "bias-weighted " + blocks + " (weights summed per block)"),
            torusStride: stride, weightedByBias: mdWeights != nil,
            biasEffectiveSampleSize: md.logWeights.map { ImportanceWeights.effectiveSampleSize(logWeights: $0) })
        var settingsReport = SettingsReport(settings: settings, torusPoints: points)
        settingsReport.blocks = min(settings.blocks, md.phi.count)   // what the bootstrap used: at most one block per frame
        return EvaluationReport(counts: counts, md: mdReport, proposal: proposal, reweighted: reweighted, settings: settingsReport)
    }

    private struct Context {
        let md: ReferenceSet
        /// Normalised frame weights of a biased reference, nil for plain MD.
        let mdWeights: [Double]?
        let mdTorus: [SIMD2<Double>]
        let mdHistogram: [Double]?
        let mdDeltaF: BasinFreeEnergy
        let settings: EvaluationSettings

        /// The metrics of the valid samples `indices` with optional normalised `weights` (one per index).
        func metrics(samples: SampleSet, indices: [Int], weights: [Double]?, torusIndices: [Int], stream: UInt64) -> SetReport {
            guard !indices.isEmpty else { return .undefined("no valid samples") }
            var report = SetReport.undefined(nil)
            // Energies: finite ones only (an infinite energy has weight 0 in the reweighted set).
            let finite = indices.indices.filter { samples.energies[indices[$0]].isFinite && (weights?[$0] ?? 1) > 0 }
            let energies = finite.map { samples.energies[indices[$0]] }
            let energyWeights = weights.map { w in finite.map { w[$0] } }
            report.energySamples = energies.count
            if !energies.isEmpty {
                report.energyMean = WeightedStatistics.mean(energies, weights: energyWeights)
                report.energyMedian = WeightedStatistics.median(energies, weights: energyWeights)
                report.energyW1 = Wasserstein1D.distance(md.energies, weights: mdWeights, energies, weights: energyWeights, p: 1)
                report.energyW2 = Wasserstein1D.distance(md.energies, weights: mdWeights, energies, weights: energyWeights, p: 2)
            }
            // Torus W2 on M points.
            if !torusIndices.isEmpty {
                let points = torusIndices.map { SIMD2(samples.phi[$0], samples.psi[$0]) }
                let result = TorusTransport.distance(mdTorus, points)
                report.torusW2 = result.distance
                report.torusPoints = points.count
                report.torusCertified = result.certified
            }
            // JSD of the Ramachandran histograms (all valid samples, weighted).
            let angles = indices.map { SIMD2(samples.phi[$0], samples.psi[$0]) }
            if let p = mdHistogram, let q = RamachandranHistogram.probabilities(angles, weights: weights, bins: settings.bins) {
                report.jsdBits = RamachandranHistogram.jensenShannon(p, q)
            }
            // ΔF with a bootstrap over samples, and its difference to MD.
            // Correlated samples (SMC, MCMC) are resampled by cluster, else the error is too small.
            var random = RandomSource(seed: settings.seed, streams: [stream])
            let phi = indices.map { samples.phi[$0] }
            let deltaF: BasinFreeEnergy
            if let clusters = samples.clusters {
                let labels = indices.map { clusters.labels[$0] }
                deltaF = BasinFreeEnergy.clusters(phi: phi, weights: weights, clusters: labels, resamples: settings.bootstrap, random: &random,
                                                  basin: settings.phiBasin)
                report.deltaF = DeltaFReport(deltaF, method: "cluster bootstrap over the samples' \(Set(labels).count) \(clusters.name)\(Set(labels).count == 1 ? "" : "s"), \(settings.bootstrap) replicates")
            } else {
                deltaF = BasinFreeEnergy.samples(phi: phi, weights: weights, resamples: settings.bootstrap, random: &random, basin: settings.phiBasin)
                report.deltaF = DeltaFReport(deltaF, method: "bootstrap over samples, \(settings.bootstrap) replicates")
            }
            report.deltaFMinusMD = DifferenceReport(deltaF, minus: mdDeltaF)
            return report
        }
    }
}
