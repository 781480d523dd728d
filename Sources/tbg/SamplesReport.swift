// `tbg inspect SAMPLES.h5`: what a `tbg sample`, `tbg smc` or `tbg mcmc` output holds, beside its
// trajectory report: the sampler, how many samples are valid, their Kish ESS, what they cost and
// what made them (checkpoint and step, ODE settings, seed, ranks). The full metrics are
// `tbg evaluate`'s; this is the quick look.
import Evaluation
import Foundation
import HDF5
import MDData
import Sampling

struct SamplesReport: Encodable {
    var sampler: String
    var count: Int
    /// Samples that pass the bond-graph and chirality checks (after the mirror fix).
    var valid: Int
    var mirrorFixed: Int
    /// Kish ESS of the valid samples' normalised weights, as a fraction of `valid` (the TBG
    /// protocol, field.md §4); nil without valid samples.
    var effectiveSampleSizeFraction: Double?
    var energyEvaluations: Int
    var evaluationsPerSample: Double?
    var evaluationsMedian: Double?
    var evaluationsMaximum: Double?
    var checkpoint: String?
    var checkpointStep: Int?
    var weights: String?
    var sourceSamples: String?
    var peptide: String?
    var seed: UInt64?
    /// A pool of several runs (tbg pool): their seeds and files.
    var seeds: [UInt64]?
    var pooledFrom: [String]?
    var ranks: Int?
    var kTkJPerMol: Double
    /// The sampler's settings (JSON, sorted keys) as stored in /samples@settings.
    var settings: String?

    enum CodingKeys: String, CodingKey {
        case sampler, count, valid, checkpoint, weights, peptide, seed, seeds, ranks, settings
        case pooledFrom = "pooled_from"
        case mirrorFixed = "mirror_fixed"
        case effectiveSampleSizeFraction = "ess_fraction"
        case energyEvaluations = "energy_evaluations"
        case evaluationsPerSample = "evaluations_per_sample"
        case evaluationsMedian = "evaluations_median"
        case evaluationsMaximum = "evaluations_max"
        case checkpointStep = "checkpoint_step"
        case sourceSamples = "source_samples"
        case kTkJPerMol = "kT_kJ_per_mol"
    }

    /// True when `path` holds a /samples group (cheap: nothing read).
    static func hasSamples(_ path: String) -> Bool {
        (try? HDF5File(opening: path).root().kind(of: "samples")) == .group
    }

    /// - Throws: `DataFormatError` naming the file when /samples lacks what every sample file has.
    init(path: String) throws {
        let file = try SampleFile(trajectory: try TrajectoryFile(path: path))
        let topologyOK = try file.topologyOK(), chiralityOK = try file.chiralityOK()
        let logWeights = try file.logWeights()
        let validIndices = (0..<file.frameCount).filter { topologyOK[$0] && chiralityOK[$0] }
        let mirrored = try file.chiralityFixed()
        sampler = file.sampler ?? "unknown"
        count = file.frameCount
        valid = validIndices.count
        mirrorFixed = validIndices.filter { mirrored[$0] }.count
        effectiveSampleSizeFraction = validIndices.isEmpty ? nil : ImportanceWeights.effectiveSampleSize(logWeights: validIndices.map { logWeights[$0] })
        energyEvaluations = file.energyEvaluations(validCount: valid)
        kTkJPerMol = file.kT
        func string(_ name: String) -> String? { file.stringAttribute(name) }
        func integer(_ name: String) -> Int64? { file.integerAttribute(name) }
        evaluationsPerSample = file.doubleAttribute("evaluations_per_sample")
        // Per-sample ODE evaluations (tbg sample since 2026-12-01): the spread shows stiff paths.
        if let perSample = try file.optionalDataset("ode_evaluations", expected: "velocity evaluations per sample")?.read(as: Double.self)
            .filter({ !$0.isNaN }) {
            evaluationsMedian = WeightedStatistics.median(perSample)
            evaluationsMaximum = perSample.max()
        }
        checkpoint = string("checkpoint")
        checkpointStep = integer("checkpoint_step").map(Int.init)
        weights = string("weights")
        sourceSamples = string("source_samples")
        peptide = string("peptide")
        seed = integer("seed").map { UInt64(bitPattern: $0) }
        seeds = file.integerArrayAttribute("seeds")?.map { UInt64(bitPattern: $0) }
        if let text = string("pooled_from"), let inputs = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] {
            pooledFrom = inputs.compactMap { $0["file"] as? String }
        }
        ranks = integer("ranks").map(Int.init)
        settings = string("settings")
    }
}

/// One `tbg inspect --json` line: a report's own keys plus "kind" ("trajectory", "samples",
/// "dataset") and, for a sample file, "samples".
struct KindedReport<Report: Encodable>: Encodable {
    var kind: String
    var report: Report
    var samples: SamplesReport?

    private enum Keys: String, CodingKey { case samples, kind }

    func encode(to encoder: any Encoder) throws {
        try report.encode(to: encoder)
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(kind, forKey: .kind)
        if let samples { try container.encode(samples, forKey: .samples) }
    }
}
