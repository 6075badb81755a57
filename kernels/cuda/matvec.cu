/*
 * kernels/cuda/matvec.cu - fused dequantize + matrix-vector product, the
 * decode path, and the dequantize-to-half kernels of the cuBLAS path.
 *
 * One warp per output row, NRV_CU_MV_WARPS rows per block, NRV_CU_MV_TILE
 * tokens per block. Lane l takes the row's 32-element units l, l + 32, ...
 * in order; each unit is read from the weight once and dequantized into
 * registers, then dotted with every token of the tile (activations come
 * through the read-only cache, shared by the block's warps). The lane sums
 * are combined by a fixed butterfly. A (token, row) result therefore
 * depends on the row length only, never on how many tokens share the call
 * or which tile a token falls in: batch invariant by construction.
 */
#include <errno.h>

#include "kernels/cuda/cuda_internal.h"
#include "kernels/cuda/dequant.cuh"

template <int T, bool VEC>
__global__ void __launch_bounds__(NRV_CU_MV_WARPS * 32)
k_matvec(const uint8_t *__restrict__ w, size_t row_bytes, int rows, int units,
	 const float *__restrict__ x, int n, float *__restrict__ y)
{
	int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
	int r = blockIdx.x * NRV_CU_MV_WARPS + warp;
	if (r >= rows)
		return;
	int t0 = blockIdx.y * NRV_CU_MV_TILE;
	int nt = n - t0 < NRV_CU_MV_TILE ? n - t0 : NRV_CU_MV_TILE;
	size_t k = (size_t)units * NRV_CU_UNIT;
	const uint8_t *row = w + (size_t)r * row_bytes;
	float acc[NRV_CU_MV_TILE];
#pragma unroll
	for (int t = 0; t < NRV_CU_MV_TILE; t++)
		acc[t] = 0.0f;
	for (int u = lane; u < units; u += 32) {
		float wv[32];
		nrv_cu_deq_unit<T>(row, u, wv);
#pragma unroll
		for (int t = 0; t < NRV_CU_MV_TILE; t++) {
			if (t < nt) {
				const float *xp = x + (size_t)(t0 + t) * k + (size_t)u * 32;
				float s = 0.0f;
				if (VEC) {
#pragma unroll
					for (int i = 0; i < 8; i++) {
						float4 v = __ldg((const float4 *)xp + i);
						s = fmaf(wv[4 * i], v.x, s);
						s = fmaf(wv[4 * i + 1], v.y, s);
						s = fmaf(wv[4 * i + 2], v.z, s);
						s = fmaf(wv[4 * i + 3], v.w, s);
					}
				} else {
#pragma unroll
					for (int i = 0; i < 32; i++)
						s = fmaf(wv[i], __ldg(xp + i), s);
				}
				acc[t] += s;
			}
		}
	}
#pragma unroll
	for (int t = 0; t < NRV_CU_MV_TILE; t++) {
		float v = acc[t];
#pragma unroll
		for (int o = 16; o > 0; o >>= 1)
			v += __shfl_xor_sync(0xffffffffu, v, o);
		if (lane == 0 && t < nt)
			y[(size_t)(t0 + t) * rows + r] = v;
	}
}

template <int T>
static int launch_matvec(struct nrv_cu_backend *be, const void *w, size_t row_bytes, int64_t rows,
			 int64_t ne0, const float *x, int n, float *y)
{
	uint32_t gx, gy;
	if (nrv_cu_mv_grid(rows, n, &gx, &gy) || rows > 0x7fffffff)
		return -EINVAL;
	int units = (int)(ne0 / NRV_CU_UNIT);
	dim3 grid(gx, gy), block(NRV_CU_MV_WARPS * 32);
	if (((uintptr_t)x & 15) == 0)
		k_matvec<T, true><<<grid, block, 0, be->stream>>>((const uint8_t *)w, row_bytes,
								 (int)rows, units, x, n, y);
	else
		k_matvec<T, false><<<grid, block, 0, be->stream>>>((const uint8_t *)w, row_bytes,
								  (int)rows, units, x, n, y);
	return NRV_CU(be, cudaGetLastError());
}

int nrv__cu_matvec(struct nrv_cu_backend *be, int type, const void *w, size_t row_bytes,
		   int64_t rows, int64_t ne0, const float *x, int n, float *y)
{
	if (nrv_cu_row_units(type, ne0) < 0)
		return -ENOTSUP;
	return NRV_CU_DISPATCH(type, launch_matvec, be, w, row_bytes, rows, ne0, x, n, y);
}

/* One warp per row; each lane writes its units as half. */
template <int T>
__global__ void k_dequant_half(const uint8_t *__restrict__ w, size_t row_bytes, int64_t rows,
			       int units, __half *__restrict__ dst)
{
	int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
	int64_t r = (int64_t)blockIdx.x * NRV_CU_MV_WARPS + warp;
	if (r >= rows)
		return;
	const uint8_t *row = w + (size_t)r * row_bytes;
	__half *out = dst + (size_t)r * units * NRV_CU_UNIT;
	for (int u = lane; u < units; u += 32) {
		float wv[32];
		nrv_cu_deq_unit<T>(row, u, wv);
#pragma unroll
		for (int i = 0; i < 32; i += 2)
			*(__half2 *)(out + (size_t)u * 32 + i) = __floats2half2_rn(wv[i], wv[i + 1]);
	}
}

template <int T>
static int launch_dequant_half(struct nrv_cu_backend *be, const void *w, size_t row_bytes,
			       int64_t rows, int64_t ne0, __half *dst)
{
	int64_t gx = (rows + NRV_CU_MV_WARPS - 1) / NRV_CU_MV_WARPS;
	if (rows < 1 || gx > (int64_t)NRV_CU_GRID_X_MAX)
		return -EINVAL;
	k_dequant_half<T><<<(unsigned)gx, NRV_CU_MV_WARPS * 32, 0, be->stream>>>(
		(const uint8_t *)w, row_bytes, rows, (int)(ne0 / NRV_CU_UNIT), dst);
	return NRV_CU(be, cudaGetLastError());
}

int nrv__cu_dequant_half(struct nrv_cu_backend *be, int type, const void *w, size_t row_bytes,
			 int64_t rows, int64_t ne0, __half *dst)
{
	if (nrv_cu_row_units(type, ne0) < 0)
		return -ENOTSUP;
	return NRV_CU_DISPATCH(type, launch_dequant_half, be, w, row_bytes, rows, ne0, dst);
}

__global__ void k_to_half(const float *__restrict__ src, __half *__restrict__ dst, int64_t n)
{
	for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
	     i += (int64_t)gridDim.x * blockDim.x)
		dst[i] = __float2half_rn(src[i]);
}

int nrv__cu_to_half(struct nrv_cu_backend *be, const float *src, __half *dst, int64_t n)
{
	if (n <= 0)
		return 0;
	k_to_half<<<nrv_cu_flat_blocks(n), NRV_CU_THREADS, 0, be->stream>>>(src, dst, n);
	return NRV_CU(be, cudaGetLastError());
}

/* get_rows: one block per token, threads over the row's units. */
template <int T>
__global__ void k_get_rows(const uint8_t *__restrict__ w, size_t row_bytes, int64_t rows,
			   int units, const int32_t *__restrict__ ids, float *__restrict__ out)
{
	int i = blockIdx.x;
	int32_t id = ids[i];
	float *o = out + (size_t)i * units * NRV_CU_UNIT;
	for (int u = threadIdx.x; u < units; u += blockDim.x) {
		float wv[32];
		if (id >= 0 && id < rows) {
			nrv_cu_deq_unit<T>(w + (size_t)id * row_bytes, u, wv);
		} else {
#pragma unroll
			for (int e = 0; e < 32; e++)
				wv[e] = 0.0f;
		}
#pragma unroll
		for (int e = 0; e < 32; e++)
			o[(size_t)u * 32 + e] = wv[e];
	}
}

template <int T>
static int launch_get_rows(struct nrv_cu_backend *be, const void *w, size_t row_bytes,
			   int64_t rows, int64_t ne0, const int32_t *ids, int n, float *out)
{
	if (n < 1 || (uint32_t)n > NRV_CU_GRID_X_MAX)
		return -EINVAL;
	k_get_rows<T><<<n, 128, 0, be->stream>>>((const uint8_t *)w, row_bytes, rows,
						 (int)(ne0 / NRV_CU_UNIT), ids, out);
	return NRV_CU(be, cudaGetLastError());
}

int nrv__cu_get_rows(struct nrv_cu_backend *be, int type, const void *w, size_t row_bytes,
		     int64_t rows, int64_t ne0, const int32_t *ids, int n, float *out)
{
	if (nrv_cu_row_units(type, ne0) < 0)
		return -ENOTSUP;
	return NRV_CU_DISPATCH(type, launch_get_rows, be, w, row_bytes, rows, ne0, ids, n, out);
}
