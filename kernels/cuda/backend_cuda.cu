/*
 * kernels/cuda/backend_cuda.cu - the CUDA implementation of
 * kernels/backend.h: device memory, weight upload, staging of host arrays,
 * and the op table that queues the kernels of matvec.cu, ops.cu and
 * attn.cu on one stream.
 *
 * Ops return before the GPU runs them; sync and read wait. A failing CUDA
 * or cuBLAS call is logged, turns the backend's sticky error to -EIO, and
 * makes later ops do nothing, so the next sync or read reports it: the
 * process never aborts on a device error.
 *
 * Host arrays (token ids, positions, block tables) go through a pinned
 * staging area: copied there by the CPU, then to the device with an async
 * copy on the stream. An array identical to one already staged in this
 * step (same pointer, same bytes) reuses that copy, so the 30 layers of a
 * step share one copy of the positions and the block table. The area is
 * reset at sync (the copies are complete then).
 *
 * Matrix products: the fused dequantize + matrix-vector kernel for every
 * n (batch invariant; the default), or, with NRV_CUDA_GEMM=cublas, a
 * dequantize-to-half plus cublasGemmEx on tensor cores for steps of at
 * least NRV_CUDA_GEMM_MIN tokens (default 16). The cuBLAS path rounds the
 * activations to half and lets cuBLAS choose its reduction order by shape,
 * so a row's result may change with the number of tokens in the step: it
 * breaks batch invariance, which is why it is opt-in.
 *
 * CUDA graphs (opt-in, NRV_CUDA_GRAPH=1): a step opened with
 * step_begin(key > 0) is captured the first time (the ops are recorded on
 * the stream, then the graph is instantiated and launched at sync) and
 * replayed every later time: the ops then only copy their host arrays into
 * the pinned staging slots the graph's copies read, hash their arguments,
 * and launch nothing; sync launches the graph. Kernels read positions and
 * lengths from device memory, so one graph serves every decode step. A
 * step whose hash differs from the recording is not launched: the backend
 * fails with -EIO and a message instead of computing something else.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_internal.h"

typedef struct nrv_cu_backend cub;

int nrv__cu_fail(struct nrv_cu_backend *be, const char *what, const char *msg, const char *file,
		 int line)
{
	/* The kernels layer has no logger of its own: messages go to stderr
	 * in the logger's format, once per failing call. */
	fprintf(stderr, "nirvana: error: cuda: %s failed (%s:%d): %s\n", what, file, line,
		msg ? msg : "unknown error");
	if (be && !be->err)
		be->err = -EIO;
	return -EIO;
}

static cub *cu(struct nrv_backend *be)
{
	return (cub *)be;
}

/* Fold an op's arguments into the step's hash (FNV-1a). */
static void trace(cub *c, int op, const void *args, size_t len)
{
	const unsigned char *p = (const unsigned char *)args;
	uint64_t h = c->trace ^ (uint64_t)op;
	h *= 0x100000001b3ull;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	c->trace = h;
}

/* True when the open step is replayed: the op must launch nothing. */
static bool replaying(const cub *c)
{
	return c->gstate == NRV_CU_G_REPLAY;
}

/* Every op starts here: nothing more is queued after a failure, and the
 * calling thread is pointed at the backend's device. */
static bool enter(cub *c)
{
	if (c->err)
		return false;
	if (c->device != 0 && NRV_CU(c, cudaSetDevice(c->device)))
		return false;
	return true;
}

/* An op's launcher said -EINVAL / -ENOTSUP without a CUDA error: an
 * argument the kernels cannot take. Logged once, sticky like the rest. */
static void note(cub *c, int rc, const char *op)
{
	if (rc && !c->err) {
		fprintf(stderr, "nirvana: error: cuda: %s: bad arguments (%s)\n", op, strerror(-rc));
		c->err = rc;
	}
}

static int cu_probe(char *why, size_t whylen)
{
	int n = 0;
	cudaError_t e = cudaGetDeviceCount(&n);
	if (e != cudaSuccess) {
		if (whylen)
			snprintf(why, whylen, "%s", cudaGetErrorString(e));
		cudaGetLastError(); /* clear it */
		return 0;
	}
	if (n <= 0 && whylen)
		snprintf(why, whylen, "the driver sees no GPU");
	return n > 0 ? n : 0;
}

/* ---- staging of host arrays ---- */

/* Make room for `slots` more staged slots before an op stages several
 * arrays, so that a reset between them cannot overwrite the first. */
static void stage_room(cub *c, size_t slots)
{
	if (c->stage_used + slots <= c->stage_cap || c->gstate != NRV_CU_G_NONE)
		return;
	if (NRV_CU(c, cudaStreamSynchronize(c->stream)))
		return;
	c->stage_used = 0;
	c->n_cache = 0;
}

/* Reserve `slots` (a multiple of 32) staging slots; the slot offset, or
 * -1 after a failure (noted). A full area inside one step is waited for
 * and started over, which drops the cache. */
static int64_t stage_reserve(cub *c, size_t slots)
{
	if (slots > c->stage_cap) {
		note(c, -E2BIG, "staging a host array");
		return -1;
	}
	if (c->stage_used + slots > c->stage_cap) {
		if (c->gstate != NRV_CU_G_NONE) {
			note(c, -E2BIG, "staging area full inside a recorded step");
			return -1;
		}
		/* Full within one step: wait for the queued copies, start over. */
		if (NRV_CU(c, cudaStreamSynchronize(c->stream)))
			return -1;
		c->stage_used = 0;
		c->n_cache = 0;
	}
	size_t off = c->stage_used;
	c->stage_used += slots;
	return (int64_t)off;
}

/* Queue the copy of staged slots [off, off + n) to the device (on replay
 * the graph's own copy node reads the pinned slots). 0 or -EIO. */
static int stage_send(cub *c, size_t off, size_t n)
{
	if (replaying(c))
		return 0;
	return NRV_CU(c, cudaMemcpyAsync(c->stage_d + off, c->stage_h + off, n * sizeof(int32_t),
					 cudaMemcpyHostToDevice, c->stream));
}

/* Device copy of n int32 at host, or NULL after a failure. */
static const int32_t *stage(cub *c, const int32_t *host, size_t n)
{
	for (int i = 0; i < c->n_cache; i++) {
		struct nrv_cu_staged *s = &c->cache[i];
		if (s->host == host && s->n == n &&
		    !memcmp(c->stage_h + s->off, host, n * sizeof(int32_t)))
			return c->stage_d + s->off;
	}
	int64_t at = stage_reserve(c, nrv_cu_stage_round(n ? n : 1));
	if (at < 0)
		return NULL;
	size_t off = (size_t)at;
	memcpy(c->stage_h + off, host, n * sizeof(int32_t));
	if (stage_send(c, off, n))
		return NULL;
	struct nrv_cu_staged *s = &c->cache[c->n_cache < NRV_CU_STAGE_CACHE ? c->n_cache++ :
					    (int)(off / 32 % NRV_CU_STAGE_CACHE)];
	s->host = host;
	s->n = n;
	s->off = off;
	return c->stage_d + off;
}

/* ---- lifecycle ---- */

static void cu_destroy(struct nrv_backend *be)
{
	if (!be)
		return;
	cub *c = cu(be);
	if (c->device != 0)
		cudaSetDevice(c->device);
	if (c->stream)
		cudaStreamSynchronize(c->stream);
	if (c->gstate == NRV_CU_G_CAPTURE) {
		cudaGraph_t g = NULL;
		cudaStreamEndCapture(c->stream, &g);
		if (g)
			cudaGraphDestroy(g);
	}
	for (int i = 0; i < c->n_graphs; i++)
		cudaGraphExecDestroy(c->graphs[i].exec);
	for (int i = 0; i < c->n_ups; i++)
		if (c->ups[i].owner)
			cudaFree(c->ups[i].dev);
	free(c->ups);
	free(c->map);
	if (c->stage_h)
		cudaFreeHost(c->stage_h);
	cudaFree(c->stage_d);
	cudaFree(c->wh);
	cudaFree(c->xh);
#if NRV_HAVE_CUBLAS
	if (c->blas)
		cublasDestroy(c->blas);
#endif
	if (c->stream)
		cudaStreamDestroy(c->stream);
	free(c);
}

static int cu_create(const struct nrv_backend_cfg *cfg, struct nrv_backend **out)
{
	*out = NULL;
	if (cfg->max_tokens < 1 || cfg->max_row < 1 || cfg->max_ctx < 1 || cfg->device < 0)
		return -EINVAL;
	char why[256];
	int n = cu_probe(why, sizeof(why));
	if (n <= 0) {
		fprintf(stderr, "nirvana: error: cuda: no CUDA device (%s)\n", why);
		return -ENODEV;
	}
	if (cfg->device >= n)
		return -ENODEV;
	cub *c = (cub *)calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->base.ops = &nrv_backend_cuda_ops;
	c->cfg = *cfg;
	c->cfg.cores = NULL;
	c->device = cfg->device;
	const char *g = getenv("NRV_CUDA_GEMM");
	c->gemm_mode = g && !strcmp(g, "cublas") ? NRV_CU_GEMM_CUBLAS : NRV_CU_GEMM_ROWS;
#if !NRV_HAVE_CUBLAS
	if (c->gemm_mode == NRV_CU_GEMM_CUBLAS) {
		fprintf(stderr, "nirvana: warning: cuda: NRV_CUDA_GEMM=cublas ignored: this build has "
			"no cuBLAS\n");
		c->gemm_mode = NRV_CU_GEMM_ROWS;
	}
#endif
	const char *ge = getenv("NRV_CUDA_GRAPH");
	c->use_graphs = ge && !strcmp(ge, "1");
	const char *gm = getenv("NRV_CUDA_GEMM_MIN");
	c->gemm_min = gm && atoi(gm) > 0 ? atoi(gm) : 16;
	c->stage_cap = nrv_cu_stage_slots(cfg->max_tokens, cfg->max_ctx);
	c->attn_smem = nrv_cu_attn_smem(cfg->max_ctx, NRV_MAX_HEAD_DIM);
	int rc = -EIO;
	int smem_optin = 0;
	if (NRV_CU(c, cudaSetDevice(c->device)) ||
	    NRV_CU(c, cudaDeviceGetAttribute(&smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin,
					     c->device)))
		goto fail;
	if (c->attn_smem > (size_t)smem_optin) {
		fprintf(stderr, "nirvana: error: cuda: a %d-position context needs %zu bytes of shared "
			"memory per attention block; this GPU allows %d: use a shorter context (-c)\n",
			cfg->max_ctx, c->attn_smem, smem_optin);
		rc = -ENOTSUP;
		goto fail;
	}
	if (NRV_CU(c, cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking)))
		goto fail;
#if NRV_HAVE_CUBLAS
	if (NRV_CU(c, cublasCreate(&c->blas)) || NRV_CU(c, cublasSetStream(c->blas, c->stream)))
		goto fail;
#endif
	if (NRV_CU(c, cudaHostAlloc((void **)&c->stage_h, c->stage_cap * sizeof(int32_t),
				    cudaHostAllocDefault)) ||
	    NRV_CU(c, cudaMalloc((void **)&c->stage_d, c->stage_cap * sizeof(int32_t))) ||
	    nrv__cu_attention_init(c))
		goto fail;
	if (c->gemm_mode == NRV_CU_GEMM_CUBLAS &&
	    NRV_CU(c, cudaMalloc((void **)&c->xh, (size_t)cfg->max_tokens * cfg->max_row *
						    sizeof(__half))))
		goto fail;
	*out = &c->base;
	return 0;
fail:
	cu_destroy(&c->base);
	return rc;
}

/* ---- memory ---- */

static void *cu_alloc(struct nrv_backend *be, size_t bytes)
{
	cub *c = cu(be);
	void *p = NULL;
	if (c->device != 0 && NRV_CU(c, cudaSetDevice(c->device)))
		return NULL;
	size_t sz = bytes ? bytes : 64;
	if (cudaMalloc(&p, sz) != cudaSuccess) {
		cudaGetLastError(); /* out of memory is the caller's to report */
		return NULL;
	}
	if (NRV_CU(c, cudaMemset(p, 0, sz))) {
		cudaFree(p);
		return NULL;
	}
	return p;
}

static void cu_free(struct nrv_backend *be, void *p)
{
	if (p)
		NRV_CU(cu(be), cudaFree(p));
}

static int cu_write(struct nrv_backend *be, void *dst, const void *src, size_t bytes)
{
	cub *c = cu(be);
	if (!enter(c))
		return c->err;
	if (c->gstate != NRV_CU_G_NONE) {
		note(c, -EBUSY, "write inside a recorded step");
		return c->err;
	}
	if (bytes && NRV_CU(c, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->stream)))
		return c->err;
	/* The caller may reuse src at once: wait for a pageable source. */
	NRV_CU(c, cudaStreamSynchronize(c->stream));
	return c->err;
}

static int cu_read(struct nrv_backend *be, void *dst, const void *src, size_t bytes)
{
	cub *c = cu(be);
	if (!enter(c))
		return c->err;
	if (c->gstate != NRV_CU_G_NONE) {
		note(c, -EBUSY, "read inside a recorded step");
		return c->err;
	}
	if (bytes)
		NRV_CU(c, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->stream));
	NRV_CU(c, cudaStreamSynchronize(c->stream));
	c->stage_used = 0;
	c->n_cache = 0;
	return c->err;
}

/* Close a recorded step: instantiate a capture, or check and launch a replay. */
static void graph_end(cub *c)
{
	int st = c->gstate;
	c->gstate = NRV_CU_G_NONE;
	if (st == NRV_CU_G_CAPTURE) {
		cudaGraph_t g = NULL;
		int rc = NRV_CU(c, cudaStreamEndCapture(c->stream, &g));
		cudaGraphExec_t ex = NULL;
		if (!rc && !c->err)
			rc = NRV_CU(c, cudaGraphInstantiate(&ex, g, 0));
		if (g)
			cudaGraphDestroy(g);
		if (rc || c->err) {
			if (ex)
				cudaGraphExecDestroy(ex);
			return;
		}
		int i = c->n_graphs < NRV_CU_GRAPHS ? c->n_graphs++ : NRV_CU_GRAPHS - 1;
		if (i == NRV_CU_GRAPHS - 1 && c->graphs[i].exec)
			cudaGraphExecDestroy(c->graphs[i].exec);
		c->graphs[i].key = c->gkey;
		c->graphs[i].trace = c->trace;
		c->graphs[i].exec = ex;
		NRV_CU(c, cudaGraphLaunch(ex, c->stream));
	} else if (st == NRV_CU_G_REPLAY) {
		for (int i = 0; i < c->n_graphs; i++) {
			if (c->graphs[i].key != c->gkey)
				continue;
			if (c->graphs[i].trace != c->trace) {
				fprintf(stderr, "nirvana: error: cuda: a step opened with key %d differs from "
					"the one recorded for it; not replayed\n", c->gkey);
				if (!c->err)
					c->err = -EIO;
				return;
			}
			if (!c->err)
				NRV_CU(c, cudaGraphLaunch(c->graphs[i].exec, c->stream));
			return;
		}
	}
}

static int cu_step_begin(struct nrv_backend *be, int key)
{
	cub *c = cu(be);
	if (!c->use_graphs || key <= 0 || !enter(c))
		return c->err;
	if (c->gstate != NRV_CU_G_NONE) {
		note(c, -EBUSY, "step_begin inside a recorded step");
		return c->err;
	}
	/* Host arrays of the step start at slot 0, where the recording found them. */
	if (NRV_CU(c, cudaStreamSynchronize(c->stream)))
		return c->err;
	c->stage_used = 0;
	c->n_cache = 0;
	c->trace = 0xcbf29ce484222325ull;
	c->gkey = key;
	for (int i = 0; i < c->n_graphs; i++) {
		if (c->graphs[i].key == key) {
			c->gstate = NRV_CU_G_REPLAY;
			return 0;
		}
	}
	if (NRV_CU(c, cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeThreadLocal)))
		return c->err;
	c->gstate = NRV_CU_G_CAPTURE;
	return 0;
}

static int cu_sync(struct nrv_backend *be)
{
	cub *c = cu(be);
	if (c->device != 0)
		NRV_CU(c, cudaSetDevice(c->device));
	if (c->gstate != NRV_CU_G_NONE)
		graph_end(c);
	NRV_CU(c, cudaStreamSynchronize(c->stream));
	c->stage_used = 0;
	c->n_cache = 0;
	return c->err;
}

/* ---- weights ---- */

static size_t map_slot(const void *data, int cap)
{
	uintptr_t h = (uintptr_t)data;
	h ^= h >> 17;
	h *= 0x9E3779B97F4A7C15ull;
	return (size_t)(h >> 20) & (size_t)(cap - 1);
}

/* This backend's device copy of tensor t, or NULL when it was not uploaded here. */
static const void *dev_of(const cub *c, const struct nrv_tensor *t)
{
	if (!c->map_cap)
		return NULL;
	for (size_t i = map_slot(t->data, c->map_cap);; i = (i + 1) & (size_t)(c->map_cap - 1)) {
		int u = c->map[i];
		if (!u)
			return NULL;
		if (c->ups[u - 1].data == t->data && c->ups[u - 1].owner)
			return c->ups[u - 1].dev;
	}
}

/* Index upload u (owner) by its host pointer; grows the table. */
static int map_add(cub *c, int u)
{
	if (2 * (c->n_ups + 1) >= c->map_cap) {
		int cap = c->map_cap ? 2 * c->map_cap : 256;
		int *m = (int *)calloc((size_t)cap, sizeof(int));
		if (!m)
			return -ENOMEM;
		free(c->map);
		c->map = m;
		c->map_cap = cap;
		for (int i = 0; i < c->n_ups; i++) {
			if (!c->ups[i].owner || i == u)
				continue;
			size_t j = map_slot(c->ups[i].data, cap);
			while (m[j])
				j = (j + 1) & (size_t)(cap - 1);
			m[j] = i + 1;
		}
	}
	/* The newest upload of a host pointer wins. */
	size_t j = map_slot(c->ups[u].data, c->map_cap);
	while (c->map[j] && c->ups[c->map[j] - 1].data != c->ups[u].data)
		j = (j + 1) & (size_t)(c->map_cap - 1);
	c->map[j] = u + 1;
	return 0;
}

static int cu_upload(struct nrv_backend *be, struct nrv_tensor *t)
{
	cub *c = cu(be);
	if (!enter(c))
		return c->err;
	if (nrv_cu_row_units(t->type, t->ne0) < 0)
		return -ENOTSUP;
	if (t->ne0 > c->cfg.max_row || t->ne1 < 1)
		return -EINVAL;
	size_t bytes = t->row_bytes * (size_t)t->ne1;
	if (c->n_ups == c->cap_ups) {
		int cap = c->cap_ups ? 2 * c->cap_ups : 64;
		struct nrv_cu_upload *u = (struct nrv_cu_upload *)realloc(c->ups, cap * sizeof(*u));
		if (!u)
			return -ENOMEM;
		c->ups = u;
		c->cap_ups = cap;
	}
	struct nrv_cu_upload *u = &c->ups[c->n_ups];
	memset(u, 0, sizeof(*u));
	u->data = t->data;
	u->bytes = bytes;
	/* A tied output matrix is the embedding: one device copy for both.
	 * The bytes are copied again, so a host buffer reused for other
	 * contents (tests do that) never leaves a stale copy behind. */
	const void *have = dev_of(c, t);
	for (int i = 0; have && i < c->n_ups; i++) {
		if (c->ups[i].dev == have && c->ups[i].bytes == bytes && c->ups[i].owner) {
			if (NRV_CU(c, cudaMemcpy(c->ups[i].dev, t->data, bytes, cudaMemcpyHostToDevice)))
				return -EIO;
			u->dev = c->ups[i].dev;
			c->n_ups++;
			return 0;
		}
	}
	if (cudaMalloc(&u->dev, bytes) != cudaSuccess) {
		cudaGetLastError();
		fprintf(stderr, "nirvana: error: cuda: out of device memory for tensor '%s' (%zu bytes)\n",
			t->name ? t->name : "?", bytes);
		return -ENOMEM;
	}
	u->owner = 1;
	c->n_ups++;
	if (map_add(c, c->n_ups - 1))
		return -ENOMEM;
	if (NRV_CU(c, cudaMemcpy(u->dev, t->data, bytes, cudaMemcpyHostToDevice)))
		return -EIO;
	if (c->gemm_mode == NRV_CU_GEMM_CUBLAS) {
		size_t need = (size_t)t->ne0 * (size_t)t->ne1;
		if (need > c->wh_cap) {
			cudaFree(c->wh);
			c->wh = NULL;
			c->wh_cap = 0;
			if (NRV_CU(c, cudaMalloc((void **)&c->wh, need * sizeof(__half))))
				return -ENOMEM;
			c->wh_cap = need;
		}
	}
	return 0;
}

/* ---- ops ---- */

static void cu_get_rows(struct nrv_backend *be, const struct nrv_tensor *emb,
			const int32_t *ids, int n, float *out)
{
	cub *c = cu(be);
	if (!enter(c))
		return;
	const void *w = dev_of(c, emb);
	if (!w) {
		note(c, -EINVAL, "get_rows on a tensor that was not uploaded");
		return;
	}
	const int32_t *d_ids = stage(c, ids, (size_t)n);
	const void *a[] = { w, d_ids, out, (const void *)(intptr_t)n };
	trace(c, 1, a, sizeof(a));
	if (d_ids && !replaying(c))
		note(c, nrv__cu_get_rows(c, emb->type, w, emb->row_bytes, emb->ne1, emb->ne0, d_ids, n,
					 out), "get_rows");
}

static int matmul_cublas(cub *c, const struct nrv_tensor *w, const void *wd, const float *x, int n,
			 float *y)
{
#if !NRV_HAVE_CUBLAS
	return nrv__cu_matvec(c, w->type, wd, w->row_bytes, w->ne1, w->ne0, x, n, y);
#else
	int rc = nrv__cu_dequant_half(c, w->type, wd, w->row_bytes, w->ne1, w->ne0, c->wh);
	if (!rc)
		rc = nrv__cu_to_half(c, x, c->xh, (int64_t)n * w->ne0);
	if (rc)
		return rc;
	/* Row-major W (rows, k) is column-major (k, rows): y^T = W x^T. */
	const float one = 1.0f, zero = 0.0f;
	return NRV_CU(c, cublasGemmEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)w->ne1, n, (int)w->ne0,
				      &one, c->wh, CUDA_R_16F, (int)w->ne0, c->xh, CUDA_R_16F,
				      (int)w->ne0, &zero, y, CUDA_R_32F, (int)w->ne1,
				      CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
#endif
}

static void cu_matmul(struct nrv_backend *be, const struct nrv_tensor *w, const float *x, int n,
		      float *y)
{
	cub *c = cu(be);
	if (!enter(c))
		return;
	const void *wd = dev_of(c, w);
	if (!wd) {
		note(c, -EINVAL, "matmul on a tensor that was not uploaded");
		return;
	}
	const void *a[] = { wd, x, y, (const void *)(intptr_t)n };
	trace(c, 2, a, sizeof(a));
	if (replaying(c))
		return;
	int rc;
	if (c->gemm_mode == NRV_CU_GEMM_CUBLAS && n >= c->gemm_min && c->wh &&
	    (size_t)w->ne0 * (size_t)w->ne1 <= c->wh_cap && n <= c->cfg.max_tokens)
		rc = matmul_cublas(c, w, wd, x, n, y);
	else
		rc = nrv__cu_matvec(c, w->type, wd, w->row_bytes, w->ne1, w->ne0, x, n, y);
	note(c, rc, "matmul");
}

static void cu_rmsnorm(struct nrv_backend *be, const float *x, const float *w, float *y, int n,
		       int dim, float eps)
{
	cub *c = cu(be);
	if (!enter(c))
		return;
	const void *a[] = { x, w, y, (const void *)(intptr_t)n, (const void *)(intptr_t)dim };
	trace(c, 3, a, sizeof(a));
	if (!replaying(c))
		note(c, nrv__cu_rmsnorm(c, x, w, y, n, dim, eps), "rmsnorm");
}

static void cu_rope(struct nrv_backend *be, float *x, int n, int n_head, int head_dim, int n_rot,
		    const int32_t *pos, float freq_base, int mode)
{
	cub *c = cu(be);
	if (!enter(c))
		return;
	const int32_t *d_pos = stage(c, pos, (size_t)n);
	/* The host's powf, so the angles match the CPU path's to the bit. */
	float theta_scale = powf(freq_base, -2.0f / (float)n_rot);
	const void *a[] = { x, d_pos, (const void *)(intptr_t)n, (const void *)(intptr_t)n_head,
			    (const void *)(intptr_t)n_rot, (const void *)(intptr_t)mode };
	trace(c, 4, a, sizeof(a));
	if (d_pos && !replaying(c))
		note(c, nrv__cu_rope(c, x, n, n_head, head_dim, n_rot, d_pos, theta_scale, mode),
		     "rope");
}

static void cu_kv_store(struct nrv_backend *be, const struct nrv_kv_view *kv, const float *k,
			const float *v, int n, const int32_t *pos)
{
	cub *c = cu(be);
	if (!enter(c))
		return;
	stage_room(c, nrv_cu_stage_round((size_t)n) + nrv_cu_stage_round((size_t)kv->n_blocks));
	const int32_t *d_pos = stage(c, pos, (size_t)n);
	const int32_t *d_blk = d_pos ? stage(c, kv->blocks, (size_t)kv->n_blocks) : NULL;
	const void *a[] = { kv->k, kv->v, d_blk, k, v, d_pos, (const void *)(intptr_t)n,
			    (const void *)(intptr_t)kv->n_blocks };
	trace(c, 5, a, sizeof(a));
	if (d_blk && !replaying(c))
		note(c, nrv__cu_kv_store(c, kv->k, kv->v, d_blk, kv->block_tokens, kv->kv_dim, k, v, n,
					 d_pos), "kv_store");
}

static void cu_attention(struct nrv_backend *be, const struct nrv_attn_params *p,
			 const struct nrv_kv_view *kv, const float *q, int n, const int32_t *pos,
			 float *out)
{
	cub *c = cu(be);
	if (!enter(c))
		return;
	stage_room(c, nrv_cu_stage_round((size_t)n) + nrv_cu_stage_round((size_t)kv->n_blocks));
	const int32_t *d_pos = stage(c, pos, (size_t)n);
	const int32_t *d_blk = d_pos ? stage(c, kv->blocks, (size_t)kv->n_blocks) : NULL;
	const void *a[] = { kv->k, kv->v, d_blk, q, d_pos, out, (const void *)(intptr_t)n,
			    (const void *)(intptr_t)kv->n_blocks };
	trace(c, 6, a, sizeof(a));
	if (d_blk && !replaying(c))
		note(c, nrv__cu_attention(c, p, kv->k, kv->v, d_blk, kv->block_tokens, kv->kv_dim, q, n,
					  d_pos, out), "attention");
}

/* Every sequence's tokens in one launch: the positions, each token's
 * offset into the concatenated block tables and the tables go to the
 * device in one copy (nrv_cu_views_layout). The views must share one pool
 * (they do: one layer of the runner's cache); otherwise -EINVAL and the
 * caller loops over attention(). */
static int cu_attention_multi(struct nrv_backend *be, const struct nrv_attn_params *p,
			      const struct nrv_kv_view *kv, int n_seqs, const float *q,
			      const int *n_tok, const int32_t *pos, float *out)
{
	cub *c = cu(be);
	if (n_seqs < 1 || !kv || !n_tok || !pos)
		return -EINVAL;
	int64_t n = 0, tab = 0;
	for (int s = 0; s < n_seqs; s++) {
		if (n_tok[s] < 1 || kv[s].n_blocks < 1 || kv[s].k != kv[0].k || kv[s].v != kv[0].v ||
		    kv[s].block_tokens != kv[0].block_tokens || kv[s].kv_dim != kv[0].kv_dim)
			return -EINVAL;
		n += n_tok[s];
		tab += kv[s].n_blocks;
	}
	if (n > c->cfg.max_tokens || n > (int64_t)NRV_CU_GRID_YZ_MAX)
		return -EINVAL;
	if (!enter(c))
		return 0; /* the sticky error is sync's to report */
	size_t rn = nrv_cu_stage_round((size_t)n);
	int64_t at = stage_reserve(c, 2 * rn + nrv_cu_stage_round((size_t)tab));
	if (at < 0)
		return 0;
	int32_t *h = c->stage_h + at;
	memcpy(h, pos, (size_t)n * sizeof(int32_t));
	if (nrv_cu_views_layout(kv, n_seqs, n_tok, (int)n, h + rn) < 0) {
		note(c, -EINVAL, "attention_multi layout");
		return 0;
	}
	int32_t *ht = h + 2 * rn;
	for (int s = 0; s < n_seqs; ht += kv[s].n_blocks, s++)
		memcpy(ht, kv[s].blocks, (size_t)kv[s].n_blocks * sizeof(int32_t));
	if (stage_send(c, (size_t)at, 2 * rn + (size_t)tab))
		return 0;
	const int32_t *d = c->stage_d + at;
	const void *a[] = { kv[0].k, kv[0].v, d, q, out, (const void *)(intptr_t)n,
			    (const void *)(intptr_t)n_seqs, (const void *)(intptr_t)tab };
	trace(c, 9, a, sizeof(a));
	if (!replaying(c))
		note(c, nrv__cu_attention_multi(c, p, kv[0].k, kv[0].v, d + 2 * rn, d + rn,
						kv[0].block_tokens, kv[0].kv_dim, q, (int)n, d, out),
		     "attention_multi");
	return 0;
}

static void cu_swiglu(struct nrv_backend *be, const float *gate, const float *up, float *out,
		      int n)
{
	cub *c = cu(be);
	if (!enter(c))
		return;
	const void *a[] = { gate, up, out, (const void *)(intptr_t)n };
	trace(c, 7, a, sizeof(a));
	if (!replaying(c))
		note(c, nrv__cu_swiglu(c, gate, up, out, n), "swiglu");
}

static void cu_add(struct nrv_backend *be, float *y, const float *x, int n)
{
	cub *c = cu(be);
	if (!enter(c))
		return;
	const void *a[] = { y, x, (const void *)(intptr_t)n };
	trace(c, 8, a, sizeof(a));
	if (!replaying(c))
		note(c, nrv__cu_add(c, y, x, n), "add");
}

extern "C" const struct nrv_backend_ops nrv_backend_cuda_ops = {
	/* .name = */ "cuda",
	/* .host_memory = */ 0,
	/* .probe = */ cu_probe,
	/* .create = */ cu_create,
	/* .destroy = */ cu_destroy,
	/* .alloc = */ cu_alloc,
	/* .free = */ cu_free,
	/* .upload = */ cu_upload,
	/* .get_rows = */ cu_get_rows,
	/* .matmul = */ cu_matmul,
	/* .matmul_multi = */ NULL,
	/* .rmsnorm = */ cu_rmsnorm,
	/* .rope = */ cu_rope,
	/* .kv_store = */ cu_kv_store,
	/* .attention = */ cu_attention,
	/* .attention_multi = */ cu_attention_multi,
	/* .swiglu = */ cu_swiglu,
	/* .add = */ cu_add,
	/* .sync = */ cu_sync,
	/* .step_begin = */ cu_step_begin,
	/* .write = */ cu_write,
	/* .read = */ cu_read,
};
