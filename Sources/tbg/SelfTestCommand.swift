// `tbg selftest communicator`: checks every collective against closed-form answers on however many
// ranks it was started with. The test suite and CI run it under `mpirun -np 2` (and 3).
// `tbg selftest atomic-write --out F [--megabytes N] [--hold]`: writes F as every output is written
// (HDF5File.writeAtomically: partial file, fsync, rename, fsync of the folder), after removing the
// stale partial files of F as train and sample do at start; `--hold` stops before the rename and
// waits to be killed, so that tests can kill a writer mid-write for certain.
import ArgumentParser
import Communication
import Foundation
import HDF5

struct SelfTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Check this installation (MPI collectives) on the ranks it was started with.",
        shouldDisplay: false)

    enum Subject: String, ExpressibleByArgument, CaseIterable {
        case communicator
        case atomicWrite = "atomic-write"
    }

    @Argument(help: "What to check: communicator, atomic-write.")
    var subject: Subject

    @Option(help: "atomic-write: the file to write.")
    var out: String?

    @Option(help: "atomic-write: size of the payload in MB.")
    var megabytes = 1

    @Option(help: "atomic-write: value the payload starts from (to tell two writes apart).")
    var payloadSeed = 0

    @Flag(help: "atomic-write: stop before the rename and wait until killed.")
    var hold = false

    @OptionGroup var distributed: DistributedOptions

    func validate() throws {
        if subject == .atomicWrite && (out == nil || megabytes < 0) {
            throw ValidationError("atomic-write needs --out FILE and --megabytes ≥ 0")
        }
    }

    func run() throws {
        if subject == .atomicWrite, let out {
            for stale in HDF5File.removeStalePartials(for: out) { writeLine("removed stale partial file \(stale)") }
            let count = megabytes * 131_072
            let payload = (0..<count).map { Double($0 + payloadSeed) }
            try HDF5File.writeAtomically(to: out) { root in
                try root.writeDataset("payload", payload, shape: [count])
                try root.writeAttribute("payload_seed", [Int64(payloadSeed)])
                if hold {
                    writeLine("holding \(HDF5File.partialPath(for: out))")
                    while true { sleep(60) }
                }
            }
            writeLine("wrote \(out): \(count) float64 values")
            return
        }
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
