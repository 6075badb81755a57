/*
 * tests/gpu/test_cuda_geom.c - the CUDA launch arithmetic (kernels/cuda/
 * geom.h), checked on the host: no GPU needed, runs in the fast suite.
 *
 * Exit 0 pass, 1 fail.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/geom.h"

static int fails;

#define CHECK(c) \
	do { \
		if (!(c)) { \
			printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); \
			fails++; \
		} \
	} while (0)

/* Every (row, token) of the matvec grid is computed by exactly one
 * (block, warp, tile slot), as the kernel maps them. */
static void mv_cover(int64_t rows, int n)
{
	uint32_t gx = 0, gy = 0;
	CHECK(nrv_cu_mv_grid(rows, n, &gx, &gy) == 0);
	unsigned char *hit = calloc((size_t)rows * n, 1);
	for (uint32_t bx = 0; bx < gx; bx++)
		for (uint32_t by = 0; by < gy; by++)
			for (int w = 0; w < NRV_CU_MV_WARPS; w++) {
				int64_t r = (int64_t)bx * NRV_CU_MV_WARPS + w;
				if (r >= rows)
					continue;
				int t0 = (int)by * NRV_CU_MV_TILE;
				int nt = n - t0 < NRV_CU_MV_TILE ? n - t0 : NRV_CU_MV_TILE;
				CHECK(nt >= 1);
				for (int t = 0; t < nt; t++)
					hit[(size_t)(t0 + t) * rows + r]++;
			}
	for (size_t i = 0; i < (size_t)rows * n; i++)
		if (hit[i] != 1) {
			printf("FAIL: rows %lld n %d: output %zu computed %d times\n", (long long)rows, n, i,
			       hit[i]);
			fails++;
			break;
		}
	free(hit);
}

/* A lane's units are u = lane, lane + 32, ...: every unit once. */
static void lane_cover(int64_t units)
{
	int64_t seen = 0;
	for (int lane = 0; lane < 32; lane++)
		for (int64_t u = lane; u < units; u += 32)
			seen++;
	CHECK(seen == units);
}

/* attention_multi's layout: every token of sequence s, looked up through
 * the concatenated tables at its offset (as the kernel does), reaches the
 * slots its own sequence's table gives; the staged parts fit the slots
 * the layout reports. */
static void views_cover(int n_seqs, const int *n_tok, const int *n_blocks, int bt)
{
	int n = 0, tab = 0;
	for (int s = 0; s < n_seqs; s++) {
		n += n_tok[s];
		tab += n_blocks[s];
	}
	int32_t *off = calloc((size_t)n, sizeof(int32_t));
	int32_t *tables = calloc((size_t)tab, sizeof(int32_t));
	struct nrv_kv_view *kv = calloc((size_t)n_seqs, sizeof(*kv));
	for (int i = 0; i < tab; i++)
		tables[i] = (i * 7919) % 1000; /* any pool block */
	for (int s = 0; s < n_seqs; s++)
		kv[s].n_blocks = n_blocks[s];
	int64_t slots = nrv_cu_views_layout(kv, n_seqs, n_tok, n, off);
	CHECK(slots == (int64_t)(2 * nrv_cu_stage_round((size_t)n) + nrv_cu_stage_round((size_t)tab)));
	CHECK(slots % 32 == 0);
	for (int s = 0, t = 0, t0 = 0; s < n_seqs; t0 += n_blocks[s], s++)
		for (int i = 0; i < n_tok[s]; i++, t++) {
			CHECK(off[t] == t0);
			/* the last position the sequence's table covers */
			int last = n_blocks[s] * bt - 1;
			for (int p = 0; p <= last; p += 5) {
				const int32_t *mine = tables + t0, *via = tables + off[t];
				CHECK(via[p / bt] == mine[p / bt]);
				CHECK(off[t] + p / bt < tab);
			}
		}
	free(off);
	free(tables);
	free(kv);
}

int main(void)
{
	int64_t rows[] = { 1, 3, 4, 5, 64, 203, 576, 1536, 49152 };
	int ns[] = { 1, 2, 7, 8, 9, 37, 64, 512 };
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++)
			if (rows[i] * ns[j] <= 49152 * 8)
				mv_cover(rows[i], ns[j]);
	uint32_t gx = 0, gy = 0;
	CHECK(nrv_cu_mv_grid(49152, 1, &gx, &gy) == 0 && gx == 12288 && gy == 1);
	CHECK(nrv_cu_mv_grid(576, 512, &gx, &gy) == 0 && gx == 144 && gy == 64);
	CHECK(nrv_cu_mv_grid(0, 1, &gx, &gy) == -EINVAL);
	CHECK(nrv_cu_mv_grid(10, 0, &gx, &gy) == -EINVAL);
	CHECK(nrv_cu_mv_grid(10, NRV_CU_MV_TILE * 65536, &gx, &gy) == -EINVAL); /* gridDim.y */
	CHECK(nrv_cu_mv_grid(10, NRV_CU_MV_TILE * 65535, &gx, &gy) == 0 && gy == 65535);

	/* units: whole blocks only, supported types only */
	CHECK(nrv_cu_row_units(NRV_TYPE_Q4_1, 576) == 18);
	CHECK(nrv_cu_row_units(NRV_TYPE_Q4_K, 768) == 24);
	CHECK(nrv_cu_row_units(NRV_TYPE_Q4_K, 576) == -EINVAL); /* not whole super-blocks */
	CHECK(nrv_cu_row_units(NRV_TYPE_Q6_K, 256) == 8);
	CHECK(nrv_cu_row_units(NRV_TYPE_F16, 64) == 2);
	CHECK(nrv_cu_row_units(NRV_TYPE_F32, 48) == -EINVAL);   /* not whole units */
	CHECK(nrv_cu_row_units(NRV_TYPE_Q2_K, 256) == -EINVAL); /* no kernel */
	CHECK(nrv_cu_row_units(NRV_TYPE_Q8_1, 32) == -EINVAL);  /* activation type */
	CHECK(nrv_cu_row_units(NRV_TYPE_Q4_0, 0) == -EINVAL);
	for (int64_t u = 1; u < 200; u += 7)
		lane_cover(u);

	/* attention: scores, query and reduction scratch fit; 8-byte alignment */
	CHECK(nrv_cu_attn_smem(8192, 64) == 8192 * 4 + 64 * 4 + 256);
	CHECK(nrv_cu_attn_smem(1, 1) == 16 + 8 + 256);
	CHECK(nrv_cu_attn_smem(4096, 512) % 8 == 0);
	CHECK(nrv_cu_attn_smem(60000, 512) > 227 * 1024); /* too long for one block: refused at create */
	CHECK(nrv_cu_attn_grid(9, 512, &gx, &gy) == 0 && gx == 9 && gy == 512);
	CHECK(nrv_cu_attn_grid(9, 65536, &gx, &gy) == -EINVAL);
	CHECK(nrv_cu_attn_grid(0, 1, &gx, &gy) == -EINVAL);

	/* flat kernels: at least one block, capped */
	CHECK(nrv_cu_flat_blocks(0) == 1);
	CHECK(nrv_cu_flat_blocks(1) == 1);
	CHECK(nrv_cu_flat_blocks(NRV_CU_THREADS + 1) == 2);
	CHECK(nrv_cu_flat_blocks((int64_t)1 << 40) == 65536);

	/* staging: a step's ids, positions and one block table fit twice over */
	size_t s = nrv_cu_stage_slots(512, 4096);
	CHECK(s % 32 == 0);
	CHECK(s >= 2 * (nrv_cu_stage_round(512) * 2 + nrv_cu_stage_round(4096)));
	CHECK(nrv_cu_stage_round(1) == 32 && nrv_cu_stage_round(32) == 32 && nrv_cu_stage_round(33) == 64);

	/* attention_multi layout */
	{
		int tok1[] = { 1 }, blk1[] = { 1 };
		views_cover(1, tok1, blk1, 16);
		int tok3[] = { 1, 45, 3 }, blk3[] = { 2, 3, 1 };
		views_cover(3, tok3, blk3, 16);
		int tok[256], blk[256];
		for (int i = 0; i < 256; i++) {
			tok[i] = 1;
			blk[i] = 1 + i % 9;
		}
		views_cover(256, tok, blk, 16);
		int32_t off[4];
		int bad_tok[] = { 1, 0 }, ok_tok[] = { 2, 2 };
		struct nrv_kv_view ok_kv[2] = { { .n_blocks = 1 }, { .n_blocks = 1 } };
		struct nrv_kv_view bad_kv[2] = { { .n_blocks = 1 }, { .n_blocks = 0 } };
		CHECK(nrv_cu_views_layout(ok_kv, 2, bad_tok, 1, off) == -EINVAL);
		CHECK(nrv_cu_views_layout(bad_kv, 2, ok_tok, 4, off) == -EINVAL);
		CHECK(nrv_cu_views_layout(ok_kv, 2, ok_tok, 3, off) == -EINVAL); /* n too small */
		CHECK(nrv_cu_views_layout(ok_kv, 2, ok_tok, 5, off) == -EINVAL); /* n too large */
		CHECK(nrv_cu_views_layout(ok_kv, 0, ok_tok, 4, off) == -EINVAL);
		CHECK(nrv_cu_views_layout(ok_kv, 2, ok_tok, 4, off) == 96);
	}

	printf("%s\n", fails ? "FAILED" : "ok");
	return fails ? 1 : 0;
}
