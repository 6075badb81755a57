/*
 * tests/mem/test_bulkread.c - the io_uring reader returns exactly the
 * file's bytes, in order to the callback, on the real disk (O_DIRECT) and
 * on tmpfs, for sizes and offsets that are not block multiples; several
 * reads are in flight; a file that ends early is a clean error.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "mem/bulkread.h"

#define KIB ((size_t)1 << 10)
#define MIB ((size_t)1 << 20)

/* A directory on the build's disk (usually a real block filesystem). */
static void disk_dir(char *out, size_t n)
{
	const char *b = getenv("NRV_BUILD_ROOT");
	snprintf(out, n, "%s", b ? b : ".");
}

static unsigned char *pattern(size_t n, uint32_t seed)
{
	unsigned char *p = malloc(n);
	cr_assert_not_null(p);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
	return p;
}

/* Write n pattern bytes to a fresh file in dir; returns its contents. */
static unsigned char *make_file(const char *dir, char *path, size_t plen, size_t n, uint32_t seed)
{
	snprintf(path, plen, "%s/nrv-bulkread-XXXXXX", dir);
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0, "mkstemp in %s: %s", dir, strerror(errno));
	unsigned char *p = pattern(n, seed);
	cr_assert_eq(write(fd, p, n), (ssize_t)n);
	close(fd);
	return p;
}

struct order {
	const unsigned char *base; /* the destination */
	size_t pos;                /* bytes seen so far */
	int bad;
};

static void check_order(void *ctx, const void *p, size_t n)
{
	struct order *o = ctx;
	if ((const unsigned char *)p != o->base + o->pos)
		o->bad = 1;
	o->pos += n;
}

/* Read [off, off + len) of path into a 4 KiB-aligned buffer (shifted by
 * mis bytes) and compare with want. */
static void read_and_compare(const char *path, const unsigned char *want, uint64_t off, size_t len,
			     const struct nrv_bulkread_opts *o, size_t mis, struct nrv_bulkread_stats *st)
{
	size_t cap = (len + 2 * NRV_BULKREAD_ALIGN - 1) & ~(size_t)(NRV_BULKREAD_ALIGN - 1);
	unsigned char *buf = aligned_alloc(NRV_BULKREAD_ALIGN, cap);
	cr_assert_not_null(buf);
	memset(buf, 0x5a, cap);
	int fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	char err[256] = "";
	struct order ord = { .base = buf + mis };
	int rc = nrv_bulkread(path, fd, buf + mis, off, len, o, check_order, &ord, st, err, sizeof(err));
	close(fd);
	cr_assert_eq(rc, 0, "nrv_bulkread: %d %s", rc, err);
	cr_assert_eq(ord.bad, 0, "callback out of order");
	cr_assert_eq(ord.pos, len, "callback saw %zu of %zu bytes", ord.pos, len);
	cr_assert_eq(memcmp(buf + mis, want + off, len), 0, "bytes differ from the file");
	cr_assert_eq(st->direct_bytes + st->buffered_bytes, len);
	free(buf);
}

static int block_fs(const char *dir)
{
	struct statfs s;
	if (statfs(dir, &s) != 0)
		return 0;
	/* ext4, xfs, btrfs: O_DIRECT works on these */
	return s.f_type == 0xEF53 || s.f_type == 0x58465342 || s.f_type == (long)0x9123683E;
}

Test(bulkread, disk_odd_size_equals_the_file)
{
	char dir[512], path[600];
	disk_dir(dir, sizeof(dir));
	size_t n = 3 * 8 * MIB + 12345;
	unsigned char *want = make_file(dir, path, sizeof(path), n, 1);
	struct nrv_bulkread_stats st;
	read_and_compare(path, want, 0, n, NULL, 0, &st);
	if (block_fs(dir)) {
		cr_assert_geq(st.direct_bytes, n - 12345, "direct %llu; why: %s",
			      (unsigned long long)st.direct_bytes, st.direct_why);
		cr_assert_eq(st.buffered_bytes, 12345 % NRV_BULKREAD_ALIGN, "only the tail is buffered");
	} else {
		cr_log_warn("%s is not ext4/xfs/btrfs: O_DIRECT not asserted (%s)", dir, st.direct_why);
	}
	/* an unaligned window: buffered head and tail, direct middle */
	read_and_compare(path, want, 100, n - 100 - 7, NULL, 100 % NRV_BULKREAD_ALIGN, &st);
	if (block_fs(dir))
		cr_assert_gt(st.direct_bytes, 0);
	unlink(path);
	free(want);
}

Test(bulkread, several_reads_in_flight)
{
	char dir[512], path[600];
	disk_dir(dir, sizeof(dir));
	size_t n = 4 * MIB + 1;
	unsigned char *want = make_file(dir, path, sizeof(path), n, 2);
	struct nrv_bulkread_opts o = { .chunk = 64 * KIB, .depth = 8 };
	struct nrv_bulkread_stats st;
	read_and_compare(path, want, 0, n, &o, 0, &st);
	cr_assert_gt(st.max_inflight, 1, "max in flight %u", st.max_inflight);
	cr_assert_leq(st.max_inflight, 8);
	cr_assert_geq(st.reads, (uint32_t)(n / (64 * KIB)));
	unlink(path);
	free(want);
}

Test(bulkread, tmpfs_equals_the_file)
{
	struct stat sb;
	if (stat("/dev/shm", &sb) != 0)
		cr_skip_test("no /dev/shm tmpfs here");
	char path[600];
	size_t n = 5 * MIB + 333;
	unsigned char *want = make_file("/dev/shm", path, sizeof(path), n, 3);
	struct nrv_bulkread_stats st;
	read_and_compare(path, want, 0, n, NULL, 0, &st);
	cr_log_info("tmpfs: %llu bytes direct, %llu buffered (%s)", (unsigned long long)st.direct_bytes,
		    (unsigned long long)st.buffered_bytes, st.direct_why);
	unlink(path);
	free(want);
}

Test(bulkread, direct_refused_falls_back_to_buffered)
{
	char dir[512], path[600];
	disk_dir(dir, sizeof(dir));
	size_t n = 2 * MIB + 4097;
	unsigned char *want = make_file(dir, path, sizeof(path), n, 4);
	struct nrv_bulkread_opts o = { .chunk = 256 * KIB, .depth = 4, .faults = NRV_BULKREAD_FAULT_DIRECT };
	struct nrv_bulkread_stats st;
	read_and_compare(path, want, 0, n, &o, 0, &st);
	cr_assert_eq(st.direct_bytes, 0);
	cr_assert_eq(st.buffered_bytes, n);
	if (block_fs(dir))
		cr_assert(strstr(st.direct_why, "EINVAL"), "why: %s", st.direct_why);
	/* a misaligned destination cannot be read direct either */
	read_and_compare(path, want, 0, n, NULL, 1, &st);
	cr_assert_eq(st.direct_bytes, 0);
	cr_assert_neq(st.direct_why[0], 0);
	/* and buffered on request */
	struct nrv_bulkread_opts ob = { .buffered = 1 };
	read_and_compare(path, want, 0, n, &ob, 0, &st);
	cr_assert_eq(st.direct_bytes, 0);
	unlink(path);
	free(want);
}

Test(bulkread, short_reads_and_retries_are_continued)
{
	char dir[512], path[600];
	disk_dir(dir, sizeof(dir));
	size_t n = 3 * MIB + 999;
	unsigned char *want = make_file(dir, path, sizeof(path), n, 6);
	struct nrv_bulkread_opts o = { .chunk = 512 * 1024, .depth = 4,
				       .faults = NRV_BULKREAD_FAULT_SHORT };
	struct nrv_bulkread_stats st;
	read_and_compare(path, want, 0, n, &o, 0, &st);
	cr_assert_gt(st.short_reads, 0);
	/* an odd short count leaves an unaligned rest: read buffered */
	if (block_fs(dir))
		cr_assert_gt(st.buffered_bytes, n % NRV_BULKREAD_ALIGN);
	o.faults = NRV_BULKREAD_FAULT_EAGAIN;
	read_and_compare(path, want, 0, n, &o, 0, &st);
	cr_assert_geq(st.retries, 2 * (n / (512 * 1024)), "retries %u", st.retries);
	o.faults = NRV_BULKREAD_FAULT_EAGAIN | NRV_BULKREAD_FAULT_SHORT;
	read_and_compare(path, want, 7, n - 7, &o, 7, &st);
	unlink(path);
	free(want);
}

Test(bulkread, file_shorter_than_the_range_is_an_error)
{
	char dir[512], path[600];
	disk_dir(dir, sizeof(dir));
	size_t n = 1 * MIB + 10;
	unsigned char *want = make_file(dir, path, sizeof(path), n, 5);
	unsigned char *buf = aligned_alloc(NRV_BULKREAD_ALIGN, 2 * MIB);
	int fd = open(path, O_RDONLY);
	char err[512] = "";
	struct nrv_bulkread_opts o = { .chunk = 128 * KIB, .depth = 4 };
	int rc = nrv_bulkread(path, fd, buf, 0, 2 * MIB, &o, NULL, NULL, NULL, err, sizeof(err));
	cr_assert_eq(rc, -ENODATA, "rc %d: %s", rc, err);
	cr_assert(strstr(err, path) && strstr(err, "shrank"), "err: %s", err);
	/* truncated after opening: the same clean error */
	cr_assert_eq(truncate(path, 512 * KIB), 0);
	rc = nrv_bulkread(path, fd, buf, 0, n, &o, NULL, NULL, NULL, err, sizeof(err));
	cr_assert_eq(rc, -ENODATA, "rc %d: %s", rc, err);
	close(fd);
	/* a descriptor that cannot be read: the read's error, with the name */
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	rc = nrv_bulkread(dir, fd, buf, 0, 64 * KIB, &o, NULL, NULL, NULL, err, sizeof(err));
	cr_assert_lt(rc, 0);
	cr_assert(strstr(err, dir), "err: %s", err);
	close(fd);
	unlink(path);
	free(buf);
	free(want);
}
