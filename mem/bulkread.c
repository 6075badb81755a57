/*
 * mem/bulkread.c - a file range into memory through io_uring.
 *
 * The range becomes a list of jobs (head, aligned middle chunks, tail).
 * The loop keeps `depth` of them in flight, continues short reads where
 * they stopped, and hands finished jobs to the callback strictly in file
 * order while the next reads run.
 */
#include "mem/bulkread.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEF_CHUNK ((size_t)8 << 20)
#define MAX_CHUNK ((size_t)1 << 30)
#define DEF_DEPTH 4u
#define MAX_DEPTH 64u

enum { J_PENDING, J_INFLIGHT, J_DONE };

struct job {
	uint8_t *dst;  /* where the job's first byte goes */
	uint64_t off;  /* file offset of that byte */
	uint32_t len;  /* bytes in the job */
	uint32_t done; /* bytes already read */
	uint8_t direct; /* read through the O_DIRECT descriptor */
	uint8_t state;  /* J_* */
	uint8_t tries;  /* completions seen (for the EAGAIN test hook) */
};

struct ctl {
	const char *path;
	struct io_uring ring;
	int fd, dfd;
	struct job *jobs;
	size_t njobs;
	unsigned inflight;
	struct nrv_bulkread_stats *st;
};

static int is_aligned(uint64_t v)
{
	return (v & (NRV_BULKREAD_ALIGN - 1)) == 0;
}

/* Queue a job's remaining bytes. At most `depth` jobs are in flight and
 * the submission queue has `depth` entries, so a free entry exists once
 * everything queued before has been submitted. */
static void queue_job(struct ctl *c, size_t i)
{
	struct job *j = &c->jobs[i];
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);
	while (!sqe) {
		io_uring_submit(&c->ring);
		sqe = io_uring_get_sqe(&c->ring);
	}
	io_uring_prep_read(sqe, j->direct ? c->dfd : c->fd, j->dst + j->done, j->len - j->done,
			   j->off + j->done);
	io_uring_sqe_set_data64(sqe, (uint64_t)i);
	/* A buffered read of cached pages would otherwise be copied inline,
	 * at submit, on this thread; punted to io_uring's workers, the copy
	 * runs on another core while this thread hashes the previous chunk. */
	if (!j->direct)
		io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
	j->state = J_INFLIGHT;
	c->inflight++;
	c->st->reads++;
	if (c->inflight > c->st->max_inflight)
		c->st->max_inflight = c->inflight;
}

/* Build the job list. Direct jobs only where offset, length and address
 * are all aligned; the rest goes through the page cache. */
static int plan(struct ctl *c, uint8_t *dst, uint64_t off, uint64_t len, size_t chunk,
		int direct)
{
	uint64_t end = off + len;
	uint64_t a0 = off, a1 = off;
	if (direct) {
		a0 = (off + NRV_BULKREAD_ALIGN - 1) & ~(uint64_t)(NRV_BULKREAD_ALIGN - 1);
		a1 = end & ~(uint64_t)(NRV_BULKREAD_ALIGN - 1);
		if (a1 <= a0 || !is_aligned((uintptr_t)(dst + (a0 - off))))
			a0 = a1 = off; /* nothing to read direct */
	}
	size_t n = (size_t)(len / chunk) + 3;
	c->jobs = calloc(n, sizeof(*c->jobs));
	if (!c->jobs)
		return -ENOMEM;
	size_t k = 0;
	/* segments: [off, a0) buffered, [a0, a1) direct, [a1, end) buffered */
	const uint64_t seg[3][2] = { { off, a0 }, { a0, a1 }, { a1, end } };
	for (int s = 0; s < 3; s++) {
		for (uint64_t o = seg[s][0]; o < seg[s][1];) {
			uint64_t m = seg[s][1] - o < chunk ? seg[s][1] - o : chunk;
			if (k == n) {
				uint64_t nn = n * 2;
				struct job *g = realloc(c->jobs, nn * sizeof(*g));
				if (!g)
					return -ENOMEM;
				c->jobs = g;
				n = (size_t)nn;
			}
			c->jobs[k++] = (struct job){ .dst = dst + (o - off), .off = o, .len = (uint32_t)m,
						     .direct = (uint8_t)(s == 1) };
			o += m;
		}
	}
	c->njobs = k;
	return 0;
}

/* Open the file again with O_DIRECT and check that it is the same file as
 * fd (the path may have been replaced since). Returns the descriptor or -1
 * with the reason in why. */
static int open_direct(const char *path, int fd, char *why, size_t whylen)
{
	int dfd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (dfd < 0) {
		int e = errno;
		snprintf(why, whylen, "%s", e == EINVAL ? "the filesystem refuses O_DIRECT (EINVAL)"
							: strerror(e));
		return -1;
	}
	struct stat a, b;
	if (fstat(fd, &a) != 0 || fstat(dfd, &b) != 0 || a.st_dev != b.st_dev ||
	    a.st_ino != b.st_ino) {
		snprintf(why, whylen, "the path no longer names the file being loaded");
		close(dfd);
		return -1;
	}
	return dfd;
}

/* Wait until nothing is in flight any more (after an error), so that no
 * read writes into the destination once the caller has it back. */
static void drain(struct ctl *c)
{
	while (c->inflight) {
		struct io_uring_cqe *cqe;
		int rc = io_uring_wait_cqe(&c->ring, &cqe);
		if (rc == -EINTR)
			continue;
		if (rc < 0)
			break;
		io_uring_cqe_seen(&c->ring, cqe);
		c->inflight--;
	}
}

/* Act on one completion. Returns 0 or -errno with err set. */
static int complete(struct ctl *c, size_t i, int res, int faults, char *err, size_t errlen)
{
	struct job *j = &c->jobs[i];
	c->inflight--;
	if (faults) {
		if ((faults & NRV_BULKREAD_FAULT_DIRECT) && j->direct && res >= 0)
			res = -EINVAL;
		if ((faults & NRV_BULKREAD_FAULT_EAGAIN) && j->tries < 2)
			res = j->tries++ ? -EINTR : -EAGAIN;
		if ((faults & NRV_BULKREAD_FAULT_SHORT) && res > 2)
			res = res / 2 + 1 - (res / 2) % 2; /* odd, and short */
	}
	if (res == -EINTR || res == -EAGAIN) {
		c->st->retries++;
		queue_job(c, i);
		return 0;
	}
	if (res == -EINVAL && j->direct) {
		/* O_DIRECT refused at read time (open accepted it): this job and
		 * every later one go through the page cache. */
		if (!c->st->direct_why[0])
			snprintf(c->st->direct_why, sizeof(c->st->direct_why),
				 "O_DIRECT reads refused by the filesystem (EINVAL)");
		for (size_t k = i; k < c->njobs; k++)
			if (c->jobs[k].state == J_PENDING || k == i)
				c->jobs[k].direct = 0;
		queue_job(c, i);
		return 0;
	}
	if (res < 0) {
		snprintf(err, errlen, "reading '%s' at byte %llu failed: %s", c->path,
			 (unsigned long long)(j->off + j->done), strerror(-res));
		return res;
	}
	if (res == 0) {
		snprintf(err, errlen,
			 "'%s' ends at byte %llu but %llu bytes were expected: the file shrank "
			 "while loading (is another process rewriting it?)",
			 c->path, (unsigned long long)(j->off + j->done),
			 (unsigned long long)(c->jobs[c->njobs - 1].off + c->jobs[c->njobs - 1].len));
		return -ENODATA;
	}
	if ((uint32_t)res > j->len - j->done) {
		snprintf(err, errlen, "reading '%s': the kernel returned more bytes than asked", c->path);
		return -EIO;
	}
	if (j->direct)
		c->st->direct_bytes += (uint64_t)res;
	else
		c->st->buffered_bytes += (uint64_t)res;
	j->done += (uint32_t)res;
	if (j->done < j->len) {
		c->st->short_reads++;
		if (j->direct && (!is_aligned(j->off + j->done) || !is_aligned(j->len - j->done)))
			j->direct = 0;
		queue_job(c, i);
		return 0;
	}
	j->state = J_DONE;
	return 0;
}

int nrv_bulkread(const char *path, int fd, void *dst, uint64_t off, uint64_t len,
		 const struct nrv_bulkread_opts *opts, nrv_bulkread_cb cb, void *ctx,
		 struct nrv_bulkread_stats *st, char *err, size_t errlen)
{
	struct nrv_bulkread_stats dummy;
	if (!st)
		st = &dummy;
	memset(st, 0, sizeof(*st));
	if (len == 0)
		return 0;
	if (off > UINT64_MAX - len) {
		snprintf(err, errlen, "reading '%s': range overflows", path);
		return -EINVAL;
	}
	struct nrv_bulkread_opts o = { 0 };
	if (opts)
		o = *opts;
	size_t chunk = o.chunk ? o.chunk : DEF_CHUNK;
	if (chunk > MAX_CHUNK)
		chunk = MAX_CHUNK;
	chunk = (chunk + NRV_BULKREAD_ALIGN - 1) & ~(size_t)(NRV_BULKREAD_ALIGN - 1);
	unsigned depth = o.depth ? o.depth : DEF_DEPTH;
	if (depth > MAX_DEPTH)
		depth = MAX_DEPTH;

	struct ctl c = { .path = path, .fd = fd, .dfd = -1, .st = st };
	if (o.buffered)
		snprintf(st->direct_why, sizeof(st->direct_why), "buffered reads requested");
	else
		c.dfd = open_direct(path, fd, st->direct_why, sizeof(st->direct_why));
	int rc = plan(&c, dst, off, len, chunk, c.dfd >= 0);
	if (rc) {
		snprintf(err, errlen, "reading '%s': out of memory", path);
		goto out_fd;
	}
	if (c.dfd >= 0) {
		int any = 0;
		for (size_t k = 0; k < c.njobs; k++)
			any |= c.jobs[k].direct;
		if (!any)
			snprintf(st->direct_why, sizeof(st->direct_why),
				 "the range or buffer is not %u-byte aligned", NRV_BULKREAD_ALIGN);
	}
	rc = io_uring_queue_init(depth, &c.ring, 0);
	if (rc < 0) {
		snprintf(err, errlen, "io_uring is not available: %s%s", strerror(-rc),
			 rc == -EPERM ? " (kernel.io_uring_disabled, or a seccomp filter)" : "");
		rc = -EOPNOTSUPP;
		goto out_jobs;
	}

	size_t next_sub = 0, next_cb = 0;
	for (;;) {
		while (c.inflight < depth && next_sub < c.njobs)
			queue_job(&c, next_sub++);
		if (io_uring_sq_ready(&c.ring)) {
			int s;
			do
				s = io_uring_submit(&c.ring);
			while (s == -EINTR || s == -EAGAIN);
			if (s < 0) {
				rc = s;
				snprintf(err, errlen, "reading '%s': io_uring submit failed: %s", path,
					 strerror(-s));
				goto out_drain;
			}
		}
		/* Hand over what is complete while the reads just queued run. */
		while (next_cb < c.njobs && c.jobs[next_cb].state == J_DONE) {
			if (cb)
				cb(ctx, c.jobs[next_cb].dst, c.jobs[next_cb].len);
			next_cb++;
		}
		if (next_cb == c.njobs)
			break;
		struct io_uring_cqe *cqe;
		rc = io_uring_wait_cqe(&c.ring, &cqe);
		if (rc == -EINTR)
			continue;
		if (rc < 0) {
			snprintf(err, errlen, "reading '%s': waiting for io_uring failed: %s", path,
				 strerror(-rc));
			goto out_drain;
		}
		unsigned head, seen = 0;
		io_uring_for_each_cqe(&c.ring, head, cqe) {
			seen++;
			uint64_t i = io_uring_cqe_get_data64(cqe);
			rc = i < c.njobs ? complete(&c, (size_t)i, cqe->res, o.faults, err, errlen)
					 : -EIO;
			if (rc)
				break;
		}
		io_uring_cq_advance(&c.ring, seen);
		if (rc)
			goto out_drain;
	}
	rc = 0;
out_drain:
	drain(&c);
	io_uring_queue_exit(&c.ring);
out_jobs:
	free(c.jobs);
out_fd:
	if (c.dfd >= 0)
		close(c.dfd);
	return rc;
}
