// The E_GCL layer's fused passes over edges (Model/EGNNLayer.swift), E edges, rows of H values
// (edge e's row starts at e·H). Float runs the C kernels (CKernels/EdgeLayerBody.h, in the
// variant KernelVariant chose); Double runs the same formulas in Swift with libm.
//   forward   z₁ = P_i + Q_j + r w_r + d² w_d + b₁,  a₁ = SiLU(z₁)
//             m₀ = SiLU(z₂),  g = σ(w_a·m₀ + b_a),  m = g m₀
//             c = w_c·SiLU(z_c)                       (s = tanh c is the caller's)
//   backward  ∂z_c = ∂c w_c SiLU′(z_c),  ∂w_c += ∂c SiLU(z_c)
//             t = g(1−g) ∂m·m₀,  ∂z₂ = (g ∂m + t w_a) SiLU′(z₂),  ∂w_a += t m₀,  ∂b_a += t
//             ∂b₁ += ∂z₁, ∂w_r += r ∂z₁, ∂w_d += d² ∂z₁, ∂Q_j += ∂z₁, ∂r = w_r·∂z₁, ∂d² += w_d·∂z₁
import CKernels

public enum EdgeLayerKernels {
    /// z, sigma, act (E × H) = z₁, σ(z₁), SiLU(z₁) from p, q (A × H; receiver and sender
    /// projections), radial and d2 (E), the columns wr, wd and the bias (H).
    @inlinable
    public static func edgeInput<T: ActivationScalar>(
        z: UnsafeMutablePointer<T>, sigma: UnsafeMutablePointer<T>, act: UnsafeMutablePointer<T>, p: UnsafePointer<T>, q: UnsafePointer<T>,
        receivers: UnsafePointer<Int32>, senders: UnsafePointer<Int32>, radial: UnsafePointer<T>, d2: UnsafePointer<T>,
        wr: UnsafePointer<T>, wd: UnsafePointer<T>, bias: UnsafePointer<T>, edges: Int, hidden h: Int
    ) {
        if T.self == Float.self {
            return tbg_edge_input_f32(float32(z), float32(sigma), float32(act), float32(p), float32(q), receivers, senders, float32(radial),
                                      float32(d2), float32(wr), float32(wd), float32(bias), edges, h)
        }
        for e in 0..<edges {
            let pi = p + Int(receivers[e]) * h, qj = q + Int(senders[e]) * h, r = radial[e], dd = d2[e]
            for o in 0..<h {
                let value = pi[o] + qj[o] + r * wr[o] + dd * wd[o] + bias[o]
                z[e * h + o] = value
                sigma[e * h + o] = Activation.sigmoid(value)
                act[e * h + o] = value * sigma[e * h + o]
            }
        }
    }

    /// sigma (E × H) = σ(z₂), gate (E) = σ(w_a·SiLU(z₂) + b_a), m (E × H) = gate · SiLU(z₂).
    @inlinable
    public static func message<T: ActivationScalar>(
        sigma: UnsafeMutablePointer<T>, gate: UnsafeMutablePointer<T>, m: UnsafeMutablePointer<T>, z: UnsafePointer<T>,
        wa: UnsafePointer<T>, ba: T, edges: Int, hidden h: Int
    ) {
        if T.self == Float.self {
            return tbg_message_f32(float32(sigma), float32(gate), float32(m), float32(z), float32(wa), unsafeBitCast(ba, to: Float.self),
                                   edges, h)
        }
        for e in 0..<edges {
            let row = m + e * h
            Activation.sigmoidSilu(sigma: sigma + e * h, y: row, z: z + e * h, count: h)
            let g = Activation.sigmoid(ba + Activation.dot(row, wa, count: h))
            gate[e] = g
            for o in 0..<h { row[o] *= g }
        }
    }

    /// sigma (E × H) = σ(z_c), logit (E) = w_c·SiLU(z_c).
    @inlinable
    public static func coordLogit<T: ActivationScalar>(
        sigma: UnsafeMutablePointer<T>, logit: UnsafeMutablePointer<T>, z: UnsafePointer<T>, wc: UnsafePointer<T>, edges: Int, hidden h: Int
    ) {
        if T.self == Float.self { return tbg_coord_logit_f32(float32(sigma), float32(logit), float32(z), float32(wc), edges, h) }
        for e in 0..<edges {
            var sum = T.zero
            for o in 0..<h {
                let s = Activation.sigmoid(z[e * h + o])
                sigma[e * h + o] = s
                sum += z[e * h + o] * s * wc[o]
            }
            logit[e] = sum
        }
    }

    /// m0 = SiLU(z) from the stored σ (E × H), and m = gate · m0 (gate: E).
    @inlinable
    public static func gatedSilu<T: ActivationScalar>(
        m0: UnsafeMutablePointer<T>, m: UnsafeMutablePointer<T>, z: UnsafePointer<T>, sigma: UnsafePointer<T>, gate: UnsafePointer<T>,
        edges: Int, hidden h: Int
    ) {
        if T.self == Float.self { return tbg_gated_silu_f32(float32(m0), float32(m), float32(z), float32(sigma), float32(gate), edges, h) }
        for e in 0..<edges {
            for o in 0..<h {
                m0[e * h + o] = z[e * h + o] * sigma[e * h + o]
                m[e * h + o] = m0[e * h + o] * gate[e]
            }
        }
    }

    /// dz (E × H) = dlogit w_c ⊙ SiLU′(z_c); dwc (H) += Σ_e dlogit[e] SiLU(z_c).
    @inlinable
    public static func coordBackward<T: ActivationScalar>(
        dz: UnsafeMutablePointer<T>, dwc: UnsafeMutablePointer<T>, dlogit: UnsafePointer<T>, z: UnsafePointer<T>, sigma: UnsafePointer<T>,
        wc: UnsafePointer<T>, edges: Int, hidden h: Int
    ) {
        if T.self == Float.self {
            return tbg_coord_backward_f32(float32(dz), float32(dwc), float32(dlogit), float32(z), float32(sigma), float32(wc), edges, h)
        }
        for e in 0..<edges {
            let c = dlogit[e]
            for o in 0..<h {
                let s = sigma[e * h + o], zo = z[e * h + o]
                dwc[o] += c * zo * s
                dz[e * h + o] = c * wc[o] * s * (1 + zo * (1 - s))
            }
        }
    }

    /// Backward through m = g m₀, g = σ(w_a·m₀ + b_a), m₀ = SiLU(z₂): dz (E × H) = ∂L/∂z₂ from
    /// dm = ∂L/∂m; dwa (H) and dba accumulate.
    @inlinable
    public static func gateBackward<T: ActivationScalar>(
        dz: UnsafeMutablePointer<T>, dwa: UnsafeMutablePointer<T>, dba: inout T, dm: UnsafePointer<T>, m0: UnsafePointer<T>,
        z: UnsafePointer<T>, sigma: UnsafePointer<T>, gate: UnsafePointer<T>, wa: UnsafePointer<T>, edges: Int, hidden h: Int
    ) {
        if T.self == Float.self {
            var bias = unsafeBitCast(dba, to: Float.self)
            tbg_gate_backward_f32(float32(dz), float32(dwa), &bias, float32(dm), float32(m0), float32(z), float32(sigma), float32(gate),
                                  float32(wa), edges, h)
            dba = unsafeBitCast(bias, to: T.self)
            return
        }
        for e in 0..<edges {
            let g = gate[e], t = Activation.dot(dm + e * h, m0 + e * h, count: h) * g * (1 - g)
            dba += t
            for o in 0..<h {
                let k = e * h + o, s = sigma[k]
                dwa[o] += t * m0[k]
                dz[k] = (dm[k] * g + t * wa[o]) * s * (1 + z[k] * (1 - s))
            }
        }
    }

    /// Backward through z₁ = P_i + Q_j + r w_r + d² w_d + b₁ given dz = ∂L/∂z₁ (E × H), except P:
    /// dq (A × H) += at each edge's sender; db, dwr, dwd (H) accumulate; dr (E) = ∂L/∂r;
    /// dd2 (E) += ∂L/∂d².
    @inlinable
    public static func edgeInputBackward<T: ActivationScalar>(
        dq: UnsafeMutablePointer<T>, db: UnsafeMutablePointer<T>, dwr: UnsafeMutablePointer<T>, dwd: UnsafeMutablePointer<T>,
        dr: UnsafeMutablePointer<T>, dd2: UnsafeMutablePointer<T>, dz: UnsafePointer<T>, senders: UnsafePointer<Int32>,
        radial: UnsafePointer<T>, d2: UnsafePointer<T>, wr: UnsafePointer<T>, wd: UnsafePointer<T>, edges: Int, hidden h: Int
    ) {
        if T.self == Float.self {
            return tbg_edge_input_backward_f32(float32(dq), float32(db), float32(dwr), float32(dwd), float32(dr), float32(dd2), float32(dz),
                                               senders, float32(radial), float32(d2), float32(wr), float32(wd), edges, h)
        }
        for e in 0..<edges {
            let row = dz + e * h, r = radial[e], dd = d2[e], qj = dq + Int(senders[e]) * h
            for o in 0..<h {
                let v = row[o]
                db[o] += v
                dwr[o] += v * r
                dwd[o] += v * dd
                qj[o] += v
            }
            dr[e] = Activation.dot(row, wr, count: h)
            dd2[e] += Activation.dot(row, wd, count: h)
        }
    }
}
