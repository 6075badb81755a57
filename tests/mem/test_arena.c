/*
 * tests/mem/test_arena.c - every backing of the weights arena and every
 * fallback, each forced through nrv_arena_opts so that it runs on any
 * machine; what the kernel reports (smaps, VmLck) is checked against what
 * the arena claims.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mem/arena.h"

#define MIB ((size_t)1 << 20)

static long long read_num(const char *path)
{
	FILE *f = fopen(path, "r");
	long long v = -1;
	if (f) {
		if (fscanf(f, "%lld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* The value of "Key:" (in kB) in the smaps block of the mapping that starts
 * at addr; -1 when not found. */
static long long smaps_field(const void *addr, const char *key)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	if (!f)
		return -1;
	char line[512];
	int in = 0;
	long long v = -1;
	size_t kl = strlen(key);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			in = lo == (unsigned long)(uintptr_t)addr;
		else if (in && !strncmp(line, key, kl) && line[kl] == ':') {
			v = atoll(line + kl + 1);
			break;
		}
	}
	fclose(f);
	return v;
}

static long long vmlck_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long long v = -1;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmLck:", 6))
			v = atoll(line + 6);
	if (f)
		fclose(f);
	return v;
}

static int thp_never(void)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	char buf[128] = { 0 };
	if (!f)
		return 1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return strstr(buf, "[never]") != NULL;
}

static struct nrv_arena *make(size_t size, int backing, int lock, int fail)
{
	struct nrv_arena_opts o = { .backing = backing, .lock = lock, .fail_mask = fail };
	struct nrv_arena *a = NULL;
	char err[256] = "";
	int rc = nrv_arena_create(size, &o, &a, err, sizeof(err));
	cr_assert_eq(rc, 0, "nrv_arena_create: %d %s", rc, err);
	return a;
}

Test(arena, plain_is_aligned_zeroed_and_rounded)
{
	struct nrv_arena *a = make(3 * MIB + 1, NRV_ARENA_PLAIN, 0, 0);
	struct nrv_arena_stats st;
	nrv_arena_stats(a, &st);
	cr_assert_eq(st.backing, NRV_ARENA_PLAIN);
	cr_assert_eq(nrv_arena_size(a), 4 * MIB);
	cr_assert_eq(st.size, 4 * MIB);
	cr_assert_eq((uintptr_t)nrv_arena_base(a) % NRV_ARENA_ALIGN, 0);
	cr_assert_eq(st.locked, 0);
	cr_assert(strstr(st.why, "not requested"), "why: %s", st.why);
	unsigned char *p = nrv_arena_base(a);
	for (size_t i = 0; i < 4 * MIB; i += 4093)
		cr_assert_eq(p[i], 0);
	memset(p, 0xab, 4 * MIB);
	cr_assert_eq(p[4 * MIB - 1], 0xab);
	nrv_arena_destroy(a);
	nrv_arena_destroy(NULL);
}

Test(arena, thp_mapping_is_eligible_for_huge_pages)
{
	if (thp_never())
		cr_skip_test("transparent huge pages are disabled on this machine");
	struct nrv_arena *a = make(8 * MIB, NRV_ARENA_THP, 0, 0);
	struct nrv_arena_stats st;
	nrv_arena_stats(a, &st);
	cr_assert_eq(st.backing, NRV_ARENA_THP, "why: %s", st.why);
	memset(nrv_arena_base(a), 1, 8 * MIB);
	long long elig = smaps_field(nrv_arena_base(a), "THPeligible");
	if (elig < 0)
		cr_skip_test("this kernel's smaps has no THPeligible field");
	cr_assert_eq(elig, 1, "the kernel does not consider the arena eligible for THP");
	cr_assert_eq(st.huge, 0, "nothing reported before a refresh");
	nrv_arena_refresh(a);
	nrv_arena_stats(a, &st);
	long long kb = smaps_field(nrv_arena_base(a), "AnonHugePages");
	cr_assert_eq((long long)st.huge, kb * 1024, "stats %zu, smaps %lld kB", st.huge, kb);
	cr_assert_leq(st.huge, 8 * MIB);
	nrv_arena_destroy(a);
}

Test(arena, thp_refused_falls_back_to_plain)
{
	struct nrv_arena *a = make(2 * MIB, NRV_ARENA_THP, 0, NRV_ARENA_FAIL_THP);
	struct nrv_arena_stats st;
	nrv_arena_stats(a, &st);
	cr_assert_eq(st.backing, NRV_ARENA_PLAIN);
	if (!thp_never())
		cr_assert(strstr(st.why, "MADV_HUGEPAGE"), "why: %s", st.why);
	memset(nrv_arena_base(a), 7, 2 * MIB);
	nrv_arena_destroy(a);
}

Test(arena, no_hugepages_falls_back_with_the_reason)
{
	long long nr = read_num("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages");
	/* Where pages are reserved, the refusal is simulated instead. */
	struct nrv_arena *a = make(4 * MIB, NRV_ARENA_HUGETLB, 0, nr > 0 ? NRV_ARENA_FAIL_HUGETLB : 0);
	struct nrv_arena_stats st;
	nrv_arena_stats(a, &st);
	cr_assert_neq(st.backing, NRV_ARENA_HUGETLB);
	if (nr <= 0)
		cr_assert(strstr(st.why, "vm.nr_hugepages=0"), "why: %s", st.why);
	else
		cr_assert(strstr(st.why, "hugepages") || strstr(st.why, "MAP_HUGETLB"), "why: %s", st.why);
	memset(nrv_arena_base(a), 3, 4 * MIB);
	nrv_arena_destroy(a);
}

Test(arena, hugetlb_pages_when_reserved)
{
	long long fr = read_num("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");
	if (fr < 2)
		cr_skip_test("fewer than 2 free 2 MiB hugepages (vm.nr_hugepages=%lld); reserve some "
			     "with `sysctl vm.nr_hugepages=64` to run this test",
			     read_num("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"));
	struct nrv_arena *a = make(4 * MIB, NRV_ARENA_HUGETLB, 1, 0);
	struct nrv_arena_stats st;
	nrv_arena_stats(a, &st);
	cr_assert_eq(st.backing, NRV_ARENA_HUGETLB, "why: %s", st.why);
	cr_assert_eq(st.locked, 4 * MIB);
	memset(nrv_arena_base(a), 5, 4 * MIB);
	cr_assert_eq(smaps_field(nrv_arena_base(a), "KernelPageSize"), 2048);
	nrv_arena_destroy(a);
}

Test(arena, lock_is_what_the_kernel_reports)
{
	long long before = vmlck_kb();
	struct nrv_arena *a = make(8 * MIB, NRV_ARENA_THP, 1, 0);
	struct nrv_arena_stats st;
	nrv_arena_stats(a, &st);
	if (!st.locked)
		cr_skip_test("mlock refused here (%s): run as root or raise `ulimit -l`", st.why);
	cr_assert_eq(st.locked, 8 * MIB);
	cr_assert_eq(st.lock_err, 0);
	memset(nrv_arena_base(a), 9, 8 * MIB);
	long long after = vmlck_kb();
	cr_assert_geq(after - before, (long long)(8 * MIB / 1024), "VmLck %lld -> %lld kB", before, after);
	nrv_arena_destroy(a);
	cr_assert_leq(vmlck_kb(), before);
}

/* The real refusal: a tiny RLIMIT_MEMLOCK and no CAP_IPC_LOCK (dropped from
 * this test process's effective set; Criterion runs each test in its own
 * process). */
Test(arena, lock_refused_by_the_limit_goes_on_unlocked)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) == 0) {
		d[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
		cr_assert_eq(syscall(SYS_capset, &h, d), 0, "capset: %s", strerror(errno));
	}
	struct rlimit rl = { 64 * 1024, 64 * 1024 };
	if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
		cr_skip_test("cannot lower RLIMIT_MEMLOCK: %s", strerror(errno));
	struct nrv_arena *a = make(8 * MIB, NRV_ARENA_THP, 1, 0);
	struct nrv_arena_stats st;
	nrv_arena_stats(a, &st);
	cr_assert_eq(st.locked, 0);
	cr_assert(st.lock_err == -ENOMEM || st.lock_err == -EPERM || st.lock_err == -EAGAIN,
		  "lock_err %d", st.lock_err);
	cr_assert(strstr(st.why, "mlock") && strstr(st.why, "RLIMIT_MEMLOCK 64 KiB"), "why: %s", st.why);
	memset(nrv_arena_base(a), 1, 8 * MIB); /* still usable */
	nrv_arena_destroy(a);
}

Test(arena, lock_refusal_hook)
{
	struct nrv_arena *a = make(2 * MIB, NRV_ARENA_PLAIN, 1, NRV_ARENA_FAIL_LOCK);
	struct nrv_arena_stats st;
	nrv_arena_stats(a, &st);
	cr_assert_eq(st.locked, 0);
	cr_assert_eq(st.lock_err, -EPERM);
	nrv_arena_destroy(a);
}

Test(arena, bad_arguments)
{
	struct nrv_arena *a = (void *)1;
	char err[128];
	cr_assert_eq(nrv_arena_create(0, NULL, &a, err, sizeof(err)), -EINVAL);
	cr_assert_null(a);
	struct nrv_arena_opts o = { .backing = 7 };
	cr_assert_eq(nrv_arena_create(MIB, &o, &a, err, sizeof(err)), -EINVAL);
	cr_assert_eq(nrv_arena_backing_parse("thp"), NRV_ARENA_THP);
	cr_assert_eq(nrv_arena_backing_parse("hugetlb"), NRV_ARENA_HUGETLB);
	cr_assert_eq(nrv_arena_backing_parse("plain"), NRV_ARENA_PLAIN);
	cr_assert_eq(nrv_arena_backing_parse("huge"), -1);
	cr_assert_str_eq(nrv_arena_backing_name(NRV_ARENA_THP), "thp");
}
