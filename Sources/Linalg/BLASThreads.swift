// Control of OpenBLAS's own thread pool.
//
// With one MPI rank per core, OpenBLAS must run single-threaded: its pthread workers busy-wait after
// each call and would fight the other ranks for the cores (measured in the stack study, §8).
import CBLAS

public enum BLASRuntime {
    /// Sets the number of threads OpenBLAS uses for subsequent calls.
    public static func setThreadCount(_ count: Int) {
        precondition(count >= 1, "BLAS thread count must be ≥ 1, got \(count)")
        openblas_set_num_threads(Int32(count))
    }

    /// The number of threads OpenBLAS currently uses.
    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// The CPU kernel OpenBLAS selected (e.g. "Haswell"; it honours `OPENBLAS_CORETYPE`).
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// OpenBLAS's build configuration string (version, threading, kernel).
    public static var configuration: String {
        guard let text = openblas_get_config() else { return "unknown" }
        return String(cString: text)
    }
}
