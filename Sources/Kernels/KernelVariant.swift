// Which variant of the C kernels (CKernels) runs: portable, AVX2/FMA or AVX-512F, chosen once at
// run time from what the CPU has, or forced with TBG_KERNELS=portable|avx2|avx512 (a variant the
// CPU lacks is not run: the best one is, and `environmentProblem` says why).
import CKernels

public enum KernelVariant: Int32, CaseIterable, Sendable, CustomStringConvertible {
    case portable = 0, avx2 = 1, avx512 = 2

    /// The variant every kernel runs now.
    public static var active: KernelVariant { KernelVariant(rawValue: tbg_kernels_active()) ?? .portable }

    /// The variants this CPU (and build) can run, portable first.
    public static var supported: [KernelVariant] { allCases.filter(\.isSupported) }

    public var isSupported: Bool { tbg_kernels_supported(rawValue) != 0 }

    /// Makes `variant` the active one (tests, benchmarks); false, and no change, if unsupported.
    @discardableResult
    public static func select(_ variant: KernelVariant) -> Bool { tbg_kernels_select(variant.rawValue) != 0 }

    public var description: String { String(cString: tbg_kernels_name(rawValue)) }

    /// Why TBG_KERNELS was not followed, or nil (unset, or followed).
    public static var environmentProblem: String? {
        let requested = tbg_kernels_requested()
        if requested == TBG_KERNELS_NOT_REQUESTED { return nil }
        guard let variant = KernelVariant(rawValue: requested) else {
            return "TBG_KERNELS must be portable, avx2 or avx512"
        }
        return variant.isSupported ? nil : "TBG_KERNELS=\(variant): this CPU lacks it"
    }
}

/// A typed pointer seen as Float (only called where T is Float).
@usableFromInline @inline(__always)
func float32<T>(_ pointer: UnsafePointer<T>) -> UnsafePointer<Float> { UnsafeRawPointer(pointer).assumingMemoryBound(to: Float.self) }

@usableFromInline @inline(__always)
func float32<T>(_ pointer: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> {
    UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: Float.self)
}
