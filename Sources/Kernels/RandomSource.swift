// Deterministic random numbers: xoshiro256** seeded through SplitMix64 (Blackman & Vigna).
//
// Every stream is derived from (base seed, purpose, index…) by `RandomSource(seed:streams:)`, so
// that a sample or a rank gets the same numbers however the work is split (a seed per sample, not
// per rank). Gaussians by Box–Muller in Double.
import Foundation

public struct RandomSource: Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)
    private var spareGaussian: Double?

    /// A generator for the stream identified by `seed` and any number of further integers.
    public init(seed: UInt64, streams: [UInt64] = []) {
        var mix = seed
        for stream in streams { mix = Self.splitMix(&mix) ^ (stream &* 0x9E37_79B9_7F4A_7C15) }
        var splitState = mix
        state = (Self.splitMix(&splitState), Self.splitMix(&splitState), Self.splitMix(&splitState), Self.splitMix(&splitState))
    }

    private static func splitMix(_ x: inout UInt64) -> UInt64 {
        x &+= 0x9E37_79B9_7F4A_7C15
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func next() -> UInt64 {
        let result = ((state.1 &* 5) << 7 | (state.1 &* 5) >> 57) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = state.3 << 45 | state.3 >> 19
        return result
    }

    /// Uniform in [0, 1).
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform in [low, high).
    public mutating func uniform(_ low: Double, _ high: Double) -> Double { low + (high - low) * uniform() }

    /// Standard normal.
    public mutating func gaussian() -> Double {
        if let spare = spareGaussian {
            spareGaussian = nil
            return spare
        }
        var u = uniform()
        while u <= 0 { u = uniform() }
        let v = uniform()
        let radius = (-2 * log(u)).squareRoot()
        spareGaussian = radius * sin(2 * .pi * v)
        return radius * cos(2 * .pi * v)
    }

    /// An integer in 0 ..< bound.
    public mutating func integer(below bound: Int) -> Int {
        precondition(bound > 0)
        return Int(next() % UInt64(bound))
    }
}
