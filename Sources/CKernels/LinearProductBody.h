// y (rows × n) = [y +] x (rows × k) · Wᵀ on Wᵀ packed (k × n, row stride n): the divergence's
// row products (Ṗ, Q̇, ż_n, ḣ over τ·A rows of H; Model/EGNNDivergence.swift) by the register-tiled
// product of TileProductBody.h, where OpenBLAS packed the rows of x on every call. n must be a
// multiple of TILE_VECS·W (linear_product_width); the last rows % TILE_ROWS rows go one at a time.
// Included once per variant by Variants.c, after TileProductBody.h.

/// The column multiple linear_product needs in this variant.
__attribute__((unused)) TARGET static size_t SUFFIX(linear_product_width)(void) { return TILE_VECS * W; }

TARGET static void SUFFIX(linear_product)(float *restrict out, const float *restrict x, const float *restrict wt, size_t rows, size_t k,
                                          size_t n, int accumulate) {
    size_t full = rows - rows % TILE_ROWS;
    for (size_t r = 0; r < full; r += TILE_ROWS) {
        SUFFIX(tile_product)(out + r * n, n, x + r * k, k, 1, wt, n, k, n, accumulate, NULL);
    }
    for (size_t r = full; r < rows; r++) {
        for (size_t c = 0; c < n; c += W) {
            VF acc = accumulate ? VLOAD(out + r * n + c, W) : VSET1(0.0f);
            for (size_t j = 0; j < k; j++) acc = VFMA(VSET1(x[r * k + j]), VLOAD(wt + j * n + c, W), acc);
            VSTORE(out + r * n + c, acc, W);
        }
    }
}
