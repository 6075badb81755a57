/*
 * tests/mem/test_weights.c - every load mode holds the same bytes; the
 * model digest is the same whichever way the bytes came in, stable, and
 * different for different content; bad files are clean errors.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem/arena.h"
#include "mem/weights.h"

#define MIB ((size_t)1 << 20)

static void make_file(const char *dir, char *path, size_t plen, size_t n, uint32_t seed)
{
	snprintf(path, plen, "%s/nrv-weights-XXXXXX", dir);
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0, "mkstemp in %s: %s", dir, strerror(errno));
	unsigned char *p = malloc(n);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
	cr_assert_eq(write(fd, p, n), (ssize_t)n);
	close(fd);
	free(p);
}

static const char *disk_dir(void)
{
	const char *b = getenv("NRV_BUILD_ROOT");
	return b ? b : ".";
}

/* Load [off, off + len) of path with opts; copy the data out and the
 * digest. */
static unsigned char *load(const char *path, struct nrv_weights_opts *o, uint64_t off, uint64_t len,
			   char dg[NRV_DIGEST_HEX], struct nrv_weights_stats *st)
{
	struct nrv_weights *w;
	char err[512] = "";
	int rc = nrv_weights_open(path, o, &w, err, sizeof(err));
	cr_assert_eq(rc, 0, "open: %s", err);
	const void *d = nrv_weights_data(w, off, len, err, sizeof(err));
	cr_assert_not_null(d, "data: %s", err);
	unsigned char *copy = malloc(len);
	memcpy(copy, d, len);
	cr_assert_eq(nrv_weights_digest(w, dg), 0);
	cr_assert_eq(strlen(dg), 32);
	if (st)
		nrv_weights_stats(w, st);
	nrv_weights_close(w);
	return copy;
}

static void all_modes_agree(const char *dir)
{
	char path[600];
	size_t n = 9 * MIB + 777;
	make_file(dir, path, sizeof(path), n, 11);
	/* a tensor-data window that starts and ends off the block grid, as in
	 * a GGUF file (32-byte alignment) */
	uint64_t off = 4096 * 3 + 96, len = n - off - 5;
	char d_read[NRV_DIGEST_HEX], d_uring[NRV_DIGEST_HEX], d_direct[NRV_DIGEST_HEX],
		d_mmap[NRV_DIGEST_HEX], d_lazy[NRV_DIGEST_HEX];
	struct nrv_weights_opts o_read = { .mode = NRV_LOAD_READ };
	struct nrv_weights_opts o_uring = { .mode = NRV_LOAD_URING, .uring = { .chunk = MIB, .depth = 6 } };
	struct nrv_weights_opts o_direct = { .mode = NRV_LOAD_URING, .direct = 1, .backing = NRV_ARENA_PLAIN };
	struct nrv_weights_opts o_mmap = { .mode = NRV_LOAD_MMAP };
	struct nrv_weights_opts o_lazy = { .mode = NRV_LOAD_URING, .no_digest = 1 };
	struct nrv_weights_stats st;
	unsigned char *a = load(path, &o_read, off, len, d_read, &st);
	cr_assert_str_eq(st.mode, "read");
	cr_assert_eq(st.data_bytes, len);
	cr_assert_gt(st.load_s, 0);
	unsigned char *b = load(path, &o_uring, off, len, d_uring, &st);
	cr_assert_str_eq(st.mode, "uring");
	unsigned char *c = load(path, &o_direct, off, len, d_direct, &st);
	cr_assert_str_eq(st.backing, "plain");
	cr_log_info("%s: uring direct %llu bytes (%s)", dir, (unsigned long long)st.direct_bytes,
		    st.direct_why);
	unsigned char *e = load(path, &o_mmap, off, len, d_mmap, &st);
	cr_assert_str_eq(st.backing, "file");
	unsigned char *f = load(path, &o_lazy, off, len, d_lazy, NULL);
	cr_assert_eq(memcmp(a, b, len), 0, "uring differs from read");
	cr_assert_eq(memcmp(a, c, len), 0, "uring O_DIRECT differs from read");
	cr_assert_eq(memcmp(a, e, len), 0, "mmap differs from read");
	cr_assert_eq(memcmp(a, f, len), 0);
	cr_assert_str_eq(d_read, d_uring);
	cr_assert_str_eq(d_read, d_direct);
	cr_assert_str_eq(d_read, d_mmap);
	cr_assert_str_eq(d_read, d_lazy);
	free(a);
	free(b);
	free(c);
	free(e);
	free(f);
	unlink(path);
}

Test(weights, modes_agree_on_disk)
{
	all_modes_agree(disk_dir());
}

Test(weights, modes_agree_on_tmpfs)
{
	struct stat sb;
	if (stat("/dev/shm", &sb) != 0)
		cr_skip_test("no /dev/shm tmpfs here");
	all_modes_agree("/dev/shm");
}

Test(weights, digest_is_stable_and_content_sensitive)
{
	char p1[600], p2[600];
	make_file(disk_dir(), p1, sizeof(p1), 3 * MIB + 1, 21);
	make_file(disk_dir(), p2, sizeof(p2), 3 * MIB + 1, 21);
	char d1[NRV_DIGEST_HEX], d1b[NRV_DIGEST_HEX], d2[NRV_DIGEST_HEX];
	struct nrv_weights_opts o = { .mode = NRV_LOAD_URING };
	free(load(p1, &o, 64, 3 * MIB - 64, d1, NULL));
	free(load(p1, &o, 64, 3 * MIB - 64, d1b, NULL));
	cr_assert_str_eq(d1, d1b);
	free(load(p2, &o, 64, 3 * MIB - 64, d2, NULL));
	cr_assert_str_eq(d1, d2, "same content, same digest");
	/* one byte changed, in the header, in the data and in the trailer */
	const long at[3] = { 10, (long)(2 * MIB), (long)(3 * MIB) };
	for (int i = 0; i < 3; i++) {
		int fd = open(p2, O_RDWR);
		unsigned char ch;
		cr_assert_eq(pread(fd, &ch, 1, at[i]), 1);
		ch ^= 1;
		cr_assert_eq(pwrite(fd, &ch, 1, at[i]), 1);
		close(fd);
		free(load(p2, &o, 64, 3 * MIB - 64, d2, NULL));
		cr_assert_str_neq(d1, d2, "a changed byte at %ld kept the digest", at[i]);
		fd = open(p2, O_RDWR);
		ch ^= 1;
		cr_assert_eq(pwrite(fd, &ch, 1, at[i]), 1);
		close(fd);
	}
	unlink(p1);
	unlink(p2);
}

Test(weights, bad_files_are_clean_errors)
{
	struct nrv_weights *w = NULL;
	char err[512];
	struct nrv_weights_opts o = { .mode = NRV_LOAD_URING };
	cr_assert_eq(nrv_weights_open(disk_dir(), &o, &w, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "directory"), "err: %s", err);
	cr_assert_null(w);
	cr_assert_eq(nrv_weights_open("/nonexistent/model.gguf", &o, &w, err, sizeof(err)), -ENOENT);
	char path[600];
	make_file(disk_dir(), path, sizeof(path), 2 * MIB, 31);
	cr_assert_eq(nrv_weights_open(path, &o, &w, err, sizeof(err)), 0);
	/* a range past the end of the file */
	cr_assert_null(nrv_weights_data(w, MIB, 2 * MIB, err, sizeof(err)));
	cr_assert(strstr(err, "outside"), "err: %s", err);
	/* the file shrinks after it was opened (and mapped) */
	cr_assert_eq(truncate(path, MIB), 0);
	cr_assert_null(nrv_weights_data(w, 4096, 2 * MIB - 4096, err, sizeof(err)));
	cr_assert(strstr(err, path) && strstr(err, "shrank"), "err: %s", err);
	nrv_weights_close(w);
	nrv_weights_close(NULL);
	/* read mode reports the same */
	make_file(disk_dir(), path, sizeof(path), 2 * MIB, 32);
	struct nrv_weights_opts orr = { .mode = NRV_LOAD_READ };
	cr_assert_eq(nrv_weights_open(path, &orr, &w, err, sizeof(err)), 0);
	cr_assert_eq(truncate(path, MIB), 0);
	cr_assert_null(nrv_weights_data(w, 4096, 2 * MIB - 4096, err, sizeof(err)));
	cr_assert(strstr(err, "shrank"), "err: %s", err);
	nrv_weights_close(w);
	/* mmap mode: the digest of a file that shrank is an error, not SIGBUS */
	make_file(disk_dir(), path, sizeof(path), 2 * MIB, 33);
	struct nrv_weights_opts om = { .mode = NRV_LOAD_MMAP };
	cr_assert_eq(nrv_weights_open(path, &om, &w, err, sizeof(err)), 0);
	cr_assert_eq(truncate(path, MIB), 0);
	char dg[NRV_DIGEST_HEX];
	cr_assert_eq(nrv_weights_digest(w, dg), -ENODATA);
	nrv_weights_close(w);
	unlink(path);
	cr_assert_eq(nrv_load_mode_parse("uring"), NRV_LOAD_URING);
	cr_assert_eq(nrv_load_mode_parse("read"), NRV_LOAD_READ);
	cr_assert_eq(nrv_load_mode_parse("mmap"), NRV_LOAD_MMAP);
	cr_assert_eq(nrv_load_mode_parse("hugepage"), -1);
}

/* The file is deleted after it was opened: the open descriptor still reads
 * it (O_DIRECT cannot reopen the path, so the reads are buffered). */
Test(weights, file_deleted_while_loading_still_loads)
{
	char path[600];
	size_t n = 3 * MIB + 5;
	make_file(disk_dir(), path, sizeof(path), n, 41);
	char d0[NRV_DIGEST_HEX], d1[NRV_DIGEST_HEX];
	struct nrv_weights_opts o = { .mode = NRV_LOAD_URING, .direct = 1 };
	unsigned char *a = load(path, &o, 4096, n - 4096, d0, NULL);
	struct nrv_weights *w;
	char err[512];
	cr_assert_eq(nrv_weights_open(path, &o, &w, err, sizeof(err)), 0);
	cr_assert_eq(unlink(path), 0);
	const unsigned char *d = nrv_weights_data(w, 4096, n - 4096, err, sizeof(err));
	cr_assert_not_null(d, "%s", err);
	cr_assert_eq(memcmp(a, d, n - 4096), 0);
	struct nrv_weights_stats st;
	nrv_weights_stats(w, &st);
	cr_assert_eq(st.direct_bytes, 0);
	cr_assert_neq(st.direct_why[0], 0);
	cr_assert_eq(nrv_weights_digest(w, d1), 0);
	cr_assert_str_eq(d0, d1);
	nrv_weights_close(w);
	free(a);
}
