/*
 * mem/bulkread.h - read a large byte range of a file into memory with
 * io_uring: several big reads in flight, O_DIRECT where the filesystem
 * allows it.
 *
 * The range is cut into chunks. The part of it whose file offsets and
 * destination addresses are both NRV_BULKREAD_ALIGN-aligned is read with
 * O_DIRECT (no page-cache copy, no cache pollution); the unaligned head
 * and tail, and everything when O_DIRECT is refused (EINVAL: tmpfs and
 * some network filesystems) or the destination is misaligned, is read
 * through the page cache. Short reads are continued, EINTR and EAGAIN
 * retried, and a file that ends early is an error.
 *
 * Completed chunks are handed to a callback in file order while later
 * reads are still in flight, so that a digest of the bytes costs no
 * separate pass over memory.
 *
 * Owns: the ring and file descriptors for the duration of one call.
 */
#ifndef NRV_MEM_BULKREAD_H
#define NRV_MEM_BULKREAD_H

#include <stddef.h>
#include <stdint.h>

#define NRV_BULKREAD_ALIGN 4096u /* O_DIRECT offset, length and address granule */

struct nrv_bulkread_opts {
	size_t chunk;   /* bytes per read; 0: 8 MiB. Rounded up to NRV_BULKREAD_ALIGN */
	unsigned depth; /* reads in flight; 0: 4; at most 64 */
	int buffered;   /* 1: never use O_DIRECT */
	int faults;     /* test hooks, NRV_BULKREAD_FAULT_*; 0 outside tests */
};

/* Test hooks: make the kernel's answers look like the rare cases, so the
 * code that handles them runs on any machine. */
enum {
	NRV_BULKREAD_FAULT_DIRECT = 1 << 0, /* O_DIRECT reads fail with EINVAL */
	NRV_BULKREAD_FAULT_SHORT = 1 << 1,  /* every read returns a bit over half
					     * of what it read (an odd count) */
	NRV_BULKREAD_FAULT_EAGAIN = 1 << 2, /* each job's first read fails with
					     * EAGAIN, its second with EINTR */
};

struct nrv_bulkread_stats {
	uint64_t direct_bytes;   /* bytes read with O_DIRECT */
	uint64_t buffered_bytes; /* bytes read through the page cache */
	uint32_t reads;          /* read requests submitted, retries included */
	uint32_t short_reads;    /* reads that returned fewer bytes than asked */
	uint32_t retries;        /* EINTR/EAGAIN resubmissions */
	uint32_t max_inflight;   /* most reads in flight at once */
	char direct_why[128];    /* why O_DIRECT was not used, "" when it was */
};

/* Called with each completed piece, in file order, covering the range
 * exactly once. */
typedef void (*nrv_bulkread_cb)(void *ctx, const void *p, size_t n);

/*
 * Read the file's bytes [off, off + len) into dst (which holds len bytes).
 * path names the file for O_DIRECT and for messages; fd is an open
 * descriptor of it used for buffered reads. cb (may be NULL) sees the
 * bytes in order. st (may be NULL) receives counters.
 *
 * Returns 0; -EIO (or the read's -errno) with err naming the file and
 * offset on a read error; -ENODATA when the file ends before off + len
 * (it shrank while loading); -ENOMEM; or -EOPNOTSUPP, before anything was
 * read or handed to cb, when io_uring cannot be set up (disabled by
 * sysctl or seccomp): the caller can fall back to plain reads.
 */
int nrv_bulkread(const char *path, int fd, void *dst, uint64_t off, uint64_t len,
		 const struct nrv_bulkread_opts *opts, nrv_bulkread_cb cb, void *ctx,
		 struct nrv_bulkread_stats *st, char *err, size_t errlen);

#endif
