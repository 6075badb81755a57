/*
 * tests/gpu/gpu_util.h - what the GPU test programs share: exit codes
 * (liburing style: 0 pass, 1 fail, 77 skip), the skip check, NMSE, and
 * host <-> backend copies.
 *
 * These are plain C programs, not Criterion tests, so that they build and
 * run on GPU machines that have only a compiler and the CUDA toolkit.
 */
#ifndef NRV_TESTS_GPU_UTIL_H
#define NRV_TESTS_GPU_UTIL_H

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"

#define T_PASS 0
#define T_FAIL 1
#define T_SKIP 77

/* The CUDA table when a device is visible; otherwise print why and exit 77. */
static inline const struct nrv_backend_ops *gpu_or_skip(const char *prog)
{
	const struct nrv_backend_ops *cu = nrv_backend_find("cuda");
	if (!cu) {
		printf("SKIP %s: this build has no CUDA backend\n", prog);
		exit(T_SKIP);
	}
	char why[256] = "";
	int n = cu->probe ? cu->probe(why, sizeof(why)) : 0;
	if (n <= 0) {
		printf("SKIP %s: no CUDA device visible (%s)\n", prog, why[0] ? why : "none");
		exit(T_SKIP);
	}
	return cu;
}

/* Normalized mean squared error of got against ref: sum (r - g)^2 / sum r^2
 * (the plain sum when ref is all zero); INFINITY when got has a NaN or inf
 * where ref has none. */
static inline double nmse(const float *ref, const float *got, size_t n)
{
	double num = 0, den = 0;
	for (size_t i = 0; i < n; i++) {
		if (isfinite(ref[i]) && !isfinite(got[i]))
			return INFINITY;
		double d = (double)ref[i] - (double)got[i];
		num += d * d;
		den += (double)ref[i] * ref[i];
	}
	return den > 0 ? num / den : num;
}

static inline void *dev_put(struct nrv_backend *be, const void *host, size_t bytes)
{
	void *p = be->ops->alloc(be, bytes);
	if (p && be->ops->write(be, p, host, bytes)) {
		be->ops->free(be, p);
		return NULL;
	}
	return p;
}

#endif
