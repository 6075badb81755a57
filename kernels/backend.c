/*
 * kernels/backend.c - the backend registry: a name for each compiled-in
 * backend table and the --device spec parser.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"

const struct nrv_backend_ops *nrv_backend_find(const char *name)
{
	if (!name)
		return NULL;
	if (!strcmp(name, "cpu"))
		return &nrv_backend_cpu_ops;
#if NRV_HAVE_CUDA
	if (!strcmp(name, "cuda"))
		return &nrv_backend_cuda_ops;
#endif
	return NULL;
}

/* Devices ops can run on now (1 without a probe); why gets the reason for 0. */
static int probe(const struct nrv_backend_ops *ops, char *why, size_t whylen)
{
	if (whylen)
		why[0] = 0;
	return ops->probe ? ops->probe(why, whylen) : 1;
}

int nrv_backend_select(const char *spec, const struct nrv_backend_ops **ops, int *device,
		       char *err, size_t errlen)
{
	*ops = NULL;
	*device = 0;
	if (!spec || !spec[0] || !strcmp(spec, "cpu")) {
		*ops = &nrv_backend_cpu_ops;
		return 0;
	}
	char why[256];
	if (!strcmp(spec, "auto")) {
		const struct nrv_backend_ops *cu = nrv_backend_find("cuda");
		*ops = cu && probe(cu, why, sizeof(why)) > 0 ? cu : &nrv_backend_cpu_ops;
		return 0;
	}
	if (strncmp(spec, "cuda", 4) != 0 || (spec[4] != 0 && spec[4] != ':')) {
		snprintf(err, errlen, "unknown device '%s': use cpu, cuda, cuda:N or auto", spec);
		return -EINVAL;
	}
	long dev = 0;
	if (spec[4] == ':') {
		char *end;
		errno = 0;
		dev = strtol(spec + 5, &end, 10);
		if (errno || end == spec + 5 || *end || dev < 0 || dev > INT_MAX) {
			snprintf(err, errlen, "bad device '%s': the GPU index after 'cuda:' is a number >= 0",
				 spec);
			return -EINVAL;
		}
	}
	const struct nrv_backend_ops *cu = nrv_backend_find("cuda");
	if (!cu) {
		snprintf(err, errlen, "device '%s': this build has no CUDA backend "
			 "(rebuild with nvcc available and -Dcuda=enabled)", spec);
		return -ENOTSUP;
	}
	int n = probe(cu, why, sizeof(why));
	if (n <= 0) {
		snprintf(err, errlen, "device '%s': no CUDA device (%s)", spec, why[0] ? why : "none visible");
		return -ENODEV;
	}
	if (dev >= n) {
		snprintf(err, errlen, "device '%s': no such GPU; %d visible (cuda:0..cuda:%d)", spec, n,
			 n - 1);
		return -ENODEV;
	}
	*ops = cu;
	*device = (int)dev;
	return 0;
}
