// Random numbers of the Monte Carlo drivers as a function of (seed, purpose, stage, step, global
// particle index) only, never of the rank: a particle moves the same way whether 1 or 2 ranks hold
// it, so 1 and N ranks give the same particles for the same seed. Built on the counter-seeded
// xoshiro256** of Kernels/RandomSource.swift.
import Kernels

/// Which part of an algorithm a stream serves (kept distinct so streams never overlap).
public enum StreamPurpose: UInt64, Sendable {
    case mala = 11, hmc = 12, resampling = 13, independence = 14, poolOrder = 15, kernelChoice = 16
}

/// The streams of one step of a driver: `generator(particle:)` gives particle `particle`'s (global
/// index) generator for (seed, purpose, stage, step).
public struct ParticleStreams: Sendable {
    public let seed: UInt64
    public let purpose: StreamPurpose
    public let stage: Int
    public let step: Int
    /// Global index of local particle 0 (the first index of this rank's contiguous block).
    public let firstParticle: Int
    /// When set, the global index of every local particle (a batch that is not one contiguous block).
    public let particleIndices: [Int]?

    public init(seed: UInt64, purpose: StreamPurpose, stage: Int, step: Int, firstParticle: Int = 0) {
        (self.seed, self.purpose, self.stage, self.step, self.firstParticle) = (seed, purpose, stage, step, firstParticle)
        particleIndices = nil
    }

    public init(seed: UInt64, purpose: StreamPurpose, stage: Int, step: Int, particleIndices: [Int]) {
        (self.seed, self.purpose, self.stage, self.step, self.firstParticle) = (seed, purpose, stage, step, 0)
        self.particleIndices = particleIndices
    }

    /// The global index of local particle `local`.
    public func globalIndex(local: Int) -> Int { particleIndices.map { $0[local] } ?? firstParticle + local }

    /// The generator of local particle `local` (its global index, see `globalIndex(local:)`).
    public func generator(local: Int) -> RandomSource {
        RandomSource(seed: seed, streams: [purpose.rawValue, UInt64(stage), UInt64(step), UInt64(globalIndex(local: local))])
    }

    /// One generator for a decision all ranks make together (e.g. the resampling uniform).
    public static func shared(seed: UInt64, purpose: StreamPurpose, stage: Int) -> RandomSource {
        RandomSource(seed: seed, streams: [purpose.rawValue, UInt64(stage), UInt64.max])
    }
}

/// The contiguous block of `total` items held by `rank` of `size`: [total·rank/size, total·(rank+1)/size).
/// Plain integers, so tests can simulate any number of ranks in one process.
public func contiguousBlock(total: Int, rank: Int, size: Int) -> Range<Int> {
    precondition(size >= 1 && rank >= 0 && rank < size && total >= 0)
    return (total * rank / size)..<(total * (rank + 1) / size)
}
