/*
 * kernels/cpu/kernels.h - the CPU kernel table.
 *
 * Every kernel has a scalar reference in kernels/cpu/ref/ (suffix _ref),
 * written for clarity, and may have faster twins in kernels/cpu/x86/<isa>/.
 * A table of function pointers per instruction set is chosen once at
 * start-up (nrv_cpu_kernels_select); callers never name an ISA.
 *
 * Weight rows are dotted with activations quantized per block to the
 * weight type's "activation type" (nrv_cpu_act_type): Q8_0 for Q4_0, Q5_0
 * and Q8_0; Q8_1 for Q4_1 and Q5_1; Q8_K for the K-quants; F32 for the
 * float types.
 */
#ifndef NRV_KERNELS_CPU_KERNELS_H
#define NRV_KERNELS_CPU_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/quant.h"

/* Dot product of one weight row (n elements) with one activation row in
 * the weight type's activation format. n is a multiple of the block size. */
typedef float (*nrv_vec_dot_fn)(int n, const void *w, const void *a);
/* Quantize n floats to an activation format (n a multiple of its block). */
typedef void (*nrv_quantize_fn)(const float *x, void *y, int n);
/* Dequantize n elements of a weight type to floats. */
typedef void (*nrv_dequant_fn)(const void *x, float *y, int n);

/*
 * A tile of a matrix product: for r < n_rows and t < n_tok,
 *   y[t * ldy + r] = vec_dot(n, w + r * w_stride, a + t * a_stride)
 * bit for bit: a tiled kernel may reuse loads across rows and tokens, but
 * every output must be reduced in exactly the order its vec_dot uses, so
 * results never depend on how many tokens share a step (batch invariance).
 * Strides are arbitrary byte counts, but every row starts at the alignment
 * of its block struct (2 bytes for weights, 4 for Q8_K activations).
 */
typedef void (*nrv_gemm_fn)(int n, const void *w, size_t w_stride, int n_rows,
			    const void *a, size_t a_stride, int n_tok, float *y, size_t ldy);

/*
 * Attention over a half-float KV cache, in the numerics llama.cpp's CPU
 * path uses: the query meets the half keys as half values, the scores are
 * scaled, soft-maxed as nrv_softmax_ref, and the probabilities meet the
 * half values as half values.
 *
 * attn_scores: s[i * s_stride + j] = scale * dot(q_i, k_j) for i < nq,
 *   j < n; q_i (hd floats at q + i * q_stride) holds values already
 *   rounded to half (see round_half), k_j is hd halves at k + j * k_stride.
 *   The reference sums the products in element order; SIMD twins may sum
 *   in another (fixed) order.
 * attn_values: o_i[d] += p_i[j] * v_j[d] for i < nq, d < hd, j = 0..n-1
 *   in that order, each a float multiply then a float add (no fusion), so
 *   that splitting the keys into several calls never changes a result;
 *   p_i (at p + i * p_stride) already rounded to half.
 * softmax_half: x = half(softmax(x)) over n floats, the softmax exactly
 *   as nrv_softmax_ref (max, expf, sum in double, times the inverse).
 * round_half: x = (float)(half)x over n floats, round to nearest even.
 *
 * hd is at most NRV_ATTN_MAX_HD; SIMD twins take the reference's path
 * for an hd that is not a multiple of 8.
 */
#define NRV_ATTN_MAX_HD 512
typedef void (*nrv_attn_scores_fn)(int hd, int nq, const float *q, size_t q_stride,
				   const nrv_half *k, size_t k_stride, int n, float scale,
				   float *s, size_t s_stride);
typedef void (*nrv_attn_values_fn)(int hd, int nq, const float *p, size_t p_stride,
				   const nrv_half *v, size_t v_stride, int n, float *o,
				   size_t o_stride);
typedef void (*nrv_softmax_half_fn)(float *x, int n);
typedef void (*nrv_round_half_fn)(float *x, int n);

struct nrv_cpu_kernels {
	const char *isa;                          /* "ref", "avx2", "avx512" */
	nrv_vec_dot_fn vec_dot[NRV_TYPE_COUNT];   /* by weight type */
	nrv_gemm_fn gemm[NRV_TYPE_COUNT];         /* by weight type */
	nrv_quantize_fn quantize[NRV_TYPE_COUNT]; /* by activation type */
	nrv_dequant_fn dequant[NRV_TYPE_COUNT];   /* by weight type */
	nrv_attn_scores_fn attn_scores;
	nrv_attn_values_fn attn_values;
	nrv_softmax_half_fn softmax_half;
	nrv_round_half_fn round_half;
};

/* Activation type a weight type is dotted against, or -1 if unsupported. */
int nrv_cpu_act_type(int wtype);

/* Bytes of one activation row of n elements for weight type wtype. */
size_t nrv_cpu_act_row_bytes(int wtype, int n);

/* The scalar reference table (always available). */
const struct nrv_cpu_kernels *nrv_cpu_kernels_ref(void);

/*
 * The tables of the ISA libraries (kernels/cpu/x86/<isa>/). Only valid on
 * a CPU that has the ISA: use nrv_cpu_kernels_select, which checks cpuid.
 * AVX2 needs AVX2, FMA and F16C; AVX-512 needs F, BW, VL and VNNI on top.
 * Types an ISA does not accelerate fall back to the next table down.
 */
const struct nrv_cpu_kernels *nrv_cpu_kernels_avx2(void);
const struct nrv_cpu_kernels *nrv_cpu_kernels_avx512(void);

/*
 * The table for this machine. `force` is NULL for the best the CPU supports,
 * or "ref" / "avx2" / "avx512" (the NRV_CPU environment variable) to force one.
 * Returns NULL when the forced ISA is unknown or the CPU lacks it.
 */
const struct nrv_cpu_kernels *nrv_cpu_kernels_select(const char *force);

/* ---- scalar reference kernels (kernels/cpu/ref/) ---- */

/*
 * Dequantize n elements (a multiple of the type's block) of weight type
 * `type` to floats, bit for bit as the gguf package's dequantize. F32,
 * F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and Q2_K..Q6_K are supported;
 * any other type fills y with NaN.
 */
void nrv_dequant_row_ref(int type, const void *x, float *y, int n);
void nrv_dequant_f32_ref(const void *x, float *y, int n);
void nrv_dequant_f16_ref(const void *x, float *y, int n);
void nrv_dequant_bf16_ref(const void *x, float *y, int n);
void nrv_dequant_q4_0_ref(const void *x, float *y, int n);
void nrv_dequant_q4_1_ref(const void *x, float *y, int n);
void nrv_dequant_q5_0_ref(const void *x, float *y, int n);
void nrv_dequant_q5_1_ref(const void *x, float *y, int n);
void nrv_dequant_q8_0_ref(const void *x, float *y, int n);
void nrv_dequant_q2_K_ref(const void *x, float *y, int n);
void nrv_dequant_q3_K_ref(const void *x, float *y, int n);
void nrv_dequant_q4_K_ref(const void *x, float *y, int n);
void nrv_dequant_q5_K_ref(const void *x, float *y, int n);
void nrv_dequant_q6_K_ref(const void *x, float *y, int n);

/*
 * Activation quantizers, n a multiple of the block (32, or 256 for Q8_K).
 * Q8_0 and Q8_1: d = max|x|/127 stored as half, q = roundf(x/d) (ties away
 * from zero); Q8_1 also stores s = d * sum(q) as half. Q8_K: float
 * d = max/-127 where max is the signed element of largest magnitude,
 * q rounded half to even, bsums = sums of q per 16. Every element is
 * within about d/2 of d*q (plus the half rounding of d for Q8_0/Q8_1).
 * nrv_quantize_f32_ref copies (the activation format of float weights).
 */
void nrv_quantize_f32_ref(const float *x, void *y, int n);
void nrv_quantize_q8_0_ref(const float *x, void *y, int n);
void nrv_quantize_q8_1_ref(const float *x, void *y, int n);
void nrv_quantize_q8_K_ref(const float *x, void *y, int n);

/*
 * Dot product of n weights (w, the named type) with n activations (a, in
 * the weight type's activation format, see nrv_cpu_act_type). Integer
 * sums within a block, scaled per block in float; the float weights
 * accumulate in double.
 */
float nrv_vec_dot_f32_ref(int n, const void *w, const void *a);
float nrv_vec_dot_f16_ref(int n, const void *w, const void *a);
float nrv_vec_dot_bf16_ref(int n, const void *w, const void *a);
float nrv_vec_dot_q4_0_ref(int n, const void *w, const void *a);
float nrv_vec_dot_q4_1_ref(int n, const void *w, const void *a);
float nrv_vec_dot_q5_0_ref(int n, const void *w, const void *a);
float nrv_vec_dot_q5_1_ref(int n, const void *w, const void *a);
float nrv_vec_dot_q8_0_ref(int n, const void *w, const void *a);
float nrv_vec_dot_q2_K_ref(int n, const void *w, const void *a);
float nrv_vec_dot_q3_K_ref(int n, const void *w, const void *a);
float nrv_vec_dot_q4_K_ref(int n, const void *w, const void *a);
float nrv_vec_dot_q5_K_ref(int n, const void *w, const void *a);
float nrv_vec_dot_q6_K_ref(int n, const void *w, const void *a);

/* ---- float ops used by the forward pass (kernels/cpu/ref/ops_ref.c) ---- */

/* y = x / rms(x) * w over `dim` elements. */
void nrv_rmsnorm_ref(const float *x, const float *w, float *y, int dim, float eps);
/* out[i] = silu(gate[i]) * up[i] */
void nrv_swiglu_ref(const float *gate, const float *up, float *out, int n);
/* Rotary embedding on one token's heads, in place: x is (n_head, head_dim).
 * mode 0 rotates adjacent pairs (x[2i], x[2i+1]) as llama.cpp's NORM RoPE;
 * mode 2 rotates (x[i], x[i + n_rot/2]) as NEOX. */
void nrv_rope_ref(float *x, int n_head, int head_dim, int n_rot, int pos, float freq_base, int mode);
/* In-place softmax over n floats. */
void nrv_softmax_ref(float *x, int n);

/* ---- attention (kernels/cpu/ref/attn_ref.c; contracts above) ---- */
void nrv_attn_scores_ref(int hd, int nq, const float *q, size_t q_stride, const nrv_half *k,
			 size_t k_stride, int n, float scale, float *s, size_t s_stride);
void nrv_attn_values_ref(int hd, int nq, const float *p, size_t p_stride, const nrv_half *v,
			 size_t v_stride, int n, float *o, size_t o_stride);
void nrv_softmax_half_ref(float *x, int n);
void nrv_round_half_ref(float *x, int n);

#endif
