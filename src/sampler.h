/*
 * src/sampler.h - turning logits into the next token.
 *
 * Per-sequence state (RNG, recent tokens for penalties) lives in a struct
 * the caller owns; buffers are sized once at init for the vocabulary, so
 * sampling allocates nothing per token.
 *
 * Order of operations (as llama.cpp's default chain): penalties
 * (repetition, frequency, presence over the last `penalty_last_n` tokens),
 * then top-k, top-p, min-p, temperature, then a draw. temperature <= 0 is
 * greedy (argmax, ties to the lowest id).
 */
#ifndef NRV_SAMPLER_H
#define NRV_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

struct nrv_sampler_params {
	float temperature;       /* <= 0: greedy. default 0.8 */
	int top_k;               /* <= 0: off. default 40 */
	float top_p;             /* >= 1: off. default 0.95 */
	float min_p;             /* <= 0: off. default 0.05 */
	float repeat_penalty;    /* 1: off. default 1.0 */
	float frequency_penalty; /* 0: off */
	float presence_penalty;  /* 0: off */
	int penalty_last_n;      /* tokens considered by penalties. default 64 */
	uint64_t seed;
};

/* The defaults above. */
struct nrv_sampler_params nrv_sampler_defaults(void);

struct nrv_sampler {
	struct nrv_sampler_params p;
	int n_vocab;
	uint64_t rng[4];        /* xoshiro256** state */
	int32_t *recent;        /* ring of the last penalty_last_n tokens */
	int n_recent, recent_head;
	/* scratch, n_vocab entries each */
	float *logits;
	int32_t *idx;
	float *probs;
};

/* Returns 0 or -ENOMEM / -EINVAL (bad parameter). */
int nrv_sampler_init(struct nrv_sampler *s, const struct nrv_sampler_params *p, int n_vocab);
void nrv_sampler_fini(struct nrv_sampler *s);
/* Forget history and reseed. */
void nrv_sampler_reset(struct nrv_sampler *s, uint64_t seed);
/* Record a token (prompt or generated) for the penalties. */
void nrv_sampler_accept(struct nrv_sampler *s, int32_t tok);
/* Pick the next token from n_vocab logits (not modified). */
int32_t nrv_sampler_sample(struct nrv_sampler *s, const float *logits);

#endif
