// The E_GCL layer's edge MLP, forward and backward, fused over tiles of edges (Model/EGNNFusedLayer.swift):
// every E × H intermediate of a tile of TBG_EDGE_TILE edges stays in the L1/L2 cache, and the two
// H × H products per pass (W₂ and W_c, four in backward) are register-tiled GEMMs on weights packed
// once per call, instead of separate passes over E × H buffers in memory and OpenBLAS calls that
// pack and zero on every call. Written once over VectorOps.h, included once per variant by
// Variants.c. Edge e = (i ← j), rows of H, HP = H rounded up to 64, SP = HP + 16.
//
// Forward, per edge (method.md §4.2):
//   Δ = x_i − x_j,  r = |Δ|²,  n = √(r + 1e-8)
//   z₁ = P_i + Q_j + r w_r + d² w_d + b₁,  a₁ = SiLU(z₁)   (the caller's P carries b₁)
//   z₂ = W₂ a₁ + b₂,  m₀ = SiLU(z₂),  g = σ(w_a·m₀ + b_a),  m = g m₀,  a_i += m
//   z_c = W_c m + b_c,  s = tanh(w_c·SiLU(z_c)),  x'_i += ρ s Δ/(n+1)
// saving Δ, r, n, z₁, σ(z₁), z₂, σ(z₂), z_c, σ(z_c), g, s, which is what backward (and the divergence)
// reads. Backward once rebuilt z₁ from P and Q and took the three σ again instead of reading them:
// on a Zen 3 that made the 1-rank AD2 training step 9 % slower than reading the saved rows (the σ
// passes wait on the latency of e^x's chain, not on memory; 2026-12-03, `tbg bench train`).
// Backward, per edge, from ∂a_i and ∂x'_i:
//   ∂c = ρ (1−s²) Δ·∂x'_i/(n+1),  ∂Δ = ρ s ∂x'_i/(n+1) − ρ s (Δ·∂x'_i) Δ/(n(n+1)²)
//   ∂z_c = ∂c w_c ⊙ SiLU′(z_c),  ∂w_c += ∂c SiLU(z_c),  ∂b_c += ∂z_c,  ∂W_c += ∂z_c mᵀ
//   ∂m = ∂a_i + W_cᵀ∂z_c,  t = g(1−g) ∂m·m₀,  ∂z₂ = (g ∂m + t w_a) ⊙ SiLU′(z₂)
//   ∂w_a += t m₀,  ∂b_a += t,  ∂b₂ += ∂z₂,  ∂W₂ += ∂z₂ a₁ᵀ
//   ∂z₁ = (W₂ᵀ∂z₂) ⊙ SiLU′(z₁),  ∂P_i += ∂z₁,  ∂Q_j += ∂z₁,  ∂b₁ += ∂z₁,  ∂w_r += r ∂z₁,  ∂w_d += d² ∂z₁
//   ∂r = w_r·∂z₁,  ∂d² += w_d·∂z₁,  ∂x_i += ∂Δ + 2∂r Δ,  ∂x_j −= ∂Δ + 2∂r Δ
// The weight gradients ∂W₂, ∂W_c are rank-(tile) updates of an SP × HP block per tile, by the same
// register-tiled product with the tile read transposed.

#undef MLP_PREFETCH_EDGES
#define MLP_PREFETCH_EDGES 24   // how far ahead backward prefetches the saved rows (16 floats = one 64-byte line)

/// out (rows × cols, rows a multiple of TILE_ROWS) = init + A B, A and init as in tile_product (TileProductBody.h).
TARGET static void SUFFIX(mlp_product)(float *restrict out, size_t ldo, const float *restrict a, size_t a_row, size_t a_depth,
                                       const float *restrict b, size_t ldb, size_t rows, size_t depth, size_t cols, int accumulate,
                                       const float *restrict bias) {
    for (size_t r = 0; r < rows; r += TILE_ROWS) {
        SUFFIX(tile_product)(out + r * ldo, ldo, a + r * a_row, a_row, a_depth, b, ldb, depth, cols, accumulate, bias);
    }
}

// ---- Forward row passes ------------------------------------------------------------------------

/// z₁ = p + q + r w_r + d² w_d (p = P_i + b₁), a₁ = SiLU(z₁) into the tile; z₁ and σ(z₁) saved.
KERNEL void SUFFIX(mlp_input_segment)(size_t o, size_t k, float *z, float *sigma, float *act, const float *p, const float *q, float r,
                                      const float *wr, float d, const float *wd) {
    VF zv = VFMA(VSET1(r), VLOAD(wr + o, k), VFMA(VSET1(d), VLOAD(wd + o, k), VADD(VLOAD(p + o, k), VLOAD(q + o, k))));
    VF s = SUFFIX(vsigmoid)(zv);
    VSTORE(z + o, zv, k);
    VSTORE(sigma + o, s, k);
    VSTORE(act + o, VMUL(zv, s), k);
}

/// z₂ = product (W₂a₁ + b₂) and σ(z₂) saved, m₀ = SiLU(z₂) into the tile, dot += w_a ⊙ m₀.
KERNEL void SUFFIX(mlp_message_segment)(size_t o, size_t k, VF *dot, float *z, float *sigma, float *m0, const float *product,
                                        const float *wa) {
    VF zv = VLOAD(product + o, k), s = SUFFIX(vsigmoid)(zv), value = VMUL(zv, s);
    VSTORE(z + o, zv, k);
    VSTORE(sigma + o, s, k);
    VSTORE(m0 + o, value, k);
    *dot = VFMA(value, VLOAD(wa + o, k), *dot);
}

/// m = g m₀ in the tile; aggregate += m (aggregate NULL: not formed).
KERNEL void SUFFIX(mlp_gate_segment)(size_t o, size_t k, float *m, float *aggregate, float g) {
    VF value = VMUL(VLOAD(m + o, k), VSET1(g));
    VSTORE(m + o, value, k);
    if (aggregate) VSTORE(aggregate + o, VADD(VLOAD(aggregate + o, k), value), k);
}

/// z_c = product (W_c m + b_c) and σ(z_c) saved, dot += w_c ⊙ SiLU(z_c).
KERNEL void SUFFIX(mlp_coord_segment)(size_t o, size_t k, VF *dot, float *z, float *sigma, const float *product, const float *wc) {
    VF zv = VLOAD(product + o, k), s = SUFFIX(vsigmoid)(zv);
    VSTORE(z + o, zv, k);
    VSTORE(sigma + o, s, k);
    *dot = VFMA(VMUL(zv, s), VLOAD(wc + o, k), *dot);
}

/// out[t] = σ(in[t] + bias) for the tile's edges (the gates of a tile in vectors: one scalar expf per
/// edge, and the dependency from each row's dot to its gate, stalled the row passes).
KERNEL void SUFFIX(mlp_sigmoid_segment)(size_t o, size_t k, float *out, const float *in, float bias) {
    VSTORE(out + o, SUFFIX(vsigmoid)(VADD(VLOAD(in + o, k), VSET1(bias))), k);
}

/// out[t] = tanh(in[t]) for the tile's edges (vtanh: a rational function, where tanhf was a libm call per edge).
KERNEL void SUFFIX(mlp_tanh_segment)(size_t o, size_t k, float *out, const float *in) {
    VSTORE(out + o, SUFFIX(vtanh)(VLOAD(in + o, k)), k);
}

/// Scratch layout shared by forward and backward (floats; see tbg_edge_mlp_scratch_count).
typedef struct {
    float *w2, *wc;                       // H × HP each: W₂ᵀ, W_cᵀ (forward) or W₂, W_c (backward), zero beyond column H
    float *tile_a, *tile_b, *tile_c, *tile_d, *tile_e;  // TBG_EDGE_TILE × SP each, zero beyond column H
    float *product;                       // TBG_EDGE_TILE × HP
    float *vectors;                       // 9 × HP: w_r, w_d, then b₂, b_c (forward) or the vector gradients (backward)
    float *dw2, *dwc;                     // SP × HP each: ∂W₂, ∂W_c of this call (backward)
} SUFFIX(mlp_scratch);

TARGET static SUFFIX(mlp_scratch) SUFFIX(mlp_scratch_layout)(float *scratch, size_t h) {
    const size_t hp = tbg_edge_mlp_padded_width(h), sp = hp + 16, tile = (size_t)TBG_EDGE_TILE;
    SUFFIX(mlp_scratch) s;
    s.w2 = scratch;
    s.wc = s.w2 + h * hp;
    s.tile_a = s.wc + h * hp;
    s.tile_b = s.tile_a + tile * sp;
    s.tile_c = s.tile_b + tile * sp;
    s.tile_d = s.tile_c + tile * sp;
    s.tile_e = s.tile_d + tile * sp;
    s.product = s.tile_e + tile * sp;
    s.vectors = s.product + tile * hp;
    s.dw2 = s.vectors + 9 * hp;
    s.dwc = s.dw2 + sp * hp;
    // The tiles' columns beyond H must read as zero (the transposed products run over SP columns).
    for (size_t k = 0; k < 5 * tile * sp; k++) s.tile_a[k] = 0.0f;
    return s;
}

/// packed (H × HP) = W (transpose: Wᵀ) of a PyTorch-layout H × H weight (out × in), zero beyond column H.
TARGET static void SUFFIX(mlp_pack)(float *restrict packed, const float *restrict weight, size_t h, int transpose) {
    const size_t hp = tbg_edge_mlp_padded_width(h);
    for (size_t k = 0; k < h; k++) {
        for (size_t o = 0; o < hp; o++) packed[k * hp + o] = o < h ? (transpose ? weight[o * h + k] : weight[k * h + o]) : 0.0f;
    }
}

TARGET static void SUFFIX(edge_mlp_forward)(float *restrict aggregate, float *restrict x_next, const tbg_edge_mlp_saved *saved,
                                            float *restrict scratch, const tbg_edge_mlp_parameters *parameters,
                                            const tbg_edge_graph *graph, const float *restrict x, const float *restrict p,
                                            const float *restrict q, const float *restrict d2) {
    const size_t h = parameters->hidden, hp = tbg_edge_mlp_padded_width(h), sp = hp + 16, E = graph->edges, w1_stride = 2 * h + 2;
    const int32_t *restrict receivers = graph->receivers, *restrict senders = graph->senders;
    float *restrict delta = saved->delta, *restrict radial = saved->radial, *restrict norm = saved->norm;
    float *restrict z1 = saved->z1, *restrict s1 = saved->s1, *restrict z2 = saved->z2, *restrict s2 = saved->s2;
    float *restrict zc = saved->zc, *restrict sc = saved->sc, *restrict gate = saved->gate, *restrict coord_weight = saved->coord_weight;
    const float *restrict wa = parameters->attention_weight, *restrict wc = parameters->coord2_weight;
    const float ba = *parameters->attention_bias, rho = parameters->rho;
    SUFFIX(mlp_scratch) s = SUFFIX(mlp_scratch_layout)(scratch, h);
    SUFFIX(mlp_pack)(s.w2, parameters->edge2_weight, h, 1);
    SUFFIX(mlp_pack)(s.wc, parameters->coord1_weight, h, 1);
    // w_r, w_d; b₂ and b_c padded to HP with zeros: the products start from them.
    float *restrict wr = s.vectors, *restrict wd = s.vectors + hp, *restrict b2 = s.vectors + 2 * hp, *restrict bc = s.vectors + 3 * hp;
    for (size_t o = 0; o < hp; o++) b2[o] = bc[o] = 0.0f;
    for (size_t o = 0; o < h; o++) {
        wr[o] = parameters->edge1_weight[o * w1_stride + 2 * h];
        wd[o] = parameters->edge1_weight[o * w1_stride + 2 * h + 1];
        b2[o] = parameters->edge2_bias[o];
        bc[o] = parameters->coord1_bias[o];
    }
    if (aggregate) {
        for (size_t k = 0; k < graph->atoms * h; k++) aggregate[k] = 0.0f;
    }
    float *restrict act = s.tile_a, *restrict message = s.tile_b, *restrict product = s.product;
    for (size_t start = 0; start < E; start += TBG_EDGE_TILE) {
        const size_t count = E - start < TBG_EDGE_TILE ? E - start : TBG_EDGE_TILE;
        const size_t rows = (count + TILE_ROWS - 1) / TILE_ROWS * TILE_ROWS;
        // Geometry, z₁ and a₁ = SiLU(z₁).
        for (size_t t = 0; t < count; t++) {
            const size_t e = start + t, i = (size_t)receivers[e], j = (size_t)senders[e];
            float r = 0.0f;
            for (int axis = 0; axis < 3; axis++) {
                const float d = x[3 * i + axis] - x[3 * j + axis];
                delta[3 * e + axis] = d;
                r += d * d;
            }
            radial[e] = r;
            norm[e] = sqrtf(r + 1e-8f);
            EACH_VECTOR(h, SUFFIX(mlp_input_segment), z1 + e * h, s1 + e * h, act + t * sp, p + i * h, q + j * h, r, wr, d2[e], wd);
        }
        // z₂ = W₂ a₁ + b₂, m₀, the gate g and m = g m₀, summed into a_i.
        SUFFIX(mlp_product)(product, hp, act, sp, 1, s.w2, hp, rows, h, hp, 0, b2);
        float dots[TBG_EDGE_TILE];
        for (size_t t = 0; t < count; t++) {
            const size_t e = start + t;
            VF dot = VSET1(0.0f);
            EACH_VECTOR(h, SUFFIX(mlp_message_segment), &dot, z2 + e * h, s2 + e * h, message + t * sp, product + t * hp, wa);
            dots[t] = VSUM(dot);
        }
        EACH_VECTOR(count, SUFFIX(mlp_sigmoid_segment), gate + start, dots, ba);
        for (size_t t = 0; t < count; t++) {
            const size_t e = start + t;
            EACH_VECTOR(h, SUFFIX(mlp_gate_segment), message + t * sp, aggregate ? aggregate + (size_t)receivers[e] * h : NULL, gate[e]);
        }
        // z_c = W_c m + b_c, s = tanh(w_c·SiLU(z_c)), x'_i += ρ s Δ/(n+1).
        SUFFIX(mlp_product)(product, hp, message, sp, 1, s.wc, hp, rows, h, hp, 0, bc);
        for (size_t t = 0; t < count; t++) {
            const size_t e = start + t;
            VF dot = VSET1(0.0f);
            EACH_VECTOR(h, SUFFIX(mlp_coord_segment), &dot, zc + e * h, sc + e * h, product + t * hp, wc);
            dots[t] = VSUM(dot);
        }
        EACH_VECTOR(count, SUFFIX(mlp_tanh_segment), coord_weight + start, dots);
        for (size_t t = 0; t < count; t++) {
            const size_t e = start + t, i = (size_t)receivers[e];
            const float scale = rho * coord_weight[e] / (norm[e] + 1.0f);
            for (int axis = 0; axis < 3; axis++) x_next[3 * i + axis] += scale * delta[3 * e + axis];
        }
    }
}

/// Asks for row `offset` … `offset + h` of each of `count` saved E × H buffers, one 64-byte line (16
/// floats) at a time: the saved rows come from memory, and backward reads them MLP_PREFETCH_EDGES edges on.
KERNEL void SUFFIX(mlp_prefetch_rows)(const float *const *rows, int count, size_t offset, size_t h) {
    for (size_t o = 0; o < h; o += 16) {
        for (int r = 0; r < count; r++) __builtin_prefetch(rows[r] + offset + o);
    }
}

// ---- Backward row passes -----------------------------------------------------------------------

/// From the saved z_c, σ(z_c), z₂, σ(z₂): ∂z_c = ∂c w_c ⊙ SiLU′(z_c) into the tile; ∂w_c += ∂c SiLU(z_c);
/// ∂b_c += ∂z_c; m = g z₂σ(z₂) into its tile.
KERNEL void SUFFIX(mlp_coord_backward_segment)(size_t o, size_t k, float *dz, float *dwc, float *dbc, float *m,
                                               const float *zc, const float *sc, const float *wc, float c, const float *z2,
                                               const float *s2, float g) {
    VF zv = VLOAD(zc + o, k), s = VLOAD(sc + o, k), cv = VSET1(c);
    VF dzv = VMUL(VMUL(cv, VLOAD(wc + o, k)), SUFFIX(vslope)(zv, s));
    VSTORE(dz + o, dzv, k);
    VSTORE(dwc + o, VFMA(cv, VMUL(zv, s), VLOAD(dwc + o, k)), k);
    VSTORE(dbc + o, VADD(VLOAD(dbc + o, k), dzv), k);
    VF z2v = VLOAD(z2 + o, k), s2v = VLOAD(s2 + o, k);
    VSTORE(m + o, VMUL(VSET1(g), VMUL(z2v, s2v)), k);
}

/// ∂m = product + ∂a_i (in place in product), dot += ∂m ⊙ m₀.
KERNEL void SUFFIX(mlp_message_gradient_segment)(size_t o, size_t k, VF *dot, float *dm, const float *d_aggregate, const float *z2,
                                                 const float *s2) {
    VF value = VLOAD(dm + o, k);
    if (d_aggregate) value = VADD(value, VLOAD(d_aggregate + o, k));
    VSTORE(dm + o, value, k);
    *dot = VFMA(value, VMUL(VLOAD(z2 + o, k), VLOAD(s2 + o, k)), *dot);
}

/// ∂z₂ = (g ∂m + t w_a) ⊙ SiLU′(z₂) into the tile; ∂w_a += t m₀; ∂b₂ += ∂z₂; and from the saved z₁,
/// σ(z₁): a₁ = SiLU(z₁) and SiLU′(z₁) into their tiles.
KERNEL void SUFFIX(mlp_gate_backward_segment)(size_t o, size_t k, float *dz, float *dwa, float *db2, float *act, float *slope1,
                                              const float *dm, const float *z2, const float *s2, const float *wa, float g, float t,
                                              const float *z1, const float *s1) {
    VF zv = VLOAD(z2 + o, k), s = VLOAD(s2 + o, k), tv = VSET1(t);
    VF dzv = VMUL(VFMA(VLOAD(dm + o, k), VSET1(g), VMUL(tv, VLOAD(wa + o, k))), SUFFIX(vslope)(zv, s));
    VSTORE(dz + o, dzv, k);
    VSTORE(dwa + o, VFMA(tv, VMUL(zv, s), VLOAD(dwa + o, k)), k);
    VSTORE(db2 + o, VADD(VLOAD(db2 + o, k), dzv), k);
    VF z1v = VLOAD(z1 + o, k), s1v = VLOAD(s1 + o, k);
    VSTORE(act + o, VMUL(z1v, s1v), k);
    VSTORE(slope1 + o, SUFFIX(vslope)(z1v, s1v), k);
}

/// ∂z₁ = product ⊙ SiLU′(z₁); ∂P_i, ∂Q_j, ∂b₁ += ∂z₁; ∂w_r += r ∂z₁; ∂w_d += d² ∂z₁; dots with w_r, w_d.
KERNEL void SUFFIX(mlp_input_backward_segment)(size_t o, size_t k, VF *dot_r, VF *dot_d, float *dp, float *dq, float *db1, float *dwr,
                                               float *dwd, const float *product, const float *slope1, const float *wr,
                                               const float *wd, float r, float d) {
    VF v = VMUL(VLOAD(product + o, k), VLOAD(slope1 + o, k));
    VSTORE(dp + o, VADD(VLOAD(dp + o, k), v), k);
    VSTORE(dq + o, VADD(VLOAD(dq + o, k), v), k);
    VSTORE(db1 + o, VADD(VLOAD(db1 + o, k), v), k);
    VSTORE(dwr + o, VFMA(v, VSET1(r), VLOAD(dwr + o, k)), k);
    VSTORE(dwd + o, VFMA(v, VSET1(d), VLOAD(dwd + o, k)), k);
    *dot_r = VFMA(v, VLOAD(wr + o, k), *dot_r);
    *dot_d = VFMA(v, VLOAD(wd + o, k), *dot_d);
}

TARGET static void SUFFIX(edge_mlp_backward)(const tbg_edge_mlp_gradients *gradients, float *restrict dp, float *restrict dq,
                                             float *restrict dx, float *restrict dd2, float *restrict scratch,
                                             const tbg_edge_mlp_saved *saved, const tbg_edge_mlp_parameters *parameters,
                                             const tbg_edge_graph *graph, const float *restrict d_aggregate, const float *restrict dx_next,
                                             const float *restrict d2) {
    const size_t h = parameters->hidden, hp = tbg_edge_mlp_padded_width(h), sp = hp + 16, E = graph->edges, A = graph->atoms;
    const size_t w1_stride = 2 * h + 2;
    const int32_t *restrict receivers = graph->receivers, *restrict senders = graph->senders;
    const float *restrict delta = saved->delta, *restrict radial = saved->radial, *restrict norm = saved->norm;
    const float *restrict z2 = saved->z2, *restrict zc = saved->zc, *restrict gate = saved->gate;
    const float *restrict z1 = saved->z1, *restrict s1 = saved->s1, *restrict s2 = saved->s2, *restrict sc = saved->sc;
    const float *restrict coord_weight = saved->coord_weight;
    const float *restrict wa = parameters->attention_weight, *restrict wc = parameters->coord2_weight;
    const float rho = parameters->rho;
    SUFFIX(mlp_scratch) s = SUFFIX(mlp_scratch_layout)(scratch, h);
    SUFFIX(mlp_pack)(s.w2, parameters->edge2_weight, h, 0);
    SUFFIX(mlp_pack)(s.wc, parameters->coord1_weight, h, 0);
    float *restrict wr = s.vectors, *restrict wd = s.vectors + hp;
    float *restrict db1 = s.vectors + 2 * hp, *restrict dwr = s.vectors + 3 * hp, *restrict dwd = s.vectors + 4 * hp;
    float *restrict db2 = s.vectors + 5 * hp, *restrict dwa = s.vectors + 6 * hp, *restrict dbc = s.vectors + 7 * hp;
    float *restrict dwc = s.vectors + 8 * hp;
    for (size_t o = 0; o < h; o++) {
        wr[o] = parameters->edge1_weight[o * w1_stride + 2 * h];
        wd[o] = parameters->edge1_weight[o * w1_stride + 2 * h + 1];
    }
    for (size_t k = 2 * hp; k < 9 * hp; k++) s.vectors[k] = 0.0f;
    for (size_t k = 0; k < 2 * sp * hp; k++) s.dw2[k] = 0.0f;
    for (size_t k = 0; k < A * h; k++) dp[k] = dq[k] = 0.0f;
    for (size_t k = 0; k < A * 3; k++) dx[k] = dx_next[k];
    float dba = 0.0f;
    // Tiles: ∂z_c, m, ∂z₂, a₁, SiLU′(z₁). The weight gradients' rows (≤ SP) are H rounded up to TILE_ROWS.
    float *restrict dzc = s.tile_a, *restrict message = s.tile_b, *restrict dz2 = s.tile_c;
    float *restrict act = s.tile_d, *restrict slope1 = s.tile_e;
    float *restrict product = s.product;
    const size_t gradient_rows = (h + TILE_ROWS - 1) / TILE_ROWS * TILE_ROWS;
    for (size_t start = 0; start < E; start += TBG_EDGE_TILE) {
        const size_t count = E - start < TBG_EDGE_TILE ? E - start : TBG_EDGE_TILE;
        const size_t rows = (count + TILE_ROWS - 1) / TILE_ROWS * TILE_ROWS;
        float d_delta[TBG_EDGE_TILE][3];
        // The coordinate update x'_i = x_i + ρ Σ_j u s: ∂c and ∂Δ; the coordinate head; m.
        for (size_t t = 0; t < count; t++) {
            const size_t e = start + t, i = (size_t)receivers[e];
            const float n = norm[e], weight = coord_weight[e], *d = delta + 3 * e, *g = dx_next + 3 * i;
            const float delta_dot_g = d[0] * g[0] + d[1] * g[1] + d[2] * g[2];
            const float dc = rho * delta_dot_g / (n + 1.0f) * (1.0f - weight * weight);
            const float a = rho * weight / (n + 1.0f), b = rho * weight * delta_dot_g / (n * (n + 1.0f) * (n + 1.0f));
            for (int axis = 0; axis < 3; axis++) d_delta[t][axis] = a * g[axis] - b * d[axis];
            // The saved rows come from memory (all layers' far exceed L2): ask for z₂, σ(z₂), z_c,
            // σ(z_c) MLP_PREFETCH_EDGES edges ahead (backward 1.70 → 1.63 ms per AD2 layer, timed alone).
            if (e + MLP_PREFETCH_EDGES < E) {
                const float *rows[4] = {z2, s2, zc, sc};
                SUFFIX(mlp_prefetch_rows)(rows, 4, (e + MLP_PREFETCH_EDGES) * h, h);
            }
            EACH_VECTOR(h, SUFFIX(mlp_coord_backward_segment), dzc + t * sp, dwc, dbc, message + t * sp, zc + e * h,
                        sc + e * h, wc, dc, z2 + e * h, s2 + e * h, gate[e]);
        }
        // ∂m = ∂a_i + W_cᵀ∂z_c, then the gate and m₀ = SiLU(z₂): ∂z₂; z₁ again: a₁, SiLU′(z₁).
        SUFFIX(mlp_product)(product, hp, dzc, sp, 1, s.wc, hp, rows, h, hp, 0, NULL);
        for (size_t t = 0; t < count; t++) {
            const size_t e = start + t, i = (size_t)receivers[e];
            if (e + MLP_PREFETCH_EDGES < E) {
                const float *rows[2] = {z1, s1};
                SUFFIX(mlp_prefetch_rows)(rows, 2, (e + MLP_PREFETCH_EDGES) * h, h);
            }
            VF dot = VSET1(0.0f);
            EACH_VECTOR(h, SUFFIX(mlp_message_gradient_segment), &dot, product + t * hp, d_aggregate ? d_aggregate + i * h : NULL,
                        z2 + e * h, s2 + e * h);
            const float g = gate[e], gate_gradient = VSUM(dot) * g * (1.0f - g);
            dba += gate_gradient;
            EACH_VECTOR(h, SUFFIX(mlp_gate_backward_segment), dz2 + t * sp, dwa, db2, act + t * sp, slope1 + t * sp, product + t * hp,
                        z2 + e * h, s2 + e * h, wa, g, gate_gradient, z1 + e * h, s1 + e * h);
        }
        // ∂W_c += ∂z_c mᵀ and ∂W₂ += ∂z₂ a₁ᵀ over the tile's edges (rank-count updates).
        SUFFIX(mlp_product)(s.dwc, hp, dzc, 1, sp, message, sp, gradient_rows, count, hp, 1, NULL);
        SUFFIX(mlp_product)(s.dw2, hp, dz2, 1, sp, act, sp, gradient_rows, count, hp, 1, NULL);
        // ∂z₁ = W₂ᵀ∂z₂ ⊙ SiLU′(z₁), its scatter, and ∂x through Δ and r.
        SUFFIX(mlp_product)(product, hp, dz2, sp, 1, s.w2, hp, rows, h, hp, 0, NULL);
        for (size_t t = 0; t < count; t++) {
            const size_t e = start + t, i = (size_t)receivers[e], j = (size_t)senders[e];
            VF dot_r = VSET1(0.0f), dot_d = VSET1(0.0f);
            EACH_VECTOR(h, SUFFIX(mlp_input_backward_segment), &dot_r, &dot_d, dp + i * h, dq + j * h, db1, dwr, dwd, product + t * hp,
                        slope1 + t * sp, wr, wd, radial[e], d2[e]);
            const float dr = VSUM(dot_r);
            dd2[e] += VSUM(dot_d);
            for (int axis = 0; axis < 3; axis++) {
                const float total = d_delta[t][axis] + 2.0f * dr * delta[3 * e + axis];
                dx[3 * i + axis] += total;
                dx[3 * j + axis] -= total;
            }
        }
    }
    // This call's sums into the parameter gradients (PyTorch layout; W₁'s r and d² columns strided).
    for (size_t o = 0; o < h; o++) {
        for (size_t k = 0; k < h; k++) {
            gradients->edge2_weight[o * h + k] += s.dw2[o * hp + k];
            gradients->coord1_weight[o * h + k] += s.dwc[o * hp + k];
        }
        gradients->edge1_weight[o * w1_stride + 2 * h] += dwr[o];
        gradients->edge1_weight[o * w1_stride + 2 * h + 1] += dwd[o];
        gradients->edge1_bias[o] += db1[o];
        gradients->edge2_bias[o] += db2[o];
        gradients->attention_weight[o] += dwa[o];
        gradients->coord1_bias[o] += dbc[o];
        gradients->coord2_weight[o] += dwc[o];
    }
    *gradients->attention_bias += dba;
}
