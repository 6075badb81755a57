/*
 * tests/model/test_model_config.c - nrv_model_config_read on a valid tiny
 * llama, on that model with one thing wrong at a time, and on the real
 * default model when it is present.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ggufb.h"
#include "gguf.h"
#include "kernels/quant.h"
#include "mem/weights.h"
#include "model.h"

static struct gmodel *tiny(void)
{
	struct gmodel *m = calloc(1, sizeof(*m));
	cr_assert_not_null(m);
	gm_tiny_llama(m);
	return m;
}

static void tiny_free(struct gmodel *m)
{
	gm_free(m);
	free(m);
}

/* Builds and parses m (the GGUF itself must be valid), then reads the config. */
static int read_cfg(struct gmodel *m, struct nrv_model_config *cfg, char *err, size_t errlen)
{
	struct ggufb b;
	gm_build(m, &b);
	struct nrv_gguf *g;
	char perr[256];
	int rc = nrv_gguf_parse(b.p, b.len, b.len, &g, perr, sizeof(perr));
	cr_assert_eq(rc, 0, "the test file itself does not parse: %s", perr);
	rc = nrv_model_config_read(g, cfg, err, errlen);
	nrv_gguf_free(g);
	gb_free(&b);
	return rc;
}

/* m must be rejected with -EINVAL and an error containing `words`; frees m. */
static void expect_bad(struct gmodel *m, const char *words)
{
	struct nrv_model_config cfg;
	memset(&cfg, 0x5a, sizeof(cfg));
	char err[512] = "(not set)";
	int rc = read_cfg(m, &cfg, err, sizeof(err));
	cr_expect_eq(rc, -EINVAL, "rc %d, err '%s' (want '%s')", rc, err, words);
	cr_expect(strstr(err, words) != NULL, "error '%s' does not contain '%s'", err, words);
	cr_expect_eq(cfg.n_layer, 0x5a5a5a5a, "config written on failure");
	tiny_free(m);
}

Test(model_config, tiny_llama_is_valid)
{
	struct gmodel *m = tiny();
	struct nrv_model_config c;
	char err[512];
	int rc = read_cfg(m, &c, err, sizeof(err));
	cr_assert_eq(rc, 0, "%s", err);
	cr_expect_str_eq(c.arch, "llama");
	cr_expect_str_eq(c.name, "tiny test llama");
	cr_expect_eq(c.n_vocab, 40);
	cr_expect_eq(c.n_ctx_train, 128);
	cr_expect_eq(c.n_embd, 64);
	cr_expect_eq(c.n_layer, 2);
	cr_expect_eq(c.n_head, 4);
	cr_expect_eq(c.n_head_kv, 2);
	cr_expect_eq(c.head_dim, 16);
	cr_expect_eq(c.n_ff, 96);
	cr_expect_eq(c.n_rot, 16);
	cr_expect_eq(c.rope_mode, 0);
	cr_expect_eq(c.rope_freq_base, 10000.0f, "default rope base");
	cr_expect_eq(c.norm_eps, 1e-5f);
	cr_expect(c.tied_output);
	cr_expect_eq(c.file_type, 7);
	tiny_free(m);
}

Test(model_config, defaults_and_untied_output)
{
	struct gmodel *m = tiny();
	/* Without head_count_kv every head has its own K and V. */
	gm_del(m, "llama.attention.head_count_kv");
	gm_del(m, "llama.rope.dimension_count");
	gm_del(m, "general.file_type");
	gm_del(m, "general.name");
	gm_del(m, "tokenizer.ggml.tokens");
	gm_f32(m, "llama.rope.freq_base", 100000.0f);
	/* 256 wide so a Q6_K output (256-element blocks) fits; 4 KV heads of 64. */
	gm_u32(m, "llama.embedding_length", 256);
	for (int i = 0; i < m->n_tensors; i++) {
		struct gm_tensor *t = &m->t[i];
		for (int d = 0; d < 2; d++)
			if (t->ne[d] == 64 || t->ne[d] == 32)
				t->ne[d] = 256;
	}
	gm_tensor(m, "blk.1.attn_v.weight", NRV_TYPE_BF16, 256, 256);
	gm_tensor(m, "output.weight", NRV_TYPE_Q6_K, 256, 40);
	struct nrv_model_config c;
	char err[512];
	int rc = read_cfg(m, &c, err, sizeof(err));
	cr_assert_eq(rc, 0, "%s", err);
	cr_expect_eq(c.n_embd, 256);
	cr_expect_eq(c.n_head_kv, 4);
	cr_expect_eq(c.head_dim, 64);
	cr_expect_eq(c.n_rot, 64, "n_rot defaults to head_dim");
	cr_expect_eq(c.rope_freq_base, 100000.0f);
	cr_expect_eq(c.file_type, -1);
	cr_expect_str_eq(c.name, "");
	cr_expect_not(c.tied_output);
	tiny_free(m);
}

/* ---- hyperparameters ---- */

Test(model_config, zero_embedding_length)
{
	struct gmodel *m = tiny();
	gm_u32(m, "llama.embedding_length", 0);
	expect_bad(m, "llama.embedding_length = 0 is out of range");
}

Test(model_config, zero_feed_forward_length)
{
	struct gmodel *m = tiny();
	gm_u32(m, "llama.feed_forward_length", 0);
	expect_bad(m, "llama.feed_forward_length = 0");
}

Test(model_config, zero_context_length)
{
	struct gmodel *m = tiny();
	gm_u32(m, "llama.context_length", 0);
	expect_bad(m, "llama.context_length = 0");
}

Test(model_config, zero_head_count)
{
	struct gmodel *m = tiny();
	gm_u32(m, "llama.attention.head_count", 0);
	expect_bad(m, "llama.attention.head_count = 0 is out of range");
}

Test(model_config, negative_head_count)
{
	struct gmodel *m = tiny();
	gm_i32(m, "llama.attention.head_count", -1);
	expect_bad(m, "llama.attention.head_count = -1 is out of range");
}

Test(model_config, head_count_as_string)
{
	struct gmodel *m = tiny();
	gm_str(m, "llama.attention.head_count", "4");
	expect_bad(m, "head_count has type string, expected an integer");
}

Test(model_config, head_count_kv_zero)
{
	struct gmodel *m = tiny();
	gm_u32(m, "llama.attention.head_count_kv", 0);
	expect_bad(m, "llama.attention.head_count_kv = 0 is out of range");
}

Test(model_config, head_count_kv_not_dividing)
{
	struct gmodel *m = tiny();
	gm_u32(m, "llama.attention.head_count_kv", 3);
	expect_bad(m, "head_count 4 is not a multiple of llama.attention.head_count_kv 3");
}

Test(model_config, head_count_kv_above_head_count)
{
	struct gmodel *m = tiny();
	gm_u32(m, "llama.attention.head_count_kv", 8);
	expect_bad(m, "not a multiple");
}

Test(model_config, embd_not_divisible_by_heads)
{
	struct gmodel *m = tiny();
	gm_u32(m, "llama.attention.head_count", 5);
	gm_u32(m, "llama.attention.head_count_kv", 5);
	expect_bad(m, "llama.embedding_length 64 is not divisible by llama.attention.head_count 5");
}

Test(model_config, absurd_layer_count)
{
	struct gmodel *m = tiny();
	gm_u32(m, "llama.block_count", 1000000);
	expect_bad(m, "llama.block_count = 1000000 is out of range (1..512)");
}

Test(model_config, layer_count_beyond_int64)
{
	struct gmodel *m = tiny();
	gm_u64(m, "llama.block_count", UINT64_MAX);
	expect_bad(m, "llama.block_count = 18446744073709551615 is out of range");
}

Test(model_config, huge_embedding_length)
{
	struct gmodel *m = tiny();
	gm_u64(m, "llama.embedding_length", 1ull << 40);
	expect_bad(m, "llama.embedding_length = 1099511627776 is out of range");
}

Test(model_config, rope_dimension_odd)
{
	struct gmodel *m = tiny();
	gm_u32(m, "llama.rope.dimension_count", 15);
	expect_bad(m, "rope.dimension_count 15 is odd");
}

Test(model_config, rope_dimension_above_head_dim)
{
	struct gmodel *m = tiny();
	gm_u32(m, "llama.rope.dimension_count", 32);
	expect_bad(m, "llama.rope.dimension_count = 32 is out of range (1..16)");
}

Test(model_config, eps_zero)
{
	struct gmodel *m = tiny();
	gm_f32(m, "llama.attention.layer_norm_rms_epsilon", 0.0f);
	expect_bad(m, "layer_norm_rms_epsilon = 0 is not a finite number");
}

Test(model_config, eps_nan)
{
	struct gmodel *m = tiny();
	gm_f32(m, "llama.attention.layer_norm_rms_epsilon", NAN);
	expect_bad(m, "is not a finite number");
}

Test(model_config, eps_negative)
{
	struct gmodel *m = tiny();
	gm_f32(m, "llama.attention.layer_norm_rms_epsilon", -1e-5f);
	expect_bad(m, "is not a finite number");
}

Test(model_config, rope_base_infinite)
{
	struct gmodel *m = tiny();
	gm_f32(m, "llama.rope.freq_base", INFINITY);
	expect_bad(m, "llama.rope.freq_base = inf");
}

Test(model_config, missing_block_count)
{
	struct gmodel *m = tiny();
	gm_del(m, "llama.block_count");
	expect_bad(m, "missing required key 'llama.block_count'");
}

Test(model_config, missing_eps)
{
	struct gmodel *m = tiny();
	gm_del(m, "llama.attention.layer_norm_rms_epsilon");
	expect_bad(m, "missing required key 'llama.attention.layer_norm_rms_epsilon'");
}

/* ---- architecture ---- */

Test(model_config, wrong_architecture)
{
	struct gmodel *m = tiny();
	gm_str(m, "general.architecture", "gemma3");
	expect_bad(m, "unsupported architecture 'gemma3' (supported: llama)");
}

Test(model_config, missing_architecture)
{
	struct gmodel *m = tiny();
	gm_del(m, "general.architecture");
	expect_bad(m, "missing required key 'general.architecture'");
}

Test(model_config, architecture_not_a_string)
{
	struct gmodel *m = tiny();
	gm_u32(m, "general.architecture", 1);
	expect_bad(m, "general.architecture is not a string");
}

/* ---- tensors ---- */

Test(model_config, missing_layer_tensor)
{
	struct gmodel *m = tiny();
	gm_tensor_del(m, "blk.1.ffn_down.weight");
	expect_bad(m, "missing tensor 'blk.1.ffn_down.weight'");
}

Test(model_config, missing_token_embd)
{
	struct gmodel *m = tiny();
	gm_tensor_del(m, "token_embd.weight");
	expect_bad(m, "missing tensor 'token_embd.weight'");
}

Test(model_config, missing_output_norm)
{
	struct gmodel *m = tiny();
	gm_tensor_del(m, "output_norm.weight");
	expect_bad(m, "missing tensor 'output_norm.weight'");
}

Test(model_config, attn_q_wrong_shape)
{
	struct gmodel *m = tiny();
	gm_tensor(m, "blk.1.attn_q.weight", NRV_TYPE_Q8_0, 64, 60);
	expect_bad(m, "tensor 'blk.1.attn_q.weight' has shape [64, 60], expected [64, 64]");
}

Test(model_config, attn_k_disagrees_with_head_count_kv)
{
	struct gmodel *m = tiny();
	/* Valid numbers, but the K and V tensors were made for 2 KV heads. */
	gm_u32(m, "llama.attention.head_count_kv", 4);
	expect_bad(m, "tensor 'blk.0.attn_k.weight' has shape [64, 32], expected [64, 64]");
}

Test(model_config, ffn_disagrees_with_feed_forward_length)
{
	struct gmodel *m = tiny();
	gm_u32(m, "llama.feed_forward_length", 128);
	expect_bad(m, "tensor 'blk.0.ffn_gate.weight' has shape [64, 96], expected [64, 128]");
}

Test(model_config, ffn_down_transposed)
{
	struct gmodel *m = tiny();
	gm_tensor(m, "blk.0.ffn_down.weight", NRV_TYPE_Q8_0, 64, 96);
	expect_bad(m, "tensor 'blk.0.ffn_down.weight' has shape [64, 96], expected [96, 64]");
}

Test(model_config, norm_with_extra_dimension)
{
	struct gmodel *m = tiny();
	gm_tensor(m, "output_norm.weight", NRV_TYPE_F32, 64, 2);
	expect_bad(m, "tensor 'output_norm.weight' has shape [64, 2], expected [64]");
}

Test(model_config, norm_not_f32)
{
	struct gmodel *m = tiny();
	gm_tensor(m, "blk.0.ffn_norm.weight", NRV_TYPE_F16, 64, 0);
	expect_bad(m, "tensor 'blk.0.ffn_norm.weight' has type F16, but norm weights must be F32");
}

Test(model_config, output_wrong_shape)
{
	struct gmodel *m = tiny();
	gm_tensor(m, "output.weight", NRV_TYPE_F16, 64, 41);
	expect_bad(m, "tensor 'output.weight' has shape [64, 41], expected [64, 40]");
}

Test(model_config, token_embd_wrong_width)
{
	struct gmodel *m = tiny();
	gm_tensor(m, "token_embd.weight", NRV_TYPE_F16, 32, 40);
	expect_bad(m, "tensor 'token_embd.weight' has shape [32, 40], expected [64, 40]");
}

Test(model_config, vocab_mismatch_tokens)
{
	struct gmodel *m = tiny();
	gm_str_array(m, "tokenizer.ggml.tokens", 41);
	expect_bad(m, "tokenizer.ggml.tokens has 41 entries but token_embd.weight has 40 rows");
}

Test(model_config, tokens_not_strings)
{
	struct gmodel *m = tiny();
	gm_u32(m, "tokenizer.ggml.tokens", 40);
	expect_bad(m, "tokenizer.ggml.tokens is not an array of strings");
}

Test(model_config, vocab_size_key_mismatch)
{
	struct gmodel *m = tiny();
	gm_u32(m, "llama.vocab_size", 50);
	expect_bad(m, "llama.vocab_size 50 disagrees");
}

/* ---- the real default model ---- */

Test(model_config, default_model)
{
	const char *path = getenv("NRV_MODEL");
	if (!path || !*path)
		path = "/root/.cache/nirvana/models/SmolLM2-135M-Instruct.Q4_1.gguf";
	if (access(path, R_OK) != 0) {
		cr_skip_test("default model not found at %s (run tools/fetch-model.sh or set NRV_MODEL)",
			     path);
	}
	struct nrv_weights *w;
	char err[512];
	int rc = nrv_weights_open(path, NULL, &w, err, sizeof(err));
	cr_assert_eq(rc, 0, "%s", err);
	size_t len;
	const void *hdr = nrv_weights_header(w, &len);
	struct nrv_gguf *g;
	rc = nrv_gguf_parse(hdr, len, nrv_weights_file_size(w), &g, err, sizeof(err));
	cr_assert_eq(rc, 0, "%s", err);
	cr_expect_eq(g->version, 3);
	cr_expect_eq(g->n_tensors, 272);
	struct nrv_model_config c;
	rc = nrv_model_config_read(g, &c, err, sizeof(err));
	cr_assert_eq(rc, 0, "%s", err);
	cr_expect_str_eq(c.arch, "llama");
	cr_expect_eq(c.n_layer, 30);
	cr_expect_eq(c.n_embd, 576);
	cr_expect_eq(c.n_head, 9);
	cr_expect_eq(c.n_head_kv, 3);
	cr_expect_eq(c.head_dim, 64);
	cr_expect_eq(c.n_ff, 1536);
	cr_expect_eq(c.n_vocab, 49152);
	cr_expect_eq(c.n_rot, 64);
	cr_expect_eq(c.n_ctx_train, 8192);
	cr_expect_eq(c.rope_freq_base, 100000.0f);
	cr_expect_eq(c.norm_eps, 1e-5f);
	cr_expect(c.tied_output);
	const struct nrv_gguf_kv *kv;
	cr_assert_eq(nrv_gguf_get_arr(g, "tokenizer.ggml.merges", NRV_GGUF_STRING, &kv), 0);
	cr_expect_eq(kv->arr_n, 48900);
	nrv_gguf_free(g);
	nrv_weights_close(w);
}
