/*
 * mem/weights.h - where a model file's bytes live in memory.
 *
 * The model code asks for the file's header bytes (to parse the GGUF
 * index) and then for the tensor data region; it never learns how they got
 * there. The header is always read through a read-only mapping of the
 * file. The tensor data is either used in place from that mapping (mmap)
 * or copied into a per-model arena (mem/arena.h: hugepages, else
 * transparent huge pages, else plain pages, optionally mlocked), filled by
 * io_uring reads (uring, mem/bulkread.h) or by pread (read).
 *
 * While the data streams in, an XXH3-128 digest of the whole file is
 * computed (the model's identity for cache keys and logs).
 *
 * Owns: the mapping, the arena and the file descriptor. Does not own: the
 * parsed index.
 */
#ifndef NRV_MEM_WEIGHTS_H
#define NRV_MEM_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "mem/bulkread.h"

struct nrv_weights;

enum nrv_load_mode {
	NRV_LOAD_READ = 0, /* pread the tensor data into the arena */
	NRV_LOAD_MMAP,     /* map the file read-only and use it in place */
	NRV_LOAD_URING,    /* io_uring reads (O_DIRECT where allowed) into the arena */
};

/* What `run`, `bench` and the model loader use when not told otherwise. */
#define NRV_LOAD_DEFAULT NRV_LOAD_URING

/* Zero-initialised options are the defaults. */
struct nrv_weights_opts {
	int mode;      /* enum nrv_load_mode */
	int populate;  /* mmap mode: prefault the mapping (MAP_POPULATE) */
	int lock;      /* read/uring: mlock the arena (a refusal is logged, not fatal) */
	int backing;   /* read/uring: strongest arena backing to try
			* (enum nrv_arena_backing; 0 tries hugepages first) */
	int arena_fail_mask;   /* tests only: NRV_ARENA_FAIL_* */
	int no_digest; /* 1: do not hash while loading (nrv_weights_digest
			* then hashes the file when first asked) */
	int direct;    /* uring mode: 0 auto (O_DIRECT unless most of the data
			* is already in the page cache, where copying from the
			* cache is faster than the disk), 1 O_DIRECT always
			* (where the filesystem allows), -1 never */
	struct nrv_bulkread_opts uring; /* uring mode: chunk size, depth (.buffered
					 * is set from .direct) */
};

/* "read" / "mmap" / "uring" -> mode; -1 when unknown. */
int nrv_load_mode_parse(const char *s);
const char *nrv_load_mode_name(int mode);

/*
 * Open a model file. Rejects directories, unreadable and empty files with a
 * message in err. Returns 0 or -errno.
 */
int nrv_weights_open(const char *path, const struct nrv_weights_opts *opts,
		     struct nrv_weights **out, char *err, size_t errlen);
void nrv_weights_close(struct nrv_weights *w);

/* Bytes from the start of the file available for header parsing. */
const void *nrv_weights_header(const struct nrv_weights *w, size_t *len);
uint64_t nrv_weights_file_size(const struct nrv_weights *w);

/* Make the tensor data region [data_offset, data_offset + data_size)
 * available and return its base, or NULL with err set. */
const void *nrv_weights_data(struct nrv_weights *w, uint64_t data_offset, uint64_t data_size,
			     char *err, size_t errlen);

/* How the bytes are held, for `info` and /health ("mmap", "read", "uring"). */
const char *nrv_weights_mode(const struct nrv_weights *w);

/* How a loaded model's weights are held, for `info`, `run` and /health. */
struct nrv_weights_stats {
	const char *mode;       /* "read", "uring" or "mmap" (static string) */
	const char *backing;    /* arena backing ("hugetlb", "thp", "plain"), or
				 * "file" when the data is the file mapping */
	uint64_t data_bytes;    /* tensor data bytes held */
	uint64_t arena_bytes;   /* bytes mapped for the arena (0 in mmap mode) */
	uint64_t huge_bytes;    /* arena bytes in huge pages (hugetlb: all; thp:
				 * what the kernel reported right after loading) */
	uint64_t locked_bytes;  /* arena bytes locked in memory */
	double load_s;          /* seconds spent filling the arena (0: not loaded) */
	uint64_t direct_bytes;  /* uring mode: bytes read with O_DIRECT */
	uint32_t max_inflight;  /* uring mode: most reads in flight at once */
	char arena_why[256];    /* arena fallbacks and lock refusal, "" when none */
	char direct_why[128];   /* uring mode: why O_DIRECT was not (fully) used */
};
void nrv_weights_stats(const struct nrv_weights *w, struct nrv_weights_stats *out);

#define NRV_DIGEST_HEX 33 /* 32 hex digits and the NUL */

/*
 * The XXH3-128 digest of the whole file as 32 lowercase hex digits (the
 * canonical big-endian form), for cache keys and logs. Computed while the
 * data is loaded (read/uring modes), else on the first call by reading the
 * whole file once. Returns 0; -ENOMEM; -ENODATA when the file shrank since
 * it was opened; or the read's -errno. hex is untouched on error.
 */
int nrv_weights_digest(struct nrv_weights *w, char hex[NRV_DIGEST_HEX]);

#endif
