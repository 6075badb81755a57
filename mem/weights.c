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
	const uint8_t *map;
	uint64_t size;
};

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
	int flags = MAP_PRIVATE;
	if (opts && opts->populate)
		flags |= MAP_POPULATE;
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, flags, fd, 0);
	int e = errno;
	close(fd);
	if (m == MAP_FAILED) {
		snprintf(err, errlen, "cannot map model '%s': %s", path, strerror(e));
		return -e;
	}
	struct nrv_weights *w = calloc(1, sizeof(*w));
	if (!w) {
		munmap(m, (size_t)st.st_size);
		return -ENOMEM;
	}
	w->map = m;
	w->size = (uint64_t)st.st_size;
	*out = w;
	return 0;
}

void nrv_weights_close(struct nrv_weights *w)
{
	if (!w)
		return;
	munmap((void *)w->map, (size_t)w->size);
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
	return w->map + data_offset;
}

const char *nrv_weights_mode(const struct nrv_weights *w)
{
	(void)w;
	return "mmap";
}
