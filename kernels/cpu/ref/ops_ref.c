/*
 * kernels/cpu/ref/ops_ref.c - scalar reference float ops of the forward
 * pass: RMSNorm, SwiGLU, rotary embedding, softmax.
 */
#include <math.h>

#include "kernels/cpu/kernels.h"

void nrv_rmsnorm_ref(const float *x, const float *w, float *y, int dim, float eps)
{
	/* Accumulate in double: dim is small and this keeps the reference exact
	 * enough to judge the fast paths against. */
	double ss = 0.0;
	for (int i = 0; i < dim; i++)
		ss += (double)x[i] * x[i];
	float scale = (float)(1.0 / sqrt(ss / dim + eps));
	for (int i = 0; i < dim; i++)
		y[i] = x[i] * scale * w[i];
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
	for (int i = 0; i < n_rot / 2; i++) {
		/* theta_i = pos * base^(-2i/n_rot), computed as llama.cpp does:
		 * by repeated multiplication of theta_scale in float. Use double
		 * powers here: the difference is far below the test tolerances. */
		double theta = pos * pow((double)freq_base, -2.0 * i / n_rot);
		float c = (float)cos(theta), s = (float)sin(theta);
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
