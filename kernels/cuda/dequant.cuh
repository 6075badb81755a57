/*
 * kernels/cuda/dequant.cuh - device dequantization of one 32-element unit
 * of a weight row (a 32-block, or a sub-block of a K-quant super-block).
 *
 * The arithmetic is the scalar reference's (kernels/cpu/ref/quant_ref.c),
 * operation for operation with no fused multiply-add (__fmul_rn /
 * __fadd_rn), so a dequantized element equals the reference's bit for bit.
 */
#ifndef NRV_KERNELS_CUDA_DEQUANT_CUH
#define NRV_KERNELS_CUDA_DEQUANT_CUH

#ifdef __CUDACC__
#include <cuda_fp16.h>
#define NRV_CU_HD __host__ __device__ __forceinline__
#else
/* Host builds (tests/kernels/test_cuda_dequant.cpp) compile the same code
 * as plain C++ to check it against the reference without a GPU. */
#define NRV_CU_HD inline
#endif

#include "kernels/quant.h"

/* Loop unrolling for the device compiler only (host compilers would warn). */
#ifdef __CUDA_ARCH__
#define NRV_CU_UNROLL _Pragma("unroll")
#else
#define NRV_CU_UNROLL
#endif

/* Unfused float multiply, add, subtract: the device would otherwise
 * contract d * q + m into an FMA and round once instead of twice. */
static NRV_CU_HD float nrv_cu_mul(float a, float b)
{
#ifdef __CUDA_ARCH__
	return __fmul_rn(a, b);
#else
	return a * b;
#endif
}

static NRV_CU_HD float nrv_cu_add(float a, float b)
{
#ifdef __CUDA_ARCH__
	return __fadd_rn(a, b);
#else
	return a + b;
#endif
}

static NRV_CU_HD float nrv_cu_sub(float a, float b)
{
#ifdef __CUDA_ARCH__
	return __fsub_rn(a, b);
#else
	return a - b;
#endif
}

static NRV_CU_HD float nrv_cu_h2f(const uint8_t *p)
{
#ifdef __CUDA_ARCH__
	return __half2float(__ushort_as_half(*(const uint16_t *)p));
#else
	return nrv_half_to_float(*(const uint16_t *)p);
#endif
}

/* 16-bit little-endian load from a 2-byte aligned address. */
static NRV_CU_HD uint32_t nrv_cu_u16(const uint8_t *p)
{
	return *(const uint16_t *)p;
}

/* The 6-bit scale and min of sub-block s of a Q4_K / Q5_K super-block. */
static NRV_CU_HD void nrv_cu_k_scale(const uint8_t *sc, int s, int *d, int *m)
{
	if (s < 4) {
		*d = sc[s] & 63;
		*m = sc[s + 4] & 63;
	} else {
		*d = (sc[s + 4] & 0xF) | ((sc[s - 4] >> 6) << 4);
		*m = (sc[s + 4] >> 4) | ((sc[s] >> 6) << 4);
	}
}

/* w[0..31] = elements [32u, 32u + 32) of the row at `row`. */
template <int T>
static NRV_CU_HD void nrv_cu_deq_unit(const uint8_t *row, int u, float *w)
{
	if (T == NRV_TYPE_F32) {
		const float *p = (const float *)row + (size_t)u * 32;
NRV_CU_UNROLL
		for (int i = 0; i < 32; i++)
			w[i] = p[i];
	} else if (T == NRV_TYPE_F16) {
		const uint8_t *p = row + (size_t)u * 64;
NRV_CU_UNROLL
		for (int i = 0; i < 32; i++)
			w[i] = nrv_cu_h2f(p + 2 * i);
	} else if (T == NRV_TYPE_BF16) {
		const uint16_t *p = (const uint16_t *)row + (size_t)u * 32;
NRV_CU_UNROLL
		for (int i = 0; i < 32; i++)
			w[i] = nrv_bf16_to_float(p[i]);
	} else if (T == NRV_TYPE_Q4_0 || T == NRV_TYPE_Q4_1) {
		const int bs = T == NRV_TYPE_Q4_0 ? 18 : 20;
		const uint8_t *b = row + (size_t)u * bs;
		float d = nrv_cu_h2f(b);
		float m = T == NRV_TYPE_Q4_1 ? nrv_cu_h2f(b + 2) : 0.0f;
		const uint8_t *qs = b + (T == NRV_TYPE_Q4_0 ? 2 : 4);
NRV_CU_UNROLL
		for (int j = 0; j < 16; j += 2) {
			uint32_t v = nrv_cu_u16(qs + j);
NRV_CU_UNROLL
			for (int k = 0; k < 2; k++) {
				int lo = (v >> (8 * k)) & 0xF, hi = (v >> (8 * k + 4)) & 0xF;
				if (T == NRV_TYPE_Q4_0) {
					w[j + k] = nrv_cu_mul(d, (float)(lo - 8));
					w[j + k + 16] = nrv_cu_mul(d, (float)(hi - 8));
				} else {
					w[j + k] = nrv_cu_add(nrv_cu_mul(d, (float)lo), m);
					w[j + k + 16] = nrv_cu_add(nrv_cu_mul(d, (float)hi), m);
				}
			}
		}
	} else if (T == NRV_TYPE_Q5_0 || T == NRV_TYPE_Q5_1) {
		const int bs = T == NRV_TYPE_Q5_0 ? 22 : 24;
		const uint8_t *b = row + (size_t)u * bs;
		float d = nrv_cu_h2f(b);
		float m = T == NRV_TYPE_Q5_1 ? nrv_cu_h2f(b + 2) : 0.0f;
		const uint8_t *qhp = b + (T == NRV_TYPE_Q5_0 ? 2 : 4);
		const uint8_t *qs = qhp + 4;
		uint32_t qh = nrv_cu_u16(qhp) | nrv_cu_u16(qhp + 2) << 16;
NRV_CU_UNROLL
		for (int j = 0; j < 16; j += 2) {
			uint32_t v = nrv_cu_u16(qs + j);
NRV_CU_UNROLL
			for (int k = 0; k < 2; k++) {
				int i = j + k;
				int lo = ((v >> (8 * k)) & 0xF) | (int)((qh >> i) & 1) << 4;
				int hi = ((v >> (8 * k + 4)) & 0xF) | (int)((qh >> (i + 16)) & 1) << 4;
				if (T == NRV_TYPE_Q5_0) {
					w[i] = nrv_cu_mul(d, (float)(lo - 16));
					w[i + 16] = nrv_cu_mul(d, (float)(hi - 16));
				} else {
					w[i] = nrv_cu_add(nrv_cu_mul(d, (float)lo), m);
					w[i + 16] = nrv_cu_add(nrv_cu_mul(d, (float)hi), m);
				}
			}
		}
	} else if (T == NRV_TYPE_Q8_0) {
		const uint8_t *b = row + (size_t)u * 34;
		float d = nrv_cu_h2f(b);
NRV_CU_UNROLL
		for (int j = 0; j < 32; j += 2) {
			uint32_t v = nrv_cu_u16(b + 2 + j);
			w[j] = nrv_cu_mul((float)(int8_t)(v & 0xFF), d);
			w[j + 1] = nrv_cu_mul((float)(int8_t)(v >> 8), d);
		}
	} else if (T == NRV_TYPE_Q4_K || T == NRV_TYPE_Q5_K) {
		const int bs = T == NRV_TYPE_Q4_K ? 144 : 176;
		const uint8_t *b = row + (size_t)(u >> 3) * bs;
		int s = u & 7, c = s >> 1, sh = (s & 1) * 4;
		float d = nrv_cu_h2f(b), dmin = nrv_cu_h2f(b + 2);
		int sc, mn;
		nrv_cu_k_scale(b + 4, s, &sc, &mn);
		float dl = nrv_cu_mul(d, (float)sc), ml = nrv_cu_mul(dmin, (float)mn);
		const uint8_t *qs = b + (T == NRV_TYPE_Q4_K ? 16 : 48) + 32 * c;
		const uint8_t *qh = b + 16;
NRV_CU_UNROLL
		for (int l = 0; l < 32; l += 2) {
			uint32_t v = nrv_cu_u16(qs + l);
			uint32_t h = T == NRV_TYPE_Q5_K ? nrv_cu_u16(qh + l) : 0;
NRV_CU_UNROLL
			for (int k = 0; k < 2; k++) {
				int q = (v >> (8 * k + sh)) & 0xF;
				if (T == NRV_TYPE_Q5_K)
					q |= (int)((h >> (8 * k + s)) & 1) << 4;
				w[l + k] = nrv_cu_sub(nrv_cu_mul(dl, (float)q), ml);
			}
		}
	} else if (T == NRV_TYPE_Q6_K) {
		const uint8_t *b = row + (size_t)(u >> 3) * 210;
		int j = u & 7, h = j >> 2, g = j & 3;
		float d = nrv_cu_h2f(b + 208);
		const uint8_t *ql = b + 64 * h + 32 * (g & 1);
		const uint8_t *qh = b + 128 + 32 * h;
		const int8_t *scales = (const int8_t *)(b + 192) + 8 * h + 2 * g;
		float dl0 = nrv_cu_mul(d, (float)scales[0]), dl1 = nrv_cu_mul(d, (float)scales[1]);
		int nsh = g < 2 ? 0 : 4;
NRV_CU_UNROLL
		for (int l = 0; l < 32; l += 2) {
			uint32_t v = nrv_cu_u16(ql + l), hv = nrv_cu_u16(qh + l);
NRV_CU_UNROLL
			for (int k = 0; k < 2; k++) {
				int nib = (v >> (8 * k + nsh)) & 0xF;
				int q2 = (hv >> (8 * k + 2 * g)) & 3;
				int q = (nib | q2 << 4) - 32;
				w[l + k] = nrv_cu_mul(l + k < 16 ? dl0 : dl1, (float)q);
			}
		}
	}
}

/* Calls F<T>(args...) for the runtime type t; returns -ENOTSUP for others. */
#define NRV_CU_DISPATCH(t, F, ...) \
	([&]() -> int { \
		switch (t) { \
		case NRV_TYPE_F32: return F<NRV_TYPE_F32>(__VA_ARGS__); \
		case NRV_TYPE_F16: return F<NRV_TYPE_F16>(__VA_ARGS__); \
		case NRV_TYPE_BF16: return F<NRV_TYPE_BF16>(__VA_ARGS__); \
		case NRV_TYPE_Q4_0: return F<NRV_TYPE_Q4_0>(__VA_ARGS__); \
		case NRV_TYPE_Q4_1: return F<NRV_TYPE_Q4_1>(__VA_ARGS__); \
		case NRV_TYPE_Q5_0: return F<NRV_TYPE_Q5_0>(__VA_ARGS__); \
		case NRV_TYPE_Q5_1: return F<NRV_TYPE_Q5_1>(__VA_ARGS__); \
		case NRV_TYPE_Q8_0: return F<NRV_TYPE_Q8_0>(__VA_ARGS__); \
		case NRV_TYPE_Q4_K: return F<NRV_TYPE_Q4_K>(__VA_ARGS__); \
		case NRV_TYPE_Q5_K: return F<NRV_TYPE_Q5_K>(__VA_ARGS__); \
		case NRV_TYPE_Q6_K: return F<NRV_TYPE_Q6_K>(__VA_ARGS__); \
		default: return -ENOTSUP; \
		} \
	}())

#endif
