// The `tbg` executable: one command with subcommands. Each subcommand parses and validates its
// options, builds the communicator, and calls into the libraries; no logic lives here that a test
// could not reach through the libraries or by running the binary.
import ArgumentParser
import Communication
import Foundation

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
                      EvaluateCommand.self, SMCCommand.self, MCMCCommand.self, FreeEnergyCommand.self, PoolCommand.self, EnergyCommand.self, BenchCommand.self, SelfTestCommand.self])

    /// ArgumentParser's main, then the exit status of a clean stop on Ctrl-C (130; StopSignal).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
        let status = StopSignal.exitStatusAfterStop
        if status != 0 { Foundation.exit(status) }
    }
}

enum TBGVersion {
    static let string = "0.1.0"
}
