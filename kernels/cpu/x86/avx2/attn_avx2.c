/*
 * kernels/cpu/x86/avx2/attn_avx2.c - AVX2 + F16C attention kernels (the
 * contracts are in kernels.h, the references in ref/attn_ref.c).
 *
 * attn_scores: per (query, key), the hd products in 8 lanes, even 8-lane
 *   groups into one accumulator and odd groups into another (each a chain
 *   of FMAs), then y = hsum8(a0 + a1) * scale. That order is the only
 *   difference from the reference (which sums in element order), and it is
 *   the same for every nq and every split of the keys, so a score never
 *   depends on how many queries or keys share a call. The converted key
 *   row stays in registers while every query of the call meets it.
 * attn_values: the reference's arithmetic exactly (lane d does
 *   o[d] = o[d] + p * v[d] for each key in order, multiply then add), so
 *   it equals the reference bit for bit.
 * softmax_half, round_half: the reference's arithmetic (the max, the
 *   scaling and the rounding in lanes, expf and the double sum in order),
 *   so equal to the reference bit for bit, NaN payloads aside.
 */
#include <math.h>

#include "kernels/cpu/x86/avx2/kernels_avx2.h"
#include "kernels/cpu/x86/avx2/simd_avx2.h"

/* Eight halves at p as floats. */
NRV_INLINE __m256 ld_h8(const nrv_half *p)
{
	return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

/* dot(q, k) over nv 8-lane groups, k already converted (see the header). */
NRV_INLINE float qk_dot(int nv, const float *q, const __m256 *k)
{
	__m256 a0 = _mm256_mul_ps(_mm256_loadu_ps(q), k[0]);
	__m256 a1 = nv > 1 ? _mm256_mul_ps(_mm256_loadu_ps(q + 8), k[1]) : _mm256_setzero_ps();
	int v = 2;
	for (; v + 1 < nv; v += 2) {
		a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + 8 * v), k[v], a0);
		a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + 8 * v + 8), k[v + 1], a1);
	}
	if (v < nv)
		a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + 8 * v), k[v], a0);
	return nrv__hsum8(_mm256_add_ps(a0, a1));
}

/* head_dim 64: the key row lives in 8 registers across the queries. */
static void scores_hd64(int nq, const float *q, size_t qs, const nrv_half *k, size_t ks, int n,
			float scale, float *s, size_t ss)
{
	for (int j = 0; j < n; j++) {
		const nrv_half *kj = k + (size_t)j * ks;
		__m256 kv[8];
		for (int v = 0; v < 8; v++)
			kv[v] = ld_h8(kj + 8 * v);
		for (int i = 0; i < nq; i++)
			s[(size_t)i * ss + j] = qk_dot(8, q + (size_t)i * qs, kv) * scale;
	}
}

void nrv_attn_scores_avx2(int hd, int nq, const float *q, size_t q_stride, const nrv_half *k,
			  size_t k_stride, int n, float scale, float *s, size_t s_stride)
{
	if (hd % 8) {
		nrv_attn_scores_ref(hd, nq, q, q_stride, k, k_stride, n, scale, s, s_stride);
		return;
	}
	if (hd == 64) {
		scores_hd64(nq, q, q_stride, k, k_stride, n, scale, s, s_stride);
		return;
	}
	int nv = hd / 8;
	for (int j = 0; j < n; j++) {
		const nrv_half *kj = k + (size_t)j * k_stride;
		__m256 kv[64];
		for (int v = 0; v < nv; v++)
			kv[v] = ld_h8(kj + 8 * v);
		for (int i = 0; i < nq; i++)
			s[(size_t)i * s_stride + j] = qk_dot(nv, q + (size_t)i * q_stride, kv) * scale;
	}
}

/* o[0 .. 8w) += p[j] * v_j[0 .. 8w) for j < n, o in w registers. */
NRV_INLINE void values_cols(int w, const float *p, const nrv_half *v, size_t vs, int n, float *o)
{
	__m256 acc[8];
	for (int c = 0; c < w; c++)
		acc[c] = _mm256_loadu_ps(o + 8 * c);
	for (int j = 0; j < n; j++) {
		const nrv_half *vj = v + (size_t)j * vs;
		__m256 a = _mm256_broadcast_ss(p + j);
		for (int c = 0; c < w; c++)
			acc[c] = _mm256_add_ps(acc[c], _mm256_mul_ps(a, ld_h8(vj + 8 * c)));
	}
	for (int c = 0; c < w; c++)
		_mm256_storeu_ps(o + 8 * c, acc[c]);
}

void nrv_attn_values_avx2(int hd, int nq, const float *p, size_t p_stride, const nrv_half *v,
			  size_t v_stride, int n, float *o, size_t o_stride)
{
	if (hd % 8) {
		nrv_attn_values_ref(hd, nq, p, p_stride, v, v_stride, n, o, o_stride);
		return;
	}
	for (int i = 0; i < nq; i++) {
		const float *pi = p + (size_t)i * p_stride;
		float *oi = o + (size_t)i * o_stride;
		int d = 0;
		for (; d + 64 <= hd; d += 64)
			values_cols(8, pi, v + d, v_stride, n, oi + d);
		for (; d < hd; d += 8)
			values_cols(1, pi, v + d, v_stride, n, oi + d);
	}
}

void nrv_round_half_avx2(float *x, int n)
{
	int i = 0;
	for (; i + 8 <= n; i += 8) {
		__m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT);
		_mm256_storeu_ps(x + i, _mm256_cvtph_ps(h));
	}
	for (; i < n; i++)
		x[i] = nrv_half_to_float(nrv_float_to_half(x[i]));
}

void nrv_softmax_half_avx2(float *x, int n)
{
	/* The max: order does not matter; max_ps(x, m) returns m when x is
	 * NaN, so NaNs are skipped as the reference's x > mx skips them. */
	__m256 m8 = _mm256_set1_ps(-INFINITY);
	int i = 0;
	for (; i + 8 <= n; i += 8)
		m8 = _mm256_max_ps(_mm256_loadu_ps(x + i), m8);
	__m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m8), _mm256_extractf128_ps(m8, 1));
	m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
	m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
	float mx = _mm_cvtss_f32(m4);
	for (; i < n; i++)
		if (x[i] > mx)
			mx = x[i];
	/* expf and the double sum in order, as the reference. */
	double sum = 0.0;
	for (i = 0; i < n; i++) {
		x[i] = expf(x[i] - mx);
		sum += x[i];
	}
	const __m256 inv = _mm256_set1_ps((float)(1.0 / sum));
	for (i = 0; i + 8 <= n; i += 8) {
		__m256 y = _mm256_mul_ps(_mm256_loadu_ps(x + i), inv);
		_mm256_storeu_ps(x + i, _mm256_cvtph_ps(_mm256_cvtps_ph(y, _MM_FROUND_TO_NEAREST_INT)));
	}
	for (; i < n; i++)
		x[i] = nrv_half_to_float(nrv_float_to_half(x[i] * _mm256_cvtss_f32(inv)));
}
