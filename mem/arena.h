/*
 * mem/arena.h - one block of anonymous memory per model, for its weights.
 *
 * An arena is sized once, at model load, and never grows. It is backed by
 * the strongest page type the machine offers, trying in order:
 *
 *   hugetlb  explicit 2 MiB hugepages (MAP_HUGETLB | MAP_HUGE_2MB), used
 *            when enough are reserved and free (vm.nr_hugepages);
 *   thp      a 2 MiB-aligned anonymous mapping with MADV_HUGEPAGE, so the
 *            kernel backs it with transparent huge pages where it can;
 *   plain    an ordinary anonymous mapping (4 KiB pages).
 *
 * Each step down is logged once, when the arena is created, with the
 * reason ("no hugepages reserved: vm.nr_hugepages=0"). Optionally the
 * arena is locked in memory (mlock); when the memlock limit or missing
 * privileges refuse, the arena stays usable, unlocked, and the log says
 * how to fix it.
 *
 * Owns: the mapping. Does not own: what is stored in it.
 */
#ifndef NRV_MEM_ARENA_H
#define NRV_MEM_ARENA_H

#include <stddef.h>
#include <stdint.h>

#define NRV_ARENA_ALIGN ((size_t)2 << 20) /* the arena's base alignment and size granule */

enum nrv_arena_backing {
	NRV_ARENA_HUGETLB = 0, /* explicit 2 MiB hugepages */
	NRV_ARENA_THP,         /* transparent huge pages requested (madvise) */
	NRV_ARENA_PLAIN,       /* ordinary pages */
};

/* Test hooks: make a step fail as if the kernel had refused it, so the
 * fallback after it can be exercised on any machine. */
enum {
	NRV_ARENA_FAIL_HUGETLB = 1 << 0, /* MAP_HUGETLB fails with ENOMEM */
	NRV_ARENA_FAIL_THP = 1 << 1,     /* madvise(MADV_HUGEPAGE) fails with EINVAL */
	NRV_ARENA_FAIL_LOCK = 1 << 2,    /* mlock fails with EPERM */
};

struct nrv_arena_opts {
	int backing;   /* strongest backing to try (enum nrv_arena_backing);
			* 0 (hugetlb) tries all three */
	int lock;      /* 1: lock the arena in memory; 0: leave it swappable */
	int fail_mask; /* NRV_ARENA_FAIL_*; 0 outside tests */
};

struct nrv_arena_stats {
	int backing;     /* enum nrv_arena_backing actually used */
	size_t size;     /* bytes mapped, a multiple of NRV_ARENA_ALIGN */
	size_t locked;   /* bytes locked in memory: size, or 0 when unlocked */
	size_t huge;     /* bytes backed by huge pages: size for hugetlb; for
			  * thp what the kernel reported (AnonHugePages) at the
			  * last nrv_arena_refresh, 0 before */
	int lock_err;    /* 0, or the -errno that refused the lock */
	char why[256];   /* why stronger backings (and the lock) were not
			  * used, "; "-separated; "" when nothing fell back */
};

struct nrv_arena;

/*
 * Map an arena of at least size bytes (rounded up to NRV_ARENA_ALIGN).
 * opts may be NULL (all backings tried, not locked). The memory reads as
 * zeros. Returns 0, -EINVAL for size 0, or -ENOMEM (with err set) when
 * even a plain mapping fails. Fallbacks are not errors.
 */
int nrv_arena_create(size_t size, const struct nrv_arena_opts *opts, struct nrv_arena **out,
		     char *err, size_t errlen);
/* Unmap the arena (and unlock it). Accepts NULL. */
void nrv_arena_destroy(struct nrv_arena *a);

/* Base of the arena, NRV_ARENA_ALIGN-aligned, writable. */
void *nrv_arena_base(const struct nrv_arena *a);
size_t nrv_arena_size(const struct nrv_arena *a);
/* How the arena is held, for `info` and /health. Cheap: no system call. */
void nrv_arena_stats(const struct nrv_arena *a, struct nrv_arena_stats *out);
/* Ask the kernel (/proc/self/smaps) how much of a thp arena is really in
 * huge pages, for the stats. Call after filling it; reads a procfs file,
 * so not on a hot path. */
void nrv_arena_refresh(struct nrv_arena *a);

/* "hugetlb", "thp", "plain"; -1 when unknown. */
int nrv_arena_backing_parse(const char *s);
const char *nrv_arena_backing_name(int backing);

#endif
