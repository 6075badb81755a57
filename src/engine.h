/*
 * src/engine.h - one inference engine: a scheduler thread plus a team of
 * pinned workers that run batched steps over a paged KV cache
 * (continuous batching with chunked prefill).
 *
 * Threads. The engine owns one thread (the scheduler, which also drives
 * the worker team of the backend). Exactly one other thread - the network
 * front - talks to it: nrv_engine_submit, nrv_engine_cancel and
 * nrv_engine_poll are single-producer / single-consumer operations on two
 * lock-free rings and must all be called from that one thread. After
 * pushing events the engine writes 1 to the eventfd returned by
 * nrv_engine_eventfd, so the front can sleep in io_uring until there is
 * something to send. nrv_engine_stats may be called from any thread.
 *
 * Owns: the batch, the KV block pool (mem/kv.h), per-sequence state
 * (sampler, block table, position). Does not own: the model (shared,
 * read-only), text (prompts arrive as token ids; tokens leave as ids - the
 * front detokenizes and matches stop strings).
 *
 * Determinism: a sequence's tokens depend only on its own request (prompt,
 * sampler parameters, seed), never on what else is in the batch: every
 * kernel the step uses reduces a row in an order fixed by the weight shape.
 */
#ifndef NRV_ENGINE_H
#define NRV_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sampler.h"

struct nrv_model;
struct nrv_engine;

struct nrv_engine_params {
	int n_threads;        /* compute threads, the scheduler's included; 0: 1 */
	const int *cores;     /* pin them here (copied), or NULL */
	int n_cores;
	int n_ctx;            /* longest sequence, prompt + output (positions); 0: min(4096, trained) */
	int block_tokens;     /* positions per KV block; 0: 16 */
	int kv_blocks;        /* blocks in the pool; 0: enough for max_running sequences of
			       * n_ctx / 4 positions, at least one full n_ctx sequence */
	int step_tokens;      /* per-step token budget: decode tokens + prefill chunks; 0: 512 */
	int max_running;      /* sequences in the batch at once; 0: 64 */
	int max_queued;       /* requests waiting for admission; past it submit says -EAGAIN; 0: 1000 */
	int timeout_ms;       /* per-request limit from submit to last token; 0: 30000; < 0: none */
	const char *device;   /* backend: "cpu" (NULL: the same), "cuda", "cuda:N", "auto" */
};

/* Most alternatives a TOKEN event carries (OpenAI caps top_logprobs at 20). */
#define NRV_ENGINE_MAX_TOP 20

struct nrv_engine_req {
	uint64_t id;             /* the caller's, echoed in events; unique among live requests */
	const int32_t *prompt;   /* (n_prompt) token ids, copied by submit */
	int n_prompt;            /* >= 1 */
	int max_tokens;          /* >= 1; also capped by n_ctx - n_prompt */
	struct nrv_sampler_params sp;  /* validated by submit (nrv_sampler_check) */
	bool logprobs;           /* report the sampled token's log-probability */
	int top_logprobs;        /* 0..NRV_ENGINE_MAX_TOP alternatives with it */
	bool ignore_eos;         /* keep going past end-of-generation tokens */
};

enum nrv_engine_ev_kind {
	NRV_EV_TOKEN = 1,     /* one generated token */
	NRV_EV_DONE,          /* the request ended; no more events for this id */
};

enum nrv_finish {
	NRV_FINISH_STOP = 1,     /* an end-of-generation token (not reported as a TOKEN) */
	NRV_FINISH_LENGTH,       /* max_tokens or the context filled up */
	NRV_FINISH_CANCELLED,    /* nrv_engine_cancel */
	NRV_FINISH_TIMEOUT,      /* timeout_ms passed */
	NRV_FINISH_ERROR,        /* see err */
};

struct nrv_engine_event {
	uint64_t id;
	int kind;                       /* enum nrv_engine_ev_kind */
	int32_t token;                  /* TOKEN */
	float logprob;                  /* TOKEN, when requested */
	int n_top;                      /* TOKEN: alternatives filled below */
	int32_t top_token[NRV_ENGINE_MAX_TOP];
	float top_logprob[NRV_ENGINE_MAX_TOP];
	int finish;                     /* DONE: enum nrv_finish */
	int err;                        /* DONE with NRV_FINISH_ERROR: -errno */
	int n_prompt;                   /* DONE: prompt tokens */
	int n_gen;                      /* DONE: tokens generated (TOKEN events sent) */
	int64_t queue_ns;               /* DONE: submit to admission into the batch */
	int64_t t_ns;                   /* CLOCK_MONOTONIC when the event was made */
};

struct nrv_engine_stats {
	int running;               /* sequences in the batch */
	int waiting;               /* submitted, not yet admitted */
	int kv_total;              /* blocks in the pool */
	int kv_used;               /* referenced by a live sequence */
	int kv_cached;             /* kept for prefix reuse, evictable at once */
	int kv_free;
	int block_tokens;
	uint64_t prompt_tokens;    /* prefilled, all time */
	uint64_t gen_tokens;       /* generated, all time */
	uint64_t steps;            /* batched steps run */
	uint64_t preempted;        /* sequences pushed back to the queue for lack of blocks */
};

/*
 * Create an engine on a loaded model and start its thread. The model must
 * outlive the engine. Returns 0 or -errno with err naming the problem
 * (bad parameter, out of memory, backend failure).
 */
int nrv_engine_create(struct nrv_model *m, const struct nrv_engine_params *p,
		      struct nrv_engine **out, char *err, size_t errlen);
/* Stop the thread, drop every request (no events), free. Accepts NULL. */
void nrv_engine_destroy(struct nrv_engine *e);

/*
 * Queue a request. Returns 0; -EAGAIN when max_queued requests already
 * wait (answer 503 with Retry-After); -EINVAL for a bad request (empty or
 * out-of-vocabulary prompt, bad sampler parameters, max_tokens < 1);
 * -E2BIG when the prompt alone does not fit n_ctx; -ENOMEM.
 * Front thread only.
 */
int nrv_engine_submit(struct nrv_engine *e, const struct nrv_engine_req *r);
/* End a request early (client gone, stop string matched): its KV blocks
 * are free again within one step, and a DONE event with
 * NRV_FINISH_CANCELLED follows. Unknown ids are ignored. Front thread only. */
void nrv_engine_cancel(struct nrv_engine *e, uint64_t id);
/* Take up to max events; returns how many. Front thread only. */
int nrv_engine_poll(struct nrv_engine *e, struct nrv_engine_event *ev, int max);
/* The eventfd the engine signals after pushing events (read it to reset). */
int nrv_engine_eventfd(const struct nrv_engine *e);
/* A consistent-enough snapshot of the gauges and counters. Any thread. */
void nrv_engine_stats(const struct nrv_engine *e, struct nrv_engine_stats *out);
/* The engine's effective parameters (defaults filled in). */
const struct nrv_engine_params *nrv_engine_params(const struct nrv_engine *e);

#endif
