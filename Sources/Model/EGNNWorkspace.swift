// Activations saved by the forward pass for the backward pass, and scratch, for one batch shape.
// Sized once per (atoms A, edges E) and reused while the batch fits: no allocation per step.
//
// Saved per layer l (method.md §4.2 names): h^l (A×H), x^l (A×3), Δ (E×3), r = |Δ|² (E),
// n = √(r + 1e-8) (E), z₁ = edge pre-activation 1 (E×H), z₂ = edge pre-activation 2 (E×H),
// g = attention gate (E), z_c = coordinate pre-activation (E×H), s = tanh coordinate weight (E),
// a = Σ_j m_ij (A×H), z_n = node pre-activation (A×H), and σ of the three edge pre-activations:
// with σ stored, SiLU(z) = zσ and SiLU′(z) = σ(1 + z(1 − σ)) cost no exponential in backward,
// which is where the time went (10 exponentials per edge feature per layer otherwise).
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

    // Scratch shared by all layers.
    let edgeA: Buffer<T>, edgeB: Buffer<T>, edgeC: Buffer<T>   // E × H
    let atomA: Buffer<T>, atomB: Buffer<T>                     // A × H
    let edgeScalar: Buffer<T>                                  // E
    let edgeVector: Buffer<T>                                  // E × 3
    let columnA: Buffer<T>, columnB: Buffer<T>                 // H (W₁'s r and d² columns)
    let columnSumA: Buffer<T>, columnSumB: Buffer<T>           // H (their gradients, accumulated)
    // Backward state.
    let dh: Buffer<T>                 // A × H
    let dx: Buffer<T>, dxNext: Buffer<T>   // A × 3
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
        edgeA = Buffer(count: eh)
        edgeB = Buffer(count: eh)
        edgeC = Buffer(count: eh)
        atomA = Buffer(count: ah)
        atomB = Buffer(count: ah)
        edgeScalar = Buffer(count: edges)
        edgeVector = Buffer(count: edges * 3)
        columnA = Buffer(count: hidden)
        columnB = Buffer(count: hidden)
        columnSumA = Buffer(count: hidden)
        columnSumB = Buffer(count: hidden)
        dh = Buffer(count: ah)
        dx = Buffer(count: atoms * 3)
        dxNext = Buffer(count: atoms * 3)
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
