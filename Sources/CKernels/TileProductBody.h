// The register-tiled product every fused kernel uses for its H × H layers (EdgeMLPBody.h: W₂ and W_c
// forward and backward, and the weight gradients; TangentPairsBody.h: W₂ȧ₁ of the divergence):
// TILE_ROWS rows × TILE_VECS vectors of outputs held in registers over the whole depth, the rows
// broadcast one value at a time. Written once over VectorOps.h, included once per variant by
// Variants.c before the bodies that use it.

#undef TILE_ROWS
#undef TILE_VECS
#if TBG_VARIANT == 0
#define TILE_ROWS 4
#define TILE_VECS 4
#elif TBG_VARIANT == 1
#define TILE_ROWS 6   // 12 accumulators + 2 weight vectors + 1 broadcast of AVX2's 16 registers
#define TILE_VECS 2
#else
#define TILE_ROWS 6   // 24 accumulators + 4 weight vectors + 1 broadcast of AVX-512's 32 registers
#define TILE_VECS 4
#endif

/// out[r, c] = init[r, c] + Σ_k a[r·a_row + k·a_depth] b[k·ldb + c] for r < TILE_ROWS, c < cols (a
/// multiple of TILE_VECS·W), where init is out itself (accumulate), else the row vector bias (cols
/// long; NULL: zero). a_row = row stride, a_depth = 1 reads a tile's rows; a_row = 1, a_depth = row
/// stride reads it transposed (the weight gradients).
TARGET static inline void SUFFIX(tile_product)(float *restrict out, size_t ldo, const float *restrict a, size_t a_row, size_t a_depth,
                                               const float *restrict b, size_t ldb, size_t depth, size_t cols, int accumulate,
                                               const float *restrict bias) {
    for (size_t c = 0; c < cols; c += TILE_VECS * W) {
        VF acc[TILE_ROWS][TILE_VECS];
#pragma GCC unroll 8
        for (int r = 0; r < TILE_ROWS; r++)
#pragma GCC unroll 8
            for (int v = 0; v < TILE_VECS; v++) {
                acc[r][v] = accumulate ? VLOAD(out + r * ldo + c + v * W, W) : bias ? VLOAD(bias + c + v * W, W) : VSET1(0.0f);
            }
        for (size_t k = 0; k < depth; k++) {
            VF bv[TILE_VECS];
#pragma GCC unroll 8
            for (int v = 0; v < TILE_VECS; v++) bv[v] = VLOAD(b + k * ldb + c + v * W, W);
            const float *ak = a + k * a_depth;
#pragma GCC unroll 8
            for (int r = 0; r < TILE_ROWS; r++) {
                VF av = VSET1(ak[r * a_row]);
#pragma GCC unroll 8
                for (int v = 0; v < TILE_VECS; v++) acc[r][v] = VFMA(av, bv[v], acc[r][v]);
            }
        }
#pragma GCC unroll 8
        for (int r = 0; r < TILE_ROWS; r++)
#pragma GCC unroll 8
            for (int v = 0; v < TILE_VECS; v++) VSTORE(out + r * ldo + c + v * W, acc[r][v], W);
    }
}

