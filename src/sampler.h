/*
 * src/sampler.h - turning logits into the next token.
 *
 * Per-sequence state (RNG, recent tokens for penalties) lives in a struct
 * the caller owns; buffers are sized once at init for the vocabulary, so
 * sampling allocates nothing per token.
 *
 * Order of operations (as llama.cpp's default chain):
 *   1. penalties over the last `penalty_last_n` accepted tokens:
 *      repetition (llama.cpp: a positive logit is divided by the penalty,
 *      a negative or zero one multiplied), then frequency and presence
 *      (OpenAI: logit -= count * frequency + (count > 0) * presence);
 *   2. top-k, then top-p (the smallest set of most likely tokens whose
 *      probability sums to at least top_p, computed over what top-k kept),
 *      then min-p (drop tokens whose probability is below min_p times the
 *      most likely token's); every filter keeps at least one token;
 *   3. temperature, applied to the survivors (the filters see untempered
 *      probabilities, as in llama.cpp);
 *   4. one draw from the xoshiro256** generator.
 * temperature <= 0 is greedy: argmax after penalties, ties to the lowest id;
 * the filters are skipped and the RNG is not advanced.
 *
 * Owns: the sampler's buffers and history. Does not own: the logits.
 * Not thread-safe: one sampler per sequence.
 */
#ifndef NRV_SAMPLER_H
#define NRV_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

struct nrv_sampler_params {
	float temperature;       /* <= 0: greedy; must not be NaN or inf. default 0.8 */
	int top_k;               /* <= 0 or >= n_vocab: off. default 40 */
	float top_p;             /* >= 1: off; 0 keeps only the top token; < 0 or NaN: -EINVAL. default 0.95 */
	float min_p;             /* 0: off; in [0, 1], else -EINVAL. default 0.05 */
	float repeat_penalty;    /* 1: off; must be finite and > 0. default 1.0 */
	float frequency_penalty; /* 0: off; finite (OpenAI allows -2..2) */
	float presence_penalty;  /* 0: off; finite */
	int penalty_last_n;      /* tokens considered by penalties; 0: none; < 0: -EINVAL. default 64 */
	uint64_t seed;
};

/* The defaults above (seed 0). */
struct nrv_sampler_params nrv_sampler_defaults(void);

/* Checks the parameters alone: 0 or -EINVAL. */
int nrv_sampler_check(const struct nrv_sampler_params *p);

struct nrv_sampler {
	struct nrv_sampler_params p;
	int n_vocab;
	uint64_t rng[4];        /* xoshiro256** state */
	int32_t *recent;        /* (penalty_last_n) ring of the last accepted tokens */
	int n_recent;           /* entries in use, <= penalty_last_n */
	int recent_head;        /* next slot to write */
	int32_t *counts;        /* (n_vocab) occurrences of each token in the ring */
	/* scratch, n_vocab entries each */
	float *logits;          /* penalized copy of the caller's logits */
	int32_t *idx;           /* candidate token ids (heap, then kept set) */
	float *probs;           /* weights of the kept candidates */
};

/*
 * Validate `p`, allocate the buffers for an `n_vocab`-token vocabulary and
 * seed the RNG with p->seed. Returns 0, -EINVAL (bad parameter or n_vocab
 * <= 0; *s untouched) or -ENOMEM. Pair with nrv_sampler_fini.
 */
int nrv_sampler_init(struct nrv_sampler *s, const struct nrv_sampler_params *p, int n_vocab);
/* Free the buffers. Accepts a zeroed or already finished sampler. */
void nrv_sampler_fini(struct nrv_sampler *s);
/* Forget history and reseed, for reuse by a new sequence. */
void nrv_sampler_reset(struct nrv_sampler *s, uint64_t seed);
/* Record a token (prompt or generated) for the penalties. Out-of-range
 * ids are ignored. */
void nrv_sampler_accept(struct nrv_sampler *s, int32_t tok);

/*
 * Apply the penalties to `logits` (n_vocab entries) in place, as step 1
 * above does to its private copy. Exposed for tests and log-probability
 * reporting. Leaves the sampler's state as it found it (it borrows the
 * counts as scratch, hence the non-const pointer).
 */
void nrv_sampler_penalize(struct nrv_sampler *s, float *logits);

/*
 * Pick the next token from n_vocab logits (not modified). Does not record
 * it: call nrv_sampler_accept with the token that is actually used.
 * NaN logits are treated as -inf; a +inf logit wins outright (the lowest
 * such id). Returns a token id in [0, n_vocab), or -EINVAL when no logit is
 * above -inf (nothing can be sampled). Allocates nothing.
 */
int32_t nrv_sampler_sample(struct nrv_sampler *s, const float *logits);

#endif
