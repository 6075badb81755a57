/*
 * kernels/cpu/x86/avx2/kernels_avx2.h - the AVX2 kernels, by name.
 *
 * Plain prototypes (no intrinsics), for the AVX2 table and for the AVX-512
 * table, which falls back to these for the types it does not accelerate.
 * Every function has the signature and contract of its kernels.h typedef
 * and a reference twin in kernels/cpu/ref/ (same name, suffix _ref).
 *
 * Only call these after nrv_cpu_kernels_select() found AVX2, FMA and F16C.
 */
#ifndef NRV_KERNELS_CPU_X86_AVX2_KERNELS_AVX2_H
#define NRV_KERNELS_CPU_X86_AVX2_KERNELS_AVX2_H

#include "kernels/cpu/kernels.h"

void nrv_quantize_q8_0_avx2(const float *x, void *y, int n);
void nrv_quantize_q8_1_avx2(const float *x, void *y, int n);
void nrv_quantize_q8_K_avx2(const float *x, void *y, int n);

float nrv_vec_dot_f32_avx2(int n, const void *w, const void *a);
float nrv_vec_dot_f16_avx2(int n, const void *w, const void *a);
float nrv_vec_dot_bf16_avx2(int n, const void *w, const void *a);

void nrv_attn_scores_avx2(int hd, int nq, const float *q, size_t q_stride, const nrv_half *k,
			  size_t k_stride, int n, float scale, float *s, size_t s_stride);
void nrv_attn_values_avx2(int hd, int nq, const float *p, size_t p_stride, const nrv_half *v,
			  size_t v_stride, int n, float *o, size_t o_stride);
void nrv_softmax_half_avx2(float *x, int n);
void nrv_round_half_avx2(float *x, int n);

#define NRV__AVX2_QUANT(t)                                                        \
	float nrv_vec_dot_##t##_avx2(int n, const void *w, const void *a);         \
	void nrv_gemm_##t##_avx2(int n, const void *w, size_t w_stride, int n_rows, \
				 const void *a, size_t a_stride, int n_tok, float *y, \
				 size_t ldy);
NRV__AVX2_QUANT(q4_0)
NRV__AVX2_QUANT(q4_1)
NRV__AVX2_QUANT(q5_0)
NRV__AVX2_QUANT(q5_1)
NRV__AVX2_QUANT(q8_0)
NRV__AVX2_QUANT(q4_K)
NRV__AVX2_QUANT(q5_K)
NRV__AVX2_QUANT(q6_K)
#undef NRV__AVX2_QUANT

/*
 * Tile kernels of one type, by shape (rows x tokens): each computes
 * y[t * ldy + r] for its R rows and T tokens over nb blocks. The gemm
 * driver below walks a matrix with them.
 */
typedef void (*nrv__tile_fn)(int nb, const uint8_t *w, size_t ws, const uint8_t *a,
			     size_t as, float *y, size_t ldy);
struct nrv__tiles {
	nrv__tile_fn t2x4, t1x4, t2x3, t1x3, t2x2, t1x2, t4x1, t1x1;
};

/*
 * Define NAME##_tiles: the eight tile shapes as wrappers that call
 * TILE(KIND, R, T, nb, w, ws, a, as, y, ldy), where TILE is an always-inlined
 * tile body with compile-time R and T.
 */
#define NRV__TILE_SHAPE(NAME, TILE, KIND, R, T)                                          \
	static void NAME##_tile_##R##x##T(int nb, const uint8_t *w, size_t ws,           \
					  const uint8_t *a, size_t as, float *y, size_t ldy) \
	{ TILE(KIND, R, T, nb, w, ws, a, as, y, ldy); }

#define NRV__DEFINE_TILES(NAME, TILE, KIND)                                              \
	NRV__TILE_SHAPE(NAME, TILE, KIND, 2, 4) NRV__TILE_SHAPE(NAME, TILE, KIND, 1, 4)  \
	NRV__TILE_SHAPE(NAME, TILE, KIND, 2, 3) NRV__TILE_SHAPE(NAME, TILE, KIND, 1, 3)  \
	NRV__TILE_SHAPE(NAME, TILE, KIND, 2, 2) NRV__TILE_SHAPE(NAME, TILE, KIND, 1, 2)  \
	NRV__TILE_SHAPE(NAME, TILE, KIND, 4, 1) NRV__TILE_SHAPE(NAME, TILE, KIND, 1, 1)  \
	static const struct nrv__tiles NAME##_tiles = {                                  \
		.t2x4 = NAME##_tile_2x4, .t1x4 = NAME##_tile_1x4,                       \
		.t2x3 = NAME##_tile_2x3, .t1x3 = NAME##_tile_1x3,                       \
		.t2x2 = NAME##_tile_2x2, .t1x2 = NAME##_tile_1x2,                       \
		.t4x1 = NAME##_tile_4x1, .t1x1 = NAME##_tile_1x1,                       \
	};

/* Cover n_rows x n_tok outputs with the tiles: tokens four at a time (rows
 * in pairs), the leftover tokens together, single tokens rows by four. */
void nrv__gemm_tiles(const struct nrv__tiles *tl, int nb, const void *w, size_t w_stride,
		     int n_rows, const void *a, size_t a_stride, int n_tok, float *y,
		     size_t ldy);

#endif
