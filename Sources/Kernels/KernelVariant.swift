// Which variant of the C kernels (CKernels) runs: portable, AVX2/FMA or AVX-512F, chosen once at
// run time per kernel family from what the CPU has (KernelVariant.c holds the rule), or forced
// with TBG_KERNELS=portable|avx2|avx512 for every family, TBG_KERNELS_LAYER / TBG_KERNELS_TANGENT
// for one (a variant the CPU lacks is not run: the default is, and `environmentProblem` says why).
import CKernels

/// Kernels that choose their variant together.
public enum KernelFamily: Int32, CaseIterable, Sendable, CustomStringConvertible {
    /// The layer's passes: elementwise activations and the edge passes of forward and backward.
    case layer = 0
    /// The divergence's tangent kernels (the fused pair kernel and the tangent rows).
    case tangent = 1

    public var description: String { String(cString: tbg_kernels_family_name(rawValue)) }
}

public enum KernelVariant: Int32, CaseIterable, Sendable, CustomStringConvertible {
    case portable = 0, avx2 = 1, avx512 = 2

    /// The variant the layer family runs now (training runs only that family).
    public static var active: KernelVariant { active(for: .layer) }

    /// The variant `family` runs now.
    public static func active(for family: KernelFamily) -> KernelVariant {
        KernelVariant(rawValue: tbg_kernels_family_active(family.rawValue)) ?? .portable
    }

    /// The variant `family` runs on this CPU unless asked otherwise.
    public static func defaultVariant(for family: KernelFamily) -> KernelVariant {
        KernelVariant(rawValue: tbg_kernels_family_default(family.rawValue)) ?? .portable
    }

    /// The variants this CPU (and build) can run, portable first.
    public static var supported: [KernelVariant] { allCases.filter(\.isSupported) }

    public var isSupported: Bool { tbg_kernels_supported(rawValue) != 0 }

    /// Makes `variant` the active one of every family (tests, benchmarks); false, and no change, if unsupported.
    @discardableResult
    public static func select(_ variant: KernelVariant) -> Bool { tbg_kernels_select(variant.rawValue) != 0 }

    /// Makes `variant` the active one of `family`; false, and no change, if unsupported.
    @discardableResult
    public static func select(_ variant: KernelVariant, for family: KernelFamily) -> Bool {
        tbg_kernels_family_select(family.rawValue, variant.rawValue) != 0
    }

    public var description: String { String(cString: tbg_kernels_name(rawValue)) }

    /// "layer avx512, tangent avx2": what each family runs now.
    public static var activeByFamily: String {
        KernelFamily.allCases.map { "\($0) \(active(for: $0))" }.joined(separator: ", ")
    }

    /// Why TBG_KERNELS or TBG_KERNELS_<FAMILY> was not followed, or nil (unset, or followed).
    public static var environmentProblem: String? {
        for family in KernelFamily.allCases {
            let requested = tbg_kernels_family_requested(family.rawValue)
            if requested == TBG_KERNELS_NOT_REQUESTED { continue }
            guard let variant = KernelVariant(rawValue: requested) else {
                return "TBG_KERNELS and TBG_KERNELS_\(family.description.uppercased()) must be portable, avx2 or avx512"
            }
            if !variant.isSupported { return "TBG_KERNELS(_\(family.description.uppercased())) = \(variant): this CPU lacks it" }
        }
        return nil
    }
}

/// A typed pointer seen as Float (only called where T is Float).
@usableFromInline @inline(__always)
func float32<T>(_ pointer: UnsafePointer<T>) -> UnsafePointer<Float> { UnsafeRawPointer(pointer).assumingMemoryBound(to: Float.self) }

@usableFromInline @inline(__always)
func float32<T>(_ pointer: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> {
    UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: Float.self)
}
