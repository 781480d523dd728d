// The E_GCL layer's edge MLP and coordinate update, forward and backward, fused over tiles of
// edges (CKernels/EdgeMLPBody.h holds the formulas): Float only, in the variant KernelVariant chose
// for the layer family. The Double path of the layer (the float64 tests) keeps its separate passes
// over BLAS (Model/EGNNLayer.swift), which are also what the fused kernel is tested against.
import CKernels

/// One layer's edge-MLP tensors, as pointers into the parameter (or gradient) arena. H hidden.
public struct EdgeMLPTensors<Pointer> {
    /// H × (2H+2): W₁ = [W₁ₐ | W₁ᵦ | w_r | w_d]; the kernels touch only the w_r, w_d columns.
    public var edge1Weight: Pointer
    /// H: b₁; H × H: W₂; H: b₂; H: w_a; 1: b_a; H × H: W_c; H: b_c; H: w_c.
    public var edge1Bias: Pointer, edge2Weight: Pointer, edge2Bias: Pointer, attentionWeight: Pointer, attentionBias: Pointer
    public var coord1Weight: Pointer, coord1Bias: Pointer, coord2Weight: Pointer

    public init(edge1Weight: Pointer, edge1Bias: Pointer, edge2Weight: Pointer, edge2Bias: Pointer, attentionWeight: Pointer,
                attentionBias: Pointer, coord1Weight: Pointer, coord1Bias: Pointer, coord2Weight: Pointer) {
        (self.edge1Weight, self.edge1Bias, self.edge2Weight, self.edge2Bias) = (edge1Weight, edge1Bias, edge2Weight, edge2Bias)
        (self.attentionWeight, self.attentionBias) = (attentionWeight, attentionBias)
        (self.coord1Weight, self.coord1Bias, self.coord2Weight) = (coord1Weight, coord1Bias, coord2Weight)
    }
}

/// What the forward pass saves per edge for the backward pass and the divergence (E edges, H hidden).
public struct EdgeMLPSaved<T> {
    /// E × 3: Δ; E: r = |Δ|², n = √(r + 1e-8).
    public var delta: UnsafeMutablePointer<T>, radial: UnsafeMutablePointer<T>, norm: UnsafeMutablePointer<T>
    /// E × H: z₂, z_c and their σ.
    public var z2: UnsafeMutablePointer<T>, zc: UnsafeMutablePointer<T>, s2: UnsafeMutablePointer<T>, sc: UnsafeMutablePointer<T>
    /// E: g and s = tanh(w_c·SiLU(z_c)).
    public var gate: UnsafeMutablePointer<T>, coordWeight: UnsafeMutablePointer<T>
    /// E × H: z₁, σ(z₁).
    public var z1: UnsafeMutablePointer<T>, s1: UnsafeMutablePointer<T>

    public init(delta: UnsafeMutablePointer<T>, radial: UnsafeMutablePointer<T>, norm: UnsafeMutablePointer<T>, z2: UnsafeMutablePointer<T>,
                zc: UnsafeMutablePointer<T>, gate: UnsafeMutablePointer<T>, coordWeight: UnsafeMutablePointer<T>,
                z1: UnsafeMutablePointer<T>, s1: UnsafeMutablePointer<T>, s2: UnsafeMutablePointer<T>, sc: UnsafeMutablePointer<T>) {
        (self.delta, self.radial, self.norm, self.z2, self.zc) = (delta, radial, norm, z2, zc)
        (self.gate, self.coordWeight) = (gate, coordWeight)
        (self.z1, self.s1, self.s2, self.sc) = (z1, s1, s2, sc)
    }

    var c: tbg_edge_mlp_saved {
        tbg_edge_mlp_saved(delta: float32(delta), radial: float32(radial), norm: float32(norm), z2: float32(z2), zc: float32(zc),
                           gate: float32(gate), coord_weight: float32(coordWeight), z1: float32(z1), s1: float32(s1),
                           s2: float32(s2), sc: float32(sc))
    }
}

public enum EdgeMLPKernel {
    /// Scratch values `forward` and `backward` need for hidden width H.
    public static func scratchCount(hidden: Int) -> Int { tbg_edge_mlp_scratch_count(hidden) }

    /// Forward (Float only): writes `saved`; aggregate (A × H) = Σ_j m per receiver (nil: not formed);
    /// xNext (A × 3, holding x on entry) += ρ Σ_j u s. p = h W₁ₐᵀ + b₁, q = h W₁ᵦᵀ: A × H; d2: E.
    public static func forward<T>(
        aggregate: UnsafeMutablePointer<T>?, xNext: UnsafeMutablePointer<T>, saved: EdgeMLPSaved<T>, scratch: UnsafeMutablePointer<T>,
        parameters: EdgeMLPTensors<UnsafePointer<T>>, rho: T, hidden: Int, receivers: UnsafePointer<Int32>, senders: UnsafePointer<Int32>,
        atoms: Int, edges: Int, x: UnsafePointer<T>, p: UnsafePointer<T>, q: UnsafePointer<T>, d2: UnsafePointer<T>
    ) {
        precondition(T.self == Float.self, "the fused edge MLP is float32 only")
        var savedC = saved.c, parametersC = cParameters(parameters, rho: rho, hidden: hidden)
        var graph = tbg_edge_graph(receivers: receivers, senders: senders, atoms: atoms, edges: edges)
        tbg_edge_mlp_forward_f32(aggregate.map(float32), float32(xNext), &savedC, float32(scratch), &parametersC, &graph, float32(x),
                                 float32(p), float32(q), float32(d2))
    }

    /// Backward (Float only), given forward's saved state, from dAggregate = ∂L/∂a (A × H;
    /// nil: zero) and dxNext = ∂L/∂x′ (A × 3):
    /// accumulates `gradients`; writes dp, dq (A × H) and dx = ∂L/∂x (A × 3, dxNext plus this
    /// layer's coordinate paths); dd2 (E) += ∂L/∂d².
    public static func backward<T>(
        gradients: EdgeMLPTensors<UnsafeMutablePointer<T>>, dp: UnsafeMutablePointer<T>, dq: UnsafeMutablePointer<T>,
        dx: UnsafeMutablePointer<T>, dd2: UnsafeMutablePointer<T>, scratch: UnsafeMutablePointer<T>, saved: EdgeMLPSaved<T>,
        parameters: EdgeMLPTensors<UnsafePointer<T>>, rho: T, hidden: Int, receivers: UnsafePointer<Int32>, senders: UnsafePointer<Int32>,
        atoms: Int, edges: Int, dAggregate: UnsafePointer<T>?, dxNext: UnsafePointer<T>,
        d2: UnsafePointer<T>
    ) {
        precondition(T.self == Float.self, "the fused edge MLP is float32 only")
        var savedC = saved.c, parametersC = cParameters(parameters, rho: rho, hidden: hidden)
        var graph = tbg_edge_graph(receivers: receivers, senders: senders, atoms: atoms, edges: edges)
        var gradientsC = tbg_edge_mlp_gradients(
            edge1_weight: float32(gradients.edge1Weight), edge1_bias: float32(gradients.edge1Bias),
            edge2_weight: float32(gradients.edge2Weight), edge2_bias: float32(gradients.edge2Bias),
            attention_weight: float32(gradients.attentionWeight), attention_bias: float32(gradients.attentionBias),
            coord1_weight: float32(gradients.coord1Weight), coord1_bias: float32(gradients.coord1Bias),
            coord2_weight: float32(gradients.coord2Weight))
        tbg_edge_mlp_backward_f32(&gradientsC, float32(dp), float32(dq), float32(dx), float32(dd2), float32(scratch), &savedC,
                                  &parametersC, &graph, dAggregate.map(float32), float32(dxNext),
                                  float32(d2))
    }

    static func cParameters<T>(_ p: EdgeMLPTensors<UnsafePointer<T>>, rho: T, hidden: Int) -> tbg_edge_mlp_parameters {
        tbg_edge_mlp_parameters(
            edge1_weight: float32(p.edge1Weight), edge1_bias: float32(p.edge1Bias), edge2_weight: float32(p.edge2Weight),
            edge2_bias: float32(p.edge2Bias), attention_weight: float32(p.attentionWeight), attention_bias: float32(p.attentionBias),
            coord1_weight: float32(p.coord1Weight), coord1_bias: float32(p.coord1Bias), coord2_weight: float32(p.coord2Weight),
            rho: unsafeBitCast(rho, to: Float.self), hidden: hidden)
    }
}
