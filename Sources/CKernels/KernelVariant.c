// Which variant of the C kernels runs: the best the CPU has (AVX-512F, else AVX2 + FMA, else
// portable), decided once with __builtin_cpu_supports, so one binary serves every x86-64 node of
// a cluster (no -march in Package.swift). TBG_KERNELS=portable|avx2|avx512 asks for a variant
// (benchmarks compare them in one session); tests switch with tbg_kernels_select.
#include "CKernels.h"

#include <stdlib.h>
#include <string.h>

static const char *const variant_names[] = {"portable", "avx2", "avx512"};
static int active_variant = -1;

const char *tbg_kernels_name(int variant) {
    return variant >= 0 && variant <= TBG_KERNELS_AVX512 ? variant_names[variant] : "unknown";
}

int tbg_kernels_supported(int variant) {
    if (variant == TBG_KERNELS_PORTABLE) return 1;
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    __builtin_cpu_init();
    if (variant == TBG_KERNELS_AVX2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (variant == TBG_KERNELS_AVX512) return __builtin_cpu_supports("avx512f");
#endif
    return 0;
}

int tbg_kernels_best(void) {
    for (int variant = TBG_KERNELS_AVX512; variant > TBG_KERNELS_PORTABLE; variant--) {
        if (tbg_kernels_supported(variant)) return variant;
    }
    return TBG_KERNELS_PORTABLE;
}

int tbg_kernels_requested(void) {
    const char *value = getenv("TBG_KERNELS");
    if (value == NULL || value[0] == '\0') return TBG_KERNELS_NOT_REQUESTED;
    for (int variant = TBG_KERNELS_PORTABLE; variant <= TBG_KERNELS_AVX512; variant++) {
        if (strcmp(value, variant_names[variant]) == 0) return variant;
    }
    return TBG_KERNELS_UNRECOGNISED;
}

int tbg_kernels_active(void) {
    if (active_variant < 0) {
        int requested = tbg_kernels_requested();
        // Idempotent: a race between threads writes the same value.
        active_variant = requested >= 0 && tbg_kernels_supported(requested) ? requested : tbg_kernels_best();
    }
    return active_variant;
}

int tbg_kernels_select(int variant) {
    if (!tbg_kernels_supported(variant)) return 0;
    active_variant = variant;
    return 1;
}
