/*
 * tests/gguf/ggufb.c - a GGUF file builder for tests (see ggufb.h).
 */
#include "ggufb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "kernels/quant.h"

static void oom(void)
{
	fprintf(stderr, "ggufb: out of memory\n");
	abort();
}

void gb_init(struct ggufb *b)
{
	b->p = NULL;
	b->len = b->cap = 0;
}

void gb_free(struct ggufb *b)
{
	free(b->p);
	gb_init(b);
}

void gb_raw(struct ggufb *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (!p)
			oom();
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, d, n);
	b->len += n;
}

void gb_zeros(struct ggufb *b, size_t n)
{
	static const uint8_t z[256];
	while (n) {
		size_t k = n < sizeof(z) ? n : sizeof(z);
		gb_raw(b, z, k);
		n -= k;
	}
}

void gb_u8(struct ggufb *b, uint8_t v)
{
	gb_raw(b, &v, 1);
}

void gb_u16(struct ggufb *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	gb_raw(b, x, 2);
}

void gb_u32(struct ggufb *b, uint32_t v)
{
	uint8_t x[4];
	for (int i = 0; i < 4; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	gb_raw(b, x, 4);
}

void gb_u64(struct ggufb *b, uint64_t v)
{
	uint8_t x[8];
	for (int i = 0; i < 8; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	gb_raw(b, x, 8);
}

void gb_f32(struct ggufb *b, float v)
{
	uint32_t u;
	memcpy(&u, &v, 4);
	gb_u32(b, u);
}

void gb_f64(struct ggufb *b, double v)
{
	uint64_t u;
	memcpy(&u, &v, 8);
	gb_u64(b, u);
}

void gb_strn(struct ggufb *b, const char *s, size_t n)
{
	gb_u64(b, n);
	gb_raw(b, s, n);
}

void gb_str(struct ggufb *b, const char *s)
{
	gb_strn(b, s, strlen(s));
}

void gb_pad(struct ggufb *b, size_t align)
{
	gb_zeros(b, (align - b->len % align) % align);
}

void gb_header(struct ggufb *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
	gb_raw(b, "GGUF", 4);
	gb_u32(b, version);
	gb_u64(b, n_tensors);
	gb_u64(b, n_kv);
}

void gb_kv_u32(struct ggufb *b, const char *key, uint32_t v)
{
	gb_str(b, key);
	gb_u32(b, NRV_GGUF_U32);
	gb_u32(b, v);
}

void gb_kv_str(struct ggufb *b, const char *key, const char *v)
{
	gb_str(b, key);
	gb_u32(b, NRV_GGUF_STRING);
	gb_str(b, v);
}

void gb_tinfo(struct ggufb *b, const char *name, uint32_t n_dims, const uint64_t *ne,
	      uint32_t type, uint64_t offset)
{
	gb_str(b, name);
	gb_u32(b, n_dims);
	for (uint32_t d = 0; d < n_dims; d++)
		gb_u64(b, ne[d]);
	gb_u32(b, type);
	gb_u64(b, offset);
}

void gm_init(struct gmodel *m)
{
	memset(m, 0, sizeof(*m));
	m->alignment = NRV_GGUF_DEFAULT_ALIGNMENT;
}

void gm_free(struct gmodel *m)
{
	for (int i = 0; i < m->n_kv; i++)
		gb_free(&m->kv[i].val);
	m->n_kv = 0;
	m->n_tensors = 0;
}

/* The value buffer for key, emptied; a new entry when absent. */
static struct ggufb *slot(struct gmodel *m, const char *key)
{
	for (int i = 0; i < m->n_kv; i++) {
		if (!strcmp(m->kv[i].key, key)) {
			m->kv[i].val.len = 0;
			return &m->kv[i].val;
		}
	}
	if (m->n_kv == GM_MAX_KV || strlen(key) >= sizeof(m->kv[0].key))
		oom();
	struct gm_kv *kv = &m->kv[m->n_kv++];
	snprintf(kv->key, sizeof(kv->key), "%s", key);
	gb_init(&kv->val);
	return &kv->val;
}

void gm_u32(struct gmodel *m, const char *key, uint32_t v)
{
	struct ggufb *b = slot(m, key);
	gb_u32(b, NRV_GGUF_U32);
	gb_u32(b, v);
}

void gm_i32(struct gmodel *m, const char *key, int32_t v)
{
	struct ggufb *b = slot(m, key);
	gb_u32(b, NRV_GGUF_I32);
	gb_u32(b, (uint32_t)v);
}

void gm_u64(struct gmodel *m, const char *key, uint64_t v)
{
	struct ggufb *b = slot(m, key);
	gb_u32(b, NRV_GGUF_U64);
	gb_u64(b, v);
}

void gm_f32(struct gmodel *m, const char *key, float v)
{
	struct ggufb *b = slot(m, key);
	gb_u32(b, NRV_GGUF_F32);
	gb_f32(b, v);
}

void gm_str(struct gmodel *m, const char *key, const char *v)
{
	struct ggufb *b = slot(m, key);
	gb_u32(b, NRV_GGUF_STRING);
	gb_str(b, v);
}

void gm_str_array(struct gmodel *m, const char *key, uint32_t n)
{
	struct ggufb *b = slot(m, key);
	gb_u32(b, NRV_GGUF_ARRAY);
	gb_u32(b, NRV_GGUF_STRING);
	gb_u64(b, n);
	for (uint32_t i = 0; i < n; i++) {
		char s[32];
		snprintf(s, sizeof(s), "t%u", i);
		gb_str(b, s);
	}
}

void gm_del(struct gmodel *m, const char *key)
{
	for (int i = 0; i < m->n_kv; i++) {
		if (!strcmp(m->kv[i].key, key)) {
			gb_free(&m->kv[i].val);
			memmove(&m->kv[i], &m->kv[i + 1], (size_t)(m->n_kv - i - 1) * sizeof(m->kv[0]));
			m->n_kv--;
			return;
		}
	}
}

struct gm_tensor *gm_find(struct gmodel *m, const char *name)
{
	for (int i = 0; i < m->n_tensors; i++)
		if (!strcmp(m->t[i].name, name))
			return &m->t[i];
	return NULL;
}

void gm_tensor(struct gmodel *m, const char *name, uint32_t type, uint64_t ne0, uint64_t ne1)
{
	struct gm_tensor *t = gm_find(m, name);
	if (!t) {
		if (m->n_tensors == GM_MAX_TENSORS)
			oom();
		t = &m->t[m->n_tensors++];
	}
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->type = type;
	t->n_dims = ne1 ? 2 : 1;
	t->ne[0] = ne0;
	t->ne[1] = ne1 ? ne1 : 1;
	t->ne[2] = t->ne[3] = 1;
}

void gm_tensor_del(struct gmodel *m, const char *name)
{
	struct gm_tensor *t = gm_find(m, name);
	if (!t)
		return;
	int i = (int)(t - m->t);
	memmove(&m->t[i], &m->t[i + 1], (size_t)(m->n_tensors - i - 1) * sizeof(m->t[0]));
	m->n_tensors--;
}

static uint64_t tensor_bytes(const struct gm_tensor *t)
{
	int blck, size;
	nrv_type_geom((int)t->type, &blck, &size);
	if (!blck)
		return 0;
	uint64_t n = 1;
	for (uint32_t d = 0; d < t->n_dims; d++)
		n *= t->ne[d];
	return n / (uint64_t)blck * (uint64_t)size;
}

size_t gm_build(const struct gmodel *m, struct ggufb *out)
{
	gb_init(out);
	gb_header(out, 3, (uint64_t)m->n_tensors, (uint64_t)m->n_kv);
	for (int i = 0; i < m->n_kv; i++) {
		gb_str(out, m->kv[i].key);
		gb_raw(out, m->kv[i].val.p, m->kv[i].val.len);
	}
	uint64_t off = 0;
	for (int i = 0; i < m->n_tensors; i++) {
		const struct gm_tensor *t = &m->t[i];
		gb_tinfo(out, t->name, t->n_dims, t->ne, t->type, off);
		off += tensor_bytes(t);
		off += (m->alignment - off % m->alignment) % m->alignment;
	}
	gb_pad(out, m->alignment);
	for (int i = 0; i < m->n_tensors; i++) {
		uint64_t n = tensor_bytes(&m->t[i]);
		for (uint64_t k = 0; k < n; k++)
			gb_u8(out, (uint8_t)(k * 7 + (uint64_t)i));
		if (i + 1 < m->n_tensors)
			gb_pad(out, m->alignment);
	}
	return out->len;
}

void gm_tiny_llama(struct gmodel *m)
{
	gm_init(m);
	const int e = 64, kv = 32, ff = 96, v = 40, layers = 2;
	gm_str(m, "general.architecture", "llama");
	gm_str(m, "general.name", "tiny test llama");
	gm_u32(m, "general.file_type", 7);
	gm_u32(m, "llama.context_length", 128);
	gm_u32(m, "llama.embedding_length", (uint32_t)e);
	gm_u32(m, "llama.block_count", (uint32_t)layers);
	gm_u32(m, "llama.feed_forward_length", (uint32_t)ff);
	gm_u32(m, "llama.attention.head_count", 4);
	gm_u32(m, "llama.attention.head_count_kv", 2);
	gm_u32(m, "llama.rope.dimension_count", 16);
	gm_f32(m, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
	gm_str(m, "tokenizer.ggml.model", "gpt2");
	gm_str_array(m, "tokenizer.ggml.tokens", (uint32_t)v);
	gm_u32(m, "tokenizer.ggml.bos_token_id", 1);
	gm_u32(m, "tokenizer.ggml.eos_token_id", 2);

	gm_tensor(m, "token_embd.weight", NRV_TYPE_F16, (uint64_t)e, (uint64_t)v);
	gm_tensor(m, "output_norm.weight", NRV_TYPE_F32, (uint64_t)e, 0);
	for (int i = 0; i < layers; i++) {
		char n[64];
#define T(suffix, type, a, b)                                       \
	do {                                                        \
		snprintf(n, sizeof(n), "blk.%d." suffix, i);        \
		gm_tensor(m, n, type, (uint64_t)(a), (uint64_t)(b)); \
	} while (0)
		T("attn_norm.weight", NRV_TYPE_F32, e, 0);
		T("attn_q.weight", NRV_TYPE_Q8_0, e, e);
		T("attn_k.weight", NRV_TYPE_Q8_0, e, kv);
		T("attn_v.weight", NRV_TYPE_Q8_0, e, kv);
		T("attn_output.weight", NRV_TYPE_Q8_0, e, e);
		T("ffn_norm.weight", NRV_TYPE_F32, e, 0);
		T("ffn_gate.weight", NRV_TYPE_Q8_0, e, ff);
		T("ffn_up.weight", NRV_TYPE_Q8_0, e, ff);
		T("ffn_down.weight", NRV_TYPE_Q8_0, ff, e);
#undef T
	}
}
