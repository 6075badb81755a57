/*
 * kernels/cpu/ref/ops_ref.c - scalar reference float ops of the forward
 * pass: RMSNorm, SwiGLU, rotary embedding, softmax.
 */
#include <math.h>

#include "kernels/cpu/kernels.h"

void nrv_rmsnorm_ref(const float *x, const float *w, float *y, int dim, float eps)
{
	/* Squares in float, summed in double, mean and scale in float: the
	 * order llama.cpp's CPU path uses, so the normalized activations that
	 * are quantized next come out the same to the bit. */
	double ss = 0.0;
	for (int i = 0; i < dim; i++)
		ss += (double)(x[i] * x[i]);
	const float mean = (float)(ss / dim);
	const float scale = 1.0f / sqrtf(mean + eps);
	for (int i = 0; i < dim; i++)
		y[i] = (x[i] * scale) * w[i];
}

void nrv_swiglu_ref(const float *gate, const float *up, float *out, int n)
{
	for (int i = 0; i < n; i++) {
		float g = gate[i];
		out[i] = g / (1.0f + expf(-g)) * up[i];
	}
}

void nrv_rope_ref(float *x, int n_head, int head_dim, int n_rot, int pos, float freq_base, int mode)
{
	/* theta_i = pos * base^(-2i/n_rot), computed as llama.cpp's CPU path
	 * computes it (repeated float multiplication by theta_scale, float
	 * cos/sin), so both engines rotate by the same angles to the bit. */
	const float theta_scale = powf(freq_base, -2.0f / (float)n_rot);
	float theta = (float)pos;
	for (int i = 0; i < n_rot / 2; i++) {
		float c = cosf(theta), s = sinf(theta);
		theta *= theta_scale;
		for (int h = 0; h < n_head; h++) {
			float *v = x + (size_t)h * head_dim;
			int a, b;
			if (mode == 2) {
				a = i;
				b = i + n_rot / 2;
			} else {
				a = 2 * i;
				b = 2 * i + 1;
			}
			float x0 = v[a], x1 = v[b];
			v[a] = x0 * c - x1 * s;
			v[b] = x0 * s + x1 * c;
		}
	}
}

void nrv_softmax_ref(float *x, int n)
{
	float mx = -INFINITY;
	for (int i = 0; i < n; i++)
		if (x[i] > mx)
			mx = x[i];
	double sum = 0.0;
	for (int i = 0; i < n; i++) {
		x[i] = expf(x[i] - mx);
		sum += x[i];
	}
	float inv = (float)(1.0 / sum);
	for (int i = 0; i < n; i++)
		x[i] *= inv;
}
