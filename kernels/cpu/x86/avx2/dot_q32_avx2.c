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
 *   p      = the 32 integer products q_w * q_a, summed in 8 int32 lanes
 *            (lane j: elements 4j..4j+3), as floats - exact;
 *   acc    = acc + fma(p1, d_w1 * d_a1, p0 * (d_w0 * d_a0))  (blocks in pairs)
 *   macc   = macc + fma(m_w1, s_a1, m_w0 * s_a0)             (Q8_1 only)
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

/* d_a of T tokens in the lanes of *da, their s in *sa (Q8_1), for block b. */
NRV_INLINE void token_scales(enum q32_kind k, int T, const uint8_t *a, size_t as, int b,
			     __m128 *da, __m128 *sa)
{
	const int ab = has_min(k) ? 36 : 34; /* Q8_1 : Q8_0 block */
	__m128 ad[TMAX];
	for (int t = 0; t < TMAX; t++) {
		const uint8_t *ab_t = a + (size_t)t * as + (size_t)b * ab;
		if (t >= T)
			ad[t] = _mm_setzero_ps();
		else if (has_min(k))
			ad[t] = nrv__h2f2(ab_t); /* d, s */
		else
			ad[t] = _mm_cvtph_ps(_mm_cvtsi32_si128(nrv__ld16(ab_t)));
	}
	if (T == 1) {
		*da = ad[0];
		*sa = _mm_movehdup_ps(ad[0]);
		return;
	}
	__m128 u01 = _mm_unpacklo_ps(ad[0], ad[1]); /* d0 d1 s0 s1 */
	__m128 u23 = _mm_unpacklo_ps(ad[2], ad[3]); /* d2 d3 s2 s3 */
	*da = _mm_movelh_ps(u01, u23);
	*sa = _mm_movehl_ps(u23, u01);
}

/* The exact integer products of weight block q (qabs = |q| for the signed
 * formats) with the activation block at ab_t, as 8 floats. */
NRV_INLINE __m256 block_products(enum q32_kind k, __m256i q, __m256i qabs, const uint8_t *ab_t)
{
	const int aq = has_min(k) ? 4 : 2; /* offset of the quants in Q8_1 : Q8_0 */
	__m256i x = _mm256_loadu_si256((const __m256i *)(ab_t + aq));
	if (is_signed(k))
		x = _mm256_sign_epi8(x, q);
	return _mm256_cvtepi32_ps(nrv__dot_us(qabs, x));
}

/*
 * y[t * ldy + r] for r < R, t < T (R, T, k compile-time constants after
 * inlining): nb blocks of row r at w + r * ws, of token t at a + t * as.
 *
 * Blocks go in pairs so that the accumulator's dependency chain has one
 * add per two blocks: acc += fma(p1, s1, p0 * s0), and likewise
 * macc += fma(m1, sa1, m0 * sa0); an odd last block is acc = fma(p, s, acc).
 */
NRV_INLINE void tile_q32(enum q32_kind k, int R, int T, int nb,
			 const uint8_t *w, size_t ws, const uint8_t *a, size_t as,
			 float *y, size_t ldy)
{
	const int wb = w_bytes(k);
	const int ab = has_min(k) ? 36 : 34;
	__m256 acc[RMAX][TMAX];
	__m128 macc[RMAX];
	for (int r = 0; r < R; r++) {
		macc[r] = _mm_setzero_ps();
		for (int t = 0; t < T; t++)
			acc[r][t] = _mm256_setzero_ps();
	}
	int b = 0;
	for (; b + 2 <= nb; b += 2) {
		__m128 da0, sa0, da1, sa1;
		token_scales(k, T, a, as, b, &da0, &sa0);
		token_scales(k, T, a, as, b + 1, &da1, &sa1);
		for (int r = 0; r < R; r++) {
			const uint8_t *w0 = w + (size_t)r * ws + (size_t)b * wb, *w1 = w0 + wb;
			__m128 dm0 = nrv__h2f2(w0), dm1 = nrv__h2f2(w1); /* d, m */
			__m128 sc0 = _mm_mul_ps(_mm_broadcastss_ps(dm0), da0);
			__m128 sc1 = _mm_mul_ps(_mm_broadcastss_ps(dm1), da1);
			if (has_min(k)) {
				__m128 m0 = _mm_mul_ps(_mm_permute_ps(dm0, 0x55), sa0);
				macc[r] = _mm_add_ps(macc[r],
						     _mm_fmadd_ps(_mm_permute_ps(dm1, 0x55), sa1, m0));
			}
			__m256i q0 = w_quants(k, w0), q1 = w_quants(k, w1);
			__m256i qa0 = is_signed(k) ? _mm256_sign_epi8(q0, q0) : q0;
			__m256i qa1 = is_signed(k) ? _mm256_sign_epi8(q1, q1) : q1;
			for (int t = 0; t < T; t++) {
				const uint8_t *a0 = a + (size_t)t * as + (size_t)b * ab;
				__m256 p0 = block_products(k, q0, qa0, a0);
				__m256 p1 = block_products(k, q1, qa1, a0 + ab);
				__m256 two = _mm256_fmadd_ps(p1, bcast_lane(sc1, t),
							     _mm256_mul_ps(p0, bcast_lane(sc0, t)));
				acc[r][t] = _mm256_add_ps(acc[r][t], two);
			}
		}
	}
	if (b < nb) {
		__m128 da0, sa0;
		token_scales(k, T, a, as, b, &da0, &sa0);
		for (int r = 0; r < R; r++) {
			const uint8_t *w0 = w + (size_t)r * ws + (size_t)b * wb;
			__m128 dm0 = nrv__h2f2(w0); /* d, m (Q8_0: d, first quants) */
			__m128 sc0 = _mm_mul_ps(_mm_broadcastss_ps(dm0), da0);
			if (has_min(k))
				macc[r] = _mm_fmadd_ps(_mm_permute_ps(dm0, 0x55), sa0, macc[r]);
			__m256i q0 = w_quants(k, w0);
			__m256i qa0 = is_signed(k) ? _mm256_sign_epi8(q0, q0) : q0;
			for (int t = 0; t < T; t++) {
				const uint8_t *a0 = a + (size_t)t * as + (size_t)b * ab;
				__m256 p0 = block_products(k, q0, qa0, a0);
				acc[r][t] = _mm256_fmadd_ps(p0, bcast_lane(sc0, t), acc[r][t]);
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
 * Wide tiles for multi-token steps: one weight row against WT = 8 tokens.
 * The activation scales d_a (and s_a) of the 8 tokens are converted to
 * floats once per token tile (q32_scales, shared by every row of the
 * chunk), and the per-block scale products d_w * d_a of the 8 tokens are
 * formed in the lanes of one register and broadcast back from memory, so
 * a (row, token, block) costs one activation load + the integer dot, one
 * broadcast and one multiply or FMA. Per output the arithmetic is the
 * 1 x 1 path's: acc += fma(p1, d_w1 * d_a1, p0 * (d_w0 * d_a0)), macc
 * likewise, y = hsum8(acc) + macc.
 */
#define WT 8
#define WIDE_NB_MAX 128 /* rows up to 4096 elements take the wide tiles */

struct q32_scales {
	float d[WT]; /* d_a of the tile's tokens */
	float s[WT]; /* s_a (Q8_1), else unused */
};

NRV_INLINE void wide_scales(enum q32_kind k, int nb, const uint8_t *a, size_t as,
			    struct q32_scales *sc)
{
	const int ab = has_min(k) ? 36 : 34;
	for (int b = 0; b < nb; b++) {
		for (int t = 0; t < WT; t++) {
			const uint8_t *p = a + (size_t)t * as + (size_t)b * ab;
			sc[b].d[t] = nrv__h2f(p);
			sc[b].s[t] = has_min(k) ? nrv__h2f(p + 2) : 0.0f;
		}
	}
}

NRV_INLINE void tile_wide(enum q32_kind k, int nb, const uint8_t *w, const struct q32_scales *sc,
			  const uint8_t *a, size_t as, float *y, size_t ldy)
{
	const int wb = w_bytes(k);
	const int ab = has_min(k) ? 36 : 34;
	__m256 acc[WT];
	__m256 macc = _mm256_setzero_ps();
	float sp[2][WT] __attribute__((aligned(32)));
	for (int t = 0; t < WT; t++)
		acc[t] = _mm256_setzero_ps();
	int b = 0;
	for (; b + 2 <= nb; b += 2) {
		const uint8_t *w0 = w + (size_t)b * wb, *w1 = w0 + wb;
		__m128 dm0 = nrv__h2f2(w0), dm1 = nrv__h2f2(w1); /* d, m */
		_mm256_store_ps(sp[0], _mm256_mul_ps(_mm256_broadcastss_ps(dm0),
						     _mm256_loadu_ps(sc[b].d)));
		_mm256_store_ps(sp[1], _mm256_mul_ps(_mm256_broadcastss_ps(dm1),
						     _mm256_loadu_ps(sc[b + 1].d)));
		if (has_min(k)) {
			__m256 m0 = _mm256_mul_ps(_mm256_broadcastss_ps(_mm_permute_ps(dm0, 0x55)),
						  _mm256_loadu_ps(sc[b].s));
			macc = _mm256_add_ps(macc,
					     _mm256_fmadd_ps(_mm256_broadcastss_ps(_mm_permute_ps(dm1, 0x55)),
							     _mm256_loadu_ps(sc[b + 1].s), m0));
		}
		__m256i q0 = w_quants(k, w0), q1 = w_quants(k, w1);
		__m256i qa0 = is_signed(k) ? _mm256_sign_epi8(q0, q0) : q0;
		__m256i qa1 = is_signed(k) ? _mm256_sign_epi8(q1, q1) : q1;
		for (int t = 0; t < WT; t++) {
			const uint8_t *a0 = a + (size_t)t * as + (size_t)b * ab;
			__m256 p0 = block_products(k, q0, qa0, a0);
			__m256 p1 = block_products(k, q1, qa1, a0 + ab);
			__m256 two = _mm256_fmadd_ps(p1, _mm256_broadcast_ss(&sp[1][t]),
						     _mm256_mul_ps(p0, _mm256_broadcast_ss(&sp[0][t])));
			acc[t] = _mm256_add_ps(acc[t], two);
		}
	}
	if (b < nb) {
		const uint8_t *w0 = w + (size_t)b * wb;
		__m128 dm0 = nrv__h2f2(w0);
		_mm256_store_ps(sp[0], _mm256_mul_ps(_mm256_broadcastss_ps(dm0),
						     _mm256_loadu_ps(sc[b].d)));
		if (has_min(k))
			macc = _mm256_fmadd_ps(_mm256_broadcastss_ps(_mm_permute_ps(dm0, 0x55)),
					       _mm256_loadu_ps(sc[b].s), macc);
		__m256i q0 = w_quants(k, w0);
		__m256i qa0 = is_signed(k) ? _mm256_sign_epi8(q0, q0) : q0;
		for (int t = 0; t < WT; t++) {
			const uint8_t *a0 = a + (size_t)t * as + (size_t)b * ab;
			__m256 p0 = block_products(k, q0, qa0, a0);
			acc[t] = _mm256_fmadd_ps(p0, _mm256_broadcast_ss(&sp[0][t]), acc[t]);
		}
	}
	float mins[WT] __attribute__((aligned(32)));
	_mm256_store_ps(mins, macc);
	for (int t = 0; t < WT; t++) {
		float s = nrv__hsum8(acc[t]);
		if (has_min(k))
			s += mins[t];
		y[(size_t)t * ldy] = s;
	}
}

/* Tokens in tiles of WT with the wide tiles, row by row; the leftover
 * tokens (and rows too long for the scale buffer) with the small tiles. */
NRV_INLINE void gemm_wide(enum q32_kind k, const struct nrv__tiles *tl, int nb, const uint8_t *w,
			  size_t ws, int n_rows, const uint8_t *a, size_t as, int n_tok, float *y,
			  size_t ldy)
{
	struct q32_scales sc[WIDE_NB_MAX];
	int t = 0;
	if (nb <= WIDE_NB_MAX) {
		for (; t + WT <= n_tok; t += WT) {
			const uint8_t *at = a + (size_t)t * as;
			wide_scales(k, nb, at, as, sc);
			for (int r = 0; r < n_rows; r++)
				tile_wide(k, nb, w + (size_t)r * ws, sc, at, as, y + (size_t)t * ldy + r,
					  ldy);
		}
	}
	if (t < n_tok)
		nrv__gemm_tiles(tl, nb, w, ws, n_rows, a + (size_t)t * as, as, n_tok - t,
				y + (size_t)t * ldy, ldy);
}

/*
 * The decode tile: R rows x 1 token, the same arithmetic as tile_q32 at
 * T = 1 (so its outputs equal vec_dot bit for bit), in fewer instructions:
 *
 *   - one multiply gives both scale products: (d_w, m_w) * (d_a, s_a) =
 *     (d_w * d_a, m_w * s_a), and one fma the min pair's
 *     fma(m_w1, s_a1, m_w0 * s_a0) in lane 1;
 *   - a weight block's nibbles unpack with one 128-bit broadcast load, a
 *     variable shift (high lane by 4) and a mask;
 *   - the weight stream is prefetched PF_ROWS rows ahead (the backend
 *     walks a thread's rows in order, so that is the data it needs next;
 *     a prefetch past the matrix end is harmless). Measured on Zen 3
 *     (perf/ notes in docs/cpu-kernels.md): 16 rows (5.8 KB of Q4_1, 9.8
 *     KB of Q8_0 at 576 columns) beat 8 and 32; an 8-row tile was slower
 *     than 4 rows (16 accumulators spill).
 */
#define PF_ROWS 16

NRV_INLINE __m256i w_quants_t1(enum q32_kind k, const uint8_t *b)
{
	if (k == K_Q4_0 || k == K_Q4_1) {
		const int off = k == K_Q4_0 ? 2 : 4;
		__m256i x = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(b + off)));
		x = _mm256_srlv_epi32(x, _mm256_set_epi32(4, 4, 4, 4, 0, 0, 0, 0));
		x = _mm256_and_si256(x, _mm256_set1_epi8(0x0f));
		return k == K_Q4_0 ? _mm256_sub_epi8(x, _mm256_set1_epi8(8)) : x;
	}
	return w_quants(k, b);
}

/* (d, s) of an activation block (Q8_1), or (d, junk) for Q8_0. */
NRV_INLINE __m128 act_ds(enum q32_kind k, const uint8_t *ab)
{
	if (has_min(k))
		return nrv__h2f2(ab);
	return _mm_cvtph_ps(_mm_cvtsi32_si128(nrv__ld16(ab)));
}

NRV_INLINE void tile_q32_t1(enum q32_kind k, int R, int nb, const uint8_t *w, size_t ws,
			    const uint8_t *a, float *y)
{
	const int wb = w_bytes(k);
	const int ab = has_min(k) ? 36 : 34;
	const size_t pf = (size_t)PF_ROWS * ws;
	__m256 acc[RMAX];
	__m128 macc[RMAX];
	for (int r = 0; r < R; r++) {
		acc[r] = _mm256_setzero_ps();
		macc[r] = _mm_setzero_ps();
	}
	int b = 0;
	for (; b + 2 <= nb; b += 2) {
		const uint8_t *a0 = a + (size_t)b * ab, *a1 = a0 + ab;
		__m128 das0 = act_ds(k, a0), das1 = act_ds(k, a1);
		__m256i x0 = _mm256_loadu_si256((const __m256i *)(a0 + (has_min(k) ? 4 : 2)));
		__m256i x1 = _mm256_loadu_si256((const __m256i *)(a1 + (has_min(k) ? 4 : 2)));
		for (int r = 0; r < R; r++) {
			const uint8_t *w0 = w + (size_t)r * ws + (size_t)b * wb, *w1 = w0 + wb;
			_mm_prefetch((const char *)(w0 + pf), _MM_HINT_T0);
			__m128 dm0 = nrv__h2f2(w0), dm1 = nrv__h2f2(w1); /* d, m */
			__m128 pr0 = _mm_mul_ps(dm0, das0);                /* d_w d_a, m_w s_a */
			__m128 pr1 = _mm_mul_ps(dm1, das1);
			if (has_min(k))
				macc[r] = _mm_add_ps(macc[r], _mm_fmadd_ps(dm1, das1, pr0));
			__m256i q0 = w_quants_t1(k, w0), q1 = w_quants_t1(k, w1);
			__m256 p0, p1;
			if (is_signed(k)) {
				p0 = _mm256_cvtepi32_ps(nrv__dot_us(_mm256_sign_epi8(q0, q0),
								   _mm256_sign_epi8(x0, q0)));
				p1 = _mm256_cvtepi32_ps(nrv__dot_us(_mm256_sign_epi8(q1, q1),
								   _mm256_sign_epi8(x1, q1)));
			} else {
				p0 = _mm256_cvtepi32_ps(nrv__dot_us(q0, x0));
				p1 = _mm256_cvtepi32_ps(nrv__dot_us(q1, x1));
			}
			__m256 two = _mm256_fmadd_ps(p1, _mm256_broadcastss_ps(pr1),
						     _mm256_mul_ps(p0, _mm256_broadcastss_ps(pr0)));
			acc[r] = _mm256_add_ps(acc[r], two);
		}
	}
	if (b < nb) {
		const uint8_t *a0 = a + (size_t)b * ab;
		__m128 das0 = act_ds(k, a0);
		__m256i x0 = _mm256_loadu_si256((const __m256i *)(a0 + (has_min(k) ? 4 : 2)));
		for (int r = 0; r < R; r++) {
			const uint8_t *w0 = w + (size_t)r * ws + (size_t)b * wb;
			__m128 dm0 = nrv__h2f2(w0);
			__m128 pr0 = _mm_mul_ps(dm0, das0);
			if (has_min(k))
				macc[r] = _mm_fmadd_ps(dm0, das0, macc[r]);
			__m256i q0 = w_quants_t1(k, w0);
			__m256 p0;
			if (is_signed(k))
				p0 = _mm256_cvtepi32_ps(nrv__dot_us(_mm256_sign_epi8(q0, q0),
								   _mm256_sign_epi8(x0, q0)));
			else
				p0 = _mm256_cvtepi32_ps(nrv__dot_us(q0, x0));
			acc[r] = _mm256_fmadd_ps(p0, _mm256_broadcastss_ps(pr0), acc[r]);
		}
	}
	for (int r = 0; r < R; r++) {
		float s = nrv__hsum8(acc[r]);
		if (has_min(k))
			s += lane_of(macc[r], 1);
		y[r] = s;
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
	{ (void)as; (void)ldy; tile_q32_t1(kind, 4, nb, w, ws, a, y); }                                    \
	static void name##_tile_1x1(int nb, const uint8_t *w, size_t ws, const uint8_t *a,    \
				    size_t as, float *y, size_t ldy)                           \
	{ (void)as; (void)ldy; tile_q32_t1(kind, 1, nb, w, ws, a, y); }                                    \
	static const struct nrv__tiles name##_tiles = {                                         \
		.t2x4 = name##_tile_2x4, .t1x4 = name##_tile_1x4,                              \
		.t2x3 = name##_tile_2x3, .t1x3 = name##_tile_1x3,                              \
		.t2x2 = name##_tile_2x2, .t1x2 = name##_tile_1x2,                              \
		.t4x1 = name##_tile_4x1, .t1x1 = name##_tile_1x1,                              \
	};                                                                                     \
	float nrv_vec_dot_##name##_avx2(int n, const void *w, const void *a)                   \
	{                                                                                      \
		float y;                                                                       \
		tile_q32_t1(kind, 1, n / NRV_QK, w, 0, a, &y);                                 \
		return y;                                                                      \
	}                                                                                      \
	void nrv_gemm_##name##_avx2(int n, const void *w, size_t w_stride, int n_rows,        \
				    const void *a, size_t a_stride, int n_tok, float *y,       \
				    size_t ldy)                                                \
	{                                                                                      \
		gemm_wide(kind, &name##_tiles, n / NRV_QK, w, w_stride, n_rows, a, a_stride,   \
			  n_tok, y, ldy);                                                      \
	}

Q32_TILES(q4_0, K_Q4_0)
Q32_TILES(q4_1, K_Q4_1)
Q32_TILES(q5_0, K_Q5_0)
Q32_TILES(q5_1, K_Q5_1)
Q32_TILES(q8_0, K_Q8_0)
