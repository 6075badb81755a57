/*
 * mem/weights.c - model bytes through a read-only file mapping.
 */
#include "mem/weights.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct nrv_weights {
	const uint8_t *map;  /* the whole file, read-only */
	uint64_t size;
	int fd;              /* kept open in read mode, -1 otherwise */
	int mode;
	uint8_t *arena;      /* read mode: tensor data copy */
	size_t arena_size;
	uint64_t arena_off;  /* file offset the arena starts at */
};

#define HUGE_2M ((size_t)2 << 20)

int nrv_load_mode_parse(const char *s)
{
	if (!strcmp(s, "read"))
		return NRV_LOAD_READ;
	if (!strcmp(s, "mmap"))
		return NRV_LOAD_MMAP;
	return -1;
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
	if (!w) {
		munmap(m, (size_t)st.st_size);
		close(fd);
		return -ENOMEM;
	}
	w->map = m;
	w->size = (uint64_t)st.st_size;
	w->mode = mode;
	w->fd = -1;
	if (mode == NRV_LOAD_READ)
		w->fd = fd;
	else
		close(fd);
	*out = w;
	return 0;
}

void nrv_weights_close(struct nrv_weights *w)
{
	if (!w)
		return;
	munmap((void *)w->map, (size_t)w->size);
	if (w->arena)
		munmap(w->arena, w->arena_size);
	if (w->fd >= 0)
		close(w->fd);
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

const void *nrv_weights_data(struct nrv_weights *w, uint64_t data_offset, uint64_t data_size,
			     char *err, size_t errlen)
{
	if (data_offset > w->size || data_size > w->size - data_offset) {
		snprintf(err, errlen, "tensor data [%llu, +%llu) lies outside the %llu-byte file",
			 (unsigned long long)data_offset, (unsigned long long)data_size,
			 (unsigned long long)w->size);
		return NULL;
	}
	if (w->mode == NRV_LOAD_MMAP)
		return w->map + data_offset;
	if (w->arena)
		return w->arena_off == data_offset ? w->arena : NULL;
	/* A private anonymous copy on 2 MiB-aligned memory, so that transparent
	 * huge pages can back it: the weights stream through the cache with
	 * few TLB misses and the hardware prefetchers are not stopped at every
	 * 4 KiB page boundary, as they are on the page cache's small pages. */
	size_t size = ((size_t)data_size + HUGE_2M - 1) & ~(HUGE_2M - 1);
	if (size == 0)
		size = HUGE_2M;
	uint8_t *a = mmap(NULL, size + HUGE_2M, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED) {
		snprintf(err, errlen, "cannot allocate %zu bytes for the weights: %s", size, strerror(errno));
		return NULL;
	}
	uint8_t *aligned = (uint8_t *)(((uintptr_t)a + HUGE_2M - 1) & ~(uintptr_t)(HUGE_2M - 1));
	if (aligned > a)
		munmap(a, (size_t)(aligned - a));
	size_t tail = (size_t)(a + size + HUGE_2M - (aligned + size));
	if (tail)
		munmap(aligned + size, tail);
	madvise(aligned, size, MADV_HUGEPAGE);
	uint64_t done = 0;
	while (done < data_size) {
		size_t chunk = data_size - done > (64u << 20) ? (64u << 20) : (size_t)(data_size - done);
		ssize_t r = pread(w->fd, aligned + done, chunk, (off_t)(data_offset + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, errlen, "reading the weights failed at byte %llu: %s",
				 (unsigned long long)(data_offset + done),
				 r < 0 ? strerror(errno) : "the file shrank while loading");
			munmap(aligned, size);
			return NULL;
		}
		done += (uint64_t)r;
	}
	w->arena = aligned;
	w->arena_size = size;
	w->arena_off = data_offset;
	return aligned;
}

const char *nrv_weights_mode(const struct nrv_weights *w)
{
	return w->mode == NRV_LOAD_MMAP ? "mmap" : "read";
}
