/*
 * kernels/cuda/attn.cu - causal attention over the paged half-float KV
 * cache, for decode and prefill alike.
 *
 * One block per (head, query token). The block rounds its query to half
 * (as the CPU path does), scores every visible key (a warp per key, lanes
 * across the head dimension), keeps the scores in shared memory, takes the
 * softmax exactly as nrv_softmax_ref does (max, expf, sum in double, times
 * the float inverse) and rounds the probabilities to half, then each
 * thread accumulates output elements over the keys in position order with
 * unfused float multiply and add, as nrv_attn_values_ref. So the output
 * differs from the CPU reference only by the order of each score's dot
 * product. Positions map to pool slots through the sequence's block table
 * (blocks[p / block_tokens]).
 *
 * attention_multi runs the same kernel once for every token of a step of
 * many sequences: each token finds its sequence's block table at its own
 * offset (toff[t]) into the step's concatenated tables, so one launch
 * replaces one per sequence and every query gets the bits a launch of its
 * own would give (the kernel's arithmetic does not depend on the grid).
 *
 * Decode with few heads and long contexts would profit from splitting the
 * keys across blocks (flash-decoding); the batched engine step keeps many
 * blocks busy instead.
 */
#include <errno.h>
#include <math.h>

#include "kernels/cuda/cuda_internal.h"

static __device__ __forceinline__ size_t slot_of(const int32_t *blocks, int bt, int p)
{
	return (size_t)blocks[p / bt] * bt + (size_t)(p % bt);
}

__global__ void __launch_bounds__(NRV_CU_ATTN_THREADS)
k_attention(int n_head, int group, int hd, float scale, const __half *__restrict__ kpool,
	    const __half *__restrict__ vpool, const int32_t *__restrict__ blocks, int bt,
	    int kv_dim, size_t score_bytes, const float *__restrict__ q,
	    const int32_t *__restrict__ pos, const int32_t *__restrict__ toff,
	    float *__restrict__ out)
{
	extern __shared__ __align__(16) unsigned char smem[];
	float *s = (float *)smem;                           /* (len) scores */
	float *qs = (float *)(smem + score_bytes);          /* (hd) query */
	double *red = (double *)(smem + score_bytes + (((size_t)hd * 4 + 7) & ~(size_t)7)); /* (32) */
	float *redf = (float *)red;
	int h = blockIdx.x, t = blockIdx.y;
	int kvh = h / group;
	if (toff)
		blocks += toff[t];
	/* A position past the scores' room (or negative) would overrun shared
	 * memory: clamp it; the caller validated positions already. */
	int len = pos[t] + 1, cap = (int)(score_bytes / sizeof(float));
	len = len < 1 ? 1 : len > cap ? cap : len;
	int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
	const float *qt = q + ((size_t)t * n_head + h) * hd;
	for (int d = threadIdx.x; d < hd; d += blockDim.x)
		qs[d] = __half2float(__float2half_rn(qt[d]));
	__syncthreads();

	/* scores */
	for (int j = warp; j < len; j += nw) {
		const __half *kr = kpool + slot_of(blocks, bt, j) * kv_dim + (size_t)kvh * hd;
		float acc = 0.0f;
		for (int d = lane; d < hd; d += 32)
			acc = fmaf(qs[d], __half2float(kr[d]), acc);
		for (int o = 16; o > 0; o >>= 1)
			acc += __shfl_xor_sync(0xffffffffu, acc, o);
		if (lane == 0)
			s[j] = __fmul_rn(acc, scale);
	}
	__syncthreads();

	/* max */
	float mx = -INFINITY;
	for (int j = threadIdx.x; j < len; j += blockDim.x)
		mx = fmaxf(mx, s[j]);
	for (int o = 16; o > 0; o >>= 1)
		mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
	if (lane == 0)
		redf[warp] = mx;
	__syncthreads();
	mx = redf[0];
	for (int w = 1; w < nw; w++)
		mx = fmaxf(mx, redf[w]);
	__syncthreads();

	/* exp and the sum in double */
	double sum = 0.0;
	for (int j = threadIdx.x; j < len; j += blockDim.x) {
		float e = expf(__fsub_rn(s[j], mx));
		s[j] = e;
		sum += (double)e;
	}
	for (int o = 16; o > 0; o >>= 1)
		sum += __shfl_xor_sync(0xffffffffu, sum, o);
	if (lane == 0)
		red[warp] = sum;
	__syncthreads();
	sum = 0.0;
	for (int w = 0; w < nw; w++)
		sum += red[w];
	float inv = (float)(1.0 / sum);
	for (int j = threadIdx.x; j < len; j += blockDim.x)
		s[j] = __half2float(__float2half_rn(__fmul_rn(s[j], inv)));
	__syncthreads();

	/* values, in key order */
	float *ot = out + ((size_t)t * n_head + h) * hd;
	for (int d = threadIdx.x; d < hd; d += blockDim.x) {
		float acc = 0.0f;
		const __half *vb = vpool + (size_t)kvh * hd + d;
		for (int j = 0; j < len;) {
			int end = (j / bt + 1) * bt < len ? (j / bt + 1) * bt : len;
			const __half *vr = vb + slot_of(blocks, bt, j) * kv_dim;
			for (; j < end; j++, vr += kv_dim)
				acc = __fadd_rn(acc, __fmul_rn(s[j], __half2float(*vr)));
		}
		ot[d] = acc;
	}
}

int nrv__cu_attention_init(struct nrv_cu_backend *be)
{
	return NRV_CU(be, cudaFuncSetAttribute(k_attention, cudaFuncAttributeMaxDynamicSharedMemorySize,
					       (int)be->attn_smem));
}

int nrv__cu_attention(struct nrv_cu_backend *be, const struct nrv_attn_params *p,
		      const nrv_half *kpool, const nrv_half *vpool, const int32_t *blocks,
		      int block_tokens, int kv_dim, const float *q, int n, const int32_t *pos,
		      float *out)
{
	uint32_t gx, gy;
	if (nrv_cu_attn_grid(p->n_head, n, &gx, &gy) || p->n_kv_head < 1 ||
	    p->n_head % p->n_kv_head || p->head_dim < 1 || p->head_dim > NRV_MAX_HEAD_DIM ||
	    block_tokens < 1)
		return -EINVAL;
	size_t score_bytes = nrv_cu_attn_smem(be->cfg.max_ctx, 0) - 32 * sizeof(double);
	dim3 grid(gx, gy);
	k_attention<<<grid, NRV_CU_ATTN_THREADS, be->attn_smem, be->stream>>>(
		p->n_head, p->n_head / p->n_kv_head, p->head_dim, p->scale, (const __half *)kpool,
		(const __half *)vpool, blocks, block_tokens, kv_dim, score_bytes, q, pos, NULL, out);
	return NRV_CU(be, cudaGetLastError());
}

int nrv__cu_attention_multi(struct nrv_cu_backend *be, const struct nrv_attn_params *p,
			    const nrv_half *kpool, const nrv_half *vpool, const int32_t *tables,
			    const int32_t *toff, int block_tokens, int kv_dim, const float *q,
			    int n, const int32_t *pos, float *out)
{
	uint32_t gx, gy;
	if (nrv_cu_attn_grid(p->n_head, n, &gx, &gy) || p->n_kv_head < 1 ||
	    p->n_head % p->n_kv_head || p->head_dim < 1 || p->head_dim > NRV_MAX_HEAD_DIM ||
	    block_tokens < 1 || !toff)
		return -EINVAL;
	size_t score_bytes = nrv_cu_attn_smem(be->cfg.max_ctx, 0) - 32 * sizeof(double);
	dim3 grid(gx, gy);
	k_attention<<<grid, NRV_CU_ATTN_THREADS, be->attn_smem, be->stream>>>(
		p->n_head, p->n_head / p->n_kv_head, p->head_dim, p->scale, (const __half *)kpool,
		(const __half *)vpool, tables, block_tokens, kv_dim, score_bytes, q, pos, toff, out);
	return NRV_CU(be, cudaGetLastError());
}
