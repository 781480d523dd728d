// SIGTERM / SIGUSR1 (what SLURM sends before a time limit or preemption, with --signal) ask a
// run to stop cleanly. The handler only sets a flag. tbg train reads it between steps (the ranks
// agree on it in the step's all-reduce, so every rank stops after the same step and a checkpoint
// is written); tbg sample reads it after each chunk (each rank finishes its chunk in flight, which
// is on disk, and the run can be resumed). SIGINT (Ctrl-C) does the same the first time, with a
// line that says so; a second Ctrl-C ends the process at once (the default action).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

nonisolated(unsafe) private var stopSignalNumber: Int32 = 0
// Written from the handler with write(2), which is async-signal-safe; a StaticString needs no allocation.
private let interruptNotice: StaticString = "\ntbg: Ctrl-C: stopping cleanly after the step or chunk in flight (a checkpoint or the finished chunks are kept); press Ctrl-C again to stop at once\n"

public enum StopSignal {
    public static func install() {
        signal(SIGTERM) { number in stopSignalNumber = number }
        signal(SIGUSR1) { number in stopSignalNumber = number }
        signal(SIGINT) { number in
            stopSignalNumber = number
            _ = write(2, interruptNotice.utf8Start, interruptNotice.utf8CodeUnitCount)
            signal(SIGINT, SIG_DFL)   // the next Ctrl-C terminates
        }
    }

    /// The exit status after a clean stop: 130 (the shell's status for Ctrl-C) when SIGINT asked
    /// for it, so that `tbg sample … && next-step` does not go on; 0 for SIGTERM/SIGUSR1, which
    /// job schedulers send and after which a requeued job continues.
    public static var exitStatusAfterStop: Int32 { stopSignalNumber == SIGINT ? 130 : 0 }

    /// The signal received, or 0.
    public static var received: Int32 { stopSignalNumber }

    /// What stopped the run, for its stop line: this rank's signal by name, or "a stop signal to
    /// another rank" when the ranks agreed to stop (an all-reduce) on a signal this rank did not get.
    public static var cause: String { stopSignalNumber == 0 ? "a stop signal to another rank" : name(stopSignalNumber) }

    public static func name(_ number: Int32) -> String {
        switch number {
        case SIGTERM: return "SIGTERM"
        case SIGUSR1: return "SIGUSR1"
        case SIGINT: return "SIGINT (Ctrl-C)"
        default: return "signal \(number)"
        }
    }
}
