// How the process finds its peers: through MPI when a launcher started it, serially otherwise.
import ArgumentParser
import Communication
import Foundation

enum MPIMode: String, ExpressibleByArgument, CaseIterable {
    case auto, on, off
}

struct DistributedOptions: ParsableArguments {
    @Option(help: "Use MPI: auto (when started by mpirun/srun), on, or off (serial).")
    var mpi: MPIMode = .auto

    /// Runs `body` with the communicator this process should use, and shuts MPI down afterwards.
    func withCommunicator<R>(_ body: (any Communicator) throws -> R) rethrows -> R {
        let useMPI: Bool
        switch mpi {
        case .on: useMPI = true
        case .off: useMPI = false
        case .auto: useMPI = MPIEnvironment.launchedByMPI(environment: ProcessInfo.processInfo.environment)
        }
        guard useMPI else { return try body(SerialCommunicator()) }
        let communicator = MPICommunicator.world()
        defer { MPIEnvironment.finish() }
        return try body(communicator)
    }
}
