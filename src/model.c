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
	return nrv_model_load_mode(path, NRV_LOAD_DEFAULT, out, err, errlen);
}

int nrv_model_load_mode(const char *path, int load_mode, struct nrv_model **out, char *err,
			size_t errlen)
{
	struct nrv_weights_opts wo = { .mode = load_mode };
	return nrv_model_load_opts(path, &wo, out, err, errlen);
}

int nrv_model_load_opts(const char *path, const struct nrv_weights_opts *wo,
			struct nrv_model **out, char *err, size_t errlen)
{
	*out = NULL;
	struct nrv_model *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	snprintf(m->path, sizeof(m->path), "%s", path);
	int rc = nrv_weights_open(path, wo, &m->file, err, errlen);
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

/* ---- runner: batched steps over a paged KV pool ---- */

struct nrv_runner {
	struct nrv_model *m;
	struct nrv_backend *be;
	const struct nrv_backend_ops *ops;
	struct nrv_runner_params p;
	int kv_dim;
	size_t layer_elems;         /* halves of one layer's K (or V) pool */
	nrv_half *kpool, *vpool;    /* (n_layer, kv_blocks, block_tokens, kv_dim) */
	/* step scratch, (max_tokens, width) each, backend memory */
	float *x, *xb, *q, *k, *v, *att, *tmp, *gate, *up, *hid;
	float *logits;              /* (max_logits, n_vocab), backend memory */
	float *logits_host;         /* the same on the host (logits itself when the
				     * backend's memory is host memory) */
	float *norms;               /* backend copy of m->norms, (2 * n_layer + 1, n_embd) */
	int32_t *tok;               /* (max_tokens) host: the step's ids */
	int32_t *pos;               /* (max_tokens) host: the step's positions */
	struct nrv_kv_view *views;  /* (max_seqs) host: one layer's views, for attention_multi */
	int *seq_n;                 /* (max_seqs) host: tokens of each sequence in the step */
	int last_rows;              /* logit rows of the last step */
};

void nrv_runner_destroy(struct nrv_runner *r)
{
	if (!r)
		return;
	if (r->be) {
		const struct nrv_backend_ops *o = r->ops;
		o->free(r->be, r->kpool);
		o->free(r->be, r->vpool);
		float *bufs[] = { r->x, r->xb, r->q, r->k, r->v, r->att, r->tmp, r->gate, r->up,
				  r->hid, r->logits };
		for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
			o->free(r->be, bufs[i]);
		o->free(r->be, r->norms);
		o->destroy(r->be);
	}
	if (r->logits_host != r->logits)
		free(r->logits_host);
	free(r->tok);
	free(r->pos);
	free(r->views);
	free(r->seq_n);
	free(r);
}

int nrv_runner_create(struct nrv_model *m, const struct nrv_runner_params *p,
		      struct nrv_runner **out, char *err, size_t errlen)
{
	*out = NULL;
	const struct nrv_model_config *mc = &m->cfg;
	if (p->max_tokens < 1 || p->max_seqs < 1 || p->max_logits < 1 || p->max_ctx < 1 ||
	    p->kv_blocks < 1 || p->block_tokens < 1) {
		snprintf(err, errlen, "runner: every size must be at least 1");
		return -EINVAL;
	}
	if (p->max_ctx > mc->n_ctx_train) {
		snprintf(err, errlen, "context %d exceeds the model's trained context %d",
			 p->max_ctx, mc->n_ctx_train);
		return -EINVAL;
	}
	struct nrv_runner *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->m = m;
	r->p = *p;
	if (r->p.n_threads <= 0)
		r->p.n_threads = 1;
	int device = 0;
	int rc = nrv_backend_select(p->device, &r->ops, &device, err, errlen);
	if (rc) {
		free(r);
		return rc;
	}
	int max_row = mc->n_ff > mc->n_embd ? mc->n_ff : mc->n_embd;
	struct nrv_backend_cfg bc = {
		.n_threads = r->p.n_threads, .cores = p->cores, .n_cores = p->n_cores,
		.max_tokens = p->max_tokens > p->max_logits ? p->max_tokens : p->max_logits,
		.max_row = max_row, .max_ctx = p->max_ctx, .max_heads = mc->n_head, .device = device,
	};
	rc = r->ops->create(&bc, &r->be);
	if (rc) {
		snprintf(err, errlen, "cannot start the %s backend: %s", r->ops->name,
			 rc == -ENOTSUP && r->ops == &nrv_backend_cpu_ops
				 ? "the forced CPU kernel path (NRV_CPU) is unknown or unsupported here"
				 : strerror(-rc));
		free(r);
		return rc;
	}
	/* Check every weight against the backend once, here, not per step. */
	struct nrv_tensor *ts[] = { &m->tok_embd, &m->output };
	for (size_t i = 0; i < 2 && !rc; i++)
		rc = r->ops->upload(r->be, ts[i]);
	for (int l = 0; l < mc->n_layer && !rc; l++) {
		struct nrv_layer *L = &m->layers[l];
		struct nrv_tensor *lt[] = { &L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down };
		for (size_t i = 0; i < 7 && !rc; i++) {
			rc = r->ops->upload(r->be, lt[i]);
			if (rc)
				snprintf(err, errlen, "tensor '%s' (%s) is not supported by the %s backend",
					 lt[i]->name, nrv_type_name(lt[i]->type), r->ops->name);
		}
	}
	if (rc) {
		nrv_runner_destroy(r);
		return rc;
	}

	int B = p->max_tokens, E = mc->n_embd, F = mc->n_ff;
	r->kv_dim = mc->n_head_kv * mc->head_dim;
	int QD = mc->n_head * mc->head_dim;
	r->layer_elems = (size_t)p->kv_blocks * p->block_tokens * r->kv_dim;
	size_t kv_elems = (size_t)mc->n_layer * r->layer_elems;
	r->kpool = r->ops->alloc(r->be, kv_elems * sizeof(nrv_half));
	r->vpool = r->ops->alloc(r->be, kv_elems * sizeof(nrv_half));
	int w = E > QD ? E : QD;
	/* xb also holds the final norm of the logit rows (max_logits <= ...). */
	int BL = B > p->max_logits ? B : p->max_logits;
	r->x = r->ops->alloc(r->be, (size_t)B * w * sizeof(float));
	r->xb = r->ops->alloc(r->be, (size_t)BL * w * sizeof(float));
	r->q = r->ops->alloc(r->be, (size_t)B * QD * sizeof(float));
	r->k = r->ops->alloc(r->be, (size_t)B * r->kv_dim * sizeof(float));
	r->v = r->ops->alloc(r->be, (size_t)B * r->kv_dim * sizeof(float));
	r->att = r->ops->alloc(r->be, (size_t)B * QD * sizeof(float));
	r->tmp = r->ops->alloc(r->be, (size_t)B * w * sizeof(float));
	r->gate = r->ops->alloc(r->be, (size_t)B * F * sizeof(float));
	r->up = r->ops->alloc(r->be, (size_t)B * F * sizeof(float));
	r->hid = r->ops->alloc(r->be, (size_t)B * F * sizeof(float));
	size_t logit_bytes = (size_t)p->max_logits * mc->n_vocab * sizeof(float);
	r->logits = r->ops->alloc(r->be, logit_bytes);
	r->logits_host = r->ops->host_memory ? r->logits : malloc(logit_bytes);
	r->tok = malloc((size_t)B * sizeof(int32_t));
	r->pos = malloc((size_t)B * sizeof(int32_t));
	r->views = malloc((size_t)p->max_seqs * sizeof(*r->views));
	r->seq_n = malloc((size_t)p->max_seqs * sizeof(int));
	/* The norm weights, where the backend's ops can read them. */
	size_t norm_bytes = ((size_t)2 * mc->n_layer + 1) * (size_t)E * sizeof(float);
	r->norms = r->ops->alloc(r->be, norm_bytes);
	if (r->norms && r->ops->write(r->be, r->norms, m->norms, norm_bytes)) {
		snprintf(err, errlen, "cannot copy the norm weights to the %s backend", r->ops->name);
		nrv_runner_destroy(r);
		return -EIO;
	}
	if (!r->views || !r->seq_n || !r->kpool || !r->vpool || !r->x || !r->xb || !r->q || !r->k ||
	    !r->v || !r->att || !r->tmp || !r->gate || !r->up || !r->hid || !r->logits ||
	    !r->logits_host || !r->tok || !r->pos || !r->norms) {
		snprintf(err, errlen, "out of memory for a KV pool of %d x %d positions and %d-token steps",
			 p->kv_blocks, p->block_tokens, B);
		nrv_runner_destroy(r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

const char *nrv_runner_backend_name(const struct nrv_runner *r)
{
	return r->ops->name;
}

const struct nrv_runner_params *nrv_runner_params(const struct nrv_runner *r)
{
	return &r->p;
}

/* Several matrices on one input: one backend call when the backend can
 * (and the types agree), else one matmul each; the results are the same. */
static void matmuls(struct nrv_runner *r, const struct nrv_tensor *const *w, int n_w,
		    const float *x, int n, float *const *y)
{
	if (r->ops->matmul_multi && r->ops->matmul_multi(r->be, w, n_w, x, n, y) == 0)
		return;
	for (int i = 0; i < n_w; i++)
		r->ops->matmul(r->be, w[i], x, n, y[i]);
}

/* The backend's copy of a norm weight of m->norms. */
static const float *norm_w(const struct nrv_runner *r, const float *host)
{
	return r->norms + (host - r->m->norms);
}

/* Checks a step against the runner's bounds; fills tok and pos. */
static int step_check(struct nrv_runner *r, const struct nrv_batch_seq *s, int n_seqs,
		      int *n_tok, int *n_out)
{
	const struct nrv_runner_params *p = &r->p;
	int n_vocab = r->m->cfg.n_vocab;
	if (n_seqs < 1 || n_seqs > p->max_seqs)
		return -EINVAL;
	int t = 0, o = 0;
	for (int i = 0; i < n_seqs; i++) {
		const struct nrv_batch_seq *q = &s[i];
		if (q->n < 1 || q->n > p->max_tokens - t || q->pos0 < 0 || q->n_logits < 0 ||
		    q->n_logits > q->n || q->n_logits > p->max_logits - o || !q->tokens || !q->blocks)
			return -EINVAL;
		if (q->pos0 > p->max_ctx - q->n)
			return -ENOSPC;
		int need = (q->pos0 + q->n + p->block_tokens - 1) / p->block_tokens;
		if (q->n_blocks < need)
			return -EINVAL;
		for (int b = 0; b < need; b++)
			if (q->blocks[b] < 0 || q->blocks[b] >= p->kv_blocks)
				return -EINVAL;
		for (int j = 0; j < q->n; j++) {
			if (q->tokens[j] < 0 || q->tokens[j] >= n_vocab)
				return -EINVAL;
			r->tok[t + j] = q->tokens[j];
			r->pos[t + j] = q->pos0 + j;
		}
		t += q->n;
		o += q->n_logits;
	}
	*n_tok = t;
	*n_out = o;
	return 0;
}

int nrv_runner_step(struct nrv_runner *r, const struct nrv_batch_seq *seqs, int n_seqs)
{
	const struct nrv_model *m = r->m;
	const struct nrv_model_config *mc = &m->cfg;
	const struct nrv_backend_ops *o = r->ops;
	struct nrv_backend *be = r->be;
	int n, n_out;
	int rc = step_check(r, seqs, n_seqs, &n, &n_out);
	if (rc)
		return rc;
	r->last_rows = 0;
	int E = mc->n_embd, F = mc->n_ff, hd = mc->head_dim, QD = mc->n_head * hd;
	int kvd = r->kv_dim;
	struct nrv_attn_params ap = {
		.n_head = mc->n_head, .n_kv_head = mc->n_head_kv, .head_dim = hd,
		.scale = 1.0f / sqrtf((float)hd),
	};
	/* One sequence's single-token step that writes one logits row issues
	 * the same ops on the same buffers every time for a given block-table
	 * length: a backend may record it once and replay it (the key). */
	if (o->step_begin) {
		int key = n_seqs == 1 && n == 1 && n_out == 1 ? 1 + seqs[0].n_blocks : 0;
		rc = o->step_begin(be, key);
		if (rc)
			return rc;
	}
	o->get_rows(be, &m->tok_embd, r->tok, n, r->x);
	for (int l = 0; l < mc->n_layer; l++) {
		const struct nrv_layer *L = &m->layers[l];
		size_t layer_off = (size_t)l * r->layer_elems;
		o->rmsnorm(be, r->x, norm_w(r, L->attn_norm), r->xb, n, E, mc->norm_eps);
		const struct nrv_tensor *qkv_w[3] = { &L->wq, &L->wk, &L->wv };
		float *qkv_y[3] = { r->q, r->k, r->v };
		matmuls(r, qkv_w, 3, r->xb, n, qkv_y);
		o->rope(be, r->q, n, mc->n_head, hd, mc->n_rot, r->pos, mc->rope_freq_base, mc->rope_mode);
		o->rope(be, r->k, n, mc->n_head_kv, hd, mc->n_rot, r->pos, mc->rope_freq_base, mc->rope_mode);
		for (int i = 0, t = 0; i < n_seqs; t += seqs[i].n, i++) {
			r->views[i] = (struct nrv_kv_view){
				.k = r->kpool + layer_off, .v = r->vpool + layer_off,
				.blocks = seqs[i].blocks, .n_blocks = seqs[i].n_blocks,
				.block_tokens = r->p.block_tokens, .kv_dim = kvd,
			};
			r->seq_n[i] = seqs[i].n;
			o->kv_store(be, &r->views[i], r->k + (size_t)t * kvd, r->v + (size_t)t * kvd,
				    seqs[i].n, r->pos + t);
		}
		/* Many sequences: one attention call for all (one wake of the
		 * team per layer); the results are the same as one call each. */
		if (n_seqs == 1 || !o->attention_multi ||
		    o->attention_multi(be, &ap, r->views, n_seqs, r->q, r->seq_n, r->pos, r->att)) {
			for (int i = 0, t = 0; i < n_seqs; t += seqs[i].n, i++)
				o->attention(be, &ap, &r->views[i], r->q + (size_t)t * QD, seqs[i].n,
					     r->pos + t, r->att + (size_t)t * QD);
		}
		o->matmul(be, &L->wo, r->att, n, r->tmp);
		o->add(be, r->x, r->tmp, n * E);
		o->rmsnorm(be, r->x, norm_w(r, L->ffn_norm), r->xb, n, E, mc->norm_eps);
		const struct nrv_tensor *gu_w[2] = { &L->w_gate, &L->w_up };
		float *gu_y[2] = { r->gate, r->up };
		matmuls(r, gu_w, 2, r->xb, n, gu_y);
		o->swiglu(be, r->gate, r->up, r->hid, n * F);
		o->matmul(be, &L->w_down, r->hid, n, r->tmp);
		o->add(be, r->x, r->tmp, n * E);
	}
	if (n_out > 0) {
		/* The final norm packs the wanted rows together in xb (one call per
		 * sequence's run of rows), then one matmul makes every logit row. */
		int row = 0;
		for (int i = 0, t = 0; i < n_seqs; t += seqs[i].n, i++) {
			int k = seqs[i].n_logits;
			if (!k)
				continue;
			const float *last = r->x + (size_t)(t + seqs[i].n - k) * E;
			o->rmsnorm(be, last, norm_w(r, m->output_norm), r->xb + (size_t)row * E, k, E,
				   mc->norm_eps);
			row += k;
		}
		o->matmul(be, &m->output, r->xb, n_out, r->logits);
	}
	rc = o->sync(be);
	if (!rc && n_out > 0 && r->logits_host != r->logits)
		rc = o->read(be, r->logits_host, r->logits, (size_t)n_out * mc->n_vocab * sizeof(float));
	if (rc)
		return rc;
	r->last_rows = n_out;
	return 0;
}

const float *nrv_runner_logits(const struct nrv_runner *r, int i)
{
	if (i < 0 || i >= r->last_rows)
		return NULL;
	return r->logits_host + (size_t)i * r->m->cfg.n_vocab;
}

/* ---- context: the one-sequence case ---- */

struct nrv_ctx {
	struct nrv_model *m;
	struct nrv_runner *r;
	struct nrv_ctx_params p;
	int32_t block0;             /* this context's one block: the whole pool */
	float *logits;              /* all_logits: (n_ctx, n_vocab) host copy */
	int last_rows;              /* rows of logits valid */
};

void nrv_ctx_destroy(struct nrv_ctx *c)
{
	if (!c)
		return;
	nrv_runner_destroy(c->r);
	free(c->logits);
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
	struct nrv_runner_params rp = {
		.n_threads = c->p.n_threads, .cores = p->cores, .n_cores = p->n_cores,
		.max_tokens = c->p.n_batch, .max_seqs = 1,
		.max_logits = c->p.all_logits ? c->p.n_batch : 1,
		.max_ctx = c->p.n_ctx, .kv_blocks = 1, .block_tokens = c->p.n_ctx,
		.device = p->device,
	};
	int rc = nrv_runner_create(m, &rp, &c->r, err, errlen);
	if (rc) {
		free(c);
		return rc;
	}
	if (c->p.all_logits) {
		c->logits = malloc((size_t)c->p.n_ctx * mc->n_vocab * sizeof(float));
		if (!c->logits) {
			snprintf(err, errlen, "out of memory for a %d-token context", c->p.n_ctx);
			nrv_ctx_destroy(c);
			return -ENOMEM;
		}
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
	return nrv_runner_backend_name(c->r);
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
	c->last_rows = 0;
	for (int done = 0; done < n;) {
		int chunk = n - done < c->p.n_batch ? n - done : c->p.n_batch;
		bool last = done + chunk == n;
		struct nrv_batch_seq s = {
			.tokens = tokens + done, .n = chunk, .pos0 = pos0 + done,
			.blocks = &c->block0, .n_blocks = 1,
			.n_logits = c->p.all_logits ? chunk : last ? 1 : 0,
		};
		int rc = nrv_runner_step(c->r, &s, 1);
		if (rc)
			return rc;
		if (c->p.all_logits)
			memcpy(c->logits + (size_t)done * mc->n_vocab, nrv_runner_logits(c->r, 0),
			       (size_t)chunk * mc->n_vocab * sizeof(float));
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
		return nrv_runner_logits(c->r, 0);
	return c->logits + (size_t)i * mc->n_vocab;
}
