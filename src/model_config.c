/*
 * src/model_config.c - the llama hyperparameters and tensor shapes of a
 * GGUF file, read and checked before anything is loaded (see model.h).
 *
 * The reader trusts the GGUF index (gguf.c checked its structure) but not
 * its meaning: every value the graph will size a buffer or a loop with is
 * bounded here, and every tensor the graph touches is looked up with the
 * shape and type the hyperparameters imply. A file that passes can be
 * loaded without further checks.
 *
 * Accepted types: norm weights must be F32 (every converter writes 1-D
 * tensors as F32, and the forward pass reads them as floats in place).
 * Matrix weights, token_embd and output included, may be F32, F16, BF16,
 * Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K or Q6_K: the types
 * the kernels have a dot product for.
 */
#include "model.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gguf.h"
#include "kernels/backend.h"
#include "kernels/quant.h"

#define MAX_CTX_TRAIN (1 << 24) /* 16M tokens: beyond any published model */

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Copies a file string into dst as printable ASCII-safe text: control
 * bytes become '?', so names are safe to print; truncates to fit. */
static void copy_str(char *dst, size_t cap, const struct nrv_gguf_str *s)
{
	size_t n = s->len < cap - 1 ? (size_t)s->len : cap - 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s->p[i];
		dst[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	dst[n] = 0;
}

/*
 * Reads an integer key into *out, checking lo <= v <= hi. When the key is
 * absent, *out = def if !required, else it is an error.
 */
static int read_int(const struct nrv_gguf *g, const char *key, bool required, int def,
		    int lo, int hi, int *out, char *err, size_t errlen)
{
	const struct nrv_gguf_kv *kv = nrv_gguf_find(g, key);
	if (!kv) {
		if (required)
			return fail(err, errlen, "missing required key '%s'", key);
		*out = def;
		return 0;
	}
	int64_t v;
	if (nrv_gguf_get_i64(g, key, &v) != 0) {
		if (kv->type == NRV_GGUF_U64)
			return fail(err, errlen, "%s = %llu is out of range (%d..%d)", key,
				    (unsigned long long)kv->v.u, lo, hi);
		if (kv->type == NRV_GGUF_ARRAY)
			return fail(err, errlen, "%s is an array: per-layer values are not supported",
				    key);
		return fail(err, errlen, "%s has type %s, expected an integer", key,
			    nrv_gguf_vtype_name(kv->type));
	}
	if (v < lo || v > hi)
		return fail(err, errlen, "%s = %lld is out of range (%d..%d)", key, (long long)v, lo,
			    hi);
	*out = (int)v;
	return 0;
}

/* Reads a float key that must be finite and in (lo, hi). */
static int read_float(const struct nrv_gguf *g, const char *key, bool required, float def,
		      double lo, double hi, float *out, char *err, size_t errlen)
{
	const struct nrv_gguf_kv *kv = nrv_gguf_find(g, key);
	if (!kv) {
		if (required)
			return fail(err, errlen, "missing required key '%s'", key);
		*out = def;
		return 0;
	}
	float v;
	if (nrv_gguf_get_f32(g, key, &v) != 0)
		return fail(err, errlen, "%s has type %s, expected a number", key,
			    nrv_gguf_vtype_name(kv->type));
	if (!isfinite(v) || v <= lo || v >= hi)
		return fail(err, errlen, "%s = %g is not a finite number in (%g, %g)", key, (double)v,
			    lo, hi);
	*out = v;
	return 0;
}

static bool matmul_type_ok(int type)
{
	switch (type) {
	case NRV_TYPE_F32: case NRV_TYPE_F16: case NRV_TYPE_BF16:
	case NRV_TYPE_Q4_0: case NRV_TYPE_Q4_1: case NRV_TYPE_Q5_0: case NRV_TYPE_Q5_1:
	case NRV_TYPE_Q8_0:
	case NRV_TYPE_Q2_K: case NRV_TYPE_Q3_K: case NRV_TYPE_Q4_K: case NRV_TYPE_Q5_K:
	case NRV_TYPE_Q6_K:
		return true;
	default:
		return false;
	}
}

#define MATMUL_TYPES "F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K"

enum role { ROLE_NORM, ROLE_MATMUL };

static void fmt_shape(char *buf, size_t cap, int n, const int64_t *ne)
{
	size_t o = 0;
	o += (size_t)snprintf(buf + o, cap - o, "[");
	for (int d = 0; d < n && o < cap; d++)
		o += (size_t)snprintf(buf + o, cap - o, "%s%lld", d ? ", " : "", (long long)ne[d]);
	if (o < cap)
		snprintf(buf + o, cap - o, "]");
}

/*
 * Checks that tensor `name` exists (unless optional; *found says whether
 * it did) with shape ne[0..n) and trailing dimensions of 1, and a type
 * fitting its role.
 */
static int check_tensor(const struct nrv_gguf *g, const char *name, enum role role, int n,
			const int64_t *ne, bool optional, bool *found, char *err, size_t errlen)
{
	const struct nrv_gguf_tensor *t = nrv_gguf_tensor(g, name);
	if (found)
		*found = t != NULL;
	if (!t) {
		if (optional)
			return 0;
		return fail(err, errlen, "missing tensor '%s' (the llama graph needs it)", name);
	}
	bool same = true;
	for (int d = 0; d < NRV_GGUF_MAX_DIMS; d++)
		if (t->ne[d] != (d < n ? ne[d] : 1))
			same = false;
	if (!same) {
		char got[128], want[128];
		fmt_shape(got, sizeof(got), (int)t->n_dims, t->ne);
		fmt_shape(want, sizeof(want), n, ne);
		return fail(err, errlen, "tensor '%s' has shape %s, expected %s", name, got, want);
	}
	const char *tn = nrv_type_name(t->type);
	if (role == ROLE_NORM && t->type != NRV_TYPE_F32)
		return fail(err, errlen, "tensor '%s' has type %s, but norm weights must be F32", name,
			    tn ? tn : "?");
	if (role == ROLE_MATMUL && !matmul_type_ok(t->type))
		return fail(err, errlen, "tensor '%s' has type %s, which has no kernel (supported: %s)",
			    name, tn ? tn : "?", MATMUL_TYPES);
	return 0;
}

static int read_hparams(const struct nrv_gguf *g, struct nrv_model_config *c, char *err,
			size_t errlen)
{
	int rc;
	if ((rc = read_int(g, "llama.context_length", true, 0, 1, MAX_CTX_TRAIN, &c->n_ctx_train,
			   err, errlen)) ||
	    (rc = read_int(g, "llama.embedding_length", true, 0, 1, NRV_MAX_EMBD, &c->n_embd, err,
			   errlen)) ||
	    (rc = read_int(g, "llama.block_count", true, 0, 1, NRV_MAX_LAYERS, &c->n_layer, err,
			   errlen)) ||
	    (rc = read_int(g, "llama.feed_forward_length", true, 0, 1, NRV_MAX_FF, &c->n_ff, err,
			   errlen)) ||
	    (rc = read_int(g, "llama.attention.head_count", true, 0, 1, NRV_MAX_HEADS, &c->n_head,
			   err, errlen)))
		return rc;
	if ((rc = read_int(g, "llama.attention.head_count_kv", false, c->n_head, 1, NRV_MAX_HEADS,
			   &c->n_head_kv, err, errlen)))
		return rc;
	if (c->n_embd % c->n_head)
		return fail(err, errlen,
			    "llama.embedding_length %d is not divisible by llama.attention.head_count %d",
			    c->n_embd, c->n_head);
	if (c->n_head % c->n_head_kv)
		return fail(err, errlen,
			    "llama.attention.head_count %d is not a multiple of llama.attention.head_count_kv %d",
			    c->n_head, c->n_head_kv);
	c->head_dim = c->n_embd / c->n_head;
	if (c->head_dim > NRV_MAX_HEAD_DIM)
		return fail(err, errlen, "head dimension %d is over the supported %d", c->head_dim,
			    NRV_MAX_HEAD_DIM);
	if ((rc = read_int(g, "llama.rope.dimension_count", false, c->head_dim, 1, c->head_dim,
			   &c->n_rot, err, errlen)))
		return rc;
	if (c->n_rot % 2)
		return fail(err, errlen, "llama.rope.dimension_count %d is odd: RoPE rotates pairs",
			    c->n_rot);
	c->rope_mode = 0; /* llama: adjacent pairs (the converter permuted Q and K) */
	if ((rc = read_float(g, "llama.attention.layer_norm_rms_epsilon", true, 0.0f, 0.0, 1.0,
			     &c->norm_eps, err, errlen)) ||
	    (rc = read_float(g, "llama.rope.freq_base", false, 10000.0f, 0.0, 1e12,
			     &c->rope_freq_base, err, errlen)))
		return rc;
	return read_int(g, "general.file_type", false, -1, 0, 1 << 16, &c->file_type, err, errlen);
}

static int check_tensors(const struct nrv_gguf *g, struct nrv_model_config *c, char *err,
			 size_t errlen)
{
	const struct nrv_gguf_tensor *emb = nrv_gguf_tensor(g, "token_embd.weight");
	if (!emb)
		return fail(err, errlen, "missing tensor 'token_embd.weight' (the llama graph needs it)");
	if (emb->ne[1] < 1 || emb->ne[1] > NRV_MAX_VOCAB)
		return fail(err, errlen, "tensor 'token_embd.weight' has %lld rows: vocabulary size must be in 1..%d",
			    (long long)emb->ne[1], NRV_MAX_VOCAB);
	c->n_vocab = (int)emb->ne[1];

	const int64_t e = c->n_embd, v = c->n_vocab, ff = c->n_ff;
	const int64_t kvd = (int64_t)c->n_head_kv * c->head_dim;
	int rc;
	bool has_out;
	if ((rc = check_tensor(g, "token_embd.weight", ROLE_MATMUL, 2, (int64_t[]){ e, v }, false,
			       NULL, err, errlen)) ||
	    (rc = check_tensor(g, "output_norm.weight", ROLE_NORM, 1, (int64_t[]){ e }, false, NULL,
			       err, errlen)) ||
	    (rc = check_tensor(g, "output.weight", ROLE_MATMUL, 2, (int64_t[]){ e, v }, true,
			       &has_out, err, errlen)))
		return rc;
	c->tied_output = !has_out;

	static const struct {
		const char *suffix; /* after "blk.N." */
		enum role role;
		int n;
		int dim[2]; /* 1 = n_embd, 2 = n_head_kv * head_dim, 3 = n_ff */
	} layer[] = {
		{ "attn_norm.weight", ROLE_NORM, 1, { 1, 0 } },
		{ "attn_q.weight", ROLE_MATMUL, 2, { 1, 1 } },
		{ "attn_k.weight", ROLE_MATMUL, 2, { 1, 2 } },
		{ "attn_v.weight", ROLE_MATMUL, 2, { 1, 2 } },
		{ "attn_output.weight", ROLE_MATMUL, 2, { 1, 1 } },
		{ "ffn_norm.weight", ROLE_NORM, 1, { 1, 0 } },
		{ "ffn_gate.weight", ROLE_MATMUL, 2, { 1, 3 } },
		{ "ffn_up.weight", ROLE_MATMUL, 2, { 1, 3 } },
		{ "ffn_down.weight", ROLE_MATMUL, 2, { 3, 1 } },
	};
	const int64_t dim[4] = { 0, e, kvd, ff };
	for (int i = 0; i < c->n_layer; i++) {
		for (size_t k = 0; k < sizeof(layer) / sizeof(layer[0]); k++) {
			char name[NRV_GGUF_MAX_NAME + 1];
			snprintf(name, sizeof(name), "blk.%d.%s", i, layer[k].suffix);
			int64_t ne[2] = { dim[layer[k].dim[0]], dim[layer[k].dim[1]] };
			if ((rc = check_tensor(g, name, layer[k].role, layer[k].n, ne, false, NULL,
					       err, errlen)))
				return rc;
		}
	}

	const struct nrv_gguf_kv *tok = nrv_gguf_find(g, "tokenizer.ggml.tokens");
	if (tok) {
		if (tok->type != NRV_GGUF_ARRAY || tok->arr_type != NRV_GGUF_STRING)
			return fail(err, errlen, "tokenizer.ggml.tokens is not an array of strings");
		if (tok->arr_n != (uint64_t)c->n_vocab)
			return fail(err, errlen,
				    "tokenizer.ggml.tokens has %llu entries but token_embd.weight has %d rows",
				    (unsigned long long)tok->arr_n, c->n_vocab);
	}
	int vs;
	if ((rc = read_int(g, "llama.vocab_size", false, c->n_vocab, 1, NRV_MAX_VOCAB, &vs, err,
			   errlen)))
		return rc;
	if (vs != c->n_vocab)
		return fail(err, errlen, "llama.vocab_size %d disagrees with token_embd.weight's %d rows",
			    vs, c->n_vocab);
	return 0;
}

int nrv_model_config_read(const struct nrv_gguf *g, struct nrv_model_config *cfg,
			  char *err, size_t errlen)
{
	struct nrv_model_config c;
	memset(&c, 0, sizeof(c));
	if (err && errlen)
		err[0] = 0;

	struct nrv_gguf_str s;
	int rc = nrv_gguf_get_str(g, "general.architecture", &s);
	if (rc == -ENOENT)
		return fail(err, errlen, "missing required key 'general.architecture'");
	if (rc)
		return fail(err, errlen, "general.architecture is not a string");
	copy_str(c.arch, sizeof(c.arch), &s);
	if (s.len != strlen("llama") || memcmp(s.p, "llama", s.len) != 0)
		return fail(err, errlen, "unsupported architecture '%s' (supported: llama)", c.arch);
	if (nrv_gguf_get_str(g, "general.name", &s) == 0)
		copy_str(c.name, sizeof(c.name), &s);

	if ((rc = read_hparams(g, &c, err, errlen)) || (rc = check_tensors(g, &c, err, errlen)))
		return rc;
	*cfg = c;
	return 0;
}
