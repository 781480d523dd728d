// Buffers of the forward-mode divergence (EGNNDivergence.swift), sized for one batch shape
// (T tangents, A atoms, E edges, H hidden) and reused while the shape is unchanged.
import Kernels

/// (tangent, edge) pairs: the rows of the per-tangent edge computations.
struct TangentPairs {
    let tangent: [Int32]
    let edge: [Int32]
    var count: Int { edge.count }

    /// Every edge for every tangent, molecule by molecule: a molecule's per-edge vectors (SiLU′(z₁),
    /// k_a, k_c: E_m × H × 3 floats, 355 KiB for alanine dipeptide) then stay in the L2 cache while
    /// its 3N tangents pass over them, instead of the whole batch's being streamed once per tangent.
    static func all(batch: MoleculeBatch, tangents: Int) -> TangentPairs {
        var tangent: [Int32] = [], edge: [Int32] = []
        tangent.reserveCapacity(tangents * batch.edgeCount)
        edge.reserveCapacity(tangents * batch.edgeCount)
        for molecule in 0..<batch.moleculeCount {
            for tau in 0..<tangents {
                for e in batch.edgeOffsets[molecule]..<batch.edgeOffsets[molecule + 1] {
                    tangent.append(Int32(tau))
                    edge.append(Int32(e))
                }
            }
        }
        return TangentPairs(tangent: tangent, edge: edge)
    }

    /// For each molecule and tangent τ, the edges that touch the atom τ perturbs (local atom τ/3):
    /// its N−1 outgoing and N−1 incoming edges. Edges are grouped by receiver, and within a
    /// receiver i ordered by sender j ≠ i (MoleculeBatch).
    static func touching(batch: MoleculeBatch, tangents: Int) -> TangentPairs {
        var tangent: [Int32] = [], edge: [Int32] = []
        for molecule in 0..<batch.moleculeCount {
            for tau in 0..<tangents {
                let a = tau / 3
                let n = batch.atomCounts[molecule], base = batch.edgeOffsets[molecule]
                for i in 0..<n where i != a {
                    // Edge (a ← i) in a's segment, and edge (i ← a) in i's segment.
                    tangent.append(Int32(tau))
                    edge.append(Int32(base + a * (n - 1) + (i < a ? i : i - 1)))
                    tangent.append(Int32(tau))
                    edge.append(Int32(base + i * (n - 1) + (a < i ? a : a - 1)))
                }
            }
        }
        return TangentPairs(tangent: tangent, edge: edge)
    }
}

final class TangentWorkspace<T: Numeric> {
    /// (tangent, edge) pairs per chunk: 512 × H = 64 floats is 128 KiB for ȧ₁ and again for ż₂,
    /// which stay in a 1 MiB L2 cache between the passes over them (512 measured best of 512–4096).
    static var pairChunk: Int { 512 }
    let batch: MoleculeBatch
    let tangents: Int
    let allPairs: TangentPairs, touchingPairs: TangentPairs
    // Per tangent (T·A rows): ẋ, its next-layer value (× 3); ḣ, Ṗ = ḣW₁ₐᵀ, Q̇ = ḣW₁ᵦᵀ,
    // ȧ = Σ_j ṁ, ż_n = W₃ₐḣ + W₃ᵦȧ, and SiLU′(z_n) ⊙ ż_n (× H).
    let xDot: Buffer<T>, xDotNext: Buffer<T>
    let hDot: Buffer<T>, pDot: Buffer<T>, qDot: Buffer<T>, aggregateDot: Buffer<T>, znDot: Buffer<T>, nodeActivationDot: Buffer<T>
    // ḋ² per tangent and edge (T·E); per pair of a chunk: ġ (chunk), ȧ₁ and ż₂ = W₂ȧ₁ (chunk × H).
    let d2Dot: Buffer<T>, gateDot: Buffer<T>, a1DotChunk: Buffer<T>, z2DotChunk: Buffer<T>
    // Per edge, shared by all tangents (E × H): SiLU′(z₁), SiLU′(z₂), m₀, k_a, k_c, and what
    // builds them: SiLU′(z₂) ⊙ w_a, SiLU′(z_c), SiLU′(z_c) ⊙ w_c, v_c, SiLU′(z₂) ⊙ v_c.
    let slope1: Buffer<T>, slope2: Buffer<T>, message0: Buffer<T>, gateKernel: Buffer<T>, coordKernel: Buffer<T>
    let gateKernelInput: Buffer<T>, coordSlope: Buffer<T>, coordVectorInput: Buffer<T>, coordVector: Buffer<T>, coordKernelInput: Buffer<T>
    // Per edge (E): v_c·m₀, 1/n, 1/(n+1). Per atom (A × H): SiLU′(z_n). W₁'s r and d² columns (H).
    let coordMessageProduct: Buffer<T>, inverseNorm: Buffer<T>, inverseNormPlusOne: Buffer<T>
    let slopeNode: Buffer<T>, columnR: Buffer<T>, columnD: Buffer<T>

    init(batch: MoleculeBatch, tangents: Int, hidden: Int) {
        self.batch = batch
        self.tangents = tangents
        let atoms = batch.atomCount, edges = batch.edgeCount
        allPairs = TangentPairs.all(batch: batch, tangents: tangents)
        touchingPairs = TangentPairs.touching(batch: batch, tangents: tangents)
        xDot = Buffer(count: tangents * atoms * 3)
        xDotNext = Buffer(count: tangents * atoms * 3)
        hDot = Buffer(count: tangents * atoms * hidden)
        pDot = Buffer(count: tangents * atoms * hidden)
        qDot = Buffer(count: tangents * atoms * hidden)
        aggregateDot = Buffer(count: tangents * atoms * hidden)
        znDot = Buffer(count: tangents * atoms * hidden)
        nodeActivationDot = Buffer(count: tangents * atoms * hidden)
        d2Dot = Buffer(count: tangents * edges)
        gateDot = Buffer(count: Self.pairChunk)
        a1DotChunk = Buffer(count: Self.pairChunk * hidden)
        z2DotChunk = Buffer(count: Self.pairChunk * hidden)
        slope1 = Buffer(count: edges * hidden)
        slope2 = Buffer(count: edges * hidden)
        message0 = Buffer(count: edges * hidden)
        gateKernel = Buffer(count: edges * hidden)
        coordKernel = Buffer(count: edges * hidden)
        gateKernelInput = Buffer(count: edges * hidden)
        coordSlope = Buffer(count: edges * hidden)
        coordVectorInput = Buffer(count: edges * hidden)
        coordVector = Buffer(count: edges * hidden)
        coordKernelInput = Buffer(count: edges * hidden)
        coordMessageProduct = Buffer(count: edges)
        inverseNorm = Buffer(count: edges)
        inverseNormPlusOne = Buffer(count: edges)
        slopeNode = Buffer(count: atoms * hidden)
        columnR = Buffer(count: hidden)
        columnD = Buffer(count: hidden)
    }
}
