/*
 * kernels/cpu/ref/quant_ref.c - scalar reference dequantization,
 * activation quantization and quantized dot products.
 *
 * Dequantization reproduces the gguf package's numpy dequantize (itself a
 * mirror of ggml's reference) bit for bit: every element is computed in
 * binary32 with the same operations in the same order, e.g. Q4_1 is
 * (d * q) + m and the K-quants fold the super-block scale first,
 * (d * sc) * q - (dmin * m). This file is built with -ffp-contract=off so
 * the compiler cannot fuse those into FMAs and change the last bit.
 *
 * The dot products follow ggml's reference scheme: integer sums of
 * weight quant x activation quant within a block (or sub-block), scaled
 * once per block in float. Mins are applied through the activation
 * block's precomputed sums (s of Q8_1, bsums of Q8_K) rather than per
 * element. The SIMD twins in kernels/cpu/x86/ are tested against these.
 *
 * Each block type is first unpacked to its small integers (and integer
 * scales); dequantization and the dot product share those unpackers, so
 * the bit layout of every format is written down once.
 */
#include <math.h>
#include <string.h>

#include "kernels/cpu/kernels.h"

/* ---- unpacking: block -> small integers ---- */

/* The 32-wide 4-bit formats: low nibbles are elements 0..15, high 16..31. */
static void unpack_nibbles32(const uint8_t *qs, int8_t *q, int offset)
{
	for (int j = 0; j < NRV_QK / 2; j++) {
		q[j] = (int8_t)((qs[j] & 0xf) - offset);
		q[j + NRV_QK / 2] = (int8_t)((qs[j] >> 4) - offset);
	}
}

/* The 32-wide 5-bit formats: element i's fifth bit is bit i of qh (LE u32). */
static void unpack_q5_32(const uint8_t *qh4, const uint8_t *qs, int8_t *q, int offset)
{
	uint32_t qh = (uint32_t)qh4[0] | (uint32_t)qh4[1] << 8 |
		      (uint32_t)qh4[2] << 16 | (uint32_t)qh4[3] << 24;
	for (int j = 0; j < NRV_QK / 2; j++) {
		int lo = (qs[j] & 0xf) | (int)((qh >> j) & 1) << 4;
		int hi = (qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
		q[j] = (int8_t)(lo - offset);
		q[j + NRV_QK / 2] = (int8_t)(hi - offset);
	}
}

/* Q2_K: element 128c + 32s + l is bits 2s..2s+1 of qs[32c + l], 0..3.
 * Sub-block g (16 elements) has scale scales[g] & 15 and min scales[g] >> 4. */
static void unpack_q2_K(const struct nrv_block_q2_K *b, int8_t *q)
{
	for (int c = 0; c < 2; c++)
		for (int s = 0; s < 4; s++)
			for (int l = 0; l < 32; l++)
				q[128 * c + 32 * s + l] = (int8_t)((b->qs[32 * c + l] >> (2 * s)) & 3);
}

/* Q3_K: two low bits as Q2_K; the high bit of element 128c + 32s + l is
 * bit 4c + s of hmask[l], and a clear bit subtracts 4, giving -4..3.
 * The sixteen 6-bit scales: low nibbles from bytes 0..7 (scales 0..7 in
 * the low halves, 8..15 in the high halves), top two bits from bytes
 * 8..11 (byte 8 + j%4, bit pair j/4); then the bias of 32 is removed. */
static void unpack_q3_K(const struct nrv_block_q3_K *b, int8_t *q, int *sc)
{
	for (int c = 0; c < 2; c++) {
		for (int s = 0; s < 4; s++) {
			for (int l = 0; l < 32; l++) {
				int lo = (b->qs[32 * c + l] >> (2 * s)) & 3;
				int hi = (b->hmask[l] >> (4 * c + s)) & 1;
				q[128 * c + 32 * s + l] = (int8_t)(lo - (hi ? 0 : 4));
			}
		}
	}
	const uint8_t *s = b->scales;
	for (int j = 0; j < 16; j++) {
		int lo = (s[j % 8] >> (4 * (j / 8))) & 0xf;
		int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
		sc[j] = (lo | hi << 4) - 32;
	}
}

/* The eight 6-bit (scale, min) pairs of Q4_K and Q5_K, packed in 12 bytes:
 * pairs 0..3 in the low six bits of bytes 0..3 / 4..7; pairs 4..7 take
 * their low four bits from the nibbles of bytes 8..11 and their top two
 * bits from the top of bytes 0..3 (scales) and 4..7 (mins). */
static void unpack_k_scales(const uint8_t *s, int *sc, int *m)
{
	for (int j = 0; j < 4; j++) {
		sc[j] = s[j] & 63;
		m[j] = s[j + 4] & 63;
	}
	for (int j = 4; j < 8; j++) {
		sc[j] = (s[j + 4] & 0xf) | (s[j - 4] >> 6) << 4;
		m[j] = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
	}
}

/* Q4_K: chunk c of 32 bytes holds elements 64c..64c+31 in its low nibbles
 * and 64c+32..64c+63 in its high nibbles; sub-block i/32 scales element i. */
static void unpack_q4_K(const struct nrv_block_q4_K *b, int8_t *q)
{
	for (int c = 0; c < 4; c++) {
		for (int l = 0; l < 32; l++) {
			q[64 * c + l] = (int8_t)(b->qs[32 * c + l] & 0xf);
			q[64 * c + 32 + l] = (int8_t)(b->qs[32 * c + l] >> 4);
		}
	}
}

/* Q5_K: nibbles as Q4_K; the fifth bit of element i is bit i/32 of qh[i%32]. */
static void unpack_q5_K(const struct nrv_block_q5_K *b, int8_t *q)
{
	for (int c = 0; c < 4; c++) {
		for (int l = 0; l < 32; l++) {
			int h0 = (b->qh[l] >> (2 * c)) & 1;
			int h1 = (b->qh[l] >> (2 * c + 1)) & 1;
			q[64 * c + l] = (int8_t)((b->qs[32 * c + l] & 0xf) | h0 << 4);
			q[64 * c + 32 + l] = (int8_t)((b->qs[32 * c + l] >> 4) | h1 << 4);
		}
	}
}

/* Q6_K: element 128h + 32g + l takes its low nibble from
 * ql[64h + 32(g%2) + l] (low nibble for g < 2, high for g >= 2) and its top
 * two bits from bits 2g..2g+1 of qh[32h + l], then subtracts 32. */
static void unpack_q6_K(const struct nrv_block_q6_K *b, int8_t *q)
{
	for (int h = 0; h < 2; h++) {
		const uint8_t *ql = b->ql + 64 * h;
		const uint8_t *qh = b->qh + 32 * h;
		for (int g = 0; g < 4; g++) {
			for (int l = 0; l < 32; l++) {
				int lo = (ql[32 * (g % 2) + l] >> (4 * (g / 2))) & 0xf;
				int hi = (qh[l] >> (2 * g)) & 3;
				q[128 * h + 32 * g + l] = (int8_t)((lo | hi << 4) - 32);
			}
		}
	}
}

/* ---- dequantization ---- */

void nrv_dequant_f32_ref(const void *x, float *y, int n)
{
	memcpy(y, x, (size_t)n * sizeof(float));
}

void nrv_dequant_f16_ref(const void *x, float *y, int n)
{
	const nrv_half *h = x;
	for (int i = 0; i < n; i++)
		y[i] = nrv_half_to_float(h[i]);
}

void nrv_dequant_bf16_ref(const void *x, float *y, int n)
{
	const nrv_bf16 *h = x;
	for (int i = 0; i < n; i++)
		y[i] = nrv_bf16_to_float(h[i]);
}

void nrv_dequant_q4_0_ref(const void *x, float *y, int n)
{
	const struct nrv_block_q4_0 *b = x;
	int8_t q[NRV_QK];
	for (int i = 0; i < n / NRV_QK; i++, y += NRV_QK) {
		float d = nrv_half_to_float(b[i].d);
		unpack_nibbles32(b[i].qs, q, 8);
		for (int j = 0; j < NRV_QK; j++)
			y[j] = d * (float)q[j];
	}
}

void nrv_dequant_q4_1_ref(const void *x, float *y, int n)
{
	const struct nrv_block_q4_1 *b = x;
	int8_t q[NRV_QK];
	for (int i = 0; i < n / NRV_QK; i++, y += NRV_QK) {
		float d = nrv_half_to_float(b[i].d);
		float m = nrv_half_to_float(b[i].m);
		unpack_nibbles32(b[i].qs, q, 0);
		for (int j = 0; j < NRV_QK; j++)
			y[j] = d * (float)q[j] + m;
	}
}

void nrv_dequant_q5_0_ref(const void *x, float *y, int n)
{
	const struct nrv_block_q5_0 *b = x;
	int8_t q[NRV_QK];
	for (int i = 0; i < n / NRV_QK; i++, y += NRV_QK) {
		float d = nrv_half_to_float(b[i].d);
		unpack_q5_32(b[i].qh, b[i].qs, q, 16);
		for (int j = 0; j < NRV_QK; j++)
			y[j] = d * (float)q[j];
	}
}

void nrv_dequant_q5_1_ref(const void *x, float *y, int n)
{
	const struct nrv_block_q5_1 *b = x;
	int8_t q[NRV_QK];
	for (int i = 0; i < n / NRV_QK; i++, y += NRV_QK) {
		float d = nrv_half_to_float(b[i].d);
		float m = nrv_half_to_float(b[i].m);
		unpack_q5_32(b[i].qh, b[i].qs, q, 0);
		for (int j = 0; j < NRV_QK; j++)
			y[j] = d * (float)q[j] + m;
	}
}

void nrv_dequant_q8_0_ref(const void *x, float *y, int n)
{
	const struct nrv_block_q8_0 *b = x;
	for (int i = 0; i < n / NRV_QK; i++, y += NRV_QK) {
		float d = nrv_half_to_float(b[i].d);
		for (int j = 0; j < NRV_QK; j++)
			y[j] = (float)b[i].qs[j] * d;
	}
}

void nrv_dequant_q2_K_ref(const void *x, float *y, int n)
{
	const struct nrv_block_q2_K *b = x;
	int8_t q[NRV_QK_K];
	for (int i = 0; i < n / NRV_QK_K; i++, y += NRV_QK_K) {
		float d = nrv_half_to_float(b[i].d);
		float dmin = nrv_half_to_float(b[i].dmin);
		unpack_q2_K(&b[i], q);
		for (int g = 0; g < 16; g++) {
			float dl = d * (float)(b[i].scales[g] & 0xf);
			float ml = dmin * (float)(b[i].scales[g] >> 4);
			for (int l = 0; l < 16; l++)
				y[16 * g + l] = dl * (float)q[16 * g + l] - ml;
		}
	}
}

void nrv_dequant_q3_K_ref(const void *x, float *y, int n)
{
	const struct nrv_block_q3_K *b = x;
	int8_t q[NRV_QK_K];
	int sc[16];
	for (int i = 0; i < n / NRV_QK_K; i++, y += NRV_QK_K) {
		float d = nrv_half_to_float(b[i].d);
		unpack_q3_K(&b[i], q, sc);
		for (int g = 0; g < 16; g++) {
			float dl = d * (float)sc[g];
			for (int l = 0; l < 16; l++)
				y[16 * g + l] = dl * (float)q[16 * g + l];
		}
	}
}

/* Q4_K and Q5_K differ only in how q is unpacked. */
static void dequant_k_32(float d, float dmin, const uint8_t *scales, const int8_t *q, float *y)
{
	int sc[8], m[8];
	unpack_k_scales(scales, sc, m);
	for (int s = 0; s < 8; s++) {
		float dl = d * (float)sc[s];
		float ml = dmin * (float)m[s];
		for (int l = 0; l < 32; l++)
			y[32 * s + l] = dl * (float)q[32 * s + l] - ml;
	}
}

void nrv_dequant_q4_K_ref(const void *x, float *y, int n)
{
	const struct nrv_block_q4_K *b = x;
	int8_t q[NRV_QK_K];
	for (int i = 0; i < n / NRV_QK_K; i++, y += NRV_QK_K) {
		unpack_q4_K(&b[i], q);
		dequant_k_32(nrv_half_to_float(b[i].d), nrv_half_to_float(b[i].dmin),
			     b[i].scales, q, y);
	}
}

void nrv_dequant_q5_K_ref(const void *x, float *y, int n)
{
	const struct nrv_block_q5_K *b = x;
	int8_t q[NRV_QK_K];
	for (int i = 0; i < n / NRV_QK_K; i++, y += NRV_QK_K) {
		unpack_q5_K(&b[i], q);
		dequant_k_32(nrv_half_to_float(b[i].d), nrv_half_to_float(b[i].dmin),
			     b[i].scales, q, y);
	}
}

void nrv_dequant_q6_K_ref(const void *x, float *y, int n)
{
	const struct nrv_block_q6_K *b = x;
	int8_t q[NRV_QK_K];
	for (int i = 0; i < n / NRV_QK_K; i++, y += NRV_QK_K) {
		float d = nrv_half_to_float(b[i].d);
		unpack_q6_K(&b[i], q);
		for (int g = 0; g < 16; g++) {
			float dl = d * (float)b[i].scales[g];
			for (int l = 0; l < 16; l++)
				y[16 * g + l] = dl * (float)q[16 * g + l];
		}
	}
}

void nrv_dequant_row_ref(int type, const void *x, float *y, int n)
{
	switch (type) {
	case NRV_TYPE_F32: nrv_dequant_f32_ref(x, y, n); break;
	case NRV_TYPE_F16: nrv_dequant_f16_ref(x, y, n); break;
	case NRV_TYPE_BF16: nrv_dequant_bf16_ref(x, y, n); break;
	case NRV_TYPE_Q4_0: nrv_dequant_q4_0_ref(x, y, n); break;
	case NRV_TYPE_Q4_1: nrv_dequant_q4_1_ref(x, y, n); break;
	case NRV_TYPE_Q5_0: nrv_dequant_q5_0_ref(x, y, n); break;
	case NRV_TYPE_Q5_1: nrv_dequant_q5_1_ref(x, y, n); break;
	case NRV_TYPE_Q8_0: nrv_dequant_q8_0_ref(x, y, n); break;
	case NRV_TYPE_Q2_K: nrv_dequant_q2_K_ref(x, y, n); break;
	case NRV_TYPE_Q3_K: nrv_dequant_q3_K_ref(x, y, n); break;
	case NRV_TYPE_Q4_K: nrv_dequant_q4_K_ref(x, y, n); break;
	case NRV_TYPE_Q5_K: nrv_dequant_q5_K_ref(x, y, n); break;
	case NRV_TYPE_Q6_K: nrv_dequant_q6_K_ref(x, y, n); break;
	default:
		/* Callers check types at load time; a slip here must not go
		 * unnoticed, so it poisons the row rather than leaving it stale. */
		for (int i = 0; i < n; i++)
			y[i] = NAN;
		break;
	}
}

/* ---- activation quantizers ---- */

void nrv_quantize_f32_ref(const float *x, void *y, int n)
{
	memcpy(y, x, (size_t)n * sizeof(float));
}

/* Shared by Q8_0 and Q8_1: d = max|x| / 127, q = round(x / d) with ties
 * away from zero (roundf), as ggml's reference. Returns sum(q). */
/* Round to nearest, ties to even, for |v| < 2^22 (see round_even below). */
static int round_even_q8(float v);

/*
 * One 32-element activation block. The scale is chosen as llama.cpp's x86
 * kernels choose it at run time (id = 127 / amax, products rounded half to
 * even), so that the two engines quantize the same activations to the same
 * bytes and their logits agree as closely as their float sums allow.
 */
static int quantize_block_q8(const float *x, nrv_half *dh, int8_t *qs, float *dout)
{
	float amax = 0.0f;
	for (int j = 0; j < NRV_QK; j++) {
		float a = fabsf(x[j]);
		if (a > amax)
			amax = a;
	}
	float d = amax / 127.0f;
	float id = amax != 0.0f ? 127.0f / amax : 0.0f;
	if (!isfinite(id))
		id = 0.0f; /* amax below ~1e-37: the block quantizes to zeros */
	int sum = 0;
	for (int j = 0; j < NRV_QK; j++) {
		qs[j] = (int8_t)round_even_q8(x[j] * id);
		sum += qs[j];
	}
	*dh = nrv_float_to_half(d);
	*dout = d;
	return sum;
}

void nrv_quantize_q8_0_ref(const float *x, void *y, int n)
{
	struct nrv_block_q8_0 *b = y;
	float d;
	for (int i = 0; i < n / NRV_QK; i++)
		quantize_block_q8(x + i * NRV_QK, &b[i].d, b[i].qs, &d);
}

void nrv_quantize_q8_1_ref(const float *x, void *y, int n)
{
	struct nrv_block_q8_1 *b = y;
	for (int i = 0; i < n / NRV_QK; i++) {
		float d;
		int sum = quantize_block_q8(x + i * NRV_QK, &b[i].d, b[i].qs, &d);
		b[i].s = nrv_float_to_half((float)sum * d);
	}
}

/* Round to nearest, ties to even, for |v| < 2^22: adding 1.5 * 2^23 leaves
 * the integer in the low mantissa bits (the default rounding mode rounds
 * the addition). Written out because lrintf may not be inlined. */
static int round_even(float v)
{
	union { float f; int32_t i; } u = { .f = v + 12582912.0f };
	return (u.i & 0x007fffff) - 0x00400000;
}

/* Q8_K scales by the signed element of largest magnitude so that element
 * maps to exactly -127 (ggml's convention; d is then negative when that
 * element is positive). Round half to even; the result never exceeds
 * +-127 in magnitude but is clamped to 127 for safety against rounding. */
static int round_even_q8(float v)
{
	return round_even(v);
}

void nrv_quantize_q8_K_ref(const float *x, void *y, int n)
{
	struct nrv_block_q8_K *b = y;
	for (int i = 0; i < n / NRV_QK_K; i++, x += NRV_QK_K) {
		float amax = 0.0f, max = 0.0f;
		for (int j = 0; j < NRV_QK_K; j++) {
			float a = fabsf(x[j]);
			if (a > amax) {
				amax = a;
				max = x[j];
			}
		}
		if (amax == 0.0f) {
			memset(&b[i], 0, sizeof(b[i]));
			continue;
		}
		float iscale = -127.0f / max;
		for (int j = 0; j < NRV_QK_K; j++) {
			int v = round_even(iscale * x[j]);
			b[i].qs[j] = (int8_t)(v > 127 ? 127 : v);
		}
		for (int g = 0; g < NRV_QK_K / 16; g++) {
			int s = 0;
			for (int l = 0; l < 16; l++)
				s += b[i].qs[16 * g + l];
			b[i].bsums[g] = (int16_t)s;
		}
		b[i].d = 1.0f / iscale;
	}
}

/* ---- dot products ---- */

static int dot_i8(const int8_t *a, const int8_t *b, int n)
{
	int s = 0;
	for (int i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

/* The float weights accumulate in double: the reference should not be the
 * least accurate variant. */
float nrv_vec_dot_f32_ref(int n, const void *w, const void *a)
{
	const float *x = w, *y = a;
	double s = 0.0;
	for (int i = 0; i < n; i++)
		s += (double)(x[i] * y[i]);
	return (float)s;
}

float nrv_vec_dot_f16_ref(int n, const void *w, const void *a)
{
	const nrv_half *x = w;
	const float *y = a;
	double s = 0.0;
	for (int i = 0; i < n; i++)
		s += (double)(nrv_half_to_float(x[i]) * y[i]);
	return (float)s;
}

float nrv_vec_dot_bf16_ref(int n, const void *w, const void *a)
{
	const nrv_bf16 *x = w;
	const float *y = a;
	double s = 0.0;
	for (int i = 0; i < n; i++)
		s += (double)(nrv_bf16_to_float(x[i]) * y[i]);
	return (float)s;
}

float nrv_vec_dot_q4_0_ref(int n, const void *w, const void *a)
{
	const struct nrv_block_q4_0 *x = w;
	const struct nrv_block_q8_0 *y = a;
	int8_t q[NRV_QK];
	float sum = 0.0f;
	for (int i = 0; i < n / NRV_QK; i++) {
		unpack_nibbles32(x[i].qs, q, 8);
		int si = dot_i8(q, y[i].qs, NRV_QK);
		sum += (float)si * (nrv_half_to_float(x[i].d) * nrv_half_to_float(y[i].d));
	}
	return sum;
}

/* sum_j (d q_j + m) a_j = d da sum(q_j qa_j) + m s, where s = da sum(qa_j). */
float nrv_vec_dot_q4_1_ref(int n, const void *w, const void *a)
{
	const struct nrv_block_q4_1 *x = w;
	const struct nrv_block_q8_1 *y = a;
	int8_t q[NRV_QK];
	float sum = 0.0f;
	for (int i = 0; i < n / NRV_QK; i++) {
		unpack_nibbles32(x[i].qs, q, 0);
		int si = dot_i8(q, y[i].qs, NRV_QK);
		sum += (float)si * (nrv_half_to_float(x[i].d) * nrv_half_to_float(y[i].d)) +
		       nrv_half_to_float(x[i].m) * nrv_half_to_float(y[i].s);
	}
	return sum;
}

float nrv_vec_dot_q5_0_ref(int n, const void *w, const void *a)
{
	const struct nrv_block_q5_0 *x = w;
	const struct nrv_block_q8_0 *y = a;
	int8_t q[NRV_QK];
	float sum = 0.0f;
	for (int i = 0; i < n / NRV_QK; i++) {
		unpack_q5_32(x[i].qh, x[i].qs, q, 16);
		int si = dot_i8(q, y[i].qs, NRV_QK);
		sum += (float)si * (nrv_half_to_float(x[i].d) * nrv_half_to_float(y[i].d));
	}
	return sum;
}

float nrv_vec_dot_q5_1_ref(int n, const void *w, const void *a)
{
	const struct nrv_block_q5_1 *x = w;
	const struct nrv_block_q8_1 *y = a;
	int8_t q[NRV_QK];
	float sum = 0.0f;
	for (int i = 0; i < n / NRV_QK; i++) {
		unpack_q5_32(x[i].qh, x[i].qs, q, 0);
		int si = dot_i8(q, y[i].qs, NRV_QK);
		sum += (float)si * (nrv_half_to_float(x[i].d) * nrv_half_to_float(y[i].d)) +
		       nrv_half_to_float(x[i].m) * nrv_half_to_float(y[i].s);
	}
	return sum;
}

float nrv_vec_dot_q8_0_ref(int n, const void *w, const void *a)
{
	const struct nrv_block_q8_0 *x = w;
	const struct nrv_block_q8_0 *y = a;
	float sum = 0.0f;
	for (int i = 0; i < n / NRV_QK; i++) {
		int si = dot_i8(x[i].qs, y[i].qs, NRV_QK);
		sum += (float)si * (nrv_half_to_float(x[i].d) * nrv_half_to_float(y[i].d));
	}
	return sum;
}

/* K-quants: x = d sc q - dmin m per sub-block, so
 * dot = d da sum_g sc_g sum(q qa) - dmin da sum_g m_g bsum_g. */
float nrv_vec_dot_q2_K_ref(int n, const void *w, const void *a)
{
	const struct nrv_block_q2_K *x = w;
	const struct nrv_block_q8_K *y = a;
	int8_t q[NRV_QK_K];
	float sum = 0.0f;
	for (int i = 0; i < n / NRV_QK_K; i++) {
		unpack_q2_K(&x[i], q);
		int isum = 0, msum = 0;
		for (int g = 0; g < 16; g++) {
			isum += (x[i].scales[g] & 0xf) * dot_i8(q + 16 * g, y[i].qs + 16 * g, 16);
			msum += (x[i].scales[g] >> 4) * y[i].bsums[g];
		}
		float dall = y[i].d * nrv_half_to_float(x[i].d);
		float dmin = y[i].d * nrv_half_to_float(x[i].dmin);
		sum += dall * (float)isum - dmin * (float)msum;
	}
	return sum;
}

float nrv_vec_dot_q3_K_ref(int n, const void *w, const void *a)
{
	const struct nrv_block_q3_K *x = w;
	const struct nrv_block_q8_K *y = a;
	int8_t q[NRV_QK_K];
	int sc[16];
	float sum = 0.0f;
	for (int i = 0; i < n / NRV_QK_K; i++) {
		unpack_q3_K(&x[i], q, sc);
		int isum = 0;
		for (int g = 0; g < 16; g++)
			isum += sc[g] * dot_i8(q + 16 * g, y[i].qs + 16 * g, 16);
		sum += (y[i].d * nrv_half_to_float(x[i].d)) * (float)isum;
	}
	return sum;
}

static float dot_k_32(nrv_half d, nrv_half dmin, const uint8_t *scales, const int8_t *q,
		      const struct nrv_block_q8_K *y)
{
	int sc[8], m[8];
	unpack_k_scales(scales, sc, m);
	int isum = 0, msum = 0;
	for (int s = 0; s < 8; s++) {
		isum += sc[s] * dot_i8(q + 32 * s, y->qs + 32 * s, 32);
		msum += m[s] * (y->bsums[2 * s] + y->bsums[2 * s + 1]);
	}
	return (y->d * nrv_half_to_float(d)) * (float)isum -
	       (y->d * nrv_half_to_float(dmin)) * (float)msum;
}

float nrv_vec_dot_q4_K_ref(int n, const void *w, const void *a)
{
	const struct nrv_block_q4_K *x = w;
	const struct nrv_block_q8_K *y = a;
	int8_t q[NRV_QK_K];
	float sum = 0.0f;
	for (int i = 0; i < n / NRV_QK_K; i++) {
		unpack_q4_K(&x[i], q);
		sum += dot_k_32(x[i].d, x[i].dmin, x[i].scales, q, &y[i]);
	}
	return sum;
}

float nrv_vec_dot_q5_K_ref(int n, const void *w, const void *a)
{
	const struct nrv_block_q5_K *x = w;
	const struct nrv_block_q8_K *y = a;
	int8_t q[NRV_QK_K];
	float sum = 0.0f;
	for (int i = 0; i < n / NRV_QK_K; i++) {
		unpack_q5_K(&x[i], q);
		sum += dot_k_32(x[i].d, x[i].dmin, x[i].scales, q, &y[i]);
	}
	return sum;
}

float nrv_vec_dot_q6_K_ref(int n, const void *w, const void *a)
{
	const struct nrv_block_q6_K *x = w;
	const struct nrv_block_q8_K *y = a;
	int8_t q[NRV_QK_K];
	float sum = 0.0f;
	for (int i = 0; i < n / NRV_QK_K; i++) {
		unpack_q6_K(&x[i], q);
		int isum = 0;
		for (int g = 0; g < 16; g++)
			isum += x[i].scales[g] * dot_i8(q + 16 * g, y[i].qs + 16 * g, 16);
		sum += (y[i].d * nrv_half_to_float(x[i].d)) * (float)isum;
	}
	return sum;
}

/* ---- the table ---- */

static const struct nrv_cpu_kernels ref_table = {
	.isa = "ref",
	.vec_dot = {
		[NRV_TYPE_F32] = nrv_vec_dot_f32_ref,
		[NRV_TYPE_F16] = nrv_vec_dot_f16_ref,
		[NRV_TYPE_BF16] = nrv_vec_dot_bf16_ref,
		[NRV_TYPE_Q4_0] = nrv_vec_dot_q4_0_ref,
		[NRV_TYPE_Q4_1] = nrv_vec_dot_q4_1_ref,
		[NRV_TYPE_Q5_0] = nrv_vec_dot_q5_0_ref,
		[NRV_TYPE_Q5_1] = nrv_vec_dot_q5_1_ref,
		[NRV_TYPE_Q8_0] = nrv_vec_dot_q8_0_ref,
		[NRV_TYPE_Q2_K] = nrv_vec_dot_q2_K_ref,
		[NRV_TYPE_Q3_K] = nrv_vec_dot_q3_K_ref,
		[NRV_TYPE_Q4_K] = nrv_vec_dot_q4_K_ref,
		[NRV_TYPE_Q5_K] = nrv_vec_dot_q5_K_ref,
		[NRV_TYPE_Q6_K] = nrv_vec_dot_q6_K_ref,
	},
	.quantize = {
		[NRV_TYPE_F32] = nrv_quantize_f32_ref,
		[NRV_TYPE_Q8_0] = nrv_quantize_q8_0_ref,
		[NRV_TYPE_Q8_1] = nrv_quantize_q8_1_ref,
		[NRV_TYPE_Q8_K] = nrv_quantize_q8_K_ref,
	},
	.dequant = {
		[NRV_TYPE_F32] = nrv_dequant_f32_ref,
		[NRV_TYPE_F16] = nrv_dequant_f16_ref,
		[NRV_TYPE_BF16] = nrv_dequant_bf16_ref,
		[NRV_TYPE_Q4_0] = nrv_dequant_q4_0_ref,
		[NRV_TYPE_Q4_1] = nrv_dequant_q4_1_ref,
		[NRV_TYPE_Q5_0] = nrv_dequant_q5_0_ref,
		[NRV_TYPE_Q5_1] = nrv_dequant_q5_1_ref,
		[NRV_TYPE_Q8_0] = nrv_dequant_q8_0_ref,
		[NRV_TYPE_Q2_K] = nrv_dequant_q2_K_ref,
		[NRV_TYPE_Q3_K] = nrv_dequant_q3_K_ref,
		[NRV_TYPE_Q4_K] = nrv_dequant_q4_K_ref,
		[NRV_TYPE_Q5_K] = nrv_dequant_q5_K_ref,
		[NRV_TYPE_Q6_K] = nrv_dequant_q6_K_ref,
	},
	.attn_scores = nrv_attn_scores_ref,
	.attn_values = nrv_attn_values_ref,
	.softmax_half = nrv_softmax_half_ref,
	.round_half = nrv_round_half_ref,
};

const struct nrv_cpu_kernels *nrv_cpu_kernels_ref(void)
{
	return &ref_table;
}
