/*
 * perf/kernels-bench.c - single-thread throughput of the CPU kernels, per
 * ISA table (a measurement, not a test).
 *
 *   matvec: one token against a weight matrix, row by row with vec_dot
 *           (and with the gemm tile at one token, as the backend decodes),
 *           in GB/s of weights streamed. Both a cache-resident 1536 x 576
 *           Q4_1 matrix (SmolLM2's ffn_down) and one of ~96 MB, bigger
 *           than the last-level cache, so memory bound.
 *   gemm:   64 tokens through a 1536 x 576 matrix, the gemm tile vs
 *           vec_dot per (row, token), in GOPS (2 ops per multiply-add).
 *
 * Each figure is the median of repeated runs, then the best run (this
 * box is shared and noisy; the best run shows what the kernel can do). Usage:
 *   kernels-bench [reps]     (NRV_CPU=ref|avx2|avx512 is not read here:
 *                             every table the CPU has is measured)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/cpu/kernels.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static uint64_t rng_state = 88172645463325252ULL;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 32);
}

/* Random blocks with small sane scales in their half fields (Q4_1, Q8_0). */
static void fill_weights(int type, uint8_t *w, size_t bytes)
{
	int blck, size;
	nrv_type_geom(type, &blck, &size);
	for (size_t i = 0; i < bytes; i++)
		w[i] = (uint8_t)rng();
	for (size_t b = 0; b + (size_t)size <= bytes; b += (size_t)size) {
		nrv_half d = nrv_float_to_half(0.01f), m = nrv_float_to_half(-0.05f);
		memcpy(w + b, &d, 2);
		if (type == NRV_TYPE_Q4_1)
			memcpy(w + b + 2, &m, 2);
	}
}

static float sink;
static double best_s; /* fastest run of the last median_pass */

struct mat {
	int type, rows, n;
	size_t row_bytes;
	uint8_t *w;
};

/* Seconds for one pass of the matrix against n_tok tokens. */
static double pass(const struct nrv_cpu_kernels *k, const struct mat *m, const uint8_t *a,
		   size_t as, int n_tok, int use_gemm, float *y)
{
	double t0 = now();
	if (use_gemm) {
		/* As the backend: chunks of 16 rows x all tokens. */
		for (int r = 0; r < m->rows; r += 16) {
			int nr = m->rows - r < 16 ? m->rows - r : 16;
			k->gemm[m->type](m->n, m->w + (size_t)r * m->row_bytes, m->row_bytes, nr, a,
					 as, n_tok, y + r, (size_t)m->rows);
		}
	} else {
		for (int t = 0; t < n_tok; t++)
			for (int r = 0; r < m->rows; r++)
				y[(size_t)t * m->rows + r] =
					k->vec_dot[m->type](m->n, m->w + (size_t)r * m->row_bytes,
							    a + (size_t)t * as);
	}
	double dt = now() - t0;
	sink += y[0];
	return dt;
}

static double median_pass(const struct nrv_cpu_kernels *k, const struct mat *m,
			  const uint8_t *a, size_t as, int n_tok, int use_gemm, float *y, int reps)
{
	double *t = malloc((size_t)reps * sizeof(double));
	pass(k, m, a, as, n_tok, use_gemm, y); /* warm up */
	for (int i = 0; i < reps; i++)
		t[i] = pass(k, m, a, as, n_tok, use_gemm, y);
	qsort(t, (size_t)reps, sizeof(double), cmp_double);
	double med = t[reps / 2];
	best_s = t[0];
	free(t);
	return med;
}

static void mat_init(struct mat *m, int type, int rows, int n)
{
	int blck, size;
	nrv_type_geom(type, &blck, &size);
	m->type = type;
	m->rows = rows;
	m->n = n;
	m->row_bytes = (size_t)(n / blck) * (size_t)size;
	m->w = aligned_alloc(64, (m->row_bytes * (size_t)rows + 63) & ~(size_t)63);
	fill_weights(type, m->w, m->row_bytes * (size_t)rows);
}

int main(int argc, char **argv)
{
	int reps = argc > 1 ? atoi(argv[1]) : 21;
	if (reps < 1)
		reps = 1;
	static const char *isas[] = { "ref", "avx2", "avx512" };
	enum { N = 576, ROWS = 1536, TOK = 64 };
	float *x = malloc((size_t)TOK * N * sizeof(float));
	for (int i = 0; i < TOK * N; i++)
		x[i] = (float)((int)(rng() % 2001) - 1000) / 1000.0f;
	size_t as = (size_t)N * 4; /* room for any activation format */
	uint8_t *a = aligned_alloc(64, as * TOK);
	float *y = malloc((size_t)TOK * 49152 * sizeof(float));

	struct mat small_q41, small_q80, big_q41;
	mat_init(&small_q41, NRV_TYPE_Q4_1, ROWS, N);
	mat_init(&small_q80, NRV_TYPE_Q8_0, ROWS, N);
	/* ~96 MB of Q4_1 rows of 576: well past a 32 MB last-level cache. */
	mat_init(&big_q41, NRV_TYPE_Q4_1, 96 * 1024 * 1024 / 360, N);

	printf("single thread, median of %d runs\n\n", reps);
	printf("%-7s %-5s %-30s %12s\n", "isa", "type", "case", "figure");
	for (size_t i = 0; i < sizeof(isas) / sizeof(isas[0]); i++) {
		const struct nrv_cpu_kernels *k = nrv_cpu_kernels_select(isas[i]);
		if (!k) {
			printf("%-7s (not on this CPU)\n", isas[i]);
			continue;
		}
		const struct mat *ms[] = { &small_q41, &small_q80 };
		for (int mi = 0; mi < 2; mi++) {
			const struct mat *m = ms[mi];
			const char *tn = nrv_type_name(m->type);
			int at = nrv_cpu_act_type(m->type);
			for (int t = 0; t < TOK; t++)
				k->quantize[at](x + (size_t)t * N, a + (size_t)t * as, N);
			double bytes = (double)m->row_bytes * m->rows;
			double ops = 2.0 * m->rows * N * TOK;
			double s = median_pass(k, m, a, as, 1, 0, y, reps * 10);
			printf("%-7s %-5s %-30s %8.2f GB/s  (best %6.2f)\n", k->isa, tn, "matvec 1536x576 vec_dot",
			       bytes / s * 1e-9, bytes / best_s * 1e-9);
			if (k->gemm[m->type]) {
				s = median_pass(k, m, a, as, 1, 1, y, reps * 10);
				printf("%-7s %-5s %-30s %8.2f GB/s  (best %6.2f)\n", k->isa, tn,
				       "matvec 1536x576 gemm(1 tok)", bytes / s * 1e-9, bytes / best_s * 1e-9);
			}
			s = median_pass(k, m, a, as, TOK, 0, y, reps);
			printf("%-7s %-5s %-30s %8.2f GOPS  (best %6.2f)\n", k->isa, tn, "64 tok vec_dot per (r,t)",
			       ops / s * 1e-9, ops / best_s * 1e-9);
			if (k->gemm[m->type]) {
				s = median_pass(k, m, a, as, TOK, 1, y, reps);
				printf("%-7s %-5s %-30s %8.2f GOPS  (best %6.2f)\n", k->isa, tn, "64 tok gemm",
				       ops / s * 1e-9, ops / best_s * 1e-9);
			}
		}
		int at = nrv_cpu_act_type(NRV_TYPE_Q4_1);
		k->quantize[at](x, a, N);
		double bytes = (double)big_q41.row_bytes * big_q41.rows;
		double s = median_pass(k, &big_q41, a, as, 1, 0, y, reps < 5 ? reps : 5);
		printf("%-7s %-5s %-30s %8.2f GB/s  (best %6.2f)\n", k->isa, "Q4_1", "matvec 96 MB vec_dot",
		       bytes / s * 1e-9, bytes / best_s * 1e-9);
		if (k->gemm[NRV_TYPE_Q4_1]) {
			s = median_pass(k, &big_q41, a, as, 1, 1, y, reps < 5 ? reps : 5);
			printf("%-7s %-5s %-30s %8.2f GB/s  (best %6.2f)\n", k->isa, "Q4_1", "matvec 96 MB gemm(1 tok)",
			       bytes / s * 1e-9, bytes / best_s * 1e-9);
		}
	}
	free(x);
	free(a);
	free(y);
	free(small_q41.w);
	free(small_q80.w);
	free(big_q41.w);
	return sink == 12345.0f; /* keep the results live */
}
