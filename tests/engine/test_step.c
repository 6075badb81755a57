/*
 * tests/engine/test_step.c - the batched step (nrv_runner) against the
 * one-sequence context, and the batch invariance it rests on.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "kernels/backend.h"
#include "model.h"
#include "model_fixture.h"

static const char *prompts[] = {
	"The quick brown fox jumps over the lazy dog. It was a sunny day and",
	"def fibonacci(n):\n    if n < 2:\n        return n\n    return",
	"In 1492, Columbus sailed the ocean blue. The voyage took him across the Atlantic to the islands of",
};
#define N_SEQ 3

/* Logits of the three prompts, then one more token each, in one runner
 * with interleaved block tables, must equal nrv_ctx on each alone, bit for
 * bit: every kernel reduces a row the same way whatever the step holds. */
Test(step, batched_equals_context_bit_for_bit, .timeout = 300)
{
	struct nrv_model *m = load_default_model();
	int V = m->cfg.n_vocab;
	int32_t toks[N_SEQ][64];
	int n[N_SEQ];
	float *want[N_SEQ][2];
	int32_t next[N_SEQ] = { 42, 1337, 9000 };
	for (int i = 0; i < N_SEQ; i++) {
		n[i] = encode(m, prompts[i], toks[i], 64);
		struct nrv_ctx *c;
		char err[256];
		struct nrv_ctx_params cp = { .n_ctx = 128, .n_threads = 2 };
		cr_assert_eq(nrv_ctx_create(m, &cp, &c, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(nrv_ctx_eval(c, toks[i], n[i], 0), 0);
		want[i][0] = malloc((size_t)V * sizeof(float));
		memcpy(want[i][0], nrv_ctx_logits(c, -1), (size_t)V * sizeof(float));
		cr_assert_eq(nrv_ctx_eval(c, &next[i], 1, n[i]), 0);
		want[i][1] = malloc((size_t)V * sizeof(float));
		memcpy(want[i][1], nrv_ctx_logits(c, -1), (size_t)V * sizeof(float));
		nrv_ctx_destroy(c);
	}

	struct nrv_runner *r;
	char err[256];
	struct nrv_runner_params rp = {
		.n_threads = 2, .max_tokens = 256, .max_seqs = 8, .max_logits = 8, .max_ctx = 128,
		.kv_blocks = 32, .block_tokens = 16,
	};
	cr_assert_eq(nrv_runner_create(m, &rp, &r, err, sizeof(err)), 0, "%s", err);
	/* Sequence i owns blocks i, i + 3, i + 6...: interleaved in the pool. */
	int32_t blocks[N_SEQ][8];
	for (int i = 0; i < N_SEQ; i++)
		for (int b = 0; b < 8; b++)
			blocks[i][b] = (int32_t)(b * N_SEQ + i + 5);
	struct nrv_batch_seq s[N_SEQ];
	for (int i = 0; i < N_SEQ; i++)
		s[i] = (struct nrv_batch_seq){ .tokens = toks[i], .n = n[i], .pos0 = 0,
					       .blocks = blocks[i], .n_blocks = 8, .n_logits = 1 };
	cr_assert_eq(nrv_runner_step(r, s, N_SEQ), 0);
	for (int i = 0; i < N_SEQ; i++)
		cr_assert_eq(memcmp(nrv_runner_logits(r, i), want[i][0], (size_t)V * sizeof(float)), 0,
			     "prefill logits of sequence %d differ from nrv_ctx", i);
	cr_assert_null(nrv_runner_logits(r, N_SEQ));
	/* A decode step of all three, in another order. */
	struct nrv_batch_seq d[N_SEQ];
	int order[N_SEQ] = { 2, 0, 1 };
	for (int j = 0; j < N_SEQ; j++) {
		int i = order[j];
		d[j] = (struct nrv_batch_seq){ .tokens = &next[i], .n = 1, .pos0 = n[i],
					       .blocks = blocks[i], .n_blocks = 8, .n_logits = 1 };
	}
	cr_assert_eq(nrv_runner_step(r, d, N_SEQ), 0);
	for (int j = 0; j < N_SEQ; j++)
		cr_assert_eq(memcmp(nrv_runner_logits(r, j), want[order[j]][1], (size_t)V * sizeof(float)),
			     0, "decode logits of sequence %d differ from nrv_ctx", order[j]);
	for (int i = 0; i < N_SEQ; i++) {
		free(want[i][0]);
		free(want[i][1]);
	}
	nrv_runner_destroy(r);
	nrv_model_free(m);
}

Test(step, rejects_bad_steps)
{
	struct nrv_model *m = load_default_model();
	struct nrv_runner *r;
	char err[256];
	struct nrv_runner_params rp = {
		.n_threads = 1, .max_tokens = 8, .max_seqs = 2, .max_logits = 2, .max_ctx = 64,
		.kv_blocks = 4, .block_tokens = 16,
	};
	cr_assert_eq(nrv_runner_create(m, &rp, &r, err, sizeof(err)), 0, "%s", err);
	int32_t t[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, bad = m->cfg.n_vocab;
	int32_t bl[4] = { 0, 1, 2, 3 }, badbl[1] = { 4 };
	struct nrv_batch_seq s = { .tokens = t, .n = 9, .blocks = bl, .n_blocks = 4, .n_logits = 1 };
	cr_assert_eq(nrv_runner_step(r, &s, 1), -EINVAL, "over max_tokens");
	s.n = 4;
	s.n_logits = 5;
	cr_assert_eq(nrv_runner_step(r, &s, 1), -EINVAL, "n_logits > n");
	s.n_logits = 1;
	s.tokens = &bad;
	s.n = 1;
	cr_assert_eq(nrv_runner_step(r, &s, 1), -EINVAL, "token out of the vocabulary");
	s.tokens = t;
	s.pos0 = 62;
	s.n = 4;
	cr_assert_eq(nrv_runner_step(r, &s, 1), -ENOSPC, "past max_ctx");
	s.pos0 = 14;
	s.n_blocks = 1;
	cr_assert_eq(nrv_runner_step(r, &s, 1), -EINVAL, "table too short");
	s.blocks = badbl;
	s.pos0 = 0;
	cr_assert_eq(nrv_runner_step(r, &s, 1), -EINVAL, "block id outside the pool");
	s.blocks = bl;
	s.n_blocks = 4;
	struct nrv_batch_seq three[3] = { s, s, s };
	cr_assert_eq(nrv_runner_step(r, three, 3), -EINVAL, "over max_seqs");
	cr_assert_eq(nrv_runner_step(r, &s, 1), 0);
	nrv_runner_destroy(r);
	nrv_model_free(m);
}

/*
 * The batch invariance the engine's determinism rests on, through the
 * backend: row t of a matmul over n tokens equals the one-token matmul of
 * that row, bit for bit, for every n from 1 to 70 and a few larger ones
 * (gemm tiles, tails and the per-thread splits all change with n), for
 * every weight type the default model uses.
 */
Test(step, matmul_rows_do_not_depend_on_the_token_count, .timeout = 300)
{
	struct nrv_model *m = load_default_model();
	const struct nrv_layer *L = &m->layers[0];
	const struct nrv_tensor *ws[] = { &L->wq, &L->wk, &L->w_gate, &L->w_down, &m->output };
	int max_n = 200;
	struct nrv_backend *be;
	struct nrv_backend_cfg bc = { .n_threads = 2, .max_tokens = max_n, .max_row = 4096,
				      .max_ctx = 64, .max_heads = 16 };
	const struct nrv_backend_ops *o = &nrv_backend_cpu_ops;
	cr_assert_eq(o->create(&bc, &be), 0);
	for (size_t wi = 0; wi < sizeof(ws) / sizeof(ws[0]); wi++) {
		struct nrv_tensor w = *ws[wi];
		cr_assert_eq(o->upload(be, &w), 0, "%s", w.name);
		int K = (int)w.ne0, R = (int)w.ne1;
		float *x = o->alloc(be, (size_t)max_n * K * sizeof(float));
		float *y = o->alloc(be, (size_t)max_n * R * sizeof(float));
		float *one = o->alloc(be, (size_t)max_n * R * sizeof(float));
		uint32_t st = 7u + (uint32_t)wi;
		for (size_t i = 0; i < (size_t)max_n * K; i++) {
			st = st * 1664525u + 1013904223u;
			x[i] = ((float)(st >> 8) / 16777216.0f - 0.5f) * 4.0f;
		}
		for (int t = 0; t < max_n; t++)
			o->matmul(be, &w, x + (size_t)t * K, 1, one + (size_t)t * R);
		static const int extra[] = { 96, 127, 128, 129, 200 };
		for (int k = 0; k < 70 + 5; k++) {
			int n = k < 70 ? k + 1 : extra[k - 70];
			o->matmul(be, &w, x, n, y);
			o->sync(be);
			for (int t = 0; t < n; t++)
				if (memcmp(y + (size_t)t * R, one + (size_t)t * R, (size_t)R * sizeof(float)))
					cr_assert_fail("%s (%s): token %d of a %d-token matmul differs from "
						       "the one-token result",
						       w.name, nrv_type_name(w.type), t, n);
		}
		o->free(be, x);
		o->free(be, y);
		o->free(be, one);
	}
	o->destroy(be);
	nrv_model_free(m);
}
