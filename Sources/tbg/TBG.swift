// The `tbg` executable: one command with subcommands. Each subcommand parses and validates its
// options, builds the communicator, and calls into the libraries; no logic lives here that a test
// could not reach through the libraries or by running the binary.
import ArgumentParser

@main
struct TBG: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tbg",
        abstract: "Transferable Boltzmann Generators: train, sample and evaluate on dipeptide MD data.",
        discussion: """
            Runs serially, or as one MPI rank per core under mpirun/srun. Trajectory and dataset \
            files are made by Tools/generate_trajectory.py and Tools/make_dataset.py (format in \
            Tools/FORMAT.md).
            """,
        version: TBGVersion.string,
        subcommands: [InspectCommand.self, TrainCommand.self, SampleCommand.self, NLLCommand.self,
                      EvaluateCommand.self, SMCCommand.self, MCMCCommand.self, EnergyCommand.self, BenchCommand.self, SelfTestCommand.self])
}

enum TBGVersion {
    static let string = "0.1.0"
}
