/*
 * kernels/cuda/ops.cu - the element-wise and per-row ops: RMSNorm, rotary
 * embedding, KV store, SwiGLU, add.
 *
 * Each follows its scalar reference (kernels/cpu/ref/ops_ref.c) operation
 * for operation where that is cheap: RMSNorm sums float squares in double,
 * RoPE advances its angle by repeated float multiplication with the
 * host's theta_scale, the KV store rounds to nearest even. What differs is
 * only the order of the double sum and the device's cosf/sinf/expf (within
 * an ulp or two of the host's).
 */
#include <errno.h>

#include "kernels/cuda/cuda_internal.h"

/* Sum over the block (blockDim.x a multiple of 32, at most 1024). */
static __device__ double block_sum_double(double v, double *scratch)
{
	int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	for (int o = 16; o > 0; o >>= 1)
		v += __shfl_xor_sync(0xffffffffu, v, o);
	if (lane == 0)
		scratch[warp] = v;
	__syncthreads();
	int nw = blockDim.x >> 5;
	/* Only warp 0 reads the partial sums: thread 0 then overwrites
	 * scratch[0], which another warp reading it would race with. */
	if (warp == 0) {
		v = lane < nw ? scratch[lane] : 0.0;
		for (int o = 16; o > 0; o >>= 1)
			v += __shfl_xor_sync(0xffffffffu, v, o);
	}
	if (threadIdx.x == 0)
		scratch[0] = v;
	__syncthreads();
	v = scratch[0];
	__syncthreads();
	return v;
}

__global__ void k_rmsnorm(const float *__restrict__ x, const float *__restrict__ w,
			  float *__restrict__ y, int dim, float eps)
{
	__shared__ double scratch[32];
	const float *xr = x + (size_t)blockIdx.x * dim;
	float *yr = y + (size_t)blockIdx.x * dim;
	double ss = 0.0;
	for (int i = threadIdx.x; i < dim; i += blockDim.x)
		ss += (double)__fmul_rn(xr[i], xr[i]);
	ss = block_sum_double(ss, scratch);
	const float mean = (float)(ss / dim);
	const float scale = 1.0f / sqrtf(__fadd_rn(mean, eps));
	for (int i = threadIdx.x; i < dim; i += blockDim.x)
		yr[i] = __fmul_rn(__fmul_rn(xr[i], scale), w[i]);
}

int nrv__cu_rmsnorm(struct nrv_cu_backend *be, const float *x, const float *w, float *y, int n,
		    int dim, float eps)
{
	if (n < 1 || dim < 1 || (uint32_t)n > NRV_CU_GRID_X_MAX)
		return -EINVAL;
	/* y may alias x only row for row (each block reads its row before
	 * writing it, and the sum is complete before the first write). */
	k_rmsnorm<<<n, NRV_CU_THREADS, 0, be->stream>>>(x, w, y, dim, eps);
	return NRV_CU(be, cudaGetLastError());
}

/* One block per token; thread i owns rotation pair i of every head. */
__global__ void k_rope(float *__restrict__ x, int n_head, int head_dim, int n_rot,
		       const int32_t *__restrict__ pos, float theta_scale, int mode)
{
	int t = blockIdx.x;
	float *xt = x + (size_t)t * n_head * head_dim;
	for (int i = threadIdx.x; i < n_rot / 2; i += blockDim.x) {
		float theta = (float)pos[t];
		for (int j = 0; j < i; j++)
			theta = __fmul_rn(theta, theta_scale);
		float c = cosf(theta), s = sinf(theta);
		int a = mode == 2 ? i : 2 * i;
		int b = mode == 2 ? i + n_rot / 2 : 2 * i + 1;
		for (int h = 0; h < n_head; h++) {
			float *v = xt + (size_t)h * head_dim;
			float x0 = v[a], x1 = v[b];
			v[a] = __fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s));
			v[b] = __fadd_rn(__fmul_rn(x0, s), __fmul_rn(x1, c));
		}
	}
}

int nrv__cu_rope(struct nrv_cu_backend *be, float *x, int n, int n_head, int head_dim,
		 int n_rot, const int32_t *pos, float theta_scale, int mode)
{
	if (n < 1 || n_rot < 2 || n_rot > head_dim || (uint32_t)n > NRV_CU_GRID_X_MAX)
		return -EINVAL;
	k_rope<<<n, 128, 0, be->stream>>>(x, n_head, head_dim, n_rot, pos, theta_scale, mode);
	return NRV_CU(be, cudaGetLastError());
}

__global__ void k_kv_store(nrv_half *__restrict__ kpool, nrv_half *__restrict__ vpool,
			   const int32_t *__restrict__ blocks, int block_tokens, int kv_dim,
			   const float *__restrict__ k, const float *__restrict__ v,
			   const int32_t *__restrict__ pos)
{
	int i = blockIdx.x;
	int p = pos[i];
	size_t slot = (size_t)blocks[p / block_tokens] * block_tokens + (size_t)(p % block_tokens);
	__half *kd = (__half *)kpool + slot * kv_dim;
	__half *vd = (__half *)vpool + slot * kv_dim;
	for (int d = threadIdx.x; d < kv_dim; d += blockDim.x) {
		kd[d] = __float2half_rn(k[(size_t)i * kv_dim + d]);
		vd[d] = __float2half_rn(v[(size_t)i * kv_dim + d]);
	}
}

int nrv__cu_kv_store(struct nrv_cu_backend *be, nrv_half *kpool, nrv_half *vpool,
		     const int32_t *blocks, int block_tokens, int kv_dim, const float *k,
		     const float *v, int n, const int32_t *pos)
{
	if (n < 1 || block_tokens < 1 || kv_dim < 1 || (uint32_t)n > NRV_CU_GRID_X_MAX)
		return -EINVAL;
	k_kv_store<<<n, 128, 0, be->stream>>>(kpool, vpool, blocks, block_tokens, kv_dim, k, v, pos);
	return NRV_CU(be, cudaGetLastError());
}

__global__ void k_swiglu(const float *__restrict__ gate, const float *__restrict__ up,
			 float *__restrict__ out, int64_t n)
{
	for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
	     i += (int64_t)gridDim.x * blockDim.x) {
		float g = gate[i];
		out[i] = __fmul_rn(__fdiv_rn(g, __fadd_rn(1.0f, expf(-g))), up[i]);
	}
}

int nrv__cu_swiglu(struct nrv_cu_backend *be, const float *gate, const float *up, float *out,
		   int64_t n)
{
	if (n <= 0)
		return 0;
	k_swiglu<<<nrv_cu_flat_blocks(n), NRV_CU_THREADS, 0, be->stream>>>(gate, up, out, n);
	return NRV_CU(be, cudaGetLastError());
}

__global__ void k_add(float *__restrict__ y, const float *__restrict__ x, int64_t n)
{
	for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
	     i += (int64_t)gridDim.x * blockDim.x)
		y[i] = __fadd_rn(y[i], x[i]);
}

int nrv__cu_add(struct nrv_cu_backend *be, float *y, const float *x, int64_t n)
{
	if (n <= 0)
		return 0;
	k_add<<<nrv_cu_flat_blocks(n), NRV_CU_THREADS, 0, be->stream>>>(y, x, n);
	return NRV_CU(be, cudaGetLastError());
}
