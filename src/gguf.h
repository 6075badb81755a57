/*
 * src/gguf.h - GGUF v2/v3 reader that trusts nothing.
 *
 * nrv_gguf_parse() reads the header, metadata and tensor infos from a
 * buffer holding the start of a GGUF file (usually the whole file, mapped)
 * and checks every count, length, type, dimension, offset and size before
 * use, with overflow-safe arithmetic. A file that fails any check is
 * rejected with a message naming the problem.
 *
 * Owns: the parsed index (keys, values, tensor infos), which points into
 * the caller's buffer for strings and arrays. The buffer must outlive the
 * nrv_gguf. Does not own: the tensor bytes (mem/weights.h maps or loads
 * them) or any model semantics (src/model.c).
 */
#ifndef NRV_GGUF_H
#define NRV_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum nrv_gguf_vtype {
	NRV_GGUF_U8 = 0,
	NRV_GGUF_I8 = 1,
	NRV_GGUF_U16 = 2,
	NRV_GGUF_I16 = 3,
	NRV_GGUF_U32 = 4,
	NRV_GGUF_I32 = 5,
	NRV_GGUF_F32 = 6,
	NRV_GGUF_BOOL = 7,
	NRV_GGUF_STRING = 8,
	NRV_GGUF_ARRAY = 9,
	NRV_GGUF_U64 = 10,
	NRV_GGUF_I64 = 11,
	NRV_GGUF_F64 = 12,
	NRV_GGUF_VTYPE_COUNT
};

#define NRV_GGUF_MAX_NAME 63       /* tensor names are at most 63 bytes (ggml) */
#define NRV_GGUF_MAX_DIMS 4
#define NRV_GGUF_MAX_STRING (1u << 30)
#define NRV_GGUF_MAX_ARRAY (1u << 30)
#define NRV_GGUF_MAX_KEY 65535
#define NRV_GGUF_DEFAULT_ALIGNMENT 32

/* A string inside the file: not NUL-terminated. */
struct nrv_gguf_str {
	const char *p;
	uint64_t len;
};

struct nrv_gguf_kv {
	struct nrv_gguf_str key;
	int type;                  /* enum nrv_gguf_vtype */
	/* Scalars (type != STRING/ARRAY): widened here. */
	union {
		uint64_t u;
		int64_t i;
		double f;
		bool b;
	} v;
	struct nrv_gguf_str str;   /* type == STRING */
	int arr_type;              /* type == ARRAY: element type (never ARRAY) */
	uint64_t arr_n;            /* type == ARRAY: element count */
	const uint8_t *arr_data;   /* type == ARRAY: first element's bytes */
	const struct nrv_gguf_str *arr_str; /* ARRAY of STRING: arr_n entries */
};

struct nrv_gguf_tensor {
	char name[NRV_GGUF_MAX_NAME + 1]; /* NUL-terminated copy */
	uint32_t n_dims;
	int64_t ne[NRV_GGUF_MAX_DIMS];    /* ne[0] innermost; unused dims are 1 */
	int type;                         /* enum nrv_type */
	uint64_t offset;                  /* from the start of tensor data */
	uint64_t nbytes;                  /* bytes of data */
	uint64_t n_elements;
};

struct nrv_gguf {
	uint32_t version;
	uint64_t n_kv;
	struct nrv_gguf_kv *kv;
	uint64_t n_tensors;
	struct nrv_gguf_tensor *tensors;
	uint32_t alignment;
	uint64_t data_offset;  /* file offset of tensor data */
	uint64_t data_size;    /* bytes of tensor data the infos cover (padded) */
	uint64_t file_size;
};

/*
 * Parse a GGUF file. `buf` holds the first `buf_len` bytes of a file of
 * `file_size` bytes (buf_len <= file_size; pass the whole file when mapped).
 * The header and infos must lie within buf; tensor data must lie within
 * file_size. On success *out owns the index; free it with nrv_gguf_free.
 * Returns 0, -EINVAL (malformed: err says why), -ENOMEM, or -ENOBUFS when
 * buf ends before the infos do (err says how many bytes are needed).
 */
int nrv_gguf_parse(const void *buf, size_t buf_len, uint64_t file_size,
		   struct nrv_gguf **out, char *err, size_t errlen);
void nrv_gguf_free(struct nrv_gguf *g);

/* Lookups. find returns NULL when absent. */
const struct nrv_gguf_kv *nrv_gguf_find(const struct nrv_gguf *g, const char *key);
const struct nrv_gguf_tensor *nrv_gguf_tensor(const struct nrv_gguf *g, const char *name);

/* Typed getters: 0, -ENOENT when absent, -EINVAL when the value's type or
 * range does not fit the request (any integer type is accepted for ints). */
int nrv_gguf_get_u32(const struct nrv_gguf *g, const char *key, uint32_t *out);
int nrv_gguf_get_i64(const struct nrv_gguf *g, const char *key, int64_t *out);
int nrv_gguf_get_f32(const struct nrv_gguf *g, const char *key, float *out);
int nrv_gguf_get_bool(const struct nrv_gguf *g, const char *key, bool *out);
int nrv_gguf_get_str(const struct nrv_gguf *g, const char *key, struct nrv_gguf_str *out);
/* ARRAY of `elem_type` (-1 for any); *out points into g. */
int nrv_gguf_get_arr(const struct nrv_gguf *g, const char *key, int elem_type,
		     const struct nrv_gguf_kv **out);

/* Name of a value type ("uint32"), "?" when unknown. */
const char *nrv_gguf_vtype_name(int type);
/* Element size of a scalar value type, 0 for STRING/ARRAY/unknown. */
size_t nrv_gguf_vtype_size(int type);

#endif
