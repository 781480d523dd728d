// The TBG vector field v_θ(x, t; c) (method.md §4.1): embedding of [one-hot ‖ t], L E_GCL layers,
// velocity = x^L − x^0 with each molecule's mean removed. Forward and backward by hand over flat
// buffers; generic over Float (training) and Double (finite-difference and equivariance tests).
//
// Backward (method.md §4.7): with P the per-molecule centring projector, ∂L/∂x^L = P ∂L/∂v and the
// direct path gives ∂L/∂x^0 −= P ∂L/∂v; the layers carry ∂L/∂x and ∂L/∂h down; the input distances
// d²_ij = |x_i − x_j|² add 2 ∂L/∂d² Δ; the embedding receives ∂L/∂h^0.
import Kernels
import Linalg

public final class EGNNVectorField<T: BLASScalar & ActivationScalar> {
    public let config: EGNNConfig
    public let layout: ParameterLayout
    /// The parameter arena (layout order, PyTorch shapes).
    public let parameters: Buffer<T>
    /// ∂L/∂θ, accumulated by `backward`; zero it with `zeroGradients()` before each step.
    public let gradients: Buffer<T>
    /// How a float32 layer runs its edge MLP (EGNNFusedLayer.swift): by default fused where the layer
    /// kernel family runs AVX2 or AVX-512. Double always runs the separate passes. Read by `forward`,
    /// which records the choice for its `backward`.
    public var edgeMLPPath = EdgeMLPPath.automatic
    private var workspace: EGNNWorkspace<T>?
    private var lastBatch: MoleculeBatch?
    private var tangentBuffers: TangentWorkspace<T>?

    /// The workspace of the last forward pass (its saved activations).
    var currentWorkspace: EGNNWorkspace<T>? { workspace }

    /// Tangent buffers for the divergence (molecules of one size), reused for any batch of at most
    /// as many molecules of that size: an adaptive integration's micro-batches shrink and alternate
    /// in size as samples finish, and reallocating ~50 MB per call cost page faults on every one.
    func tangentWorkspace(batch: MoleculeBatch, tangents: Int) -> TangentWorkspace<T> {
        let n = batch.atomCounts[0]
        if let existing = tangentBuffers, existing.fits(batch: batch, tangents: tangents) { return existing }
        var capacity = batch.moleculeCount
        if let existing = tangentBuffers, existing.atomsPerMolecule == n, existing.tangents == tangents {
            capacity = max(capacity, existing.moleculeCapacity)
        }
        let created = TangentWorkspace<T>(molecules: capacity, atomsPerMolecule: n, tangents: tangents, hidden: config.hidden)
        tangentBuffers = created
        return created
    }

    public init(config: EGNNConfig) {
        self.config = config
        layout = ParameterLayout(config)
        parameters = Buffer(count: layout.count)
        gradients = Buffer(count: layout.count)
    }

    public func zeroGradients() { gradients.zero() }

    /// Computes the velocity for a batch.
    /// - Parameters:
    ///   - features: A × K one-hot rows (concatenated molecules).
    ///   - times: one t per molecule.
    ///   - positions: A × 3, model units (each molecule mean-free or not: v is translation invariant).
    ///   - velocity: A × 3 output.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func forward(batch: MoleculeBatch, features: UnsafeBufferPointer<T>, times: UnsafeBufferPointer<T>,
                        positions: UnsafeBufferPointer<T>, velocity: UnsafeMutableBufferPointer<T>) {
        let A = batch.atomCount, E = batch.edgeCount, H = config.hidden, K = config.featureWidth
        precondition(features.count == A * K, "features: \(features.count) values, expected \(A)×\(K)")
        precondition(times.count == batch.moleculeCount, "times: \(times.count) values, expected \(batch.moleculeCount)")
        precondition(positions.count == A * 3 && velocity.count == A * 3, "positions/velocity must be \(A)×3")
        if workspace?.adopt(atoms: A, edges: E) != true {
            // Grow to the largest shape seen, so alternating micro-batch sizes do not reallocate.
            workspace = EGNNWorkspace(atoms: max(A, workspace?.atomCapacity ?? 0), edges: max(E, workspace?.edgeCapacity ?? 0),
                                      hidden: H, layers: config.layers, inputWidth: K + 1)
            _ = workspace!.adopt(atoms: A, edges: E)
        }
        let ws = workspace!
        ws.fusesEdgeMLP = T.self == Float.self && edgeMLPPath.fuses(variant: KernelVariant.active(for: .layer))
        lastBatch = batch

        // h⁰ = W_emb [c ‖ t] + b_emb.
        let input = ws.embeddingInput.pointer
        for atom in 0..<A {
            (input + atom * (K + 1)).update(from: features.baseAddress! + atom * K, count: K)
            input[atom * (K + 1) + K] = times[Int(batch.moleculeOfAtom[atom])]
        }
        Linear.forward(ws.hs.mutableSlice(0, A * H), ws.embeddingInput.readOnly,
                       weight: parameters.slice(layout.embeddingWeight, H * (K + 1)), bias: parameters.slice(layout.embeddingBias, H),
                       rows: A, inFeatures: K + 1, outFeatures: H)
        // x⁰ and the fixed edge attribute d² of the input coordinates.
        ws.xs.pointer.update(from: positions.baseAddress!, count: A * 3)
        let x0 = ws.xs.pointer, d2 = ws.inputDistances.pointer
        for e in 0..<E {
            let i = Int(batch.receivers[e]), j = Int(batch.senders[e])
            var r = T.zero
            for axis in 0..<3 {
                let d = x0[3 * i + axis] - x0[3 * j + axis]
                r += d * d
            }
            d2[e] = r
        }
        for l in 0..<config.layers { layerForward(l, batch: batch, ws: ws) }
        // v = x^L − x⁰, minus its mean over each molecule's atoms.
        let xL = ws.xs.pointer + config.layers * A * 3
        for atom in 0..<A * 3 { velocity[atom] = xL[atom] - x0[atom] }
        removeMoleculeMeans(velocity.baseAddress!, batch: batch)
    }

    /// Accumulates ∂L/∂θ for the batch of the last `forward`, given ∂L/∂v (A × 3). If
    /// `positionGradient` is given, it receives ∂L/∂x (A × 3) through every path.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func backward(velocityGradient: UnsafeBufferPointer<T>, positionGradient: UnsafeMutableBufferPointer<T>? = nil) {
        guard let ws = workspace, let batch = lastBatch else { preconditionFailure("backward before forward") }
        let A = ws.atoms, E = ws.edges, H = config.hidden, K = config.featureWidth
        precondition(velocityGradient.count == A * 3, "velocity gradient must be \(A)×3")
        // ∂L/∂x^L = P ∂L/∂v (P symmetric).
        let dx = ws.dx.pointer
        dx.update(from: velocityGradient.baseAddress!, count: A * 3)
        removeMoleculeMeans(dx, batch: batch)
        let projected = ws.projectedGradient.pointer
        projected.update(from: dx, count: A * 3)
        ws.dh.zero()
        ws.dInputDistances.zero()
        for l in stride(from: config.layers - 1, through: 0, by: -1) { layerBackward(l, batch: batch, ws: ws) }
        // Embedding: ∂W_emb += ∂h⁰ᵀ [c ‖ t], ∂b_emb += Σ ∂h⁰.
        Linear.accumulateParameterGradients(dWeight: gradients.mutableSlice(layout.embeddingWeight, H * (K + 1)),
                                            dBias: gradients.mutableSlice(layout.embeddingBias, H), dy: ws.dh.readOnly,
                                            x: ws.embeddingInput.readOnly, rows: A, inFeatures: K + 1, outFeatures: H)
        guard let positionGradient else { return }
        // Direct path of v = x^L − x⁰ and the d² edge attribute of the input.
        let x0 = ws.xs.pointer, dd2 = ws.dInputDistances.pointer
        for k in 0..<(A * 3) { positionGradient[k] = dx[k] - projected[k] }
        for e in 0..<E {
            let i = Int(batch.receivers[e]), j = Int(batch.senders[e])
            for axis in 0..<3 {
                let value = 2 * dd2[e] * (x0[3 * i + axis] - x0[3 * j + axis])
                positionGradient[3 * i + axis] += value
                positionGradient[3 * j + axis] -= value
            }
        }
    }

    /// Subtracts each molecule's mean over its atoms from an A × 3 array, in place.
    func removeMoleculeMeans(_ values: UnsafeMutablePointer<T>, batch: MoleculeBatch) {
        for molecule in 0..<batch.moleculeCount {
            let first = batch.atomOffsets[molecule], count = batch.atomCounts[molecule]
            for axis in 0..<3 {
                var sum = T.zero
                for atom in first..<(first + count) { sum += values[3 * atom + axis] }
                let mean = sum / T(count)
                for atom in first..<(first + count) { values[3 * atom + axis] -= mean }
            }
        }
    }
}
