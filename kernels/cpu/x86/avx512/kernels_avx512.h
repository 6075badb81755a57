/*
 * kernels/cpu/x86/avx512/kernels_avx512.h - the AVX-512 kernels, by name.
 *
 * Plain prototypes, for the AVX-512 table. Only call these after
 * nrv_cpu_kernels_select() found AVX-512 F, BW, VL and VNNI (and AVX2,
 * FMA, F16C). Same contracts as the kernels.h typedefs.
 */
#ifndef NRV_KERNELS_CPU_X86_AVX512_KERNELS_AVX512_H
#define NRV_KERNELS_CPU_X86_AVX512_KERNELS_AVX512_H

#include "kernels/cpu/kernels.h"

#define NRV__AVX512_QUANT(t)                                                        \
	float nrv_vec_dot_##t##_avx512(int n, const void *w, const void *a);         \
	void nrv_gemm_##t##_avx512(int n, const void *w, size_t w_stride, int n_rows, \
				   const void *a, size_t a_stride, int n_tok, float *y, \
				   size_t ldy);
NRV__AVX512_QUANT(q4_0)
NRV__AVX512_QUANT(q4_1)
NRV__AVX512_QUANT(q8_0)
#undef NRV__AVX512_QUANT

#endif
