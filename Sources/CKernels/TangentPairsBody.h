// One layer of the forward-mode divergence (Model/EGNNDivergence.swift) over its (tangent, edge)
// pairs, fused: the ȧ₁ row, its product with W₂, the message tangent and the coordinate tangent of
// a tile of pairs stay in the L1 cache, instead of going through memory between a row pass, a BLAS
// call and an accumulation pass (and through one Swift→C call per pair). Written once over
// VectorOps.h, included once per variant by Variants.c. Formulas (˙ the tangent, pair (τ, e), e = (i ← j)):
//   Δ̇ = ẋ_i − ẋ_j,  ṙ = 2Δ·Δ̇,  ȧ₁ = SiLU′(z₁) ⊙ (Ṗ_i + Q̇_j + ṙ w_r + ḋ² w_d)
//   with W₂ (not the last layer):  ṁ₀ = SiLU′(z₂) ⊙ W₂ȧ₁,  ġ = g(1−g) w_a·ṁ₀,  c = v_c·ṁ₀
//                                  aggregate_dot[τ, i] += g ṁ₀ + ġ m₀
//   without (the last layer):      ġ = g(1−g) k_a·ȧ₁,  c = k_c·ȧ₁
//   ṡ = (1−s²)(g c + ġ v_c·m₀),  x_next[τ, i] += ρ (u̇ s + u ṡ),  u̇ = Δ̇/(n+1) − Δ (Δ·Δ̇)/(n(n+1)²)
// The W₂ product is the register-tiled GEMM of TileProductBody.h (TILE_ROWS pairs × TILE_VECS vectors
// of outputs), over W₂ᵀ packed as H × HP (HP = H rounded up to 64, zero columns beyond H, so every tile is full).

/// row = (p + q + a u + b v) ⊙ slope (p, q NULL: zero).
KERNEL void SUFFIX(pair_row_segment)(size_t o, size_t k, float *row, const float *p, const float *q, float a, const float *u, float b,
                                     const float *v, const float *slope) {
    VF sum = VFMA(VSET1(b), VLOAD(v + o, k), VMUL(VSET1(a), VLOAD(u + o, k)));
    if (p) sum = VADD(sum, VADD(VLOAD(p + o, k), VLOAD(q + o, k)));
    VSTORE(row + o, VMUL(sum, VLOAD(slope + o, k)), k);
}

/// z ← slope ⊙ z (ṁ₀ in place), first += w_a ⊙ ṁ₀, second += v_c ⊙ ṁ₀.
KERNEL void SUFFIX(pair_message_segment)(size_t o, size_t k, VF *first, VF *second, float *z, const float *slope, const float *wa,
                                         const float *vc) {
    VF value = VMUL(VLOAD(z + o, k), VLOAD(slope + o, k));
    VSTORE(z + o, value, k);
    *first = VFMA(value, VLOAD(wa + o, k), *first);
    *second = VFMA(value, VLOAD(vc + o, k), *second);
}

/// target += g ṁ₀ + ġ m₀.
KERNEL void SUFFIX(pair_accumulate_segment)(size_t o, size_t k, float *target, float g, const float *m0dot, float gdot,
                                            const float *m0) {
    VF value = VFMA(VSET1(g), VLOAD(m0dot + o, k), VLOAD(target + o, k));
    VSTORE(target + o, VFMA(VSET1(gdot), VLOAD(m0 + o, k), value), k);
}

TARGET static void SUFFIX(tangent_pairs)(float *restrict aggregate_dot, float *restrict x_next, float *restrict scratch,
                                         const tbg_tangent_layer *layer, const int32_t *restrict pair_tangent,
                                         const int32_t *restrict pair_edge, size_t pairs) {
    // The layer's fields as restrict locals: through the struct, every store to a row would make the
    // compiler reload them.
    const size_t A = layer->atoms, E = layer->edges, h = layer->hidden, hp = tbg_tangent_padded_width(h);
    const float *restrict x_dot = layer->x_dot, *restrict p_dot = layer->p_dot, *restrict q_dot = layer->q_dot;
    const float *restrict d2_dot = layer->d2_dot, *restrict delta = layer->delta;
    const int32_t *restrict receivers = layer->receivers, *restrict senders = layer->senders;
    const float *restrict inverse_norm = layer->inverse_norm, *restrict inverse_norm_plus_one = layer->inverse_norm_plus_one;
    const float *restrict gate = layer->gate, *restrict coord_weight = layer->coord_weight;
    const float *restrict coord_message_product = layer->coord_message_product;
    const float *restrict slope1 = layer->slope1, *restrict slope2 = layer->slope2, *restrict message0 = layer->message0;
    const float *restrict coord_vector = layer->coord_vector, *restrict gate_kernel = layer->gate_kernel;
    const float *restrict coord_kernel = layer->coord_kernel, *restrict column_r = layer->column_r, *restrict column_d = layer->column_d;
    const float *restrict attention_weight = layer->attention_weight, *restrict w2 = layer->w2_packed;
    const float rho = layer->rho;
    float *restrict rows = scratch;                                   // TILE_ROWS × h: ȧ₁
    float *restrict products = scratch + TBG_TANGENT_TILE_ROWS_MAX * h;  // TILE_ROWS × hp: W₂ȧ₁, then ṁ₀
    for (size_t start = 0; start < pairs; start += TILE_ROWS) {
        const size_t count = pairs - start < TILE_ROWS ? pairs - start : TILE_ROWS;
        // Per pair of the tile: Δ̇ and Δ·Δ̇ for the coordinate tangent after the products.
        float delta_dot[TILE_ROWS][3], delta_dot_delta[TILE_ROWS];
        float gate_product[TILE_ROWS], coord_product[TILE_ROWS];
        for (size_t r = 0; r < count; r++) {
            const size_t tau = (size_t)pair_tangent[start + r], e = (size_t)pair_edge[start + r];
            const size_t i = (size_t)receivers[e], j = (size_t)senders[e];
            const float *xi = x_dot + (tau * A + i) * 3, *xj = x_dot + (tau * A + j) * 3, *d = delta + 3 * e;
            const float dd0 = xi[0] - xj[0], dd1 = xi[1] - xj[1], dd2 = xi[2] - xj[2];
            delta_dot[r][0] = dd0;
            delta_dot[r][1] = dd1;
            delta_dot[r][2] = dd2;
            const float ddd = d[0] * dd0 + d[1] * dd1 + d[2] * dd2;
            delta_dot_delta[r] = ddd;
            const float *p = p_dot ? p_dot + (tau * A + i) * h : NULL, *q = q_dot ? q_dot + (tau * A + j) * h : NULL;
            float *row = rows + r * h;
            const float *slope = slope1 + e * h;
            if (w2) {
                EACH_VECTOR(h, SUFFIX(pair_row_segment), row, p, q, 2 * ddd, column_r, d2_dot[tau * E + e], column_d, slope);
            } else {
                VF first = VSET1(0.0f), second = VSET1(0.0f);
                EACH_VECTOR(h, SUFFIX(tangent_row_segment), &first, &second, row, p, q, 2 * ddd, column_r, d2_dot[tau * E + e],
                            column_d, slope, gate_kernel + e * h, coord_kernel + e * h);
                gate_product[r] = VSUM(first);
                coord_product[r] = VSUM(second);
            }
        }
        if (w2) {
            for (size_t r = count; r < TILE_ROWS; r++) {
                for (size_t o = 0; o < h; o++) rows[r * h + o] = 0.0f;
            }
            SUFFIX(tile_product)(products, hp, rows, h, 1, w2, hp, h, hp, 0, NULL);
        }
        for (size_t r = 0; r < count; r++) {
            const size_t tau = (size_t)pair_tangent[start + r], e = (size_t)pair_edge[start + r];
            const size_t i = (size_t)receivers[e];
            const float g = gate[e], s = coord_weight[e];
            float gdot, coord;
            if (w2) {
                float *m0dot = products + r * hp;
                VF first = VSET1(0.0f), second = VSET1(0.0f);
                EACH_VECTOR(h, SUFFIX(pair_message_segment), &first, &second, m0dot, slope2 + e * h, attention_weight,
                            coord_vector + e * h);
                gdot = g * (1.0f - g) * VSUM(first);
                coord = VSUM(second);
                EACH_VECTOR(h, SUFFIX(pair_accumulate_segment), aggregate_dot + (tau * A + i) * h, g, m0dot, gdot, message0 + e * h);
            } else {
                gdot = g * (1.0f - g) * gate_product[r];
                coord = coord_product[r];
            }
            const float sdot = (1.0f - s * s) * (g * coord + gdot * coord_message_product[e]);
            const float inverse = inverse_norm_plus_one[e];
            const float radial_part = delta_dot_delta[r] * inverse_norm[e] * inverse * inverse;
            const float *d = delta + 3 * e;
            float *target = x_next + (tau * A + i) * 3;
            for (int axis = 0; axis < 3; axis++) {
                target[axis] += rho * ((delta_dot[r][axis] * inverse - d[axis] * radial_part) * s + d[axis] * inverse * sdot);
            }
        }
    }
}
