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

/// tanh(x): for |x| < 0.625 a rational function, odd degree 13 over even degree 6 (Eigen's fast-tanh
/// coefficients, relative error ≤ 2·10⁻⁷ there), else sign(x)(1 − 2/(e^{2|x|} + 1)), which keeps
/// 1 − |tanh x| to relative accuracy near saturation, where the backward pass's 1 − s² needs it.
/// Absolute error ≤ 1.5·10⁻⁷ over the line (tanhf: ~6·10⁻⁸).
KERNEL VF SUFFIX(vtanh)(VF x) {
    VF ax = VABS(x), c = VMIN(ax, VSET1(0.625f)), x2 = VMUL(c, c);
    VF p = VSET1(-2.76076847742355e-16f);
    p = VFMA(p, x2, VSET1(2.00018790482477e-13f));
    p = VFMA(p, x2, VSET1(-8.60467152213735e-11f));
    p = VFMA(p, x2, VSET1(5.12229709037114e-08f));
    p = VFMA(p, x2, VSET1(1.48572235717979e-05f));
    p = VFMA(p, x2, VSET1(6.37261928875436e-04f));
    p = VFMA(p, x2, VSET1(4.89352455891786e-03f));
    VF q = VSET1(1.19825839466702e-06f);
    q = VFMA(q, x2, VSET1(1.18534705686654e-04f));
    q = VFMA(q, x2, VSET1(2.26843463243900e-03f));
    q = VFMA(q, x2, VSET1(4.89352518554385e-03f));
    VF near = VDIV(VMUL(p, c), q);
    VF far = VSUB(VSET1(1.0f), VDIV(VSET1(2.0f), VADD(SUFFIX(vexp)(VADD(ax, ax)), VSET1(1.0f))));
    VF magnitude = VSELECT_LESS(ax, VSET1(0.625f), near, far);
    return VSELECT_LESS(x, VSET1(0.0f), VSUB(VSET1(0.0f), magnitude), magnitude);
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
