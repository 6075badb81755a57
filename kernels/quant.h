/*
 * kernels/quant.h - weight types and quantized block layouts.
 *
 * Declared once for C and CUDA: the structs below are the exact on-disk
 * layouts of GGUF tensor data (ggml's block formats), so a tensor's bytes
 * can be used in place from the file, a hugepage arena or device memory.
 * Sizes are asserted at compile time.
 *
 * Owns: the type ids, per-type block geometry, IEEE half/bfloat helpers.
 * Does not own: any kernel (those live in kernels/cpu and kernels/cuda).
 */
#ifndef NRV_KERNELS_QUANT_H
#define NRV_KERNELS_QUANT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __CUDACC__
#define NRV_HD __host__ __device__
#else
#define NRV_HD
#endif

/* Type ids are GGUF's ggml_type values, so they can be read from a file as is. */
enum nrv_type {
	NRV_TYPE_F32 = 0,
	NRV_TYPE_F16 = 1,
	NRV_TYPE_Q4_0 = 2,
	NRV_TYPE_Q4_1 = 3,
	NRV_TYPE_Q5_0 = 6,
	NRV_TYPE_Q5_1 = 7,
	NRV_TYPE_Q8_0 = 8,
	NRV_TYPE_Q8_1 = 9,
	NRV_TYPE_Q2_K = 10,
	NRV_TYPE_Q3_K = 11,
	NRV_TYPE_Q4_K = 12,
	NRV_TYPE_Q5_K = 13,
	NRV_TYPE_Q6_K = 14,
	NRV_TYPE_Q8_K = 15,
	NRV_TYPE_BF16 = 30,
	NRV_TYPE_COUNT = 40, /* one past the largest id any table is indexed by */
};

#define NRV_QK 32   /* elements per block of the 32-wide formats */
#define NRV_QK_K 256 /* elements per super-block of the K-quants */
#define NRV_K_SCALE_SIZE 12

typedef uint16_t nrv_half; /* IEEE binary16 bits */
typedef uint16_t nrv_bf16; /* upper 16 bits of an IEEE binary32 */

/* x = d * (q - 8), q a 4-bit value; low nibbles are elements 0..15, high 16..31. */
struct nrv_block_q4_0 {
	nrv_half d;
	uint8_t qs[NRV_QK / 2];
};

/* x = d * q + m */
struct nrv_block_q4_1 {
	nrv_half d;
	nrv_half m;
	uint8_t qs[NRV_QK / 2];
};

/* x = d * (q - 16), q = nibble | (bit i of qh) << 4 */
struct nrv_block_q5_0 {
	nrv_half d;
	uint8_t qh[4];
	uint8_t qs[NRV_QK / 2];
};

/* x = d * q + m */
struct nrv_block_q5_1 {
	nrv_half d;
	nrv_half m;
	uint8_t qh[4];
	uint8_t qs[NRV_QK / 2];
};

/* x = d * q */
struct nrv_block_q8_0 {
	nrv_half d;
	int8_t qs[NRV_QK];
};

/* Activation format for the q4_1/q5_1 dot products: s = d * sum(qs). */
struct nrv_block_q8_1 {
	nrv_half d;
	nrv_half s;
	int8_t qs[NRV_QK];
};

/* x = d * sc * q - dmin * m, 16 sub-blocks of 16 */
struct nrv_block_q2_K {
	uint8_t scales[NRV_QK_K / 16]; /* low nibble scale, high nibble min */
	uint8_t qs[NRV_QK_K / 4];
	nrv_half d;
	nrv_half dmin;
};

struct nrv_block_q3_K {
	uint8_t hmask[NRV_QK_K / 8];
	uint8_t qs[NRV_QK_K / 4];
	uint8_t scales[12]; /* 6-bit scales, bias -32 */
	nrv_half d;
};

/* x = d * sc * q - dmin * m, 8 sub-blocks of 32, 6-bit scales and mins */
struct nrv_block_q4_K {
	nrv_half d;
	nrv_half dmin;
	uint8_t scales[NRV_K_SCALE_SIZE];
	uint8_t qs[NRV_QK_K / 2];
};

struct nrv_block_q5_K {
	nrv_half d;
	nrv_half dmin;
	uint8_t scales[NRV_K_SCALE_SIZE];
	uint8_t qh[NRV_QK_K / 8];
	uint8_t qs[NRV_QK_K / 2];
};

/* x = d * scales[i] * q, q in -32..31 */
struct nrv_block_q6_K {
	uint8_t ql[NRV_QK_K / 2];
	uint8_t qh[NRV_QK_K / 4];
	int8_t scales[NRV_QK_K / 16];
	nrv_half d;
};

/* Activation format for the K-quant dot products (never stored in files). */
struct nrv_block_q8_K {
	float d;
	int8_t qs[NRV_QK_K];
	int16_t bsums[NRV_QK_K / 16]; /* sums of qs in groups of 16 */
};

#ifdef __cplusplus
#define NRV_STATIC_ASSERT(c, m) static_assert(c, m)
#else
#define NRV_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif
NRV_STATIC_ASSERT(sizeof(struct nrv_block_q4_0) == 18, "q4_0 block");
NRV_STATIC_ASSERT(sizeof(struct nrv_block_q4_1) == 20, "q4_1 block");
NRV_STATIC_ASSERT(sizeof(struct nrv_block_q5_0) == 22, "q5_0 block");
NRV_STATIC_ASSERT(sizeof(struct nrv_block_q5_1) == 24, "q5_1 block");
NRV_STATIC_ASSERT(sizeof(struct nrv_block_q8_0) == 34, "q8_0 block");
NRV_STATIC_ASSERT(sizeof(struct nrv_block_q8_1) == 36, "q8_1 block");
NRV_STATIC_ASSERT(sizeof(struct nrv_block_q2_K) == 84, "q2_K block");
NRV_STATIC_ASSERT(sizeof(struct nrv_block_q3_K) == 110, "q3_K block");
NRV_STATIC_ASSERT(sizeof(struct nrv_block_q4_K) == 144, "q4_K block");
NRV_STATIC_ASSERT(sizeof(struct nrv_block_q5_K) == 176, "q5_K block");
NRV_STATIC_ASSERT(sizeof(struct nrv_block_q6_K) == 210, "q6_K block");
NRV_STATIC_ASSERT(sizeof(struct nrv_block_q8_K) == 292, "q8_K block");

/* Block geometry of a type: elements per block and bytes per block.
 * Returns 0 in *blck for ids this build does not know. */
static inline NRV_HD void nrv_type_geom(int type, int *blck, int *size)
{
	int b = 0, s = 0;
	switch (type) {
	case NRV_TYPE_F32: b = 1; s = 4; break;
	case NRV_TYPE_F16: b = 1; s = 2; break;
	case NRV_TYPE_BF16: b = 1; s = 2; break;
	case NRV_TYPE_Q4_0: b = NRV_QK; s = 18; break;
	case NRV_TYPE_Q4_1: b = NRV_QK; s = 20; break;
	case NRV_TYPE_Q5_0: b = NRV_QK; s = 22; break;
	case NRV_TYPE_Q5_1: b = NRV_QK; s = 24; break;
	case NRV_TYPE_Q8_0: b = NRV_QK; s = 34; break;
	case NRV_TYPE_Q8_1: b = NRV_QK; s = 36; break;
	case NRV_TYPE_Q2_K: b = NRV_QK_K; s = 84; break;
	case NRV_TYPE_Q3_K: b = NRV_QK_K; s = 110; break;
	case NRV_TYPE_Q4_K: b = NRV_QK_K; s = 144; break;
	case NRV_TYPE_Q5_K: b = NRV_QK_K; s = 176; break;
	case NRV_TYPE_Q6_K: b = NRV_QK_K; s = 210; break;
	case NRV_TYPE_Q8_K: b = NRV_QK_K; s = 292; break;
	default: break;
	}
	*blck = b;
	*size = s;
}

/* Name as llama.cpp prints it ("Q4_1"), or NULL for an unknown id. */
const char *nrv_type_name(int type);

/* IEEE binary16 -> binary32, exact for every input (subnormals, inf, NaN). */
static inline NRV_HD float nrv_half_to_float(nrv_half h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	uint32_t exp = (h >> 10) & 0x1f;
	uint32_t man = h & 0x3ffu;
	uint32_t bits;
	if (exp == 0) {
		if (man == 0) {
			bits = sign;
		} else {
			/* subnormal: normalize */
			int e = -1;
			do {
				e++;
				man <<= 1;
			} while ((man & 0x400u) == 0);
			bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
		}
	} else if (exp == 0x1f) {
		bits = sign | 0x7f800000u | (man << 13);
	} else {
		bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
	}
	union { uint32_t u; float f; } v = { .u = bits };
	return v.f;
}

/* binary32 -> binary16 with round-to-nearest-even. */
static inline NRV_HD nrv_half nrv_float_to_half(float f)
{
	union { float f; uint32_t u; } v = { .f = f };
	uint32_t x = v.u;
	uint32_t sign = (x >> 16) & 0x8000u;
	uint32_t absx = x & 0x7fffffffu;
	if (absx >= 0x7f800000u) /* inf or NaN */
		return (nrv_half)(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0));
	if (absx >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
		return (nrv_half)(sign | 0x7c00u);
	if (absx < 0x38800000u) { /* result is subnormal or zero */
		if (absx < 0x33000000u)
			return (nrv_half)sign;
		uint32_t e = absx >> 23;
		uint32_t m = (absx & 0x7fffffu) | 0x800000u;
		uint32_t shift = 126 - e; /* value = m * 2^(e-150) = r * 2^-24 */
		uint32_t r = m >> shift;
		uint32_t rem = m & ((1u << shift) - 1);
		uint32_t half = 1u << (shift - 1);
		if (rem > half || (rem == half && (r & 1)))
			r++;
		return (nrv_half)(sign | r);
	}
	uint32_t r = absx - 0x38000000u; /* rebias exponent 127 -> 15 */
	uint32_t lsb = (r >> 13) & 1;
	r += 0xfffu + lsb;
	return (nrv_half)(sign | (r >> 13));
}

static inline NRV_HD float nrv_bf16_to_float(nrv_bf16 h)
{
	union { uint32_t u; float f; } v = { .u = (uint32_t)h << 16 };
	return v.f;
}

#endif
