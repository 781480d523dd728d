// The forward-mode divergence's per-(tangent, edge) rows (Model/EGNNDivergence.swift), written
// once over VectorOps.h (included once per variant by Variants.c).
//   tangent_row   row = (p + q + a u + b v) ⊙ slope (p, q may be NULL: zero); row·k1, row·k2
//   accumulate    target += g slope ⊙ row + c m

KERNEL void SUFFIX(tangent_row_segment)(size_t o, size_t k, VF *first, VF *second, float *row, const float *p, const float *q,
                                        float a, const float *u, float b, const float *v, const float *slope, const float *k1,
                                        const float *k2) {
    VF sum = VFMA(VSET1(b), VLOAD(v + o, k), VMUL(VSET1(a), VLOAD(u + o, k)));
    if (p) sum = VADD(sum, VADD(VLOAD(p + o, k), VLOAD(q + o, k)));
    VF value = VMUL(sum, VLOAD(slope + o, k));
    VSTORE(row + o, value, k);
    *first = VFMA(value, VLOAD(k1 + o, k), *first);
    *second = VFMA(value, VLOAD(k2 + o, k), *second);
}

TARGET static void SUFFIX(tangent_row)(float *row, const float *p, const float *q, float a, const float *u, float b, const float *v,
                                       const float *slope, const float *k1, const float *k2, size_t n, float *products) {
    VF first = VSET1(0.0f), second = VSET1(0.0f);
    EACH_VECTOR(n, SUFFIX(tangent_row_segment), &first, &second, row, p, q, a, u, b, v, slope, k1, k2);
    products[0] = VSUM(first);
    products[1] = VSUM(second);
}

KERNEL void SUFFIX(accumulate_segment)(size_t o, size_t k, float *target, float g, const float *slope, const float *row, float c,
                                       const float *m) {
    VF value = VFMA(VMUL(VSET1(g), VLOAD(slope + o, k)), VLOAD(row + o, k), VLOAD(target + o, k));
    VSTORE(target + o, VFMA(VSET1(c), VLOAD(m + o, k), value), k);
}

TARGET static void SUFFIX(accumulate_message_tangent)(float *target, float g, const float *slope, const float *row, float c,
                                                      const float *m, size_t n) {
    EACH_VECTOR(n, SUFFIX(accumulate_segment), target, g, slope, row, c, m);
}
