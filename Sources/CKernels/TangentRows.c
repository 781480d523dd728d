// Portable and AVX2/FMA versions of the divergence's per-(tangent, edge) loops, chosen once at
// run time with __builtin_cpu_supports: one binary for every x86-64 node of a cluster.
#include "CKernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define TBG_HAVE_AVX2 1
#endif

static void tangent_row_portable(float *row, const float *p, const float *q, float a, const float *u, float b,
                                 const float *v, const float *slope, const float *k1, const float *k2, size_t count,
                                 float *products) {
    float first = 0, second = 0;
    for (size_t o = 0; o < count; o++) {
        float sum = a * u[o] + b * v[o];
        if (p) sum += p[o] + q[o];
        float value = sum * slope[o];
        row[o] = value;
        first += value * k1[o];
        second += value * k2[o];
    }
    products[0] = first;
    products[1] = second;
}

static void accumulate_portable(float *target, float g, const float *slope, const float *row, float c, const float *m,
                                size_t count) {
    for (size_t o = 0; o < count; o++) target[o] += g * slope[o] * row[o] + c * m[o];
}

#ifdef TBG_HAVE_AVX2
static inline float horizontal_sum(__m256 x) __attribute__((target("avx2,fma")));
static inline float horizontal_sum(__m256 x) {
    __m128 sum = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
    sum = _mm_add_ss(sum, _mm_shuffle_ps(sum, sum, 1));
    return _mm_cvtss_f32(sum);
}

__attribute__((target("avx2,fma")))
static void tangent_row_avx2(float *row, const float *p, const float *q, float a, const float *u, float b,
                             const float *v, const float *slope, const float *k1, const float *k2, size_t count,
                             float *products) {
    __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
    __m256 first = _mm256_setzero_ps(), second = _mm256_setzero_ps();
    size_t o = 0;
    for (; o + 8 <= count; o += 8) {
        __m256 sum = _mm256_fmadd_ps(vb, _mm256_loadu_ps(v + o), _mm256_mul_ps(va, _mm256_loadu_ps(u + o)));
        if (p) sum = _mm256_add_ps(sum, _mm256_add_ps(_mm256_loadu_ps(p + o), _mm256_loadu_ps(q + o)));
        __m256 value = _mm256_mul_ps(sum, _mm256_loadu_ps(slope + o));
        _mm256_storeu_ps(row + o, value);
        first = _mm256_fmadd_ps(value, _mm256_loadu_ps(k1 + o), first);
        second = _mm256_fmadd_ps(value, _mm256_loadu_ps(k2 + o), second);
    }
    float tail[2];
    tangent_row_portable(row + o, p ? p + o : NULL, q ? q + o : NULL, a, u + o, b, v + o, slope + o, k1 + o, k2 + o,
                         count - o, tail);
    products[0] = horizontal_sum(first) + tail[0];
    products[1] = horizontal_sum(second) + tail[1];
}

__attribute__((target("avx2,fma")))
static void accumulate_avx2(float *target, float g, const float *slope, const float *row, float c, const float *m,
                            size_t count) {
    __m256 vg = _mm256_set1_ps(g), vc = _mm256_set1_ps(c);
    size_t o = 0;
    for (; o + 8 <= count; o += 8) {
        __m256 value = _mm256_fmadd_ps(_mm256_mul_ps(vg, _mm256_loadu_ps(slope + o)), _mm256_loadu_ps(row + o),
                                       _mm256_loadu_ps(target + o));
        _mm256_storeu_ps(target + o, _mm256_fmadd_ps(vc, _mm256_loadu_ps(m + o), value));
    }
    accumulate_portable(target + o, g, slope + o, row + o, c, m + o, count - o);
}
#endif

static int vector_level = -1;

int tbg_kernels_vector_level(void) {
    if (vector_level < 0) {
        int level = 0;
#ifdef TBG_HAVE_AVX2
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) level = 2;
#endif
        vector_level = level;   // idempotent: a race between threads writes the same value
    }
    return vector_level;
}

void tbg_tangent_row_f32(float *row, const float *p, const float *q, float a, const float *u, float b,
                         const float *v, const float *slope, const float *k1, const float *k2, size_t count,
                         float *products) {
#ifdef TBG_HAVE_AVX2
    if (tbg_kernels_vector_level() == 2) {
        tangent_row_avx2(row, p, q, a, u, b, v, slope, k1, k2, count, products);
        return;
    }
#endif
    tangent_row_portable(row, p, q, a, u, b, v, slope, k1, k2, count, products);
}

void tbg_accumulate_message_tangent_f32(float *target, float g, const float *slope, const float *row, float c,
                                        const float *m, size_t count) {
#ifdef TBG_HAVE_AVX2
    if (tbg_kernels_vector_level() == 2) {
        accumulate_avx2(target, g, slope, row, c, m, count);
        return;
    }
#endif
    accumulate_portable(target, g, slope, row, c, m, count);
}
