/*
 * tests/tools/nrv-logits.c - test helper: run token ids through a model.
 *
 *   nrv-logits MODEL --tokens 1,2,3 [-t N] [-b BATCH]
 *       writes the logits of every position as raw little-endian float32,
 *       position-major (n_tokens * n_vocab values), to stdout;
 *   nrv-logits MODEL --tokens 1,2,3 --greedy N
 *       evaluates the prompt, then generates N tokens greedily and prints
 *       their ids separated by spaces.
 *
 * Not installed; used by the Python tests that compare with references.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static int parse_tokens(const char *s, int32_t **out)
{
	int cap = 16, n = 0;
	int32_t *v = malloc(cap * sizeof(*v));
	while (v && *s) {
		char *end;
		long t = strtol(s, &end, 10);
		if (end == s)
			break;
		if (n == cap) {
			cap *= 2;
			int32_t *nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				return -1;
			}
			v = nv;
		}
		v[n++] = (int32_t)t;
		s = *end == ',' ? end + 1 : end;
	}
	*out = v;
	return n;
}

int main(int argc, char **argv)
{
	if (argc < 4 || strcmp(argv[2], "--tokens") != 0) {
		fprintf(stderr, "usage: nrv-logits MODEL --tokens 1,2,3 [--greedy N] [-t THREADS] [-b BATCH]\n");
		return 2;
	}
	int greedy = -1, threads = 1, batch = 0;
	for (int i = 4; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--greedy"))
			greedy = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "-t"))
			threads = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "-b"))
			batch = atoi(argv[i + 1]);
	}
	int32_t *toks;
	int n = parse_tokens(argv[3], &toks);
	if (n <= 0) {
		fprintf(stderr, "nrv-logits: no tokens\n");
		return 2;
	}
	char err[1024];
	struct nrv_model *m;
	int rc = nrv_model_load(argv[1], &m, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "nrv-logits: %s\n", err);
		return 1;
	}
	int need = n + (greedy > 0 ? greedy : 0);
	struct nrv_ctx_params p = {
		.n_ctx = need < m->cfg.n_ctx_train ? need : m->cfg.n_ctx_train,
		.n_batch = batch, .n_threads = threads, .all_logits = greedy < 0,
	};
	struct nrv_ctx *c;
	rc = nrv_ctx_create(m, &p, &c, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "nrv-logits: %s\n", err);
		return 1;
	}
	rc = nrv_ctx_eval(c, toks, n, 0);
	if (rc) {
		fprintf(stderr, "nrv-logits: eval failed: %s\n", strerror(-rc));
		return 1;
	}
	int nv = m->cfg.n_vocab;
	if (greedy < 0) {
		for (int i = 0; i < n; i++)
			fwrite(nrv_ctx_logits(c, i), sizeof(float), (size_t)nv, stdout);
	} else {
		for (int g = 0; g < greedy; g++) {
			const float *l = nrv_ctx_logits(c, -1);
			int32_t best = 0;
			for (int32_t j = 1; j < nv; j++)
				if (l[j] > l[best])
					best = j;
			printf("%s%d", g ? " " : "", best);
			if (g + 1 < greedy && (rc = nrv_ctx_eval(c, &best, 1, n + g))) {
				fprintf(stderr, "nrv-logits: eval failed: %s\n", strerror(-rc));
				return 1;
			}
		}
		printf("\n");
	}
	nrv_ctx_destroy(c);
	nrv_model_free(m);
	free(toks);
	return 0;
}
