// Hot loops of the forward-mode divergence in C, so that AVX2/FMA can be used where the CPU has
// them (chosen at run time) while the package stays free of -march flags (Package.swift).
#ifndef TBG_CKERNELS_H
#define TBG_CKERNELS_H

#include <stddef.h>

/// row[o] = (p[o] + q[o] + a·u[o] + b·v[o]) · slope[o] for o < count (p and q may both be NULL:
/// zero); returns row·k1 in products[0] and row·k2 in products[1].
void tbg_tangent_row_f32(float *row, const float *p, const float *q, float a, const float *u, float b,
                         const float *v, const float *slope, const float *k1, const float *k2, size_t count,
                         float *products);

/// target[o] += g · slope[o] · row[o] + c · m[o] for o < count.
void tbg_accumulate_message_tangent_f32(float *target, float g, const float *slope, const float *row, float c,
                                        const float *m, size_t count);

/// 2 when the AVX2/FMA versions run, 0 for the portable ones (decided once, on the first call).
int tbg_kernels_vector_level(void);

#endif
