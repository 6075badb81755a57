/*
 * kernels/cpu/x86/avx512/dot_avx512.c - AVX-512 (F, BW, VL, VNNI) dot
 * products and gemm tiles for Q4_0, Q8_0 (against Q8_0 activations) and
 * Q4_1 (against Q8_1).
 *
 * A 512-bit register holds two consecutive blocks: lanes 0..7 block b,
 * lanes 8..15 block b + 1. Per pair of blocks and output (row, token):
 *
 *   p    = vpdpbusd(-k * sum(q_a), q_w unsigned, q_a)  16 int32 lanes, exact
 *          (Q4_0: q_w = nibble, k = 8; Q8_0: q_w = w + 128, k = 128;
 *           Q4_1: q_w = nibble, no correction)
 *   acc  = fma(float(p), [d_w(b) d_a(b) x8 | d_w(b+1) d_a(b+1) x8], acc)
 *   macc = macc + fma(m_w(b+1), s_a(b+1), m_w(b) * s_a(b))   (Q4_1)
 *
 * an odd last block fills only the low half (the high half adds 0 * 0),
 * and y = hsum of the 16 lanes (high half onto the low, then the AVX2
 * order) [+ macc]. vec_dot is the 1 x 1 tile, so gemm equals it bit for
 * bit. Results differ from the AVX2 table's in float rounding only.
 */
#include <immintrin.h>

#include "kernels/cpu/x86/avx2/kernels_avx2.h"
#include "kernels/cpu/x86/avx2/simd_avx2.h"
#include "kernels/cpu/x86/avx512/kernels_avx512.h"

enum z_kind { Z_Q4_0, Z_Q4_1, Z_Q8_0 };

NRV_INLINE int z_wbytes(enum z_kind k)
{
	return k == Z_Q4_0 ? 18 : k == Z_Q4_1 ? 20 : 34;
}

NRV_INLINE int z_has_min(enum z_kind k)
{
	return k == Z_Q4_1;
}

/* The unsigned quants of one weight block, as vpdpbusd wants them. */
NRV_INLINE __m256i z_quants(enum z_kind k, const uint8_t *b)
{
	switch (k) {
	case Z_Q4_0: return nrv__nibbles32(b + 2);
	case Z_Q4_1: return nrv__nibbles32(b + 4);
	default:
		return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(b + 2)),
					_mm256_set1_epi8((char)0x80));
	}
}

NRV_INLINE __m512i z_join(__m256i lo, __m256i hi)
{
	return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* [x0 x8 | x1 x8] from lanes 0 and 1 of x. */
NRV_INLINE __m512 z_halves(__m128 x)
{
	const __m512i idx = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
	return _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(x));
}

NRV_INLINE float z_hsum16(__m512 v)
{
	__m256 lo = _mm512_castps512_ps256(v);
	__m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
	return nrv__hsum8(_mm256_add_ps(lo, hi));
}

NRV_INLINE __m128 z_lanes_t(const __m128 *v, int T, int lane)
{
	/* lane t of the result: lane `lane` (0 or 1) of v[t] */
	__m128 x[4];
	for (int t = 0; t < 4; t++)
		x[t] = t < T ? v[t] : _mm_setzero_ps();
	__m128 u01 = _mm_unpacklo_ps(x[0], x[1]);
	__m128 u23 = _mm_unpacklo_ps(x[2], x[3]);
	return lane == 0 ? _mm_movelh_ps(u01, u23) : _mm_movehl_ps(u23, u01);
}

NRV_INLINE float z_lane_of(__m128 x, int t)
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

/* One step over blocks b and (when nblk == 2) b + 1 for a whole tile. */
NRV_INLINE void z_step(enum z_kind k, int R, int T, int nblk, int b, const uint8_t *w, size_t ws,
		       const uint8_t *a, size_t as, __m512 acc[RMAX][TMAX], __m128 macc[RMAX])
{
	const int wb = z_wbytes(k);
	const int ab = z_has_min(k) ? 36 : 34;
	const int aq = z_has_min(k) ? 4 : 2;
	__m512i x[TMAX], ncorr[TMAX];
	__m512 dat[TMAX];
	__m128 ad0[TMAX], ad1[TMAX];
	for (int t = 0; t < T; t++) {
		const uint8_t *a0 = a + (size_t)t * as + (size_t)b * ab;
		__m256i x0 = _mm256_loadu_si256((const __m256i *)(a0 + aq));
		__m256i x1 = nblk == 2 ? _mm256_loadu_si256((const __m256i *)(a0 + ab + aq))
				       : _mm256_setzero_si256();
		x[t] = z_join(x0, x1);
		/* d and s of both blocks; the absent block's are zero */
		ad0[t] = z_has_min(k) ? nrv__h2f2(a0) : _mm_cvtph_ps(_mm_cvtsi32_si128(nrv__ld16(a0)));
		ad1[t] = nblk == 2 ? (z_has_min(k) ? nrv__h2f2(a0 + ab)
						   : _mm_cvtph_ps(_mm_cvtsi32_si128(nrv__ld16(a0 + ab))))
				   : _mm_setzero_ps();
		dat[t] = z_halves(_mm_unpacklo_ps(ad0[t], ad1[t]));
		if (k == Z_Q4_0)
			ncorr[t] = _mm512_sub_epi32(_mm512_setzero_si512(),
						    _mm512_dpbusd_epi32(_mm512_setzero_si512(),
									_mm512_set1_epi8(8), x[t]));
		else if (k == Z_Q8_0)
			ncorr[t] = _mm512_sub_epi32(_mm512_setzero_si512(),
						    _mm512_dpbusd_epi32(_mm512_setzero_si512(),
									_mm512_set1_epi8((char)0x80), x[t]));
		else
			ncorr[t] = _mm512_setzero_si512();
	}
	__m128 sa0 = _mm_setzero_ps(), sa1 = _mm_setzero_ps();
	if (z_has_min(k)) {
		sa0 = z_lanes_t(ad0, T, 1);
		sa1 = z_lanes_t(ad1, T, 1);
	}
	for (int r = 0; r < R; r++) {
		const uint8_t *w0 = w + (size_t)r * ws + (size_t)b * wb;
		__m128 dm0 = nrv__h2f2(w0); /* d, m (Q4_0/Q8_0: d, quants) */
		__m128 dm1 = nblk == 2 ? nrv__h2f2(w0 + wb) : _mm_setzero_ps();
		__m128 u = _mm_unpacklo_ps(dm0, dm1); /* d0 d1 m0 m1 */
		__m512 wd = z_halves(u);
		if (z_has_min(k)) {
			if (nblk == 2)
				macc[r] = _mm_add_ps(macc[r],
						     _mm_fmadd_ps(_mm_permute_ps(u, 0xff), sa1,
								  _mm_mul_ps(_mm_permute_ps(u, 0xaa), sa0)));
			else
				macc[r] = _mm_fmadd_ps(_mm_permute_ps(u, 0xaa), sa0, macc[r]);
		}
		__m256i q1 = nblk == 2 ? z_quants(k, w0 + wb) : _mm256_setzero_si256();
		__m512i q = z_join(z_quants(k, w0), q1);
		for (int t = 0; t < T; t++) {
			__m512i p = _mm512_dpbusd_epi32(ncorr[t], q, x[t]);
			acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(wd, dat[t]),
						    acc[r][t]);
		}
	}
}

NRV_INLINE void tile_z(enum z_kind k, int R, int T, int nb, const uint8_t *w, size_t ws,
		       const uint8_t *a, size_t as, float *y, size_t ldy)
{
	__m512 acc[RMAX][TMAX];
	__m128 macc[RMAX];
	for (int r = 0; r < R; r++) {
		macc[r] = _mm_setzero_ps();
		for (int t = 0; t < T; t++)
			acc[r][t] = _mm512_setzero_ps();
	}
	int b = 0;
	for (; b + 2 <= nb; b += 2)
		z_step(k, R, T, 2, b, w, ws, a, as, acc, macc);
	if (b < nb)
		z_step(k, R, T, 1, b, w, ws, a, as, acc, macc);
	for (int r = 0; r < R; r++) {
		for (int t = 0; t < T; t++) {
			float s = z_hsum16(acc[r][t]);
			if (z_has_min(k))
				s += z_lane_of(macc[r], t);
			y[(size_t)t * ldy + r] = s;
		}
	}
}

#define Z_TILES(name, kind)                                                               \
	NRV__DEFINE_TILES(name, tile_z, kind)                                             \
	float nrv_vec_dot_##name##_avx512(int n, const void *w, const void *a)            \
	{                                                                                 \
		float y;                                                                  \
		tile_z(kind, 1, 1, n / NRV_QK, w, 0, a, 0, &y, 0);                        \
		return y;                                                                 \
	}                                                                                 \
	void nrv_gemm_##name##_avx512(int n, const void *w, size_t w_stride, int n_rows, \
				      const void *a, size_t a_stride, int n_tok, float *y, \
				      size_t ldy)                                         \
	{                                                                                 \
		nrv__gemm_tiles(&name##_tiles, n / NRV_QK, w, w_stride, n_rows, a,        \
				a_stride, n_tok, y, ldy);                                 \
	}

Z_TILES(q4_0, Z_Q4_0)
Z_TILES(q4_1, Z_Q4_1)
Z_TILES(q8_0, Z_Q8_0)
