/*
 * kernels/cpu/select.c - choose the CPU kernel table at start-up.
 *
 * The candidates are listed best first. Each names the ISA, how to ask
 * the CPU whether it has it, and the table getter of the static library
 * built for it. An ISA whose library is not part of this build has a NULL
 * getter: it can be detected but not chosen. The scalar reference is last
 * and always available.
 */
#include <string.h>

#include "kernels/cpu/kernels.h"

/* The AVX2 kernels also use FMA and F16C (half conversions). */
static int cpu_has_avx2(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
	       __builtin_cpu_supports("f16c");
}

/* AVX-512 kernels use the F, BW, VL and VNNI subsets, on top of the AVX2
 * set (and fall back to AVX2 kernels for the types they do not cover). */
static int cpu_has_avx512(void)
{
	__builtin_cpu_init();
	return cpu_has_avx2() && __builtin_cpu_supports("avx512f") &&
	       __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
	       __builtin_cpu_supports("avx512vnni");
}

static int cpu_has_ref(void)
{
	return 1;
}

struct isa_candidate {
	const char *name;
	int (*supported)(void);
	const struct nrv_cpu_kernels *(*table)(void); /* NULL: not built */
};

static const struct isa_candidate candidates[] = {
	{ "avx512", cpu_has_avx512, nrv_cpu_kernels_avx512 },
	{ "avx2", cpu_has_avx2, nrv_cpu_kernels_avx2 },
	{ "ref", cpu_has_ref, nrv_cpu_kernels_ref },
};

const struct nrv_cpu_kernels *nrv_cpu_kernels_select(const char *force)
{
	size_t n = sizeof(candidates) / sizeof(candidates[0]);
	for (size_t i = 0; i < n; i++) {
		const struct isa_candidate *c = &candidates[i];
		if (force && strcmp(force, c->name) != 0)
			continue;
		if (c->table && c->supported())
			return c->table();
		if (force)
			return NULL; /* forced, but not built or not on this CPU */
	}
	return NULL; /* unknown forced name */
}
