/*
 * kernels/cpu/backend_cpu.c - the CPU implementation of kernels/backend.h.
 *
 * Ops run on a persistent pinned thread team (pool.h). Matrix products
 * quantize the activations once per step to the weight type's activation
 * format, then split the output rows between the threads in fixed chunks:
 * each row's reduction is one vec_dot call whose order depends on the row
 * length only, so results are identical for any thread count and any
 * number of tokens in the step (batch invariance).
 *
 * All scratch is allocated at create from the configured maxima.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kernels/backend.h"
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/pool.h"

_Static_assert(NRV_ATTN_MAX_HD == NRV_MAX_HEAD_DIM, "the kernels take every head the interface allows");

struct cpu_backend {
	struct nrv_backend base;
	const struct nrv_cpu_kernels *k;
	struct nrv_pool *pool;
	struct nrv_backend_cfg cfg;
	void *act;        /* quantized activations: (max_tokens, act row bytes of max_row) */
	size_t act_row;   /* byte stride of one activation row in act */
	float *scores;    /* attention scratch: (n_threads, attn_scratch_floats) */
};

/* Most queries per work item; the token block is ATTN_MAXQ / group. */
#define ATTN_MAXQ 16

static int attn_max_queries(const struct nrv_backend_cfg *cfg)
{
	return cfg->max_heads > ATTN_MAXQ ? cfg->max_heads : ATTN_MAXQ;
}

static size_t attn_ctx_stride(const struct nrv_backend_cfg *cfg)
{
	return (((size_t)cfg->max_ctx * sizeof(float) + 63) & ~(size_t)63) / sizeof(float);
}

/* Floats of attention scratch per thread: scores, then rounded queries. */
static size_t attn_scratch_floats(const struct nrv_backend_cfg *cfg)
{
	return (size_t)attn_max_queries(cfg) * (attn_ctx_stride(cfg) + NRV_ATTN_MAX_HD);
}

static struct cpu_backend *cpu(struct nrv_backend *be)
{
	return (struct cpu_backend *)be;
}

/*
 * Backend memory carries a 64-byte header with its size. Large buffers
 * (the KV pool above all) are anonymous mappings: the kernel hands out
 * zeroed pages only when they are first touched, so a pool sized for 64
 * long sequences costs resident memory only for the positions in use.
 * Small ones come from the allocator and are zeroed here.
 */
#define CPU_ALLOC_HDR 64
#define CPU_ALLOC_MAP_MIN ((size_t)1 << 20)

static void *cpu_alloc(struct nrv_backend *be, size_t bytes)
{
	(void)be;
	size_t sz = (bytes + 63) & ~(size_t)63;
	if (sz > SIZE_MAX - 2 * CPU_ALLOC_HDR)
		return NULL;
	size_t total = sz + CPU_ALLOC_HDR;
	char *base;
	if (total >= CPU_ALLOC_MAP_MIN) {
		base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (base == MAP_FAILED)
			return NULL;
	} else {
		base = aligned_alloc(64, total);
		if (!base)
			return NULL;
		memset(base, 0, total);
	}
	memcpy(base, &total, sizeof(total));
	return base + CPU_ALLOC_HDR;
}

static void cpu_free(struct nrv_backend *be, void *p)
{
	(void)be;
	if (!p)
		return;
	char *base = (char *)p - CPU_ALLOC_HDR;
	size_t total;
	memcpy(&total, base, sizeof(total));
	if (total >= CPU_ALLOC_MAP_MIN)
		munmap(base, total);
	else
		free(base);
}

static void cpu_destroy(struct nrv_backend *be)
{
	if (!be)
		return;
	struct cpu_backend *c = cpu(be);
	nrv_pool_destroy(c->pool);
	free(c->act);
	free(c->scores);
	free(c);
}

static int cpu_create(const struct nrv_backend_cfg *cfg, struct nrv_backend **out)
{
	*out = NULL;
	if (cfg->n_threads < 1 || cfg->max_tokens < 1 || cfg->max_row < 1 || cfg->max_ctx < 1)
		return -EINVAL;
	const struct nrv_cpu_kernels *k = nrv_cpu_kernels_select(getenv("NRV_CPU"));
	if (!k)
		return -ENOTSUP;
	struct cpu_backend *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->base.ops = &nrv_backend_cpu_ops;
	c->k = k;
	c->cfg = *cfg;
	c->cfg.cores = NULL; /* not kept: the pool copies them */
	/* The widest activation row: F32 (4 bytes per element) bounds every
	 * quantized format (at most 36/32 bytes per element). */
	c->act_row = ((size_t)cfg->max_row * 4 + 63) & ~(size_t)63;
	c->act = aligned_alloc(64, c->act_row * (size_t)cfg->max_tokens);
	c->scores = aligned_alloc(64, attn_scratch_floats(cfg) * sizeof(float) *
				      (size_t)cfg->n_threads);
	int rc = -ENOMEM;
	if (c->act && c->scores)
		rc = nrv_pool_create(cfg->n_threads, cfg->cores, cfg->n_cores, &c->pool);
	if (rc) {
		cpu_destroy(&c->base);
		return rc;
	}
	*out = &c->base;
	return 0;
}

static int cpu_upload(struct nrv_backend *be, struct nrv_tensor *t)
{
	struct cpu_backend *c = cpu(be);
	if (!c->k->vec_dot[t->type] || nrv_cpu_act_type(t->type) < 0)
		return -ENOTSUP;
	if (t->ne0 > c->cfg.max_row)
		return -EINVAL;
	return 0;
}

static void cpu_get_rows(struct nrv_backend *be, const struct nrv_tensor *emb,
			 const int32_t *ids, int n, float *out)
{
	struct cpu_backend *c = cpu(be);
	for (int i = 0; i < n; i++) {
		const uint8_t *row = (const uint8_t *)emb->data + (size_t)ids[i] * emb->row_bytes;
		c->k->dequant[emb->type](row, out + (size_t)i * emb->ne0, (int)emb->ne0);
	}
}

/* ---- matmul ---- */

/* Rows per work item: fixed by the weight shape, never by the batch. */
#define ROW_CHUNK 16

/*
 * One pool run computes up to NRV_MATMUL_MULTI_MAX matrices that share
 * their input (same type, same row length): every member quantizes its
 * share of the activation blocks, all meet at a barrier, then each member
 * takes a contiguous, equal range of the matrices' 16-row chunks (rows of
 * one type and length cost the same), so each streams its own part of the
 * weights. Quantization is per block, so splitting it changes no byte; a
 * row's output is one gemm/vec_dot whose order depends on the row length
 * only.
 */
struct matmul_job {
	struct cpu_backend *c;
	const struct nrv_tensor *w[NRV_MATMUL_MULTI_MAX];
	float *y[NRV_MATMUL_MULTI_MAX];
	int chunk_end[NRV_MATMUL_MULTI_MAX]; /* prefix sums of the chunks of w[0..j] */
	int n_w;
	const float *x;     /* (n, k) */
	int n, k;
	int a_blck;         /* activation block: elements, bytes */
	size_t a_bytes;
	nrv_vec_dot_fn dot;
	nrv_gemm_fn gemm;   /* NULL: loop over dot */
	nrv_quantize_fn quant; /* NULL: F32 copy */
};

static void matmul_quantize_share(const struct matmul_job *j, int ith, int nth)
{
	int nb = j->k / j->a_blck;
	int64_t total = (int64_t)j->n * nb;
	int64_t b0 = total * ith / nth, b1 = total * (ith + 1) / nth;
	while (b0 < b1) {
		int t = (int)(b0 / nb), first = (int)(b0 % nb);
		int last = b1 - (int64_t)t * nb < nb ? (int)(b1 - (int64_t)t * nb) : nb;
		const float *src = j->x + (size_t)t * j->k + (size_t)first * j->a_blck;
		uint8_t *dst = (uint8_t *)j->c->act + (size_t)t * j->c->act_row +
			       (size_t)first * j->a_bytes;
		int cnt = (last - first) * j->a_blck;
		if (j->quant)
			j->quant(src, dst, cnt);
		else
			memcpy(dst, src, (size_t)cnt * sizeof(float));
		b0 += last - first;
	}
}

static void matmul_chunk(const struct matmul_job *j, int m, int ch)
{
	const struct nrv_tensor *w = j->w[m];
	int rows = (int)w->ne1, k = j->k;
	int r0 = ch * ROW_CHUNK;
	int r1 = r0 + ROW_CHUNK < rows ? r0 + ROW_CHUNK : rows;
	const uint8_t *act = j->c->act;
	float *y = j->y[m];
	if (j->gemm) {
		j->gemm(k, (const uint8_t *)w->data + (size_t)r0 * w->row_bytes, w->row_bytes,
			r1 - r0, act, j->c->act_row, j->n, y + r0, (size_t)rows);
		return;
	}
	for (int t = 0; t < j->n; t++) {
		const void *a = act + (size_t)t * j->c->act_row;
		float *yt = y + (size_t)t * rows;
		for (int r = r0; r < r1; r++)
			yt[r] = j->dot(k, (const uint8_t *)w->data + (size_t)r * w->row_bytes, a);
	}
}

static void matmul_task(void *arg, int ith, int nth)
{
	struct matmul_job *j = arg;
	matmul_quantize_share(j, ith, nth);
	nrv_pool_barrier(j->c->pool);
	int n_chunks = j->chunk_end[j->n_w - 1];
	int c0 = (int)((int64_t)n_chunks * ith / nth);
	int c1 = (int)((int64_t)n_chunks * (ith + 1) / nth);
	int m = 0, base = 0;
	for (int ch = c0; ch < c1; ch++) {
		while (ch >= j->chunk_end[m]) {
			base = j->chunk_end[m];
			m++;
		}
		matmul_chunk(j, m, ch - base);
	}
}

static void matmul_run(struct cpu_backend *c, const struct nrv_tensor *const *w, int n_w,
		       const float *x, int n, float *const *y)
{
	int wt = w[0]->type, at = nrv_cpu_act_type(wt);
	struct matmul_job j = {
		.c = c, .n_w = n_w, .x = x, .n = n, .k = (int)w[0]->ne0,
		.dot = c->k->vec_dot[wt],
		.gemm = c->k->gemm[wt],
		.quant = at == NRV_TYPE_F32 ? NULL : c->k->quantize[at],
	};
	if (at == NRV_TYPE_F32) {
		j.a_blck = 1;
		j.a_bytes = sizeof(float);
	} else {
		int blck, size;
		nrv_type_geom(at, &blck, &size);
		j.a_blck = blck;
		j.a_bytes = (size_t)size;
	}
	int chunks = 0;
	for (int m = 0; m < n_w; m++) {
		j.w[m] = w[m];
		j.y[m] = y[m];
		chunks += (int)((w[m]->ne1 + ROW_CHUNK - 1) / ROW_CHUNK);
		j.chunk_end[m] = chunks;
	}
	nrv_pool_run(c->pool, matmul_task, &j);
}

static void cpu_matmul(struct nrv_backend *be, const struct nrv_tensor *w,
		       const float *x, int n, float *y)
{
	matmul_run(cpu(be), &w, 1, x, n, &y);
}

static int cpu_matmul_multi(struct nrv_backend *be, const struct nrv_tensor *const *w, int n_w,
			    const float *x, int n, float *const *y)
{
	if (n_w < 1 || n_w > NRV_MATMUL_MULTI_MAX)
		return -EINVAL;
	for (int m = 1; m < n_w; m++)
		if (w[m]->type != w[0]->type || w[m]->ne0 != w[0]->ne0)
			return -EINVAL;
	matmul_run(cpu(be), w, n_w, x, n, y);
	return 0;
}

/* ---- element-wise ops ----
 *
 * A single-token step runs them on the caller's thread (waking the team
 * would cost more than the work); a multi-token step splits them between
 * the threads by token rows (or, for the flat ops, fixed 4 KiB pieces).
 * Every row's math is the same call either way, so the split never
 * changes a bit.
 */

/* Floats per piece of a flat op (swiglu, add), and the fewest floats
 * worth waking the team for (a decode step's n_ff stays on one thread). */
#define FLAT_CHUNK 1024
#define FLAT_MIN 8192

struct rows_job {
	const float *x;
	const float *w;
	float *y;
	const float *up;
	int n;        /* rows, or floats for the flat ops */
	int dim;
	float eps;
	int n_head, head_dim, n_rot, mode;
	const int32_t *pos;
	float freq_base;
	const struct nrv_kv_view *kv;
	const float *k, *v;
};

/* [*r0, *r1) of n items for member ith of nth: contiguous ranges. */
static void split_range(int n, int ith, int nth, int *r0, int *r1)
{
	*r0 = (int)((int64_t)n * ith / nth);
	*r1 = (int)((int64_t)n * (ith + 1) / nth);
}

static void rmsnorm_task(void *arg, int ith, int nth)
{
	struct rows_job *j = arg;
	int r0, r1;
	split_range(j->n, ith, nth, &r0, &r1);
	for (int i = r0; i < r1; i++)
		nrv_rmsnorm_ref(j->x + (size_t)i * j->dim, j->w, j->y + (size_t)i * j->dim, j->dim,
				j->eps);
}

static void cpu_rmsnorm(struct nrv_backend *be, const float *x, const float *w,
			float *y, int n, int dim, float eps)
{
	struct rows_job j = { .x = x, .w = w, .y = y, .n = n, .dim = dim, .eps = eps };
	if (n > 1)
		nrv_pool_run(cpu(be)->pool, rmsnorm_task, &j);
	else
		rmsnorm_task(&j, 0, 1);
}

static void rope_task(void *arg, int ith, int nth)
{
	struct rows_job *j = arg;
	int r0, r1;
	split_range(j->n, ith, nth, &r0, &r1);
	for (int i = r0; i < r1; i++)
		nrv_rope_ref(j->y + (size_t)i * j->n_head * j->head_dim, j->n_head, j->head_dim,
			     j->n_rot, j->pos[i], j->freq_base, j->mode);
}

static void cpu_rope(struct nrv_backend *be, float *x, int n, int n_head, int head_dim,
		     int n_rot, const int32_t *pos, float freq_base, int mode)
{
	struct rows_job j = {
		.y = x, .n = n, .n_head = n_head, .head_dim = head_dim, .n_rot = n_rot, .pos = pos,
		.freq_base = freq_base, .mode = mode,
	};
	if (n > 1)
		nrv_pool_run(cpu(be)->pool, rope_task, &j);
	else
		rope_task(&j, 0, 1);
}

static nrv_half *kv_slot(nrv_half *pool, const struct nrv_kv_view *kv, int p)
{
	int b = kv->blocks[p / kv->block_tokens];
	size_t slot = (size_t)b * kv->block_tokens + (size_t)(p % kv->block_tokens);
	return pool + slot * kv->kv_dim;
}

static void kv_store_task(void *arg, int ith, int nth)
{
	struct rows_job *j = arg;
	const struct nrv_kv_view *kv = j->kv;
	int r0, r1;
	split_range(j->n, ith, nth, &r0, &r1);
	for (int i = r0; i < r1; i++) {
		nrv_half *kd = kv_slot(kv->k, kv, j->pos[i]);
		nrv_half *vd = kv_slot(kv->v, kv, j->pos[i]);
		for (int d = 0; d < kv->kv_dim; d++) {
			kd[d] = nrv_float_to_half(j->k[(size_t)i * kv->kv_dim + d]);
			vd[d] = nrv_float_to_half(j->v[(size_t)i * kv->kv_dim + d]);
		}
	}
}

static void cpu_kv_store(struct nrv_backend *be, const struct nrv_kv_view *kv,
			 const float *k, const float *v, int n, const int32_t *pos)
{
	struct rows_job j = { .kv = kv, .k = k, .v = v, .n = n, .pos = pos };
	if (n > 1)
		nrv_pool_run(cpu(be)->pool, kv_store_task, &j);
	else
		kv_store_task(&j, 0, 1);
}

/* ---- attention ----
 *
 * A work item is one KV head and a block of consecutive query tokens: the
 * item's queries (the block's tokens times the heads that share the KV
 * head) meet each key row together, so a row is read and converted once
 * per item. Items go to the threads round-robin. A query's result depends
 * only on its own query vector and keys (the kernels' contract), never on
 * the block it shares, the step's size or the thread count.
 */

struct attn_job {
	struct cpu_backend *c;
	const struct nrv_attn_params *p;
	const struct nrv_kv_view *kv;
	const float *q;
	int n;
	const int32_t *pos;
	float *out;
	int tb;       /* query tokens per item */
	int n_items;
};

/* Calls fn over keys [j0, j1) of KV head kvh, one call per contiguous run
 * of positions (a run never crosses a cache block). */
static void kv_runs(const struct nrv_kv_view *kv, const nrv_half *pool, int kvh, int hd, int j0,
		    int j1, void (*fn)(void *ctx, const nrv_half *rows, int j, int n), void *ctx)
{
	while (j0 < j1) {
		int end = (j0 / kv->block_tokens + 1) * kv->block_tokens;
		if (end > j1)
			end = j1;
		fn(ctx, kv_slot((nrv_half *)pool, kv, j0) + (size_t)kvh * hd, j0, end - j0);
		j0 = end;
	}
}

struct attn_call {
	const struct nrv_cpu_kernels *k;
	const struct nrv_attn_params *p;
	size_t stride;   /* kv_dim: halves between positions */
	int nq;
	const float *q;  /* queries: (nq, hd) */
	float *s;        /* scores / probabilities: (nq, ctx_stride) */
	size_t ss;
	float *o;        /* outputs, (nq, hd) */
};

static void scores_run(void *ctx, const nrv_half *rows, int j, int n)
{
	struct attn_call *a = ctx;
	int hd = a->p->head_dim;
	a->k->attn_scores(hd, a->nq, a->q, (size_t)hd, rows, a->stride, n, a->p->scale, a->s + j,
			  a->ss);
}

static void values_run(void *ctx, const nrv_half *rows, int j, int n)
{
	struct attn_call *a = ctx;
	int hd = a->p->head_dim;
	a->k->attn_values(hd, a->nq, a->s + j, a->ss, rows, a->stride, n, a->o, (size_t)hd);
}

/* One work item of job j: KV head kvh, query tokens [t0, t1). */
static void attn_item(const struct attn_job *j, int kvh, int t0, int t1, float *scr)
{
	const struct nrv_attn_params *p = j->p;
	const struct nrv_kv_view *kv = j->kv;
	const struct nrv_cpu_kernels *k = j->c->k;
	int hd = p->head_dim, group = p->n_head / p->n_kv_head;
	size_t ss = attn_ctx_stride(&j->c->cfg);
	float *sc = scr;                                              /* (maxq, ss) */
	float *qb = scr + (size_t)attn_max_queries(&j->c->cfg) * ss; /* (maxq, hd) */
	int nq = (t1 - t0) * group;
	/* The item's queries, rounded to half: token-major, then head. */
	int min_len = j->pos[t0] + 1;
	for (int t = t0; t < t1; t++) {
		if (j->pos[t] + 1 < min_len)
			min_len = j->pos[t] + 1;
		for (int g = 0; g < group; g++) {
			float *dst = qb + (size_t)((t - t0) * group + g) * hd;
			memcpy(dst, j->q + ((size_t)t * p->n_head + kvh * group + g) * hd,
			       (size_t)hd * sizeof(float));
			k->round_half(dst, hd);
		}
	}
	struct attn_call a = {
		.k = k, .p = p, .stride = (size_t)kv->kv_dim, .nq = nq, .q = qb, .s = sc,
		.ss = ss,
	};
	/* Keys every query sees, together; then each token's own tail. */
	kv_runs(kv, kv->k, kvh, hd, 0, min_len, scores_run, &a);
	a.nq = group;
	for (int t = t0; t < t1; t++) {
		int len = j->pos[t] + 1;
		a.q = qb + (size_t)(t - t0) * group * hd;
		a.s = sc + (size_t)(t - t0) * group * ss;
		kv_runs(kv, kv->k, kvh, hd, min_len, len, scores_run, &a);
		for (int g = 0; g < group; g++)
			k->softmax_half(a.s + (size_t)g * ss, len);
		a.o = j->out + ((size_t)t * p->n_head + kvh * group) * hd;
		memset(a.o, 0, (size_t)group * hd * sizeof(float));
		kv_runs(kv, kv->v, kvh, hd, 0, len, values_run, &a);
	}
}

static void attn_task(void *arg, int ith, int nth)
{
	struct attn_job *j = arg;
	float *scr = j->c->scores + (size_t)ith * attn_scratch_floats(&j->c->cfg);
	for (int item = ith; item < j->n_items; item += nth) {
		int kvh = item % j->p->n_kv_head;
		int t0 = item / j->p->n_kv_head * j->tb;
		int t1 = t0 + j->tb < j->n ? t0 + j->tb : j->n;
		attn_item(j, kvh, t0, t1, scr);
	}
}

static int attn_block(const struct nrv_attn_params *p)
{
	int group = p->n_head / p->n_kv_head;
	return ATTN_MAXQ / group > 1 ? ATTN_MAXQ / group : 1;
}

static void cpu_attention(struct nrv_backend *be, const struct nrv_attn_params *p,
			  const struct nrv_kv_view *kv, const float *q, int n,
			  const int32_t *pos, float *out)
{
	struct cpu_backend *c = cpu(be);
	int tb = attn_block(p);
	struct attn_job j = {
		.c = c, .p = p, .kv = kv, .q = q, .n = n, .pos = pos, .out = out, .tb = tb,
		.n_items = (n + tb - 1) / tb * p->n_kv_head,
	};
	nrv_pool_run(c->pool, attn_task, &j);
}

/*
 * Several sequences in one pool run: the items of every sequence (cut
 * exactly as cpu_attention cuts them) are numbered one after the other
 * and dealt round-robin, so a decode step of many short sequences wakes
 * the team once per layer instead of once per sequence. Each member
 * walks the sequences forward as its item numbers grow: no table.
 */
struct attn_multi_job {
	struct cpu_backend *c;
	const struct nrv_attn_params *p;
	const struct nrv_kv_view *kv;  /* (n_seqs) */
	int n_seqs;
	const float *q;
	const int *n_tok;              /* (n_seqs) */
	const int32_t *pos;
	float *out;
	int tb;
	int n_items;
};

static void attn_multi_task(void *arg, int ith, int nth)
{
	struct attn_multi_job *m = arg;
	const struct nrv_attn_params *p = m->p;
	float *scr = m->c->scores + (size_t)ith * attn_scratch_floats(&m->c->cfg);
	int qd = p->n_head * p->head_dim;
	int s = 0, base = 0, tok0 = 0;
	int s_items = (m->n_tok[0] + m->tb - 1) / m->tb * p->n_kv_head;
	for (int item = ith; item < m->n_items; item += nth) {
		while (item >= base + s_items) {
			base += s_items;
			tok0 += m->n_tok[s];
			s++;
			s_items = (m->n_tok[s] + m->tb - 1) / m->tb * p->n_kv_head;
		}
		struct attn_job j = {
			.c = m->c, .p = p, .kv = &m->kv[s], .q = m->q + (size_t)tok0 * qd,
			.n = m->n_tok[s], .pos = m->pos + tok0, .out = m->out + (size_t)tok0 * qd,
			.tb = m->tb,
		};
		int local = item - base;
		int kvh = local % p->n_kv_head;
		int t0 = local / p->n_kv_head * m->tb;
		int t1 = t0 + m->tb < j.n ? t0 + m->tb : j.n;
		attn_item(&j, kvh, t0, t1, scr);
	}
}

static int cpu_attention_multi(struct nrv_backend *be, const struct nrv_attn_params *p,
			       const struct nrv_kv_view *kv, int n_seqs, const float *q,
			       const int *n_tok, const int32_t *pos, float *out)
{
	struct cpu_backend *c = cpu(be);
	if (n_seqs < 1)
		return -EINVAL;
	int tb = attn_block(p);
	int64_t items = 0;
	for (int s = 0; s < n_seqs; s++) {
		if (n_tok[s] < 1)
			return -EINVAL;
		items += (int64_t)(n_tok[s] + tb - 1) / tb * p->n_kv_head;
	}
	if (items > INT32_MAX)
		return -EINVAL;
	struct attn_multi_job m = {
		.c = c, .p = p, .kv = kv, .n_seqs = n_seqs, .q = q, .n_tok = n_tok, .pos = pos,
		.out = out, .tb = tb, .n_items = (int)items,
	};
	nrv_pool_run(c->pool, attn_multi_task, &m);
	return 0;
}

static void swiglu_task(void *arg, int ith, int nth)
{
	struct rows_job *j = arg;
	int c0, c1;
	split_range((j->n + FLAT_CHUNK - 1) / FLAT_CHUNK, ith, nth, &c0, &c1);
	int i0 = c0 * FLAT_CHUNK, i1 = c1 * FLAT_CHUNK < j->n ? c1 * FLAT_CHUNK : j->n;
	if (i1 > i0)
		nrv_swiglu_ref(j->x + i0, j->up + i0, j->y + i0, i1 - i0);
}

static void cpu_swiglu(struct nrv_backend *be, const float *gate, const float *up,
		       float *out, int n)
{
	struct rows_job j = { .x = gate, .up = up, .y = out, .n = n };
	if (n >= FLAT_MIN)
		nrv_pool_run(cpu(be)->pool, swiglu_task, &j);
	else
		swiglu_task(&j, 0, 1);
}

static void add_task(void *arg, int ith, int nth)
{
	struct rows_job *j = arg;
	int c0, c1;
	split_range((j->n + FLAT_CHUNK - 1) / FLAT_CHUNK, ith, nth, &c0, &c1);
	int i1 = c1 * FLAT_CHUNK < j->n ? c1 * FLAT_CHUNK : j->n;
	for (int i = c0 * FLAT_CHUNK; i < i1; i++)
		j->y[i] += j->x[i];
}

static void cpu_add(struct nrv_backend *be, float *y, const float *x, int n)
{
	struct rows_job j = { .x = x, .y = y, .n = n };
	if (n >= FLAT_MIN)
		nrv_pool_run(cpu(be)->pool, add_task, &j);
	else
		add_task(&j, 0, 1);
}

static int cpu_sync(struct nrv_backend *be)
{
	(void)be;
	return 0; /* every op completes before it returns */
}

/* Backend memory is host memory: both directions are a memcpy. */
static int cpu_copy(struct nrv_backend *be, void *dst, const void *src, size_t bytes)
{
	(void)be;
	if (bytes)
		memcpy(dst, src, bytes);
	return 0;
}

const struct nrv_backend_ops nrv_backend_cpu_ops = {
	.name = "cpu",
	.host_memory = 1,
	.create = cpu_create,
	.destroy = cpu_destroy,
	.alloc = cpu_alloc,
	.free = cpu_free,
	.upload = cpu_upload,
	.get_rows = cpu_get_rows,
	.matmul = cpu_matmul,
	.matmul_multi = cpu_matmul_multi,
	.rmsnorm = cpu_rmsnorm,
	.rope = cpu_rope,
	.kv_store = cpu_kv_store,
	.attention = cpu_attention,
	.attention_multi = cpu_attention_multi,
	.swiglu = cpu_swiglu,
	.add = cpu_add,
	.sync = cpu_sync,
	.write = cpu_copy,
	.read = cpu_copy,
};
