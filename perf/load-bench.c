/*
 * perf/load-bench.c - how fast each load mode brings a file into memory,
 * cold (the file's pages evicted from the page cache) and warm.
 *
 *   nrv-load-bench [-r REPS] [-m MODE,...] [-c CHUNK_MIB] [-q DEPTH] [--cold|--warm]
 *                  [--drop-caches] FILE
 *
 * The whole file is loaded as if it were tensor data (header included), so
 * any large file will do. Modes alternate within each repetition, and the
 * median of each is printed with its samples. Modes:
 *
 *   read        pread into the arena, digest while reading
 *   uring       io_uring into the arena, O_DIRECT unless cached (the default)
 *   uring-direct, uring-buffered   the same with O_DIRECT forced / off
 *   read-nd, uring-nd, uring-direct-nd   the same without the digest
 *   mmap        map with MAP_POPULATE (what an mmap loader pays up front)
 *   raw         read(2) into one reused 8 MiB buffer: the page-cache read
 *               rate (cold: the disk's sequential rate through readahead)
 *   memcpy      the warm floor: copy the (already mapped and resident) file
 *               into a fresh arena
 *
 * Cold means posix_fadvise(POSIX_FADV_DONTNEED) on the file before each
 * sample, which evicts exactly its clean pages; --drop-caches writes 3 to
 * /proc/sys/vm/drop_caches instead (root; evicts everything).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mem/arena.h"
#include "mem/weights.h"

#define MAX_MODES 16
#define MAX_REPS 64

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int evict(const char *path, int drop_caches)
{
	if (drop_caches) {
		sync();
		FILE *f = fopen("/proc/sys/vm/drop_caches", "w");
		if (!f || fputs("3\n", f) < 0 || fclose(f) != 0) {
			fprintf(stderr, "nrv-load-bench: cannot write /proc/sys/vm/drop_caches (root?)\n");
			return -1;
		}
		return 0;
	}
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	int rc = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
	return rc ? -1 : 0;
}

static int load_weights(const char *path, const struct nrv_weights_opts *wo, uint64_t size)
{
	char err[512];
	struct nrv_weights *w;
	int rc = nrv_weights_open(path, wo, &w, err, sizeof(err));
	if (!rc && !nrv_weights_data(w, 0, size, err, sizeof(err)))
		rc = -1;
	if (rc)
		fprintf(stderr, "nrv-load-bench: %s\n", err);
	nrv_weights_close(w);
	return rc;
}

static int run_raw(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	size_t bs = (size_t)8 << 20;
	char *buf = malloc(bs);
	ssize_t r;
	while (buf && (r = read(fd, buf, bs)) > 0)
		;
	free(buf);
	close(fd);
	return buf ? 0 : -1;
}

/* memcpy from a resident mapping into a fresh THP arena; only the copy
 * and the arena's page faults are timed. */
static double run_memcpy(const char *path, uint64_t size)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	void *m = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -1;
	char err[256];
	struct nrv_arena *a;
	double t0 = now_s();
	if (nrv_arena_create((size_t)size, NULL, &a, err, sizeof(err))) {
		munmap(m, (size_t)size);
		return -1;
	}
	memcpy(nrv_arena_base(a), m, (size_t)size);
	double t = now_s() - t0;
	nrv_arena_destroy(a);
	munmap(m, (size_t)size);
	return t;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int reps = 5, cold = 1, drop = 0, chunk_mib = 0, depth = 0;
	char modes_buf[256] = "read,uring,mmap,raw";
	static const struct option lo[] = {
		{ "cold", no_argument, 0, 'C' }, { "warm", no_argument, 0, 'W' },
		{ "drop-caches", no_argument, 0, 'D' }, { 0, 0, 0, 0 },
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "r:m:c:q:h", lo, NULL)) != -1) {
		switch (ch) {
		case 'r': reps = atoi(optarg); break;
		case 'm': snprintf(modes_buf, sizeof(modes_buf), "%s", optarg); break;
		case 'c': chunk_mib = atoi(optarg); break;
		case 'q': depth = atoi(optarg); break;
		case 'C': cold = 1; break;
		case 'W': cold = 0; break;
		case 'D': drop = 1; break;
		default:
			fprintf(stderr, "usage: nrv-load-bench [-r REPS] [-m MODE,...] [-c CHUNK_MIB] [-q DEPTH] [--cold|--warm] "
					"[--drop-caches] FILE\n");
			return 2;
		}
	}
	if (optind != argc - 1 || reps < 1 || reps > MAX_REPS) {
		fprintf(stderr, "nrv-load-bench: give one FILE and 1..%d repetitions\n", MAX_REPS);
		return 2;
	}
	const char *path = argv[optind];
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		fprintf(stderr, "nrv-load-bench: %s: not a non-empty regular file\n", path);
		return 2;
	}
	uint64_t size = (uint64_t)st.st_size;
	const char *modes[MAX_MODES];
	int nm = 0;
	for (char *s = strtok(modes_buf, ","); s && nm < MAX_MODES; s = strtok(NULL, ","))
		modes[nm++] = s;
	static double t[MAX_MODES][MAX_REPS];

	for (int r = 0; r < reps; r++) {
		for (int i = 0; i < nm; i++) {
			const char *md = modes[i];
			if (cold && strcmp(md, "memcpy") && evict(path, drop))
				return 1;
			if (!cold && r == 0 && i == 0)
				run_raw(path); /* make it warm */
			struct nrv_weights_opts wo = { 0 };
			wo.no_digest = strstr(md, "-nd") != NULL;
			wo.uring.chunk = (size_t)(chunk_mib > 0 ? chunk_mib : 0) << 20;
			wo.uring.depth = depth > 0 ? (unsigned)depth : 0;
			int rc = 0;
			double t0 = now_s(), dt = -1;
			if (!strncmp(md, "read", 4)) {
				wo.mode = NRV_LOAD_READ;
				rc = load_weights(path, &wo, size);
			} else if (!strncmp(md, "uring", 5)) {
				wo.mode = NRV_LOAD_URING;
				wo.direct = strstr(md, "-direct") ? 1 : strstr(md, "-buffered") ? -1 : 0;
				rc = load_weights(path, &wo, size);
			} else if (!strcmp(md, "mmap")) {
				wo.mode = NRV_LOAD_MMAP;
				wo.populate = 1;
				rc = load_weights(path, &wo, size);
			} else if (!strcmp(md, "raw")) {
				rc = run_raw(path);
			} else if (!strcmp(md, "memcpy")) {
				dt = run_memcpy(path, size);
				rc = dt < 0;
			} else {
				fprintf(stderr, "nrv-load-bench: unknown mode '%s'\n", md);
				return 2;
			}
			if (dt < 0)
				dt = now_s() - t0;
			if (rc)
				return 1;
			t[i][r] = dt;
		}
	}
	printf("file %s, %.1f MiB, %s, %d repetitions\n\n", path, size / 1048576.0,
	       cold ? (drop ? "cold (drop_caches)" : "cold (fadvise DONTNEED)") : "warm", reps);
	printf("| mode | median ms | GB/s | min ms | samples (ms) |\n|---|---:|---:|---:|---|\n");
	for (int i = 0; i < nm; i++) {
		double s[MAX_REPS];
		memcpy(s, t[i], sizeof(double) * (size_t)reps);
		qsort(s, (size_t)reps, sizeof(double), cmp_d);
		double med = reps % 2 ? s[reps / 2] : (s[reps / 2 - 1] + s[reps / 2]) / 2;
		printf("| %s | %.1f | %.2f | %.1f |", modes[i], med * 1e3, size / med * 1e-9, s[0] * 1e3);
		for (int r = 0; r < reps; r++)
			printf(" %.0f", t[i][r] * 1e3);
		printf(" |\n");
	}
	return 0;
}
