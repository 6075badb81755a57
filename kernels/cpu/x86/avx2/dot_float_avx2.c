/*
 * kernels/cpu/x86/avx2/dot_float_avx2.c - AVX2 dot products of float
 * weights (F32, F16, BF16) with F32 activations.
 *
 * Four 8-lane float accumulators (32 elements per step), reduced as
 * (a0 + a1) + (a2 + a3) and then across lanes; a tail of fewer than 8
 * elements is added last in scalar. The reference accumulates in double,
 * so the two differ by float rounding (the tests bound it).
 */
#include "kernels/cpu/x86/avx2/kernels_avx2.h"
#include "kernels/cpu/x86/avx2/simd_avx2.h"

NRV_INLINE __m256 load_f16x8(const nrv_half *p)
{
	return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

NRV_INLINE __m256 load_bf16x8(const nrv_bf16 *p)
{
	__m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
	return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

/* kind: 0 F32, 1 F16, 2 BF16 (constant after inlining). */
NRV_INLINE __m256 load_w8(int kind, const void *w, int i)
{
	switch (kind) {
	case 0: return _mm256_loadu_ps((const float *)w + i);
	case 1: return load_f16x8((const nrv_half *)w + i);
	default: return load_bf16x8((const nrv_bf16 *)w + i);
	}
}

NRV_INLINE float w_scalar(int kind, const void *w, int i)
{
	switch (kind) {
	case 0: return ((const float *)w)[i];
	case 1: return nrv_half_to_float(((const nrv_half *)w)[i]);
	default: return nrv_bf16_to_float(((const nrv_bf16 *)w)[i]);
	}
}

NRV_INLINE float dot_float(int kind, int n, const void *w, const float *a)
{
	__m256 acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
			  _mm256_setzero_ps() };
	int i = 0;
	for (; i + 32 <= n; i += 32)
		for (int k = 0; k < 4; k++)
			acc[k] = _mm256_fmadd_ps(load_w8(kind, w, i + 8 * k),
						 _mm256_loadu_ps(a + i + 8 * k), acc[k]);
	for (; i + 8 <= n; i += 8)
		acc[0] = _mm256_fmadd_ps(load_w8(kind, w, i), _mm256_loadu_ps(a + i), acc[0]);
	float s = nrv__hsum8(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]),
					   _mm256_add_ps(acc[2], acc[3])));
	for (; i < n; i++)
		s += w_scalar(kind, w, i) * a[i];
	return s;
}

float nrv_vec_dot_f32_avx2(int n, const void *w, const void *a)
{
	return dot_float(0, n, w, a);
}

float nrv_vec_dot_f16_avx2(int n, const void *w, const void *a)
{
	return dot_float(1, n, w, a);
}

float nrv_vec_dot_bf16_avx2(int n, const void *w, const void *a)
{
	return dot_float(2, n, w, a);
}
