// SIGTERM / SIGUSR1 (what SLURM sends before a time limit or preemption, with --signal) ask a
// run to stop cleanly. The handler only sets a flag. tbg train reads it between steps (the ranks
// agree on it in the step's all-reduce, so every rank stops after the same step and a checkpoint
// is written); tbg sample reads it after each chunk (each rank finishes its chunk in flight, which
// is on disk, and the run can be resumed).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

nonisolated(unsafe) private var stopSignalNumber: Int32 = 0

public enum StopSignal {
    public static func install() {
        signal(SIGTERM) { number in stopSignalNumber = number }
        signal(SIGUSR1) { number in stopSignalNumber = number }
    }

    /// The signal received, or 0.
    public static var received: Int32 { stopSignalNumber }

    public static func name(_ number: Int32) -> String {
        switch number {
        case SIGTERM: return "SIGTERM"
        case SIGUSR1: return "SIGUSR1"
        default: return "signal \(number)"
        }
    }
}
