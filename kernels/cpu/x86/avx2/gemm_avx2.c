/*
 * kernels/cpu/x86/avx2/gemm_avx2.c - walk a rows x tokens output block
 * with one type's tile kernels.
 *
 * Token tiles are the outer loop so that a tile's few activation rows stay
 * in L1 while every weight row of the block (at most the backend's 16-row
 * chunk) streams past them, themselves L1-resident after the first tile.
 * Which tile computes an output never changes its value (see the tile
 * kernels' contract), so the walk is free to pick shapes for speed.
 */
#include "kernels/cpu/x86/avx2/kernels_avx2.h"

static void rows_pass(nrv__tile_fn big, int rstep, nrv__tile_fn one, int nb,
		      const uint8_t *w, size_t ws, int n_rows, const uint8_t *a, size_t as,
		      float *y, size_t ldy)
{
	int r = 0;
	for (; r + rstep <= n_rows; r += rstep)
		big(nb, w + (size_t)r * ws, ws, a, as, y + r, ldy);
	for (; r < n_rows; r++)
		one(nb, w + (size_t)r * ws, ws, a, as, y + r, ldy);
}

void nrv__gemm_tiles(const struct nrv__tiles *tl, int nb, const void *w, size_t w_stride,
		     int n_rows, const void *a, size_t a_stride, int n_tok, float *y,
		     size_t ldy)
{
	const uint8_t *wp = w, *ap = a;
	int t = 0;
	for (; t + 4 <= n_tok; t += 4)
		rows_pass(tl->t2x4, 2, tl->t1x4, nb, wp, w_stride, n_rows,
			  ap + (size_t)t * a_stride, a_stride, y + (size_t)t * ldy, ldy);
	const uint8_t *at = ap + (size_t)t * a_stride;
	float *yt = y + (size_t)t * ldy;
	switch (n_tok - t) {
	case 3:
		rows_pass(tl->t2x3, 2, tl->t1x3, nb, wp, w_stride, n_rows, at, a_stride, yt, ldy);
		break;
	case 2:
		rows_pass(tl->t2x2, 2, tl->t1x2, nb, wp, w_stride, n_rows, at, a_stride, yt, ldy);
		break;
	case 1:
		rows_pass(tl->t4x1, 4, tl->t1x1, nb, wp, w_stride, n_rows, at, a_stride, yt, ldy);
		break;
	default:
		break;
	}
}
