/*
 * kernels/cpu/x86/avx2/dot_k_avx2.c - AVX2 dot products and gemm tiles
 * for the K-quants Q4_K, Q5_K and Q6_K against Q8_K activations.
 *
 * As in dot_q32_avx2.c, one tile function serves vec_dot (1 x 1) and every
 * gemm tile shape, and each output (row, token) goes through the same
 * operations in the same order per super-block of 256:
 *
 *   isum = sum over sub-blocks of sc * (q_w . q_a), in 8 int32 lanes;
 *   msum = mins . bsums (Q4_K, Q5_K) in 8 int32 lanes    - both exact;
 *   acc  = fma(float(isum), d_w * d_a, acc)
 *   acc  = fnmadd(float(msum), dmin_w * d_a, acc)        (Q4_K, Q5_K)
 *
 * then y = hsum8(acc). Q6_K's quants are used unsigned (0..63) and the
 * offset of 32 is taken out of isum exactly as 32 * (scales . bsums).
 * Built with -ffp-contract=off, like every file of this library.
 */
#include "kernels/cpu/x86/avx2/kernels_avx2.h"
#include "kernels/cpu/x86/avx2/simd_avx2.h"

enum k_kind { K_Q4_K, K_Q5_K, K_Q6_K };

#define Q8K_QS 4     /* offset of qs in a Q8_K block */
#define Q8K_BSUMS 260 /* offset of bsums */
#define Q8K_BYTES 292

NRV_INLINE int k_bytes(enum k_kind k)
{
	return k == K_Q4_K ? 144 : k == K_Q5_K ? 176 : 210;
}

/* Q4_K/Q5_K: the eight 6-bit scales (as eight int16 madd vectors) and the
 * mins, duplicated per pair of bsums (word j is the min of sub-block j/2). */
NRV_INLINE __m256i k_scales(const uint8_t *s12, __m256i sc[8])
{
	uint32_t s0 = nrv__ld32(s12), s1 = nrv__ld32(s12 + 4), s2 = nrv__ld32(s12 + 8);
	uint32_t lo_sc = s0 & 0x3f3f3f3fu;
	uint32_t lo_m = s1 & 0x3f3f3f3fu;
	uint32_t hi_sc = (s2 & 0x0f0f0f0fu) | ((s0 >> 6) & 0x03030303u) << 4;
	uint32_t hi_m = ((s2 >> 4) & 0x0f0f0f0fu) | ((s1 >> 6) & 0x03030303u) << 4;
	for (int j = 0; j < 4; j++) {
		sc[j] = _mm256_set1_epi16((short)((lo_sc >> (8 * j)) & 0xff));
		sc[j + 4] = _mm256_set1_epi16((short)((hi_sc >> (8 * j)) & 0xff));
	}
	__m128i m8 = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)hi_m, (int)lo_m));
	return _mm256_set_m128i(_mm_unpackhi_epi16(m8, m8), _mm_unpacklo_epi16(m8, m8));
}

/* Q6_K: scale vectors of the eight 32-element chunks (groups 2c and 2c+1
 * in the low and high 128-bit halves), and all sixteen scales as int16. */
NRV_INLINE __m256i k6_scales(const int8_t *s16, __m256i sc[8])
{
	for (int c = 0; c < 8; c++)
		sc[c] = _mm256_set_m128i(_mm_set1_epi16(s16[2 * c + 1]), _mm_set1_epi16(s16[2 * c]));
	return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)s16));
}

/* The 32 quants (0..63) of chunk c (elements 32c..32c+31) of a block. */
NRV_INLINE __m256i k_chunk(enum k_kind k, const uint8_t *blk, int c)
{
	const __m256i m4 = _mm256_set1_epi8(0x0f);
	if (k == K_Q6_K) {
		int h = c / 4, g = c % 4;
		__m256i ql = _mm256_loadu_si256((const __m256i *)(blk + 64 * h + 32 * (g % 2)));
		__m256i qh = _mm256_loadu_si256((const __m256i *)(blk + 128 + 32 * h));
		__m256i lo = g < 2 ? _mm256_and_si256(ql, m4)
				   : _mm256_and_si256(_mm256_srli_epi16(ql, 4), m4);
		/* bits 2g..2g+1 of qh to bits 4..5 */
		__m256i hi;
		switch (g) {
		case 0: hi = _mm256_slli_epi16(qh, 4); break;
		case 1: hi = _mm256_slli_epi16(qh, 2); break;
		case 2: hi = qh; break;
		default: hi = _mm256_srli_epi16(qh, 2); break;
		}
		return _mm256_or_si256(lo, _mm256_and_si256(hi, _mm256_set1_epi8(0x30)));
	}
	const uint8_t *qs = blk + (k == K_Q4_K ? 16 : 48) + 32 * (c / 2);
	__m256i x = _mm256_loadu_si256((const __m256i *)qs);
	__m256i q = c % 2 ? _mm256_and_si256(_mm256_srli_epi16(x, 4), m4) : _mm256_and_si256(x, m4);
	if (k == K_Q5_K) {
		/* the fifth bit of chunk c is bit c of qh[l]: move it to bit 4 */
		__m256i qh = _mm256_loadu_si256((const __m256i *)(blk + 16));
		__m256i hb;
		switch (c) {
		case 0: hb = _mm256_slli_epi16(qh, 4); break;
		case 1: hb = _mm256_slli_epi16(qh, 3); break;
		case 2: hb = _mm256_slli_epi16(qh, 2); break;
		case 3: hb = _mm256_slli_epi16(qh, 1); break;
		case 4: hb = qh; break;
		case 5: hb = _mm256_srli_epi16(qh, 1); break;
		case 6: hb = _mm256_srli_epi16(qh, 2); break;
		default: hb = _mm256_srli_epi16(qh, 3); break;
		}
		q = _mm256_or_si256(q, _mm256_and_si256(hb, _mm256_set1_epi8(0x10)));
	}
	return q;
}

NRV_INLINE __m256 bcast_lane(__m128 x, int t)
{
	switch (t) {
	case 0: return _mm256_broadcastss_ps(x);
	case 1: return _mm256_broadcastss_ps(_mm_permute_ps(x, 0x55));
	case 2: return _mm256_broadcastss_ps(_mm_permute_ps(x, 0xaa));
	default: return _mm256_broadcastss_ps(_mm_permute_ps(x, 0xff));
	}
}

#define RMAX 4
#define TMAX 4

NRV_INLINE void tile_k(enum k_kind k, int R, int T, int nb, const uint8_t *w, size_t ws,
		       const uint8_t *a, size_t as, float *y, size_t ldy)
{
	const int wb = k_bytes(k);
	__m256 acc[RMAX][TMAX];
	for (int r = 0; r < R; r++)
		for (int t = 0; t < T; t++)
			acc[r][t] = _mm256_setzero_ps();
	for (int b = 0; b < nb; b++) {
		/* lane t: d of token t */
		float dat[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
		for (int t = 0; t < T; t++)
			memcpy(&dat[t], a + (size_t)t * as + (size_t)b * Q8K_BYTES, sizeof(float));
		__m128 da = _mm_loadu_ps(dat);
		for (int r = 0; r < R; r++) {
			const uint8_t *blk = w + (size_t)r * ws + (size_t)b * wb;
			__m256i sc[8], mins;
			__m128 sd, smin;
			if (k == K_Q6_K) {
				mins = k6_scales((const int8_t *)(blk + 192), sc);
				sd = _mm_mul_ps(_mm_set1_ps(nrv__h2f(blk + 208)), da);
				smin = sd;
			} else {
				mins = k_scales(blk + 4, sc);
				__m128 dm = nrv__h2f2(blk);
				sd = _mm_mul_ps(_mm_broadcastss_ps(dm), da);
				smin = _mm_mul_ps(_mm_permute_ps(dm, 0x55), da);
			}
			__m256i isum[TMAX];
			for (int t = 0; t < T; t++)
				isum[t] = _mm256_setzero_si256();
			for (int c = 0; c < 8; c++) {
				__m256i q = k_chunk(k, blk, c);
				for (int t = 0; t < T; t++) {
					const uint8_t *qa = a + (size_t)t * as + (size_t)b * Q8K_BYTES +
							    Q8K_QS + 32 * c;
					__m256i p = _mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)qa));
					isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p, sc[c]));
				}
			}
			for (int t = 0; t < T; t++) {
				const uint8_t *bs = a + (size_t)t * as + (size_t)b * Q8K_BYTES + Q8K_BSUMS;
				__m256i msum = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)bs), mins);
				if (k == K_Q6_K) {
					__m256i i = _mm256_sub_epi32(isum[t], _mm256_slli_epi32(msum, 5));
					acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i), bcast_lane(sd, t),
								    acc[r][t]);
				} else {
					acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]),
								    bcast_lane(sd, t), acc[r][t]);
					acc[r][t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum),
								     bcast_lane(smin, t), acc[r][t]);
				}
			}
		}
	}
	for (int r = 0; r < R; r++)
		for (int t = 0; t < T; t++)
			y[(size_t)t * ldy + r] = nrv__hsum8(acc[r][t]);
}

#define K_TILES(name, kind)                                                               \
	NRV__DEFINE_TILES(name, tile_k, kind)                                             \
	float nrv_vec_dot_##name##_avx2(int n, const void *w, const void *a)              \
	{                                                                                 \
		float y;                                                                  \
		tile_k(kind, 1, 1, n / NRV_QK_K, w, 0, a, 0, &y, 0);                      \
		return y;                                                                 \
	}                                                                                 \
	void nrv_gemm_##name##_avx2(int n, const void *w, size_t w_stride, int n_rows,   \
				    const void *a, size_t a_stride, int n_tok, float *y,  \
				    size_t ldy)                                           \
	{                                                                                 \
		nrv__gemm_tiles(&name##_tiles, n / NRV_QK_K, w, w_stride, n_rows, a,      \
				a_stride, n_tok, y, ldy);                                 \
	}

K_TILES(q4_K, K_Q4_K)
K_TILES(q5_K, K_Q5_K)
K_TILES(q6_K, K_Q6_K)
