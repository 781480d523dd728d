// One layer of the forward-mode divergence (Model/EGNNDivergence.swift) over its (tangent, edge)
// pairs, fused into one kernel: ȧ₁, W₂ȧ₁, the message tangent summed into its receiver and the
// coordinate tangent, a tile of pairs at a time. Float runs CKernels/TangentPairsBody.h (formulas
// there) in the variant KernelVariant chose for the tangent family; Double (the float64 tests) runs
// the same arithmetic in plain Swift, which is also the reference the C variants are tested against.
import CKernels

/// What one layer's pairs read (CKernels' tbg_tangent_layer). T tangents, A atoms, E edges, H
/// hidden; a tangent row is τ·A + atom.
public struct TangentLayerInputs<T> {
    /// T·A × 3: ẋ of the layer input.
    public var xDot: UnsafePointer<T>
    /// T·A × H: Ṗ = ḣW₁ₐᵀ and Q̇ = ḣW₁ᵦᵀ; both nil where ḣ = 0 (layer 0).
    public var pDot: UnsafePointer<T>?, qDot: UnsafePointer<T>?
    /// T × E: ḋ² of the input distances.
    public var d2Dot: UnsafePointer<T>
    public var receivers: UnsafePointer<Int32>, senders: UnsafePointer<Int32>
    /// E × 3: Δ of this layer. E: 1/n, 1/(n+1), g, s, v_c·m₀.
    public var delta: UnsafePointer<T>
    public var inverseNorm: UnsafePointer<T>, inverseNormPlusOne: UnsafePointer<T>
    public var gate: UnsafePointer<T>, coordWeight: UnsafePointer<T>, coordMessageProduct: UnsafePointer<T>
    /// E × H: SiLU′(z₁), SiLU′(z₂), m₀, v_c; k_a and k_c (read only without W₂).
    public var slope1: UnsafePointer<T>, slope2: UnsafePointer<T>, message0: UnsafePointer<T>, coordVector: UnsafePointer<T>
    public var gateKernel: UnsafePointer<T>?, coordKernel: UnsafePointer<T>?
    /// H: W₁'s columns of r and d², and w_a.
    public var columnR: UnsafePointer<T>, columnD: UnsafePointer<T>, attentionWeight: UnsafePointer<T>
    /// H × HP: W₂ᵀ packed by `TangentPairsKernel.packWeight`; nil in the last layer (no ṁ).
    public var w2Packed: UnsafePointer<T>?
    public var rho: T
    public var atoms: Int, edges: Int, hidden: Int

    public init(xDot: UnsafePointer<T>, pDot: UnsafePointer<T>?, qDot: UnsafePointer<T>?, d2Dot: UnsafePointer<T>,
                receivers: UnsafePointer<Int32>, senders: UnsafePointer<Int32>, delta: UnsafePointer<T>, inverseNorm: UnsafePointer<T>,
                inverseNormPlusOne: UnsafePointer<T>, gate: UnsafePointer<T>, coordWeight: UnsafePointer<T>,
                coordMessageProduct: UnsafePointer<T>, slope1: UnsafePointer<T>, slope2: UnsafePointer<T>, message0: UnsafePointer<T>,
                coordVector: UnsafePointer<T>, gateKernel: UnsafePointer<T>?, coordKernel: UnsafePointer<T>?,
                columnR: UnsafePointer<T>, columnD: UnsafePointer<T>, attentionWeight: UnsafePointer<T>, w2Packed: UnsafePointer<T>?,
                rho: T, atoms: Int, edges: Int, hidden: Int) {
        precondition((pDot == nil) == (qDot == nil), "Ṗ and Q̇ are given together")
        precondition(w2Packed != nil || (gateKernel != nil && coordKernel != nil), "without W₂ the pairs need k_a and k_c")
        (self.xDot, self.pDot, self.qDot, self.d2Dot, self.receivers, self.senders) = (xDot, pDot, qDot, d2Dot, receivers, senders)
        (self.delta, self.inverseNorm, self.inverseNormPlusOne) = (delta, inverseNorm, inverseNormPlusOne)
        (self.gate, self.coordWeight, self.coordMessageProduct) = (gate, coordWeight, coordMessageProduct)
        (self.slope1, self.slope2, self.message0, self.coordVector) = (slope1, slope2, message0, coordVector)
        (self.gateKernel, self.coordKernel) = (gateKernel, coordKernel)
        (self.columnR, self.columnD, self.attentionWeight, self.w2Packed) = (columnR, columnD, attentionWeight, w2Packed)
        (self.rho, self.atoms, self.edges, self.hidden) = (rho, atoms, edges, hidden)
    }
}

public enum TangentPairsKernel {
    /// HP: the row length of the packed W₂ᵀ (H rounded up to 64).
    public static func paddedWidth(_ hidden: Int) -> Int { tbg_tangent_padded_width(hidden) }

    /// Scratch values `run` needs for hidden width H.
    public static func scratchCount(_ hidden: Int) -> Int { tbg_tangent_scratch_count(hidden) }

    /// packed (H × HP) = Wᵀ of a PyTorch-layout H × H weight (out × in), zero beyond column H.
    @inlinable
    public static func packWeight<T: Numeric>(_ packed: UnsafeMutablePointer<T>, weight: UnsafePointer<T>, hidden h: Int) {
        let hp = paddedWidth(h)
        packed.update(repeating: 0, count: h * hp)
        for o in 0..<h {
            for k in 0..<h { packed[k * hp + o] = weight[o * h + k] }
        }
    }

    /// Pushes the pairs (pairTangent[p], pairEdge[p]) through one layer: with W₂, aggregateDot
    /// (T·A × H) += ṁ of each pair at its receiver's row; always xNext (T·A × 3) += ρ (u̇ s + u ṡ).
    @inlinable
    public static func run<T: ActivationScalar>(
        aggregateDot: UnsafeMutablePointer<T>?, xNext: UnsafeMutablePointer<T>, scratch: UnsafeMutablePointer<T>,
        layer: TangentLayerInputs<T>, pairTangent: UnsafePointer<Int32>, pairEdge: UnsafePointer<Int32>, pairs: Int
    ) {
        precondition(layer.w2Packed == nil || aggregateDot != nil, "with W₂ the pairs need the aggregate tangent")
        if T.self == Float.self {
            var c = tbg_tangent_layer(
                x_dot: float32(layer.xDot), p_dot: layer.pDot.map(float32), q_dot: layer.qDot.map(float32), d2_dot: float32(layer.d2Dot),
                receivers: layer.receivers, senders: layer.senders, delta: float32(layer.delta), inverse_norm: float32(layer.inverseNorm),
                inverse_norm_plus_one: float32(layer.inverseNormPlusOne), gate: float32(layer.gate),
                coord_weight: float32(layer.coordWeight), coord_message_product: float32(layer.coordMessageProduct),
                slope1: float32(layer.slope1), slope2: float32(layer.slope2), message0: float32(layer.message0),
                coord_vector: float32(layer.coordVector), gate_kernel: layer.gateKernel.map(float32),
                coord_kernel: layer.coordKernel.map(float32), column_r: float32(layer.columnR), column_d: float32(layer.columnD),
                attention_weight: float32(layer.attentionWeight), w2_packed: layer.w2Packed.map(float32),
                rho: unsafeBitCast(layer.rho, to: Float.self), atoms: layer.atoms, edges: layer.edges, hidden: layer.hidden)
            tbg_tangent_pairs_f32(aggregateDot.map(float32), float32(xNext), float32(scratch), &c, pairTangent, pairEdge, pairs)
            return
        }
        reference(aggregateDot: aggregateDot, xNext: xNext, scratch: scratch, layer: layer, pairTangent: pairTangent, pairEdge: pairEdge,
                  pairs: pairs)
    }

    /// The same arithmetic pair by pair in Swift (Double, and the reference of the C variants).
    @inlinable
    public static func reference<T: ActivationScalar>(
        aggregateDot: UnsafeMutablePointer<T>?, xNext: UnsafeMutablePointer<T>, scratch: UnsafeMutablePointer<T>,
        layer L: TangentLayerInputs<T>, pairTangent: UnsafePointer<Int32>, pairEdge: UnsafePointer<Int32>, pairs: Int
    ) {
        let A = L.atoms, E = L.edges, h = L.hidden, hp = paddedWidth(h)
        let row = scratch, product = scratch + h
        for pair in 0..<pairs {
            let tau = Int(pairTangent[pair]), e = Int(pairEdge[pair])
            let i = Int(L.receivers[e]), j = Int(L.senders[e])
            let xi = L.xDot + (tau * A + i) * 3, xj = L.xDot + (tau * A + j) * 3, d = L.delta + 3 * e
            let deltaDot = (xi[0] - xj[0], xi[1] - xj[1], xi[2] - xj[2])
            let deltaDotDelta = d[0] * deltaDot.0 + d[1] * deltaDot.1 + d[2] * deltaDot.2
            let a = 2 * deltaDotDelta, b = L.d2Dot[tau * E + e]
            for o in 0..<h {
                var sum = a * L.columnR[o] + b * L.columnD[o]
                if let p = L.pDot, let q = L.qDot { sum += p[(tau * A + i) * h + o] + q[(tau * A + j) * h + o] }
                row[o] = sum * L.slope1[e * h + o]
            }
            let g = L.gate[e], s = L.coordWeight[e]
            var gateDot = T.zero, coord = T.zero
            if let w2 = L.w2Packed, let aggregateDot {
                var first = T.zero
                for o in 0..<h {
                    var z = T.zero
                    for k in 0..<h { z += row[k] * w2[k * hp + o] }
                    product[o] = z * L.slope2[e * h + o]
                    first += product[o] * L.attentionWeight[o]
                    coord += product[o] * L.coordVector[e * h + o]
                }
                gateDot = g * (1 - g) * first
                let target = aggregateDot + (tau * A + i) * h
                for o in 0..<h { target[o] += g * product[o] + gateDot * L.message0[e * h + o] }
            } else if let ka = L.gateKernel, let kc = L.coordKernel {
                var first = T.zero
                for o in 0..<h {
                    first += row[o] * ka[e * h + o]
                    coord += row[o] * kc[e * h + o]
                }
                gateDot = g * (1 - g) * first
            }
            let sDot = (1 - s * s) * (g * coord + gateDot * L.coordMessageProduct[e])
            let inverse = L.inverseNormPlusOne[e], radialPart = deltaDotDelta * L.inverseNorm[e] * inverse * inverse
            let target = xNext + (tau * A + i) * 3
            target[0] += L.rho * ((deltaDot.0 * inverse - d[0] * radialPart) * s + d[0] * inverse * sDot)
            target[1] += L.rho * ((deltaDot.1 * inverse - d[1] * radialPart) * s + d[1] * inverse * sDot)
            target[2] += L.rho * ((deltaDot.2 * inverse - d[2] * radialPart) * s + d[2] * inverse * sDot)
        }
    }
}
