/*
 * tests/kernels/test_backend.c - the CPU backend's matrix products are
 * batch invariant and thread invariant.
 *
 * For several weight types and shapes (odd row counts, rows not a multiple
 * of the 16-row chunk, rows shorter than one chunk), matmul and
 * matmul_multi run with 1, 2 and 3 threads and 1..MAX_TOK tokens per call;
 * every output must equal, bit for bit, the same token computed alone on
 * one thread by matmul. Runs with whatever kernel table the CPU selects
 * (NRV_CPU may force one).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/cpu/kernels.h"

#define MAX_TOK 9
#define K 576

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static float frand(void)
{
	return (float)((double)(rng() >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static void put_half(uint8_t *p, float f)
{
	nrv_half h = nrv_float_to_half(f);
	memcpy(p, &h, sizeof(h));
}

/* A weight of `rows` x K: random quants, sane random scales. */
static struct nrv_tensor make_weight(int type, int rows)
{
	int blck, size;
	nrv_type_geom(type, &blck, &size);
	size_t row_bytes = (size_t)K / blck * size;
	uint8_t *d = malloc(row_bytes * rows);
	cr_assert(d);
	for (size_t i = 0; i < row_bytes * rows; i++)
		d[i] = (uint8_t)rng();
	for (size_t b = 0; b < row_bytes * rows; b += size) {
		if (type == NRV_TYPE_F32) {
			float f = frand();
			memcpy(d + b, &f, 4);
			continue;
		}
		put_half(d + b, 0.01f * frand());
		if (type == NRV_TYPE_Q4_1)
			put_half(d + b + 2, 0.05f * frand());
	}
	struct nrv_tensor t = {
		.type = type, .ne0 = K, .ne1 = rows, .row_bytes = row_bytes, .data = d,
		.name = "w",
	};
	return t;
}

static struct nrv_backend *make_backend(int threads)
{
	struct nrv_backend_cfg cfg = {
		.n_threads = threads, .max_tokens = MAX_TOK, .max_row = K, .max_ctx = 16,
		.max_heads = 1,
	};
	struct nrv_backend *be;
	int rc = nrv_backend_cpu_ops.create(&cfg, &be);
	if (rc == -ENOTSUP)
		cr_skip_test("the CPU kernel table named by NRV_CPU is unavailable here");
	cr_assert_eq(rc, 0, "create: %d", rc);
	return be;
}

static const int types[] = { NRV_TYPE_Q4_1, NRV_TYPE_Q8_0, NRV_TYPE_Q4_0, NRV_TYPE_F32 };
static const int row_counts[] = { 1, 7, 37, 200 };

static void check_type(int type)
{
	enum { NW = 3 };
	struct nrv_tensor w[NW];
	for (int m = 0; m < NW; m++)
		w[m] = make_weight(type, row_counts[m + 1]);
	float *x = malloc(sizeof(float) * K * MAX_TOK);
	for (int i = 0; i < K * MAX_TOK; i++)
		x[i] = frand() * (rng() % 32 == 0 ? 20.0f : 1.0f);
	/* expected[m]: (MAX_TOK, rows_m), each token alone on one thread */
	float *expected[NW], *got[NW];
	struct nrv_backend *be1 = make_backend(1);
	for (int m = 0; m < NW; m++) {
		expected[m] = malloc(sizeof(float) * MAX_TOK * w[m].ne1);
		got[m] = malloc(sizeof(float) * MAX_TOK * w[m].ne1);
		cr_assert_eq(be1->ops->upload(be1, &w[m]), 0);
		for (int t = 0; t < MAX_TOK; t++)
			be1->ops->matmul(be1, &w[m], x + (size_t)t * K, 1, expected[m] + t * w[m].ne1);
	}
	nrv_backend_cpu_ops.destroy(be1);

	for (int threads = 1; threads <= 3; threads++) {
		struct nrv_backend *be = make_backend(threads);
		for (int n = 1; n <= MAX_TOK; n++) {
			for (int multi = 0; multi <= 1; multi++) {
				for (int m = 0; m < NW; m++)
					memset(got[m], 0xff, sizeof(float) * MAX_TOK * w[m].ne1);
				if (multi) {
					const struct nrv_tensor *wp[NW] = { &w[0], &w[1], &w[2] };
					cr_assert_eq(be->ops->matmul_multi(be, wp, NW, x, n, got), 0);
				} else {
					for (int m = 0; m < NW; m++)
						be->ops->matmul(be, &w[m], x, n, got[m]);
				}
				for (int m = 0; m < NW; m++) {
					size_t cnt = (size_t)n * w[m].ne1;
					cr_assert(memcmp(got[m], expected[m], cnt * sizeof(float)) == 0,
						  "type %d, %d threads, %d tokens, %s: matrix %d (%lld rows) "
						  "differs from one token on one thread",
						  type, threads, n, multi ? "matmul_multi" : "matmul", m,
						  (long long)w[m].ne1);
					for (size_t i = cnt; i < (size_t)MAX_TOK * w[m].ne1; i++) {
						uint32_t u;
						memcpy(&u, &got[m][i], 4);
						cr_assert_eq(u, 0xffffffffu, "wrote past its %d tokens", n);
					}
				}
			}
		}
		nrv_backend_cpu_ops.destroy(be);
	}
	/* one-row matrix and a single-matrix multi, too */
	struct nrv_tensor one = make_weight(type, row_counts[0]);
	struct nrv_backend *be = make_backend(2);
	float y1[MAX_TOK], y2[MAX_TOK];
	be->ops->matmul(be, &one, x, MAX_TOK, y1);
	const struct nrv_tensor *op = &one;
	float *yp = y2;
	cr_assert_eq(be->ops->matmul_multi(be, &op, 1, x, MAX_TOK, &yp), 0);
	cr_assert(memcmp(y1, y2, sizeof(y1)) == 0);
	nrv_backend_cpu_ops.destroy(be);
	free((void *)one.data);
	for (int m = 0; m < NW; m++) {
		free((void *)w[m].data);
		free(expected[m]);
		free(got[m]);
	}
	free(x);
}

Test(backend, matmul_batch_and_thread_invariant)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		check_type(types[i]);
}

Test(backend, matmul_multi_rejects_mixed)
{
	struct nrv_tensor a = make_weight(NRV_TYPE_Q4_1, 16), b = make_weight(NRV_TYPE_Q8_0, 16);
	struct nrv_backend *be = make_backend(2);
	const struct nrv_tensor *w[2] = { &a, &b };
	float ya[16], yb[16];
	float *y[2] = { ya, yb };
	float x[K] = { 0 };
	cr_assert_eq(be->ops->matmul_multi(be, w, 2, x, 1, y), -EINVAL);
	cr_assert_eq(be->ops->matmul_multi(be, w, 0, x, 1, y), -EINVAL);
	cr_assert_eq(be->ops->matmul_multi(be, w, NRV_MATMUL_MULTI_MAX + 1, x, 1, y), -EINVAL);
	nrv_backend_cpu_ops.destroy(be);
	free((void *)a.data);
	free((void *)b.data);
}
