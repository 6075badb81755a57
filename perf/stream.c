/*
 * perf/stream.c - memory bandwidth probe (STREAM triad: a = b + s*c) and
 * the decode ceiling it implies for a model file.
 *
 *   nrv-stream [-t THREADS,...] [-s MiB] [-r REPS] [MODEL.gguf]
 *
 * Decode is bandwidth-bound: every generated token streams every weight
 * byte the graph reads once, so tokens/s <= bandwidth / bytes per token.
 * Bytes per token counts all tensor data except the token embedding
 * (only one row of it is read) — unless the embedding is also the output
 * matrix (tied), in which case it is read in full.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gguf.h"
#include "mem/weights.h"

struct job {
	double *a, *b, *c;
	size_t n;
	int reps;
	pthread_barrier_t *bar;
	double best_s;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *triad(void *p)
{
	struct job *j = p;
	for (size_t i = 0; i < j->n; i++) {
		j->a[i] = 0;
		j->b[i] = 1.0;
		j->c[i] = 2.0;
	}
	j->best_s = 1e30;
	for (int r = 0; r < j->reps; r++) {
		pthread_barrier_wait(j->bar);
		double t0 = now();
		for (size_t i = 0; i < j->n; i++)
			j->a[i] = j->b[i] + 3.0 * j->c[i];
		pthread_barrier_wait(j->bar);
		double t = now() - t0;
		if (t < j->best_s)
			j->best_s = t;
	}
	return NULL;
}

/* Best triad bandwidth in GB/s (10^9 bytes/s) over reps, with n_threads
 * each streaming their own arrays of mib MiB in total. */
static double measure(int n_threads, size_t mib, int reps)
{
	size_t total = mib << 20;
	size_t n = total / 3 / sizeof(double) / (size_t)n_threads;
	pthread_t th[64];
	struct job jobs[64];
	pthread_barrier_t bar;
	pthread_barrier_init(&bar, NULL, (unsigned)n_threads);
	for (int t = 0; t < n_threads; t++) {
		jobs[t] = (struct job){ .n = n, .reps = reps, .bar = &bar };
		jobs[t].a = aligned_alloc(64, n * sizeof(double));
		jobs[t].b = aligned_alloc(64, n * sizeof(double));
		jobs[t].c = aligned_alloc(64, n * sizeof(double));
		if (!jobs[t].a || !jobs[t].b || !jobs[t].c) {
			fprintf(stderr, "nrv-stream: out of memory\n");
			exit(1);
		}
		pthread_create(&th[t], NULL, triad, &jobs[t]);
	}
	double worst = 0;
	for (int t = 0; t < n_threads; t++) {
		pthread_join(th[t], NULL);
		if (jobs[t].best_s > worst)
			worst = jobs[t].best_s;
		free(jobs[t].a);
		free(jobs[t].b);
		free(jobs[t].c);
	}
	pthread_barrier_destroy(&bar);
	double bytes = 3.0 * sizeof(double) * (double)n * n_threads;
	return bytes / worst / 1e9;
}

static long long bytes_per_token(const char *path)
{
	char err[512];
	struct nrv_weights *w;
	if (nrv_weights_open(path, NULL, &w, err, sizeof(err))) {
		fprintf(stderr, "nrv-stream: %s\n", err);
		return -1;
	}
	size_t hl;
	const void *h = nrv_weights_header(w, &hl);
	struct nrv_gguf *g;
	if (nrv_gguf_parse(h, hl, nrv_weights_file_size(w), &g, err, sizeof(err))) {
		fprintf(stderr, "nrv-stream: %s: %s\n", path, err);
		nrv_weights_close(w);
		return -1;
	}
	long long total = 0;
	int tied = nrv_gguf_tensor(g, "output.weight") == NULL;
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const struct nrv_gguf_tensor *t = &g->tensors[i];
		if (!strcmp(t->name, "token_embd.weight") && !tied)
			continue;
		total += (long long)t->nbytes;
	}
	nrv_gguf_free(g);
	nrv_weights_close(w);
	return total;
}

int main(int argc, char **argv)
{
	int threads[16] = { 1, 2 }, n_threads = 2, reps = 10;
	size_t mib = 768;
	const char *model = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-t") && i + 1 < argc) {
			n_threads = 0;
			for (char *s = strtok(argv[++i], ","); s && n_threads < 16; s = strtok(NULL, ","))
				threads[n_threads++] = atoi(s) > 0 && atoi(s) <= 64 ? atoi(s) : 1;
		} else if (!strcmp(argv[i], "-s") && i + 1 < argc) {
			mib = (size_t)atoi(argv[++i]);
		} else if (!strcmp(argv[i], "-r") && i + 1 < argc) {
			reps = atoi(argv[++i]);
		} else if (argv[i][0] != '-') {
			model = argv[i];
		} else {
			fprintf(stderr, "usage: nrv-stream [-t THREADS,...] [-s MiB] [-r REPS] [MODEL.gguf]\n");
			return 2;
		}
	}
	if (mib < 16 || reps < 1)
		mib = 768, reps = reps < 1 ? 1 : reps;
	long long bpt = model ? bytes_per_token(model) : 0;
	if (bpt < 0)
		return 1;
	printf("| threads | triad GB/s |%s\n", model ? " decode ceiling tok/s |" : "");
	printf("| ------: | ---------: |%s\n", model ? " -------------------: |" : "");
	for (int i = 0; i < n_threads; i++) {
		double gbs = measure(threads[i], mib, reps);
		if (model)
			printf("| %7d | %10.2f | %20.1f |\n", threads[i], gbs, gbs * 1e9 / (double)bpt);
		else
			printf("| %7d | %10.2f |\n", threads[i], gbs);
	}
	if (model)
		printf("\nbytes read per token: %lld (%.2f MiB)\n", bpt, bpt / 1048576.0);
	return 0;
}
