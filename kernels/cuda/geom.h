/*
 * kernels/cuda/geom.h - launch geometry of the CUDA kernels, as plain C.
 *
 * Shared by the .cu files (which launch with these numbers) and by host
 * tests that check the arithmetic without a GPU: every output row and
 * token is covered exactly once, grids stay inside CUDA's limits, shared
 * memory and staging sizes are what the configuration needs.
 *
 * Owns: the numbers. Does not own: any kernel.
 */
#ifndef NRV_KERNELS_CUDA_GEOM_H
#define NRV_KERNELS_CUDA_GEOM_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/backend.h"
#include "kernels/quant.h"

/* Elements a lane dequantizes at a time: one 32-block, or a 32-element
 * sub-block of a K-quant super-block. */
#define NRV_CU_UNIT 32
/* Matrix-vector kernel: warps per block (one output row each) and tokens
 * per block (each weight unit is dequantized once for the tile). */
#define NRV_CU_MV_WARPS 4
#define NRV_CU_MV_TILE 8
/* Threads of the element-wise and per-row kernels. */
#define NRV_CU_THREADS 256
/* Threads of one attention block (one query token x one head). */
#define NRV_CU_ATTN_THREADS 128
/* CUDA's limit on gridDim.y and gridDim.z. */
#define NRV_CU_GRID_YZ_MAX 65535u
#define NRV_CU_GRID_X_MAX 2147483647u

/* Weight types the CUDA kernels dequantize (matmul, get_rows). */
static inline NRV_HD int nrv_cu_type_supported(int type)
{
	switch (type) {
	case NRV_TYPE_F32: case NRV_TYPE_F16: case NRV_TYPE_BF16:
	case NRV_TYPE_Q4_0: case NRV_TYPE_Q4_1: case NRV_TYPE_Q5_0: case NRV_TYPE_Q5_1:
	case NRV_TYPE_Q8_0: case NRV_TYPE_Q4_K: case NRV_TYPE_Q5_K: case NRV_TYPE_Q6_K:
		return 1;
	default:
		return 0;
	}
}

/* Lane units in a row of ne0 elements of `type`, or -EINVAL when the
 * type is unsupported or ne0 is not a whole number of its blocks (which
 * are whole numbers of units). */
static inline NRV_HD int64_t nrv_cu_row_units(int type, int64_t ne0)
{
	int blck, size;
	nrv_type_geom(type, &blck, &size);
	if (!nrv_cu_type_supported(type) || ne0 <= 0)
		return -EINVAL;
	int64_t per = blck > NRV_CU_UNIT ? blck : NRV_CU_UNIT;
	if (ne0 % per)
		return -EINVAL;
	return ne0 / NRV_CU_UNIT;
}

/* Grid of the matrix-vector kernel for `rows` outputs and n tokens:
 * block (x, y) computes rows [x * WARPS, +WARPS) for tokens [y * TILE, +TILE).
 * Returns 0, or -EINVAL when a dimension is out of CUDA's range. */
static inline int nrv_cu_mv_grid(int64_t rows, int n, uint32_t *gx, uint32_t *gy)
{
	if (rows < 1 || n < 1)
		return -EINVAL;
	int64_t x = (rows + NRV_CU_MV_WARPS - 1) / NRV_CU_MV_WARPS;
	int64_t y = ((int64_t)n + NRV_CU_MV_TILE - 1) / NRV_CU_MV_TILE;
	if (x > (int64_t)NRV_CU_GRID_X_MAX || y > (int64_t)NRV_CU_GRID_YZ_MAX)
		return -EINVAL;
	*gx = (uint32_t)x;
	*gy = (uint32_t)y;
	return 0;
}

/* Dynamic shared memory of the attention kernel: the scores of the
 * longest sequence (floats, rounded up to 16 bytes), the query (head_dim
 * floats) and 32 doubles of reduction scratch. */
static inline size_t nrv_cu_attn_smem(int max_ctx, int head_dim)
{
	size_t s = ((size_t)max_ctx * sizeof(float) + 15) & ~(size_t)15;
	return s + (((size_t)head_dim * sizeof(float) + 7) & ~(size_t)7) + 32 * sizeof(double);
}

/* Grid of the attention kernel: (n_head, n tokens). -EINVAL when out of range. */
static inline int nrv_cu_attn_grid(int n_head, int n, uint32_t *gx, uint32_t *gy)
{
	if (n_head < 1 || n < 1 || (uint32_t)n > NRV_CU_GRID_YZ_MAX)
		return -EINVAL;
	*gx = (uint32_t)n_head;
	*gy = (uint32_t)n;
	return 0;
}

/* Blocks of a grid-stride element-wise kernel over n items (capped: the
 * kernels loop), at least 1. */
static inline uint32_t nrv_cu_flat_blocks(int64_t n)
{
	int64_t b = (n + NRV_CU_THREADS - 1) / NRV_CU_THREADS;
	if (b < 1)
		b = 1;
	if (b > 65536)
		b = 65536;
	return (uint32_t)b;
}

/*
 * int32 slots of the pinned staging area that carries host arrays (token
 * ids, positions, block tables) to the device within one step: a step
 * stages ids and positions (max_tokens each) and a block table per layer
 * (at most max_ctx entries); repeated arrays are staged once. When a step
 * needs more, the backend waits for the queued copies and starts over,
 * which is slower but correct. Every staged array starts at a multiple of
 * 32 slots (128 bytes).
 */
static inline size_t nrv_cu_stage_slots(int max_tokens, int max_ctx)
{
	/* A batched step of many sequences stages each one's positions and
	 * block table per layer: at least 4 MiB keeps such a step in one pass. */
	size_t s = 4 * ((size_t)max_tokens + 32) + 4 * ((size_t)max_ctx + 32) + 4096;
	if (s < (size_t)1 << 20)
		s = (size_t)1 << 20;
	return (s + 31) & ~(size_t)31;
}

static inline size_t nrv_cu_stage_round(size_t n)
{
	return (n + 31) & ~(size_t)31;
}

/*
 * The staged arrays of a step over several sequences' KV views
 * (attention_multi, one launch for every token of the step): the
 * positions of the n tokens, then each token's offset into the block
 * tables, then the sequences' block tables one after the other, each part
 * starting at a multiple of 32 slots. Fills off[t] for the n tokens
 * (sequence s owns n_tok[s] >= 1 consecutive tokens and kv[s].n_blocks >= 1
 * table entries) and returns the slots the whole layout takes, or -EINVAL
 * when a count is below 1, the tokens do not add up to n, or the layout
 * would not fit in int32 offsets.
 */
static inline int64_t nrv_cu_views_layout(const struct nrv_kv_view *kv, int n_seqs,
					  const int *n_tok, int n, int32_t *off)
{
	if (n_seqs < 1 || n < 1)
		return -EINVAL;
	int64_t t = 0, tab = 0;
	for (int s = 0; s < n_seqs; s++) {
		if (n_tok[s] < 1 || kv[s].n_blocks < 1 || n_tok[s] > n - t)
			return -EINVAL;
		for (int i = 0; i < n_tok[s]; i++)
			off[t + i] = (int32_t)tab;
		t += n_tok[s];
		tab += kv[s].n_blocks;
		if (tab > INT32_MAX / 2)
			return -EINVAL;
	}
	if (t != n)
		return -EINVAL;
	return (int64_t)(2 * nrv_cu_stage_round((size_t)n) + nrv_cu_stage_round((size_t)tab));
}

#endif
