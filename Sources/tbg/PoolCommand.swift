// `tbg pool`: several `tbg sample` runs of one model and peptide (different --seed) as one sample
// file, which tbg evaluate, smc, mcmc, free-energy and MDTraj read like any other
// (Sampling/SamplePool.swift says what is checked and how the file is laid out).
import ArgumentParser
import Evaluation
import Foundation
import MDData
import Sampling

struct PoolCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pool",
        abstract: "Pool tbg sample outputs of one checkpoint and peptide (different seeds) into one sample file.",
        discussion: """
            Independent runs of the same proposal (same checkpoint step, configuration and EMA/raw \
            weights, same ODE method and tolerances, same peptide, force field and kT) are i.i.d. \
            draws of one distribution, so their union is one sample of the summed size and the log \
            weights stay as they are. Inputs that differ in any of these, outputs of tbg smc or \
            tbg mcmc, and runs that repeat a (seed, sample index) are refused with what differs. \
            The pool keeps every per-sample dataset all inputs hold, adds /samples/seed, and \
            records its inputs in /samples@pooled_from; ESS, energy evaluations and evaluations per \
            sample are recomputed over the pool. Example: two SLURM array tasks with --seed 1 and \
            --seed 2, then `tbg pool s1.h5 s2.h5 --out pool.h5` and `tbg evaluate --samples pool.h5`.
            """)

    @Argument(help: "Outputs of tbg sample (.h5), at least two.") var inputs: [String]
    @Option(help: "The pool (.h5), written atomically; never one of the inputs.") var out: String
    @Flag(help: "Replace OUT if it exists. Without it an existing OUT is refused.") var overwrite = false
    @Flag(help: "Print one JSON object instead of text.") var json = false

    func validate() throws {
        guard inputs.count >= 2 else { throw ValidationError("give at least two sample files to pool (found \(inputs.count))") }
    }

    func run() throws {
        try OutputPath.checkNewFile(out, from: inputs, overwrite: overwrite)
        let summary = try SamplePool.pool(inputs, to: out)
        if json {
            let ess = summary.effectiveSampleSize
            let report = Report(out: out, samples: summary.samples, valid: summary.valid, effectiveSampleSize: ess.isFinite ? ess : nil,
                                inputs: summary.inputs.map { .init(file: $0.path, samples: $0.samples, seeds: $0.seeds) },
                                dropped: summary.dropped.map { .init(dataset: $0.dataset, missingIn: $0.missingIn) })
            print(try JSONOutput.line(report))
            return
        }
        for input in summary.inputs {
            print("tbg pool: \(input.path): \(input.samples) samples, seed \(input.seeds.map(String.init).joined(separator: ", "))")
        }
        for (dataset, missing) in summary.dropped {
            print("tbg pool: /samples/\(dataset) left out: \(missing) does not hold it")
        }
        let ess = summary.valid == 0 ? "ESS – (no valid samples)"
            : String(format: "ESS %.2f %% of the valid samples (%.1f samples)", 100 * summary.effectiveSampleSize,
                     summary.effectiveSampleSize * Double(summary.valid))
        print(String(format: "tbg pool: wrote %@: %ld samples, %ld valid (%.1f %%), %@", out, summary.samples, summary.valid,
                     100 * Double(summary.valid) / Double(max(1, summary.samples)), ess))
    }

    struct Report: Encodable {
        struct Input: Encodable { var file: String; var samples: Int; var seeds: [UInt64] }
        struct Dropped: Encodable {
            var dataset: String, missingIn: String
            enum CodingKeys: String, CodingKey { case dataset; case missingIn = "missing_in" }
        }
        var out: String, samples: Int, valid: Int
        /// Kish ESS over the valid samples, as a fraction of them; null without valid samples.
        @JSONNullable var effectiveSampleSize: Double?
        var inputs: [Input], dropped: [Dropped]
        enum CodingKeys: String, CodingKey {
            case out, samples, valid, inputs, dropped
            case effectiveSampleSize = "effective_sample_size"
        }
    }
}
