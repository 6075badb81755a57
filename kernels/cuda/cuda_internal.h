/*
 * kernels/cuda/cuda_internal.h - what the CUDA backend's .cu files share:
 * the backend struct, the one check macro for CUDA and cuBLAS calls, and
 * the kernel launchers (each queues work on the backend's stream and
 * returns 0 or -errno).
 *
 * C++ (nvcc) only; nothing outside kernels/cuda includes it.
 */
#ifndef NRV_KERNELS_CUDA_INTERNAL_H
#define NRV_KERNELS_CUDA_INTERNAL_H

#if NRV_HAVE_CUBLAS
#include <cublas_v2.h>
#endif
#include <cuda_fp16.h>
#include <cuda_runtime.h>

extern "C" {
#include "kernels/backend.h"
#include "kernels/cuda/geom.h"
}

/* Most distinct host arrays remembered per step (see stage()). */
#define NRV_CU_STAGE_CACHE 8

struct nrv_cu_upload {
	const void *data;       /* host bytes it came from */
	void *dev;              /* device copy, owned when owner */
	size_t bytes;
	int owner;
};

struct nrv_cu_staged {
	const void *host;       /* caller's array */
	size_t n;               /* int32 count */
	size_t off;             /* slot offset in the staging area */
};

enum { NRV_CU_GEMM_ROWS = 0, NRV_CU_GEMM_CUBLAS = 1 };
enum { NRV_CU_G_NONE = 0, NRV_CU_G_CAPTURE = 1, NRV_CU_G_REPLAY = 2 };
/* Most recorded step shapes per backend. */
#define NRV_CU_GRAPHS 4

struct nrv_cu_backend {
	struct nrv_backend base;
	struct nrv_backend_cfg cfg;
	int device;
	int err;                    /* first failure (-EIO...), sticky */
	cudaStream_t stream;
#if NRV_HAVE_CUBLAS
	cublasHandle_t blas;
#endif
	/* host arrays to device: pinned ring reset at each sync */
	int32_t *stage_h;           /* (stage_cap) pinned */
	int32_t *stage_d;           /* (stage_cap) device */
	size_t stage_cap, stage_used;
	struct nrv_cu_staged cache[NRV_CU_STAGE_CACHE];
	int n_cache;
	/* weights */
	struct nrv_cu_upload *ups;
	int n_ups, cap_ups;
	/* host data pointer -> index into ups + 1 (0: empty), open addressing:
	 * several contexts may share a model, so each backend finds its own
	 * copy instead of trusting nrv_tensor.dev */
	int *map;
	int map_cap;                /* power of two, > 2 * n_ups */
	/* matmul path: rows (batch invariant, default) or cuBLAS for n >= gemm_min */
	int gemm_mode;
	int gemm_min;
	__half *wh;                 /* dequantized weight scratch (wh_cap halves) */
	size_t wh_cap;
	__half *xh;                 /* activations as half: (max_tokens, max_row) */
	size_t attn_smem;           /* bytes of dynamic shared memory per attention block */
	/* CUDA graphs (NRV_CUDA_GRAPH=1): a step opened with key > 0 is
	 * captured the first time and replayed after; trace is a hash of the
	 * step's ops and arguments, checked before every replay. */
	int use_graphs;
	int gstate;                 /* NRV_CU_G_* of the open step */
	int gkey;                   /* key of the open step */
	uint64_t trace;
	struct {
		int key;
		uint64_t trace;
		cudaGraphExec_t exec;
	} graphs[NRV_CU_GRAPHS];
	int n_graphs;
};

/*
 * The check: every CUDA runtime and cuBLAS call goes through NRV_CU. A
 * failure is logged (call, file, line, the library's message), recorded
 * as the backend's sticky error and returned as -EIO; nothing aborts.
 * be may be NULL (probe, create before the struct exists).
 */
int nrv__cu_fail(struct nrv_cu_backend *be, const char *what, const char *msg, const char *file,
		 int line);

static inline int nrv__cu_check(struct nrv_cu_backend *be, cudaError_t e, const char *what,
				const char *file, int line)
{
	return e == cudaSuccess ? 0 : nrv__cu_fail(be, what, cudaGetErrorString(e), file, line);
}

#if NRV_HAVE_CUBLAS
static inline int nrv__cu_check(struct nrv_cu_backend *be, cublasStatus_t s, const char *what,
				const char *file, int line)
{
	return s == CUBLAS_STATUS_SUCCESS ? 0 :
	       nrv__cu_fail(be, what, cublasGetStatusString(s), file, line);
}
#endif

#define NRV_CU(be, call) nrv__cu_check((be), (call), #call, __FILE__, __LINE__)

/* ---- launchers (matvec.cu, ops.cu, attn.cu) ---- */

/* y (n, rows) = x (n, ne0) . W^T, W (rows, ne0) of `type` at w (device). */
int nrv__cu_matvec(struct nrv_cu_backend *be, int type, const void *w, size_t row_bytes,
		   int64_t rows, int64_t ne0, const float *x, int n, float *y);
/* dst (rows, ne0) half = dequant(W). */
int nrv__cu_dequant_half(struct nrv_cu_backend *be, int type, const void *w, size_t row_bytes,
			 int64_t rows, int64_t ne0, __half *dst);
/* dst = half(src) over n floats. */
int nrv__cu_to_half(struct nrv_cu_backend *be, const float *src, __half *dst, int64_t n);
/* out (n, ne0) = dequant(W rows ids[i]); ids on the device; ids outside
 * [0, rows) give zero rows. */
int nrv__cu_get_rows(struct nrv_cu_backend *be, int type, const void *w, size_t row_bytes,
		     int64_t rows, int64_t ne0, const int32_t *ids, int n, float *out);
int nrv__cu_rmsnorm(struct nrv_cu_backend *be, const float *x, const float *w, float *y, int n,
		    int dim, float eps);
/* pos on the device; theta_scale computed by the caller (host powf). */
int nrv__cu_rope(struct nrv_cu_backend *be, float *x, int n, int n_head, int head_dim,
		 int n_rot, const int32_t *pos, float theta_scale, int mode);
/* blocks and pos on the device. */
int nrv__cu_kv_store(struct nrv_cu_backend *be, nrv_half *kpool, nrv_half *vpool,
		     const int32_t *blocks, int block_tokens, int kv_dim, const float *k,
		     const float *v, int n, const int32_t *pos);
int nrv__cu_attention(struct nrv_cu_backend *be, const struct nrv_attn_params *p,
		      const nrv_half *kpool, const nrv_half *vpool, const int32_t *blocks,
		      int block_tokens, int kv_dim, const float *q, int n, const int32_t *pos,
		      float *out);
/* attention over several sequences' tokens in one launch: token t reads
 * its sequence's block table at tables + toff[t]; tables, toff and pos on
 * the device (nrv_cu_views_layout). */
int nrv__cu_attention_multi(struct nrv_cu_backend *be, const struct nrv_attn_params *p,
			    const nrv_half *kpool, const nrv_half *vpool, const int32_t *tables,
			    const int32_t *toff, int block_tokens, int kv_dim, const float *q,
			    int n, const int32_t *pos, float *out);
/* Allow attn_smem bytes of dynamic shared memory for the attention kernel. */
int nrv__cu_attention_init(struct nrv_cu_backend *be);
int nrv__cu_swiglu(struct nrv_cu_backend *be, const float *gate, const float *up, float *out,
		   int64_t n);
int nrv__cu_add(struct nrv_cu_backend *be, float *y, const float *x, int64_t n);

#endif
