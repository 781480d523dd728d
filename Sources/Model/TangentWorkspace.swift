// Buffers of the forward-mode divergence (EGNNDivergence.swift), sized for one batch shape
// (T tangents, A atoms, E edges, H hidden) and reused while the shape is unchanged.
import Kernels

/// (tangent, edge) pairs: the rows of the per-tangent edge computations.
struct TangentPairs {
    let tangent: Buffer<Int32>
    let edge: Buffer<Int32>
    var count: Int { edge.count }

    init(tangent: [Int32], edge: [Int32]) {
        self.tangent = Buffer(tangent)
        self.edge = Buffer(edge)
    }

    /// Every edge for every tangent, receiver by receiver: for receiver i, each tangent τ, then its
    /// senders j. A receiver's per-edge rows (SiLU′(z₁), SiLU′(z₂), m₀, v_c: (N−1) × H × 4 floats,
    /// 36 KiB at N = 36, H = 64) stay in the L1/L2 cache while its tangents pass over them, the
    /// pairs of one (τ, i) add into the same rows of ȧ and ẋ, and Ṗ_τi is one row per run.
    static func all(batch: MoleculeBatch, tangents: Int) -> TangentPairs {
        var tangent: [Int32] = [], edge: [Int32] = []
        tangent.reserveCapacity(tangents * batch.edgeCount)
        edge.reserveCapacity(tangents * batch.edgeCount)
        for molecule in 0..<batch.moleculeCount {
            let n = batch.atomCounts[molecule], base = batch.edgeOffsets[molecule]
            for i in 0..<n {
                let segment = (base + i * (n - 1))..<(base + (i + 1) * (n - 1))
                for tau in 0..<tangents {
                    for e in segment {
                        tangent.append(Int32(tau))
                        edge.append(Int32(e))
                    }
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

/// Sized for `moleculeCapacity` molecules of `atomsPerMolecule` atoms; serves any batch of fewer
/// molecules of that size, whose edges and pairs are prefixes of the full batch's (molecule-major
/// order), with its own A and E as row strides.
final class TangentWorkspace<T: Numeric> {
    let moleculeCapacity: Int, atomsPerMolecule: Int
    let tangents: Int
    let allPairs: TangentPairs, touchingPairs: TangentPairs
    // The full batch's edge lists at stable addresses for the pair kernel (E).
    let receivers: Buffer<Int32>, senders: Buffer<Int32>
    // Per tangent (T·A rows): ẋ, its next-layer value (× 3); ḣ, Ṗ = ḣW₁ₐᵀ, Q̇ = ḣW₁ᵦᵀ,
    // ȧ = Σ_j ṁ, ż_n = W₃ₐḣ + W₃ᵦȧ, and SiLU′(z_n) ⊙ ż_n (× H).
    let xDot: Buffer<T>, xDotNext: Buffer<T>
    let hDot: Buffer<T>, pDot: Buffer<T>, qDot: Buffer<T>, aggregateDot: Buffer<T>, znDot: Buffer<T>, nodeActivationDot: Buffer<T>
    // ḋ² per tangent and edge (T·E); the pair kernel's tile (TangentPairsKernel.scratchCount(H)).
    let d2Dot: Buffer<T>, scratch: Buffer<T>
    // Per edge, shared by all tangents (E × H): SiLU′(z₁), SiLU′(z₂), m₀, v_c, k_a, k_c, and what
    // builds them: SiLU′(z₂) ⊙ w_a, SiLU′(z_c), SiLU′(z_c) ⊙ w_c, SiLU′(z₂) ⊙ v_c.
    let slope1: Buffer<T>, slope2: Buffer<T>, message0: Buffer<T>, coordVector: Buffer<T>, gateKernel: Buffer<T>, coordKernel: Buffer<T>
    let gateKernelInput: Buffer<T>, coordSlope: Buffer<T>, coordVectorInput: Buffer<T>, coordKernelInput: Buffer<T>
    // Per edge (E): v_c·m₀, 1/n, 1/(n+1). Per atom (A × H): SiLU′(z_n). W₁'s r and d² columns (H).
    let coordMessageProduct: Buffer<T>, inverseNorm: Buffer<T>, inverseNormPlusOne: Buffer<T>
    let slopeNode: Buffer<T>, columnR: Buffer<T>, columnD: Buffer<T>
    // W₂ᵀ of the current layer, packed for the pair kernel (H × HP).
    let w2Packed: Buffer<T>
    // Wᵀ of the row product in flight (W₁'s h_i or h_j block, W₃'s ḣ or ȧ block, W₄), packed for
    // TangentLinear (H × H).
    let rowWeightPacked: Buffer<T>

    init(molecules: Int, atomsPerMolecule n: Int, tangents: Int, hidden: Int) {
        let batch = MoleculeBatch(atomCounts: [Int](repeating: n, count: molecules))
        moleculeCapacity = molecules
        atomsPerMolecule = n
        self.tangents = tangents
        let atoms = batch.atomCount, edges = batch.edgeCount
        allPairs = TangentPairs.all(batch: batch, tangents: tangents)
        touchingPairs = TangentPairs.touching(batch: batch, tangents: tangents)
        receivers = Buffer(batch.receivers)
        senders = Buffer(batch.senders)
        xDot = Buffer(count: tangents * atoms * 3)
        xDotNext = Buffer(count: tangents * atoms * 3)
        hDot = Buffer(count: tangents * atoms * hidden)
        pDot = Buffer(count: tangents * atoms * hidden)
        qDot = Buffer(count: tangents * atoms * hidden)
        aggregateDot = Buffer(count: tangents * atoms * hidden)
        znDot = Buffer(count: tangents * atoms * hidden)
        nodeActivationDot = Buffer(count: tangents * atoms * hidden)
        d2Dot = Buffer(count: tangents * edges)
        scratch = Buffer(count: TangentPairsKernel.scratchCount(hidden))
        slope1 = Buffer(count: edges * hidden)
        slope2 = Buffer(count: edges * hidden)
        message0 = Buffer(count: edges * hidden)
        coordVector = Buffer(count: edges * hidden)
        gateKernel = Buffer(count: edges * hidden)
        coordKernel = Buffer(count: edges * hidden)
        gateKernelInput = Buffer(count: edges * hidden)
        coordSlope = Buffer(count: edges * hidden)
        coordVectorInput = Buffer(count: edges * hidden)
        coordKernelInput = Buffer(count: edges * hidden)
        coordMessageProduct = Buffer(count: edges)
        inverseNorm = Buffer(count: edges)
        inverseNormPlusOne = Buffer(count: edges)
        slopeNode = Buffer(count: atoms * hidden)
        columnR = Buffer(count: hidden)
        columnD = Buffer(count: hidden)
        w2Packed = Buffer(count: hidden * TangentPairsKernel.paddedWidth(hidden))
        rowWeightPacked = Buffer(count: TangentLinear.packedCount(inFeatures: hidden, outFeatures: hidden))
    }

    func fits(batch: MoleculeBatch, tangents: Int) -> Bool {
        tangents == self.tangents && batch.moleculeCount <= moleculeCapacity && batch.atomCounts.allSatisfy { $0 == atomsPerMolecule }
    }

    /// The pairs of the first `molecules` molecules: all of them, or those touching the perturbed atom.
    func pairCount(molecules: Int, touching: Bool) -> Int {
        let n = atomsPerMolecule
        return molecules * tangents * (touching ? 2 * (n - 1) : n * (n - 1))
    }
}
