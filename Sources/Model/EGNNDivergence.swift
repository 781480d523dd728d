// The exact divergence tr(∂v/∂x) of the vector field, by forward mode: all 3N tangent directions
// are pushed through the network together (method.md §7.3; the original runs 3N reverse passes).
//
// Molecules in a batch do not interact, so with every molecule of N atoms the tangent τ ∈ 0..<3N
// perturbs coordinate τ of every molecule at once, and the trace of molecule m is
// Σ_τ v̇_τ[m, τ]. Tangents are stacked as extra rows, so every Linear becomes one GEMM over τ·rows.
// Per layer, with ˙ the tangent (h⁰ does not depend on x, so ḣ⁰ = 0):
//   Δ̇ = ẋ_i − ẋ_j, ṙ = 2Δ·Δ̇, ṅ = ṙ/(2n), u̇ = Δ̇/(n+1) − Δ ṅ/(n+1)²,  ḋ² = 2Δ⁰·Δ̇⁰ (input)
//   ż₁ = Ṗ_i + Q̇_j + ṙ w_r + ḋ² w_d,  ȧ₁ = SiLU′(z₁) ż₁,  ż₂ = ȧ₁W₂ᵀ,  ṁ₀ = SiLU′(z₂) ż₂
//   ġ = g(1−g) (ṁ₀·w_a),  ṁ = g ṁ₀ + ġ m₀,  ż_c = ṁW_cᵀ,  ṡ = (1−s²) w_c·(SiLU′(z_c) ż_c)
//   ẋ_i += ρ Σ_j (u̇ s + u ṡ),  ȧ_i = Σ_j ṁ,  ż_n = ḣW₃ₐᵀ + ȧW₃ᵦᵀ,  ḣ′ = ḣ + (SiLU′(z_n) ż_n)W₄ᵀ
//   v̇ = ẋ^L − ẋ⁰ − mean
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
        let tangents = 3 * n
        guard let ws = currentWorkspace else { return [] }
        let A = ws.atoms, E = ws.edges, H = config.hidden
        let tw = tangentWorkspace(tangents: tangents, atoms: A, edges: E)
        let w = parameters.pointer
        let rho = T(config.coordinateScale)
        let receivers = batch.receivers, senders = batch.senders
        // Tangent τ: unit perturbation of local coordinate τ of every molecule.
        let xDot = tw.xDot.pointer
        xDot.update(repeating: 0, count: tangents * A * 3)
        for tau in 0..<tangents {
            for molecule in 0..<batch.moleculeCount { xDot[tau * A * 3 + batch.atomOffsets[molecule] * 3 + tau] = 1 }
        }
        let hDot = tw.hDot.pointer
        hDot.update(repeating: 0, count: tangents * A * H)
        // ḋ² from the input geometry: Δ⁰ = x_i − x_j of layer 0's input.
        let delta0 = ws.delta.pointer, d2Dot = tw.d2Dot.pointer
        for tau in 0..<tangents {
            let xd = xDot + tau * A * 3
            for e in 0..<E {
                let i = Int(receivers[e]), j = Int(senders[e])
                var sum = T.zero
                for axis in 0..<3 { sum += delta0[3 * e + axis] * (xd[3 * i + axis] - xd[3 * j + axis]) }
                d2Dot[tau * E + e] = 2 * sum
            }
        }
        for l in 0..<config.layers {
            let offsets = layout.layers[l]
            let delta = ws.delta.pointer + l * E * 3, norm = ws.norm.pointer + l * E
            let z1 = ws.z1.pointer + l * E * H, s1 = ws.s1.pointer + l * E * H
            let z2 = ws.z2.pointer + l * E * H, s2 = ws.s2.pointer + l * E * H
            let zc = ws.zc.pointer + l * E * H, sc = ws.sc.pointer + l * E * H
            let gate = ws.gate.pointer + l * E, coordWeight = ws.coordWeight.pointer + l * E
            let zn = ws.zn.pointer + l * A * H
            let w1 = offsets.edge1Weight, w1Stride = 2 * H + 2
            // Ṗ, Q̇ for all tangents at once (rows = τ·A).
            let rowsA = tangents * A, rowsE = tangents * E
            let hView = UnsafeBufferPointer(start: hDot, count: rowsA * H)
            Linear.forward(tw.pDot.buffer, hView, weight: parameters.slice(w1, H * w1Stride), ldw: w1Stride, bias: nil,
                           rows: rowsA, inFeatures: H, outFeatures: H)
            Linear.forward(tw.qDot.buffer, hView, weight: parameters.slice(w1 + H, H * w1Stride - H), ldw: w1Stride, bias: nil,
                           rows: rowsA, inFeatures: H, outFeatures: H)
            // SiLU′ of the three edge pre-activations, once per layer (shared by all tangents), and
            // W₁'s r and d² columns made contiguous.
            let slope1 = tw.slope1.pointer, slope2 = tw.slope2.pointer, slopeC = tw.slopeC.pointer
            for k in 0..<(E * H) {
                slope1[k] = s1[k] * (1 + z1[k] * (1 - s1[k]))
                slope2[k] = s2[k] * (1 + z2[k] * (1 - s2[k]))
                slopeC[k] = sc[k] * (1 + zc[k] * (1 - sc[k]))
            }
            let wr = tw.columnR.pointer, wd = tw.columnD.pointer
            for o in 0..<H {
                wr[o] = w[w1 + o * w1Stride + 2 * H]
                wd[o] = w[w1 + o * w1Stride + 2 * H + 1]
            }
            // Geometry tangents and ȧ₁ = SiLU′(z₁) ż₁.
            let pDot = tw.pDot.pointer, qDot = tw.qDot.pointer, a1Dot = tw.edgeA.pointer
            let deltaDot = tw.deltaDot.pointer, rDot = tw.rDot.pointer
            for tau in 0..<tangents {
                let xd = xDot + tau * A * 3
                for e in 0..<E {
                    let i = Int(receivers[e]), j = Int(senders[e])
                    var rd = T.zero
                    for axis in 0..<3 {
                        let value = xd[3 * i + axis] - xd[3 * j + axis]
                        deltaDot[(tau * E + e) * 3 + axis] = value
                        rd += 2 * delta[3 * e + axis] * value
                    }
                    rDot[tau * E + e] = rd
                    let row = a1Dot + (tau * E + e) * H, p = pDot + (tau * A + i) * H, q = qDot + (tau * A + j) * H
                    let slope = slope1 + e * H, dd = d2Dot[tau * E + e]
                    for o in 0..<H { row[o] = (p[o] + q[o] + rd * wr[o] + dd * wd[o]) * slope[o] }
                }
            }
            // ż₂ = ȧ₁ W₂ᵀ, then ṁ.
            Linear.forward(tw.edgeB.buffer, tw.edgeA.readOnly, weight: parameters.slice(offsets.edge2Weight, H * H), bias: nil,
                           rows: rowsE, inFeatures: H, outFeatures: H)
            let mDot = tw.edgeB.pointer, wa = w + offsets.attentionWeight, m0 = ws.edgeA.pointer
            for e in 0..<E { for o in 0..<H { m0[e * H + o] = z2[e * H + o] * s2[e * H + o] } }   // m₀ (scratch)
            for tau in 0..<tangents {
                for e in 0..<E {
                    let row = mDot + (tau * E + e) * H, slope = slope2 + e * H, ge = gate[e], m0e = m0 + e * H
                    for o in 0..<H { row[o] *= slope[o] }        // ṁ₀
                    let gDot = ge * (1 - ge) * Activation.dot(row, wa, count: H)
                    for o in 0..<H { row[o] = ge * row[o] + gDot * m0e[o] }             // ṁ
                }
            }
            // ż_c = ṁ W_cᵀ, ṡ, and the coordinate update's tangent.
            Linear.forward(tw.edgeA.buffer, tw.edgeB.readOnly, weight: parameters.slice(offsets.coord1Weight, H * H), bias: nil,
                           rows: rowsE, inFeatures: H, outFeatures: H)
            let zcDot = tw.edgeA.pointer, wc = w + offsets.coord2Weight
            let xNext = tw.xDotNext.pointer
            xNext.update(from: xDot, count: tangents * A * 3)
            let scratch = tw.rowScratch.pointer
            for tau in 0..<tangents {
                for e in 0..<E {
                    let row = zcDot + (tau * E + e) * H, slope = slopeC + e * H
                    for o in 0..<H { scratch[o] = row[o] * slope[o] }
                    let sValue = coordWeight[e]
                    let sDot = (1 - sValue * sValue) * Activation.dot(scratch, wc, count: H)
                    let n = norm[e], i = Int(receivers[e])
                    let deltaDotVector = deltaDot + (tau * E + e) * 3
                    var deltaDotDelta = T.zero
                    for axis in 0..<3 { deltaDotDelta += delta[3 * e + axis] * deltaDotVector[axis] }
                    let nDot = deltaDotDelta / n          // ṅ = ṙ/(2n) = Δ·Δ̇/n
                    for axis in 0..<3 {
                        let u = delta[3 * e + axis] / (n + 1)
                        let uDot = deltaDotVector[axis] / (n + 1) - delta[3 * e + axis] * nDot / ((n + 1) * (n + 1))
                        xNext[(tau * A + i) * 3 + axis] += rho * (uDot * sValue + u * sDot)
                    }
                }
            }
            // Node update tangent: ȧ = Σ_j ṁ, ż_n = ḣW₃ₐᵀ + ȧW₃ᵦᵀ, ḣ′ = ḣ + (SiLU′(z_n) ż_n) W₄ᵀ.
            let aggDot = tw.pDot.pointer
            for tau in 0..<tangents {
                segmentSum(into: aggDot + tau * A * H, from: mDot + tau * E * H, batch: batch, width: H)
            }
            let node1 = offsets.node1Weight
            Linear.forward(tw.qDot.buffer, hView, weight: parameters.slice(node1, H * 2 * H), ldw: 2 * H, bias: nil,
                           rows: rowsA, inFeatures: H, outFeatures: H)
            Linear.forward(tw.qDot.buffer, tw.pDot.readOnly, weight: parameters.slice(node1 + H, H * 2 * H - H), ldw: 2 * H, bias: nil,
                           rows: rowsA, inFeatures: H, outFeatures: H, accumulate: true)
            let znDot = tw.qDot.pointer
            for tau in 0..<tangents {
                for k in 0..<(A * H) {
                    let z = zn[k], s = Activation.sigmoid(z)
                    znDot[tau * A * H + k] *= s * (1 + z * (1 - s))
                }
            }
            Linear.forward(tw.hDot.buffer, tw.qDot.readOnly, weight: parameters.slice(offsets.node2Weight, H * H), bias: nil,
                           rows: rowsA, inFeatures: H, outFeatures: H, accumulate: true)
            xDot.update(from: xNext, count: tangents * A * 3)
        }
        // v̇ = ẋ^L − ẋ⁰ minus the molecule mean; the trace takes component τ of each molecule.
        var divergence = [Double](repeating: 0, count: batch.moleculeCount)
        for molecule in 0..<batch.moleculeCount {
            let first = batch.atomOffsets[molecule]
            for tau in 0..<tangents {
                let axis = tau % 3
                var mean = T.zero
                for atom in first..<(first + n) { mean += xDot[(tau * A + atom) * 3 + axis] }
                mean /= T(n)
                // ẋ⁰ is the unit vector, whose molecule mean along this axis is 1/N.
                let own = xDot[(tau * A + first) * 3 + tau] - 1 - (mean - 1 / T(n))
                divergence[molecule] += Double(own)
            }
        }
        return divergence
    }
}

/// Tangent buffers for `velocityAndDivergence`, sized for (tangents, atoms, edges).
final class TangentWorkspace<T: Numeric> {
    let tangents: Int, atoms: Int, edges: Int
    let xDot: Buffer<T>, xDotNext: Buffer<T>, hDot: Buffer<T>, pDot: Buffer<T>, qDot: Buffer<T>
    let deltaDot: Buffer<T>, rDot: Buffer<T>, d2Dot: Buffer<T>, edgeA: Buffer<T>, edgeB: Buffer<T>, rowScratch: Buffer<T>
    let slope1: Buffer<T>, slope2: Buffer<T>, slopeC: Buffer<T>   // E × H, SiLU′ of z₁, z₂, z_c
    let columnR: Buffer<T>, columnD: Buffer<T>                    // H

    init(tangents: Int, atoms: Int, edges: Int, hidden: Int) {
        self.tangents = tangents
        self.atoms = atoms
        self.edges = edges
        xDot = Buffer(count: tangents * atoms * 3)
        xDotNext = Buffer(count: tangents * atoms * 3)
        hDot = Buffer(count: tangents * atoms * hidden)
        pDot = Buffer(count: tangents * atoms * hidden)
        qDot = Buffer(count: tangents * atoms * hidden)
        deltaDot = Buffer(count: tangents * edges * 3)
        rDot = Buffer(count: tangents * edges)
        d2Dot = Buffer(count: tangents * edges)
        edgeA = Buffer(count: tangents * edges * hidden)
        edgeB = Buffer(count: tangents * edges * hidden)
        rowScratch = Buffer(count: hidden)
        slope1 = Buffer(count: edges * hidden)
        slope2 = Buffer(count: edges * hidden)
        slopeC = Buffer(count: edges * hidden)
        columnR = Buffer(count: hidden)
        columnD = Buffer(count: hidden)
    }
}
