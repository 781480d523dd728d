// Position-only draws of the flow for `tbg free-energy`: the stratum probabilities Q_s from many
// cheap draws, and exact i.i.d. draws of the flow restricted to the strata it rarely visits.
//
// Stratified BAR (Evaluation/BennettAcceptanceRatio.swift) needs two things of the flow q in each
// stratum s: Q_s, the probability that a draw of q lands in s, and samples of q restricted to s with
// their log q, for BAR's flow side. Only the second needs log q, that is the exact divergence along
// the ODE (3(N − 1) tangent passes per network evaluation for N atoms). Whether a draw lands in s
// needs only its positions: one forward pass per evaluation (FlowSampler.integratePositions). So:
//
//   1. M position-only draws z_i ~ p, x_i = P(T(z_i)) (P: bond graph, chirality fix, energy; usable or
//      not, as for `tbg sample`). Their strata join Q: Q_s = (n_s + m_s) / (N + M), with n_s of the N
//      usable proposals and m_s of the M usable draws in s. The binomial noise of Q_s falls as
//      1/√(N + M) at a fraction of the cost of N + M samples with log q.
//   2. In each sparse stratum (fewer usable proposals than `sparseBelow`), the first `restricted`
//      draws that landed there, by index, are integrated again with the exact divergence. Chosen by
//      index among i.i.d. draws, they are i.i.d. draws of q restricted to s: independent samples for
//      BAR's flow side, where the latent chains (RestrictedFlowChains) give correlated ones. The
//      second integration controls the error of log q too, so its x₁ differs from the first within
//      the ODE tolerance; a draw whose second sample is not usable or not in s is left out (a sliver
//      of the stratum's boundary, of the order of the tolerance).
//
// Draw i's latent is seeded by (seed, 0x57A7, i), a stream no `tbg sample` latent uses ((seed,
// 0x9A1E, i), MeanFreePrior.sample), so the draws are independent of the proposals whatever the
// seeds. Draws are integrated in fixed chunks, restricted draws in fixed groups, each a rank's unit
// of work, so any number of ranks gives the same draws.
import Foundation
import Kernels
import Model

public struct StratumDrawSettings: Sendable, Equatable, Encodable {
    /// Position-only draws of the flow (0: none).
    public var draws = 0
    /// Per sparse stratum, the draws there integrated again with the exact divergence (0: none).
    public var restricted = 64
    /// Strata with fewer usable proposals than this are sparse.
    public var sparseBelow = 64
    /// Position-only draws integrated together (a rank's unit of work).
    public var chunk = 64
    /// Restricted draws integrated together (a rank's unit of work).
    public var group = 8
    /// The draws' latents are those of the stream (seed, 0x57A7, index).
    public var seed: UInt64 = 1

    public init() {}

    enum CodingKeys: String, CodingKey {
        case draws = "position_draws", restricted = "restricted_draws", sparseBelow = "sparse_below", chunk, group, seed
    }
}

public enum StratumDraws {
    /// The stream tag of the draws' latents.
    static let stream: UInt64 = 0x57A7

    /// The draws' seed for a run: `explicit` (--seed) where given, else the samples' own seed, so
    /// that runs on different proposal files (replicates: `tbg sample --seed s`) draw different
    /// latents without being told; a pool of several seeds mixes them (sorted, so the order of the
    /// pooled files does not matter); samples that record none give 1.
    /// - Parameters: `sampleSeeds`: each sample's seed (`SampleFile.latentSources`), nil when not recorded.
    public static func seed(explicit: UInt64?, sampleSeeds: [UInt64]?) -> UInt64 {
        if let explicit { return explicit }
        let distinct = Array(Set(sampleSeeds ?? [])).sorted()
        guard let first = distinct.first else { return 1 }
        if distinct.count == 1 { return first }
        var mix = RandomSource(seed: first, streams: Array(distinct.dropFirst()) + [stream])
        return mix.next()
    }

    /// The latent (model units, mean-free, atoms × 3) of draw `index` of the run seeded by `seed`.
    public static func latent(atoms: Int, seed: UInt64, index: Int) -> [Double] {
        var random = RandomSource(seed: seed, streams: [stream, UInt64(index)])
        var z = [Double](repeating: 0, count: atoms * 3)
        z.withUnsafeMutableBufferPointer { MeanFreePrior.draw($0.baseAddress!, atoms: atoms, random: &random) }
        return z
    }

    /// The draws of chunk `chunk` (0 ..< chunks(settings)).
    public static func indices(chunk: Int, settings: StratumDrawSettings) -> Range<Int> {
        let size = max(1, settings.chunk)
        return (chunk * size)..<min(settings.draws, (chunk + 1) * size)
    }

    /// The number of chunks of the draws.
    public static func chunks(_ settings: StratumDrawSettings) -> Int { (settings.draws + max(1, settings.chunk) - 1) / max(1, settings.chunk) }

    /// The sparse strata: those with fewer than `sparseBelow` of `flowStrata` (the usable proposals').
    public static func sparse(flowStrata: [Int], strata: Int, sparseBelow: Int) -> [Bool] {
        var counts = [Int](repeating: 0, count: strata)
        for s in flowStrata { counts[s] += 1 }
        return counts.map { $0 < sparseBelow }
    }

    /// The draws integrated again: in each sparse stratum, the first `perStratum` draws (by index) that
    /// landed there; ordered by stratum, then index.
    /// - Parameters: `drawStrata`: each draw's stratum, nil where it is not usable.
    public static func restrictedChoice(drawStrata: [Int?], sparse: [Bool], perStratum: Int) -> [(index: Int, stratum: Int)] {
        var chosen = [[Int]](repeating: [], count: sparse.count)
        for (index, stratum) in drawStrata.enumerated() {
            guard let s = stratum, sparse[s], chosen[s].count < perStratum else { continue }
            chosen[s].append(index)
        }
        return chosen.enumerated().flatMap { s, indices in indices.map { (index: $0, stratum: s) } }
    }
}
