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

#endif
