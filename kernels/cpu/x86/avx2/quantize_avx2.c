/*
 * kernels/cpu/x86/avx2/quantize_avx2.c - AVX2 activation quantizers
 * (Q8_0, Q8_1, Q8_K), byte for byte equal to the references.
 *
 * Equality holds because every step is either exact or the same IEEE
 * operation as the reference: max|x| is order independent; d, 1/d, the
 * sums and the half conversions are the same scalar expressions; x * id is
 * a lane-wise IEEE multiply; and every format rounds ties to even, which
 * the rounding instruction does in nearest mode.
 */
#include <math.h>

#include "kernels/cpu/x86/avx2/kernels_avx2.h"
#include "kernels/cpu/x86/avx2/simd_avx2.h"

/* Four vectors of 8 int32 (each within int8 range) -> 32 bytes in order. */
NRV_INLINE __m256i pack_i8(__m256i i0, __m256i i1, __m256i i2, __m256i i3)
{
	__m256i a = _mm256_packs_epi32(i0, i1);
	__m256i b = _mm256_packs_epi32(i2, i3);
	__m256i c = _mm256_packs_epi16(a, b);
	return _mm256_permutevar8x32_epi32(c, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* Largest of 8 lanes (none NaN). */
NRV_INLINE float hmax8(__m256 v)
{
	__m128 x = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	x = _mm_max_ps(x, _mm_movehl_ps(x, x));
	x = _mm_max_ss(x, _mm_movehdup_ps(x));
	return _mm_cvtss_f32(x);
}

/* max|x| over n8 vectors of 8. vmaxps returns its second operand when
 * either is NaN, so NaN elements are skipped as by the reference's
 * `if (a > amax)`. */
NRV_INLINE float absmax(const float *x, int n8)
{
	const __m256 sign = _mm256_set1_ps(-0.0f);
	__m256 m = _mm256_setzero_ps();
	for (int i = 0; i < n8; i++)
		m = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * i)), m);
	return hmax8(m);
}

/* One 32-element Q8_0/Q8_1 block; returns sum(q). */
NRV_INLINE int q8_block(const float *x, nrv_half *dh, int8_t *qs, float *dout)
{
	float amax = absmax(x, 4);
	float d = amax / 127.0f;
	float id = amax != 0.0f ? 127.0f / amax : 0.0f;
	if (!isfinite(id))
		id = 0.0f; /* amax below ~1e-37: the block quantizes to zeros */
	__m256 vid = _mm256_set1_ps(id);
	__m256i q[4];
	for (int i = 0; i < 4; i++)
		q[i] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * i), vid),
							  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
	_mm256_storeu_si256((__m256i *)qs, pack_i8(q[0], q[1], q[2], q[3]));
	*dh = nrv_float_to_half(d);
	*dout = d;
	return nrv__hsum8_i32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]),
					       _mm256_add_epi32(q[2], q[3])));
}

void nrv_quantize_q8_0_avx2(const float *x, void *y, int n)
{
	struct nrv_block_q8_0 *b = y;
	float d;
	for (int i = 0; i < n / NRV_QK; i++)
		q8_block(x + i * NRV_QK, &b[i].d, b[i].qs, &d);
}

void nrv_quantize_q8_1_avx2(const float *x, void *y, int n)
{
	struct nrv_block_q8_1 *b = y;
	for (int i = 0; i < n / NRV_QK; i++) {
		float d;
		int sum = q8_block(x + i * NRV_QK, &b[i].d, b[i].qs, &d);
		b[i].s = nrv_float_to_half((float)sum * d);
	}
}

void nrv_quantize_q8_K_avx2(const float *x, void *y, int n)
{
	const __m256 sign = _mm256_set1_ps(-0.0f);
	struct nrv_block_q8_K *b = y;
	for (int i = 0; i < n / NRV_QK_K; i++, x += NRV_QK_K) {
		float amax = absmax(x, NRV_QK_K / 8);
		if (amax == 0.0f) {
			memset(&b[i], 0, sizeof(b[i]));
			continue;
		}
		/* The reference keeps the first element of largest magnitude. */
		__m256 vmax = _mm256_set1_ps(amax);
		float max = 0.0f;
		for (int j = 0; j < NRV_QK_K / 8; j++) {
			__m256 v = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * j));
			int m = _mm256_movemask_ps(_mm256_cmp_ps(v, vmax, _CMP_EQ_OQ));
			if (m) {
				max = x[8 * j + __builtin_ctz((unsigned)m)];
				break;
			}
		}
		float iscale = -127.0f / max;
		__m256 vs = _mm256_set1_ps(iscale);
		for (int c = 0; c < NRV_QK_K / 32; c++) {
			__m256i q[4];
			for (int k = 0; k < 4; k++) {
				__m256 v = _mm256_mul_ps(vs, _mm256_loadu_ps(x + 32 * c + 8 * k));
				v = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
				q[k] = _mm256_min_epi32(_mm256_cvttps_epi32(v), _mm256_set1_epi32(127));
			}
			_mm256_storeu_si256((__m256i *)(b[i].qs + 32 * c),
					    pack_i8(q[0], q[1], q[2], q[3]));
			b[i].bsums[2 * c] = (int16_t)nrv__hsum8_i32(_mm256_add_epi32(q[0], q[1]));
			b[i].bsums[2 * c + 1] = (int16_t)nrv__hsum8_i32(_mm256_add_epi32(q[2], q[3]));
		}
		b[i].d = 1.0f / iscale;
	}
}
