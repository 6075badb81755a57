/*
 * src/sampler.c - logits to the next token (see sampler.h).
 *
 * The per-token cost is a few linear passes over the vocabulary and no
 * full sort:
 *   - top-k keeps a size-k min-heap while scanning the logits, then sorts
 *     only those k (O(V log k) worst case, O(V) when most logits lose the
 *     first comparison against the heap's root);
 *   - top-p without top-k heapifies the candidates in O(V) and pops the
 *     most likely ones until the nucleus is complete, so the work beyond
 *     the heapify is proportional to the nucleus size. Candidates that
 *     min-p would drop anyway never enter the heap. A flat distribution
 *     with a large top_p degrades to heapsort, O(V log V);
 *   - min-p alone is a threshold on the logits and needs no ordering.
 * Probabilities are never normalised: the draw scales a uniform number by
 * the sum of the weights instead.
 */
#include "sampler.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct nrv_sampler_params nrv_sampler_defaults(void)
{
	struct nrv_sampler_params p = {
		.temperature = 0.8f,
		.top_k = 40,
		.top_p = 0.95f,
		.min_p = 0.05f,
		.repeat_penalty = 1.0f,
		.frequency_penalty = 0.0f,
		.presence_penalty = 0.0f,
		.penalty_last_n = 64,
		.seed = 0,
	};
	return p;
}

int nrv_sampler_check(const struct nrv_sampler_params *p)
{
	if (!p)
		return -EINVAL;
	if (isnan(p->temperature) || isinf(p->temperature))
		return -EINVAL;
	if (isnan(p->top_p) || p->top_p < 0.0f)
		return -EINVAL;
	if (isnan(p->min_p) || p->min_p < 0.0f || p->min_p > 1.0f)
		return -EINVAL;
	if (!isfinite(p->repeat_penalty) || p->repeat_penalty <= 0.0f)
		return -EINVAL;
	if (!isfinite(p->frequency_penalty) || !isfinite(p->presence_penalty))
		return -EINVAL;
	if (p->penalty_last_n < 0)
		return -EINVAL;
	return 0;
}

/* ---- random numbers: xoshiro256** seeded through splitmix64 ---- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(uint64_t st[4])
{
	uint64_t out = rotl(st[1] * 5, 7) * 9;
	uint64_t t = st[1] << 17;
	st[2] ^= st[0];
	st[3] ^= st[1];
	st[1] ^= st[2];
	st[0] ^= st[3];
	st[2] ^= t;
	st[3] = rotl(st[3], 45);
	return out;
}

/* Uniform in [0, 1) with 53 random bits. */
static double rng_uniform(uint64_t st[4])
{
	return (double)(rng_next(st) >> 11) * 0x1.0p-53;
}

static void rng_seed(uint64_t st[4], uint64_t seed)
{
	/* splitmix64 never yields four zero words, the one state xoshiro
	 * cannot leave. */
	for (int i = 0; i < 4; i++)
		st[i] = splitmix64(&seed);
}

/* ---- lifecycle and history ---- */

int nrv_sampler_init(struct nrv_sampler *s, const struct nrv_sampler_params *p, int n_vocab)
{
	int rc = nrv_sampler_check(p);
	if (rc)
		return rc;
	if (n_vocab <= 0)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	s->p = *p;
	s->n_vocab = n_vocab;
	size_t v = (size_t)n_vocab;
	size_t ring = p->penalty_last_n > 0 ? (size_t)p->penalty_last_n : 1;
	s->recent = malloc(ring * sizeof(*s->recent));
	s->counts = calloc(v, sizeof(*s->counts));
	s->logits = malloc(v * sizeof(*s->logits));
	s->idx = malloc(v * sizeof(*s->idx));
	s->probs = malloc(v * sizeof(*s->probs));
	if (!s->recent || !s->counts || !s->logits || !s->idx || !s->probs) {
		nrv_sampler_fini(s);
		return -ENOMEM;
	}
	rng_seed(s->rng, p->seed);
	return 0;
}

void nrv_sampler_fini(struct nrv_sampler *s)
{
	if (!s)
		return;
	free(s->recent);
	free(s->counts);
	free(s->logits);
	free(s->idx);
	free(s->probs);
	s->recent = NULL;
	s->counts = NULL;
	s->logits = NULL;
	s->idx = NULL;
	s->probs = NULL;
	s->n_recent = 0;
	s->recent_head = 0;
}

void nrv_sampler_reset(struct nrv_sampler *s, uint64_t seed)
{
	/* Undo the counts entry by entry: cheaper than clearing n_vocab. */
	for (int i = 0; i < s->n_recent; i++)
		s->counts[s->recent[i]] = 0;
	s->n_recent = 0;
	s->recent_head = 0;
	s->p.seed = seed;
	rng_seed(s->rng, seed);
}

void nrv_sampler_accept(struct nrv_sampler *s, int32_t tok)
{
	int cap = s->p.penalty_last_n;
	if (cap <= 0 || tok < 0 || tok >= s->n_vocab)
		return;
	if (s->n_recent == cap)
		s->counts[s->recent[s->recent_head]]--;
	else
		s->n_recent++;
	s->recent[s->recent_head] = tok;
	s->counts[tok]++;
	s->recent_head = s->recent_head + 1 == cap ? 0 : s->recent_head + 1;
}

static bool penalties_on(const struct nrv_sampler *s)
{
	return s->n_recent > 0 &&
	       (s->p.repeat_penalty != 1.0f || s->p.frequency_penalty != 0.0f ||
		s->p.presence_penalty != 0.0f);
}

void nrv_sampler_penalize(struct nrv_sampler *s, float *logits)
{
	if (!penalties_on(s))
		return;
	float rp = s->p.repeat_penalty;
	float fp = s->p.frequency_penalty;
	float pp = s->p.presence_penalty;
	/* Each distinct token is penalised once: its count is negated once
	 * applied, then restored in a second pass over the ring. */
	for (int i = 0; i < s->n_recent; i++) {
		int32_t t = s->recent[i];
		int32_t c = s->counts[t];
		if (c <= 0)
			continue;
		float x = logits[t];
		if (rp != 1.0f)
			x = x <= 0.0f ? x * rp : x / rp;
		x -= (float)c * fp + pp;
		logits[t] = x;
		s->counts[t] = -c;
	}
	for (int i = 0; i < s->n_recent; i++) {
		int32_t t = s->recent[i];
		if (s->counts[t] < 0)
			s->counts[t] = -s->counts[t];
	}
}

/* ---- candidate selection ---- */

/* A logit with NaN read as -inf. */
static inline float lg(const float *l, int32_t i)
{
	float x = l[i];
	return x == x ? x : -INFINITY;
}

/* Strict order of candidates: higher logit first, then lower id. */
static inline bool better(const float *l, int32_t a, int32_t b)
{
	float x = lg(l, a), y = lg(l, b);
	return x > y || (x == y && a < b);
}

/* Sift h[i] down a heap of n entries whose root is the worst candidate. */
static void sift_worst(const float *l, int32_t *h, int n, int i)
{
	int32_t v = h[i];
	for (;;) {
		int c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && better(l, h[c], h[c + 1]))
			c++;
		if (!better(l, v, h[c]))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = v;
}

/* Sift h[i] down a heap of n entries whose root is the best candidate. */
static void sift_best(const float *l, int32_t *h, int n, int i)
{
	int32_t v = h[i];
	for (;;) {
		int c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && better(l, h[c + 1], h[c]))
			c++;
		if (!better(l, h[c], v))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = v;
}

/* min-p's cut as a logit (keep x >= thr). -FLT_MAX when min-p is off, so
 * that the same comparison still drops -inf and NaN. */
static float min_p_threshold(const struct nrv_sampler *s, float max)
{
	if (s->p.min_p > 0.0f) {
		float t = max + logf(s->p.min_p);
		return t > -FLT_MAX ? t : -FLT_MAX;
	}
	return -FLT_MAX;
}

/*
 * Top-k: leaves the k best ids in idx[0..k), best first, and returns how
 * many of them have a logit above -inf (at least 1).
 */
static int select_top_k(struct nrv_sampler *s, const float *l, int k)
{
	int32_t *h = s->idx;
	int n = s->n_vocab;
	for (int i = 0; i < k; i++)
		h[i] = i;
	for (int i = k / 2 - 1; i >= 0; i--)
		sift_worst(l, h, k, i);
	float root = lg(l, h[0]);
	for (int32_t i = k; i < n; i++) {
		/* Every id in the heap is lower than i, so a tie never beats
		 * the root (the lower id stays); NaN fails the test. */
		if (l[i] > root) {
			h[0] = i;
			sift_worst(l, h, k, 0);
			root = lg(l, h[0]);
		}
	}
	/* Heapsort: popping the worst to the back leaves the best in front. */
	for (int m = k - 1; m > 0; m--) {
		int32_t t = h[0];
		h[0] = h[m];
		h[m] = t;
		sift_worst(l, h, m, 0);
	}
	while (k > 1 && lg(l, h[k - 1]) == -INFINITY)
		k--;
	return k;
}

/*
 * Apply top-p and min-p to the best-first list idx[0..n) and return how
 * many to keep. `max` is the top logit.
 */
static int cut_sorted(const struct nrv_sampler *s, const float *l, const int32_t *idx, int n,
		      float max)
{
	float top_p = s->p.top_p;
	float thr = min_p_threshold(s, max);
	double target = 0.0, cum = 0.0;
	if (top_p < 1.0f) {
		double sum = 0.0;
		for (int i = 0; i < n; i++)
			sum += expf(lg(l, idx[i]) - max);
		target = (double)top_p * sum;
	}
	for (int i = 0; i < n; i++) {
		float x = lg(l, idx[i]);
		if (i > 0 && !(x >= thr))
			return i;
		cum += expf(x - max);
		if (top_p < 1.0f && cum >= target)
			return i + 1;
	}
	return n;
}

/*
 * Top-p without top-k, in three steps, each exact:
 *   1. one pass sums the weights exp(l - max), also per bucket of logit
 *      (NUCLEUS_BUCKETS buckets of NUCLEUS_RANGE / (NUCLEUS_BUCKETS - 1)
 *      nats below the max, the last one holding the whole tail);
 *   2. walking the buckets from the top finds the one where the running
 *      sum reaches top_p: the nucleus lies within the buckets down to it
 *      (one more is taken, so that rounding differences between the two
 *      summation orders cannot cut it short);
 *   3. those candidates (less what min-p drops) are heapified and the
 *      best popped until the nucleus is complete.
 * The work beyond two passes over the logits is proportional to the
 * nucleus and its neighbourhood, not to the vocabulary. The kept ids end
 * in idx[*lo .. *lo + return).
 */
#define NUCLEUS_BUCKETS 64
#define NUCLEUS_RANGE 32.0f

/* Non-decreasing as x falls, so "bucket <= b" is a threshold on x. */
static inline int bucket_of(float x, float max)
{
	float d = (max - x) * ((float)(NUCLEUS_BUCKETS - 1) / NUCLEUS_RANGE);
	return d < (float)(NUCLEUS_BUCKETS - 1) ? (int)d : NUCLEUS_BUCKETS - 1;
}

static int select_nucleus(struct nrv_sampler *s, const float *l, float max, int *lo)
{
	double bsum[NUCLEUS_BUCKETS] = { 0 };
	for (int32_t i = 0; i < s->n_vocab; i++) {
		float x = l[i];
		if (x > -INFINITY) /* false for NaN too */
			bsum[bucket_of(x, max)] += expf(x - max);
	}
	double sum = 0.0;
	for (int b = 0; b < NUCLEUS_BUCKETS; b++)
		sum += bsum[b];
	double target = (double)s->p.top_p * sum;
	double cum = 0.0;
	int last = NUCLEUS_BUCKETS - 1;
	for (int b = 0; b < NUCLEUS_BUCKETS; b++) {
		cum += bsum[b];
		if (cum >= target) {
			last = b + 1 < NUCLEUS_BUCKETS ? b + 1 : b;
			break;
		}
	}

	int32_t *h = s->idx;
	float thr = min_p_threshold(s, max);
	int n = 0;
	for (int32_t i = 0; i < s->n_vocab; i++) {
		float x = l[i];
		if (x >= thr && bucket_of(x, max) <= last)
			h[n++] = i;
	}
	for (int i = n / 2 - 1; i >= 0; i--)
		sift_best(l, h, n, i);
	int end = n;
	cum = 0.0;
	while (n > 0) {
		int32_t t = h[0];
		h[0] = h[n - 1];
		h[n - 1] = t;
		n--;
		sift_best(l, h, n, 0);
		cum += expf(l[t] - max);
		if (cum >= target)
			break;
	}
	*lo = n;
	return end - n;
}

/* min-p alone: every candidate at or above the threshold, in id order. */
static int select_threshold(struct nrv_sampler *s, const float *l, float max)
{
	float thr = min_p_threshold(s, max);
	int n = 0;
	for (int32_t i = 0; i < s->n_vocab; i++)
		if (l[i] >= thr)
			s->idx[n++] = i;
	return n;
}

/*
 * Temperature and the draw over the kept ids cand[0..n), or over every id
 * when cand is NULL. `max` is the top logit among them.
 */
static int32_t draw(struct nrv_sampler *s, const float *l, const int32_t *cand, int n, float max)
{
	float inv_t = 1.0f / s->p.temperature;
	double sum = 0.0;
	for (int i = 0; i < n; i++) {
		float x = l[cand ? cand[i] : i];
		float w;
		if (x == max) /* weight 1 even when inv_t is inf */
			w = 1.0f;
		else if (x > -INFINITY) /* false for NaN */
			w = expf((x - max) * inv_t);
		else
			w = 0.0f;
		s->probs[i] = w;
		sum += w;
	}
	double u = rng_uniform(s->rng) * sum;
	double cum = 0.0;
	int last = -1;
	for (int i = 0; i < n; i++) {
		if (s->probs[i] <= 0.0f)
			continue;
		cum += s->probs[i];
		last = i;
		if (u < cum)
			break;
	}
	/* last >= 0: the top token has weight 1. Falling off the end (u at
	 * the total after rounding) leaves the last token with weight. */
	return cand ? cand[last] : last;
}

int32_t nrv_sampler_sample(struct nrv_sampler *s, const float *logits)
{
	const float *l = logits;
	if (penalties_on(s)) {
		memcpy(s->logits, logits, (size_t)s->n_vocab * sizeof(*logits));
		nrv_sampler_penalize(s, s->logits);
		l = s->logits;
	}
	int k = s->p.top_k;
	/* top-k 1 is greedy: the same token, without touching the RNG. */
	bool greedy = s->p.temperature <= 0.0f || k == 1;

	if (!greedy && k > 1 && k < s->n_vocab) {
		int n = select_top_k(s, l, k);
		float max = lg(l, s->idx[0]);
		if (max == -INFINITY)
			return -EINVAL;
		if (max == INFINITY)
			return s->idx[0];
		if (s->p.top_p < 1.0f || s->p.min_p > 0.0f)
			n = cut_sorted(s, l, s->idx, n, max);
		return draw(s, l, s->idx, n, max);
	}

	int32_t best = -1;
	float max = -INFINITY;
	for (int32_t i = 0; i < s->n_vocab; i++) {
		if (l[i] > max) { /* false for NaN, and for -inf against -inf */
			max = l[i];
			best = i;
		}
	}
	if (best < 0)
		return -EINVAL;
	if (greedy || max == INFINITY)
		return best;
	if (s->p.top_p < 1.0f) {
		int lo;
		int n = select_nucleus(s, l, max, &lo);
		return draw(s, l, s->idx + lo, n, max);
	}
	if (s->p.min_p > 0.0f)
		return draw(s, l, s->idx, select_threshold(s, l, max), max);
	return draw(s, l, NULL, s->n_vocab, max);
}
