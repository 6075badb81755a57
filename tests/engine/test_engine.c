/*
 * tests/engine/test_engine.c - the engine end to end on the default model:
 * batch invariance of whole requests, KV exhaustion and preemption,
 * cancel, queue bound, timeout, stop and length, logprobs, stats.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "model_fixture.h"

#define MAX_REQ 32
#define MAX_GEN 512

/* What the front saw of one request. */
struct outcome {
	uint64_t id;
	int32_t toks[MAX_GEN];
	float lp[MAX_GEN];
	struct nrv_engine_event first;  /* the first TOKEN event */
	int n;
	bool done;
	struct nrv_engine_event fin;
};

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Take the events there are (waiting up to wait_ms on the eventfd). */
static int pump(struct nrv_engine *e, struct outcome *o, int n_o, int wait_ms)
{
	struct pollfd pfd = { .fd = nrv_engine_eventfd(e), .events = POLLIN };
	if (poll(&pfd, 1, wait_ms) > 0) {
		uint64_t v;
		cr_assert_eq(read(pfd.fd, &v, sizeof(v)), (ssize_t)sizeof(v));
	}
	struct nrv_engine_event ev[64];
	int got, total = 0;
	while ((got = nrv_engine_poll(e, ev, 64)) > 0) {
		total += got;
		for (int i = 0; i < got; i++) {
			struct outcome *x = NULL;
			for (int k = 0; k < n_o; k++)
				if (o[k].id == ev[i].id)
					x = &o[k];
			cr_assert_not_null(x, "event for unknown id %llu", (unsigned long long)ev[i].id);
			cr_assert_not(x->done, "event after DONE for id %llu", (unsigned long long)x->id);
			if (ev[i].kind == NRV_EV_TOKEN) {
				cr_assert_lt(x->n, MAX_GEN);
				if (x->n == 0)
					x->first = ev[i];
				x->lp[x->n] = ev[i].logprob;
				x->toks[x->n++] = ev[i].token;
			} else {
				cr_assert_eq(ev[i].kind, NRV_EV_DONE);
				x->done = true;
				x->fin = ev[i];
				cr_assert_eq(ev[i].n_gen, x->n, "DONE counts every TOKEN event");
			}
		}
	}
	return total;
}

static bool all_done(const struct outcome *o, int n)
{
	for (int i = 0; i < n; i++)
		if (!o[i].done)
			return false;
	return true;
}

/* Pump until every outcome is done; fails (no hang) after limit_s. */
static void run_until_done(struct nrv_engine *e, struct outcome *o, int n, double limit_s)
{
	double t0 = mono();
	while (!all_done(o, n)) {
		pump(e, o, n, 100);
		cr_assert_lt(mono() - t0, limit_s, "requests still running after %.0f s", limit_s);
	}
}

static struct nrv_engine *make_engine(struct nrv_model *m, struct nrv_engine_params p)
{
	if (!p.n_threads)
		p.n_threads = 2;
	if (!p.n_ctx)
		p.n_ctx = 512;
	if (!p.timeout_ms)
		p.timeout_ms = -1; /* sanitizer builds are slow; the timeout test sets one */
	struct nrv_engine *e;
	char err[256];
	int rc = nrv_engine_create(m, &p, &e, err, sizeof(err));
	cr_assert_eq(rc, 0, "engine: %s", err);
	return e;
}

static struct nrv_engine_req req(uint64_t id, const int32_t *p, int n, int max_tokens,
				 float temp, uint64_t seed)
{
	struct nrv_engine_req r = { .id = id, .prompt = p, .n_prompt = n, .max_tokens = max_tokens,
				    .ignore_eos = true };
	r.sp = nrv_sampler_defaults();
	r.sp.temperature = temp;
	r.sp.seed = seed;
	r.sp.repeat_penalty = 1.1f;
	return r;
}

/* Build a prompt of about `len` tokens from the text, repeated. */
static int make_prompt(struct nrv_model *m, int variant, int len, int32_t *out)
{
	static const char *texts[] = {
		"Once upon a time, in a land far away, there lived a curious fox. ",
		"The mitochondria is the powerhouse of the cell; it makes energy. ",
		"SELECT name, price FROM products WHERE price > 10 ORDER BY name; ",
		"Roses are red, violets are blue, sugar is sweet, and so are you. ",
		"Paris is the capital of France, and Berlin is the capital of ",
	};
	int32_t tmp[64];
	int n = encode(m, texts[variant % 5], tmp, 64);
	int k = 0;
	for (int i = 0; k < len; i++)
		out[k++] = tmp[i % n] + (i / n == 0 ? 0 : (variant / 5));
	return k;
}

/* ---- determinism ---- */

/*
 * A sampled request (temperature 0.8, seed) and a greedy one give the
 * same tokens alone and among 15 other requests of other lengths that
 * arrive while they run, so prefill chunks (step_tokens 48) mix with
 * decode steps.
 */
Test(engine, batch_invariance, .timeout = 600)
{
	struct nrv_model *m = load_default_model();
	struct nrv_engine_params p = { .step_tokens = 48, .max_running = 16, .timeout_ms = -1 };
	int32_t pa[64], pb[64];
	int na = make_prompt(m, 0, 37, pa), nb = make_prompt(m, 4, 21, pb);
	struct nrv_engine_req ra = req(1, pa, na, 20, 0.8f, 1234);
	struct nrv_engine_req rb = req(2, pb, nb, 20, 0.0f, 0);

	struct outcome alone[2] = { { .id = 1 }, { .id = 2 } };
	struct nrv_engine *e = make_engine(m, p);
	cr_assert_eq(nrv_engine_submit(e, &ra), 0);
	run_until_done(e, alone, 1, 120);
	cr_assert_eq(nrv_engine_submit(e, &rb), 0);
	run_until_done(e, alone, 2, 240);
	nrv_engine_destroy(e);
	cr_assert_eq(alone[0].fin.finish, NRV_FINISH_LENGTH);
	cr_assert_eq(alone[0].n, 20);

	e = make_engine(m, p);
	struct outcome crowd[16] = { { .id = 0 } };
	int32_t prompts[16][200];
	crowd[0].id = 1;
	crowd[1].id = 2;
	int submitted = 0;
	/* Four others first, so A and B arrive mid-prefill and mid-decode. */
	for (int i = 2; i < 16; i++) {
		crowd[i].id = 100 + (uint64_t)i;
		int len = 5 + (i * 37) % 150;
		int n = make_prompt(m, i, len, prompts[i]);
		struct nrv_engine_req r = req(crowd[i].id, prompts[i], n, 4 + i % 9, i % 3 ? 0.9f : 0,
					      (uint64_t)i);
		cr_assert_eq(nrv_engine_submit(e, &r), 0);
		submitted++;
		if (i == 5) {
			pump(e, crowd, 16, 200);
			cr_assert_eq(nrv_engine_submit(e, &ra), 0);
		}
		if (i == 9) {
			pump(e, crowd, 16, 300);
			cr_assert_eq(nrv_engine_submit(e, &rb), 0);
		}
	}
	run_until_done(e, crowd, 16, 500);
	struct nrv_engine_stats st;
	nrv_engine_stats(e, &st);
	nrv_engine_destroy(e);
	for (int k = 0; k < 2; k++) {
		cr_assert_eq(crowd[k].n, alone[k].n, "request %d: %d tokens in the crowd, %d alone", k,
			     crowd[k].n, alone[k].n);
		for (int i = 0; i < alone[k].n; i++)
			cr_assert_eq(crowd[k].toks[i], alone[k].toks[i],
				     "request %d token %d: %d in the crowd, %d alone", k, i,
				     crowd[k].toks[i], alone[k].toks[i]);
	}
	cr_assert_gt(st.steps, 0);
	cr_assert_geq(st.gen_tokens, 40);
	nrv_model_free(m);
}

/*
 * KV exhaustion: a pool of exactly one context (8 blocks of 16) and four
 * requests that each grow to about 73 positions. Sequences get preempted and
 * recomputed; nothing deadlocks, every request completes with the same
 * tokens it gives alone.
 */
Test(engine, kv_exhaustion_preempts_and_recomputes, .timeout = 600)
{
	struct nrv_model *m = load_default_model();
	struct nrv_engine_params p = { .n_ctx = 128, .block_tokens = 16, .kv_blocks = 8,
				       .max_running = 4, .step_tokens = 64, .timeout_ms = -1 };
	int32_t pr[4][64];
	struct nrv_engine_req r[4];
	struct outcome alone[4], crowd[4];
	for (int i = 0; i < 4; i++) {
		int n = make_prompt(m, i, 30 + i * 3, pr[i]);
		r[i] = req(10 + (uint64_t)i, pr[i], n, 40, i % 2 ? 0.7f : 0, 99 + (uint64_t)i);
		memset(&alone[i], 0, sizeof(alone[i]));
		memset(&crowd[i], 0, sizeof(crowd[i]));
		alone[i].id = crowd[i].id = r[i].id;
	}
	struct nrv_engine *e = make_engine(m, p);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(nrv_engine_submit(e, &r[i]), 0);
		run_until_done(e, &alone[i], 1, 120);
	}
	struct nrv_engine_stats st;
	nrv_engine_stats(e, &st);
	cr_assert_eq(st.preempted, 0, "one at a time fits");
	nrv_engine_destroy(e);

	e = make_engine(m, p);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(nrv_engine_submit(e, &r[i]), 0);
	run_until_done(e, crowd, 4, 400);
	nrv_engine_stats(e, &st);
	cr_assert_gt(st.preempted, 0, "about 290 positions in a 128-position pool must preempt");
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(crowd[i].fin.finish, NRV_FINISH_LENGTH, "request %d ended with %d", i,
			     crowd[i].fin.finish);
		cr_assert_eq(crowd[i].n, 40);
		for (int k = 0; k < 40; k++)
			cr_assert_eq(crowd[i].toks[k], alone[i].toks[k],
				     "request %d token %d differs after preemption", i, k);
	}
	/* All blocks back once the last request ended. */
	for (int t = 0; t < 100 && (st.kv_used || st.running); t++) {
		usleep(10000);
		nrv_engine_stats(e, &st);
	}
	cr_assert_eq(st.kv_used, 0);
	cr_assert_eq(st.kv_free, 8);
	nrv_engine_destroy(e);
	nrv_model_free(m);
}

/* ---- the request's life ---- */

Test(engine, cancel_frees_blocks, .timeout = 120)
{
	struct nrv_model *m = load_default_model();
	struct nrv_engine *e = make_engine(m, (struct nrv_engine_params){ .block_tokens = 16 });
	int32_t pr[64];
	int n = make_prompt(m, 1, 40, pr);
	struct nrv_engine_req r = req(7, pr, n, 400, 0, 0);
	struct outcome o = { .id = 7 };
	cr_assert_eq(nrv_engine_submit(e, &r), 0);
	while (o.n < 2)
		pump(e, &o, 1, 100);
	struct nrv_engine_stats st;
	nrv_engine_stats(e, &st);
	cr_assert_eq(st.running, 1, "stats are published before a step's events");
	cr_assert_geq(st.kv_used, 3, "40 prompt tokens hold 3 blocks");
	nrv_engine_cancel(e, 7);
	nrv_engine_cancel(e, 12345); /* unknown: ignored */
	run_until_done(e, &o, 1, 10);
	cr_assert_eq(o.fin.finish, NRV_FINISH_CANCELLED);
	cr_assert_lt(o.n, 400);
	for (int t = 0; t < 100; t++) {
		nrv_engine_stats(e, &st);
		if (st.kv_used == 0)
			break;
		usleep(1000);
	}
	cr_assert_eq(st.kv_used, 0);
	cr_assert_eq(st.running, 0);
	cr_assert_eq(st.kv_free, st.kv_total);
	nrv_engine_destroy(e);
	nrv_model_free(m);
}

Test(engine, queue_bound_says_eagain, .timeout = 120)
{
	struct nrv_model *m = load_default_model();
	struct nrv_engine *e = make_engine(m, (struct nrv_engine_params){ .max_running = 1,
									   .max_queued = 2 });
	int32_t pr[64];
	int n = make_prompt(m, 2, 20, pr);
	struct outcome o[8] = { { 0 } };
	int ok = 0, again = 0;
	for (int i = 0; i < 8; i++) {
		struct nrv_engine_req r = req(50 + (uint64_t)i, pr, n, 400, 0, 0);
		int rc = nrv_engine_submit(e, &r);
		cr_assert(rc == 0 || rc == -EAGAIN, "rc %d", rc);
		if (rc == 0)
			o[ok++].id = r.id;
		else
			again++;
	}
	cr_assert_leq(ok, 3, "one running and two queued at most, got %d accepted", ok);
	cr_assert_geq(again, 5);
	for (int i = 0; i < ok; i++)
		nrv_engine_cancel(e, o[i].id);
	run_until_done(e, o, ok, 30);
	for (int i = 0; i < ok; i++)
		cr_assert_eq(o[i].fin.finish, NRV_FINISH_CANCELLED);
	/* Room again. */
	struct nrv_engine_req r = req(99, pr, n, 2, 0, 0);
	cr_assert_eq(nrv_engine_submit(e, &r), 0);
	nrv_engine_destroy(e); /* drops it without events */
	nrv_model_free(m);
}

Test(engine, bad_requests, .timeout = 60)
{
	struct nrv_model *m = load_default_model();
	struct nrv_engine *e;
	char err[256];
	struct nrv_engine_params dp = { .n_ctx = 64 };
	cr_assert_eq(nrv_engine_create(m, &dp, &e, err, sizeof(err)), 0, "%s", err);
	int32_t pr[80] = { 0 };
	struct nrv_engine_req r = req(1, pr, 4, 8, 0, 0);
	r.n_prompt = 0;
	cr_assert_eq(nrv_engine_submit(e, &r), -EINVAL);
	r.n_prompt = 4;
	r.max_tokens = 0;
	cr_assert_eq(nrv_engine_submit(e, &r), -EINVAL);
	r.max_tokens = 8;
	pr[2] = m->cfg.n_vocab;
	cr_assert_eq(nrv_engine_submit(e, &r), -EINVAL, "out-of-vocabulary token");
	pr[2] = -1;
	cr_assert_eq(nrv_engine_submit(e, &r), -EINVAL);
	pr[2] = 0;
	r.sp.top_p = -1;
	cr_assert_eq(nrv_engine_submit(e, &r), -EINVAL, "sampler parameters are checked");
	r.sp.top_p = 1;
	r.top_logprobs = NRV_ENGINE_MAX_TOP + 1;
	cr_assert_eq(nrv_engine_submit(e, &r), -EINVAL);
	r.top_logprobs = 0;
	r.n_prompt = 64;
	cr_assert_eq(nrv_engine_submit(e, &r), -E2BIG);
	/* The engine refuses pools that cannot hold one context. */
	struct nrv_engine *bad;
	struct nrv_engine_params p = { .n_ctx = 256, .block_tokens = 16, .kv_blocks = 15 };
	cr_assert_eq(nrv_engine_create(m, &p, &bad, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "kv_blocks"), "%s", err);
	const struct nrv_engine_params *ep = nrv_engine_params(e);
	cr_assert_eq(ep->block_tokens, 16);
	cr_assert_eq(ep->step_tokens, 512);
	cr_assert_eq(ep->max_running, 64);
	cr_assert_eq(ep->max_queued, 1000);
	cr_assert_eq(ep->timeout_ms, 30000);
	cr_assert_geq(ep->kv_blocks * ep->block_tokens, 64);
	nrv_engine_destroy(e);
	nrv_model_free(m);
}

Test(engine, timeout_ends_a_request, .timeout = 120)
{
	struct nrv_model *m = load_default_model();
	struct nrv_engine *e = make_engine(m, (struct nrv_engine_params){ .timeout_ms = 300 });
	int32_t pr[64];
	int n = make_prompt(m, 3, 10, pr);
	struct nrv_engine_req r = req(3, pr, n, 500, 0, 0);
	struct outcome o = { .id = 3 };
	double t0 = mono();
	cr_assert_eq(nrv_engine_submit(e, &r), 0);
	run_until_done(e, &o, 1, 30);
	cr_assert_eq(o.fin.finish, NRV_FINISH_TIMEOUT);
	cr_assert_lt(o.n, 500);
	cr_assert_lt(mono() - t0, 60.0, "a 300 ms deadline ends within a few steps");
	nrv_engine_destroy(e);
	nrv_model_free(m);
}

Test(engine, stop_on_eog_and_length, .timeout = 180)
{
	struct nrv_model *m = load_default_model();
	struct nrv_engine *e = make_engine(m, (struct nrv_engine_params){ 0 });
	int32_t pr[64];
	int n = encode(m, "<|im_start|>user\nSay hello.<|im_end|>\n<|im_start|>assistant\n", pr, 64);
	struct nrv_engine_req r = req(1, pr, n, 100, 0, 0);
	r.ignore_eos = false;
	struct outcome o[3] = { { .id = 1 }, { .id = 2 }, { .id = 3 } };
	cr_assert_eq(nrv_engine_submit(e, &r), 0);
	run_until_done(e, o, 1, 120);
	cr_assert_eq(o[0].fin.finish, NRV_FINISH_STOP, "the assistant's turn ends (finish %d after %d)",
		     o[0].fin.finish, o[0].n);
	cr_assert_lt(o[0].n, 100);
	for (int i = 0; i < o[0].n; i++)
		cr_assert_not(nrv_tok_is_eog(m->tok, o[0].toks[i]), "EOG is not reported as a token");
	cr_assert_eq(o[0].fin.n_prompt, n);
	/* The same with ignore_eos runs to max_tokens. */
	r.id = 2;
	r.ignore_eos = true;
	r.max_tokens = o[0].n + 3;
	cr_assert_eq(nrv_engine_submit(e, &r), 0);
	run_until_done(e, o, 2, 120);
	cr_assert_eq(o[1].fin.finish, NRV_FINISH_LENGTH);
	cr_assert_eq(o[1].n, o[0].n + 3);
	for (int i = 0; i < o[0].n; i++)
		cr_assert_eq(o[1].toks[i], o[0].toks[i]);
	cr_assert(nrv_tok_is_eog(m->tok, o[1].toks[o[0].n]), "the token that stopped request 1");
	/* max_tokens is also capped by the context. */
	nrv_engine_destroy(e);
	e = make_engine(m, (struct nrv_engine_params){ .n_ctx = n + 5 });
	r.id = 3;
	r.max_tokens = 50;
	cr_assert_eq(nrv_engine_submit(e, &r), 0);
	run_until_done(e, o, 3, 60);
	cr_assert_eq(o[2].fin.finish, NRV_FINISH_LENGTH);
	cr_assert_eq(o[2].n, 5, "n_ctx - n_prompt tokens");
	nrv_engine_destroy(e);
	nrv_model_free(m);
}

Test(engine, logprobs_and_stats, .timeout = 120)
{
	struct nrv_model *m = load_default_model();
	struct nrv_engine *e = make_engine(m, (struct nrv_engine_params){ 0 });
	struct nrv_engine_stats st0;
	nrv_engine_stats(e, &st0);
	int32_t pr[64];
	int n = make_prompt(m, 4, 12, pr);
	struct nrv_engine_req r = req(5, pr, n, 6, 0, 0);
	r.logprobs = true;
	r.top_logprobs = 5;
	struct outcome o = { .id = 5 };
	cr_assert_eq(nrv_engine_submit(e, &r), 0);
	run_until_done(e, &o, 1, 60);
	cr_assert_eq(o.n, 6);
	const struct nrv_engine_event *t = &o.first;
	cr_assert_eq(t->n_top, 5);
	cr_assert_eq(t->top_token[0], t->token, "greedy picks the most likely token");
	cr_assert_float_eq(t->top_logprob[0], t->logprob, 1e-6);
	float sum = 0;
	for (int i = 0; i < 5; i++) {
		cr_assert_leq(t->top_logprob[i], 0);
		if (i)
			cr_assert_geq(t->top_logprob[i - 1], t->top_logprob[i], "sorted");
		sum += expf(t->top_logprob[i]);
	}
	cr_assert_leq(sum, 1.0001f);
	for (int i = 0; i < o.n; i++)
		cr_assert(o.lp[i] <= 0 && isfinite(o.lp[i]));
	cr_assert_gt(o.fin.queue_ns, -1);
	struct nrv_engine_stats st;
	nrv_engine_stats(e, &st);
	cr_assert_eq(st0.steps, 0);
	cr_assert_geq(st.steps, 6);
	cr_assert_eq(st.gen_tokens, 6);
	cr_assert_eq(st.prompt_tokens, (uint64_t)n);
	cr_assert_eq(st.block_tokens, 16);
	nrv_engine_destroy(e);
	nrv_model_free(m);
}
