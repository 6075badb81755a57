/*
 * src/cmd_bench.c - `nirvana bench`: prompt processing and generation
 * throughput, printed the way llama-bench prints it.
 *
 * Tests: ppN evaluates N random tokens from an empty cache in batches;
 * tgN generates N tokens one at a time from an empty cache. Each test runs
 * once to warm up, then -r times; the rate is reported as mean ± standard
 * deviation of tokens per second over the repetitions.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "config.h"
#include "gguf.h"
#include "kernels/cpu/kernels.h"
#include "mem/weights.h"
#include "model.h"
#include "util.h"

#define MAX_LIST 16
#define MAX_REPS 1000

enum out_fmt { OUT_MD, OUT_JSON, OUT_JSONL, OUT_CSV };

struct bench_opts {
	const char *model;
	int pp[MAX_LIST], n_pp;
	int tg[MAX_LIST], n_tg;
	int threads[MAX_LIST], n_threads;
	int reps;
	int n_batch;
	int cores[256], n_cores;
	bool warmup;
	int load_mode;
	const char *device;  /* --device: cpu, cuda[:N], auto */
	enum out_fmt fmt;
};

struct result {
	const char *test_kind; /* "pp" or "tg" */
	int n_prompt, n_gen, threads;
	char backend[16];      /* the backend that ran it: "cpu", "cuda" */
	double samples_ns[MAX_REPS];
	int n_samples;
	double avg_ns, stddev_ns, avg_ts, stddev_ts;
};

static void bench_usage(FILE *f)
{
	fprintf(f,
		"usage: nirvana bench -m MODEL [options]\n"
		"\n"
		"Measures prompt processing (ppN: N tokens in batches) and text generation\n"
		"(tgN: N tokens one at a time) from an empty cache, like llama-bench.\n"
		"\n"
		"options:\n"
		"  -m, --model FILE        GGUF model file (required)\n"
		"  -p, --n-prompt LIST     prompt lengths, comma-separated (default 512; 0 = none)\n"
		"  -n, --n-gen LIST        generation lengths (default 128; 0 = none)\n"
		"  -t, --threads LIST      thread counts (default: online CPUs)\n"
		"  -r, --repetitions N     timed repetitions per test (default 5)\n"
		"  -b, --batch-size N      prompt tokens per step (default 512)\n"
		"      --cores LIST        pin workers to these cores, e.g. 0,1\n"
		"      --no-warmup         skip the untimed warm-up run\n"
		"      --load MODE         uring (default), read or mmap: how weights are held\n"
		"      --device DEV        cpu (default), cuda, cuda:N, or auto (a GPU when one is visible)\n"
		"  -o, --output FMT        md (default), json, jsonl or csv\n"
		"  -h, --help              this text\n"
		"\n"
		"NRV_CPU=ref|avx2|avx512 forces a kernel path.\n");
}

static int parse_list(const char *s, int lo, int hi, int *out, int *n)
{
	*n = 0;
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (*n >= MAX_LIST || nrv_parse_int(tok, lo, hi, &out[*n]))
			return -1;
		(*n)++;
	}
	return *n > 0 ? 0 : -1;
}

static int parse_bench_opts(int argc, char **argv, struct bench_opts *o)
{
	enum { OPT_CORES = 256, OPT_NOWARM, OPT_LOAD, OPT_DEVICE };
	static const struct option lo[] = {
		{ "model", required_argument, 0, 'm' },
		{ "n-prompt", required_argument, 0, 'p' },
		{ "n-gen", required_argument, 0, 'n' },
		{ "threads", required_argument, 0, 't' },
		{ "repetitions", required_argument, 0, 'r' },
		{ "batch-size", required_argument, 0, 'b' },
		{ "output", required_argument, 0, 'o' },
		{ "cores", required_argument, 0, OPT_CORES },
		{ "no-warmup", no_argument, 0, OPT_NOWARM },
		{ "load", required_argument, 0, OPT_LOAD },
		{ "device", required_argument, 0, OPT_DEVICE },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	o->pp[0] = 512;
	o->n_pp = 1;
	o->tg[0] = 128;
	o->n_tg = 1;
	o->threads[0] = nrv_online_cpus();
	o->n_threads = 1;
	o->reps = 5;
	o->load_mode = NRV_LOAD_DEFAULT;
	o->warmup = true;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "m:p:n:t:r:b:o:h", lo, NULL)) != -1) {
		int bad = 0;
		switch (ch) {
		case 'm': o->model = optarg; break;
		case 'p': bad = parse_list(optarg, 0, 1 << 20, o->pp, &o->n_pp); break;
		case 'n': bad = parse_list(optarg, 0, 1 << 20, o->tg, &o->n_tg); break;
		case 't': bad = parse_list(optarg, 1, 1024, o->threads, &o->n_threads); break;
		case 'r': bad = nrv_parse_int(optarg, 1, MAX_REPS, &o->reps); break;
		case 'b': bad = nrv_parse_int(optarg, 1, 1 << 16, &o->n_batch); break;
		case 'o':
			if (!strcmp(optarg, "md")) o->fmt = OUT_MD;
			else if (!strcmp(optarg, "json")) o->fmt = OUT_JSON;
			else if (!strcmp(optarg, "jsonl")) o->fmt = OUT_JSONL;
			else if (!strcmp(optarg, "csv")) o->fmt = OUT_CSV;
			else bad = 1;
			break;
		case OPT_DEVICE: o->device = optarg; break;
		case OPT_CORES:
			o->n_cores = nrv_parse_cpu_list(optarg, o->cores, 256);
			bad = o->n_cores <= 0;
			break;
		case OPT_NOWARM: o->warmup = false; break;
		case OPT_LOAD:
			o->load_mode = nrv_load_mode_parse(optarg);
			bad = o->load_mode < 0;
			break;
		case 'h': bench_usage(stdout); return 1;
		default: bench_usage(stderr); return 2;
		}
		if (bad) {
			fprintf(stderr, "nirvana bench: invalid value '%s' for -%c\n", optarg,
				ch < 256 ? ch : '-');
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "nirvana bench: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!o->model) {
		fprintf(stderr, "nirvana bench: no model given: use -m FILE.gguf\n");
		return 2;
	}
	return 0;
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64: good enough for random token ids */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* One timed run: returns nanoseconds, or a negative errno. */
static double run_once(struct nrv_ctx *c, int32_t *toks, int n_prompt, int n_gen, int n_vocab,
		       uint64_t *seed)
{
	for (int i = 0; i < n_prompt + n_gen; i++)
		toks[i] = (int32_t)(rng_next(seed) % (uint64_t)n_vocab);
	double t0 = now_ns();
	int rc = 0;
	if (n_prompt)
		rc = nrv_ctx_eval(c, toks, n_prompt, 0);
	for (int i = 0; i < n_gen && !rc; i++)
		rc = nrv_ctx_eval(c, &toks[n_prompt + i], 1, n_prompt + i);
	double t1 = now_ns();
	return rc ? rc : t1 - t0;
}

static int run_test(struct nrv_model *m, const struct bench_opts *o, int threads, int n_prompt,
		    int n_gen, struct result *r, char *err, size_t errlen)
{
	int need = n_prompt + n_gen;
	struct nrv_ctx_params p = {
		.n_ctx = need, .n_batch = o->n_batch ? o->n_batch : 512, .n_threads = threads,
		.cores = o->n_cores ? o->cores : NULL, .n_cores = o->n_cores, .device = o->device,
	};
	if (need > m->cfg.n_ctx_train) {
		snprintf(err, errlen, "test of %d tokens exceeds the model's context %d", need,
			 m->cfg.n_ctx_train);
		return -EINVAL;
	}
	struct nrv_ctx *c;
	int rc = nrv_ctx_create(m, &p, &c, err, errlen);
	if (rc)
		return rc;
	int32_t *toks = malloc((size_t)need * sizeof(*toks));
	if (!toks) {
		nrv_ctx_destroy(c);
		return -ENOMEM;
	}
	uint64_t seed = 42;
	r->test_kind = n_prompt ? "pp" : "tg";
	r->n_prompt = n_prompt;
	r->n_gen = n_gen;
	r->threads = threads;
	snprintf(r->backend, sizeof(r->backend), "%s", nrv_ctx_backend_name(c));
	r->n_samples = 0;
	if (o->warmup) {
		double t = run_once(c, toks, n_prompt, n_gen, m->cfg.n_vocab, &seed);
		if (t < 0)
			rc = (int)t;
	}
	for (int i = 0; i < o->reps && !rc; i++) {
		double t = run_once(c, toks, n_prompt, n_gen, m->cfg.n_vocab, &seed);
		if (t < 0)
			rc = (int)t;
		else
			r->samples_ns[r->n_samples++] = t;
	}
	free(toks);
	nrv_ctx_destroy(c);
	if (rc) {
		snprintf(err, errlen, "evaluation failed: %s", strerror(-rc));
		return rc;
	}
	double sum = 0, sum_ts = 0;
	for (int i = 0; i < r->n_samples; i++) {
		sum += r->samples_ns[i];
		sum_ts += need * 1e9 / r->samples_ns[i];
	}
	r->avg_ns = sum / r->n_samples;
	r->avg_ts = sum_ts / r->n_samples;
	double v = 0, v_ts = 0;
	for (int i = 0; i < r->n_samples; i++) {
		double ts = need * 1e9 / r->samples_ns[i];
		v += (r->samples_ns[i] - r->avg_ns) * (r->samples_ns[i] - r->avg_ns);
		v_ts += (ts - r->avg_ts) * (ts - r->avg_ts);
	}
	r->stddev_ns = r->n_samples > 1 ? sqrt(v / (r->n_samples - 1)) : 0;
	r->stddev_ts = r->n_samples > 1 ? sqrt(v_ts / (r->n_samples - 1)) : 0;
	return 0;
}

struct model_desc {
	char desc[192];   /* "llama 135M Q4_1" */
	char size[32];    /* "86.06 MiB" */
	char params[32];  /* "134.52 M" */
	uint64_t bytes, n_params;
	const char *isa;
	const char *filename;
};

static void describe(const struct nrv_model *m, struct model_desc *d)
{
	uint64_t by_type[NRV_TYPE_COUNT] = { 0 };
	d->bytes = 0;
	for (uint64_t i = 0; i < m->gguf->n_tensors; i++) {
		const struct nrv_gguf_tensor *t = &m->gguf->tensors[i];
		d->bytes += t->nbytes;
		if (t->n_dims >= 2 && t->type >= 0 && t->type < NRV_TYPE_COUNT)
			by_type[t->type] += t->nbytes;
	}
	int main_type = NRV_TYPE_F32;
	for (int t = 0; t < NRV_TYPE_COUNT; t++)
		if (by_type[t] > by_type[main_type])
			main_type = t;
	d->n_params = m->n_params;
	nrv_fmt_count(d->params, sizeof(d->params), m->n_params);
	snprintf(d->size, sizeof(d->size), "%.2f MiB", d->bytes / (1024.0 * 1024.0));
	struct nrv_gguf_str label;
	char size_label[32];
	if (nrv_gguf_get_str(m->gguf, "general.size_label", &label) == 0 && label.len < 16)
		snprintf(size_label, sizeof(size_label), "%.*s", (int)label.len, label.p);
	else
		nrv_fmt_count(size_label, sizeof(size_label), m->n_params);
	const char *tn = nrv_type_name(main_type);
	snprintf(d->desc, sizeof(d->desc), "%s %s %s", m->cfg.arch, size_label, tn ? tn : "?");
	const struct nrv_cpu_kernels *k = nrv_cpu_kernels_select(getenv("NRV_CPU"));
	d->isa = k ? k->isa : "?";
	d->filename = m->path;
}

static void test_name(const struct result *r, char *buf, size_t cap)
{
	if (r->n_prompt && r->n_gen)
		snprintf(buf, cap, "pp%d+tg%d", r->n_prompt, r->n_gen);
	else if (r->n_prompt)
		snprintf(buf, cap, "pp%d", r->n_prompt);
	else
		snprintf(buf, cap, "tg%d", r->n_gen);
}

static void print_md_header(void)
{
	printf("| model                          |       size |     params | backend    | threads |            test |                  t/s |\n");
	printf("| ------------------------------ | ---------: | ---------: | ---------- | ------: | --------------: | -------------------: |\n");
}

static void print_md(const struct model_desc *d, const struct result *r)
{
	char tn[32], ts[48], be[32];
	test_name(r, tn, sizeof(tn));
	snprintf(ts, sizeof(ts), "%.2f ± %.2f", r->avg_ts, r->stddev_ts);
	if (!strcmp(r->backend, "cuda"))
		snprintf(be, sizeof(be), "CUDA");
	else
		snprintf(be, sizeof(be), "CPU/%s", d->isa);
	printf("| %-30s | %10s | %10s | %-10s | %7d | %15s | %20s |\n", d->desc, d->size, d->params,
	       be, r->threads, tn, ts);
	fflush(stdout);
}

static void print_json_obj(const struct model_desc *d, const struct result *r, const struct bench_opts *o)
{
	char tn[32];
	test_name(r, tn, sizeof(tn));
	printf("{\"build_commit\": \"%s\", \"build_number\": 0, \"cpu_info\": \"%s\", \"gpu_info\": \"\", "
	       "\"backends\": \"%s\", \"model_filename\": \"", NRV_VERSION, d->isa,
	       strcmp(r->backend, "cuda") ? "CPU" : "CUDA");
	nrv_json_print_escaped(stdout, d->filename);
	printf("\", \"model_type\": \"");
	nrv_json_print_escaped(stdout, d->desc);
	printf("\", \"model_size\": %llu, \"model_n_params\": %llu, \"n_batch\": %d, \"n_ubatch\": %d, "
	       "\"n_threads\": %d, \"type_k\": \"f16\", \"type_v\": \"f16\", \"n_gpu_layers\": 0, "
	       "\"n_prompt\": %d, \"n_gen\": %d, \"test\": \"%s\", \"avg_ns\": %.0f, \"stddev_ns\": %.0f, "
	       "\"avg_ts\": %.6f, \"stddev_ts\": %.6f, \"samples_ns\": [",
	       (unsigned long long)d->bytes, (unsigned long long)d->n_params,
	       o->n_batch ? o->n_batch : 512, o->n_batch ? o->n_batch : 512, r->threads, r->n_prompt,
	       r->n_gen, tn, r->avg_ns, r->stddev_ns, r->avg_ts, r->stddev_ts);
	for (int i = 0; i < r->n_samples; i++)
		printf("%s%.0f", i ? ", " : "", r->samples_ns[i]);
	printf("], \"samples_ts\": [");
	int need = r->n_prompt + r->n_gen;
	for (int i = 0; i < r->n_samples; i++)
		printf("%s%.6f", i ? ", " : "", need * 1e9 / r->samples_ns[i]);
	printf("]}");
}

static void print_csv(const struct model_desc *d, const struct result *r, bool header)
{
	if (header)
		printf("model_type,model_size,model_n_params,backends,n_threads,n_prompt,n_gen,test,avg_ns,stddev_ns,avg_ts,stddev_ts\n");
	char tn[32];
	test_name(r, tn, sizeof(tn));
	printf("\"%s\",%llu,%llu,\"%s\",%d,%d,%d,\"%s\",%.0f,%.0f,%.6f,%.6f\n", d->desc,
	       (unsigned long long)d->bytes, (unsigned long long)d->n_params,
	       strcmp(r->backend, "cuda") ? "CPU" : "CUDA", r->threads, r->n_prompt,
	       r->n_gen, tn, r->avg_ns, r->stddev_ns, r->avg_ts, r->stddev_ts);
	fflush(stdout);
}

int nrv_cmd_bench(int argc, char **argv)
{
	struct bench_opts o = { 0 };
	int rc = parse_bench_opts(argc, argv, &o);
	if (rc)
		return rc == 1 ? 0 : 2;
	char err[1024];
	struct nrv_model *m;
	if ((rc = nrv_model_load_mode(o.model, o.load_mode, &m, err, sizeof(err)))) {
		fprintf(stderr, "nirvana: %s\n", err);
		return 1;
	}
	struct model_desc d;
	describe(m, &d);
	int n_results = 0, status = 0;
	if (o.fmt == OUT_MD)
		print_md_header();
	else if (o.fmt == OUT_JSON)
		printf("[\n");
	for (int ti = 0; ti < o.n_threads && !status; ti++) {
		for (int pass = 0; pass < 2 && !status; pass++) {
			int n = pass == 0 ? o.n_pp : o.n_tg;
			for (int i = 0; i < n && !status; i++) {
				int len = pass == 0 ? o.pp[i] : o.tg[i];
				if (len == 0)
					continue;
				struct result *r = calloc(1, sizeof(*r));
				if (!r) {
					status = 1;
					break;
				}
				if (run_test(m, &o, o.threads[ti], pass == 0 ? len : 0, pass == 0 ? 0 : len,
					     r, err, sizeof(err))) {
					fprintf(stderr, "nirvana bench: %s\n", err);
					status = 1;
				} else if (o.fmt == OUT_MD) {
					print_md(&d, r);
				} else if (o.fmt == OUT_CSV) {
					print_csv(&d, r, n_results == 0);
				} else {
					if (o.fmt == OUT_JSON && n_results)
						printf(",\n");
					print_json_obj(&d, r, &o);
					if (o.fmt == OUT_JSONL)
						printf("\n");
					fflush(stdout);
				}
				n_results++;
				free(r);
			}
		}
	}
	if (o.fmt == OUT_JSON)
		printf("\n]\n");
	else if (o.fmt == OUT_MD)
		printf("\nbuild: nirvana %s (%s kernels)\n", NRV_VERSION, d.isa);
	nrv_model_free(m);
	return status;
}
