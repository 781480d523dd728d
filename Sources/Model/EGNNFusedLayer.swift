// One E_GCL layer in float32 with the edge MLP fused over tiles of edges (Kernels/EdgeMLP.swift,
// CKernels/EdgeMLPBody.h): the same layer as EGNNLayer.swift, whose separate passes over BLAS stay
// the Double path (the float64 tests) and the reference this path is tested against
// (`edgeMLPPath = .separatePasses` runs them in float32). By default (`.automatic`) the fused path
// runs where the layer kernel family runs AVX2 or AVX-512; in the portable variant its register
// tiles are scalar, and the separate passes, whose products OpenBLAS runs with the CPU's own
// vectors, are faster (AD2 training: 1.84× slower fused, measured with TBG_KERNELS=portable).
//
// Per layer l: P + b₁ = h W₁ₐᵀ + b₁ and Q = h W₁ᵦᵀ (A-row GEMMs, OpenBLAS, kept per layer), then one kernel over the edges:
// geometry, z₁, SiLU, W₂, the gate, a_i = Σ_j m, W_c, s = tanh(w_c·SiLU(z_c)) and x_i += ρ Σ_j u s;
// then the node update. Backward mirrors it: the node update, one kernel over the edges (∂W₂, ∂W_c
// and the other edge-MLP gradients, ∂P, ∂Q, ∂x, ∂d²), then P and Q's A-row GEMMs. Forward saves
// z₁, z₂, z_c and their σ per edge, which backward and the divergence read (taking the σ again in
// backward, as before 2026-12-03, was 9 % slower on a Zen 3: EdgeMLPBody.h).
//
// The last layer's h^L does not reach v = x^L − x⁰ (EGNNVectorField.swift), so there its aggregate
// and node update are not formed in forward, and in backward ∂L/∂h^L = 0 leaves nothing to do for
// them: the node MLP's gradients of the last layer stay zero, exactly as the full computation gives.
import Kernels
import Linalg

/// How a float32 layer runs its edge MLP.
public enum EdgeMLPPath: Sendable {
    /// Fused where the layer kernel family runs a vector variant (AVX2, AVX-512), else separate passes.
    case automatic
    /// Always the fused kernel (tests: every variant against portable).
    case fused
    /// Always the separate passes over BLAS (the reference the fused kernel is tested against).
    case separatePasses

    /// Whether float32 layers fuse when the layer family runs `variant`.
    public func fuses(variant: KernelVariant) -> Bool {
        switch self {
        case .automatic: return variant != .portable
        case .fused: return true
        case .separatePasses: return false
        }
    }
}

extension EGNNVectorField {
    /// Forward through layer `l` (float32, fused edge MLP): reads h^l, x^l, writes x^{l+1}, h^{l+1}
    /// (not in the last layer) and the saved activations.
    func fusedLayerForward(_ l: Int, batch: MoleculeBatch, ws: EGNNWorkspace<T>) {
        let A = ws.atoms, E = ws.edges, H = config.hidden
        let offsets = layout.layers[l], last = l == config.layers - 1
        let hIn = ws.hs.pointer + l * A * H
        let xIn = ws.xs.pointer + l * A * 3, xOut = ws.xs.pointer + (l + 1) * A * 3
        let w1 = offsets.edge1Weight, w1Stride = 2 * H + 2
        let hView = UnsafeBufferPointer(start: hIn, count: A * H)
        // P + b₁ and Q: the kernel's z₁ = P_i + Q_j + … reads them (one layer at a time).
        let p = ws.receiverProjections.pointer, q = ws.senderProjections.pointer
        Linear.forward(UnsafeMutableBufferPointer(start: p, count: A * H), hView, weight: parameters.slice(w1, H * w1Stride), ldw: w1Stride,
                       bias: parameters.slice(offsets.edge1Bias, H), rows: A, inFeatures: H, outFeatures: H)
        Linear.forward(UnsafeMutableBufferPointer(start: q, count: A * H), hView, weight: parameters.slice(w1 + H, H * w1Stride - H),
                       ldw: w1Stride, bias: nil, rows: A, inFeatures: H, outFeatures: H)
        xOut.update(from: xIn, count: A * 3)
        batch.receivers.withUnsafeBufferPointer { receivers in
            batch.senders.withUnsafeBufferPointer { senders in
                EdgeMLPKernel.forward(
                    aggregate: last ? nil : ws.aggregate.pointer + l * A * H, xNext: xOut, saved: savedEdgeActivations(l, ws: ws),
                    scratch: ws.edgeMLPScratch.pointer, parameters: edgeMLPTensors(l) { UnsafePointer(self.parameters.pointer + $0) }, rho: T(config.coordinateScale),
                    hidden: H, receivers: receivers.baseAddress!, senders: senders.baseAddress!, atoms: A, edges: E, x: xIn,
                    p: p, q: q, d2: ws.inputDistances.pointer)
            }
        }
        if !last { nodeUpdateForward(l, ws: ws) }
    }

    /// Backward through layer `l` (float32, fused edge MLP): on entry ws.dh / ws.dx hold ∂L/∂h^{l+1},
    /// ∂L/∂x^{l+1}; on exit ∂L/∂h^l, ∂L/∂x^l. Parameter gradients accumulate; ∂L/∂d² into ws.dInputDistances.
    func fusedLayerBackward(_ l: Int, batch: MoleculeBatch, ws: EGNNWorkspace<T>) {
        let A = ws.atoms, E = ws.edges, H = config.hidden
        let last = l == config.layers - 1
        let hView = UnsafeBufferPointer(start: ws.hs.pointer + l * A * H, count: A * H)
        if !last { nodeUpdateBackward(l, ws: ws) }
        batch.receivers.withUnsafeBufferPointer { receivers in
            batch.senders.withUnsafeBufferPointer { senders in
                EdgeMLPKernel.backward(
                    gradients: edgeMLPTensors(l) { self.gradients.pointer + $0 }, dp: ws.dReceiverProjection.pointer, dq: ws.dSenderProjection.pointer,
                    dx: ws.dxLayerInput.pointer, dd2: ws.dInputDistances.pointer, scratch: ws.edgeMLPScratch.pointer,
                    saved: savedEdgeActivations(l, ws: ws), parameters: edgeMLPTensors(l) { UnsafePointer(self.parameters.pointer + $0) },
                    rho: T(config.coordinateScale), hidden: H, receivers: receivers.baseAddress!, senders: senders.baseAddress!,
                    atoms: A, edges: E, dAggregate: last ? nil : UnsafePointer(ws.dAggregate.pointer), dxNext: ws.dx.pointer, d2: ws.inputDistances.pointer)
            }
        }
        projectionBackward(l, hView: hView, ws: ws)
        ws.dx.pointer.update(from: ws.dxLayerInput.pointer, count: A * 3)
    }

    /// Layer `l`'s edge-MLP tensors in an arena laid out as the parameters (parameters or gradients).
    func edgeMLPTensors<Pointer>(_ l: Int, at address: (Int) -> Pointer) -> EdgeMLPTensors<Pointer> {
        let o = layout.layers[l]
        return EdgeMLPTensors(edge1Weight: address(o.edge1Weight), edge1Bias: address(o.edge1Bias), edge2Weight: address(o.edge2Weight),
                              edge2Bias: address(o.edge2Bias), attentionWeight: address(o.attentionWeight),
                              attentionBias: address(o.attentionBias), coord1Weight: address(o.coord1Weight),
                              coord1Bias: address(o.coord1Bias), coord2Weight: address(o.coord2Weight))
    }

    /// Layer `l`'s slices of the saved activations.
    func savedEdgeActivations(_ l: Int, ws: EGNNWorkspace<T>) -> EdgeMLPSaved<T> {
        let E = ws.edges, H = config.hidden
        return EdgeMLPSaved(delta: ws.delta.pointer + l * E * 3, radial: ws.radial.pointer + l * E, norm: ws.norm.pointer + l * E,
                            z2: ws.z2.pointer + l * E * H, zc: ws.zc.pointer + l * E * H, gate: ws.gate.pointer + l * E,
                            coordWeight: ws.coordWeight.pointer + l * E, z1: ws.z1.pointer + l * E * H,
                            s1: ws.s1.pointer + l * E * H, s2: ws.s2.pointer + l * E * H,
                            sc: ws.sc.pointer + l * E * H)
    }
}
