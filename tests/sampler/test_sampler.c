/*
 * tests/sampler/test_sampler.c - the sampler against its specification:
 * greedy and ties, seeding, the support of top-k / top-p / min-p, the
 * tempered distribution (chi-square), the penalties' arithmetic, parameter
 * checks, and no allocation per sample.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sampler.h"

/* ---- allocation counter (the binary links with --wrap=malloc etc.) ---- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

static _Thread_local long n_allocs;

void *__wrap_malloc(size_t n)
{
	n_allocs++;
	return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
	n_allocs++;
	return __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
	n_allocs++;
	return __real_realloc(p, n);
}

/* ---- helpers ---- */

#define V_SMALL 12

static struct nrv_sampler_params plain(float temp)
{
	struct nrv_sampler_params p = nrv_sampler_defaults();
	p.temperature = temp;
	p.top_k = 0;
	p.top_p = 1.0f;
	p.min_p = 0.0f;
	p.seed = 1234;
	return p;
}

/* Deterministic pseudo-random logits for large-vocabulary tests. */
static void fill_logits(float *l, int n, uint32_t seed, float scale)
{
	uint32_t x = seed * 2654435761u + 1;
	for (int i = 0; i < n; i++) {
		/* Sum of 4 uniforms: roughly normal, mean 0. */
		float acc = 0;
		for (int j = 0; j < 4; j++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			acc += (float)(x >> 8) / (float)(1u << 24) - 0.5f;
		}
		l[i] = acc * scale;
	}
}

static int argmax(const float *l, int n)
{
	int b = 0;
	for (int i = 1; i < n; i++)
		if (l[i] > l[b])
			b = i;
	return b;
}

/* Draw `n` samples, counting them per token in hist (V entries). */
static void histogram(struct nrv_sampler *s, const float *l, int n, long *hist)
{
	memset(hist, 0, (size_t)s->n_vocab * sizeof(*hist));
	for (int i = 0; i < n; i++) {
		int32_t t = nrv_sampler_sample(s, l);
		cr_assert(t >= 0 && t < s->n_vocab, "sample %d returned %d", i, t);
		hist[t]++;
	}
}

/* Pearson chi-square of hist (n draws) against probabilities p. */
static double chi_square(const long *hist, const double *p, int v, int n)
{
	double chi = 0;
	for (int i = 0; i < v; i++) {
		double e = p[i] * n;
		if (e == 0) {
			if (hist[i])
				return INFINITY;
			continue;
		}
		chi += (hist[i] - e) * (hist[i] - e) / e;
	}
	return chi;
}

static void softmax_t(const float *l, int v, double t, double *p)
{
	double m = -INFINITY, sum = 0;
	for (int i = 0; i < v; i++)
		if (l[i] > m)
			m = l[i];
	for (int i = 0; i < v; i++) {
		p[i] = isinf(l[i]) ? 0.0 : exp((l[i] - m) / t);
		sum += p[i];
	}
	for (int i = 0; i < v; i++)
		p[i] /= sum;
}

/* ---- greedy ---- */

Test(sampler, greedy_picks_argmax_and_lowest_id_on_ties)
{
	struct nrv_sampler s;
	struct nrv_sampler_params p = plain(0.0f);
	cr_assert_eq(nrv_sampler_init(&s, &p, 6), 0);
	float l[6] = { 0.5f, 2.0f, -1.0f, 2.0f, 1.9f, 2.0f };
	cr_expect_eq(nrv_sampler_sample(&s, l), 1);
	float l2[6] = { -3.0f, -2.0f, -1.0f, -5.0f, -1.0f, -9.0f };
	cr_expect_eq(nrv_sampler_sample(&s, l2), 2);
	/* NaN reads as -inf. */
	float l3[6] = { NAN, -7.0f, NAN, -6.0f, NAN, -8.0f };
	cr_expect_eq(nrv_sampler_sample(&s, l3), 3);
	/* Negative temperature is greedy too. */
	s.p.temperature = -1.0f;
	cr_expect_eq(nrv_sampler_sample(&s, l), 1);
	nrv_sampler_fini(&s);
}

Test(sampler, nothing_to_sample_is_einval)
{
	struct nrv_sampler s;
	struct nrv_sampler_params p = plain(1.0f);
	cr_assert_eq(nrv_sampler_init(&s, &p, 3), 0);
	float l[3] = { -INFINITY, NAN, -INFINITY };
	cr_expect_eq(nrv_sampler_sample(&s, l), -EINVAL);
	s.p.temperature = 0.0f;
	cr_expect_eq(nrv_sampler_sample(&s, l), -EINVAL);
	nrv_sampler_fini(&s);
}

Test(sampler, infinite_logit_wins)
{
	struct nrv_sampler s;
	struct nrv_sampler_params p = plain(1.0f);
	cr_assert_eq(nrv_sampler_init(&s, &p, 4), 0);
	float l[4] = { 100.0f, INFINITY, 3.0f, INFINITY };
	for (int i = 0; i < 100; i++)
		cr_assert_eq(nrv_sampler_sample(&s, l), 1);
	nrv_sampler_fini(&s);
}

/* ---- seeding ---- */

Test(sampler, same_seed_same_tokens_different_seed_differs)
{
	enum { V = 1000, N = 300 };
	static float l[V];
	fill_logits(l, V, 7, 2.0f);
	struct nrv_sampler a, b, c;
	struct nrv_sampler_params p = plain(1.0f);
	p.seed = 42;
	cr_assert_eq(nrv_sampler_init(&a, &p, V), 0);
	cr_assert_eq(nrv_sampler_init(&b, &p, V), 0);
	p.seed = 43;
	cr_assert_eq(nrv_sampler_init(&c, &p, V), 0);
	static int32_t ta[N];
	int differ = 0;
	for (int i = 0; i < N; i++) {
		ta[i] = nrv_sampler_sample(&a, l);
		cr_assert_eq(ta[i], nrv_sampler_sample(&b, l), "token %d differs with the same seed", i);
		differ += ta[i] != nrv_sampler_sample(&c, l);
	}
	cr_expect_gt(differ, N / 2, "seeds 42 and 43 agree on %d of %d tokens", N - differ, N);
	/* reset() replays the sequence. */
	nrv_sampler_reset(&a, 42);
	for (int i = 0; i < N; i++)
		cr_assert_eq(nrv_sampler_sample(&a, l), ta[i]);
	nrv_sampler_fini(&a);
	nrv_sampler_fini(&b);
	nrv_sampler_fini(&c);
}

/* ---- top-k ---- */

Test(sampler, top_k_1_equals_greedy)
{
	enum { V = 49152 };
	static float l[V];
	struct nrv_sampler s;
	struct nrv_sampler_params p = plain(1.5f);
	p.top_k = 1;
	cr_assert_eq(nrv_sampler_init(&s, &p, V), 0);
	for (uint32_t round = 0; round < 20; round++) {
		fill_logits(l, V, round, 1.0f);
		cr_assert_eq(nrv_sampler_sample(&s, l), argmax(l, V), "round %u", round);
	}
	nrv_sampler_fini(&s);
}

Test(sampler, top_k_restricts_support)
{
	/* Probabilities 0.3, 0.2, 0.15, 0.1, 0.08, then a tail of 0.01s,
	 * scattered over the ids so id order says nothing. */
	enum { V = 22, K = 5, N = 10000 };
	float l[V];
	for (int i = 0; i < V; i++)
		l[i] = logf(0.01f);
	const int top[K] = { 17, 3, 11, 0, 20 };
	const float pr[K] = { 0.3f, 0.2f, 0.15f, 0.1f, 0.08f };
	for (int i = 0; i < K; i++)
		l[top[i]] = logf(pr[i]);
	struct nrv_sampler s;
	struct nrv_sampler_params p = plain(1.0f);
	p.top_k = K;
	cr_assert_eq(nrv_sampler_init(&s, &p, V), 0);
	long hist[V];
	histogram(&s, l, N, hist);
	bool in_top[V] = { false };
	for (int i = 0; i < K; i++) {
		in_top[top[i]] = true;
		cr_expect_gt(hist[top[i]], 0, "top token %d never drawn", top[i]);
	}
	for (int i = 0; i < V; i++)
		if (!in_top[i])
			cr_assert_eq(hist[i], 0, "token %d outside the top %d drawn %ld times", i, K,
				     hist[i]);
	/* The kept five follow their renormalised probabilities. */
	double e[V] = { 0 };
	for (int i = 0; i < K; i++)
		e[top[i]] = pr[i] / 0.83;
	double chi = chi_square(hist, e, V, N);
	cr_expect_lt(chi, 18.5, "chi-square %.2f over 4 degrees of freedom", chi); /* p = 0.001 */
	nrv_sampler_fini(&s);
}

Test(sampler, top_k_large_vocab_matches_sorted_reference)
{
	enum { V = 49152, K = 40, N = 4000 };
	static float l[V];
	static int32_t order[V];
	fill_logits(l, V, 99, 8.0f);
	/* Reference: the K best by a full selection in the test. */
	for (int i = 0; i < V; i++)
		order[i] = i;
	for (int i = 0; i < K; i++) {
		int b = i;
		for (int j = i + 1; j < V; j++)
			if (l[order[j]] > l[order[b]])
				b = j;
		int32_t t = order[i];
		order[i] = order[b];
		order[b] = t;
	}
	static bool kept[V];
	for (int i = 0; i < K; i++)
		kept[order[i]] = true;
	struct nrv_sampler s;
	struct nrv_sampler_params p = plain(3.0f); /* hot, to reach the whole top K */
	p.top_k = K;
	cr_assert_eq(nrv_sampler_init(&s, &p, V), 0);
	static long hist[V];
	histogram(&s, l, N, hist);
	int seen = 0;
	for (int i = 0; i < V; i++) {
		if (!kept[i])
			cr_assert_eq(hist[i], 0, "token %d (logit %f) is not in the top %d", i, l[i], K);
		seen += hist[i] > 0;
	}
	cr_expect_gt(seen, K / 2, "only %d distinct tokens of the top %d drawn", seen, K);
	nrv_sampler_fini(&s);
}

/* ---- top-p ---- */

/* Probabilities 0.4, 0.3, 0.2, 0.1 at ids 7, 2, 9, 4; every other id -inf. */
static void four_tokens(float *l)
{
	for (int i = 0; i < V_SMALL; i++)
		l[i] = -INFINITY;
	l[7] = logf(0.4f);
	l[2] = logf(0.3f);
	l[9] = logf(0.2f);
	l[4] = logf(0.1f);
}

static void expect_support(struct nrv_sampler *s, const float *l, const int *want, int n_want)
{
	long hist[V_SMALL];
	histogram(s, l, 10000, hist);
	bool in[V_SMALL] = { false };
	for (int i = 0; i < n_want; i++) {
		in[want[i]] = true;
		cr_expect_gt(hist[want[i]], 0, "token %d of the expected support never drawn",
			     want[i]);
	}
	for (int i = 0; i < V_SMALL; i++)
		if (!in[i])
			cr_expect_eq(hist[i], 0, "token %d outside the support drawn %ld times", i,
				     hist[i]);
}

Test(sampler, top_p_keeps_the_minimal_nucleus)
{
	float l[V_SMALL];
	four_tokens(l);
	struct nrv_sampler s;
	struct nrv_sampler_params p = plain(1.0f);
	cr_assert_eq(nrv_sampler_init(&s, &p, V_SMALL), 0);

	s.p.top_p = 0.35f; /* 0.4 alone is enough */
	expect_support(&s, l, (const int[]){ 7 }, 1);
	s.p.top_p = 0.65f; /* 0.4 + 0.3 */
	expect_support(&s, l, (const int[]){ 7, 2 }, 2);
	s.p.top_p = 0.75f; /* 0.7 is short: needs 0.9 */
	expect_support(&s, l, (const int[]){ 7, 2, 9 }, 3);
	s.p.top_p = 0.95f;
	expect_support(&s, l, (const int[]){ 7, 2, 9, 4 }, 4);
	s.p.top_p = 0.0f; /* keeps at least one */
	expect_support(&s, l, (const int[]){ 7 }, 1);
	nrv_sampler_fini(&s);
}

Test(sampler, top_p_is_relative_to_what_top_k_kept)
{
	/* After top-k 3 the probabilities are 4/9, 3/9, 2/9: 7/9 >= 0.75, so
	 * the nucleus is two tokens, where without top-k it is three. */
	float l[V_SMALL];
	four_tokens(l);
	struct nrv_sampler s;
	struct nrv_sampler_params p = plain(1.0f);
	p.top_k = 3;
	p.top_p = 0.75f;
	cr_assert_eq(nrv_sampler_init(&s, &p, V_SMALL), 0);
	expect_support(&s, l, (const int[]){ 7, 2 }, 2);
	nrv_sampler_fini(&s);
}

Test(sampler, top_p_sees_untempered_probabilities)
{
	/* At T = 3 the tempered top two would hold less than 0.65 and pull in
	 * a third token; the filter runs first, so it does not. The two kept
	 * follow the tempered ratio (0.4/0.3)^(1/3). */
	float l[V_SMALL];
	four_tokens(l);
	struct nrv_sampler s;
	struct nrv_sampler_params p = plain(3.0f);
	p.top_p = 0.65f;
	cr_assert_eq(nrv_sampler_init(&s, &p, V_SMALL), 0);
	enum { N = 20000 };
	long hist[V_SMALL];
	histogram(&s, l, N, hist);
	double e[V_SMALL] = { 0 };
	double a = pow(0.4, 1.0 / 3), b = pow(0.3, 1.0 / 3);
	e[7] = a / (a + b);
	e[2] = b / (a + b);
	double chi = chi_square(hist, e, V_SMALL, N);
	cr_expect_lt(chi, 10.83, "chi-square %.2f over 1 degree of freedom", chi); /* p = 0.001 */
	nrv_sampler_fini(&s);
}

static int cmp_desc(const void *a, const void *b, void *ctx)
{
	const float *l = ctx;
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	if (l[x] != l[y])
		return l[x] > l[y] ? -1 : 1;
	return x < y ? -1 : 1;
}

Test(sampler, top_p_large_vocab_matches_sorted_reference)
{
	enum { V = 49152, N = 1500 };
	static float l[V];
	static int32_t order[V];
	static bool kept[V];
	static long hist[V];
	fill_logits(l, V, 5, 14.0f);
	const float top_p = 0.9f;
	/* Reference nucleus: full sort in the test, cumulative in double. */
	for (int i = 0; i < V; i++)
		order[i] = i;
	qsort_r(order, V, sizeof(*order), cmp_desc, l);
	double m = l[order[0]], sum = 0, cum = 0;
	for (int i = 0; i < V; i++)
		sum += exp(l[i] - m);
	int n_nucleus = 0;
	for (int i = 0; i < V; i++) {
		kept[order[i]] = true;
		n_nucleus++;
		cum += exp(l[order[i]] - m);
		if (cum >= top_p * sum)
			break;
	}
	cr_assert_gt(n_nucleus, 3, "test logits too peaked: nucleus of %d", n_nucleus);
	cr_assert_lt(n_nucleus, V / 10, "test logits too flat: nucleus of %d", n_nucleus);

	struct nrv_sampler s;
	struct nrv_sampler_params p = plain(1.0f);
	p.top_p = top_p;
	cr_assert_eq(nrv_sampler_init(&s, &p, V), 0);
	histogram(&s, l, N, hist);
	for (int i = 0; i < V; i++)
		if (!kept[i])
			cr_assert_eq(hist[i], 0, "token %d (logit %f) is outside the %d-token nucleus",
				     i, l[i], n_nucleus);
	/* The most likely excluded-by-nothing token shows up. */
	cr_expect_gt(hist[order[0]], 0);
	nrv_sampler_fini(&s);
}

/* ---- min-p ---- */

Test(sampler, min_p_drops_tokens_below_the_scaled_max)
{
	/* 0.5 max; min_p 0.15 keeps p >= 0.075: 0.5, 0.2, 0.1 (not 0.05s). */
	float l[V_SMALL];
	for (int i = 0; i < V_SMALL; i++)
		l[i] = logf(0.2f / 9); /* nine tail tokens of 0.0222 */
	l[5] = logf(0.5f);
	l[1] = logf(0.2f);
	l[10] = logf(0.1f);
	struct nrv_sampler s;
	struct nrv_sampler_params p = plain(1.0f);
	p.min_p = 0.15f;
	cr_assert_eq(nrv_sampler_init(&s, &p, V_SMALL), 0);
	expect_support(&s, l, (const int[]){ 5, 1, 10 }, 3);
	/* The same through the top-k path and the top-p path. */
	s.p.top_k = 8;
	expect_support(&s, l, (const int[]){ 5, 1, 10 }, 3);
	s.p.top_k = 0;
	s.p.top_p = 0.99f;
	expect_support(&s, l, (const int[]){ 5, 1, 10 }, 3);
	/* min_p 1 keeps only the top token. */
	s.p.top_p = 1.0f;
	s.p.min_p = 1.0f;
	expect_support(&s, l, (const int[]){ 5 }, 1);
	nrv_sampler_fini(&s);
}

/* ---- temperature ---- */

Test(sampler, temperature_shapes_the_distribution)
{
	enum { V = 8, N = 40000 };
	const float l[V] = { 0.0f, 0.5f, 1.0f, 1.5f, 2.0f, -0.5f, 0.8f, 1.2f };
	const float temps[] = { 0.7f, 1.0f, 1.6f };
	for (size_t ti = 0; ti < sizeof(temps) / sizeof(temps[0]); ti++) {
		struct nrv_sampler s;
		struct nrv_sampler_params p = plain(temps[ti]);
		p.seed = 2024 + ti;
		cr_assert_eq(nrv_sampler_init(&s, &p, V), 0);
		long hist[V];
		histogram(&s, l, N, hist);
		double e[V];
		softmax_t(l, V, temps[ti], e);
		double chi = chi_square(hist, e, V, N);
		/* 7 degrees of freedom: 24.32 is the p = 0.001 critical value. */
		cr_expect_lt(chi, 24.32, "T=%.2f: chi-square %.2f", temps[ti], chi);
		/* A temperature off by 15% must be rejected by the same bound,
		 * or this check could not catch a wrong temperature. */
		softmax_t(l, V, temps[ti] * 1.15, e);
		double wrong = chi_square(hist, e, V, N);
		cr_expect_gt(wrong, 24.32, "T=%.2f: a 15%% wrong T scores only %.2f", temps[ti],
			     wrong);
		nrv_sampler_fini(&s);
	}
}

/* ---- penalties ---- */

Test(sampler, penalties_follow_llama_cpp_and_openai)
{
	enum { V = 10 };
	struct nrv_sampler s;
	struct nrv_sampler_params p = plain(0.0f);
	p.repeat_penalty = 1.25f;
	p.frequency_penalty = 0.5f;
	p.presence_penalty = 0.25f;
	p.penalty_last_n = 4;
	cr_assert_eq(nrv_sampler_init(&s, &p, V), 0);
	/* 6 falls out of the 4-token window; then 3 twice, 5 and 7 once. */
	const int32_t hist[] = { 6, 3, 5, 3, 7 };
	for (size_t i = 0; i < sizeof(hist) / sizeof(hist[0]); i++)
		nrv_sampler_accept(&s, hist[i]);
	float l[V] = { 1.0f, 1.0f, 1.0f, 2.0f, 1.0f, -2.0f, 3.0f, 0.0f, 1.0f, 1.0f };
	nrv_sampler_penalize(&s, l);
	/* 3: 2 / 1.25 - 2*0.5 - 0.25 */
	cr_expect_float_eq(l[3], 2.0f / 1.25f - 1.0f - 0.25f, 1e-6f);
	/* 5: -2 * 1.25 - 0.5 - 0.25 */
	cr_expect_float_eq(l[5], -2.0f * 1.25f - 0.5f - 0.25f, 1e-6f);
	/* 7: 0 stays 0 under the repetition penalty */
	cr_expect_float_eq(l[7], 0.0f - 0.5f - 0.25f, 1e-6f);
	/* 6 left the window, the others never came. */
	cr_expect_eq(l[6], 3.0f);
	cr_expect_eq(l[0], 1.0f);
	cr_expect_eq(l[9], 1.0f);
	/* penalize left the counts intact: the same result again. */
	float l2[V] = { 1.0f, 1.0f, 1.0f, 2.0f, 1.0f, -2.0f, 3.0f, 0.0f, 1.0f, 1.0f };
	nrv_sampler_penalize(&s, l2);
	cr_expect_eq(memcmp(l, l2, sizeof(l)), 0);

	/* Greedy sees penalised logits and leaves the caller's alone. */
	float g[V] = { 0.0f, 0.0f, 0.0f, 2.0f, 1.9f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f };
	cr_expect_eq(nrv_sampler_sample(&s, g), 4);
	cr_expect_eq(g[3], 2.0f);

	/* reset forgets the history. */
	nrv_sampler_reset(&s, 1);
	cr_expect_eq(nrv_sampler_sample(&s, g), 3);
	nrv_sampler_fini(&s);
}

Test(sampler, negative_penalties_encourage)
{
	enum { V = 4 };
	struct nrv_sampler s;
	struct nrv_sampler_params p = plain(0.0f);
	p.frequency_penalty = -1.0f;
	p.penalty_last_n = 8;
	cr_assert_eq(nrv_sampler_init(&s, &p, V), 0);
	nrv_sampler_accept(&s, 2);
	nrv_sampler_accept(&s, 2);
	nrv_sampler_accept(&s, 99); /* out of range: ignored */
	float l[V] = { 1.0f, 0.0f, -0.5f, 0.0f };
	nrv_sampler_penalize(&s, l);
	cr_expect_float_eq(l[2], 1.5f, 1e-6f);
	cr_expect_eq(l[0], 1.0f);
	nrv_sampler_fini(&s);
}

/* ---- parameters ---- */

Test(sampler, bad_parameters_are_einval)
{
	struct nrv_sampler s;
	struct nrv_sampler_params p;

	p = plain(1.0f);
	p.top_p = -0.1f;
	cr_expect_eq(nrv_sampler_init(&s, &p, 10), -EINVAL);
	p = plain(1.0f);
	p.top_p = NAN;
	cr_expect_eq(nrv_sampler_init(&s, &p, 10), -EINVAL);
	p = plain(NAN);
	cr_expect_eq(nrv_sampler_init(&s, &p, 10), -EINVAL);
	p = plain(INFINITY);
	cr_expect_eq(nrv_sampler_init(&s, &p, 10), -EINVAL);
	p = plain(1.0f);
	p.min_p = -0.01f;
	cr_expect_eq(nrv_sampler_init(&s, &p, 10), -EINVAL);
	p.min_p = 1.5f;
	cr_expect_eq(nrv_sampler_init(&s, &p, 10), -EINVAL);
	p = plain(1.0f);
	p.repeat_penalty = 0.0f;
	cr_expect_eq(nrv_sampler_init(&s, &p, 10), -EINVAL);
	p = plain(1.0f);
	p.frequency_penalty = NAN;
	cr_expect_eq(nrv_sampler_init(&s, &p, 10), -EINVAL);
	p = plain(1.0f);
	p.penalty_last_n = -1;
	cr_expect_eq(nrv_sampler_init(&s, &p, 10), -EINVAL);
	p = plain(1.0f);
	cr_expect_eq(nrv_sampler_init(&s, &p, 0), -EINVAL);
	cr_expect_eq(nrv_sampler_check(NULL), -EINVAL);
	/* Edge values that are valid. */
	p = plain(0.0f);
	p.top_p = 5.0f;
	p.min_p = 1.0f;
	p.top_k = -3;
	p.penalty_last_n = 0;
	cr_expect_eq(nrv_sampler_check(&p), 0);
	struct nrv_sampler_params d = nrv_sampler_defaults();
	cr_expect_eq(nrv_sampler_check(&d), 0);
	nrv_sampler_fini(NULL);
}

/* ---- no allocation per token ---- */

Test(sampler, sampling_allocates_nothing)
{
	enum { V = 49152 };
	static float l[V];
	fill_logits(l, V, 3, 6.0f);
	struct nrv_sampler s;
	struct nrv_sampler_params p = nrv_sampler_defaults();
	p.repeat_penalty = 1.1f;
	p.presence_penalty = 0.3f;
	long before = n_allocs;
	cr_assert_eq(nrv_sampler_init(&s, &p, V), 0);
	cr_assert_gt(n_allocs, before, "the allocation counter is not wired in");
	/* Every path: greedy, top-k, nucleus, threshold, penalties. */
	const int ks[] = { 0, 40, 0, 0 };
	const float ps[] = { 1.0f, 0.95f, 0.9f, 1.0f };
	const float ts[] = { 0.0f, 0.8f, 1.0f, 1.2f };
	before = n_allocs;
	for (int i = 0; i < 400; i++) {
		s.p.top_k = ks[i % 4];
		s.p.top_p = ps[i % 4];
		s.p.temperature = ts[i % 4];
		int32_t t = nrv_sampler_sample(&s, l);
		cr_assert(t >= 0 && t < V);
		nrv_sampler_accept(&s, t);
	}
	nrv_sampler_reset(&s, 9);
	cr_expect_eq(n_allocs, before, "%ld allocations while sampling", n_allocs - before);
	nrv_sampler_fini(&s);
}
