/*
 * tests/gguf/test_gguf.c - the GGUF reader on valid files, on a catalogue
 * of broken ones, and on random mutations of a valid one.
 *
 * Every parse runs on a malloc'd copy of exactly the file's size, so a
 * sanitizer build catches any read past the end.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ggufb.h"
#include "gguf.h"
#include "kernels/quant.h"

struct parsed {
	uint8_t *buf;
	size_t len;
	struct nrv_gguf *g;
	int rc;
	char err[512];
};

static void parse_bytes(struct parsed *p, const uint8_t *d, size_t len)
{
	p->len = len;
	p->buf = malloc(len ? len : 1);
	cr_assert_not_null(p->buf);
	if (len)
		memcpy(p->buf, d, len);
	strcpy(p->err, "(not set)");
	p->rc = nrv_gguf_parse(p->buf, len, len, &p->g, p->err, sizeof(p->err));
}

static void parse_b(struct parsed *p, const struct ggufb *b)
{
	parse_bytes(p, b->p, b->len);
}

static void parsed_free(struct parsed *p)
{
	nrv_gguf_free(p->g);
	free(p->buf);
}

/* The file in b must be rejected with -EINVAL and a message holding `words`. */
static void expect_reject(struct ggufb *b, const char *words)
{
	struct parsed p;
	parse_b(&p, b);
	cr_expect_eq(p.rc, -EINVAL, "rc %d (want -EINVAL), err '%s', want '%s'", p.rc, p.err, words);
	cr_expect_null(p.g);
	cr_expect(strstr(p.err, words) != NULL, "error '%s' does not contain '%s'", p.err, words);
	parsed_free(&p);
	gb_free(b);
}

/* One tensor with the given info and `data` bytes of data after the padding. */
static void one_tensor(struct ggufb *b, const char *name, uint32_t nd, const uint64_t *ne,
		       uint32_t type, uint64_t offset, size_t data)
{
	gb_init(b);
	gb_header(b, 3, 1, 0);
	gb_tinfo(b, name, nd, ne, type, offset);
	gb_pad(b, 32);
	gb_zeros(b, data);
}

/* ---- valid files ---- */

Test(gguf_valid, every_scalar_type)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 0, 13);
	gb_str(&b, "t.u8"); gb_u32(&b, NRV_GGUF_U8); gb_u8(&b, 200);
	gb_str(&b, "t.i8"); gb_u32(&b, NRV_GGUF_I8); gb_u8(&b, (uint8_t)-5);
	gb_str(&b, "t.u16"); gb_u32(&b, NRV_GGUF_U16); gb_u16(&b, 60000);
	gb_str(&b, "t.i16"); gb_u32(&b, NRV_GGUF_I16); gb_u16(&b, (uint16_t)-300);
	gb_str(&b, "t.u32"); gb_u32(&b, NRV_GGUF_U32); gb_u32(&b, 4000000000u);
	gb_str(&b, "t.i32"); gb_u32(&b, NRV_GGUF_I32); gb_u32(&b, (uint32_t)-7);
	gb_str(&b, "t.f32"); gb_u32(&b, NRV_GGUF_F32); gb_f32(&b, 1.5f);
	gb_str(&b, "t.bool"); gb_u32(&b, NRV_GGUF_BOOL); gb_u8(&b, 1);
	gb_str(&b, "t.str"); gb_u32(&b, NRV_GGUF_STRING); gb_str(&b, "hello");
	gb_str(&b, "t.u64"); gb_u32(&b, NRV_GGUF_U64); gb_u64(&b, 1ull << 63);
	gb_str(&b, "t.i64"); gb_u32(&b, NRV_GGUF_I64); gb_u64(&b, (uint64_t)-(1ll << 40));
	gb_str(&b, "t.f64"); gb_u32(&b, NRV_GGUF_F64); gb_f64(&b, 2.25);
	gb_str(&b, "t.bool0"); gb_u32(&b, NRV_GGUF_BOOL); gb_u8(&b, 0);

	struct parsed p;
	parse_b(&p, &b);
	cr_assert_eq(p.rc, 0, "%s", p.err);
	const struct nrv_gguf *g = p.g;
	cr_expect_eq(g->version, 3);
	cr_expect_eq(g->n_kv, 13);
	cr_expect_eq(g->n_tensors, 0);
	cr_expect_eq(g->alignment, 32);

	const struct nrv_gguf_kv *kv = nrv_gguf_find(g, "t.u8");
	cr_assert_not_null(kv);
	cr_expect_eq(kv->type, NRV_GGUF_U8);
	cr_expect_eq(kv->v.u, 200);
	cr_expect_eq(nrv_gguf_find(g, "t.i8")->v.i, -5);
	cr_expect_eq(nrv_gguf_find(g, "t.u16")->v.u, 60000);
	cr_expect_eq(nrv_gguf_find(g, "t.i16")->v.i, -300);
	cr_expect_eq(nrv_gguf_find(g, "t.u32")->v.u, 4000000000u);
	cr_expect_eq(nrv_gguf_find(g, "t.i32")->v.i, -7);
	cr_expect_eq(nrv_gguf_find(g, "t.f32")->v.f, 1.5);
	cr_expect_eq(nrv_gguf_find(g, "t.bool")->v.b, true);
	cr_expect_eq(nrv_gguf_find(g, "t.bool0")->v.b, false);
	cr_expect_eq(nrv_gguf_find(g, "t.u64")->v.u, 1ull << 63);
	cr_expect_eq(nrv_gguf_find(g, "t.i64")->v.i, -(1ll << 40));
	cr_expect_eq(nrv_gguf_find(g, "t.f64")->v.f, 2.25);
	kv = nrv_gguf_find(g, "t.str");
	cr_expect_eq(kv->str.len, 5);
	cr_expect(memcmp(kv->str.p, "hello", 5) == 0);
	cr_expect_null(nrv_gguf_find(g, "t"));
	cr_expect_null(nrv_gguf_find(g, "t.u8x"));

	/* Typed getters: any integer type for ints, with range checks. */
	uint32_t u32;
	int64_t i64;
	float f;
	bool bl;
	struct nrv_gguf_str s;
	cr_expect_eq(nrv_gguf_get_u32(g, "t.u8", &u32), 0);
	cr_expect_eq(u32, 200);
	cr_expect_eq(nrv_gguf_get_u32(g, "t.u32", &u32), 0);
	cr_expect_eq(u32, 4000000000u);
	cr_expect_eq(nrv_gguf_get_u32(g, "t.i32", &u32), -EINVAL);
	cr_expect_eq(nrv_gguf_get_u32(g, "t.u64", &u32), -EINVAL);
	cr_expect_eq(nrv_gguf_get_u32(g, "t.str", &u32), -EINVAL);
	cr_expect_eq(nrv_gguf_get_u32(g, "missing", &u32), -ENOENT);
	cr_expect_eq(nrv_gguf_get_i64(g, "t.i16", &i64), 0);
	cr_expect_eq(i64, -300);
	cr_expect_eq(nrv_gguf_get_i64(g, "t.u64", &i64), -EINVAL); /* 2^63 does not fit */
	cr_expect_eq(nrv_gguf_get_i64(g, "t.f32", &i64), -EINVAL);
	cr_expect_eq(nrv_gguf_get_f32(g, "t.f64", &f), 0);
	cr_expect_eq(f, 2.25f);
	cr_expect_eq(nrv_gguf_get_f32(g, "t.i8", &f), 0);
	cr_expect_eq(f, -5.0f);
	cr_expect_eq(nrv_gguf_get_f32(g, "t.bool", &f), -EINVAL);
	cr_expect_eq(nrv_gguf_get_bool(g, "t.bool", &bl), 0);
	cr_expect(bl);
	cr_expect_eq(nrv_gguf_get_bool(g, "t.u8", &bl), -EINVAL);
	cr_expect_eq(nrv_gguf_get_str(g, "t.str", &s), 0);
	cr_expect_eq(s.len, 5);
	cr_expect_eq(nrv_gguf_get_str(g, "t.u8", &s), -EINVAL);
	cr_expect_eq(nrv_gguf_get_str(g, "nope", &s), -ENOENT);
	parsed_free(&p);
	gb_free(&b);
}

Test(gguf_valid, arrays)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 0, 6);
	gb_str(&b, "a.u8"); gb_u32(&b, NRV_GGUF_ARRAY); gb_u32(&b, NRV_GGUF_U8); gb_u64(&b, 3);
	gb_u8(&b, 1); gb_u8(&b, 2); gb_u8(&b, 250);
	gb_str(&b, "a.i32"); gb_u32(&b, NRV_GGUF_ARRAY); gb_u32(&b, NRV_GGUF_I32); gb_u64(&b, 2);
	gb_u32(&b, (uint32_t)-1); gb_u32(&b, 77);
	gb_str(&b, "a.f32"); gb_u32(&b, NRV_GGUF_ARRAY); gb_u32(&b, NRV_GGUF_F32); gb_u64(&b, 2);
	gb_f32(&b, 0.5f); gb_f32(&b, -3.0f);
	gb_str(&b, "a.str"); gb_u32(&b, NRV_GGUF_ARRAY); gb_u32(&b, NRV_GGUF_STRING); gb_u64(&b, 3);
	gb_str(&b, "one"); gb_str(&b, ""); gb_str(&b, "three");
	gb_str(&b, "a.bool"); gb_u32(&b, NRV_GGUF_ARRAY); gb_u32(&b, NRV_GGUF_BOOL); gb_u64(&b, 2);
	gb_u8(&b, 1); gb_u8(&b, 0);
	gb_str(&b, "a.empty"); gb_u32(&b, NRV_GGUF_ARRAY); gb_u32(&b, NRV_GGUF_STRING); gb_u64(&b, 0);

	struct parsed p;
	parse_b(&p, &b);
	cr_assert_eq(p.rc, 0, "%s", p.err);
	const struct nrv_gguf_kv *kv;
	cr_assert_eq(nrv_gguf_get_arr(p.g, "a.u8", NRV_GGUF_U8, &kv), 0);
	cr_expect_eq(kv->arr_n, 3);
	cr_expect_eq(kv->arr_data[2], 250);
	cr_assert_eq(nrv_gguf_get_arr(p.g, "a.i32", NRV_GGUF_I32, &kv), 0);
	cr_expect_eq(kv->arr_n, 2);
	int32_t i32;
	memcpy(&i32, kv->arr_data + 4, 4);
	cr_expect_eq(i32, 77);
	cr_assert_eq(nrv_gguf_get_arr(p.g, "a.f32", -1, &kv), 0);
	cr_expect_eq(kv->arr_type, NRV_GGUF_F32);
	float f;
	memcpy(&f, kv->arr_data + 4, 4);
	cr_expect_eq(f, -3.0f);
	cr_assert_eq(nrv_gguf_get_arr(p.g, "a.str", NRV_GGUF_STRING, &kv), 0);
	cr_assert_eq(kv->arr_n, 3);
	cr_expect_eq(kv->arr_str[0].len, 3);
	cr_expect(memcmp(kv->arr_str[0].p, "one", 3) == 0);
	cr_expect_eq(kv->arr_str[1].len, 0);
	cr_expect(memcmp(kv->arr_str[2].p, "three", 5) == 0);
	cr_assert_eq(nrv_gguf_get_arr(p.g, "a.bool", NRV_GGUF_BOOL, &kv), 0);
	cr_expect_eq(kv->arr_data[0], 1);
	cr_assert_eq(nrv_gguf_get_arr(p.g, "a.empty", NRV_GGUF_STRING, &kv), 0);
	cr_expect_eq(kv->arr_n, 0);
	cr_expect_eq(nrv_gguf_get_arr(p.g, "a.u8", NRV_GGUF_I8, &kv), -EINVAL);
	cr_expect_eq(nrv_gguf_get_arr(p.g, "nope", -1, &kv), -ENOENT);
	uint32_t u;
	cr_expect_eq(nrv_gguf_get_u32(p.g, "a.u8", &u), -EINVAL);
	parsed_free(&p);
	gb_free(&b);
}

Test(gguf_valid, tensors_and_lookups)
{
	struct gmodel *m = calloc(1, sizeof(*m));
	cr_assert_not_null(m);
	gm_init(m);
	gm_str(m, "general.architecture", "test");
	gm_tensor(m, "a", NRV_TYPE_F32, 8, 3);
	gm_tensor(m, "b", NRV_TYPE_Q4_0, 64, 2);
	gm_tensor(m, "c", NRV_TYPE_Q4_K, 256, 0);
	gm_tensor(m, "d", NRV_TYPE_F16, 2, 3);
	m->t[3].n_dims = 4;
	m->t[3].ne[2] = 4;
	m->t[3].ne[3] = 5;
	gm_tensor(m, "e", NRV_TYPE_BF16, 5, 0);
	struct ggufb b;
	gm_build(m, &b);

	struct parsed p;
	parse_b(&p, &b);
	cr_assert_eq(p.rc, 0, "%s", p.err);
	cr_expect_eq(p.g->n_tensors, 5);
	cr_expect_eq(p.g->data_offset % 32, 0);
	const struct nrv_gguf_tensor *t = nrv_gguf_tensor(p.g, "a");
	cr_assert_not_null(t);
	cr_expect_eq(t->n_dims, 2);
	cr_expect_eq(t->ne[0], 8);
	cr_expect_eq(t->ne[1], 3);
	cr_expect_eq(t->ne[2], 1);
	cr_expect_eq(t->nbytes, 8 * 3 * 4);
	cr_expect_eq(t->n_elements, 24);
	cr_expect_eq(t->offset, 0);
	t = nrv_gguf_tensor(p.g, "b");
	cr_expect_eq(t->type, NRV_TYPE_Q4_0);
	cr_expect_eq(t->nbytes, 2 * 2 * 18);
	cr_expect_eq(t->offset, 96);
	t = nrv_gguf_tensor(p.g, "c");
	cr_expect_eq(t->nbytes, 144);
	cr_expect_eq(t->offset, 96 + 96);
	t = nrv_gguf_tensor(p.g, "d");
	cr_expect_eq(t->n_dims, 4);
	cr_expect_eq(t->ne[3], 5);
	cr_expect_eq(t->n_elements, 120);
	cr_expect_eq(t->nbytes, 240);
	t = nrv_gguf_tensor(p.g, "e");
	cr_expect_eq(t->nbytes, 10);
	cr_expect_eq(p.g->data_offset + t->offset + t->nbytes, p.g->file_size,
		     "the last tensor ends the file");
	cr_expect_null(nrv_gguf_tensor(p.g, "f"));
	cr_expect_null(nrv_gguf_tensor(p.g, ""));
	/* The data bytes are where the offsets say. */
	t = nrv_gguf_tensor(p.g, "b");
	cr_expect_eq(p.buf[p.g->data_offset + t->offset + 5], (uint8_t)(5 * 7 + 1));
	parsed_free(&p);
	gb_free(&b);
	gm_free(m);
	free(m);
}

Test(gguf_valid, custom_alignment)
{
	struct gmodel *m = calloc(1, sizeof(*m));
	gm_init(m);
	m->alignment = 256;
	gm_u32(m, "general.alignment", 256);
	gm_tensor(m, "x", NRV_TYPE_F32, 3, 0);
	gm_tensor(m, "y", NRV_TYPE_F32, 5, 0);
	struct ggufb b;
	gm_build(m, &b);
	struct parsed p;
	parse_b(&p, &b);
	cr_assert_eq(p.rc, 0, "%s", p.err);
	cr_expect_eq(p.g->alignment, 256);
	cr_expect_eq(p.g->data_offset, 256);
	cr_expect_eq(nrv_gguf_tensor(p.g, "y")->offset, 256);
	parsed_free(&p);
	gb_free(&b);
	gm_free(m);
	free(m);
}

Test(gguf_valid, zero_tensors_and_version_2)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 2, 0, 1);
	gb_kv_str(&b, "general.architecture", "llama");
	struct parsed p;
	parse_b(&p, &b);
	cr_assert_eq(p.rc, 0, "%s", p.err);
	cr_expect_eq(p.g->version, 2);
	cr_expect_eq(p.g->n_tensors, 0);
	cr_expect_leq(p.g->data_offset, p.g->file_size);
	parsed_free(&p);
	gb_free(&b);

	gb_init(&b);
	gb_header(&b, 3, 0, 0);
	parse_b(&p, &b);
	cr_expect_eq(p.rc, 0, "%s", p.err);
	cr_expect_eq(p.g->n_kv, 0);
	parsed_free(&p);
	gb_free(&b);
}

Test(gguf_valid, partial_buffer_asks_for_more)
{
	struct gmodel *m = calloc(1, sizeof(*m));
	gm_tiny_llama(m);
	struct ggufb b;
	gm_build(m, &b);
	struct nrv_gguf *g = NULL;
	char err[256];
	/* 100 bytes of a larger file: the infos run past the buffer. */
	int rc = nrv_gguf_parse(b.p, 100, b.len, &g, err, sizeof(err));
	cr_expect_eq(rc, -ENOBUFS, "rc %d: %s", rc, err);
	cr_expect_null(g);
	rc = nrv_gguf_parse(b.p, b.len, b.len, &g, err, sizeof(err));
	cr_expect_eq(rc, 0, "%s", err);
	/* A buffer longer than the file is a caller bug, not a crash. */
	nrv_gguf_free(g);
	rc = nrv_gguf_parse(b.p, b.len, b.len - 1, &g, err, sizeof(err));
	cr_expect_eq(rc, -EINVAL);
	gb_free(&b);
	gm_free(m);
	free(m);
}

Test(gguf_valid, vtype_names_and_sizes)
{
	cr_expect_str_eq(nrv_gguf_vtype_name(NRV_GGUF_U32), "uint32");
	cr_expect_str_eq(nrv_gguf_vtype_name(NRV_GGUF_F64), "float64");
	cr_expect_str_eq(nrv_gguf_vtype_name(13), "?");
	cr_expect_str_eq(nrv_gguf_vtype_name(-1), "?");
	cr_expect_eq(nrv_gguf_vtype_size(NRV_GGUF_I16), 2);
	cr_expect_eq(nrv_gguf_vtype_size(NRV_GGUF_BOOL), 1);
	cr_expect_eq(nrv_gguf_vtype_size(NRV_GGUF_F64), 8);
	cr_expect_eq(nrv_gguf_vtype_size(NRV_GGUF_STRING), 0);
	nrv_gguf_free(NULL);
}

/* ---- broken files: header ---- */

Test(gguf_broken, bad_magic)
{
	struct ggufb b;
	gb_init(&b);
	gb_raw(&b, "GGML", 4);
	gb_u32(&b, 3); gb_u64(&b, 0); gb_u64(&b, 0);
	expect_reject(&b, "not a GGUF file");
}

Test(gguf_broken, big_endian_magic)
{
	struct ggufb b;
	gb_init(&b);
	gb_raw(&b, "FUGG", 4);
	gb_u32(&b, 0x03000000u); gb_u64(&b, 0); gb_u64(&b, 0);
	expect_reject(&b, "big-endian");
}

Test(gguf_broken, too_short_for_magic)
{
	struct ggufb b;
	gb_init(&b);
	gb_raw(&b, "GG", 2);
	expect_reject(&b, "too short");
}

Test(gguf_broken, version_1)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 1, 0, 0);
	expect_reject(&b, "version 1");
}

Test(gguf_broken, version_99)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 99, 0, 0);
	expect_reject(&b, "unsupported GGUF version 99");
}

Test(gguf_broken, byte_swapped_version)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 0x03000000u, 0, 0);
	expect_reject(&b, "byte-swapped");
}

Test(gguf_broken, truncated_in_counts)
{
	struct ggufb b;
	gb_init(&b);
	gb_raw(&b, "GGUF", 4);
	gb_u32(&b, 3);
	gb_u32(&b, 0); /* half a tensor count */
	expect_reject(&b, "truncated");
}

Test(gguf_broken, huge_tensor_count)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 1ull << 60, 0);
	expect_reject(&b, "tensor count");
}

Test(gguf_broken, huge_kv_count)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 0, UINT64_MAX);
	expect_reject(&b, "metadata count");
}

/* ---- broken files: metadata ---- */

Test(gguf_broken, empty_key)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 0, 1);
	gb_kv_u32(&b, "", 1);
	expect_reject(&b, "empty");
}

Test(gguf_broken, key_longer_than_65535)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 0, 1);
	char *k = malloc(70001);
	memset(k, 'k', 70000);
	k[70000] = 0;
	gb_kv_u32(&b, k, 1);
	free(k);
	expect_reject(&b, "longer than 65535");
}

Test(gguf_broken, key_length_past_eof)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 0, 1);
	gb_u64(&b, 1000);
	gb_raw(&b, "general", 7);
	expect_reject(&b, "truncated");
}

Test(gguf_broken, key_not_printable)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 0, 1);
	gb_kv_u32(&b, "bad\nkey", 1);
	expect_reject(&b, "not printable");
}

Test(gguf_broken, unknown_value_type)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 0, 1);
	gb_str(&b, "k"); gb_u32(&b, 13); gb_u32(&b, 0);
	expect_reject(&b, "unknown value type 13");
}

Test(gguf_broken, nested_array)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 0, 1);
	gb_str(&b, "k"); gb_u32(&b, NRV_GGUF_ARRAY); gb_u32(&b, NRV_GGUF_ARRAY); gb_u64(&b, 1);
	gb_u32(&b, NRV_GGUF_U8); gb_u64(&b, 1); gb_u8(&b, 0);
	expect_reject(&b, "nested array");
}

Test(gguf_broken, unknown_array_element_type)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 0, 1);
	gb_str(&b, "k"); gb_u32(&b, NRV_GGUF_ARRAY); gb_u32(&b, 200); gb_u64(&b, 1);
	gb_u8(&b, 0);
	expect_reject(&b, "unknown");
}

Test(gguf_broken, huge_array_count)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 0, 1);
	gb_str(&b, "k"); gb_u32(&b, NRV_GGUF_ARRAY); gb_u32(&b, NRV_GGUF_U64);
	gb_u64(&b, 1ull << 62);
	gb_u64(&b, 0);
	expect_reject(&b, "exceeds the limit");
}

Test(gguf_broken, array_data_past_eof)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 0, 1);
	gb_str(&b, "k"); gb_u32(&b, NRV_GGUF_ARRAY); gb_u32(&b, NRV_GGUF_U32); gb_u64(&b, 1000);
	gb_u32(&b, 1);
	expect_reject(&b, "truncated");
}

Test(gguf_broken, string_array_count_cannot_fit)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 0, 1);
	gb_str(&b, "k"); gb_u32(&b, NRV_GGUF_ARRAY); gb_u32(&b, NRV_GGUF_STRING);
	gb_u64(&b, 1u << 29);
	gb_str(&b, "a");
	expect_reject(&b, "cannot fit");
}

Test(gguf_broken, string_length_past_eof)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 0, 1);
	gb_str(&b, "k"); gb_u32(&b, NRV_GGUF_STRING); gb_u64(&b, 64); gb_raw(&b, "short", 5);
	expect_reject(&b, "truncated");
}

Test(gguf_broken, string_length_over_limit)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 0, 1);
	gb_str(&b, "k"); gb_u32(&b, NRV_GGUF_STRING); gb_u64(&b, UINT64_MAX);
	expect_reject(&b, "exceeds the limit");
}

Test(gguf_broken, bool_value_2)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 0, 1);
	gb_str(&b, "k"); gb_u32(&b, NRV_GGUF_BOOL); gb_u8(&b, 2);
	expect_reject(&b, "neither 0 nor 1");
}

Test(gguf_broken, bool_array_element_2)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 0, 1);
	gb_str(&b, "k"); gb_u32(&b, NRV_GGUF_ARRAY); gb_u32(&b, NRV_GGUF_BOOL); gb_u64(&b, 3);
	gb_u8(&b, 0); gb_u8(&b, 1); gb_u8(&b, 2);
	expect_reject(&b, "bool element 2");
}

Test(gguf_broken, duplicate_key)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 0, 3);
	gb_kv_u32(&b, "a.b", 1);
	gb_kv_str(&b, "a.c", "x");
	gb_kv_u32(&b, "a.b", 2);
	expect_reject(&b, "duplicate metadata key 'a.b'");
}

Test(gguf_broken, alignment_wrong_type)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 0, 1);
	gb_str(&b, "general.alignment"); gb_u32(&b, NRV_GGUF_U64); gb_u64(&b, 32);
	expect_reject(&b, "expected uint32");
}

Test(gguf_broken, alignment_0)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 0, 1);
	gb_kv_u32(&b, "general.alignment", 0);
	expect_reject(&b, "not a power of two");
}

Test(gguf_broken, alignment_3)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 0, 1);
	gb_kv_u32(&b, "general.alignment", 3);
	expect_reject(&b, "alignment 3 is not a power of two");
}

Test(gguf_broken, alignment_2_to_the_31)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 0, 1);
	gb_kv_u32(&b, "general.alignment", 1u << 31);
	expect_reject(&b, "not a power of two in 1..2^30");
}

/* ---- broken files: tensor infos and data ---- */

static const uint64_t ne8x4[2] = { 8, 4 };

Test(gguf_broken, tensor_name_64_bytes)
{
	char name[65];
	memset(name, 'n', 64);
	name[64] = 0;
	struct ggufb b;
	one_tensor(&b, name, 2, ne8x4, NRV_TYPE_F32, 0, 128);
	expect_reject(&b, "name length 64");
}

Test(gguf_broken, tensor_name_empty)
{
	struct ggufb b;
	one_tensor(&b, "", 2, ne8x4, NRV_TYPE_F32, 0, 128);
	expect_reject(&b, "name length 0");
}

Test(gguf_broken, tensor_name_with_nul)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 1, 0);
	gb_strn(&b, "ab\0c", 4);
	gb_u32(&b, 1); gb_u64(&b, 4); gb_u32(&b, NRV_TYPE_F32); gb_u64(&b, 0);
	gb_pad(&b, 32);
	gb_zeros(&b, 16);
	expect_reject(&b, "NUL");
}

Test(gguf_broken, duplicate_tensor_name)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 2, 0);
	gb_tinfo(&b, "w", 2, ne8x4, NRV_TYPE_F32, 0);
	gb_tinfo(&b, "w", 2, ne8x4, NRV_TYPE_F32, 128);
	gb_pad(&b, 32);
	gb_zeros(&b, 256);
	expect_reject(&b, "duplicate tensor name 'w'");
}

Test(gguf_broken, zero_dims)
{
	struct ggufb b;
	one_tensor(&b, "w", 0, ne8x4, NRV_TYPE_F32, 0, 128);
	expect_reject(&b, "0 dimensions");
}

Test(gguf_broken, five_dims)
{
	const uint64_t ne[5] = { 2, 2, 2, 2, 2 };
	struct ggufb b;
	one_tensor(&b, "w", 5, ne, NRV_TYPE_F32, 0, 128);
	expect_reject(&b, "5 dimensions");
}

Test(gguf_broken, negative_dimension)
{
	const uint64_t ne[2] = { 8, 1ull << 63 };
	struct ggufb b;
	one_tensor(&b, "w", 2, ne, NRV_TYPE_F32, 0, 128);
	expect_reject(&b, "dimension 1 is negative");
}

Test(gguf_broken, element_count_overflow)
{
	const uint64_t ne[3] = { 1ull << 32, 1ull << 31, 4 };
	struct ggufb b;
	one_tensor(&b, "w", 3, ne, NRV_TYPE_F32, 0, 128);
	expect_reject(&b, "element count overflows");
}

Test(gguf_broken, byte_size_overflow)
{
	const uint64_t ne[2] = { 1ull << 32, 1ull << 30 }; /* 2^62 F32 elements = 2^64 bytes */
	struct ggufb b;
	one_tensor(&b, "w", 2, ne, NRV_TYPE_F32, 0, 128);
	expect_reject(&b, "byte size overflows");
}

Test(gguf_broken, unknown_tensor_type)
{
	struct ggufb b;
	one_tensor(&b, "w", 2, ne8x4, 99, 0, 128);
	expect_reject(&b, "type unknown (id 99)");
}

Test(gguf_broken, removed_tensor_type_4)
{
	struct ggufb b;
	one_tensor(&b, "w", 2, ne8x4, 4, 0, 128);
	expect_reject(&b, "not supported");
}

Test(gguf_broken, activation_only_type_q8_k)
{
	const uint64_t ne[1] = { 256 };
	struct ggufb b;
	one_tensor(&b, "w", 1, ne, NRV_TYPE_Q8_K, 0, 292);
	expect_reject(&b, "type Q8_K (id 15) is not supported");
}

Test(gguf_broken, row_not_multiple_of_block)
{
	const uint64_t ne[2] = { 33, 2 };
	struct ggufb b;
	one_tensor(&b, "w", 2, ne, NRV_TYPE_Q4_0, 0, 128);
	expect_reject(&b, "row length 33 is not a multiple of the Q4_0 block size 32");
}

Test(gguf_broken, misaligned_offset)
{
	struct ggufb b;
	one_tensor(&b, "w", 2, ne8x4, NRV_TYPE_F32, 16, 256);
	expect_reject(&b, "offset 16 is not a multiple of the alignment 32");
}

Test(gguf_broken, overlapping_tensors)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 2, 0);
	gb_tinfo(&b, "a", 2, ne8x4, NRV_TYPE_F32, 0);  /* bytes 0..127 */
	gb_tinfo(&b, "b", 2, ne8x4, NRV_TYPE_F32, 64); /* bytes 64..191 */
	gb_pad(&b, 32);
	gb_zeros(&b, 256);
	expect_reject(&b, "overlap");
}

Test(gguf_broken, data_past_end_of_file)
{
	struct ggufb b;
	one_tensor(&b, "w", 2, ne8x4, NRV_TYPE_F32, 0, 100); /* needs 128 */
	expect_reject(&b, "past end of file");
}

Test(gguf_broken, offset_wraps_around)
{
	struct ggufb b;
	one_tensor(&b, "w", 2, ne8x4, NRV_TYPE_F32, UINT64_MAX - 31, 128);
	expect_reject(&b, "past end of file");
}

Test(gguf_broken, data_start_past_end_of_file)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 1, 0);
	gb_tinfo(&b, "w", 1, (const uint64_t[]){ 0 }, NRV_TYPE_F32, 0);
	/* No padding: the data would start past the end. */
	if (b.len % 32 == 0)
		gb_u8(&b, 0);
	expect_reject(&b, "tensor data would start");
}

Test(gguf_broken, truncated_in_tensor_infos)
{
	struct ggufb b;
	gb_init(&b);
	gb_header(&b, 3, 2, 0);
	gb_tinfo(&b, "a", 2, ne8x4, NRV_TYPE_F32, 0);
	gb_str(&b, "b");
	gb_u32(&b, 2);
	gb_u64(&b, 8); /* the second dimension, type and offset are missing */
	expect_reject(&b, "truncated");
}

Test(gguf_broken, truncated_data_of_valid_model)
{
	struct gmodel *m = calloc(1, sizeof(*m));
	gm_tiny_llama(m);
	struct ggufb b;
	gm_build(m, &b);
	b.len -= 1;
	expect_reject(&b, "past end of file");
	gm_free(m);
	free(m);
}

/* ---- robustness: random mutations and every truncation ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: fixed seed, so a failure reproduces. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* Touches everything a successful parse points at, so an index that points
 * outside the buffer shows up under ASan. */
static uint64_t walk(const struct nrv_gguf *g)
{
	uint64_t sum = 0;
	for (uint64_t i = 0; i < g->n_kv; i++) {
		const struct nrv_gguf_kv *kv = &g->kv[i];
		for (uint64_t k = 0; k < kv->key.len; k++)
			sum += (uint8_t)kv->key.p[k];
		if (kv->type == NRV_GGUF_STRING)
			for (uint64_t k = 0; k < kv->str.len; k++)
				sum += (uint8_t)kv->str.p[k];
		if (kv->type == NRV_GGUF_ARRAY && kv->arr_type == NRV_GGUF_STRING) {
			for (uint64_t j = 0; j < kv->arr_n; j++)
				for (uint64_t k = 0; k < kv->arr_str[j].len; k++)
					sum += (uint8_t)kv->arr_str[j].p[k];
		} else if (kv->type == NRV_GGUF_ARRAY) {
			uint64_t n = kv->arr_n * nrv_gguf_vtype_size(kv->arr_type);
			for (uint64_t k = 0; k < n; k++)
				sum += kv->arr_data[k];
		}
	}
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const struct nrv_gguf_tensor *t = &g->tensors[i];
		cr_assert_leq(g->data_offset + t->offset + t->nbytes, g->file_size);
		sum += strlen(t->name) + t->nbytes;
	}
	cr_assert_leq(g->data_offset + g->data_size, g->file_size);
	return sum;
}

static void mutation_source(struct ggufb *b)
{
	struct gmodel *m = calloc(1, sizeof(*m));
	gm_init(m);
	gm_str(m, "general.architecture", "llama");
	gm_u32(m, "general.alignment", 32);
	gm_i32(m, "x.i32", -3);
	gm_f32(m, "x.f32", 0.25f);
	gm_u64(m, "x.u64", 12345);
	gm_str_array(m, "x.tokens", 6);
	gm_tensor(m, "w0", NRV_TYPE_F32, 4, 2);
	gm_tensor(m, "w1", NRV_TYPE_Q8_0, 32, 1);
	gm_tensor(m, "w2", NRV_TYPE_F16, 6, 0);
	gm_build(m, b);
	gm_free(m);
	free(m);
}

Test(gguf_robust, random_byte_mutations, .timeout = 120)
{
	struct ggufb src;
	mutation_source(&src);
	rng_state = 0x9e3779b97f4a7c15ull;
	int ok = 0, rejected = 0;
	uint8_t *work = malloc(src.len);
	for (int it = 0; it < 4000; it++) {
		memcpy(work, src.p, src.len);
		int flips = 1 + (int)(rng() % 4);
		for (int k = 0; k < flips; k++) {
			size_t at = (size_t)(rng() % src.len);
			switch (rng() % 4) {
			case 0: work[at] ^= (uint8_t)(1u << (rng() % 8)); break;
			case 1: work[at] = (uint8_t)rng(); break;
			case 2: work[at] = 0xff; break;
			default: work[at] = 0; break;
			}
		}
		struct parsed p;
		parse_bytes(&p, work, src.len);
		cr_assert(p.rc == 0 || p.rc == -EINVAL, "iteration %d: rc %d (%s)", it, p.rc, p.err);
		if (p.rc == 0) {
			walk(p.g);
			ok++;
		} else {
			cr_assert_neq(p.err[0], 0, "iteration %d: rejected without a message", it);
			cr_assert_null(p.g);
			rejected++;
		}
		parsed_free(&p);
	}
	free(work);
	/* Both outcomes must occur, or the mutations test nothing. */
	cr_expect_gt(ok, 0);
	cr_expect_gt(rejected, 1000);
	gb_free(&src);
}

Test(gguf_robust, truncated_at_every_length)
{
	struct ggufb src;
	mutation_source(&src);
	struct parsed full;
	parse_b(&full, &src);
	cr_assert_eq(full.rc, 0, "%s", full.err);
	uint64_t infos_end = full.g->data_offset;
	parsed_free(&full);
	for (size_t len = 0; len < src.len; len++) {
		struct parsed p;
		parse_bytes(&p, src.p, len);
		/* The last tensor ends the file, so every cut loses something. */
		cr_assert_eq(p.rc, -EINVAL, "length %zu of %zu: rc %d", len, src.len, p.rc);
		cr_assert_neq(p.err[0], 0);
		if (len < infos_end)
			cr_assert(strstr(p.err, "truncated") || strstr(p.err, "too short") ||
				  strstr(p.err, "cannot fit") || strstr(p.err, "past end"),
				  "length %zu: '%s'", len, p.err);
		parsed_free(&p);
	}
	gb_free(&src);
}

Test(gguf_robust, partial_buffers_never_overread)
{
	struct ggufb src;
	mutation_source(&src);
	/* A header buffer shorter than the file: -ENOBUFS until it holds the
	 * infos, then success. */
	for (size_t len = 0; len <= src.len; len++) {
		uint8_t *buf = malloc(len ? len : 1);
		memcpy(buf, src.p, len);
		struct nrv_gguf *g = NULL;
		char err[256];
		int rc = nrv_gguf_parse(buf, len, src.len, &g, err, sizeof(err));
		cr_assert(rc == 0 || rc == -ENOBUFS,
			  "length %zu: rc %d (%s)", len, rc, err);
		if (rc == 0)
			walk(g);
		nrv_gguf_free(g);
		free(buf);
	}
	gb_free(&src);
}
