// The exact divergence tr(∂v/∂x) of the vector field, by forward mode: all 3N tangent directions
// are pushed through the network together (method.md §7.3; the original runs 3N reverse passes).
//
// Molecules in a batch do not interact, so with every molecule of N atoms the tangent τ ∈ 0..<3N
// perturbs coordinate τ of every molecule at once, and the trace of molecule m is
// Σ_τ v̇_τ[m, τ]; translation invariance gives the last atom's three from the other 3(N−1). A (tangent, edge) pair is one row of the tangent GEMMs. Per layer, with ˙ the
// tangent (h⁰ does not depend on x, so ḣ⁰ = 0):
//   Δ̇ = ẋ_i − ẋ_j, ṙ = 2Δ·Δ̇, ṅ = Δ·Δ̇/n, u̇ = Δ̇/(n+1) − Δ ṅ/(n+1)²,  ḋ² = 2Δ⁰·Δ̇⁰ (input)
//   ȧ₁ = SiLU′(z₁) ⊙ (Ṗ_i + Q̇_j + ṙ w_r + ḋ² w_d)
//   ṁ₀ = SiLU′(z₂) ⊙ W₂ȧ₁,  ġ = g(1−g) w_a·ṁ₀,  ṁ = g ṁ₀ + ġ m₀
//   ṡ = (1−s²) w_c·(SiLU′(z_c) ⊙ W_c ṁ),  ẋ_i += ρ Σ_j (u̇ s + u ṡ)
//   ȧ_i = Σ_j ṁ,  ḣ′ = ḣ + W₄(SiLU′(z_n) ⊙ (W₃ₐḣ + W₃ᵦȧ)),  v̇ = ẋ^L − ẋ⁰ − mean
// Four things keep the cost down:
// 1. The scalars ġ and ṡ are dot products of per-pair rows with per-edge vectors: with the W₂
//    product at hand (every layer but the last), ġ = g(1−g) w_a·ṁ₀ and ṡ = (1−s²)(g v_c·ṁ₀ + ġ v_c·m₀),
//    where v_c = W_cᵀ(SiLU′(z_c) ⊙ w_c) is built once per evaluation; in the last layer, which has no
//    W₂ product, they are ġ = g(1−g) k_a·ȧ₁ and ṡ = (1−s²)(g k_c·ȧ₁ + ġ v_c·m₀) with
//      k_a = W₂ᵀ(SiLU′(z₂) ⊙ w_a),  k_c = W₂ᵀ(SiLU′(z₂) ⊙ v_c).
//    No tangent GEMM goes through W_c at all.
// 2. The last layer's ḣ is never used (v depends on x^L only), so its messages ṁ are not formed:
//    that layer has no E-row GEMM per tangent.
// 3. In layer 0, ḣ = 0 and ż₁ is non-zero only on the 2(N−1) edges that touch the perturbed atom;
//    only those pairs are processed.
// 4. A layer's pairs run through one fused kernel (Kernels/TangentPairs.swift): ȧ₁, W₂ȧ₁ (a
//    register-tiled product), ṁ into ȧ_i and the ẋ_i update of a tile of pairs stay in the L1 cache.
// Which leaves one E-row GEMM (W₂) per tangent in layers 1 … L−2, instead of two in every layer.
import Kernels
import Linalg

extension EGNNVectorField {
    /// Computes v (A × 3) and the exact divergence of each molecule's velocity with respect to its
    /// own coordinates. All molecules must have the same atom count (one peptide).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func velocityAndDivergence(batch: MoleculeBatch, features: UnsafeBufferPointer<T>, times: UnsafeBufferPointer<T>,
                                      positions: UnsafeBufferPointer<T>, velocity: UnsafeMutableBufferPointer<T>) -> [Double] {
        forward(batch: batch, features: features, times: times, positions: positions, velocity: velocity)
        let n = batch.atomCounts[0]
        precondition(batch.atomCounts.allSatisfy { $0 == n }, "velocityAndDivergence needs molecules of equal size")
        guard let ws = currentWorkspace else { return [] }
        // v is translation invariant, so the Jacobian's columns of one axis sum to zero over the
        // atoms: the last atom's three tangents are minus the sum of the others' and need no pass.
        guard n > 1 else { return [Double](repeating: 0, count: batch.moleculeCount) }
        let tangents = 3 * (n - 1), A = ws.atoms, E = ws.edges
        let tw = tangentWorkspace(batch: batch, tangents: tangents)
        // Tangent τ: unit perturbation of local coordinate τ of every molecule.
        let xDot = tw.xDot.pointer
        xDot.update(repeating: 0, count: tangents * A * 3)
        for tau in 0..<tangents {
            for molecule in 0..<batch.moleculeCount { xDot[tau * A * 3 + batch.atomOffsets[molecule] * 3 + tau] = 1 }
        }
        // ḋ² from the input geometry: Δ⁰ = x_i − x_j of layer 0's input.
        let delta0 = ws.delta.pointer, d2Dot = tw.d2Dot.pointer
        for tau in 0..<tangents {
            let xd = xDot + tau * A * 3
            for e in 0..<E {
                let i = Int(batch.receivers[e]), j = Int(batch.senders[e])
                var sum = T.zero
                for axis in 0..<3 { sum += delta0[3 * e + axis] * (xd[3 * i + axis] - xd[3 * j + axis]) }
                d2Dot[tau * E + e] = 2 * sum
            }
        }
        tw.hDot.zero()
        for l in 0..<config.layers { tangentLayer(l, batch: batch, ws: ws, tw: tw) }
        // v̇ = ẋ^L − ẋ⁰ minus the molecule mean; the trace takes component τ of each molecule, and
        // for the last atom's axis k, minus component (N−1, k) of every tangent along axis k.
        var divergence = [Double](repeating: 0, count: batch.moleculeCount)
        for molecule in 0..<batch.moleculeCount {
            let first = batch.atomOffsets[molecule], lastAtom = first + n - 1
            for tau in 0..<tangents {
                let axis = tau % 3
                var mean = T.zero
                for atom in first..<(first + n) { mean += xDot[(tau * A + atom) * 3 + axis] }
                mean /= T(n)
                // ẋ⁰ is the unit vector, whose molecule mean along this axis is 1/N.
                let own = xDot[(tau * A + first) * 3 + tau] - 1 - (mean - 1 / T(n))
                let lastAtomComponent = xDot[(tau * A + lastAtom) * 3 + axis] - (mean - 1 / T(n))
                divergence[molecule] += Double(own) - Double(lastAtomComponent)
            }
        }
        return divergence
    }

    /// Pushes the tangents (tw.xDot, tw.hDot) through layer `l` of the last forward pass.
    private func tangentLayer(_ l: Int, batch: MoleculeBatch, ws: EGNNWorkspace<T>, tw: TangentWorkspace<T>) {
        let A = ws.atoms, E = ws.edges, H = config.hidden, tangents = tw.tangents
        let first = l == 0, last = l == config.layers - 1
        let offsets = layout.layers[l]
        let pairs = first ? tw.touchingPairs : tw.allPairs
        precomputeEdgeVectors(l, last: last, ws: ws, tw: tw)
        // Ṗ, Q̇ for all tangents at once (rows = τ·A); zero in layer 0.
        let rowsA = tangents * A
        let hDotView = tw.hDot.readOnly
        let w1 = offsets.edge1Weight, w1Stride = 2 * H + 2
        let packed = tw.rowWeightPacked.pointer
        if !first {
            TangentLinear.forward(tw.pDot.buffer, hDotView, weight: parameters.slice(w1, H * w1Stride), ldw: w1Stride,
                                  rows: rowsA, inFeatures: H, outFeatures: H, packed: packed)
            TangentLinear.forward(tw.qDot.buffer, hDotView, weight: parameters.slice(w1 + H, H * w1Stride - H), ldw: w1Stride,
                                  rows: rowsA, inFeatures: H, outFeatures: H, packed: packed)
        }
        // Every (tangent, edge) pair in one fused pass (Kernels/TangentPairs.swift): ȧ₁, ṁ = g SiLU′(z₂) ⊙ W₂ȧ₁ + ġ m₀
        // summed into ȧ_i (not in the last layer: ḣ^L does not reach v), and ρ Σ_j (u̇ s + u ṡ) into ẋ_i.
        let xDot = tw.xDot.pointer, xNext = tw.xDotNext.pointer
        xNext.update(from: xDot, count: tangents * A * 3)
        if !last {
            tw.aggregateDot.pointer.update(repeating: 0, count: rowsA * H)
            TangentPairsKernel.packWeight(tw.w2Packed.pointer, weight: parameters.pointer + offsets.edge2Weight, hidden: H)
        }
        let w = parameters.pointer
        let inputs = TangentLayerInputs<T>(
            xDot: xDot, pDot: first ? nil : tw.pDot.pointer, qDot: first ? nil : tw.qDot.pointer, d2Dot: tw.d2Dot.pointer,
            receivers: tw.receivers.pointer, senders: tw.senders.pointer, delta: ws.delta.pointer + l * E * 3,
            inverseNorm: tw.inverseNorm.pointer, inverseNormPlusOne: tw.inverseNormPlusOne.pointer, gate: ws.gate.pointer + l * E,
            coordWeight: ws.coordWeight.pointer + l * E, coordMessageProduct: tw.coordMessageProduct.pointer,
            slope1: tw.slope1.pointer, slope2: tw.slope2.pointer, message0: tw.message0.pointer, coordVector: tw.coordVector.pointer,
            gateKernel: last ? tw.gateKernel.pointer : nil, coordKernel: last ? tw.coordKernel.pointer : nil,
            columnR: tw.columnR.pointer, columnD: tw.columnD.pointer, attentionWeight: w + offsets.attentionWeight,
            w2Packed: last ? nil : tw.w2Packed.pointer, rho: T(config.coordinateScale), atoms: A, edges: E, hidden: H)
        TangentPairsKernel.run(aggregateDot: last ? nil : tw.aggregateDot.pointer, xNext: xNext, scratch: tw.scratch.pointer,
                               layer: inputs, pairTangent: pairs.tangent.pointer, pairEdge: pairs.edge.pointer,
                               pairs: tw.pairCount(molecules: batch.moleculeCount, touching: first))
        xDot.update(from: xNext, count: tangents * A * 3)
        if last { return }
        // ż_n = W₃ₐḣ + W₃ᵦȧ (ḣ = 0 in layer 0), then ḣ += W₄(SiLU′(z_n) ⊙ ż_n).
        let node1 = offsets.node1Weight
        if !first {
            TangentLinear.forward(tw.znDot.buffer, hDotView, weight: parameters.slice(node1, H * 2 * H), ldw: 2 * H,
                                  rows: rowsA, inFeatures: H, outFeatures: H, packed: packed)
        }
        TangentLinear.forward(tw.znDot.buffer, tw.aggregateDot.readOnly, weight: parameters.slice(node1 + H, H * 2 * H - H), ldw: 2 * H,
                              rows: rowsA, inFeatures: H, outFeatures: H, accumulate: !first, packed: packed)
        let znDot = tw.znDot.pointer, nodeActivationDot = tw.nodeActivationDot.pointer, slopeN = tw.slopeNode.pointer
        for tau in 0..<tangents { Activation.multiply(nodeActivationDot + tau * A * H, znDot + tau * A * H, slopeN, count: A * H) }
        TangentLinear.forward(tw.hDot.buffer, tw.nodeActivationDot.readOnly, weight: parameters.slice(offsets.node2Weight, H * H), ldw: H,
                              rows: rowsA, inFeatures: H, outFeatures: H, accumulate: true, packed: packed)
    }

    /// The per-edge quantities of layer `l` that every tangent shares: SiLU′ of z₁, z₂, z_n, the
    /// W₁ columns of r and d², m₀, v_c with the scalar v_c·m₀, and in the last layer (no W₂ product
    /// per pair) k_a and k_c.
    private func precomputeEdgeVectors(_ l: Int, last: Bool, ws: EGNNWorkspace<T>, tw: TangentWorkspace<T>) {
        let A = ws.atoms, E = ws.edges, H = config.hidden
        let offsets = layout.layers[l]
        let w = parameters.pointer
        let z1 = ws.z1.pointer + l * E * H, s1 = ws.s1.pointer + l * E * H
        let z2 = ws.z2.pointer + l * E * H, s2 = ws.s2.pointer + l * E * H
        let zc = ws.zc.pointer + l * E * H, sc = ws.sc.pointer + l * E * H
        let zn = ws.zn.pointer + l * A * H
        let slope1 = tw.slope1.pointer, slope2 = tw.slope2.pointer, m0 = tw.message0.pointer
        let wa = w + offsets.attentionWeight, wc = w + offsets.coord2Weight
        let gateInput = tw.gateKernelInput.pointer, coordSlope = tw.coordSlope.pointer, coordInput = tw.coordVectorInput.pointer
        let rows = E * H
        Activation.siluSlope(slope1, z: z1, sigma: s1, count: rows)
        Activation.siluSlope(slope2, z: z2, sigma: s2, count: rows)
        Activation.siluSlope(coordSlope, z: zc, sigma: sc, count: rows)
        Activation.multiply(m0, z2, s2, count: rows)
        for e in 0..<E { Activation.multiply(coordInput + e * H, coordSlope + e * H, wc, count: H) }
        let norm = ws.norm.pointer + l * E
        for e in 0..<E {
            tw.inverseNorm.pointer[e] = 1 / norm[e]
            tw.inverseNormPlusOne.pointer[e] = 1 / (norm[e] + 1)
        }
        Activation.siluSlope(tw.slopeNode.pointer, z: zn, sigma: ws.sn.pointer + l * A * H, count: A * H)
        let w1 = offsets.edge1Weight, w1Stride = 2 * H + 2
        for o in 0..<H {
            tw.columnR.pointer[o] = w[w1 + o * w1Stride + 2 * H]
            tw.columnD.pointer[o] = w[w1 + o * w1Stride + 2 * H + 1]
        }
        // v_c = (SiLU′(z_c) ⊙ w_c) W_c, row-wise (y = x W).
        Linear.inputGradient(tw.coordVector.buffer, dy: tw.coordVectorInput.readOnly, weight: parameters.slice(offsets.coord1Weight, H * H),
                             rows: E, inFeatures: H, outFeatures: H, accumulate: false)
        let coordMessageProduct = tw.coordMessageProduct.pointer, vc = tw.coordVector.pointer
        for e in 0..<E { coordMessageProduct[e] = Activation.dot(vc + e * H, m0 + e * H, count: H) }
        guard last else { return }
        // k_a = (SiLU′(z₂) ⊙ w_a) W₂ and k_c = (SiLU′(z₂) ⊙ v_c) W₂.
        for e in 0..<E { Activation.multiply(gateInput + e * H, slope2 + e * H, wa, count: H) }
        Linear.inputGradient(tw.gateKernel.buffer, dy: tw.gateKernelInput.readOnly, weight: parameters.slice(offsets.edge2Weight, H * H),
                             rows: E, inFeatures: H, outFeatures: H, accumulate: false)
        Activation.multiply(tw.coordKernelInput.pointer, slope2, vc, count: rows)
        Linear.inputGradient(tw.coordKernel.buffer, dy: tw.coordKernelInput.readOnly, weight: parameters.slice(offsets.edge2Weight, H * H),
                             rows: E, inFeatures: H, outFeatures: H, accumulate: false)
    }
}
