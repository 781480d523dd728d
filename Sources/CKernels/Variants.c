// Every C kernel in three variants (portable, AVX2/FMA, AVX-512F): the bodies in *Body.h are
// written once over VectorOps.h and included once per variant; the exported tbg_*_f32 functions
// dispatch to the variant KernelVariant.c chose.
#include "CKernels.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define TBG_HAVE_X86_VARIANTS 1
#endif

/// σ(x) of one value (the gates: one per edge).
static inline float tbg_sigmoid_scalar(float x) { return 1.0f / (1.0f + expf(-x)); }

#define TBG_VARIANT 0
#include "VectorOps.h"
#include "ElementwiseBody.h"
#include "EdgeLayerBody.h"
#include "TangentRowsBody.h"
#include "TileProductBody.h"
#include "LinearProductBody.h"
#include "TangentPairsBody.h"
#include "EdgeMLPBody.h"
#undef TBG_VARIANT

#ifdef TBG_HAVE_X86_VARIANTS
#define TBG_VARIANT 1
#include "VectorOps.h"
#include "ElementwiseBody.h"
#include "EdgeLayerBody.h"
#include "TangentRowsBody.h"
#include "TileProductBody.h"
#include "LinearProductBody.h"
#include "TangentPairsBody.h"
#include "EdgeMLPBody.h"
#undef TBG_VARIANT

#define TBG_VARIANT 2
#include "VectorOps.h"
#include "ElementwiseBody.h"
#include "EdgeLayerBody.h"
#include "TangentRowsBody.h"
#include "TileProductBody.h"
#include "LinearProductBody.h"
#include "TangentPairsBody.h"
#include "EdgeMLPBody.h"
#undef TBG_VARIANT

#define DISPATCH_FAMILY(family, name, arguments)                                     \
    switch (tbg_kernels_family_active(family)) {                                     \
    case TBG_KERNELS_AVX512: name##_avx512 arguments; return;                        \
    case TBG_KERNELS_AVX2: name##_avx2 arguments; return;                            \
    default: name##_portable arguments; return;                                      \
    }
#else
#define DISPATCH_FAMILY(family, name, arguments) name##_portable arguments
#endif
/// The layer's passes (elementwise, edge forward and backward) and the divergence's tangent kernels.
#define DISPATCH(name, arguments) DISPATCH_FAMILY(TBG_KERNEL_FAMILY_LAYER, name, arguments)
#define DISPATCH_TANGENT(name, arguments) DISPATCH_FAMILY(TBG_KERNEL_FAMILY_TANGENT, name, arguments)

void tbg_sigmoid_f32(float *sigma, const float *z, size_t n) { DISPATCH(sigmoid, (sigma, z, n)); }

void tbg_sigmoid_silu_f32(float *sigma, float *y, const float *z, size_t n) { DISPATCH(sigmoid_silu, (sigma, y, z, n)); }

void tbg_multiply_f32(float *out, const float *a, const float *b, size_t n) { DISPATCH(multiply, (out, a, b, n)); }

void tbg_silu_slope_f32(float *slope, const float *z, const float *sigma, size_t n) { DISPATCH(silu_slope, (slope, z, sigma, n)); }

void tbg_silu_backward_f32(float *dz, const float *dy, const float *z, const float *sigma, size_t n) {
    DISPATCH(silu_backward, (dz, dy, z, sigma, n));
}

void tbg_edge_input_f32(float *z, float *sigma, float *act, const float *p, const float *q, const int32_t *receivers,
                        const int32_t *senders, const float *radial, const float *d2, const float *wr, const float *wd,
                        const float *bias, size_t edges, size_t h) {
    DISPATCH(edge_input, (z, sigma, act, p, q, receivers, senders, radial, d2, wr, wd, bias, edges, h));
}

void tbg_message_f32(float *sigma, float *gate, float *m, const float *z, const float *wa, float ba, size_t edges, size_t h) {
    DISPATCH(message, (sigma, gate, m, z, wa, ba, edges, h));
}

void tbg_coord_logit_f32(float *sigma, float *logit, const float *z, const float *wc, size_t edges, size_t h) {
    DISPATCH(coord_logit, (sigma, logit, z, wc, edges, h));
}

void tbg_gated_silu_f32(float *m0, float *m, const float *z, const float *sigma, const float *gate, size_t edges, size_t h) {
    DISPATCH(gated_silu, (m0, m, z, sigma, gate, edges, h));
}

void tbg_coord_backward_f32(float *dz, float *dwc, const float *dlogit, const float *z, const float *sigma, const float *wc,
                            size_t edges, size_t h) {
    DISPATCH(coord_backward, (dz, dwc, dlogit, z, sigma, wc, edges, h));
}

void tbg_gate_backward_f32(float *dz, float *dwa, float *dba, const float *dm, const float *m0, const float *z, const float *sigma,
                           const float *gate, const float *wa, size_t edges, size_t h) {
    DISPATCH(gate_backward, (dz, dwa, dba, dm, m0, z, sigma, gate, wa, edges, h));
}

void tbg_edge_input_backward_f32(float *dq, float *db, float *dwr, float *dwd, float *dr, float *dd2, const float *dz,
                                 const int32_t *senders, const float *radial, const float *d2, const float *wr, const float *wd,
                                 size_t edges, size_t h) {
    DISPATCH(edge_input_backward, (dq, db, dwr, dwd, dr, dd2, dz, senders, radial, d2, wr, wd, edges, h));
}

void tbg_edge_mlp_forward_f32(float *aggregate, float *x_next, const tbg_edge_mlp_saved *saved, float *scratch,
                              const tbg_edge_mlp_parameters *parameters, const tbg_edge_graph *graph, const float *x, const float *p,
                              const float *q, const float *d2) {
    DISPATCH(edge_mlp_forward, (aggregate, x_next, saved, scratch, parameters, graph, x, p, q, d2));
}

void tbg_edge_mlp_backward_f32(const tbg_edge_mlp_gradients *gradients, float *dp, float *dq, float *dx, float *dd2, float *scratch,
                               const tbg_edge_mlp_saved *saved, const tbg_edge_mlp_parameters *parameters, const tbg_edge_graph *graph,
                               const float *d_aggregate, const float *dx_next, const float *d2) {
    DISPATCH(edge_mlp_backward, (gradients, dp, dq, dx, dd2, scratch, saved, parameters, graph, d_aggregate, dx_next, d2));
}

void tbg_tangent_row_f32(float *row, const float *p, const float *q, float a, const float *u, float b, const float *v,
                         const float *slope, const float *k1, const float *k2, size_t count, float *products) {
    DISPATCH_TANGENT(tangent_row, (row, p, q, a, u, b, v, slope, k1, k2, count, products));
}

void tbg_accumulate_message_tangent_f32(float *target, float g, const float *slope, const float *row, float c, const float *m,
                                        size_t count) {
    DISPATCH_TANGENT(accumulate_message_tangent, (target, g, slope, row, c, m, count));
}

void tbg_tangent_pairs_f32(float *aggregate_dot, float *x_next, float *scratch, const tbg_tangent_layer *layer,
                           const int32_t *pair_tangent, const int32_t *pair_edge, size_t pairs) {
    DISPATCH_TANGENT(tangent_pairs, (aggregate_dot, x_next, scratch, layer, pair_tangent, pair_edge, pairs));
}

size_t tbg_linear_product_width(void) {
#ifdef TBG_HAVE_X86_VARIANTS
    switch (tbg_kernels_family_active(TBG_KERNEL_FAMILY_TANGENT)) {
    case TBG_KERNELS_AVX512: return linear_product_width_avx512();
    case TBG_KERNELS_AVX2: return linear_product_width_avx2();
    default: return 0;
    }
#else
    return 0;
#endif
}

void tbg_linear_product_f32(float *out, const float *x, const float *wt, size_t rows, size_t k, size_t n, int accumulate) {
    DISPATCH_TANGENT(linear_product, (out, x, wt, rows, k, n, accumulate));
}
