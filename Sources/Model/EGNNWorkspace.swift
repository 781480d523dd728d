// Activations saved by the forward pass for the backward pass, and per-layer buffers, for one batch shape.
// Sized once per (atoms A, edges E) and reused while the batch fits: no allocation per step.
//
// Saved per layer l (method.md §4.2 names): h^l (A×H), x^l (A×3), Δ (E×3), r = |Δ|² (E),
// n = √(r + 1e-8) (E), z₁ = edge pre-activation 1 (E×H), z₂ = edge pre-activation 2 (E×H),
// g = attention gate (E), z_c = coordinate pre-activation (E×H), s = tanh coordinate weight (E),
// a = Σ_j m_ij (A×H), z_n = node pre-activation (A×H), and σ of the four pre-activations: with σ
// stored, SiLU(z) = zσ and SiLU′(z) = σ(1 + z(1 − σ)) cost no exponential in backward or in the
// divergence, which is where the time went (10 exponentials per edge feature per layer otherwise).
import Kernels

final class EGNNWorkspace<T: Numeric> {
    /// Current batch shape (≤ the capacity the buffers were sized for).
    var atoms: Int, edges: Int
    let atomCapacity: Int, edgeCapacity: Int, hidden: Int, layers: Int, inputWidth: Int

    let embeddingInput: Buffer<T>     // A × (K+1)
    let inputDistances: Buffer<T>     // E, d² of the input coordinates
    let hs: Buffer<T>                 // (L+1) × A × H
    let xs: Buffer<T>                 // (L+1) × A × 3
    let delta: Buffer<T>              // L × E × 3
    let radial: Buffer<T>             // L × E
    let norm: Buffer<T>               // L × E
    let z1: Buffer<T>, z2: Buffer<T>, zc: Buffer<T>   // L × E × H each
    let s1: Buffer<T>, s2: Buffer<T>, sc: Buffer<T>   // σ(z₁), σ(z₂), σ(z_c): SiLU and SiLU′ without exp
    let gate: Buffer<T>, coordWeight: Buffer<T>       // L × E each
    let aggregate: Buffer<T>, zn: Buffer<T>           // L × A × H each
    let sn: Buffer<T>                                 // L × A × H, σ(z_n)
    // The fused float32 path (EGNNFusedLayer.swift) forms z₁ from P and Q per edge:
    let receiverProjections: Buffer<T>, senderProjections: Buffer<T>   // A × H each: P + b₁, Q of the current layer
    /// Whether this pass runs the fused float32 edge MLP (set by forward, followed by backward).
    var fusesEdgeMLP = false

    // Per-layer activations and gradients that are not kept between layers: one buffer per
    // quantity (llm.c's ActivationTensors), overwritten by the next layer. Forward:
    let receiverProjection: Buffer<T>     // A × H, P = h W₁ₐᵀ (W₁'s receiver block)
    let senderProjection: Buffer<T>       // A × H, Q = h W₁ᵦᵀ (W₁'s sender block)
    let radialColumn: Buffer<T>           // H, w_r: W₁'s column of r
    let distanceColumn: Buffer<T>         // H, w_d: W₁'s column of d²
    let edgeActivation: Buffer<T>         // E × H, a₁ = SiLU(z₁) (recomputed in backward)
    let message: Buffer<T>                // E × H, m = g m₀ (recomputed in backward)
    let coordLogit: Buffer<T>             // E, c = w_c·SiLU(z_c), s = tanh c
    let nodeActivation: Buffer<T>         // A × H, SiLU(z_n) (recomputed in backward)
    // Backward (d… = ∂L/∂…):
    let dNodeActivation: Buffer<T>        // A × H, ∂L/∂SiLU(z_n)
    let dzn: Buffer<T>                    // A × H, ∂L/∂z_n
    let dAggregate: Buffer<T>             // A × H, ∂L/∂a
    let dMessage: Buffer<T>               // E × H, ∂L/∂m (aggregation and coordinate MLP paths)
    let dDelta: Buffer<T>                 // E × 3, ∂L/∂Δ through the coordinate update
    let dCoordLogit: Buffer<T>            // E, ∂L/∂c of s = tanh(c), c = w_c·SiLU(z_c)
    let dRadial: Buffer<T>                // E, ∂L/∂r through z₁
    let dzc: Buffer<T>                    // E × H, ∂L/∂z_c
    let message0: Buffer<T>               // E × H, m₀ = SiLU(z₂) (recomputed)
    let dz2: Buffer<T>                    // E × H, ∂L/∂z₂
    let dEdgeActivation: Buffer<T>        // E × H, ∂L/∂a₁
    let dz1: Buffer<T>                    // E × H, ∂L/∂z₁
    let dReceiverProjection: Buffer<T>    // A × H, ∂L/∂P
    let dSenderProjection: Buffer<T>      // A × H, ∂L/∂Q
    let dRadialColumn: Buffer<T>          // H, ∂L/∂w_r of this layer, summed over edges
    let dDistanceColumn: Buffer<T>        // H, ∂L/∂w_d of this layer, summed over edges
    // The fused float32 edge MLP (EGNNFusedLayer.swift): packed weights, tiles of edges, weight-gradient blocks.
    let edgeMLPScratch: Buffer<T>         // EdgeMLPKernel.scratchCount(hidden: H)
    // Backward state carried from layer to layer.
    let dh: Buffer<T>                 // A × H, ∂L/∂h: ∂L/∂h^{l+1} on entry to layer l, ∂L/∂h^l on exit (residual, in place)
    let dx: Buffer<T>                 // A × 3, ∂L/∂x^{l+1} on entry to layer l, ∂L/∂x^l on exit
    let dxLayerInput: Buffer<T>       // A × 3, ∂L/∂x^l while layer l's backward builds it
    let projectedGradient: Buffer<T>       // A × 3, P ∂L/∂v for the direct path of v = x^L − x⁰
    let dInputDistances: Buffer<T>    // E

    init(atoms: Int, edges: Int, hidden: Int, layers: Int, inputWidth: Int) {
        self.atoms = atoms
        self.edges = edges
        atomCapacity = atoms
        edgeCapacity = edges
        self.hidden = hidden
        self.layers = layers
        self.inputWidth = inputWidth
        let eh = edges * hidden, ah = atoms * hidden
        embeddingInput = Buffer(count: atoms * inputWidth)
        inputDistances = Buffer(count: edges)
        hs = Buffer(count: (layers + 1) * ah)
        xs = Buffer(count: (layers + 1) * atoms * 3)
        delta = Buffer(count: layers * edges * 3)
        radial = Buffer(count: layers * edges)
        norm = Buffer(count: layers * edges)
        z1 = Buffer(count: layers * eh)
        z2 = Buffer(count: layers * eh)
        zc = Buffer(count: layers * eh)
        s1 = Buffer(count: layers * eh)
        s2 = Buffer(count: layers * eh)
        sc = Buffer(count: layers * eh)
        gate = Buffer(count: layers * edges)
        coordWeight = Buffer(count: layers * edges)
        aggregate = Buffer(count: layers * ah)
        zn = Buffer(count: layers * ah)
        sn = Buffer(count: layers * ah)
        (receiverProjections, senderProjections) = (Buffer(count: ah), Buffer(count: ah))
        // Per layer, by shape: A × H, E × H, E × 3, E, H.
        (receiverProjection, senderProjection, nodeActivation) = (Buffer(count: ah), Buffer(count: ah), Buffer(count: ah))
        (dNodeActivation, dzn, dAggregate) = (Buffer(count: ah), Buffer(count: ah), Buffer(count: ah))
        (dReceiverProjection, dSenderProjection) = (Buffer(count: ah), Buffer(count: ah))
        (edgeActivation, message, message0, dMessage) = (Buffer(count: eh), Buffer(count: eh), Buffer(count: eh), Buffer(count: eh))
        (dzc, dz2, dEdgeActivation, dz1) = (Buffer(count: eh), Buffer(count: eh), Buffer(count: eh), Buffer(count: eh))
        dDelta = Buffer(count: edges * 3)
        (coordLogit, dCoordLogit, dRadial) = (Buffer(count: edges), Buffer(count: edges), Buffer(count: edges))
        (radialColumn, distanceColumn) = (Buffer(count: hidden), Buffer(count: hidden))
        (dRadialColumn, dDistanceColumn) = (Buffer(count: hidden), Buffer(count: hidden))
        edgeMLPScratch = Buffer(count: T.self == Float.self ? EdgeMLPKernel.scratchCount(hidden: hidden) : 0)
        // Carried between layers.
        dh = Buffer(count: ah)
        dx = Buffer(count: atoms * 3)
        dxLayerInput = Buffer(count: atoms * 3)
        projectedGradient = Buffer(count: atoms * 3)
        dInputDistances = Buffer(count: edges)
    }

    /// Whether a batch of this shape fits; if so, makes it the current shape.
    func adopt(atoms: Int, edges: Int) -> Bool {
        guard atoms <= atomCapacity, edges <= edgeCapacity else { return false }
        self.atoms = atoms
        self.edges = edges
        return true
    }
}
