// Hot loops of the model in C, so that AVX2/FMA and AVX-512 can be used where the CPU has them
// (chosen at run time, KernelVariant.c) while the package stays free of -march flags
// (Package.swift). Each kernel is written once over VectorOps.h and compiled as three variants
// (Variants.c). All buffers are float32, row-major; "rows of H" means row e starts at e·H.
// Outputs come first, then inputs, then sizes (llm.c's order). No allocation, no I/O.
#ifndef TBG_CKERNELS_H
#define TBG_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

// ---- Variant selection (KernelVariant.c) -------------------------------------------------------

#define TBG_KERNELS_PORTABLE 0
#define TBG_KERNELS_AVX2 1
#define TBG_KERNELS_AVX512 2
#define TBG_KERNELS_NOT_REQUESTED (-1)
#define TBG_KERNELS_UNRECOGNISED (-2)

/// Kernel families, each with its own variant: the layer's passes (elementwise activations and
/// edge passes of forward and backward) and the divergence's tangent kernels.
#define TBG_KERNEL_FAMILY_LAYER 0
#define TBG_KERNEL_FAMILY_TANGENT 1
#define TBG_KERNEL_FAMILIES 2

/// The variant a family runs: decided on the first call (TBG_KERNELS_<FAMILY>, else TBG_KERNELS,
/// if set and supported; else tbg_kernels_family_default), or the last successful select.
int tbg_kernels_family_active(int family);
/// The layer family's variant (tbg_kernels_family_active(TBG_KERNEL_FAMILY_LAYER)).
int tbg_kernels_active(void);
/// The variant a family runs unless asked otherwise: the best supported, except where a narrower
/// one measured faster for that family on this CPU (the rule is in KernelVariant.c).
int tbg_kernels_family_default(int family);
/// Whether this CPU (and build) can run `variant`.
int tbg_kernels_supported(int variant);
/// The best supported variant.
int tbg_kernels_best(void);
/// The variant TBG_KERNELS names, TBG_KERNELS_NOT_REQUESTED if unset, TBG_KERNELS_UNRECOGNISED.
int tbg_kernels_requested(void);
/// The variant asked for a family: TBG_KERNELS_<FAMILY> if set, else tbg_kernels_requested().
int tbg_kernels_family_requested(int family);
/// Makes `variant` the active one of every family if supported (returns 1), else leaves them (0).
int tbg_kernels_select(int variant);
/// Makes `variant` the active one of `family` if supported (returns 1), else leaves it (0).
int tbg_kernels_family_select(int family, int variant);
/// "layer", "tangent".
const char *tbg_kernels_family_name(int family);
/// "portable", "avx2", "avx512".
const char *tbg_kernels_name(int variant);

// ---- Elementwise activations (ElementwiseBody.h); n values each ---------------------------------

/// sigma = σ(z).
void tbg_sigmoid_f32(float *sigma, const float *z, size_t n);
/// sigma = σ(z), y = SiLU(z) = z σ(z).
void tbg_sigmoid_silu_f32(float *sigma, float *y, const float *z, size_t n);
/// out = a ⊙ b (out may be a or b).
void tbg_multiply_f32(float *out, const float *a, const float *b, size_t n);
/// slope = SiLU′(z) = σ(1 + z(1 − σ)) from z and sigma = σ(z) (slope may be sigma).
void tbg_silu_slope_f32(float *slope, const float *z, const float *sigma, size_t n);
/// dz = dy ⊙ SiLU′(z), with sigma = σ(z) (dz may be dy).
void tbg_silu_backward_f32(float *dz, const float *dy, const float *z, const float *sigma, size_t n);

// ---- The E_GCL layer's edge passes (EdgeLayerBody.h); E edges, rows of H ------------------------

/// z₁ = P[receiver] + Q[sender] + r w_r + d² w_d + b₁, sigma = σ(z₁), act = SiLU(z₁).
/// p, q: A × H; radial, d2: E; wr, wd, bias: H; z, sigma, act: E × H.
void tbg_edge_input_f32(float *z, float *sigma, float *act, const float *p, const float *q, const int32_t *receivers,
                        const int32_t *senders, const float *radial, const float *d2, const float *wr, const float *wd,
                        const float *bias, size_t edges, size_t h);
/// sigma = σ(z₂), gate = σ(w_a·SiLU(z₂) + b_a) (E), m = gate · SiLU(z₂).
void tbg_message_f32(float *sigma, float *gate, float *m, const float *z, const float *wa, float ba, size_t edges, size_t h);
/// sigma = σ(z_c), logit = w_c·SiLU(z_c) (E).
void tbg_coord_logit_f32(float *sigma, float *logit, const float *z, const float *wc, size_t edges, size_t h);
/// m0 = z σ (SiLU from the stored σ), m = gate · m0.
void tbg_gated_silu_f32(float *m0, float *m, const float *z, const float *sigma, const float *gate, size_t edges, size_t h);
/// dz = dlogit w_c ⊙ SiLU′(z_c); dwc (H) += Σ_e dlogit SiLU(z_c).
void tbg_coord_backward_f32(float *dz, float *dwc, const float *dlogit, const float *z, const float *sigma, const float *wc,
                            size_t edges, size_t h);
/// t = g(1−g) dm·m0; dz = (g dm + t w_a) ⊙ SiLU′(z₂); dwa (H) += Σ t m0; *dba += Σ t.
void tbg_gate_backward_f32(float *dz, float *dwa, float *dba, const float *dm, const float *m0, const float *z, const float *sigma,
                           const float *gate, const float *wa, size_t edges, size_t h);
/// With v = dz row e: dq[sender] += v (dq: A × H); db, dwr, dwd (H) += v, r v, d² v;
/// dr[e] = w_r·v; dd2[e] += w_d·v.
void tbg_edge_input_backward_f32(float *dq, float *db, float *dwr, float *dwd, float *dr, float *dd2, const float *dz,
                                 const int32_t *senders, const float *radial, const float *d2, const float *wr, const float *wd,
                                 size_t edges, size_t h);

// ---- The layer's edge MLP, fused over tiles of edges (EdgeMLPBody.h) -----------------------------

/// Edges per tile: a multiple of every variant's register-tile rows (4, 6).
#define TBG_EDGE_TILE 48

/// HP: H rounded up to 64, the row length of the packed weights (every variant's tile width divides 64).
static inline size_t tbg_edge_mlp_padded_width(size_t h) { return (h + 63) / 64 * 64; }

/// Floats of scratch the fused edge-MLP kernels need (SP = HP + 16): two packed H × HP weights,
/// five TBG_EDGE_TILE × SP tiles, a TBG_EDGE_TILE × HP product, 9 HP vectors and two SP × HP
/// weight-gradient blocks.
static inline size_t tbg_edge_mlp_scratch_count(size_t h) {
    const size_t hp = tbg_edge_mlp_padded_width(h), sp = hp + 16;
    return 2 * h * hp + 5 * (size_t)TBG_EDGE_TILE * sp + (size_t)TBG_EDGE_TILE * hp + 9 * hp + 2 * sp * hp;
}

/// The batch's directed edges e = (i ← j), grouped by receiver. A atoms, E edges.
typedef struct {
    const int32_t *receivers, *senders;  // E
    size_t atoms, edges;
} tbg_edge_graph;

/// One layer's parameters as the edge MLP reads them (pointers into the parameter arena, PyTorch
/// layout out × in). H hidden.
typedef struct {
    const float *edge1_weight;           // H × (2H+2): [W₁ₐ | W₁ᵦ | w_r | w_d]; only the w_r, w_d columns are read
    const float *edge1_bias;             // H: b₁ (not read: the kernels take P + b₁)
    const float *edge2_weight;           // H × H: W₂
    const float *edge2_bias;             // H: b₂
    const float *attention_weight;       // H: w_a
    const float *attention_bias;         // 1: b_a
    const float *coord1_weight;          // H × H: W_c
    const float *coord1_bias;            // H: b_c
    const float *coord2_weight;          // H: w_c (no bias)
    float rho;                           // ρ, the coordinate step scale
    size_t hidden;
} tbg_edge_mlp_parameters;

/// The same tensors' gradients (pointers into the gradient arena), accumulated (+=).
typedef struct {
    float *edge1_weight;                 // H × (2H+2): only the w_r, w_d columns are written
    float *edge1_bias, *edge2_weight, *edge2_bias, *attention_weight, *attention_bias, *coord1_weight, *coord1_bias,
        *coord2_weight;
} tbg_edge_mlp_gradients;

/// What the forward pass saves per edge for the backward pass and the divergence (every pointer non-NULL).
typedef struct {
    float *delta;                        // E × 3: Δ = x_i − x_j
    float *radial, *norm;                // E: r = |Δ|², n = √(r + 1e-8)
    float *z2, *zc;                      // E × H: z₂, z_c
    float *gate, *coord_weight;          // E: g, s = tanh(w_c·SiLU(z_c))
    float *z1, *s1, *s2, *sc;            // E × H: z₁, σ(z₁), σ(z₂), σ(z_c)
} tbg_edge_mlp_saved;

/// Forward through the edge MLP and the coordinate update of one layer (formulas in EdgeMLPBody.h):
/// writes `saved`; aggregate (A × H) = Σ_j m over each receiver's edges (aggregate NULL: not formed,
/// the last layer); x_next (A × 3, holding x on entry) += ρ Σ_j u s. x: A × 3; p, q: A × H (p = h W₁ₐᵀ + b₁,
/// q = h W₁ᵦᵀ); d2: E. scratch: tbg_edge_mlp_scratch_count(H) floats.
void tbg_edge_mlp_forward_f32(float *aggregate, float *x_next, const tbg_edge_mlp_saved *saved, float *scratch,
                              const tbg_edge_mlp_parameters *parameters, const tbg_edge_graph *graph, const float *x, const float *p,
                              const float *q, const float *d2);

/// Backward through the same, given forward's saved state, from d_aggregate = ∂L/∂a (A × H;
/// NULL: zero) and dx_next = ∂L/∂x′ (A × 3): accumulates the parameter gradients; writes dp, dq =
/// ∂L/∂P, ∂L/∂Q (A × H) and dx = ∂L/∂x through this layer's coordinate paths plus dx_next (A × 3);
/// dd2 (E) += ∂L/∂d².
void tbg_edge_mlp_backward_f32(const tbg_edge_mlp_gradients *gradients, float *dp, float *dq, float *dx, float *dd2, float *scratch,
                               const tbg_edge_mlp_saved *saved, const tbg_edge_mlp_parameters *parameters, const tbg_edge_graph *graph,
                               const float *d_aggregate, const float *dx_next, const float *d2);

// ---- The divergence's tangent rows (TangentRowsBody.h) ------------------------------------------

/// row[o] = (p[o] + q[o] + a·u[o] + b·v[o]) · slope[o] for o < count (p and q may both be NULL:
/// zero); returns row·k1 in products[0] and row·k2 in products[1].
void tbg_tangent_row_f32(float *row, const float *p, const float *q, float a, const float *u, float b,
                         const float *v, const float *slope, const float *k1, const float *k2, size_t count,
                         float *products);

/// target[o] += g · slope[o] · row[o] + c · m[o] for o < count.
void tbg_accumulate_message_tangent_f32(float *target, float g, const float *slope, const float *row, float c,
                                        const float *m, size_t count);

// ---- One layer of the divergence over its (tangent, edge) pairs (TangentPairsBody.h) -------------

/// Pairs per register tile, at most (the scratch holds this many rows).
#define TBG_TANGENT_TILE_ROWS_MAX 8

/// HP: H rounded up to 64, the row length of the packed W₂ᵀ (every variant's tile width divides 64).
static inline size_t tbg_tangent_padded_width(size_t h) { return (h + 63) / 64 * 64; }

/// The column multiple tbg_linear_product_f32 needs in the tangent family's variant; 0 where that
/// variant is portable (the caller then keeps OpenBLAS).
size_t tbg_linear_product_width(void);
/// out (rows × n) = [out +] x (rows × k) · wt, wt = Wᵀ packed (k × n, row stride n), n a multiple of
/// tbg_linear_product_width() (LinearProductBody.h; the divergence's row products).
void tbg_linear_product_f32(float *out, const float *x, const float *wt, size_t rows, size_t k, size_t n, int accumulate);
/// Floats of scratch tbg_tangent_pairs_f32 needs: the tile's ȧ₁ rows (H) and products (HP).
static inline size_t tbg_tangent_scratch_count(size_t h) { return TBG_TANGENT_TILE_ROWS_MAX * (h + tbg_tangent_padded_width(h)); }

/// What one layer's pairs read. T tangents, A atoms, E edges, H hidden; tangent rows are τ·A + atom.
typedef struct {
    const float *x_dot;                  // T·A × 3: ẋ of the layer input
    const float *p_dot, *q_dot;          // T·A × H: Ṗ = ḣW₁ₐᵀ, Q̇ = ḣW₁ᵦᵀ; both NULL where ḣ = 0 (layer 0)
    const float *d2_dot;                 // T × E: ḋ² of the input distances
    const int32_t *receivers, *senders;  // E
    const float *delta;                  // E × 3: Δ = x_i − x_j of this layer
    const float *inverse_norm;           // E: 1/n
    const float *inverse_norm_plus_one;  // E: 1/(n+1)
    const float *gate, *coord_weight;    // E: g, s
    const float *coord_message_product;  // E: v_c·m₀
    const float *slope1, *slope2;        // E × H: SiLU′(z₁), SiLU′(z₂)
    const float *message0;               // E × H: m₀ = SiLU(z₂)
    const float *coord_vector;           // E × H: v_c = W_cᵀ(SiLU′(z_c) ⊙ w_c)
    const float *gate_kernel;            // E × H: k_a = W₂ᵀ(SiLU′(z₂) ⊙ w_a)   (read only without W₂)
    const float *coord_kernel;           // E × H: k_c = W₂ᵀ(SiLU′(z₂) ⊙ v_c)   (read only without W₂)
    const float *column_r, *column_d;    // H: W₁'s columns of r and d²
    const float *attention_weight;       // H: w_a
    const float *w2_packed;              // H × HP: W₂ᵀ, zero beyond column H; NULL in the last layer (no ṁ)
    float rho;                           // ρ, the coordinate step scale
    size_t atoms, edges, hidden;
} tbg_tangent_layer;

/// For each pair (pair_tangent[p], pair_edge[p]): ȧ₁, and with W₂ the message tangent
/// aggregate_dot[τ·A + i] (T·A × H) += g ṁ₀ + ġ m₀; always x_next[τ·A + i] (T·A × 3) += ρ (u̇ s + u ṡ).
/// scratch: tbg_tangent_scratch_count(H) floats. aggregate_dot is not read without W₂ (may be NULL).
void tbg_tangent_pairs_f32(float *aggregate_dot, float *x_next, float *scratch, const tbg_tangent_layer *layer,
                           const int32_t *pair_tangent, const int32_t *pair_edge, size_t pairs);

#endif
