// Which variant of the C kernels runs, per kernel family: by default the best the CPU has (AVX-512F,
// else AVX2 + FMA, else portable), decided once with __builtin_cpu_supports, so one binary
// serves every x86-64 node of a cluster (no -march in Package.swift); a family may prefer a
// narrower variant on CPUs where it measured faster (the rule: tbg_kernels_family_default). TBG_KERNELS=
// portable|avx2|avx512 asks for a variant for every family, TBG_KERNELS_LAYER / TBG_KERNELS_TANGENT
// for one (benchmarks compare them in one session); tests switch with tbg_kernels_select.
#include "CKernels.h"

#include <stdlib.h>
#include <string.h>

static const char *const variant_names[] = {"portable", "avx2", "avx512"};
static const char *const family_names[] = {"layer", "tangent"};
static const char *const family_variables[] = {"TBG_KERNELS_LAYER", "TBG_KERNELS_TANGENT"};
static int active_variant[TBG_KERNEL_FAMILIES] = {-1, -1};

const char *tbg_kernels_name(int variant) {
    return variant >= 0 && variant <= TBG_KERNELS_AVX512 ? variant_names[variant] : "unknown";
}

const char *tbg_kernels_family_name(int family) {
    return family >= 0 && family < TBG_KERNEL_FAMILIES ? family_names[family] : "unknown";
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

int tbg_kernels_family_default(int family) {
    (void)family;
    // The rule, per family, from side-by-side measurements (README, "Speed on any x86-64 host"). On
    // AMD Zen 4 (512-bit operations run as two 256-bit halves) the old per-pair tangent rows were
    // ~3 % slower in AVX-512 than in AVX2, but the fused pair kernel that replaced them is 1–2 %
    // faster in AVX-512 (its W₂ tile keeps 24 accumulators in AVX-512's 32 registers), and the
    // layer family is ~5 % faster in AVX-512 for training: so far every family takes the best
    // variant on every CPU measured. A family that measures faster narrower on some CPU gets its
    // exception here, keyed on what CPUID says, so that the choice stays deterministic per host.
    return tbg_kernels_best();
}

static int parse_variant(const char *value) {
    if (value == NULL || value[0] == '\0') return TBG_KERNELS_NOT_REQUESTED;
    for (int variant = TBG_KERNELS_PORTABLE; variant <= TBG_KERNELS_AVX512; variant++) {
        if (strcmp(value, variant_names[variant]) == 0) return variant;
    }
    return TBG_KERNELS_UNRECOGNISED;
}

int tbg_kernels_requested(void) { return parse_variant(getenv("TBG_KERNELS")); }

int tbg_kernels_family_requested(int family) {
    if (family < 0 || family >= TBG_KERNEL_FAMILIES) return TBG_KERNELS_UNRECOGNISED;
    int own = parse_variant(getenv(family_variables[family]));
    return own == TBG_KERNELS_NOT_REQUESTED ? tbg_kernels_requested() : own;
}

int tbg_kernels_family_active(int family) {
    if (active_variant[family] < 0) {
        int requested = tbg_kernels_family_requested(family);
        // Idempotent: a race between threads writes the same value.
        active_variant[family] = requested >= 0 && tbg_kernels_supported(requested) ? requested : tbg_kernels_family_default(family);
    }
    return active_variant[family];
}

int tbg_kernels_active(void) { return tbg_kernels_family_active(TBG_KERNEL_FAMILY_LAYER); }

int tbg_kernels_family_select(int family, int variant) {
    if (family < 0 || family >= TBG_KERNEL_FAMILIES || !tbg_kernels_supported(variant)) return 0;
    active_variant[family] = variant;
    return 1;
}

int tbg_kernels_select(int variant) {
    if (!tbg_kernels_supported(variant)) return 0;
    for (int family = 0; family < TBG_KERNEL_FAMILIES; family++) active_variant[family] = variant;
    return 1;
}
