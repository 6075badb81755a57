/*
 * kernels/backend.h - the compute backend interface.
 *
 * The model graph (src/model.c) runs every op through this table, so the
 * core never names an instruction set or CUDA. The CPU backend
 * (kernels/cpu/backend_cpu.c) and the CUDA backend (kernels/cuda/) implement
 * it; kernels/backend.c finds one by name (nrv_backend_find, --device).
 *
 * Memory. Float buffers handed to ops (activations, the KV pools, norm
 * weights) are backend memory from be->ops->alloc: ordinary host memory for
 * the CPU backend, device memory for CUDA. Token ids, positions and block
 * tables are always host arrays (the backend copies them where it needs
 * them). The caller moves bytes in and out with write / read; where
 * host_memory is set it may also touch backend memory directly.
 *
 * Ordering. A device backend may queue ops and return before they run; ops
 * run in call order; read and sync wait for everything queued before them.
 * A failure inside a queued op is reported by the next sync or read.
 */
#ifndef NRV_KERNELS_BACKEND_H
#define NRV_KERNELS_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/quant.h"

/* A 2-D weight: ne1 rows of ne0 elements each, rows contiguous. */
struct nrv_tensor {
	int type;          /* enum nrv_type */
	int64_t ne0;       /* row length, elements */
	int64_t ne1;       /* rows */
	size_t row_bytes;  /* bytes of one row */
	const void *data;  /* host bytes (file mapping or arena), row-major */
	void *dev;         /* reserved; the CUDA backend finds its device copy by `data`,
			    * so several contexts can share one model */
	const char *name;  /* for messages */
};

/*
 * A sequence's KV cache for one layer, as the attention op sees it:
 * `n_blocks` blocks of `block_tokens` positions; position p lives in
 * block blocks[p / block_tokens], slot p % block_tokens. Each slot holds
 * kv_dim = n_kv_head * head_dim half floats for K and as many for V.
 */
struct nrv_kv_view {
	nrv_half *k;            /* base of the K pool: (n_pool_blocks, block_tokens, kv_dim) */
	nrv_half *v;            /* base of the V pool, same shape */
	const int32_t *blocks;  /* block table of this sequence */
	int n_blocks;
	int block_tokens;
	int kv_dim;
};

/* Longest attention head every backend supports (elements). */
#define NRV_MAX_HEAD_DIM 512

struct nrv_attn_params {
	int n_head;
	int n_kv_head;
	int head_dim;
	float scale;  /* usually 1/sqrt(head_dim) */
};

struct nrv_backend_cfg {
	int n_threads;        /* worker threads (>= 1) */
	const int *cores;     /* core ids to pin to, or NULL */
	int n_cores;
	int max_tokens;       /* most tokens in one step */
	int max_row;          /* longest weight row (elements) */
	int max_ctx;          /* longest sequence (positions) */
	int max_heads;        /* most attention heads */
	int device;           /* device ordinal for a device backend (cuda:N); 0 otherwise */
};

struct nrv_backend;

/* Most matrices one matmul_multi call takes (Q, K, V; gate, up). */
#define NRV_MATMUL_MULTI_MAX 4

struct nrv_backend_ops {
	const char *name;
	/* alloc returns plain host memory the caller may read and write. */
	int host_memory;

	/*
	 * Devices this backend can run on now: 1 for the CPU, the visible
	 * GPUs for CUDA (0 when there is no driver or no device, with the
	 * reason in why). NULL means 1.
	 */
	int (*probe)(char *why, size_t whylen);

	/* Create / destroy. destroy accepts NULL. Returns 0 or -errno. */
	int (*create)(const struct nrv_backend_cfg *cfg, struct nrv_backend **out);
	void (*destroy)(struct nrv_backend *be);

	/* Backend memory (aligned to 64 bytes, zeroed). free accepts NULL. */
	void *(*alloc)(struct nrv_backend *be, size_t bytes);
	void (*free)(struct nrv_backend *be, void *p);

	/* Make a weight usable by this backend (copy to device, repack...). */
	int (*upload)(struct nrv_backend *be, struct nrv_tensor *t);

	/* out[i, :] = dequant(emb row ids[i]); out is (n, emb->ne0). */
	void (*get_rows)(struct nrv_backend *be, const struct nrv_tensor *emb,
			 const int32_t *ids, int n, float *out);
	/* y[i, r] = dot(w row r, x[i, :]) for i < n; x is (n, w->ne0), y is (n, w->ne1). */
	void (*matmul)(struct nrv_backend *be, const struct nrv_tensor *w,
		       const float *x, int n, float *y);
	/*
	 * y[m][i, r] = dot(w[m] row r, x[i, :]) for m < n_w: several matrices
	 * of one type and one row length applied to the same x in one go (the
	 * activations are prepared once). Each y[m] is bit for bit what
	 * matmul(w[m], x, n, y[m]) writes. n_w <= NRV_MATMUL_MULTI_MAX.
	 * Returns 0, or -EINVAL (count, types or row lengths differ) having
	 * done nothing. Optional: NULL in a backend that lacks it.
	 */
	int (*matmul_multi)(struct nrv_backend *be, const struct nrv_tensor *const *w, int n_w,
			    const float *x, int n, float *const *y);
	/* y[i] = rmsnorm(x[i]) * w for n rows of dim. */
	void (*rmsnorm)(struct nrv_backend *be, const float *x, const float *w,
			float *y, int n, int dim, float eps);
	/* Rotary embedding in place on x: (n, n_head, head_dim), token i at pos[i]. */
	void (*rope)(struct nrv_backend *be, float *x, int n, int n_head, int head_dim,
		     int n_rot, const int32_t *pos, float freq_base, int mode);
	/* Store k, v: (n, kv_dim) at positions pos[i] of the view. */
	void (*kv_store)(struct nrv_backend *be, const struct nrv_kv_view *kv,
			 const float *k, const float *v, int n, const int32_t *pos);
	/* Causal attention of n queries q: (n, n_head, head_dim), query i at
	 * pos[i] attending to positions 0..pos[i] of kv; out like q. */
	void (*attention)(struct nrv_backend *be, const struct nrv_attn_params *p,
			  const struct nrv_kv_view *kv, const float *q, int n,
			  const int32_t *pos, float *out);
	/*
	 * attention for n_seqs sequences at once: sequence s has n_tok[s] >= 1
	 * queries and its own view kv[s]; q, pos and out hold the sequences'
	 * tokens one after the other (sequence s starts at token
	 * n_tok[0] + ... + n_tok[s-1]). Each query's result is bit for bit what
	 * attention() on its own sequence writes. Host arrays: kv, n_tok, pos.
	 * Returns 0, or -EINVAL (a count below 1) having done nothing.
	 * Optional: NULL in a backend that lacks it (the caller loops).
	 */
	int (*attention_multi)(struct nrv_backend *be, const struct nrv_attn_params *p,
			       const struct nrv_kv_view *kv, int n_seqs, const float *q,
			       const int *n_tok, const int32_t *pos, float *out);
	/* out = silu(gate) * up over n floats. */
	void (*swiglu)(struct nrv_backend *be, const float *gate, const float *up,
		       float *out, int n);
	/* y += x over n floats. */
	void (*add)(struct nrv_backend *be, float *y, const float *x, int n);

	/* Wait for queued work; 0 or -errno (-EIO when a queued op failed). */
	int (*sync)(struct nrv_backend *be);

	/*
	 * Optional (NULL: nothing to do). Opens a step that the next sync
	 * closes. key > 0 promises that the step issues the same ops with the
	 * same backend buffers and sizes as every earlier step opened with
	 * that key (only the contents of host arrays - ids, positions, block
	 * tables - may differ), so a device backend may record the step once
	 * and replay it. key 0 promises nothing. Returns 0 or -errno.
	 */
	int (*step_begin)(struct nrv_backend *be, int key);

	/*
	 * Copy bytes host -> backend memory (write) or backend -> host (read),
	 * in order with the queued ops; read returns when dst holds them.
	 * 0 or -errno (-EIO for a device error, with a logged message).
	 */
	int (*write)(struct nrv_backend *be, void *dst, const void *src, size_t bytes);
	int (*read)(struct nrv_backend *be, void *dst, const void *src, size_t bytes);
};

/* Every backend struct starts with its ops table. */
struct nrv_backend {
	const struct nrv_backend_ops *ops;
};

/* The CPU backend's table (kernels/cpu/backend_cpu.c). */
extern const struct nrv_backend_ops nrv_backend_cpu_ops;
/* The CUDA backend's table (kernels/cuda/backend_cuda.cu): only in builds
 * with CUDA; reach it through nrv_backend_find("cuda"). */
extern const struct nrv_backend_ops nrv_backend_cuda_ops;

/* ---- the registry (kernels/backend.c) ---- */

/* The table named "cpu" or "cuda"; NULL when unknown or not built in. */
const struct nrv_backend_ops *nrv_backend_find(const char *name);

/*
 * Resolve a device spec as --device takes it: "cpu", "cuda" (device 0),
 * "cuda:N", or "auto" (CUDA device 0 when one is visible, else the CPU).
 * NULL or "" mean "cpu". On success *ops and *device are set and 0 is
 * returned; otherwise err says what to fix: -EINVAL for a malformed spec,
 * -ENOTSUP for CUDA in a build without it, -ENODEV when no such device is
 * visible.
 */
int nrv_backend_select(const char *spec, const struct nrv_backend_ops **ops, int *device,
		       char *err, size_t errlen);

#endif
