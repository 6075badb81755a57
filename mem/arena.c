/*
 * mem/arena.c - hugepage, transparent-huge-page or plain anonymous memory
 * for a model's weights, optionally locked.
 */
#include "mem/arena.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"

#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << 26) /* log2(2 MiB) << MAP_HUGE_SHIFT */
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 0x01
#endif

#define HP_SYSFS "/sys/kernel/mm/hugepages/hugepages-2048kB/"

struct nrv_arena {
	uint8_t *base; /* NRV_ARENA_ALIGN-aligned */
	size_t size;   /* bytes, multiple of NRV_ARENA_ALIGN */
	struct nrv_arena_stats st;
};

int nrv_arena_backing_parse(const char *s)
{
	if (!strcmp(s, "hugetlb") || !strcmp(s, "hugepage"))
		return NRV_ARENA_HUGETLB;
	if (!strcmp(s, "thp"))
		return NRV_ARENA_THP;
	if (!strcmp(s, "plain"))
		return NRV_ARENA_PLAIN;
	return -1;
}

const char *nrv_arena_backing_name(int backing)
{
	switch (backing) {
	case NRV_ARENA_HUGETLB: return "hugetlb";
	case NRV_ARENA_THP: return "thp";
	case NRV_ARENA_PLAIN: return "plain";
	}
	return "?";
}

/* One unsigned number from a sysfs/procfs file; -1 when unreadable. */
static long long read_num(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	long long v = -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static void add_why(struct nrv_arena_stats *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void add_why(struct nrv_arena_stats *st, const char *fmt, ...)
{
	size_t n = strlen(st->why);
	if (n && n + 2 < sizeof(st->why)) {
		memcpy(st->why + n, "; ", 3);
		n += 2;
	}
	if (n >= sizeof(st->why) - 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->why + n, sizeof(st->why) - n, fmt, ap);
	va_end(ap);
}

/* Explicit hugepages: only tried when enough are free, so that an mmap
 * that would succeed and then SIGBUS on fault cannot happen (MAP_HUGETLB
 * reserves the pages at mmap time; we check first to give a clear
 * reason). Returns the mapping or NULL with the reason logged. */
static uint8_t *map_hugetlb(size_t size, int fail_mask, struct nrv_arena_stats *st)
{
	long long nr = read_num(HP_SYSFS "nr_hugepages");
	long long fr = read_num(HP_SYSFS "free_hugepages");
	long long rs = read_num(HP_SYSFS "resv_hugepages");
	size_t need = size / NRV_ARENA_ALIGN;
	if (nr <= 0) {
		add_why(st, "no hugepages reserved: vm.nr_hugepages=%lld", nr < 0 ? 0 : nr);
		NRV_INFO("arena: %s; using transparent huge pages "
			 "(reserve with: sysctl vm.nr_hugepages=%zu)", st->why, need);
		return NULL;
	}
	long long avail = fr - (rs > 0 ? rs : 0);
	if (avail < (long long)need) {
		add_why(st, "only %lld of %lld reserved 2 MiB hugepages are free, %zu needed",
			avail < 0 ? 0 : avail, nr, need);
		NRV_WARN("arena: %s; using transparent huge pages", st->why);
		return NULL;
	}
	void *p = MAP_FAILED;
	int e = ENOMEM;
	if (!(fail_mask & NRV_ARENA_FAIL_HUGETLB)) {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB, -1, 0);
		e = errno;
	}
	if (p == MAP_FAILED) {
		add_why(st, "mmap(MAP_HUGETLB) of %zu hugepages failed: %s", need, strerror(e));
		NRV_WARN("arena: %s; using transparent huge pages", st->why);
		return NULL;
	}
	return p;
}

/* A 2 MiB-aligned anonymous mapping: map one granule more than needed and
 * trim both ends. The alignment is what lets the kernel use a huge page for
 * every 2 MiB of the arena (THP), and it also gives O_DIRECT reads the
 * buffer alignment they need. */
static uint8_t *map_aligned(size_t size, struct nrv_arena_stats *st)
{
	uint8_t *a = mmap(NULL, size + NRV_ARENA_ALIGN, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		return NULL;
	uint8_t *p = (uint8_t *)(((uintptr_t)a + NRV_ARENA_ALIGN - 1) & ~(uintptr_t)(NRV_ARENA_ALIGN - 1));
	if (p > a)
		munmap(a, (size_t)(p - a));
	size_t tail = (size_t)(a + size + NRV_ARENA_ALIGN - (p + size));
	if (tail)
		munmap(p + size, tail);
	(void)st;
	return p;
}

/* Whether THP is switched off system-wide ("[never]" selected). */
static int thp_never(void)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
	if (!f)
		return 0;
	char buf[128] = { 0 };
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return strstr(buf, "[never]") != NULL;
}

static void do_lock(struct nrv_arena *a, int fail_mask)
{
	struct nrv_arena_stats *st = &a->st;
	if (st->backing == NRV_ARENA_HUGETLB && !(fail_mask & NRV_ARENA_FAIL_LOCK)) {
		/* hugetlb pages are never swapped or reclaimed: they are locked
		 * by nature, and the kernel does not count them in VmLck. */
		st->locked = a->size;
		return;
	}
	int rc;
	int e;
	if (fail_mask & NRV_ARENA_FAIL_LOCK) {
		rc = -1;
		e = EPERM;
	} else {
		/* ON_FAULT: pages are locked as the loader writes them, so the
		 * lock does not prefault (zero) the whole arena a first time. */
		rc = mlock2(a->base, a->size, MLOCK_ONFAULT);
		e = errno;
		if (rc != 0 && (e == EINVAL || e == ENOSYS)) {
			rc = mlock(a->base, a->size);
			e = errno;
		}
	}
	if (rc == 0) {
		st->locked = a->size;
		return;
	}
	st->lock_err = -e;
	struct rlimit rl = { 0, 0 };
	getrlimit(RLIMIT_MEMLOCK, &rl);
	char lim[48];
	if (rl.rlim_cur == RLIM_INFINITY)
		snprintf(lim, sizeof(lim), "unlimited");
	else
		snprintf(lim, sizeof(lim), "%llu KiB", (unsigned long long)rl.rlim_cur / 1024);
	add_why(st, "mlock of %zu MiB refused: %s (RLIMIT_MEMLOCK %s)", a->size >> 20,
		strerror(e), lim);
	NRV_WARN("arena: cannot lock the weights in memory: mlock of %zu MiB refused: %s "
		 "(RLIMIT_MEMLOCK is %s); continuing unlocked. To fix: `ulimit -l unlimited` "
		 "in the shell, LimitMEMLOCK=infinity in the systemd unit, or grant CAP_IPC_LOCK",
		 a->size >> 20, strerror(e), lim);
}

int nrv_arena_create(size_t size, const struct nrv_arena_opts *opts, struct nrv_arena **out,
		     char *err, size_t errlen)
{
	*out = NULL;
	if (size == 0 || size > SIZE_MAX - 2 * NRV_ARENA_ALIGN) {
		snprintf(err, errlen, "arena size %zu is invalid", size);
		return -EINVAL;
	}
	struct nrv_arena_opts o = { 0 };
	if (opts)
		o = *opts;
	if (o.backing < NRV_ARENA_HUGETLB || o.backing > NRV_ARENA_PLAIN) {
		snprintf(err, errlen, "unknown arena backing %d", o.backing);
		return -EINVAL;
	}
	struct nrv_arena *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->size = (size + NRV_ARENA_ALIGN - 1) & ~(NRV_ARENA_ALIGN - 1);
	a->st.size = a->size;
	if (o.backing > NRV_ARENA_HUGETLB)
		add_why(&a->st, "hugepages not requested");

	if (o.backing <= NRV_ARENA_HUGETLB) {
		a->base = map_hugetlb(a->size, o.fail_mask, &a->st);
		if (a->base)
			a->st.backing = NRV_ARENA_HUGETLB;
	}
	if (!a->base) {
		a->base = map_aligned(a->size, &a->st);
		if (!a->base) {
			int e = errno;
			snprintf(err, errlen, "cannot map %zu bytes for the weights: %s", a->size,
				 strerror(e));
			free(a);
			return -ENOMEM;
		}
		a->st.backing = NRV_ARENA_PLAIN;
		if (o.backing > NRV_ARENA_THP) {
			add_why(&a->st, "transparent huge pages not requested");
		} else if (thp_never()) {
			const char *r = "transparent huge pages disabled "
					"(/sys/kernel/mm/transparent_hugepage/enabled is never)";
			add_why(&a->st, "%s", r);
			NRV_WARN("arena: %s; using ordinary 4 KiB pages", r);
		} else {
			int rc = -1, e = EINVAL;
			if (!(o.fail_mask & NRV_ARENA_FAIL_THP)) {
				rc = madvise(a->base, a->size, MADV_HUGEPAGE);
				e = errno;
			}
			if (rc == 0) {
				a->st.backing = NRV_ARENA_THP;
			} else {
				add_why(&a->st, "madvise(MADV_HUGEPAGE) failed: %s", strerror(e));
				NRV_WARN("arena: madvise(MADV_HUGEPAGE) failed: %s; using ordinary "
					 "4 KiB pages", strerror(e));
			}
		}
	}
	if (a->st.backing == NRV_ARENA_HUGETLB)
		a->st.huge = a->size;
	if (o.lock)
		do_lock(a, o.fail_mask);
	NRV_DEBUG("arena: %zu MiB, %s, %s", a->size >> 20, nrv_arena_backing_name(a->st.backing),
		  a->st.locked ? "locked" : "not locked");
	*out = a;
	return 0;
}

void nrv_arena_destroy(struct nrv_arena *a)
{
	if (!a)
		return;
	munmap(a->base, a->size); /* also drops the lock */
	free(a);
}

void *nrv_arena_base(const struct nrv_arena *a)
{
	return a->base;
}

size_t nrv_arena_size(const struct nrv_arena *a)
{
	return a->size;
}

void nrv_arena_stats(const struct nrv_arena *a, struct nrv_arena_stats *out)
{
	*out = a->st;
}

void nrv_arena_refresh(struct nrv_arena *a)
{
	if (a->st.backing != NRV_ARENA_THP)
		return;
	FILE *f = fopen("/proc/self/smaps", "re");
	if (!f)
		return;
	char line[256];
	int in = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		long long kb;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			in = lo == (unsigned long)(uintptr_t)a->base;
		} else if (in && sscanf(line, "AnonHugePages: %lld kB", &kb) == 1) {
			a->st.huge = (size_t)kb * 1024;
			break;
		}
	}
	fclose(f);
}
