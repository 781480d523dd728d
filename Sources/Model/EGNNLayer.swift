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
        if ws.fusesEdgeMLP { return fusedLayerForward(l, batch: batch, ws: ws) }
        let A = ws.atoms, E = ws.edges, H = config.hidden
        let offsets = layout.layers[l]
        let w = parameters.pointer
        let hIn = ws.hs.pointer + l * A * H
        let xIn = ws.xs.pointer + l * A * 3, xOut = ws.xs.pointer + (l + 1) * A * 3
        let delta = ws.delta.pointer + l * E * 3, radial = ws.radial.pointer + l * E, norm = ws.norm.pointer + l * E
        let z1 = ws.z1.pointer + l * E * H, z2 = ws.z2.pointer + l * E * H, zc = ws.zc.pointer + l * E * H
        let gate = ws.gate.pointer + l * E, coordWeight = ws.coordWeight.pointer + l * E
        let aggregate = ws.aggregate.pointer + l * A * H
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
        let d2 = ws.inputDistances.pointer
        let s1 = ws.s1.pointer + l * E * H, s2 = ws.s2.pointer + l * E * H, sc = ws.sc.pointer + l * E * H
        receivers.withUnsafeBufferPointer { receiverList in
            senders.withUnsafeBufferPointer { senderList in
                EdgeLayerKernels.edgeInput(z: z1, sigma: s1, act: ws.edgeActivation.pointer, p: p, q: q,
                                           receivers: receiverList.baseAddress!, senders: senderList.baseAddress!,
                                           radial: radial, d2: d2, wr: wr, wd: wd, bias: b1, edges: E, hidden: H)
            }
        }
        // Edge MLP, second layer, and the attention gate.
        Linear.forward(UnsafeMutableBufferPointer(start: z2, count: E * H), ws.edgeActivation.readOnly,
                       weight: parameters.slice(offsets.edge2Weight, H * H), bias: parameters.slice(offsets.edge2Bias, H),
                       rows: E, inFeatures: H, outFeatures: H)
        let m = ws.message.pointer
        EdgeLayerKernels.message(sigma: s2, gate: gate, m: m, z: z2, wa: w + offsets.attentionWeight, ba: w[offsets.attentionBias],
                                 edges: E, hidden: H)
        // Coordinate MLP and update: x_i += ρ Σ_j u_ij s_ij (pre-update x, plain sum).
        Linear.forward(UnsafeMutableBufferPointer(start: zc, count: E * H), ws.message.readOnly,
                       weight: parameters.slice(offsets.coord1Weight, H * H), bias: parameters.slice(offsets.coord1Bias, H),
                       rows: E, inFeatures: H, outFeatures: H)
        let coordLogit = ws.coordLogit.pointer
        EdgeLayerKernels.coordLogit(sigma: sc, logit: coordLogit, z: zc, wc: w + offsets.coord2Weight, edges: E, hidden: H)
        xOut.update(from: xIn, count: A * 3)
        for e in 0..<E {
            let s = T.hyperbolicTangent(coordLogit[e])
            coordWeight[e] = s
            let i = Int(receivers[e])
            let scale = rho * s / (norm[e] + 1)
            for axis in 0..<3 { xOut[3 * i + axis] += scale * delta[3 * e + axis] }
        }
        // Node update: a_i = Σ_j m_ij over the receiver's contiguous edge segment.
        segmentSum(into: aggregate, from: m, batch: batch, width: H)
        nodeUpdateForward(l, ws: ws)
    }

    /// Node update of layer `l` from h^l and the saved a = Σ_j m: z_n = W₃[h ‖ a] + b₃,
    /// h^{l+1} = h^l + W₄ SiLU(z_n) + b₄ (saving z_n and σ(z_n)).
    func nodeUpdateForward(_ l: Int, ws: EGNNWorkspace<T>) {
        let A = ws.atoms, H = config.hidden
        let offsets = layout.layers[l]
        let hIn = ws.hs.pointer + l * A * H, hOut = ws.hs.pointer + (l + 1) * A * H
        let aggregate = ws.aggregate.pointer + l * A * H, zn = ws.zn.pointer + l * A * H
        let hView = UnsafeBufferPointer(start: hIn, count: A * H)
        let aggView = UnsafeBufferPointer(start: aggregate, count: A * H)
        let node1 = offsets.node1Weight
        Linear.forward(UnsafeMutableBufferPointer(start: zn, count: A * H), hView,
                       weight: parameters.slice(node1, H * 2 * H), ldw: 2 * H, bias: parameters.slice(offsets.node1Bias, H),
                       rows: A, inFeatures: H, outFeatures: H)
        Linear.forward(UnsafeMutableBufferPointer(start: zn, count: A * H), aggView,
                       weight: parameters.slice(node1 + H, H * 2 * H - H), ldw: 2 * H, bias: nil,
                       rows: A, inFeatures: H, outFeatures: H, accumulate: true)
        Activation.sigmoidSilu(sigma: ws.sn.pointer + l * A * H, y: ws.nodeActivation.pointer, z: zn, count: A * H)
        hOut.update(from: hIn, count: A * H)
        Linear.forward(UnsafeMutableBufferPointer(start: hOut, count: A * H), ws.nodeActivation.readOnly,
                       weight: parameters.slice(offsets.node2Weight, H * H), bias: parameters.slice(offsets.node2Bias, H),
                       rows: A, inFeatures: H, outFeatures: H, accumulate: true)
    }

    /// Backward through layer `l`: on entry ws.dh / ws.dx hold ∂L/∂h^{l+1}, ∂L/∂x^{l+1}; on exit
    /// ∂L/∂h^l, ∂L/∂x^l. Parameter gradients are accumulated; ∂L/∂d² into ws.dInputDistances.
    func layerBackward(_ l: Int, batch: MoleculeBatch, ws: EGNNWorkspace<T>) {
        if ws.fusesEdgeMLP { return fusedLayerBackward(l, batch: batch, ws: ws) }
        let A = ws.atoms, E = ws.edges, H = config.hidden
        let offsets = layout.layers[l]
        let w = parameters.pointer, g = gradients.pointer
        let hIn = ws.hs.pointer + l * A * H
        let delta = ws.delta.pointer + l * E * 3, radial = ws.radial.pointer + l * E, norm = ws.norm.pointer + l * E
        let z1 = ws.z1.pointer + l * E * H, z2 = ws.z2.pointer + l * E * H, zc = ws.zc.pointer + l * E * H
        let gate = ws.gate.pointer + l * E, coordWeight = ws.coordWeight.pointer + l * E
        let s1 = ws.s1.pointer + l * E * H, s2 = ws.s2.pointer + l * E * H, sc = ws.sc.pointer + l * E * H
        let receivers = batch.receivers, senders = batch.senders
        let rho = T(config.coordinateScale)
        let w1 = offsets.edge1Weight, w1Stride = 2 * H + 2
        let hView = UnsafeBufferPointer(start: hIn, count: A * H)

        nodeUpdateBackward(l, ws: ws)
        let dAggregate = ws.dAggregate.pointer
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
        EdgeLayerKernels.coordBackward(dz: ws.dzc.pointer, dwc: g + offsets.coord2Weight, dlogit: dc, z: zc, sigma: sc,
                                       wc: w + offsets.coord2Weight, edges: E, hidden: H)
        // m₀ = SiLU(z₂) and m = g m₀ for ∂W_c, then ∂m += ∂z_c W_c.
        EdgeLayerKernels.gatedSilu(m0: ws.message0.pointer, m: ws.message.pointer, z: z2, sigma: s2, gate: gate, edges: E, hidden: H)
        Linear.accumulateParameterGradients(dWeight: gradients.mutableSlice(offsets.coord1Weight, H * H),
                                            dBias: gradients.mutableSlice(offsets.coord1Bias, H), dy: ws.dzc.readOnly,
                                            x: ws.message.readOnly, rows: E, inFeatures: H, outFeatures: H)
        Linear.inputGradient(ws.dMessage.buffer, dy: ws.dzc.readOnly, weight: parameters.slice(offsets.coord1Weight, H * H),
                             rows: E, inFeatures: H, outFeatures: H, accumulate: true)
        // Attention gate m = g m₀, g = σ(w_a·m₀ + b_a); then m₀ = SiLU(z₂).
        EdgeLayerKernels.gateBackward(dz: ws.dz2.pointer, dwa: g + offsets.attentionWeight, dba: &g[offsets.attentionBias], dm: dm,
                                      m0: ws.message0.pointer, z: z2, sigma: s2, gate: gate, wa: w + offsets.attentionWeight,
                                      edges: E, hidden: H)
        // Edge MLP second layer: z₂ = W₂ SiLU(z₁) + b₂.
        Activation.multiply(ws.edgeActivation.pointer, z1, s1, count: E * H)
        Linear.accumulateParameterGradients(dWeight: gradients.mutableSlice(offsets.edge2Weight, H * H),
                                            dBias: gradients.mutableSlice(offsets.edge2Bias, H), dy: ws.dz2.readOnly,
                                            x: ws.edgeActivation.readOnly, rows: E, inFeatures: H, outFeatures: H)
        Linear.inputGradient(ws.dEdgeActivation.buffer, dy: ws.dz2.readOnly, weight: parameters.slice(offsets.edge2Weight, H * H),
                             rows: E, inFeatures: H, outFeatures: H, accumulate: false)
        let dz1 = ws.dz1.pointer
        Activation.siluBackward(dz1, ws.dEdgeActivation.pointer, z: z1, sigma: s1, count: E * H)
        // Edge MLP first layer (factorised): bias, the r and d² columns, then P and Q.
        let wr = ws.radialColumn.pointer, wd = ws.distanceColumn.pointer
        for o in 0..<H {
            wr[o] = w[w1 + o * w1Stride + 2 * H]
            wd[o] = w[w1 + o * w1Stride + 2 * H + 1]
        }
        ws.dSenderProjection.zero()
        segmentSum(into: ws.dReceiverProjection.pointer, from: dz1, batch: batch, width: H)
        // Column sums for b₁, w_r, w_d are gathered contiguously, then written to W₁'s strided columns once.
        let columnR = ws.dRadialColumn.pointer, columnD = ws.dDistanceColumn.pointer
        columnR.update(repeating: 0, count: H)
        columnD.update(repeating: 0, count: H)
        let dRadial = ws.dRadial.pointer
        senders.withUnsafeBufferPointer { senderList in
            EdgeLayerKernels.edgeInputBackward(dq: ws.dSenderProjection.pointer, db: g + offsets.edge1Bias, dwr: columnR, dwd: columnD,
                                               dr: dRadial, dd2: ws.dInputDistances.pointer, dz: dz1, senders: senderList.baseAddress!,
                                               radial: radial, d2: ws.inputDistances.pointer, wr: wr, wd: wd, edges: E, hidden: H)
        }
        for e in 0..<E {
            // r = |Δ|²: ∂Δ += 2 ∂r Δ; then Δ = x_i − x_j.
            let i = Int(receivers[e]), j = Int(senders[e]), dr = dRadial[e]
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
        projectionBackward(l, hView: hView, ws: ws)
        ws.dx.pointer.update(from: dxIn, count: A * 3)
    }

    /// Backward through z₁'s per-atom terms P_i = W₁ₐ h_i and Q_j = W₁ᵦ h_j (the factorised first
    /// edge layer), given ws.dReceiverProjection = ∂P [A, H] and ws.dSenderProjection = ∂Q [A, H]:
    /// ∂W₁ₐ += ∂Pᵀ h, ∂W₁ᵦ += ∂Qᵀ h, and ws.dh [A, H] += ∂P W₁ₐ + ∂Q W₁ᵦ. `hView`: h^l [A, H].
    func projectionBackward(_ l: Int, hView: UnsafeBufferPointer<T>, ws: EGNNWorkspace<T>) {
        let A = ws.atoms, H = config.hidden
        let w1 = layout.layers[l].edge1Weight, w1Stride = 2 * H + 2
        let dPView = ws.dReceiverProjection.readOnly, dQView = ws.dSenderProjection.readOnly
        Linear.accumulateParameterGradients(dWeight: gradients.mutableSlice(w1, H * w1Stride), ldw: w1Stride, dBias: nil,
                                            dy: dPView, x: hView, rows: A, inFeatures: H, outFeatures: H)
        Linear.accumulateParameterGradients(dWeight: gradients.mutableSlice(w1 + H, H * w1Stride - H), ldw: w1Stride, dBias: nil,
                                            dy: dQView, x: hView, rows: A, inFeatures: H, outFeatures: H)
        Linear.inputGradient(ws.dh.buffer, dy: dPView, weight: parameters.slice(w1, H * w1Stride), ldw: w1Stride,
                             rows: A, inFeatures: H, outFeatures: H, accumulate: true)
        Linear.inputGradient(ws.dh.buffer, dy: dQView, weight: parameters.slice(w1 + H, H * w1Stride - H), ldw: w1Stride,
                             rows: A, inFeatures: H, outFeatures: H, accumulate: true)
    }

    /// Backward through layer `l`'s node update: on entry ws.dh holds ∂L/∂h^{l+1}; accumulates the
    /// node MLP's parameter gradients, adds the node path to ws.dh (the residual keeps ∂L/∂h^{l+1})
    /// and writes ws.dAggregate = ∂L/∂a.
    func nodeUpdateBackward(_ l: Int, ws: EGNNWorkspace<T>) {
        let A = ws.atoms, H = config.hidden
        let offsets = layout.layers[l]
        let hIn = ws.hs.pointer + l * A * H
        let aggregate = ws.aggregate.pointer + l * A * H, zn = ws.zn.pointer + l * A * H
        let sn = ws.sn.pointer + l * A * H
        let node1 = offsets.node1Weight
        let hView = UnsafeBufferPointer(start: hIn, count: A * H)
        let dhView = ws.dh.readOnly
        // Node update h' = h + W₄ SiLU(z_n) + b₄.
        Activation.multiply(ws.nodeActivation.pointer, zn, sn, count: A * H)
        Linear.accumulateParameterGradients(dWeight: gradients.mutableSlice(offsets.node2Weight, H * H),
                                            dBias: gradients.mutableSlice(offsets.node2Bias, H), dy: dhView,
                                            x: ws.nodeActivation.readOnly, rows: A, inFeatures: H, outFeatures: H)
        Linear.inputGradient(ws.dNodeActivation.buffer, dy: dhView, weight: parameters.slice(offsets.node2Weight, H * H),
                             rows: A, inFeatures: H, outFeatures: H, accumulate: false)
        Activation.siluBackward(ws.dzn.pointer, ws.dNodeActivation.pointer, z: zn, sigma: sn, count: A * H)
        let dznView = ws.dzn.readOnly
        Linear.accumulateParameterGradients(dWeight: gradients.mutableSlice(node1, H * 2 * H), ldw: 2 * H,
                                            dBias: gradients.mutableSlice(offsets.node1Bias, H), dy: dznView, x: hView,
                                            rows: A, inFeatures: H, outFeatures: H)
        Linear.accumulateParameterGradients(dWeight: gradients.mutableSlice(node1 + H, H * 2 * H - H), ldw: 2 * H, dBias: nil,
                                            dy: dznView, x: UnsafeBufferPointer(start: aggregate, count: A * H),
                                            rows: A, inFeatures: H, outFeatures: H)
        Linear.inputGradient(ws.dh.buffer, dy: dznView, weight: parameters.slice(node1, H * 2 * H), ldw: 2 * H,
                             rows: A, inFeatures: H, outFeatures: H, accumulate: true)
        Linear.inputGradient(ws.dAggregate.buffer, dy: dznView, weight: parameters.slice(node1 + H, H * 2 * H - H), ldw: 2 * H,
                             rows: A, inFeatures: H, outFeatures: H, accumulate: false)
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
