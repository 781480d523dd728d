// The E_GCL layer's passes over edges (Model/EGNNLayer.swift), fused so that each E × H row is
// read once per pass, written once over VectorOps.h (included once per variant by Variants.c).
// Rows are H floats; edge e's row starts at e·H. Shapes: E edges, A atoms, H hidden.
//   forward   z₁ = P_i + Q_j + r w_r + d² w_d + b₁,  a₁ = SiLU(z₁)
//             m₀ = SiLU(z₂),  g = σ(w_a·m₀ + b_a),  m = g m₀
//             c = w_c·SiLU(z_c)                       (s = tanh c is taken by the caller)
//   backward  ∂z_c = ∂c w_c SiLU′(z_c),  ∂w_c += ∂c SiLU(z_c)
//             t = g(1−g) ∂m·m₀,  ∂z₂ = (g ∂m + t w_a) SiLU′(z₂),  ∂w_a += t m₀,  ∂b_a += t
//             ∂b₁ += ∂z₁, ∂w_r += r ∂z₁, ∂w_d += d² ∂z₁, ∂Q_j += ∂z₁, ∂r = w_r·∂z₁, ∂d² += w_d·∂z₁

KERNEL void SUFFIX(edge_input_segment)(size_t o, size_t k, float *z, float *sigma, float *act, const float *p, const float *q,
                                       float r, const float *wr, float d, const float *wd, const float *bias) {
    VF linear = VFMA(VSET1(r), VLOAD(wr + o, k), VFMA(VSET1(d), VLOAD(wd + o, k), VLOAD(bias + o, k)));
    VF zv = VADD(VADD(VLOAD(p + o, k), VLOAD(q + o, k)), linear);
    VF s = SUFFIX(vsigmoid)(zv);
    VSTORE(z + o, zv, k);
    VSTORE(sigma + o, s, k);
    VSTORE(act + o, VMUL(zv, s), k);
}

TARGET static void SUFFIX(edge_input)(float *z, float *sigma, float *act, const float *p, const float *q,
                                      const int32_t *receivers, const int32_t *senders, const float *radial, const float *d2,
                                      const float *wr, const float *wd, const float *bias, size_t edges, size_t h) {
    for (size_t e = 0; e < edges; e++) {
        size_t row = e * h;
        EACH_VECTOR(h, SUFFIX(edge_input_segment), z + row, sigma + row, act + row, p + (size_t)receivers[e] * h,
                    q + (size_t)senders[e] * h, radial[e], wr, d2[e], wd, bias);
    }
}

KERNEL void SUFFIX(message_segment)(size_t o, size_t k, VF *dot, float *sigma, float *m, const float *z, const float *wa) {
    VF zv = VLOAD(z + o, k), s = SUFFIX(vsigmoid)(zv), m0 = VMUL(zv, s);
    VSTORE(sigma + o, s, k);
    VSTORE(m + o, m0, k);
    *dot = VFMA(m0, VLOAD(wa + o, k), *dot);
}

KERNEL void SUFFIX(scale_segment)(size_t o, size_t k, float *x, float g) {
    VSTORE(x + o, VMUL(VLOAD(x + o, k), VSET1(g)), k);
}

TARGET static void SUFFIX(message)(float *sigma, float *gate, float *m, const float *z, const float *wa, float ba, size_t edges,
                                   size_t h) {
    for (size_t e = 0; e < edges; e++) {
        size_t row = e * h;
        VF dot = VSET1(0.0f);
        EACH_VECTOR(h, SUFFIX(message_segment), &dot, sigma + row, m + row, z + row, wa);
        float g = tbg_sigmoid_scalar(ba + VSUM(dot));
        gate[e] = g;
        EACH_VECTOR(h, SUFFIX(scale_segment), m + row, g);
    }
}

KERNEL void SUFFIX(coord_logit_segment)(size_t o, size_t k, VF *dot, float *sigma, const float *z, const float *wc) {
    VF zv = VLOAD(z + o, k), s = SUFFIX(vsigmoid)(zv);
    VSTORE(sigma + o, s, k);
    *dot = VFMA(VMUL(zv, s), VLOAD(wc + o, k), *dot);
}

TARGET static void SUFFIX(coord_logit)(float *sigma, float *logit, const float *z, const float *wc, size_t edges, size_t h) {
    for (size_t e = 0; e < edges; e++) {
        VF dot = VSET1(0.0f);
        EACH_VECTOR(h, SUFFIX(coord_logit_segment), &dot, sigma + e * h, z + e * h, wc);
        logit[e] = VSUM(dot);
    }
}

KERNEL void SUFFIX(gated_silu_segment)(size_t o, size_t k, float *m0, float *m, const float *z, const float *sigma, float g) {
    VF value = VMUL(VLOAD(z + o, k), VLOAD(sigma + o, k));
    VSTORE(m0 + o, value, k);
    VSTORE(m + o, VMUL(value, VSET1(g)), k);
}

TARGET static void SUFFIX(gated_silu)(float *m0, float *m, const float *z, const float *sigma, const float *gate, size_t edges,
                                      size_t h) {
    for (size_t e = 0; e < edges; e++) {
        EACH_VECTOR(h, SUFFIX(gated_silu_segment), m0 + e * h, m + e * h, z + e * h, sigma + e * h, gate[e]);
    }
}

KERNEL void SUFFIX(coord_backward_segment)(size_t o, size_t k, float *dz, float *dwc, const float *z, const float *sigma,
                                           const float *wc, float c) {
    VF zv = VLOAD(z + o, k), s = VLOAD(sigma + o, k), cv = VSET1(c);
    VSTORE(dwc + o, VFMA(cv, VMUL(zv, s), VLOAD(dwc + o, k)), k);
    VSTORE(dz + o, VMUL(VMUL(cv, VLOAD(wc + o, k)), SUFFIX(vslope)(zv, s)), k);
}

TARGET static void SUFFIX(coord_backward)(float *dz, float *dwc, const float *dlogit, const float *z, const float *sigma,
                                          const float *wc, size_t edges, size_t h) {
    for (size_t e = 0; e < edges; e++) {
        EACH_VECTOR(h, SUFFIX(coord_backward_segment), dz + e * h, dwc, z + e * h, sigma + e * h, wc, dlogit[e]);
    }
}

KERNEL void SUFFIX(dot_segment)(size_t o, size_t k, VF *dot, const float *a, const float *b) {
    *dot = VFMA(VLOAD(a + o, k), VLOAD(b + o, k), *dot);
}

KERNEL void SUFFIX(gate_backward_segment)(size_t o, size_t k, float *dz, float *dwa, const float *dm, const float *m0,
                                          const float *z, const float *sigma, const float *wa, float g, float t) {
    VF tv = VSET1(t);
    VSTORE(dwa + o, VFMA(tv, VLOAD(m0 + o, k), VLOAD(dwa + o, k)), k);
    VF incoming = VFMA(VLOAD(dm + o, k), VSET1(g), VMUL(tv, VLOAD(wa + o, k)));
    VSTORE(dz + o, VMUL(incoming, SUFFIX(vslope)(VLOAD(z + o, k), VLOAD(sigma + o, k))), k);
}

TARGET static void SUFFIX(gate_backward)(float *dz, float *dwa, float *dba, const float *dm, const float *m0, const float *z,
                                         const float *sigma, const float *gate, const float *wa, size_t edges, size_t h) {
    float bias = 0;
    for (size_t e = 0; e < edges; e++) {
        size_t row = e * h;
        VF dot = VSET1(0.0f);
        EACH_VECTOR(h, SUFFIX(dot_segment), &dot, dm + row, m0 + row);
        float g = gate[e], t = VSUM(dot) * g * (1 - g);
        bias += t;
        EACH_VECTOR(h, SUFFIX(gate_backward_segment), dz + row, dwa, dm + row, m0 + row, z + row, sigma + row, wa, g, t);
    }
    *dba += bias;
}

KERNEL void SUFFIX(edge_input_backward_segment)(size_t o, size_t k, VF *dotR, VF *dotD, float *dq, float *db, float *dwr,
                                                float *dwd, const float *dz, const float *wr, const float *wd, float r, float d) {
    VF v = VLOAD(dz + o, k);
    VSTORE(db + o, VADD(VLOAD(db + o, k), v), k);
    VSTORE(dwr + o, VFMA(v, VSET1(r), VLOAD(dwr + o, k)), k);
    VSTORE(dwd + o, VFMA(v, VSET1(d), VLOAD(dwd + o, k)), k);
    VSTORE(dq + o, VADD(VLOAD(dq + o, k), v), k);
    *dotR = VFMA(v, VLOAD(wr + o, k), *dotR);
    *dotD = VFMA(v, VLOAD(wd + o, k), *dotD);
}

TARGET static void SUFFIX(edge_input_backward)(float *dq, float *db, float *dwr, float *dwd, float *dr, float *dd2,
                                               const float *dz, const int32_t *senders, const float *radial, const float *d2,
                                               const float *wr, const float *wd, size_t edges, size_t h) {
    for (size_t e = 0; e < edges; e++) {
        VF dotR = VSET1(0.0f), dotD = VSET1(0.0f);
        EACH_VECTOR(h, SUFFIX(edge_input_backward_segment), &dotR, &dotD, dq + (size_t)senders[e] * h, db, dwr, dwd, dz + e * h,
                    wr, wd, radial[e], d2[e]);
        dr[e] = VSUM(dotR);
        dd2[e] += VSUM(dotD);
    }
}
