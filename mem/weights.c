/*
 * mem/weights.c - model bytes: a read-only file mapping for the header,
 * and the tensor data in place (mmap) or copied into an arena.
 */
#include "mem/weights.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "log.h"
#include "mem/arena.h"

struct nrv_weights {
	const uint8_t *map;  /* the whole file, read-only */
	uint64_t size;       /* bytes in the file */
	int fd;              /* the open file (reads, and the digest in mmap mode) */
	int mode;            /* enum nrv_load_mode */
	char *path;          /* for O_DIRECT and messages */
	struct nrv_weights_opts opts;
	struct nrv_arena *arena; /* read/uring: holds file bytes [arena_off, data end) */
	uint64_t arena_off;  /* file offset of the arena's first byte (aligned down) */
	const uint8_t *data; /* the tensor data, once loaded */
	uint64_t data_off;   /* file offset of the tensor data */
	uint64_t data_size;  /* bytes of tensor data */
	double load_s;       /* seconds to fill the arena */
	struct nrv_bulkread_stats rs; /* uring mode counters */
	int have_digest;
	uint8_t digest[16];  /* XXH3-128 of the file, canonical (big-endian) */
};

/* The chunk the read mode copies with one pread. */
#define READ_CHUNK ((size_t)64 << 20)

int nrv_load_mode_parse(const char *s)
{
	if (!strcmp(s, "read"))
		return NRV_LOAD_READ;
	if (!strcmp(s, "mmap"))
		return NRV_LOAD_MMAP;
	if (!strcmp(s, "uring"))
		return NRV_LOAD_URING;
	return -1;
}

const char *nrv_load_mode_name(int mode)
{
	switch (mode) {
	case NRV_LOAD_READ: return "read";
	case NRV_LOAD_MMAP: return "mmap";
	case NRV_LOAD_URING: return "uring";
	}
	return "?";
}

int nrv_weights_open(const char *path, const struct nrv_weights_opts *opts,
		     struct nrv_weights **out, char *err, size_t errlen)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot open model '%s': %s", path, strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		snprintf(err, errlen, "cannot stat model '%s': %s", path, strerror(e));
		return -e;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, errlen, "model '%s' is not a regular file%s", path,
			 S_ISDIR(st.st_mode) ? " (it is a directory)" : "");
		return -EINVAL;
	}
	if (st.st_size == 0) {
		close(fd);
		snprintf(err, errlen, "model '%s' is empty", path);
		return -EINVAL;
	}
	int mode = opts ? opts->mode : NRV_LOAD_READ;
	if (mode != NRV_LOAD_READ && mode != NRV_LOAD_MMAP && mode != NRV_LOAD_URING) {
		close(fd);
		snprintf(err, errlen, "unknown load mode %d", mode);
		return -EINVAL;
	}
	int flags = MAP_PRIVATE;
	if (mode == NRV_LOAD_MMAP && opts && opts->populate)
		flags |= MAP_POPULATE;
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, flags, fd, 0);
	int e = errno;
	if (m == MAP_FAILED) {
		close(fd);
		snprintf(err, errlen, "cannot map model '%s': %s", path, strerror(e));
		return -e;
	}
	struct nrv_weights *w = calloc(1, sizeof(*w));
	char *pcopy = strdup(path);
	if (!w || !pcopy) {
		free(w);
		free(pcopy);
		munmap(m, (size_t)st.st_size);
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	w->map = m;
	w->size = (uint64_t)st.st_size;
	w->mode = mode;
	w->path = pcopy;
	if (opts)
		w->opts = *opts;
	w->fd = fd; /* for the reads, and for the digest in mmap mode */
	*out = w;
	return 0;
}

void nrv_weights_close(struct nrv_weights *w)
{
	if (!w)
		return;
	munmap((void *)w->map, (size_t)w->size);
	nrv_arena_destroy(w->arena);
	if (w->fd >= 0)
		close(w->fd);
	free(w->path);
	free(w);
}

const void *nrv_weights_header(const struct nrv_weights *w, size_t *len)
{
	*len = (size_t)w->size;
	return w->map;
}

uint64_t nrv_weights_file_size(const struct nrv_weights *w)
{
	return w->size;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Percent of the pages of [p, p + n) (within the file mapping) that are in
 * the page cache; 0 when that cannot be told. */
static int resident_pct(const uint8_t *p, size_t n)
{
	long pg = sysconf(_SC_PAGESIZE);
	if (pg <= 0 || n == 0)
		return 0;
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(pg - 1);
	size_t span = (size_t)((uintptr_t)p + n - a);
	size_t npg = (span + (size_t)pg - 1) / (size_t)pg;
	unsigned char *vec = malloc(npg);
	if (!vec)
		return 0;
	size_t in = 0;
	if (mincore((void *)a, span, vec) == 0)
		for (size_t i = 0; i < npg; i++)
			in += vec[i] & 1;
	free(vec);
	return (int)(in * 100 / npg);
}

static void hash_cb(void *ctx, const void *p, size_t n)
{
	XXH3_128bits_update(ctx, p, n);
}

static void hash_done(struct nrv_weights *w, XXH3_state_t *h)
{
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(h));
	memcpy(w->digest, c.digest, sizeof(w->digest));
	w->have_digest = 1;
}

/* Feed the file's bytes [off, off + len) to the hash through a bounce
 * buffer. Returns 0, -ENOMEM, -ENODATA (the file is shorter) or -errno. */
static int hash_pread(struct nrv_weights *w, XXH3_state_t *h, uint64_t off, uint64_t len)
{
	if (len == 0)
		return 0;
	size_t bs = len < ((uint64_t)4 << 20) ? (size_t)len : (size_t)4 << 20;
	uint8_t *buf = malloc(bs);
	if (!buf)
		return -ENOMEM;
	int rc = 0;
	for (uint64_t done = 0; done < len;) {
		size_t n = len - done < bs ? (size_t)(len - done) : bs;
		ssize_t r = pread(w->fd, buf, n, (off_t)(off + done));
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : -ENODATA;
			break;
		}
		XXH3_128bits_update(h, buf, (size_t)r);
		done += (uint64_t)r;
	}
	free(buf);
	return rc;
}

/* pread [off, off + len) into dst, feeding the hash (may be NULL) after
 * each chunk. */
static int fill_pread(struct nrv_weights *w, uint8_t *dst, uint64_t off, uint64_t len,
		      XXH3_state_t *h, char *err, size_t errlen)
{
	uint64_t done = 0;
	while (done < len) {
		size_t chunk = len - done > READ_CHUNK ? READ_CHUNK : (size_t)(len - done);
		ssize_t r = pread(w->fd, dst + done, chunk, (off_t)(off + done));
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0) {
			int e = r < 0 ? errno : ENODATA;
			snprintf(err, errlen, r < 0 ? "reading '%s' at byte %llu failed: %s"
						    : "'%s' ends at byte %llu: %s",
				 w->path, (unsigned long long)(off + done),
				 r < 0 ? strerror(e) : "the file shrank while loading");
			return -e;
		}
		if (h)
			XXH3_128bits_update(h, dst + done, (size_t)r);
		done += (uint64_t)r;
	}
	return 0;
}

const void *nrv_weights_data(struct nrv_weights *w, uint64_t data_offset, uint64_t data_size,
			     char *err, size_t errlen)
{
	if (data_offset > w->size || data_size > w->size - data_offset) {
		snprintf(err, errlen, "tensor data [%llu, +%llu) lies outside the %llu-byte file",
			 (unsigned long long)data_offset, (unsigned long long)data_size,
			 (unsigned long long)w->size);
		return NULL;
	}
	if (w->data) {
		if (w->data_off == data_offset && w->data_size == data_size)
			return w->data;
		snprintf(err, errlen, "the tensor data was already loaded from another range");
		return NULL;
	}
	w->data_off = data_offset;
	w->data_size = data_size;
	if (w->mode == NRV_LOAD_MMAP) {
		w->data = w->map + data_offset;
		return w->data;
	}
	double t0 = now_s();
	/* The arena starts at the data offset rounded down to the O_DIRECT
	 * granule, so that arena addresses and file offsets are aligned
	 * together and the whole middle of the range can be read direct. A
	 * few header bytes ride along in front of the data. */
	w->arena_off = data_offset & ~(uint64_t)(NRV_BULKREAD_ALIGN - 1);
	uint64_t len = data_offset + data_size - w->arena_off;
	if (len > SIZE_MAX / 2) {
		snprintf(err, errlen, "tensor data of %llu bytes is too large to load",
			 (unsigned long long)data_size);
		return NULL;
	}
	struct nrv_arena_opts ao = { .backing = w->opts.backing, .lock = w->opts.lock,
				     .fail_mask = w->opts.arena_fail_mask };
	char why[256];
	if (nrv_arena_create(len ? (size_t)len : 1, &ao, &w->arena, why, sizeof(why))) {
		snprintf(err, errlen, "%s", why);
		return NULL;
	}
	uint8_t *base = nrv_arena_base(w->arena);
	XXH3_state_t *h = NULL;
	if (!w->opts.no_digest) {
		h = XXH3_createState();
		if (!h || XXH3_128bits_reset(h) != XXH_OK) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		/* the header, already read through the mapping to parse it */
		XXH3_128bits_update(h, w->map, (size_t)w->arena_off);
	}
	int rc;
	if (w->mode == NRV_LOAD_URING) {
		struct nrv_bulkread_opts ro = w->opts.uring;
		char note[128] = "";
		ro.buffered = w->opts.direct < 0;
		if (w->opts.direct == 0) {
			int pct = resident_pct(w->map + w->arena_off, (size_t)len);
			if (pct >= 50) {
				ro.buffered = 1;
				snprintf(note, sizeof(note),
					 "%d%% of the data is in the page cache: copied from there", pct);
			}
		}
		rc = nrv_bulkread(w->path, w->fd, base, w->arena_off, len, &ro,
				  h ? hash_cb : NULL, h, &w->rs, err, errlen);
		if (rc == -EOPNOTSUPP) {
			NRV_WARN("weights: %s; loading '%s' with pread instead", err, w->path);
			snprintf(note, sizeof(note), "%s; read with pread", err);
			rc = fill_pread(w, base, w->arena_off, len, h, err, errlen);
		}
		if (note[0])
			snprintf(w->rs.direct_why, sizeof(w->rs.direct_why), "%s", note);
	} else {
		rc = fill_pread(w, base, w->arena_off, len, h, err, errlen);
	}
	if (rc)
		goto fail;
	if (h) {
		/* bytes after the tensor data (normally none) */
		uint64_t end = data_offset + data_size;
		rc = hash_pread(w, h, end, w->size - end);
		if (rc) {
			snprintf(err, errlen, "reading '%s' after the tensor data failed: %s", w->path,
				 rc == -ENODATA ? "the file shrank while loading" : strerror(-rc));
			goto fail;
		}
		hash_done(w, h);
		XXH3_freeState(h);
	}
	w->load_s = now_s() - t0;
	nrv_arena_refresh(w->arena);
	w->data = base + (data_offset - w->arena_off);
	return w->data;
fail:
	XXH3_freeState(h);
	nrv_arena_destroy(w->arena);
	w->arena = NULL;
	return NULL;
}

int nrv_weights_digest(struct nrv_weights *w, char hex[NRV_DIGEST_HEX])
{
	if (!w->have_digest) {
		/* Nothing hashed at load: one pass over the file with pread, not
		 * through the mapping, so that a file that shrank since it was
		 * opened is an error here rather than a SIGBUS. */
		XXH3_state_t *h = XXH3_createState();
		int rc = -ENOMEM;
		if (h && XXH3_128bits_reset(h) == XXH_OK)
			rc = hash_pread(w, h, 0, w->size);
		if (!rc)
			hash_done(w, h);
		XXH3_freeState(h);
		if (rc)
			return rc;
	}
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", w->digest[i]);
	return 0;
}

void nrv_weights_stats(const struct nrv_weights *w, struct nrv_weights_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->mode = nrv_load_mode_name(w->mode);
	out->backing = "file";
	out->data_bytes = w->data ? w->data_size : 0;
	if (w->arena) {
		struct nrv_arena_stats as;
		nrv_arena_stats(w->arena, &as);
		out->backing = nrv_arena_backing_name(as.backing);
		out->arena_bytes = as.size;
		out->huge_bytes = as.huge;
		out->locked_bytes = as.locked;
		snprintf(out->arena_why, sizeof(out->arena_why), "%s", as.why);
	}
	out->load_s = w->load_s;
	out->direct_bytes = w->rs.direct_bytes;
	out->max_inflight = w->rs.max_inflight;
	snprintf(out->direct_why, sizeof(out->direct_why), "%s", w->rs.direct_why);
}

const char *nrv_weights_mode(const struct nrv_weights *w)
{
	return nrv_load_mode_name(w->mode);
}
