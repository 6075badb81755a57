/*
 * perf/engine-bench.c - aggregate decode throughput of the engine with 1,
 * 8, 64... concurrent sequences (continuous batching), to set beside
 * `nirvana bench -n 128` single-stream figures.
 *
 *   engine-bench -m MODEL [-t THREADS] [-p PROMPT_TOKENS] [-n GEN_TOKENS] [-c 1,8,64]
 *
 * For each concurrency N it submits N greedy requests at once (distinct
 * prompts of -p tokens, -n tokens each, end-of-generation ignored), and
 * reports: decode tokens/s counted from the moment every request has its
 * first token (prefill done) to the last DONE, and the whole run's
 * generated tokens over its wall time (prefill included).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "model.h"

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *device; /* -d: the backend, NULL for the CPU */

static int run_one(struct nrv_model *m, int threads, int n_seq, int n_prompt, int n_gen)
{
	int bt = 16;
	int per_seq = (n_prompt + n_gen + bt - 1) / bt;
	struct nrv_engine_params p = {
		.n_threads = threads, .n_ctx = n_prompt + n_gen + 1, .block_tokens = bt,
		.kv_blocks = n_seq * per_seq + per_seq, .step_tokens = 512,
		.max_running = n_seq, .max_queued = n_seq, .timeout_ms = -1, .device = device,
	};
	struct nrv_engine *e;
	char err[256];
	int rc = nrv_engine_create(m, &p, &e, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "engine-bench: %s\n", err);
		return rc;
	}
	int32_t *prompt = malloc((size_t)n_prompt * sizeof(int32_t));
	int *first = calloc((size_t)n_seq, sizeof(int));
	if (!prompt || !first)
		return -ENOMEM;
	int64_t t0 = now_ns();
	for (int s = 0; s < n_seq; s++) {
		for (int i = 0; i < n_prompt; i++)
			prompt[i] = (int32_t)(100 + (s * 7919 + i * 104729) % 20000);
		struct nrv_engine_req r = { .id = (uint64_t)s, .prompt = prompt, .n_prompt = n_prompt,
					    .max_tokens = n_gen, .ignore_eos = true };
		r.sp = nrv_sampler_defaults();
		r.sp.temperature = 0;
		if ((rc = nrv_engine_submit(e, &r))) {
			fprintf(stderr, "engine-bench: submit: %s\n", strerror(-rc));
			return rc;
		}
	}
	int done = 0, n_first = 0;
	int64_t t_all_first = 0, t_end = 0;
	uint64_t after_first = 0, total = 0;
	struct nrv_engine_event ev[256];
	struct pollfd pfd = { .fd = nrv_engine_eventfd(e), .events = POLLIN };
	while (done < n_seq) {
		if (poll(&pfd, 1, 1000) > 0) {
			uint64_t v;
			if (read(pfd.fd, &v, sizeof(v)) < 0)
				v = 0;
		}
		int got;
		while ((got = nrv_engine_poll(e, ev, 256)) > 0) {
			for (int i = 0; i < got; i++) {
				if (ev[i].kind == NRV_EV_TOKEN) {
					total++;
					if (n_first == n_seq && ev[i].t_ns > t_all_first)
						after_first++;
					if (!first[ev[i].id]) {
						first[ev[i].id] = 1;
						if (++n_first == n_seq)
							t_all_first = ev[i].t_ns;
					}
				} else {
					done++;
					t_end = ev[i].t_ns;
				}
			}
		}
	}
	struct nrv_engine_stats st;
	nrv_engine_stats(e, &st);
	double dec_s = (double)(t_end - t_all_first) * 1e-9;
	double all_s = (double)(t_end - t0) * 1e-9;
	printf("| %4d | %7d | %7d | %14.2f | %15.2f | %6llu | %4llu |\n", n_seq, n_prompt, n_gen,
	       dec_s > 0 ? (double)after_first / dec_s : 0.0, (double)total / all_s,
	       (unsigned long long)st.steps, (unsigned long long)st.preempted);
	fflush(stdout);
	nrv_engine_destroy(e);
	free(prompt);
	free(first);
	return 0;
}

int main(int argc, char **argv)
{
	const char *model = NULL, *conc = "1,8,64";
	int threads = 2, n_prompt = 32, n_gen = 64, c;
	while ((c = getopt(argc, argv, "m:t:p:n:c:d:h")) != -1) {
		switch (c) {
		case 'd': device = optarg; break;
		case 'm': model = optarg; break;
		case 't': threads = atoi(optarg); break;
		case 'p': n_prompt = atoi(optarg); break;
		case 'n': n_gen = atoi(optarg); break;
		case 'c': conc = optarg; break;
		default:
			fprintf(stderr, "usage: engine-bench -m MODEL [-t THREADS] [-p PROMPT] [-n GEN] "
					"[-c 1,8,64] [-d cpu|cuda|cuda:N]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (!model || threads < 1 || n_prompt < 1 || n_gen < 1) {
		fprintf(stderr, "engine-bench: -m MODEL is required; -t, -p, -n must be >= 1\n");
		return 2;
	}
	struct nrv_model *m;
	char err[512];
	if (nrv_model_load(model, &m, err, sizeof(err))) {
		fprintf(stderr, "engine-bench: %s\n", err);
		return 1;
	}
	printf("engine-bench: %s, %d threads\n\n", m->cfg.name, threads);
	printf("| seqs | prompt  | gen/seq | decode tok/s   | overall tok/s   | steps  | pre  |\n");
	printf("| ---: | ------: | ------: | -------------: | --------------: | -----: | ---: |\n");
	for (const char *s = conc; *s;) {
		int n = atoi(s);
		if (n < 1 || run_one(m, threads, n, n_prompt, n_gen))
			return 1;
		s = strchr(s, ',');
		if (!s)
			break;
		s++;
	}
	nrv_model_free(m);
	return 0;
}
