// Elementwise activations over flat float buffers, written once over VectorOps.h (included once
// per variant by Variants.c). Math (method.md §4.7):
//   σ(z) = 1/(1 + e^{−z}),  SiLU(z) = z σ(z),  SiLU′(z) = σ(z)(1 + z(1 − σ(z)))
// e^x is Cephes expf: x = n ln2 + r with n = round(x/ln2), a degree-6 polynomial for e^r on
// |r| ≤ ln2/2, times 2ⁿ; x is clamped to [−87.3, 88.3] so 2ⁿ stays a normal float. Relative error
// ≈ 1e-7 (float rounding).

KERNEL VF SUFFIX(vexp)(VF x) {
    x = VMAX(VMIN(x, VSET1(88.3f)), VSET1(-87.3f));
    VF n = VROUND(VMUL(x, VSET1(1.44269504f)));
    VF r = VFMA(n, VSET1(-0.693359375f), x);
    r = VFMA(n, VSET1(2.12194440e-4f), r);
    VF p = VSET1(1.9875691500e-4f);
    p = VFMA(p, r, VSET1(1.3981999507e-3f));
    p = VFMA(p, r, VSET1(8.3334519073e-3f));
    p = VFMA(p, r, VSET1(4.1665795894e-2f));
    p = VFMA(p, r, VSET1(1.6666665459e-1f));
    p = VFMA(p, r, VSET1(5.0000001201e-1f));
    VF er = VFMA(VMUL(p, r), r, VADD(r, VSET1(1.0f)));
    return VSCALE2(er, n);
}

KERNEL VF SUFFIX(vsigmoid)(VF z) {
    return VDIV(VSET1(1.0f), VADD(VSET1(1.0f), SUFFIX(vexp)(VSUB(VSET1(0.0f), z))));
}

/// SiLU′(z) from z and σ(z).
KERNEL VF SUFFIX(vslope)(VF z, VF s) {
    return VMUL(s, VFMA(z, VSUB(VSET1(1.0f), s), VSET1(1.0f)));
}

KERNEL void SUFFIX(sigmoid_segment)(size_t o, size_t k, float *sigma, const float *z) {
    VSTORE(sigma + o, SUFFIX(vsigmoid)(VLOAD(z + o, k)), k);
}

TARGET static void SUFFIX(sigmoid)(float *sigma, const float *z, size_t n) {
    EACH_VECTOR(n, SUFFIX(sigmoid_segment), sigma, z);
}

KERNEL void SUFFIX(sigmoid_silu_segment)(size_t o, size_t k, float *sigma, float *y, const float *z) {
    VF zv = VLOAD(z + o, k), s = SUFFIX(vsigmoid)(zv);
    VSTORE(sigma + o, s, k);
    VSTORE(y + o, VMUL(zv, s), k);
}

TARGET static void SUFFIX(sigmoid_silu)(float *sigma, float *y, const float *z, size_t n) {
    EACH_VECTOR(n, SUFFIX(sigmoid_silu_segment), sigma, y, z);
}

KERNEL void SUFFIX(multiply_segment)(size_t o, size_t k, float *out, const float *a, const float *b) {
    VSTORE(out + o, VMUL(VLOAD(a + o, k), VLOAD(b + o, k)), k);
}

TARGET static void SUFFIX(multiply)(float *out, const float *a, const float *b, size_t n) {
    EACH_VECTOR(n, SUFFIX(multiply_segment), out, a, b);
}

KERNEL void SUFFIX(silu_slope_segment)(size_t o, size_t k, float *slope, const float *z, const float *sigma) {
    VSTORE(slope + o, SUFFIX(vslope)(VLOAD(z + o, k), VLOAD(sigma + o, k)), k);
}

TARGET static void SUFFIX(silu_slope)(float *slope, const float *z, const float *sigma, size_t n) {
    EACH_VECTOR(n, SUFFIX(silu_slope_segment), slope, z, sigma);
}

KERNEL void SUFFIX(silu_backward_segment)(size_t o, size_t k, float *dz, const float *dy, const float *z, const float *sigma) {
    VSTORE(dz + o, VMUL(VLOAD(dy + o, k), SUFFIX(vslope)(VLOAD(z + o, k), VLOAD(sigma + o, k))), k);
}

TARGET static void SUFFIX(silu_backward)(float *dz, const float *dy, const float *z, const float *sigma, size_t n) {
    EACH_VECTOR(n, SUFFIX(silu_backward_segment), dz, dy, z, sigma);
}
