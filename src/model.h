/*
 * src/model.h - a llama-architecture model: immutable config, read-only
 * weights shared by every request, and per-sequence state (as llama2.c
 * splits them).
 *
 * Owns: the config, the weight views (pointing into mem/weights), the
 * tokenizer. Does not own: kernels (reached through kernels/backend.h).
 */
#ifndef NRV_MODEL_H
#define NRV_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/backend.h"

struct nrv_gguf;

#define NRV_MAX_LAYERS 512      /* sanity bound on block_count */
#define NRV_MAX_HEADS 1024
#define NRV_MAX_EMBD (1 << 16)
#define NRV_MAX_FF (1 << 20)
#define NRV_MAX_VOCAB (1 << 22)

/* Hyperparameters, all read from the file and validated. */
struct nrv_model_config {
	char arch[32];          /* general.architecture ("llama") */
	char name[128];         /* general.name, or the file's base name */
	int n_vocab;            /* rows of token_embd */
	int n_ctx_train;        /* <arch>.context_length */
	int n_embd;             /* <arch>.embedding_length */
	int n_layer;            /* <arch>.block_count */
	int n_head;             /* <arch>.attention.head_count */
	int n_head_kv;          /* <arch>.attention.head_count_kv (default n_head) */
	int head_dim;           /* n_embd / n_head */
	int n_ff;               /* <arch>.feed_forward_length */
	int n_rot;              /* <arch>.rope.dimension_count (default head_dim) */
	int rope_mode;          /* 0: adjacent pairs (llama NORM), 2: NEOX */
	float norm_eps;         /* <arch>.attention.layer_norm_rms_epsilon */
	float rope_freq_base;   /* <arch>.rope.freq_base (default 10000) */
	bool tied_output;       /* no output.weight: token_embd is the lm head */
	int file_type;          /* general.file_type, -1 when absent */
};

/*
 * Read and validate the hyperparameters and the tensor shapes of a llama
 * model: every required key present with a sane value (no zero or negative
 * head counts, head counts that divide, bounded layer count...), every
 * tensor the graph needs present with the shape the hyperparameters imply
 * and a supported type. Returns 0 or -EINVAL with err naming the problem.
 */
int nrv_model_config_read(const struct nrv_gguf *g, struct nrv_model_config *cfg,
			  char *err, size_t errlen);

struct nrv_weights;
struct nrv_tok;

/* One transformer block's weights. Matmul weights are (rows = outputs). */
struct nrv_layer {
	const float *attn_norm;  /* (n_embd) */
	struct nrv_tensor wq;    /* (n_embd) -> (n_head * head_dim) */
	struct nrv_tensor wk;    /* (n_embd) -> (n_head_kv * head_dim) */
	struct nrv_tensor wv;    /* (n_embd) -> (n_head_kv * head_dim) */
	struct nrv_tensor wo;    /* (n_head * head_dim) -> (n_embd) */
	const float *ffn_norm;   /* (n_embd) */
	struct nrv_tensor w_gate; /* (n_embd) -> (n_ff) */
	struct nrv_tensor w_up;   /* (n_embd) -> (n_ff) */
	struct nrv_tensor w_down; /* (n_ff) -> (n_embd) */
};

struct nrv_model {
	struct nrv_model_config cfg;
	struct nrv_weights *file;    /* the bytes */
	struct nrv_gguf *gguf;       /* the index */
	struct nrv_tok *tok;
	struct nrv_tensor tok_embd;  /* (n_vocab, n_embd) */
	const float *output_norm;    /* (n_embd) */
	struct nrv_tensor output;    /* (n_vocab, n_embd): tok_embd when tied */
	struct nrv_layer *layers;    /* (n_layer) */
	float *norms;                /* owned storage of every norm weight, as F32 */
	uint64_t n_params;
	uint64_t file_size;
	char path[4096];
};

/*
 * Load a model file: map it, parse and validate the GGUF, build the
 * tokenizer and bind the weight views. Returns 0 or -errno with err set.
 */
int nrv_model_load(const char *path, struct nrv_model **out, char *err, size_t errlen);
/* The same, choosing how the weights are held (enum nrv_load_mode of
 * mem/weights.h: read into huge-page memory, or mmap the file). */
int nrv_model_load_mode(const char *path, int load_mode, struct nrv_model **out, char *err,
			size_t errlen);
/* The same with every weights option (load mode, mlock, arena backing,
 * io_uring depth; struct nrv_weights_opts of mem/weights.h). */
struct nrv_weights_opts;
int nrv_model_load_opts(const char *path, const struct nrv_weights_opts *wo,
			struct nrv_model **out, char *err, size_t errlen);
void nrv_model_free(struct nrv_model *m);

/* ---- batched step: several sequences over one paged KV pool ----
 *
 * A runner owns a backend, the step scratch and a KV pool: per layer, K
 * and V as (kv_blocks, block_tokens, kv_dim) halves (struct nrv_kv_view).
 * Which blocks belong to which sequence is the caller's business (the
 * engine uses mem/kv.h); a step only reads the block tables it is given.
 *
 * One step runs every token of every sequence through embedding, norms,
 * matmuls, rope and swiglu together (one batch of sum(n) rows); KV store
 * and attention run per sequence on its own block table. Every kernel
 * reduces a row in an order fixed by the weight shape, so a sequence's
 * logits do not depend on what else is in the step (batch invariance).
 *
 * Token ids, positions and block tables are host arrays; logits are read
 * on the host after the step.
 */

struct nrv_batch_seq {
	const int32_t *tokens;  /* (n) token ids, host memory */
	int n;                  /* tokens of this sequence in the step, >= 1 */
	int pos0;               /* position of tokens[0]; tokens[i] is at pos0 + i */
	const int32_t *blocks;  /* host block table: position p lives in
				 * blocks[p / block_tokens], slot p % block_tokens */
	int n_blocks;           /* entries; must cover pos0 + n positions */
	int n_logits;           /* logits wanted for the last n_logits tokens (0..n);
				 * 1: the usual "next token" row */
};

struct nrv_runner_params {
	int n_threads;      /* compute threads, the caller's included; 0: 1 */
	const int *cores;   /* pin them here, or NULL */
	int n_cores;
	int max_tokens;     /* most tokens in one step, all sequences together (>= 1) */
	int max_seqs;       /* most sequences in one step (>= 1) */
	int max_logits;     /* most logit rows in one step (>= 1) */
	int max_ctx;        /* longest sequence, positions (<= the trained context) */
	int kv_blocks;      /* blocks in the KV pool (>= 1) */
	int block_tokens;   /* positions per block (>= 1) */
	const char *device; /* "cpu" (NULL, "": the same), "cuda", "cuda:N" or "auto"
			     * (kernels/backend.h nrv_backend_select) */
};

struct nrv_runner;

/* Create a runner: backend, weights checked against it, scratch and KV
 * pool sized from p. Returns 0 or -errno with err set. */
int nrv_runner_create(struct nrv_model *m, const struct nrv_runner_params *p,
		      struct nrv_runner **out, char *err, size_t errlen);
void nrv_runner_destroy(struct nrv_runner *r);

/*
 * Run one batched step over n_seqs sequences. Logit rows are written in
 * sequence order: sequence 0's n_logits rows, then sequence 1's...; read
 * them with nrv_runner_logits. Returns 0; -EINVAL for a bad token id,
 * block id, count (n < 1, n_logits outside 0..n, more than the maxima of
 * the params) or a block table too short; -ENOSPC when a sequence would
 * pass max_ctx. Nothing runs when it fails. Allocates nothing. A device
 * backend's failure returns its error (-EIO, logged); the runner is
 * unusable after it.
 */
int nrv_runner_step(struct nrv_runner *r, const struct nrv_batch_seq *seqs, int n_seqs);
/* Logit row i (n_vocab floats) of the last step, or NULL past its rows. */
const float *nrv_runner_logits(const struct nrv_runner *r, int i);
const char *nrv_runner_backend_name(const struct nrv_runner *r);
const struct nrv_runner_params *nrv_runner_params(const struct nrv_runner *r);

/* ---- inference context: the per-sequence state of one sequence ----
 *
 * The one-sequence case of the runner: a pool of one block of n_ctx
 * positions that this sequence owns. */

struct nrv_ctx_params {
	int n_ctx;        /* positions (<= the model's trained context); 0: min(4096, train) */
	int n_batch;      /* most tokens per step; 0: 512 */
	int n_threads;    /* 0: 1 */
	const int *cores; /* pin workers here, or NULL */
	int n_cores;
	bool all_logits;  /* keep logits for every token of a step (perplexity, tests) */
	const char *device; /* "cpu" (NULL, "": the same), "cuda", "cuda:N" or "auto"
			     * (kernels/backend.h nrv_backend_select) */
};

struct nrv_ctx;

/* Create a context (backend, KV cache, scratch). Returns 0 or -errno. */
int nrv_ctx_create(struct nrv_model *m, const struct nrv_ctx_params *p, struct nrv_ctx **out,
		   char *err, size_t errlen);
void nrv_ctx_destroy(struct nrv_ctx *c);

/*
 * Run tokens[0..n) at positions pos0.. through the model, appending to the
 * KV cache; n may exceed n_batch (it is split). Returns 0, -EINVAL for a
 * bad token id, -ENOSPC when pos0 + n exceeds n_ctx, or the backend's
 * error (-EIO: a device failure, logged; the context is unusable after it).
 * Logits: those of the last token (or of every token with all_logits) are
 * available from nrv_ctx_logits afterwards.
 */
int nrv_ctx_eval(struct nrv_ctx *c, const int32_t *tokens, int n, int pos0);
/* Logits of token i of the last eval (i counts from the start of that
 * eval with all_logits; otherwise only the last token, i = -1). */
const float *nrv_ctx_logits(const struct nrv_ctx *c, int i);
int nrv_ctx_n_ctx(const struct nrv_ctx *c);
const char *nrv_ctx_backend_name(const struct nrv_ctx *c);

#endif
