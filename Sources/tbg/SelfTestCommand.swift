// `tbg selftest communicator`: checks every collective against closed-form answers on however many
// ranks it was started with. The test suite and CI run it under `mpirun -np 2` (and 3).
import ArgumentParser
import Communication
import Foundation

struct SelfTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Check this installation (MPI collectives) on the ranks it was started with.",
        shouldDisplay: false)

    enum Subject: String, ExpressibleByArgument, CaseIterable {
        case communicator
    }

    @Argument(help: "What to check: communicator.")
    var subject: Subject

    @OptionGroup var distributed: DistributedOptions

    func run() throws {
        let passed = distributed.withCommunicator { comm -> Bool in
            let report = CommunicatorSelfCheck.run(on: comm)
            for failure in report.failures { writeError("selftest: FAILED \(failure)") }
            print("rank \(comm.rank) of \(comm.size): \(report.checks) communicator checks, \(report.failures.count) failed")
            comm.barrier()
            if comm.isRoot {
                let kind = comm is MPICommunicator ? "MPI (\(MPIEnvironment.libraryVersion.prefix(40)))" : "serial"
                let verdict = report.passed ? "passed" : "FAILED (\(report.failuresOnAllRanks) failures)"
                print("communicator self-check \(verdict) on \(comm.size) rank(s), \(kind)")
            }
            return report.passed
        }
        if !passed { throw ExitCode(1) }
    }
}

/// Prints one line to standard error.
func writeError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Prints one line to standard output unbuffered (progress lines must appear at once in job logs).
func writeLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
