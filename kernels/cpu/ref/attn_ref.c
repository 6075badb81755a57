/*
 * kernels/cpu/ref/attn_ref.c - scalar reference attention kernels: scores
 * of float queries against half keys, the probability-weighted sum of half
 * values, softmax with half probabilities, half rounding.
 *
 * These define the attention numerics (see kernels.h): the queries and
 * probabilities are rounded to half as llama.cpp's CPU path rounds them.
 */
#include "kernels/cpu/kernels.h"

void nrv_attn_scores_ref(int hd, int nq, const float *q, size_t q_stride, const nrv_half *k,
			 size_t k_stride, int n, float scale, float *s, size_t s_stride)
{
	for (int i = 0; i < nq; i++) {
		const float *qi = q + (size_t)i * q_stride;
		for (int j = 0; j < n; j++) {
			const nrv_half *kj = k + (size_t)j * k_stride;
			float dot = 0.0f;
			for (int d = 0; d < hd; d++)
				dot += qi[d] * nrv_half_to_float(kj[d]);
			s[(size_t)i * s_stride + j] = dot * scale;
		}
	}
}

void nrv_attn_values_ref(int hd, int nq, const float *p, size_t p_stride, const nrv_half *v,
			 size_t v_stride, int n, float *o, size_t o_stride)
{
	for (int i = 0; i < nq; i++) {
		float *oi = o + (size_t)i * o_stride;
		for (int j = 0; j < n; j++) {
			const nrv_half *vj = v + (size_t)j * v_stride;
			float a = p[(size_t)i * p_stride + j];
			for (int d = 0; d < hd; d++)
				oi[d] += a * nrv_half_to_float(vj[d]);
		}
	}
}

void nrv_round_half_ref(float *x, int n)
{
	for (int i = 0; i < n; i++)
		x[i] = nrv_half_to_float(nrv_float_to_half(x[i]));
}

void nrv_softmax_half_ref(float *x, int n)
{
	nrv_softmax_ref(x, n);
	nrv_round_half_ref(x, n);
}
