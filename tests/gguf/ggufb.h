/*
 * tests/gguf/ggufb.h - a GGUF file builder for tests.
 *
 * Two levels. struct ggufb is a growable byte buffer with little-endian
 * writers: tests that need a deliberately broken file write it field by
 * field. struct gmodel holds keys and tensor infos by name so a test can
 * build a valid file, change one thing, and serialize it with offsets,
 * padding and data laid out as the format requires.
 *
 * Helpers abort the test process on allocation failure (test code only).
 */
#ifndef NRV_TEST_GGUFB_H
#define NRV_TEST_GGUFB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ggufb {
	uint8_t *p;
	size_t len, cap;
};

void gb_init(struct ggufb *b);
void gb_free(struct ggufb *b);
void gb_raw(struct ggufb *b, const void *d, size_t n);
void gb_zeros(struct ggufb *b, size_t n);
void gb_u8(struct ggufb *b, uint8_t v);
void gb_u16(struct ggufb *b, uint16_t v);
void gb_u32(struct ggufb *b, uint32_t v);
void gb_u64(struct ggufb *b, uint64_t v);
void gb_f32(struct ggufb *b, float v);
void gb_f64(struct ggufb *b, double v);
/* u64 length then the bytes (no NUL). */
void gb_str(struct ggufb *b, const char *s);
void gb_strn(struct ggufb *b, const char *s, size_t n);
/* Zero-pad len up to a multiple of align. */
void gb_pad(struct ggufb *b, size_t align);
/* Magic "GGUF", version, tensor count, kv count. */
void gb_header(struct ggufb *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv);
/* One metadata entry: key, u32 type, value. */
void gb_kv_u32(struct ggufb *b, const char *key, uint32_t v);
void gb_kv_str(struct ggufb *b, const char *key, const char *v);
/* One tensor info: name, n_dims, dims, type, offset. */
void gb_tinfo(struct ggufb *b, const char *name, uint32_t n_dims, const uint64_t *ne,
	      uint32_t type, uint64_t offset);

#define GM_MAX_KV 64
#define GM_MAX_TENSORS 512

struct gm_kv {
	char key[128];
	struct ggufb val; /* u32 type, then the value bytes */
};

struct gm_tensor {
	char name[128];
	uint32_t n_dims;
	uint64_t ne[4];
	uint32_t type;
};

struct gmodel {
	int n_kv;
	struct gm_kv kv[GM_MAX_KV];
	int n_tensors;
	struct gm_tensor t[GM_MAX_TENSORS];
	uint32_t alignment;   /* used for layout; set general.alignment yourself */
};

void gm_init(struct gmodel *m);
void gm_free(struct gmodel *m);
/* Setters replace an existing key of the same name. */
void gm_u32(struct gmodel *m, const char *key, uint32_t v);
void gm_i32(struct gmodel *m, const char *key, int32_t v);
void gm_u64(struct gmodel *m, const char *key, uint64_t v);
void gm_f32(struct gmodel *m, const char *key, float v);
void gm_str(struct gmodel *m, const char *key, const char *v);
/* An array of n strings "t0", "t1", ... */
void gm_str_array(struct gmodel *m, const char *key, uint32_t n);
void gm_del(struct gmodel *m, const char *key);
/* Adds or replaces a tensor; ne1..ne3 of 0 mean "no such dimension". */
void gm_tensor(struct gmodel *m, const char *name, uint32_t type, uint64_t ne0, uint64_t ne1);
struct gm_tensor *gm_find(struct gmodel *m, const char *name);
void gm_tensor_del(struct gmodel *m, const char *name);
/* Serializes into out (initialized by the call); returns the size. Data
 * bytes follow a fixed pattern so files differ from all-zeros. */
size_t gm_build(const struct gmodel *m, struct ggufb *out);

/* A valid two-layer llama: n_embd 64, n_head 4, n_head_kv 2, n_ff 96,
 * n_vocab 40, context 128, rope dim 16, eps 1e-5, freq base 10000 (absent:
 * the default), tokens array of 40, F32 norms, Q8_0 and F16 matrices. */
void gm_tiny_llama(struct gmodel *m);

#endif
