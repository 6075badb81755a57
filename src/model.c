/*
 * src/model.c - loading a llama model and running its forward pass.
 *
 * The graph is written once here, in terms of the backend's ops; the
 * backend decides how each op runs. Nothing in nrv_ctx_eval allocates:
 * every buffer is sized at nrv_ctx_create from the context parameters.
 */
#include "model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "kernels/cpu/kernels.h"
#include "mem/weights.h"
#include "tokenizer.h"

static int bind(struct nrv_model *m, const void *data, const char *name, struct nrv_tensor *t,
		char *err, size_t errlen)
{
	const struct nrv_gguf_tensor *gt = nrv_gguf_tensor(m->gguf, name);
	if (!gt) {
		snprintf(err, errlen, "tensor '%s' is missing", name);
		return -EINVAL;
	}
	int blck, size;
	nrv_type_geom(gt->type, &blck, &size);
	t->type = gt->type;
	t->ne0 = gt->ne[0];
	t->ne1 = gt->ne[1] * gt->ne[2] * gt->ne[3];
	t->row_bytes = (size_t)(gt->ne[0] / blck) * (size_t)size;
	t->data = (const uint8_t *)data + gt->offset;
	t->dev = NULL;
	t->name = gt->name;
	return 0;
}

/* Copy a norm weight out as F32 into dst (n floats). */
static int bind_norm(struct nrv_model *m, const void *data, const char *name, float *dst, int n,
		     char *err, size_t errlen)
{
	struct nrv_tensor t;
	int rc = bind(m, data, name, &t, err, errlen);
	if (rc)
		return rc;
	if (t.ne0 * t.ne1 != n) {
		snprintf(err, errlen, "tensor '%s' has %lld elements, expected %d", name,
			 (long long)(t.ne0 * t.ne1), n);
		return -EINVAL;
	}
	if (t.type != NRV_TYPE_F32 && t.type != NRV_TYPE_F16 && t.type != NRV_TYPE_BF16) {
		snprintf(err, errlen, "tensor '%s' has type %s; norm weights must be F32, F16 or BF16",
			 name, nrv_type_name(t.type));
		return -EINVAL;
	}
	nrv_dequant_row_ref(t.type, t.data, dst, n);
	for (int i = 0; i < n; i++) {
		if (!isfinite(dst[i])) {
			snprintf(err, errlen, "tensor '%s' holds a non-finite value at %d", name, i);
			return -EINVAL;
		}
	}
	return 0;
}

void nrv_model_free(struct nrv_model *m)
{
	if (!m)
		return;
	nrv_tok_destroy(m->tok);
	nrv_gguf_free(m->gguf);
	nrv_weights_close(m->file);
	free(m->layers);
	free(m->norms);
	free(m);
}

int nrv_model_load(const char *path, struct nrv_model **out, char *err, size_t errlen)
{
	return nrv_model_load_mode(path, NRV_LOAD_READ, out, err, errlen);
}

int nrv_model_load_mode(const char *path, int load_mode, struct nrv_model **out, char *err,
			size_t errlen)
{
	*out = NULL;
	struct nrv_model *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	snprintf(m->path, sizeof(m->path), "%s", path);
	struct nrv_weights_opts wo = { .mode = load_mode };
	int rc = nrv_weights_open(path, &wo, &m->file, err, errlen);
	if (rc)
		goto fail;
	size_t hlen;
	const void *hdr = nrv_weights_header(m->file, &hlen);
	m->file_size = nrv_weights_file_size(m->file);
	char why[512];
	rc = nrv_gguf_parse(hdr, hlen, m->file_size, &m->gguf, why, sizeof(why));
	if (rc) {
		snprintf(err, errlen, "%s: %s", path, rc == -ENOMEM ? "out of memory" : why);
		goto fail;
	}
	rc = nrv_model_config_read(m->gguf, &m->cfg, why, sizeof(why));
	if (rc) {
		snprintf(err, errlen, "%s: %s", path, why);
		goto fail;
	}
	rc = nrv_tok_create(m->gguf, &m->tok, why, sizeof(why));
	if (rc) {
		snprintf(err, errlen, "%s: tokenizer: %s", path, why);
		goto fail;
	}
	const void *data = nrv_weights_data(m->file, m->gguf->data_offset, m->gguf->data_size,
					    why, sizeof(why));
	if (!data) {
		snprintf(err, errlen, "%s: %s", path, why);
		rc = -EINVAL;
		goto fail;
	}

	const struct nrv_model_config *c = &m->cfg;
	int E = c->n_embd;
	m->layers = calloc((size_t)c->n_layer, sizeof(*m->layers));
	m->norms = malloc(((size_t)2 * c->n_layer + 1) * (size_t)E * sizeof(float));
	if (!m->layers || !m->norms) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = bind(m, data, "token_embd.weight", &m->tok_embd, err, errlen);
	if (!rc)
		rc = bind(m, data, c->tied_output ? "token_embd.weight" : "output.weight", &m->output,
			  err, errlen);
	float *nw = m->norms;
	if (!rc)
		rc = bind_norm(m, data, "output_norm.weight", nw, E, err, errlen);
	m->output_norm = nw;
	nw += E;
	for (int l = 0; l < c->n_layer && !rc; l++) {
		struct nrv_layer *L = &m->layers[l];
		char name[64];
#define B(field, suffix) \
	do { \
		snprintf(name, sizeof(name), "blk.%d." suffix ".weight", l); \
		if (!rc) \
			rc = bind(m, data, name, &L->field, err, errlen); \
	} while (0)
		B(wq, "attn_q");
		B(wk, "attn_k");
		B(wv, "attn_v");
		B(wo, "attn_output");
		B(w_gate, "ffn_gate");
		B(w_up, "ffn_up");
		B(w_down, "ffn_down");
#undef B
		snprintf(name, sizeof(name), "blk.%d.attn_norm.weight", l);
		if (!rc)
			rc = bind_norm(m, data, name, nw, E, err, errlen);
		L->attn_norm = nw;
		nw += E;
		snprintf(name, sizeof(name), "blk.%d.ffn_norm.weight", l);
		if (!rc)
			rc = bind_norm(m, data, name, nw, E, err, errlen);
		L->ffn_norm = nw;
		nw += E;
	}
	if (rc)
		goto fail;
	for (uint64_t i = 0; i < m->gguf->n_tensors; i++)
		m->n_params += m->gguf->tensors[i].n_elements;
	*out = m;
	return 0;
fail:
	nrv_model_free(m);
	return rc;
}

/* ---- context ---- */

struct nrv_ctx {
	struct nrv_model *m;
	struct nrv_backend *be;
	const struct nrv_backend_ops *ops;
	struct nrv_ctx_params p;
	int kv_dim;
	nrv_half *kcache, *vcache;  /* (n_layer, n_ctx, kv_dim) */
	int32_t block0;             /* this context's one block: the whole cache */
	/* step scratch, (n_batch, width) each */
	float *x, *xb, *q, *k, *v, *att, *tmp, *gate, *up, *hid;
	int32_t *pos;               /* (n_batch) */
	float *logits;              /* (n_logit_rows, n_vocab) */
	int n_logit_rows;
	int last_n;                 /* tokens in the last eval */
	int last_rows;              /* rows of logits valid */
};

void nrv_ctx_destroy(struct nrv_ctx *c)
{
	if (!c)
		return;
	if (c->be) {
		const struct nrv_backend_ops *o = c->ops;
		o->free(c->be, c->kcache);
		o->free(c->be, c->vcache);
		float *bufs[] = { c->x, c->xb, c->q, c->k, c->v, c->att, c->tmp, c->gate, c->up,
				  c->hid, c->logits };
		for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
			o->free(c->be, bufs[i]);
		o->free(c->be, c->pos);
		o->destroy(c->be);
	}
	free(c);
}

int nrv_ctx_create(struct nrv_model *m, const struct nrv_ctx_params *p, struct nrv_ctx **out,
		   char *err, size_t errlen)
{
	*out = NULL;
	const struct nrv_model_config *mc = &m->cfg;
	struct nrv_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->m = m;
	c->p = *p;
	if (c->p.n_ctx <= 0)
		c->p.n_ctx = mc->n_ctx_train < 4096 ? mc->n_ctx_train : 4096;
	if (c->p.n_ctx > mc->n_ctx_train) {
		snprintf(err, errlen, "context %d exceeds the model's trained context %d",
			 c->p.n_ctx, mc->n_ctx_train);
		free(c);
		return -EINVAL;
	}
	if (c->p.n_batch <= 0)
		c->p.n_batch = 512;
	if (c->p.n_batch > c->p.n_ctx)
		c->p.n_batch = c->p.n_ctx;
	if (c->p.n_threads <= 0)
		c->p.n_threads = 1;
	c->ops = &nrv_backend_cpu_ops;
	int max_row = mc->n_ff > mc->n_embd ? mc->n_ff : mc->n_embd;
	struct nrv_backend_cfg bc = {
		.n_threads = c->p.n_threads, .cores = p->cores, .n_cores = p->n_cores,
		.max_tokens = c->p.n_batch, .max_row = max_row, .max_ctx = c->p.n_ctx,
		.max_heads = mc->n_head,
	};
	int rc = c->ops->create(&bc, &c->be);
	if (rc) {
		snprintf(err, errlen, "cannot start the %s backend: %s", c->ops->name,
			 rc == -ENOTSUP ? "the forced CPU kernel path (NRV_CPU) is unknown or unsupported here"
					: strerror(-rc));
		free(c);
		return rc;
	}
	/* Check every weight against the backend once, here, not per step. */
	struct nrv_tensor *ts[] = { &m->tok_embd, &m->output };
	for (size_t i = 0; i < 2 && !rc; i++)
		rc = c->ops->upload(c->be, ts[i]);
	for (int l = 0; l < mc->n_layer && !rc; l++) {
		struct nrv_layer *L = &m->layers[l];
		struct nrv_tensor *lt[] = { &L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down };
		for (size_t i = 0; i < 7 && !rc; i++) {
			rc = c->ops->upload(c->be, lt[i]);
			if (rc)
				snprintf(err, errlen, "tensor '%s' (%s) is not supported by the %s backend",
					 lt[i]->name, nrv_type_name(lt[i]->type), c->ops->name);
		}
	}
	if (rc) {
		nrv_ctx_destroy(c);
		return rc;
	}

	int B = c->p.n_batch, E = mc->n_embd, F = mc->n_ff;
	c->kv_dim = mc->n_head_kv * mc->head_dim;
	int QD = mc->n_head * mc->head_dim;
	size_t kv_elems = (size_t)mc->n_layer * c->p.n_ctx * c->kv_dim;
	c->kcache = c->ops->alloc(c->be, kv_elems * sizeof(nrv_half));
	c->vcache = c->ops->alloc(c->be, kv_elems * sizeof(nrv_half));
	int w = E > QD ? E : QD;
	c->x = c->ops->alloc(c->be, (size_t)B * w * sizeof(float));
	c->xb = c->ops->alloc(c->be, (size_t)B * w * sizeof(float));
	c->q = c->ops->alloc(c->be, (size_t)B * QD * sizeof(float));
	c->k = c->ops->alloc(c->be, (size_t)B * c->kv_dim * sizeof(float));
	c->v = c->ops->alloc(c->be, (size_t)B * c->kv_dim * sizeof(float));
	c->att = c->ops->alloc(c->be, (size_t)B * QD * sizeof(float));
	c->tmp = c->ops->alloc(c->be, (size_t)B * w * sizeof(float));
	c->gate = c->ops->alloc(c->be, (size_t)B * F * sizeof(float));
	c->up = c->ops->alloc(c->be, (size_t)B * F * sizeof(float));
	c->hid = c->ops->alloc(c->be, (size_t)B * F * sizeof(float));
	c->pos = c->ops->alloc(c->be, (size_t)B * sizeof(int32_t));
	c->n_logit_rows = c->p.all_logits ? c->p.n_ctx : 1;
	c->logits = c->ops->alloc(c->be, (size_t)c->n_logit_rows * mc->n_vocab * sizeof(float));
	if (!c->kcache || !c->vcache || !c->x || !c->xb || !c->q || !c->k || !c->v || !c->att ||
	    !c->tmp || !c->gate || !c->up || !c->hid || !c->pos || !c->logits) {
		snprintf(err, errlen, "out of memory for a %d-token context", c->p.n_ctx);
		nrv_ctx_destroy(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

int nrv_ctx_n_ctx(const struct nrv_ctx *c)
{
	return c->p.n_ctx;
}

const char *nrv_ctx_backend_name(const struct nrv_ctx *c)
{
	return c->ops->name;
}

/* Several matrices on one input: one backend call when the backend can
 * (and the types agree), else one matmul each; the results are the same. */
static void matmuls(struct nrv_ctx *c, const struct nrv_tensor *const *w, int n_w,
		    const float *x, int n, float *const *y)
{
	if (c->ops->matmul_multi && c->ops->matmul_multi(c->be, w, n_w, x, n, y) == 0)
		return;
	for (int i = 0; i < n_w; i++)
		c->ops->matmul(c->be, w[i], x, n, y[i]);
}

/* One step of n <= n_batch tokens at positions pos0..; logits for the
 * rows [logit_row, logit_row + n_out) taken from the step's last n_out tokens. */
static void step(struct nrv_ctx *c, const int32_t *tokens, int n, int pos0, float *logits, int n_out)
{
	const struct nrv_model *m = c->m;
	const struct nrv_model_config *mc = &m->cfg;
	const struct nrv_backend_ops *o = c->ops;
	struct nrv_backend *be = c->be;
	int E = mc->n_embd, F = mc->n_ff, hd = mc->head_dim;
	for (int i = 0; i < n; i++)
		c->pos[i] = pos0 + i;
	struct nrv_attn_params ap = {
		.n_head = mc->n_head, .n_kv_head = mc->n_head_kv, .head_dim = hd,
		.scale = 1.0f / sqrtf((float)hd),
	};
	o->get_rows(be, &m->tok_embd, tokens, n, c->x);
	for (int l = 0; l < mc->n_layer; l++) {
		const struct nrv_layer *L = &m->layers[l];
		size_t layer_off = (size_t)l * c->p.n_ctx * c->kv_dim;
		struct nrv_kv_view kv = {
			.k = c->kcache + layer_off, .v = c->vcache + layer_off,
			.blocks = &c->block0, .n_blocks = 1, .block_tokens = c->p.n_ctx,
			.kv_dim = c->kv_dim,
		};
		o->rmsnorm(be, c->x, L->attn_norm, c->xb, n, E, mc->norm_eps);
		const struct nrv_tensor *qkv_w[3] = { &L->wq, &L->wk, &L->wv };
		float *qkv_y[3] = { c->q, c->k, c->v };
		matmuls(c, qkv_w, 3, c->xb, n, qkv_y);
		o->rope(be, c->q, n, mc->n_head, hd, mc->n_rot, c->pos, mc->rope_freq_base, mc->rope_mode);
		o->rope(be, c->k, n, mc->n_head_kv, hd, mc->n_rot, c->pos, mc->rope_freq_base, mc->rope_mode);
		o->kv_store(be, &kv, c->k, c->v, n, c->pos);
		o->attention(be, &ap, &kv, c->q, n, c->pos, c->att);
		o->matmul(be, &L->wo, c->att, n, c->tmp);
		o->add(be, c->x, c->tmp, n * E);
		o->rmsnorm(be, c->x, L->ffn_norm, c->xb, n, E, mc->norm_eps);
		const struct nrv_tensor *gu_w[2] = { &L->w_gate, &L->w_up };
		float *gu_y[2] = { c->gate, c->up };
		matmuls(c, gu_w, 2, c->xb, n, gu_y);
		o->swiglu(be, c->gate, c->up, c->hid, n * F);
		o->matmul(be, &L->w_down, c->hid, n, c->tmp);
		o->add(be, c->x, c->tmp, n * E);
	}
	if (n_out > 0) {
		const float *last = c->x + (size_t)(n - n_out) * E;
		o->rmsnorm(be, last, m->output_norm, c->xb, n_out, E, mc->norm_eps);
		o->matmul(be, &m->output, c->xb, n_out, logits);
	}
	o->sync(be);
}

int nrv_ctx_eval(struct nrv_ctx *c, const int32_t *tokens, int n, int pos0)
{
	const struct nrv_model_config *mc = &c->m->cfg;
	if (n <= 0 || pos0 < 0)
		return -EINVAL;
	if (pos0 > c->p.n_ctx - n)
		return -ENOSPC;
	for (int i = 0; i < n; i++)
		if (tokens[i] < 0 || tokens[i] >= mc->n_vocab)
			return -EINVAL;
	c->last_n = n;
	c->last_rows = 0;
	for (int done = 0; done < n;) {
		int chunk = n - done < c->p.n_batch ? n - done : c->p.n_batch;
		bool last = done + chunk == n;
		float *dst;
		int n_out;
		if (c->p.all_logits) {
			dst = c->logits + (size_t)done * mc->n_vocab;
			n_out = chunk;
		} else {
			dst = c->logits;
			n_out = last ? 1 : 0;
		}
		step(c, tokens + done, chunk, pos0 + done, dst, n_out);
		done += chunk;
	}
	c->last_rows = c->p.all_logits ? n : 1;
	return 0;
}

const float *nrv_ctx_logits(const struct nrv_ctx *c, int i)
{
	const struct nrv_model_config *mc = &c->m->cfg;
	if (i < 0)
		i = c->last_rows - 1;
	if (i < 0 || i >= c->last_rows)
		return NULL;
	if (!c->p.all_logits)
		return c->logits;
	return c->logits + (size_t)i * mc->n_vocab;
}
