// One E_GCL layer of the TBG vector field: forward and backward side by side (method.md §4.2).
//
// Shapes: A atoms, E directed edges (i receiver, j sender), H hidden.
//   Δ = x_i − x_j, r = |Δ|², n = √(r + 1e-8), u = Δ/(n + 1)
//   z₁ = W₁[h_i ‖ h_j ‖ r ‖ d²] + b₁ = P_i + Q_j + r w_r + d² w_d + b₁ with P = h W₁ₐᵀ, Q = h W₁ᵦᵀ
//        (the factorised first edge layer: two A×H GEMMs instead of one E×(2H+2) GEMM)
//   m₀ = SiLU(W₂ SiLU(z₁) + b₂),  g = σ(w_a·m₀ + b_a),  m = g m₀
//   s = tanh(w_c · SiLU(W_c m + b_c)),  x_i ← x_i + ρ Σ_j u s
//   a_i = Σ_j m,  h_i ← h_i + W₄ SiLU(W₃[h_i ‖ a_i] + b₃) + b₄
// Backward uses ∂u/∂Δ = I/(n+1) − ΔΔᵀ/(n(n+1)²) and ∂r/∂Δ = 2Δ; the sum over senders is a segment
// sum (edges are grouped by receiver), its adjoint a broadcast; the scatter to senders is a sum.
import Kernels
import Linalg

extension EGNNVectorField {
    /// Forward through layer `l`: reads h^l, x^l, writes h^{l+1}, x^{l+1} and the saved activations.
    func layerForward(_ l: Int, batch: MoleculeBatch, ws: EGNNWorkspace<T>) {
        let A = ws.atoms, E = ws.edges, H = config.hidden
        let offsets = layout.layers[l]
        let w = parameters.pointer
        let hIn = ws.hs.pointer + l * A * H, hOut = ws.hs.pointer + (l + 1) * A * H
        let xIn = ws.xs.pointer + l * A * 3, xOut = ws.xs.pointer + (l + 1) * A * 3
        let delta = ws.delta.pointer + l * E * 3, radial = ws.radial.pointer + l * E, norm = ws.norm.pointer + l * E
        let z1 = ws.z1.pointer + l * E * H, z2 = ws.z2.pointer + l * E * H, zc = ws.zc.pointer + l * E * H
        let gate = ws.gate.pointer + l * E, coordWeight = ws.coordWeight.pointer + l * E
        let aggregate = ws.aggregate.pointer + l * A * H, zn = ws.zn.pointer + l * A * H
        let receivers = batch.receivers, senders = batch.senders
        let rho = T(config.coordinateScale)
        let w1 = offsets.edge1Weight, w1Stride = 2 * H + 2

        // Geometry of the current coordinates.
        for e in 0..<E {
            let i = Int(receivers[e]), j = Int(senders[e])
            var r = T.zero
            for axis in 0..<3 {
                let d = xIn[3 * i + axis] - xIn[3 * j + axis]
                delta[3 * e + axis] = d
                r += d * d
            }
            radial[e] = r
            norm[e] = (r + T(1e-8)).squareRoot()
        }
        // Edge MLP, first layer, factorised: P and Q per atom, then one fused pass over edges.
        let p = ws.receiverProjection.pointer, q = ws.senderProjection.pointer
        let hView = UnsafeBufferPointer(start: hIn, count: A * H)
        Linear.forward(ws.receiverProjection.buffer, hView, weight: parameters.slice(w1, H * w1Stride), ldw: w1Stride, bias: nil,
                       rows: A, inFeatures: H, outFeatures: H)
        Linear.forward(ws.senderProjection.buffer, hView, weight: parameters.slice(w1 + H, H * w1Stride - H), ldw: w1Stride, bias: nil,
                       rows: A, inFeatures: H, outFeatures: H)
        let wr = ws.radialColumn.pointer, wd = ws.distanceColumn.pointer, b1 = w + offsets.edge1Bias
        for o in 0..<H {
            wr[o] = w[w1 + o * w1Stride + 2 * H]
            wd[o] = w[w1 + o * w1Stride + 2 * H + 1]
        }
        let d2 = ws.inputDistances.pointer, a1 = ws.edgeActivation.pointer
        let s1 = ws.s1.pointer + l * E * H, s2 = ws.s2.pointer + l * E * H, sc = ws.sc.pointer + l * E * H
        for e in 0..<E {
            let pi = p + Int(receivers[e]) * H, qj = q + Int(senders[e]) * H
            let r = radial[e], dd = d2[e]
            let z = z1 + e * H, a = a1 + e * H, sigma = s1 + e * H
            for o in 0..<H { z[o] = pi[o] + qj[o] + r * wr[o] + dd * wd[o] + b1[o] }
            Activation.sigmoid(z, sigma, count: H)
            for o in 0..<H { a[o] = z[o] * sigma[o] }
        }
        // Edge MLP, second layer, and the attention gate.
        Linear.forward(UnsafeMutableBufferPointer(start: z2, count: E * H), ws.edgeActivation.readOnly,
                       weight: parameters.slice(offsets.edge2Weight, H * H), bias: parameters.slice(offsets.edge2Bias, H),
                       rows: E, inFeatures: H, outFeatures: H)
        let m = ws.message.pointer, wa = w + offsets.attentionWeight, ba = w[offsets.attentionBias]
        Activation.sigmoid(z2, s2, count: E * H)
        for e in 0..<E {
            let z = z2 + e * H, message = m + e * H, sigma = s2 + e * H
            for o in 0..<H { message[o] = z[o] * sigma[o] }
            let g = Activation.sigmoid(ba + Activation.dot(message, wa, count: H))
            gate[e] = g
            for o in 0..<H { message[o] *= g }
        }
        // Coordinate MLP and update: x_i += ρ Σ_j u_ij s_ij (pre-update x, plain sum).
        Linear.forward(UnsafeMutableBufferPointer(start: zc, count: E * H), ws.message.readOnly,
                       weight: parameters.slice(offsets.coord1Weight, H * H), bias: parameters.slice(offsets.coord1Bias, H),
                       rows: E, inFeatures: H, outFeatures: H)
        let wc = w + offsets.coord2Weight
        xOut.update(from: xIn, count: A * 3)
        Activation.sigmoid(zc, sc, count: E * H)
        let activated = ws.coordActivationRow.pointer
        for e in 0..<E {
            let z = zc + e * H, sigma = sc + e * H
            for o in 0..<H { activated[o] = z[o] * sigma[o] }
            let c = Activation.dot(activated, wc, count: H)
            let s = T.hyperbolicTangent(c)
            coordWeight[e] = s
            let i = Int(receivers[e])
            let scale = rho * s / (norm[e] + 1)
            for axis in 0..<3 { xOut[3 * i + axis] += scale * delta[3 * e + axis] }
        }
        // Node update: a_i = Σ_j m_ij over the receiver's contiguous edge segment.
        segmentSum(into: aggregate, from: m, batch: batch, width: H)
        let aggView = UnsafeBufferPointer(start: aggregate, count: A * H)
        let node1 = offsets.node1Weight
        Linear.forward(UnsafeMutableBufferPointer(start: zn, count: A * H), hView,
                       weight: parameters.slice(node1, H * 2 * H), ldw: 2 * H, bias: parameters.slice(offsets.node1Bias, H),
                       rows: A, inFeatures: H, outFeatures: H)
        Linear.forward(UnsafeMutableBufferPointer(start: zn, count: A * H), aggView,
                       weight: parameters.slice(node1 + H, H * 2 * H - H), ldw: 2 * H, bias: nil,
                       rows: A, inFeatures: H, outFeatures: H, accumulate: true)
        let an = ws.nodeActivation.pointer
        Activation.silu(an, zn, count: A * H)
        hOut.update(from: hIn, count: A * H)
        Linear.forward(UnsafeMutableBufferPointer(start: hOut, count: A * H), ws.nodeActivation.readOnly,
                       weight: parameters.slice(offsets.node2Weight, H * H), bias: parameters.slice(offsets.node2Bias, H),
                       rows: A, inFeatures: H, outFeatures: H, accumulate: true)
    }

    /// Backward through layer `l`: on entry ws.dh / ws.dx hold ∂L/∂h^{l+1}, ∂L/∂x^{l+1}; on exit
    /// ∂L/∂h^l, ∂L/∂x^l. Parameter gradients are accumulated; ∂L/∂d² into ws.dInputDistances.
    func layerBackward(_ l: Int, batch: MoleculeBatch, ws: EGNNWorkspace<T>) {
        let A = ws.atoms, E = ws.edges, H = config.hidden
        let offsets = layout.layers[l]
        let w = parameters.pointer, g = gradients.pointer
        let hIn = ws.hs.pointer + l * A * H
        let delta = ws.delta.pointer + l * E * 3, radial = ws.radial.pointer + l * E, norm = ws.norm.pointer + l * E
        let z1 = ws.z1.pointer + l * E * H, z2 = ws.z2.pointer + l * E * H, zc = ws.zc.pointer + l * E * H
        let gate = ws.gate.pointer + l * E, coordWeight = ws.coordWeight.pointer + l * E
        let aggregate = ws.aggregate.pointer + l * A * H, zn = ws.zn.pointer + l * A * H
        let s1 = ws.s1.pointer + l * E * H, s2 = ws.s2.pointer + l * E * H, sc = ws.sc.pointer + l * E * H
        let receivers = batch.receivers, senders = batch.senders
        let rho = T(config.coordinateScale)
        let w1 = offsets.edge1Weight, w1Stride = 2 * H + 2, node1 = offsets.node1Weight
        let hView = UnsafeBufferPointer(start: hIn, count: A * H)
        let dhView = ws.dh.readOnly

        // Node update h' = h + W₄ SiLU(z_n) + b₄.
        let an = ws.nodeActivation.pointer
        Activation.silu(an, zn, count: A * H)
        Linear.accumulateParameterGradients(dWeight: gradients.mutableSlice(offsets.node2Weight, H * H),
                                            dBias: gradients.mutableSlice(offsets.node2Bias, H), dy: dhView,
                                            x: ws.nodeActivation.readOnly, rows: A, inFeatures: H, outFeatures: H)
        Linear.inputGradient(ws.dNodeActivation.buffer, dy: dhView, weight: parameters.slice(offsets.node2Weight, H * H),
                             rows: A, inFeatures: H, outFeatures: H, accumulate: false)
        Activation.siluBackward(ws.dzn.pointer, ws.dNodeActivation.pointer, zn, count: A * H)
        let dznView = ws.dzn.readOnly
        Linear.accumulateParameterGradients(dWeight: gradients.mutableSlice(node1, H * 2 * H), ldw: 2 * H,
                                            dBias: gradients.mutableSlice(offsets.node1Bias, H), dy: dznView, x: hView,
                                            rows: A, inFeatures: H, outFeatures: H)
        Linear.accumulateParameterGradients(dWeight: gradients.mutableSlice(node1 + H, H * 2 * H - H), ldw: 2 * H, dBias: nil,
                                            dy: dznView, x: UnsafeBufferPointer(start: aggregate, count: A * H),
                                            rows: A, inFeatures: H, outFeatures: H)
        Linear.inputGradient(ws.dh.buffer, dy: dznView, weight: parameters.slice(node1, H * 2 * H), ldw: 2 * H,
                             rows: A, inFeatures: H, outFeatures: H, accumulate: true)
        let dAggregate = ws.dAggregate.pointer
        Linear.inputGradient(ws.dAggregate.buffer, dy: dznView, weight: parameters.slice(node1 + H, H * 2 * H - H), ldw: 2 * H,
                             rows: A, inFeatures: H, outFeatures: H, accumulate: false)
        // ∂L/∂m from the aggregation: broadcast of ∂L/∂a_i to the receiver's edges.
        let dm = ws.dMessage.pointer
        for e in 0..<E { (dm + e * H).update(from: dAggregate + Int(receivers[e]) * H, count: H) }

        // Coordinate update x' = x + ρ Σ u s.
        let dxOut = ws.dx.pointer, dxIn = ws.dxLayerInput.pointer
        dxIn.update(from: dxOut, count: A * 3)
        let dDelta = ws.dDelta.pointer, dc = ws.dCoordLogit.pointer
        for e in 0..<E {
            let i = Int(receivers[e])
            let n = norm[e], s = coordWeight[e]
            var uDotG = T.zero, deltaDotG = T.zero
            for axis in 0..<3 {
                uDotG += delta[3 * e + axis] * dxOut[3 * i + axis]
            }
            deltaDotG = uDotG
            uDotG /= (n + 1)
            let ds = rho * uDotG
            dc[e] = ds * (1 - s * s)
            // ∂u/∂Δ applied to du = ρ s g:  du/(n+1) − Δ (Δ·du)/(n(n+1)²)
            let a = rho * s / (n + 1), b = rho * s * deltaDotG / (n * (n + 1) * (n + 1))
            for axis in 0..<3 { dDelta[3 * e + axis] = a * dxOut[3 * i + axis] - b * delta[3 * e + axis] }
        }
        // Coordinate MLP s = tanh(w_c · SiLU(z_c)).
        let wc = w + offsets.coord2Weight, dwc = g + offsets.coord2Weight
        let dzc = ws.dzc.pointer
        for e in 0..<E {
            let c = dc[e], out = dzc + e * H, z = zc + e * H, sigma = sc + e * H
            for o in 0..<H {
                let s = sigma[o], zo = z[o]
                dwc[o] += c * zo * s
                out[o] = c * wc[o] * s * (1 + zo * (1 - s))
            }
        }
        // m = g SiLU(z₂) for ∂W_c, then ∂m += ∂z_c W_c.
        let m = ws.message.pointer
        for e in 0..<E {
            let z = z2 + e * H, row = m + e * H, ge = gate[e], sigma = s2 + e * H
            for o in 0..<H { row[o] = ge * z[o] * sigma[o] }
        }
        Linear.accumulateParameterGradients(dWeight: gradients.mutableSlice(offsets.coord1Weight, H * H),
                                            dBias: gradients.mutableSlice(offsets.coord1Bias, H), dy: ws.dzc.readOnly,
                                            x: ws.message.readOnly, rows: E, inFeatures: H, outFeatures: H)
        Linear.inputGradient(ws.dMessage.buffer, dy: ws.dzc.readOnly, weight: parameters.slice(offsets.coord1Weight, H * H),
                             rows: E, inFeatures: H, outFeatures: H, accumulate: true)
        // Attention gate m = g m₀, g = σ(w_a·m₀ + b_a); then m₀ = SiLU(z₂).
        let wa = w + offsets.attentionWeight, dwa = g + offsets.attentionWeight
        let m0 = ws.message0.pointer, dz2 = ws.dz2.pointer
        var dba = T.zero
        for e in 0..<E {
            let z = z2 + e * H, row = m0 + e * H, dRow = dm + e * H, out = dz2 + e * H, ge = gate[e], sigma = s2 + e * H
            for o in 0..<H { row[o] = z[o] * sigma[o] }
            let t = Activation.dot(dRow, row, count: H) * ge * (1 - ge)
            dba += t
            for o in 0..<H {
                dwa[o] += t * row[o]
                let s = sigma[o]
                out[o] = (dRow[o] * ge + t * wa[o]) * s * (1 + z[o] * (1 - s))
            }
        }
        g[offsets.attentionBias] += dba
        // Edge MLP second layer: z₂ = W₂ SiLU(z₁) + b₂.
        let a1 = ws.edgeActivation.pointer
        for k in 0..<(E * H) { a1[k] = z1[k] * s1[k] }
        Linear.accumulateParameterGradients(dWeight: gradients.mutableSlice(offsets.edge2Weight, H * H),
                                            dBias: gradients.mutableSlice(offsets.edge2Bias, H), dy: ws.dz2.readOnly,
                                            x: ws.edgeActivation.readOnly, rows: E, inFeatures: H, outFeatures: H)
        Linear.inputGradient(ws.dEdgeActivation.buffer, dy: ws.dz2.readOnly, weight: parameters.slice(offsets.edge2Weight, H * H),
                             rows: E, inFeatures: H, outFeatures: H, accumulate: false)
        let da1 = ws.dEdgeActivation.pointer, dz1 = ws.dz1.pointer
        for k in 0..<(E * H) {
            let s = s1[k]
            dz1[k] = da1[k] * (s * (1 + z1[k] * (1 - s)))
        }
        // Edge MLP first layer (factorised): bias, the r and d² columns, then P and Q.
        let wr = ws.radialColumn.pointer, wd = ws.distanceColumn.pointer
        for o in 0..<H {
            wr[o] = w[w1 + o * w1Stride + 2 * H]
            wd[o] = w[w1 + o * w1Stride + 2 * H + 1]
        }
        let db1 = g + offsets.edge1Bias, dd2 = ws.dInputDistances.pointer, d2 = ws.inputDistances.pointer
        let dP = ws.dReceiverProjection.pointer, dQ = ws.dSenderProjection.pointer
        ws.dSenderProjection.zero()
        segmentSum(into: dP, from: dz1, batch: batch, width: H)
        // Column sums for b₁, w_r, w_d are gathered contiguously, then written to W₁'s strided columns once.
        let columnR = ws.dRadialColumn.pointer, columnD = ws.dDistanceColumn.pointer
        columnR.update(repeating: 0, count: H)
        columnD.update(repeating: 0, count: H)
        for e in 0..<E {
            let row = dz1 + e * H, r = radial[e], dd = d2[e], qj = dQ + Int(senders[e]) * H
            for o in 0..<H {
                let v = row[o]
                db1[o] += v
                columnR[o] += v * r
                columnD[o] += v * dd
                qj[o] += v
            }
            let dr = Activation.dot(row, wr, count: H), dDistance = Activation.dot(row, wd, count: H)
            dd2[e] += dDistance
            // r = |Δ|²: ∂Δ += 2 ∂r Δ; then Δ = x_i − x_j.
            let i = Int(receivers[e]), j = Int(senders[e])
            for axis in 0..<3 {
                let total = dDelta[3 * e + axis] + 2 * dr * delta[3 * e + axis]
                dxIn[3 * i + axis] += total
                dxIn[3 * j + axis] -= total
            }
        }
        for o in 0..<H {
            g[w1 + o * w1Stride + 2 * H] += columnR[o]
            g[w1 + o * w1Stride + 2 * H + 1] += columnD[o]
        }
        let dPView = ws.dReceiverProjection.readOnly, dQView = ws.dSenderProjection.readOnly
        Linear.accumulateParameterGradients(dWeight: gradients.mutableSlice(w1, H * w1Stride), ldw: w1Stride, dBias: nil,
                                            dy: dPView, x: hView, rows: A, inFeatures: H, outFeatures: H)
        Linear.accumulateParameterGradients(dWeight: gradients.mutableSlice(w1 + H, H * w1Stride - H), ldw: w1Stride, dBias: nil,
                                            dy: dQView, x: hView, rows: A, inFeatures: H, outFeatures: H)
        Linear.inputGradient(ws.dh.buffer, dy: dPView, weight: parameters.slice(w1, H * w1Stride), ldw: w1Stride,
                             rows: A, inFeatures: H, outFeatures: H, accumulate: true)
        Linear.inputGradient(ws.dh.buffer, dy: dQView, weight: parameters.slice(w1 + H, H * w1Stride - H), ldw: w1Stride,
                             rows: A, inFeatures: H, outFeatures: H, accumulate: true)
        ws.dx.pointer.update(from: dxIn, count: A * 3)
    }

    /// out[i] = Σ over receiver i's contiguous edge segment of rows of `values` (E × width).
    func segmentSum(into out: UnsafeMutablePointer<T>, from values: UnsafeMutablePointer<T>, batch: MoleculeBatch, width: Int) {
        for molecule in 0..<batch.moleculeCount {
            let count = batch.atomCounts[molecule], firstAtom = batch.atomOffsets[molecule], firstEdge = batch.edgeOffsets[molecule]
            for local in 0..<count {
                let target = out + (firstAtom + local) * width
                target.update(repeating: 0, count: width)
                let start = firstEdge + local * (count - 1)
                for e in start..<(start + count - 1) {
                    let row = values + e * width
                    for o in 0..<width { target[o] += row[o] }
                }
            }
        }
    }
}
