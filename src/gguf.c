/*
 * src/gguf.c - GGUF v2/v3 reader (see gguf.h).
 *
 * Every read goes through a bounds-checked cursor; every size computation
 * goes through an overflow-checked helper. The llama.cpp GGUF advisories
 * (size overflows, unbounded string and array lengths, wrapping alignment,
 * unchecked array element types) are the checklist this file answers.
 */
#include "gguf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/quant.h"

#define GGUF_MAGIC 0x46554747u /* "GGUF" read as little-endian u32 */

struct cursor {
	const uint8_t *p;
	size_t len;  /* bytes available in the buffer */
	size_t off;
	uint64_t file_size;
	char *err;
	size_t errlen;
};

static int fail(struct cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct cursor *c, const char *fmt, ...)
{
	if (c->err && c->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Fails with -ENOBUFS when the buffer is shorter than the file and the
 * read would run past the buffer: the caller may retry with more bytes. */
static int need(struct cursor *c, uint64_t n, const char *what)
{
	if (n <= c->len - c->off)
		return 0;
	if (c->len < c->file_size) {
		if (c->err && c->errlen)
			snprintf(c->err, c->errlen, "header needs more than %zu bytes", c->len);
		return -ENOBUFS;
	}
	return fail(c, "truncated file: %s at byte %zu needs %llu bytes, only %zu remain",
		    what, c->off, (unsigned long long)n, c->len - c->off);
}

static uint32_t rd_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd_u64(const uint8_t *p)
{
	return (uint64_t)rd_u32(p) | (uint64_t)rd_u32(p + 4) << 32;
}

static int get_u32(struct cursor *c, uint32_t *v, const char *what)
{
	int rc = need(c, 4, what);
	if (rc)
		return rc;
	*v = rd_u32(c->p + c->off);
	c->off += 4;
	return 0;
}

static int get_u64(struct cursor *c, uint64_t *v, const char *what)
{
	int rc = need(c, 8, what);
	if (rc)
		return rc;
	*v = rd_u64(c->p + c->off);
	c->off += 8;
	return 0;
}

static int get_str(struct cursor *c, struct nrv_gguf_str *s, const char *what)
{
	uint64_t len;
	int rc = get_u64(c, &len, what);
	if (rc)
		return rc;
	if (len > NRV_GGUF_MAX_STRING)
		return fail(c, "%s at byte %zu: string length %llu exceeds the limit of %u bytes",
			    what, c->off - 8, (unsigned long long)len, NRV_GGUF_MAX_STRING);
	rc = need(c, len, what);
	if (rc)
		return rc;
	s->p = (const char *)c->p + c->off;
	s->len = len;
	c->off += len;
	return 0;
}

static bool mul_ok(uint64_t a, uint64_t b, uint64_t *r)
{
	return !__builtin_mul_overflow(a, b, r);
}

static bool add_ok(uint64_t a, uint64_t b, uint64_t *r)
{
	return !__builtin_add_overflow(a, b, r);
}

/* Round o up to a multiple of a (a power of two); false on overflow. */
static bool align_ok(uint64_t o, uint64_t a, uint64_t *r)
{
	uint64_t t;
	if (!add_ok(o, a - 1, &t))
		return false;
	*r = t & ~(a - 1);
	return true;
}

const char *nrv_gguf_vtype_name(int type)
{
	static const char *const names[NRV_GGUF_VTYPE_COUNT] = {
		"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
		"bool", "string", "array", "uint64", "int64", "float64",
	};
	if (type < 0 || type >= NRV_GGUF_VTYPE_COUNT)
		return "?";
	return names[type];
}

size_t nrv_gguf_vtype_size(int type)
{
	switch (type) {
	case NRV_GGUF_U8: case NRV_GGUF_I8: case NRV_GGUF_BOOL: return 1;
	case NRV_GGUF_U16: case NRV_GGUF_I16: return 2;
	case NRV_GGUF_U32: case NRV_GGUF_I32: case NRV_GGUF_F32: return 4;
	case NRV_GGUF_U64: case NRV_GGUF_I64: case NRV_GGUF_F64: return 8;
	default: return 0;
	}
}

static void read_scalar(const uint8_t *p, int type, struct nrv_gguf_kv *kv)
{
	switch (type) {
	case NRV_GGUF_U8: kv->v.u = p[0]; break;
	case NRV_GGUF_I8: kv->v.i = (int8_t)p[0]; break;
	case NRV_GGUF_U16: kv->v.u = (uint16_t)(p[0] | p[1] << 8); break;
	case NRV_GGUF_I16: kv->v.i = (int16_t)(uint16_t)(p[0] | p[1] << 8); break;
	case NRV_GGUF_U32: kv->v.u = rd_u32(p); break;
	case NRV_GGUF_I32: kv->v.i = (int32_t)rd_u32(p); break;
	case NRV_GGUF_U64: kv->v.u = rd_u64(p); break;
	case NRV_GGUF_I64: kv->v.i = (int64_t)rd_u64(p); break;
	case NRV_GGUF_BOOL: kv->v.b = p[0] != 0; break;
	case NRV_GGUF_F32: {
		union { uint32_t u; float f; } x = { .u = rd_u32(p) };
		kv->v.f = x.f;
		break;
	}
	case NRV_GGUF_F64: {
		union { uint64_t u; double f; } x = { .u = rd_u64(p) };
		kv->v.f = x.f;
		break;
	}
	default: break;
	}
}

static bool key_valid(const struct nrv_gguf_str *k)
{
	if (k->len == 0 || k->len > NRV_GGUF_MAX_KEY)
		return false;
	for (uint64_t i = 0; i < k->len; i++) {
		unsigned char ch = (unsigned char)k->p[i];
		if (ch < 0x20 || ch > 0x7e)
			return false;
	}
	return true;
}

/* Prints up to 64 bytes of a key for messages (keys were checked printable). */
#define KEYFMT "%.*s"
#define KEYARG(k) (int)((k).len > 64 ? 64 : (k).len), (k).p

static int parse_kv(struct cursor *c, struct nrv_gguf_kv *kv, uint64_t idx)
{
	int rc = get_str(c, &kv->key, "metadata key");
	if (rc)
		return rc;
	if (!key_valid(&kv->key))
		return fail(c, "metadata key #%llu is empty, longer than %u bytes, or not printable ASCII",
			    (unsigned long long)idx, NRV_GGUF_MAX_KEY);
	uint32_t type;
	if ((rc = get_u32(c, &type, "metadata value type")))
		return rc;
	if (type >= NRV_GGUF_VTYPE_COUNT)
		return fail(c, "metadata '" KEYFMT "': unknown value type %u", KEYARG(kv->key), type);
	kv->type = (int)type;
	if (type == NRV_GGUF_STRING)
		return get_str(c, &kv->str, "metadata string value");
	if (type != NRV_GGUF_ARRAY) {
		size_t sz = nrv_gguf_vtype_size((int)type);
		if ((rc = need(c, sz, "metadata value")))
			return rc;
		if (type == NRV_GGUF_BOOL && c->p[c->off] > 1)
			return fail(c, "metadata '" KEYFMT "': bool value %u is neither 0 nor 1",
				    KEYARG(kv->key), c->p[c->off]);
		read_scalar(c->p + c->off, (int)type, kv);
		c->off += sz;
		return 0;
	}
	uint32_t et;
	uint64_t n;
	if ((rc = get_u32(c, &et, "array element type")) || (rc = get_u64(c, &n, "array length")))
		return rc;
	if (et >= NRV_GGUF_VTYPE_COUNT || et == NRV_GGUF_ARRAY)
		return fail(c, "metadata '" KEYFMT "': array element type %u is %s", KEYARG(kv->key), et,
			    et == NRV_GGUF_ARRAY ? "a nested array (not supported)" : "unknown");
	if (n > NRV_GGUF_MAX_ARRAY)
		return fail(c, "metadata '" KEYFMT "': array of %llu elements exceeds the limit of %u",
			    KEYARG(kv->key), (unsigned long long)n, NRV_GGUF_MAX_ARRAY);
	kv->arr_type = (int)et;
	kv->arr_n = n;
	kv->arr_data = c->p + c->off;
	if (et != NRV_GGUF_STRING) {
		uint64_t bytes;
		if (!mul_ok(n, nrv_gguf_vtype_size((int)et), &bytes))
			return fail(c, "metadata '" KEYFMT "': array size overflows", KEYARG(kv->key));
		if ((rc = need(c, bytes, "array data")))
			return rc;
		if (et == NRV_GGUF_BOOL) {
			for (uint64_t i = 0; i < n; i++)
				if (c->p[c->off + i] > 1)
					return fail(c, "metadata '" KEYFMT "': bool element %llu is neither 0 nor 1",
						    KEYARG(kv->key), (unsigned long long)i);
		}
		c->off += bytes;
		return 0;
	}
	/* Each string takes at least its 8-byte length, so the remaining bytes
	 * bound the count before anything is allocated. */
	if (n > (c->len - c->off) / 8 && c->len >= c->file_size)
		return fail(c, "metadata '" KEYFMT "': %llu strings cannot fit in the %zu bytes left",
			    KEYARG(kv->key), (unsigned long long)n, c->len - c->off);
	if (n > (c->len - c->off) / 8)
		return need(c, n * 8, "string array");
	struct nrv_gguf_str *s = calloc(n ? n : 1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	kv->arr_str = s;
	for (uint64_t i = 0; i < n; i++)
		if ((rc = get_str(c, &s[i], "array string")))
			return rc;
	return 0;
}

static int cmp_kv_key(const void *a, const void *b)
{
	const struct nrv_gguf_kv *x = *(const struct nrv_gguf_kv *const *)a;
	const struct nrv_gguf_kv *y = *(const struct nrv_gguf_kv *const *)b;
	uint64_t n = x->key.len < y->key.len ? x->key.len : y->key.len;
	int r = memcmp(x->key.p, y->key.p, n);
	if (r)
		return r;
	return (x->key.len > y->key.len) - (x->key.len < y->key.len);
}

static int cmp_tensor_name(const void *a, const void *b)
{
	const struct nrv_gguf_tensor *x = *(const struct nrv_gguf_tensor *const *)a;
	const struct nrv_gguf_tensor *y = *(const struct nrv_gguf_tensor *const *)b;
	return strcmp(x->name, y->name);
}

static int cmp_tensor_off(const void *a, const void *b)
{
	const struct nrv_gguf_tensor *x = *(const struct nrv_gguf_tensor *const *)a;
	const struct nrv_gguf_tensor *y = *(const struct nrv_gguf_tensor *const *)b;
	return (x->offset > y->offset) - (x->offset < y->offset);
}

static int parse_tensor(struct cursor *c, struct nrv_gguf_tensor *t, uint64_t idx)
{
	struct nrv_gguf_str name;
	int rc = get_str(c, &name, "tensor name");
	if (rc)
		return rc;
	if (name.len == 0 || name.len > NRV_GGUF_MAX_NAME)
		return fail(c, "tensor #%llu: name length %llu is not in 1..%d bytes",
			    (unsigned long long)idx, (unsigned long long)name.len, NRV_GGUF_MAX_NAME);
	if (memchr(name.p, 0, name.len))
		return fail(c, "tensor #%llu: name contains a NUL byte", (unsigned long long)idx);
	memcpy(t->name, name.p, name.len);
	t->name[name.len] = 0;

	if ((rc = get_u32(c, &t->n_dims, "tensor dimension count")))
		return rc;
	if (t->n_dims == 0 || t->n_dims > NRV_GGUF_MAX_DIMS)
		return fail(c, "tensor '%s': %u dimensions (1..%d allowed)", t->name, t->n_dims,
			    NRV_GGUF_MAX_DIMS);
	uint64_t nel = 1;
	for (int d = 0; d < NRV_GGUF_MAX_DIMS; d++)
		t->ne[d] = 1;
	for (uint32_t d = 0; d < t->n_dims; d++) {
		uint64_t ne;
		if ((rc = get_u64(c, &ne, "tensor dimension")))
			return rc;
		if (ne > (uint64_t)INT64_MAX)
			return fail(c, "tensor '%s': dimension %u is negative or too large (%llu)",
				    t->name, d, (unsigned long long)ne);
		t->ne[d] = (int64_t)ne;
		if (!mul_ok(nel, ne, &nel) || nel > (uint64_t)INT64_MAX)
			return fail(c, "tensor '%s': element count overflows", t->name);
	}
	t->n_elements = nel;

	uint32_t type;
	if ((rc = get_u32(c, &type, "tensor type")))
		return rc;
	int blck, tsize;
	nrv_type_geom((int)type, &blck, &tsize);
	if (blck == 0 || type == NRV_TYPE_Q8_1 || type == NRV_TYPE_Q8_K) {
		const char *tn = nrv_type_name((int)type);
		return fail(c, "tensor '%s': type %s (id %u) is not supported for weights",
			    t->name, tn ? tn : "unknown", type);
	}
	t->type = (int)type;
	if (t->ne[0] % blck)
		return fail(c, "tensor '%s': row length %lld is not a multiple of the %s block size %d",
			    t->name, (long long)t->ne[0], nrv_type_name(t->type), blck);
	uint64_t nbytes;
	if (!mul_ok(nel / (uint64_t)blck, (uint64_t)tsize, &nbytes))
		return fail(c, "tensor '%s': byte size overflows", t->name);
	t->nbytes = nbytes;
	return get_u64(c, &t->offset, "tensor offset");
}

void nrv_gguf_free(struct nrv_gguf *g)
{
	if (!g)
		return;
	if (g->kv)
		for (uint64_t i = 0; i < g->n_kv; i++)
			free((void *)g->kv[i].arr_str);
	free(g->kv);
	free(g->tensors);
	free(g);
}

static int check_unique_keys(struct cursor *c, struct nrv_gguf *g)
{
	if (g->n_kv < 2)
		return 0;
	const struct nrv_gguf_kv **idx = malloc(g->n_kv * sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	for (uint64_t i = 0; i < g->n_kv; i++)
		idx[i] = &g->kv[i];
	qsort(idx, g->n_kv, sizeof(*idx), cmp_kv_key);
	int rc = 0;
	for (uint64_t i = 1; i < g->n_kv; i++) {
		if (cmp_kv_key(&idx[i - 1], &idx[i]) == 0) {
			rc = fail(c, "duplicate metadata key '" KEYFMT "'", KEYARG(idx[i]->key));
			break;
		}
	}
	free(idx);
	return rc;
}

static int check_tensors(struct cursor *c, struct nrv_gguf *g)
{
	if (g->n_tensors == 0)
		return 0;
	const struct nrv_gguf_tensor **idx = malloc(g->n_tensors * sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	int rc = 0;
	for (uint64_t i = 0; i < g->n_tensors; i++)
		idx[i] = &g->tensors[i];
	qsort(idx, g->n_tensors, sizeof(*idx), cmp_tensor_name);
	for (uint64_t i = 1; i < g->n_tensors && !rc; i++)
		if (strcmp(idx[i - 1]->name, idx[i]->name) == 0)
			rc = fail(c, "duplicate tensor name '%s'", idx[i]->name);

	uint64_t data_bytes = g->file_size - g->data_offset;
	for (uint64_t i = 0; i < g->n_tensors && !rc; i++) {
		const struct nrv_gguf_tensor *t = &g->tensors[i];
		uint64_t end;
		if (t->offset % g->alignment)
			rc = fail(c, "tensor '%s': offset %llu is not a multiple of the alignment %u",
				  t->name, (unsigned long long)t->offset, g->alignment);
		else if (!add_ok(t->offset, t->nbytes, &end) || end > data_bytes)
			rc = fail(c, "tensor '%s': data ends at byte %llu, past end of file (%llu bytes)",
				  t->name,
				  (unsigned long long)(g->data_offset + t->offset + t->nbytes),
				  (unsigned long long)g->file_size);
	}
	if (!rc) {
		qsort(idx, g->n_tensors, sizeof(*idx), cmp_tensor_off);
		for (uint64_t i = 1; i < g->n_tensors && !rc; i++)
			if (idx[i - 1]->offset + idx[i - 1]->nbytes > idx[i]->offset)
				rc = fail(c, "tensors '%s' and '%s' overlap in the file", idx[i - 1]->name,
					  idx[i]->name);
		const struct nrv_gguf_tensor *last = idx[g->n_tensors - 1];
		uint64_t end = last->offset + last->nbytes;
		if (!rc && !align_ok(end, g->alignment, &g->data_size))
			rc = fail(c, "tensor data size overflows");
		if (!rc && g->data_size > data_bytes)
			g->data_size = data_bytes; /* the last tensor need not be padded */
	}
	free(idx);
	return rc;
}

int nrv_gguf_parse(const void *buf, size_t buf_len, uint64_t file_size,
		   struct nrv_gguf **out, char *err, size_t errlen)
{
	struct cursor c = { .p = buf, .len = buf_len, .file_size = file_size,
			    .err = err, .errlen = errlen };
	*out = NULL;
	if (err && errlen)
		err[0] = 0;
	if (buf_len > file_size)
		return fail(&c, "buffer of %zu bytes is larger than the file (%llu bytes)", buf_len,
			    (unsigned long long)file_size);
	if (file_size < 4)
		return fail(&c, "not a GGUF file: %llu bytes is too short for the header",
			    (unsigned long long)file_size);
	if (buf_len < 4) {
		if (err && errlen)
			snprintf(err, errlen, "header needs more than %zu bytes", buf_len);
		return -ENOBUFS;
	}
	uint32_t magic = rd_u32(c.p);
	if (magic != GGUF_MAGIC) {
		if (magic == 0x47475546u)
			return fail(&c, "big-endian GGUF files are not supported; convert to little-endian");
		return fail(&c, "not a GGUF file: magic bytes are %02x %02x %02x %02x, expected 'GGUF'",
			    c.p[0], c.p[1], c.p[2], c.p[3]);
	}
	c.off = 4;

	struct nrv_gguf *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->file_size = file_size;
	g->alignment = NRV_GGUF_DEFAULT_ALIGNMENT;
	int rc;
	if ((rc = get_u32(&c, &g->version, "version")))
		goto out;
	if (g->version == 1) {
		rc = fail(&c, "GGUF version 1 is obsolete and not supported; re-convert the model");
		goto out;
	}
	if (g->version != 2 && g->version != 3) {
		if ((g->version & 0xffff) == 0)
			rc = fail(&c, "GGUF version field 0x%08x looks byte-swapped: big-endian files are not supported",
				  g->version);
		else
			rc = fail(&c, "unsupported GGUF version %u (2 and 3 are supported)", g->version);
		goto out;
	}
	if ((rc = get_u64(&c, &g->n_tensors, "tensor count")) ||
	    (rc = get_u64(&c, &g->n_kv, "metadata count")))
		goto out;
	/* Bound counts by the bytes that could hold them before allocating:
	 * a key-value takes at least 12 bytes, a tensor info at least 25. */
	uint64_t left = file_size - c.off;
	if (g->n_kv > left / 12) {
		rc = fail(&c, "metadata count %llu cannot fit in a %llu-byte file",
			  (unsigned long long)g->n_kv, (unsigned long long)file_size);
		goto out;
	}
	if (g->n_tensors > left / 25) {
		rc = fail(&c, "tensor count %llu cannot fit in a %llu-byte file",
			  (unsigned long long)g->n_tensors, (unsigned long long)file_size);
		goto out;
	}
	g->kv = calloc(g->n_kv ? g->n_kv : 1, sizeof(*g->kv));
	g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof(*g->tensors));
	if (!g->kv || !g->tensors) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint64_t i = 0; i < g->n_kv; i++)
		if ((rc = parse_kv(&c, &g->kv[i], i)))
			goto out;
	if ((rc = check_unique_keys(&c, g)))
		goto out;

	const struct nrv_gguf_kv *al = nrv_gguf_find(g, "general.alignment");
	if (al) {
		if (al->type != NRV_GGUF_U32) {
			rc = fail(&c, "general.alignment has type %s, expected uint32",
				  nrv_gguf_vtype_name(al->type));
			goto out;
		}
		if (al->v.u == 0 || (al->v.u & (al->v.u - 1)) || al->v.u > (1u << 30)) {
			rc = fail(&c, "general.alignment %llu is not a power of two in 1..2^30",
				  (unsigned long long)al->v.u);
			goto out;
		}
		g->alignment = (uint32_t)al->v.u;
	}

	for (uint64_t i = 0; i < g->n_tensors; i++)
		if ((rc = parse_tensor(&c, &g->tensors[i], i)))
			goto out;
	if (!align_ok(c.off, g->alignment, &g->data_offset) || g->data_offset > file_size) {
		if (g->n_tensors) {
			rc = fail(&c, "tensor data would start at byte %llu, past end of file (%llu bytes)",
				  (unsigned long long)g->data_offset, (unsigned long long)file_size);
			goto out;
		}
		g->data_offset = file_size;
	}
	if ((rc = check_tensors(&c, g)))
		goto out;
	*out = g;
	return 0;
out:
	nrv_gguf_free(g);
	return rc;
}

static bool str_eq(const struct nrv_gguf_str *s, const char *z)
{
	size_t n = strlen(z);
	return s->len == n && memcmp(s->p, z, n) == 0;
}

const struct nrv_gguf_kv *nrv_gguf_find(const struct nrv_gguf *g, const char *key)
{
	for (uint64_t i = 0; i < g->n_kv; i++)
		if (str_eq(&g->kv[i].key, key))
			return &g->kv[i];
	return NULL;
}

const struct nrv_gguf_tensor *nrv_gguf_tensor(const struct nrv_gguf *g, const char *name)
{
	for (uint64_t i = 0; i < g->n_tensors; i++)
		if (strcmp(g->tensors[i].name, name) == 0)
			return &g->tensors[i];
	return NULL;
}

static bool is_signed(int t)
{
	return t == NRV_GGUF_I8 || t == NRV_GGUF_I16 || t == NRV_GGUF_I32 || t == NRV_GGUF_I64;
}

static bool is_unsigned(int t)
{
	return t == NRV_GGUF_U8 || t == NRV_GGUF_U16 || t == NRV_GGUF_U32 || t == NRV_GGUF_U64;
}

int nrv_gguf_get_i64(const struct nrv_gguf *g, const char *key, int64_t *out)
{
	const struct nrv_gguf_kv *kv = nrv_gguf_find(g, key);
	if (!kv)
		return -ENOENT;
	if (is_signed(kv->type)) {
		*out = kv->v.i;
		return 0;
	}
	if (is_unsigned(kv->type) && kv->v.u <= (uint64_t)INT64_MAX) {
		*out = (int64_t)kv->v.u;
		return 0;
	}
	return -EINVAL;
}

int nrv_gguf_get_u32(const struct nrv_gguf *g, const char *key, uint32_t *out)
{
	int64_t v;
	int rc = nrv_gguf_get_i64(g, key, &v);
	if (rc)
		return rc;
	if (v < 0 || v > (int64_t)UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

int nrv_gguf_get_f32(const struct nrv_gguf *g, const char *key, float *out)
{
	const struct nrv_gguf_kv *kv = nrv_gguf_find(g, key);
	if (!kv)
		return -ENOENT;
	if (kv->type == NRV_GGUF_F32 || kv->type == NRV_GGUF_F64)
		*out = (float)kv->v.f;
	else if (is_signed(kv->type))
		*out = (float)kv->v.i;
	else if (is_unsigned(kv->type))
		*out = (float)kv->v.u;
	else
		return -EINVAL;
	return 0;
}

int nrv_gguf_get_bool(const struct nrv_gguf *g, const char *key, bool *out)
{
	const struct nrv_gguf_kv *kv = nrv_gguf_find(g, key);
	if (!kv)
		return -ENOENT;
	if (kv->type != NRV_GGUF_BOOL)
		return -EINVAL;
	*out = kv->v.b;
	return 0;
}

int nrv_gguf_get_str(const struct nrv_gguf *g, const char *key, struct nrv_gguf_str *out)
{
	const struct nrv_gguf_kv *kv = nrv_gguf_find(g, key);
	if (!kv)
		return -ENOENT;
	if (kv->type != NRV_GGUF_STRING)
		return -EINVAL;
	*out = kv->str;
	return 0;
}

int nrv_gguf_get_arr(const struct nrv_gguf *g, const char *key, int elem_type,
		     const struct nrv_gguf_kv **out)
{
	const struct nrv_gguf_kv *kv = nrv_gguf_find(g, key);
	if (!kv)
		return -ENOENT;
	if (kv->type != NRV_GGUF_ARRAY || (elem_type >= 0 && kv->arr_type != elem_type))
		return -EINVAL;
	*out = kv;
	return 0;
}
