/*
 * mem/weights.h - where a model file's bytes live in memory.
 *
 * The model code asks for the file's header bytes (to parse the GGUF
 * index) and then for the tensor data region; it never learns how they got
 * there. This first implementation maps the file read-only (mmap); the
 * hugepage arena filled by io_uring replaces it behind the same calls.
 *
 * Owns: the mapping or arena. Does not own: the parsed index.
 */
#ifndef NRV_MEM_WEIGHTS_H
#define NRV_MEM_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

struct nrv_weights;

enum nrv_load_mode {
	NRV_LOAD_READ = 0, /* copy tensor data into anonymous memory backed by
			    * transparent huge pages where the kernel allows */
	NRV_LOAD_MMAP,     /* map the file read-only and use it in place */
};

struct nrv_weights_opts {
	int mode;     /* enum nrv_load_mode */
	int populate; /* mmap mode: prefault the mapping (MAP_POPULATE) */
};

/* "read" / "mmap" -> mode; -1 when unknown. */
int nrv_load_mode_parse(const char *s);

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

/* How the bytes are held, for `info` and /health ("mmap", "read"). */
const char *nrv_weights_mode(const struct nrv_weights *w);

#endif
