/*
 * kernels/cpu/x86/avx2/dot_q32_avx2.c - AVX2 dot products and gemm tiles
 * for the 32-wide block formats: Q4_0, Q5_0, Q8_0 (against Q8_0
 * activations) and Q4_1, Q5_1 (against Q8_1).
 *
 * One tile function computes an R-rows x T-tokens block of outputs; the
 * vec_dot of each type is that same function at R = T = 1. Every output
 * (row, token) owns one 8-lane float accumulator, and per weight block
 * does exactly this, whatever the tile shape:
 *
 *   lanes  = the 32 integer products q_w * q_a, summed in 8 int32 lanes
 *            (lane j: elements 4j..4j+3) - exact;
 *   acc    = fma(float(lanes), d_w * d_a, acc)            (8 lanes)
 *   macc   = fma(m_w, s_a, macc)                          (Q8_1 only)
 *
 * and at the end y = hsum8(acc) [+ macc], reduced in one fixed order. The
 * tile shares the unpacked weight block across its T tokens and the loaded
 * activation block across its R rows, and evaluates several products in
 * lanes of one register (d_w * d_a of T tokens, macc of T tokens), but each
 * lane performs the same IEEE operation as the scalar path. So gemm output
 * equals vec_dot output bit for bit for any number of rows or tokens.
 *
 * Compiled with -ffp-contract=off: the compiler must not fuse a multiply
 * and an add differently in different instantiations.
 */
#include "kernels/cpu/x86/avx2/kernels_avx2.h"
#include "kernels/cpu/x86/avx2/simd_avx2.h"

enum q32_kind { K_Q4_0, K_Q4_1, K_Q5_0, K_Q5_1, K_Q8_0 };

/* Weight block bytes, and whether the type pairs with Q8_1 (has a min). */
NRV_INLINE int w_bytes(enum q32_kind k)
{
	switch (k) {
	case K_Q4_0: return 18;
	case K_Q4_1: return 20;
	case K_Q5_0: return 22;
	case K_Q5_1: return 24;
	default: return 34;
	}
}

NRV_INLINE int has_min(enum q32_kind k)
{
	return k == K_Q4_1 || k == K_Q5_1;
}

/* Signed weights use the sign trick (|w| times a with w's sign), the
 * unsigned ones (the formats with a min) go to maddubs directly. */
NRV_INLINE int is_signed(enum q32_kind k)
{
	return !has_min(k);
}

/* A weight block's 32 quants as bytes: signed (-16..15, -128..127) for the
 * formats without a min, 0..31 for those with one. */
NRV_INLINE __m256i w_quants(enum q32_kind k, const uint8_t *b)
{
	switch (k) {
	case K_Q4_0:
		return _mm256_sub_epi8(nrv__nibbles32(b + 2), _mm256_set1_epi8(8));
	case K_Q4_1:
		return nrv__nibbles32(b + 4);
	case K_Q5_0:
		return _mm256_sub_epi8(_mm256_or_si256(nrv__nibbles32(b + 6), nrv__q5_high32(b + 2)),
				       _mm256_set1_epi8(16));
	case K_Q5_1:
		return _mm256_or_si256(nrv__nibbles32(b + 8), nrv__q5_high32(b + 4));
	default:
		return _mm256_loadu_si256((const __m256i *)(b + 2));
	}
}

/* Broadcast lane t (a compile-time constant) of x to 8 lanes. */
NRV_INLINE __m256 bcast_lane(__m128 x, int t)
{
	switch (t) {
	case 0: return _mm256_broadcastss_ps(x);
	case 1: return _mm256_broadcastss_ps(_mm_permute_ps(x, 0x55));
	case 2: return _mm256_broadcastss_ps(_mm_permute_ps(x, 0xaa));
	default: return _mm256_broadcastss_ps(_mm_permute_ps(x, 0xff));
	}
}

NRV_INLINE float lane_of(__m128 x, int t)
{
	switch (t) {
	case 0: return _mm_cvtss_f32(x);
	case 1: return _mm_cvtss_f32(_mm_permute_ps(x, 0x55));
	case 2: return _mm_cvtss_f32(_mm_permute_ps(x, 0xaa));
	default: return _mm_cvtss_f32(_mm_permute_ps(x, 0xff));
	}
}

#define RMAX 4
#define TMAX 4

/*
 * y[t * ldy + r] for r < R, t < T (R, T, k compile-time constants after
 * inlining): nb blocks of row r at w + r * ws, of token t at a + t * as.
 */
NRV_INLINE void tile_q32(enum q32_kind k, int R, int T, int nb,
			 const uint8_t *w, size_t ws, const uint8_t *a, size_t as,
			 float *y, size_t ldy)
{
	const int wb = w_bytes(k);
	const int ab = has_min(k) ? 36 : 34; /* Q8_1 : Q8_0 block */
	const int aq = has_min(k) ? 4 : 2;   /* offset of the quants in it */
	__m256 acc[RMAX][TMAX];
	__m128 macc[RMAX];
	for (int r = 0; r < R; r++) {
		macc[r] = _mm_setzero_ps();
		for (int t = 0; t < T; t++)
			acc[r][t] = _mm256_setzero_ps();
	}
	for (int b = 0; b < nb; b++) {
		/* Token side: lane t of da is d_a of token t, of sa its s. */
		__m128 ad[TMAX];
		for (int t = 0; t < TMAX; t++) {
			const uint8_t *ab_t = a + (size_t)t * as + (size_t)b * ab;
			if (t >= T)
				ad[t] = _mm_setzero_ps();
			else if (has_min(k))
				ad[t] = nrv__h2f2(ab_t);
			else
				ad[t] = _mm_set_ss(nrv__h2f(ab_t));
		}
		__m128 u01 = _mm_unpacklo_ps(ad[0], ad[1]); /* d0 d1 s0 s1 */
		__m128 u23 = _mm_unpacklo_ps(ad[2], ad[3]); /* d2 d3 s2 s3 */
		__m128 da = _mm_movelh_ps(u01, u23);
		__m128 sa = _mm_movehl_ps(u23, u01);
		for (int r = 0; r < R; r++) {
			const uint8_t *wb_r = w + (size_t)r * ws + (size_t)b * wb;
			__m128 dw = _mm_set1_ps(nrv__h2f(wb_r));
			__m128 scale = _mm_mul_ps(dw, da); /* lane t: d_w * d_a(t) */
			if (has_min(k))
				macc[r] = _mm_fmadd_ps(_mm_set1_ps(nrv__h2f(wb_r + 2)), sa, macc[r]);
			__m256i q = w_quants(k, wb_r);
			__m256i qabs = is_signed(k) ? _mm256_sign_epi8(q, q) : q;
			for (int t = 0; t < T; t++) {
				const uint8_t *ab_t = a + (size_t)t * as + (size_t)b * ab;
				__m256i x = _mm256_loadu_si256((const __m256i *)(ab_t + aq));
				if (is_signed(k))
					x = _mm256_sign_epi8(x, q);
				__m256 p = _mm256_cvtepi32_ps(nrv__dot_us(qabs, x));
				acc[r][t] = _mm256_fmadd_ps(p, bcast_lane(scale, t), acc[r][t]);
			}
		}
	}
	for (int r = 0; r < R; r++) {
		for (int t = 0; t < T; t++) {
			float s = nrv__hsum8(acc[r][t]);
			if (has_min(k))
				s += lane_of(macc[r], t);
			y[(size_t)t * ldy + r] = s;
		}
	}
}

/*
 * The gemm driver: tokens in tiles of 4 (rows two at a time), then the
 * leftover tokens; a single token (decode) takes rows four at a time.
 * The tile shape changes only which loads are shared, never the
 * arithmetic of an output.
 */
#define Q32_TILES(name, kind)                                                              \
	static void name##_tile_2x4(int nb, const uint8_t *w, size_t ws, const uint8_t *a,    \
				    size_t as, float *y, size_t ldy)                           \
	{ tile_q32(kind, 2, 4, nb, w, ws, a, as, y, ldy); }                                    \
	static void name##_tile_1x4(int nb, const uint8_t *w, size_t ws, const uint8_t *a,    \
				    size_t as, float *y, size_t ldy)                           \
	{ tile_q32(kind, 1, 4, nb, w, ws, a, as, y, ldy); }                                    \
	static void name##_tile_2x3(int nb, const uint8_t *w, size_t ws, const uint8_t *a,    \
				    size_t as, float *y, size_t ldy)                           \
	{ tile_q32(kind, 2, 3, nb, w, ws, a, as, y, ldy); }                                    \
	static void name##_tile_1x3(int nb, const uint8_t *w, size_t ws, const uint8_t *a,    \
				    size_t as, float *y, size_t ldy)                           \
	{ tile_q32(kind, 1, 3, nb, w, ws, a, as, y, ldy); }                                    \
	static void name##_tile_2x2(int nb, const uint8_t *w, size_t ws, const uint8_t *a,    \
				    size_t as, float *y, size_t ldy)                           \
	{ tile_q32(kind, 2, 2, nb, w, ws, a, as, y, ldy); }                                    \
	static void name##_tile_1x2(int nb, const uint8_t *w, size_t ws, const uint8_t *a,    \
				    size_t as, float *y, size_t ldy)                           \
	{ tile_q32(kind, 1, 2, nb, w, ws, a, as, y, ldy); }                                    \
	static void name##_tile_4x1(int nb, const uint8_t *w, size_t ws, const uint8_t *a,    \
				    size_t as, float *y, size_t ldy)                           \
	{ tile_q32(kind, 4, 1, nb, w, ws, a, as, y, ldy); }                                    \
	static void name##_tile_1x1(int nb, const uint8_t *w, size_t ws, const uint8_t *a,    \
				    size_t as, float *y, size_t ldy)                           \
	{ tile_q32(kind, 1, 1, nb, w, ws, a, as, y, ldy); }                                    \
	static const struct nrv__tiles name##_tiles = {                                         \
		.t2x4 = name##_tile_2x4, .t1x4 = name##_tile_1x4,                              \
		.t2x3 = name##_tile_2x3, .t1x3 = name##_tile_1x3,                              \
		.t2x2 = name##_tile_2x2, .t1x2 = name##_tile_1x2,                              \
		.t4x1 = name##_tile_4x1, .t1x1 = name##_tile_1x1,                              \
	};                                                                                     \
	float nrv_vec_dot_##name##_avx2(int n, const void *w, const void *a)                   \
	{                                                                                      \
		float y;                                                                       \
		tile_q32(kind, 1, 1, n / NRV_QK, w, 0, a, 0, &y, 0);                           \
		return y;                                                                      \
	}                                                                                      \
	void nrv_gemm_##name##_avx2(int n, const void *w, size_t w_stride, int n_rows,        \
				    const void *a, size_t a_stride, int n_tok, float *y,       \
				    size_t ldy)                                                \
	{                                                                                      \
		nrv__gemm_tiles(&name##_tiles, n / NRV_QK, w, w_stride, n_rows, a, a_stride,   \
				n_tok, y, ldy);                                                \
	}

Q32_TILES(q4_0, K_Q4_0)
Q32_TILES(q4_1, K_Q4_1)
Q32_TILES(q5_0, K_Q5_0)
Q32_TILES(q5_1, K_Q5_1)
Q32_TILES(q8_0, K_Q8_0)
