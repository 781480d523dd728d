// `tbg train --config Configs/….yaml [--set key=value …] [--resume]`: flow-matching training of the
// TBG vector field, data-parallel over MPI ranks (one rank per core).
import ArgumentParser
import Communication
import FlowModel
import Foundation
import HDF5
import MDData
import Training

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train the TBG vector field by flow matching on a dataset (MPI data-parallel).",
        discussion: """
            The configuration is the defaults, then --config, then each --set (e.g. --set \
            training.steps=2000 --set data.dataset=data/ad2-10ns). Rank 0 prints the resolved \
            configuration, logs progress and writes checkpoints (atomically). SIGTERM or SIGUSR1 \
            finish the current step, write a checkpoint and exit; --resume continues from it.
            """)

    @Option(help: "YAML or JSON configuration file (see Configs/).")
    var config: String?

    @Option(name: .customLong("set"), help: "Override one setting, key.path=value (repeatable).")
    var overrides: [String] = []

    @Flag(help: "Continue from training.checkpoint if it exists.")
    var resume = false

    @Flag(help: "Start a new run even though training.checkpoint exists; the new run's first checkpoint replaces it. Without it (or --resume) an existing checkpoint is refused.")
    var overwrite = false

    @Flag(help: "Print the resolved configuration and exit.")
    var printConfig = false

    @OptionGroup var distributed: DistributedOptions

    func validate() throws {
        if resume && overwrite { throw ValidationError("--resume continues training.checkpoint, --overwrite starts a new run over it: give one of them") }
    }

    func run() throws {
        // First thing: a job script may send its stop signal while the configuration is resolved.
        if !printConfig { StopSignal.install() }
        let resolved = try RunConfig.resolve(file: config, overrides: overrides)
        if printConfig {
            print(resolved.json())
            return
        }
        try distributed.withCommunicator { comm in
            do {
                if comm.isRoot {
                    // The checkpoint is an output: it must not be the configuration or a dataset file.
                    var inputs = config.map { [$0] } ?? []
                    if let (index, directory) = try? DatasetIndex.load(resolved.data.dataset) {
                        inputs += [directory.isEmpty ? DatasetIndex.fileName : directory + "/" + DatasetIndex.fileName]
                        inputs += index.peptides.map { directory.isEmpty ? $0.file : directory + "/" + $0.file }
                    }
                    try OutputPath.checkDistinct(resolved.training.checkpoint, from: inputs)
                    // A directory or device there would fail only at the first checkpoint write.
                    try OutputPath.checkKind(resolved.training.checkpoint, allowLinks: true)
                    // A new run (no --resume) would replace a trained model at its first checkpoint.
                    if !resume && !overwrite {
                        try OutputPath.checkNotExisting(resolved.training.checkpoint, option: "training.checkpoint (--set training.checkpoint=…)",
                                                        alternative: "continue its run with --resume")
                    }
                    writeLine("resolved configuration:\n\(resolved.json())")
                    // A checkpoint write of an earlier run on this host that was killed left its partial file.
                    for stale in HDF5File.removeStalePartials(for: resolved.training.checkpoint) {
                        writeLine("removed stale partial file \(stale) (an unfinished checkpoint write of a process that no longer runs)")
                    }
                }
                let trainer = try Trainer(config: resolved, communicator: comm, resume: resume) { writeLine($0) }
                try trainer.run()
            } catch {
                // A failing rank must end the whole job, not leave the others waiting in a collective.
                if comm.size > 1 { comm.abort(code: 1, message: "tbg train: error: \(error)") }
                throw error
            }
        }
    }
}
