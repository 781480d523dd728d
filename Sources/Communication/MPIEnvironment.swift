// Starting and stopping MPI, and deciding whether this process was started by an MPI launcher.
//
// MPI is initialised once per process with MPI_THREAD_FUNNELED: threads inside a rank may compute
// between collectives, but every MPI call stays on the main thread (stack study §8).
import CMPI

public enum MPIEnvironment {
    private nonisolated(unsafe) static var started = false

    /// Initialises MPI if it is not running yet. Safe to call more than once.
    public static func start() {
        guard !started else { return }
        var initialised: Int32 = 0
        MPI_Initialized(&initialised)
        if initialised == 0 {
            var provided: Int32 = 0
            MPI_Init_thread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided)
        }
        started = true
    }

    /// Finalises MPI if this process started it. Call once, at the end of `main`.
    public static func finish() {
        guard started else { return }
        var finalised: Int32 = 0
        MPI_Finalized(&finalised)
        if finalised == 0 { MPI_Finalize() }
        started = false
    }

    /// The MPI library's version string (e.g. "Open MPI v4.1.4, …").
    public static var libraryVersion: String {
        var buffer = [CChar](repeating: 0, count: Int(MPI_MAX_LIBRARY_VERSION_STRING))
        var length: Int32 = 0
        MPI_Get_library_version(&buffer, &length)
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            .trimmingWhitespace()
    }

    /// Whether the environment shows that an MPI launcher (mpirun/mpiexec, srun with PMI/PMIx,
    /// Hydra) started this process. A plain `tbg …` then runs with a serial communicator, without
    /// the cost of MPI's singleton start-up. `SLURM_PROCID` alone does not count: the batch script
    /// itself has it.
    public static func launchedByMPI(environment: [String: String]) -> Bool {
        let markers = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "MPI_LOCALNRANKS"]
        return markers.contains { environment[$0] != nil }
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let last = scalars.last, last.isWhitespace || last == "\0" { scalars = scalars.dropLast() }
        while let first = scalars.first, first.isWhitespace { scalars = scalars.dropFirst() }
        return String(scalars)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes `text` straight to file descriptor 2 (unbuffered, safe right before the process ends).
func writeToStandardError(_ text: String) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
        if written <= 0 { return }
        offset += written
    }
}
