// Vector operations of one kernel variant, for kernel bodies written once (Variants.c includes
// each body once per variant). Set TBG_VARIANT before including:
//   0  portable: W = 1 lane, plain C floats (any x86-64, any compiler)
//   1  AVX2 + FMA: W = 8 lanes (__m256)
//   2  AVX-512F:   W = 16 lanes (__m512)
// Functions get their variant's target attribute (no -march: the binary runs on every x86-64;
// Variants.c calls a variant only where the CPU has it). A body handles a row of n floats as
// full vectors plus one partial vector of k < W lanes (masked loads and stores).
#undef W
#undef VF
#undef SUFFIX
#undef TARGET
#undef VSET1
#undef VLOAD
#undef VSTORE
#undef VADD
#undef VSUB
#undef VMUL
#undef VDIV
#undef VFMA
#undef VMIN
#undef VMAX
#undef VSUM
#undef VABS
#undef VSELECT_LESS
#undef VROUND
#undef VSCALE2
#undef TAIL_MASK

#if TBG_VARIANT == 0
#define W 1
#define VF float
#define SUFFIX(name) name##_portable
#define TARGET
#define VSET1(x) ((float)(x))
#define VLOAD(p, k) ((void)(k), *(p))
#define VSTORE(p, v, k) ((void)(k), *(p) = (v))
#define VADD(a, b) ((a) + (b))
#define VSUB(a, b) ((a) - (b))
#define VMUL(a, b) ((a) * (b))
#define VDIV(a, b) ((a) / (b))
#define VFMA(a, b, c) ((a) * (b) + (c))
#define VMIN(a, b) ((a) < (b) ? (a) : (b))
#define VMAX(a, b) ((a) > (b) ? (a) : (b))
#define VSUM(v) (v)
#define VABS(x) fabsf(x)
#define VSELECT_LESS(x, limit, a, b) ((x) < (limit) ? (a) : (b))
// Round to nearest by the 1.5·2²³ trick (|x| < 2²²): SSE2 has no roundss.
#define VROUND(x) (((x) + 12582912.0f) - 12582912.0f)
#define VSCALE2(x, n) tbg_scale2_portable(x, n)
static inline float tbg_scale2_portable(float x, float n) {
    union { float f; int32_t i; } bits;
    bits.i = ((int32_t)n + 127) << 23;
    return x * bits.f;
}

#elif TBG_VARIANT == 1
#define W 8
#define VF __m256
#define SUFFIX(name) name##_avx2
#define TARGET __attribute__((target("avx2,fma")))
#define TAIL_MASK(k) _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(k)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define VSET1(x) _mm256_set1_ps(x)
#define VLOAD(p, k) ((k) == W ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, TAIL_MASK(k)))
#define VSTORE(p, v, k) ((k) == W ? _mm256_storeu_ps(p, v) : _mm256_maskstore_ps(p, TAIL_MASK(k), v))
#define VADD _mm256_add_ps
#define VSUB _mm256_sub_ps
#define VMUL _mm256_mul_ps
#define VDIV _mm256_div_ps
#define VFMA _mm256_fmadd_ps
#define VMIN _mm256_min_ps
#define VMAX _mm256_max_ps
#define VSUM tbg_sum_avx2
#define VABS(x) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x)
#define VSELECT_LESS(x, limit, a, b) _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, limit, _CMP_LT_OQ))
#define VROUND(x) _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VSCALE2(x, n) _mm256_mul_ps(x, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23)))
TARGET static inline float tbg_sum_avx2(__m256 x) {
    __m128 sum = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
    sum = _mm_add_ss(sum, _mm_shuffle_ps(sum, sum, 1));
    return _mm_cvtss_f32(sum);
}

#elif TBG_VARIANT == 2
#define W 16
#define VF __m512
#define SUFFIX(name) name##_avx512
#define TARGET __attribute__((target("avx512f")))
#define TAIL_MASK(k) ((__mmask16)((1u << (k)) - 1u))
#define VSET1(x) _mm512_set1_ps(x)
#define VLOAD(p, k) ((k) == W ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(TAIL_MASK(k), p))
#define VSTORE(p, v, k) ((k) == W ? _mm512_storeu_ps(p, v) : _mm512_mask_storeu_ps(p, TAIL_MASK(k), v))
#define VADD _mm512_add_ps
#define VSUB _mm512_sub_ps
#define VMUL _mm512_mul_ps
#define VDIV _mm512_div_ps
#define VFMA _mm512_fmadd_ps
#define VMIN _mm512_min_ps
#define VMAX _mm512_max_ps
#define VSUM _mm512_reduce_add_ps
#define VABS _mm512_abs_ps
#define VSELECT_LESS(x, limit, a, b) _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, limit, _CMP_LT_OQ), b, a)
#define VROUND(x) _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VSCALE2(x, n) _mm512_scalef_ps(x, n)
#endif

#undef KERNEL
/// A row segment of a kernel: inlined into its variant's loop with k = W or the tail's k.
#define KERNEL static inline __attribute__((always_inline)) TARGET

#undef EACH_VECTOR
/// Calls segment(o, k, …) for the full vectors of a row of n floats, then for the partial one.
#define EACH_VECTOR(n, segment, ...)                                                   \
    do {                                                                                \
        size_t o_ = 0;                                                                  \
        for (; o_ + W <= (size_t)(n); o_ += W) segment(o_, W, __VA_ARGS__);             \
        if (o_ < (size_t)(n)) segment(o_, (size_t)(n) - o_, __VA_ARGS__);               \
    } while (0)
