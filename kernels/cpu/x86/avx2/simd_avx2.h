/*
 * kernels/cpu/x86/avx2/simd_avx2.h - small AVX2 helpers shared by the
 * AVX2 kernel files (and by the AVX-512 files, which are built with the
 * AVX2 flags too). Intrinsics: include only from kernels/cpu/x86/.
 *
 * Owns: unaligned loads, half conversion, fixed-order horizontal sums,
 * and the unpackers that turn a 32-element block into 32 bytes.
 */
#ifndef NRV_KERNELS_CPU_X86_AVX2_SIMD_AVX2_H
#define NRV_KERNELS_CPU_X86_AVX2_SIMD_AVX2_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels/quant.h"

#define NRV_INLINE static inline __attribute__((always_inline))

NRV_INLINE uint32_t nrv__ld32(const void *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

NRV_INLINE uint16_t nrv__ld16(const void *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* One half (at p) to float, through F16C: exact, as nrv_half_to_float. */
NRV_INLINE float nrv__h2f(const void *p)
{
	uint16_t h;
	memcpy(&h, p, sizeof(h));
	return _cvtsh_ss(h);
}

/* Two adjacent halves (at p) to floats in lanes 0 and 1. */
NRV_INLINE __m128 nrv__h2f2(const void *p)
{
	return _mm_cvtph_ps(_mm_cvtsi32_si128((int)nrv__ld32(p)));
}

/*
 * Sum of the 8 lanes in one fixed order: (lo + hi) pairwise, then the two
 * halves of that, then the last pair. Every kernel that promises equal
 * results between its vec_dot and its gemm reduces with this function.
 */
NRV_INLINE float nrv__hsum8(__m256 v)
{
	__m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	x = _mm_add_ps(x, _mm_movehl_ps(x, x));
	x = _mm_add_ss(x, _mm_movehdup_ps(x));
	return _mm_cvtss_f32(x);
}

NRV_INLINE int nrv__hsum8_i32(__m256i v)
{
	__m128i x = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
	x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0x4e));
	x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0xb1));
	return _mm_cvtsi128_si32(x);
}

/* 16 bytes of nibbles -> 32 bytes 0..15: low nibbles first, then high. */
NRV_INLINE __m256i nrv__nibbles32(const uint8_t *qs)
{
	__m128i x = _mm_loadu_si128((const __m128i *)qs);
	__m256i y = _mm256_set_m128i(_mm_srli_epi16(x, 4), x);
	return _mm256_and_si256(y, _mm256_set1_epi8(0x0f));
}

/* The 32 fifth bits of Q5_0/Q5_1 (bit i of the LE u32 qh) -> byte i is
 * 0x10 when the bit is set, else 0. */
NRV_INLINE __m256i nrv__q5_high32(const uint8_t *qh4)
{
	__m256i v = _mm256_set1_epi32((int)nrv__ld32(qh4));
	/* byte i takes qh byte i / 8 */
	const __m256i pick = _mm256_set_epi64x(0x0303030303030303LL, 0x0202020202020202LL,
					       0x0101010101010101LL, 0x0000000000000000LL);
	v = _mm256_shuffle_epi8(v, pick);
	const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
	v = _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
	return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}

/* Unsigned bytes u times signed bytes s, summed into 8 int32 lanes: lane j
 * holds u[4j..4j+3] . s[4j..4j+3]. Exact when every adjacent pair sum
 * fits int16 (maddubs saturates): true for u <= 127 and |s| <= 127. */
NRV_INLINE __m256i nrv__dot_us(__m256i u, __m256i s)
{
	return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

#endif
