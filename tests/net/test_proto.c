/*
 * tests/net/test_proto.c - the UDP wire format: CRC32C against known
 * vectors and its SSE4.2 variant against the table, round trips of every
 * message, every malformed case named in docs/protocol.md section 7, and
 * a random-mutation fuzz loop (run it under ASan: every buffer is
 * allocated to its exact length so a read past the end is caught).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net/proto.h"
#if defined(__x86_64__)
#include "kernels/cpu/x86/sse42/crc32c_sse42.h"
#endif

/* ---- CRC32C ---- */

static void crc_vectors(uint32_t (*f)(uint32_t, const void *, size_t))
{
	uint8_t b[48];
	memset(b, 0, 32);
	cr_assert_eq(f(0, b, 32), 0x8A9136AAu, "32 zeros");
	memset(b, 0xff, 32);
	cr_assert_eq(f(0, b, 32), 0x62A8AB43u, "32 x 0xFF");
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	cr_assert_eq(f(0, b, 32), 0x46DD794Eu, "ascending");
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)(31 - i);
	cr_assert_eq(f(0, b, 32), 0x113FDB5Cu, "descending");
	/* RFC 3720 B.4: an iSCSI read command PDU. */
	static const uint8_t pdu[48] = {
		0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
		0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	cr_assert_eq(f(0, pdu, 48), 0xD9963A56u, "iSCSI PDU");
	cr_assert_eq(f(0, "123456789", 9), 0xE3069283u, "check value");
	cr_assert_eq(f(0, "", 0), 0u);
	/* Continuation: the CRC of a whole equals the CRC of its parts. */
	cr_assert_eq(f(f(0, "1234", 4), "56789", 5), 0xE3069283u);
}

Test(crc32c, reference_known_vectors)
{
	crc_vectors(nrv_proto_crc32c_ref);
}

Test(crc32c, dispatched_known_vectors)
{
	crc_vectors(nrv_proto_crc32c);
}

Test(crc32c, sse42_matches_reference)
{
#if defined(__x86_64__)
	if (!nrv_proto_crc32c_hw())
		cr_skip_test("this CPU has no SSE4.2: the table version is the one in use");
	crc_vectors(nrv_crc32c_sse42);
	uint8_t buf[600];
	uint64_t s = 12345;
	for (size_t i = 0; i < sizeof(buf); i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		buf[i] = (uint8_t)(s >> 56);
	}
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len + off <= 520; len++)
			cr_assert_eq(nrv_crc32c_sse42(7, buf + off, len),
				     nrv_proto_crc32c_ref(7, buf + off, len), "off %zu len %zu", off, len);
#else
	cr_skip_test("not an x86-64 build: no SSE4.2 variant");
#endif
}

/* ---- helpers ---- */

/* An exact-length heap copy, so ASan sees a read one past the end. */
static uint8_t *dup_exact(const uint8_t *src, size_t n)
{
	uint8_t *p = malloc(n ? n : 1);
	cr_assert(p);
	memcpy(p, src, n);
	return p;
}

static int dec(const uint8_t *buf, size_t len, struct nrv_proto_msg *m)
{
	uint8_t *p = dup_exact(buf, len);
	int rc = nrv_proto_decode(p, len, NULL, m, NULL);
	free(p);   /* views die with it: callers only look at rc and scalar fields */
	return rc;
}

static void le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* A valid datagram of each kind, into buf; returns its length. */
static size_t make_tokens(uint8_t *buf, size_t cap, uint64_t id, uint32_t seq)
{
	struct nrv_proto_tmpl t;
	struct nrv_proto_tokbuf b;
	nrv_proto_tmpl_init(&t, id);
	cr_assert_eq(nrv_proto_tokens_begin(&b, buf, cap, &t, seq, 10), 0);
	cr_assert_eq(nrv_proto_tokens_add(&b, 15043, "Hello", 5), 0);
	cr_assert_eq(nrv_proto_tokens_add(&b, 11, ",", 1), 0);
	cr_assert_eq(nrv_proto_tokens_add(&b, 2, "", 0), 0);
	cr_assert_eq(nrv_proto_tokens_add(&b, 4, "\xe2\x82", 2), 0);  /* half a character */
	return nrv_proto_tokens_finish(&b);
}

static struct nrv_proto_request sample_request(void)
{
	static const char prompt[] = "Once upon a time, déjà vu";
	struct nrv_proto_request r = {0};
	r.p.set = NRV_PROTO_SET_ALL;
	r.p.max_tokens = 64;
	r.p.temperature = 0.7f;
	r.p.top_p = 0.9f;
	r.p.top_k = 40;
	r.p.min_p = 0.05f;
	r.p.repeat_penalty = 1.1f;
	r.p.frequency_penalty = -0.5f;
	r.p.presence_penalty = 1.5f;
	r.p.penalty_last_n = 64;
	r.p.seed = 0x0123456789abcdefull;
	r.prompt_kind = NRV_PROTO_PROMPT_TEXT;
	r.req_flags = NRV_PROTO_RF_IGNORE_EOS;
	r.model = "smollm2-135m";
	r.model_len = 12;
	r.n_stop = 2;
	r.stop[0] = "\n\n";
	r.stop_len[0] = 2;
	r.stop[1] = "END";
	r.stop_len[1] = 3;
	r.prompt = (const uint8_t *)prompt;
	r.prompt_len = (uint32_t)strlen(prompt);
	return r;
}

static size_t make_request(uint8_t *buf, size_t cap, uint8_t *body, size_t bcap)
{
	struct nrv_proto_request r = sample_request();
	long bl = nrv_proto_request_encode(&r, body, bcap);
	cr_assert_gt(bl, 0);
	long n = nrv_proto_encode_fragment(buf, cap, NRV_PROTO_MAX_PAYLOAD, 77, 0, body,
					   (size_t)bl, 0);
	cr_assert_gt(n, 0);
	return (size_t)n;
}

/* ---- round trips ---- */

Test(proto, header_layout_is_little_endian_and_fixed)
{
	uint8_t buf[64];
	long n = nrv_proto_encode(buf, sizeof(buf), NRV_PROTO_CANCEL, 0x1122334455667788ull, 0, 0,
				  NULL, 0);
	cr_assert_eq(n, 32);
	cr_assert_eq(buf[0], 'N');
	cr_assert_eq(buf[1], 'V');
	cr_assert_eq(buf[2], 1);
	cr_assert_eq(buf[3], NRV_PROTO_CANCEL);
	cr_assert_eq(buf[8], 0x88);
	cr_assert_eq(buf[15], 0x11);
	cr_assert_eq(buf[22], 1);   /* frag_count */
	uint32_t crc = nrv_proto_crc32c(0, buf, 28);
	cr_assert_eq(buf[28] | buf[29] << 8 | buf[30] << 16 | (uint32_t)buf[31] << 24, crc);
}

Test(proto, tokens_round_trip)
{
	uint8_t buf[NRV_PROTO_MAX_PAYLOAD];
	size_t n = make_tokens(buf, sizeof(buf), 99, 3);
	uint8_t *p = dup_exact(buf, n);
	struct nrv_proto_msg m;
	struct nrv_proto_stats st = {0};
	cr_assert_eq(nrv_proto_decode(p, n, NULL, &m, &st), 0);
	cr_assert_eq(st.ok, 1);
	cr_assert_eq(m.h.type, NRV_PROTO_TOKENS);
	cr_assert_eq(m.h.id, 99);
	cr_assert_eq(m.h.seq, 3);
	cr_assert_eq(m.u.tok.n, 4);
	cr_assert_eq(m.u.tok.first_index, 10);
	struct nrv_proto_tok_iter it;
	int32_t id;
	const uint8_t *text;
	uint16_t len;
	nrv_proto_tok_iter_init(&it, &m.u.tok);
	cr_assert_eq(nrv_proto_tok_next(&it, &id, &text, &len), 1);
	cr_assert_eq(id, 15043);
	cr_assert_eq(len, 5);
	cr_assert_eq(memcmp(text, "Hello", 5), 0);
	cr_assert(text >= p && text + len <= p + n, "a view into the datagram");
	cr_assert_eq(nrv_proto_tok_next(&it, &id, &text, &len), 1);
	cr_assert_eq(id, 11);
	cr_assert_eq(nrv_proto_tok_next(&it, &id, &text, &len), 1);
	cr_assert_eq(len, 0);
	cr_assert_eq(nrv_proto_tok_next(&it, &id, &text, &len), 1);
	cr_assert_eq(len, 2);
	cr_assert_eq(nrv_proto_tok_next(&it, &id, &text, &len), 0);
	free(p);
}

Test(proto, tokens_fill_to_capacity_then_enospc)
{
	uint8_t buf[NRV_PROTO_MAX_PAYLOAD];
	struct nrv_proto_tmpl t;
	struct nrv_proto_tokbuf b;
	nrv_proto_tmpl_init(&t, 5);
	cr_assert_eq(nrv_proto_tokens_begin(&b, buf, sizeof(buf), &t, 0, 0), 0);
	cr_assert_eq(nrv_proto_tokens_finish(&b), 0, "no token, nothing to send");
	int added = 0;
	while (nrv_proto_tokens_add(&b, added, "abcdefghij", 10) == 0)
		added++;
	/* (1472 - 32 - 8) / 16 records of 6 + 10 bytes. */
	cr_assert_eq(added, (NRV_PROTO_MAX_PAYLOAD - 40) / 16);
	size_t len = b.len;
	cr_assert_eq(nrv_proto_tokens_add(&b, 1, "abcdefghij", 10), -ENOSPC);
	cr_assert_eq(b.len, len, "a refused token leaves the datagram as it was");
	size_t n = nrv_proto_tokens_finish(&b);
	cr_assert_leq(n, NRV_PROTO_MAX_PAYLOAD);
	struct nrv_proto_msg m;
	cr_assert_eq(dec(buf, n, &m), 0);
	cr_assert_eq(m.u.tok.n, added);
}

Test(proto, every_other_message_round_trips)
{
	uint8_t buf[NRV_PROTO_MAX_PAYLOAD], pl[600];
	struct nrv_proto_msg m;

	/* CANCEL */
	long n = nrv_proto_encode(buf, sizeof(buf), NRV_PROTO_CANCEL, 42, 0, 0, NULL, 0);
	cr_assert_eq(dec(buf, (size_t)n, &m), 0);
	cr_assert_eq(m.h.type, NRV_PROTO_CANCEL);
	cr_assert_eq(m.h.id, 42);

	/* PING / PONG */
	memset(pl, 0xab, 100);
	n = nrv_proto_encode(buf, sizeof(buf), NRV_PROTO_PING, 7, 0, 0, pl, 100);
	cr_assert_eq(dec(buf, (size_t)n, &m), 0);
	cr_assert_eq(m.h.payload_len, 100);
	n = nrv_proto_encode(buf, sizeof(buf), NRV_PROTO_PONG, 7, 0, 0, pl, 8);
	cr_assert_eq(dec(buf, (size_t)n, &m), 0);
	cr_assert_eq(m.h.type, NRV_PROTO_PONG);

	/* ACCEPT */
	size_t an = nrv_proto_accept_payload(pl, 64, 1472);
	n = nrv_proto_encode(buf, sizeof(buf), NRV_PROTO_ACCEPT, 9, 0, 0, pl, an);
	cr_assert_eq(dec(buf, (size_t)n, &m), 0);
	cr_assert_eq(m.u.acc.window, 64);
	cr_assert_eq(m.u.acc.max_payload, 1472);

	/* NACK */
	uint32_t first[3] = {0, 10, 4000000000u}, count[3] = {1, 5, 1024};
	long pn = nrv_proto_nack_payload(pl, sizeof(pl), first, count, 3);
	cr_assert_eq(pn, 24);
	n = nrv_proto_encode(buf, sizeof(buf), NRV_PROTO_NACK, 9, 0, 0, pl, (size_t)pn);
	cr_assert_eq(dec(buf, (size_t)n, &m), 0);
	cr_assert_eq(m.u.nack.n, 3);
	for (uint16_t i = 0; i < 3; i++) {
		uint32_t f, c;
		uint8_t *p = dup_exact(buf, (size_t)n);
		cr_assert_eq(nrv_proto_decode(p, (size_t)n, NULL, &m, NULL), 0);
		nrv_proto_nack_range(&m.u.nack, i, &f, &c);
		cr_assert_eq(f, first[i]);
		cr_assert_eq(c, count[i]);
		free(p);
	}

	/* FINAL */
	struct nrv_proto_final f = {NRV_PROTO_FINISH_LENGTH, 12, 34, 1000, 2000, 3000, 4000};
	size_t fn = nrv_proto_final_payload(pl, &f);
	n = nrv_proto_encode(buf, sizeof(buf), NRV_PROTO_FINAL, 9, 35, 0, pl, fn);
	cr_assert_eq(dec(buf, (size_t)n, &m), 0);
	cr_assert_eq(m.h.seq, 35);
	cr_assert_eq(m.u.fin.finish, NRV_PROTO_FINISH_LENGTH);
	cr_assert_eq(m.u.fin.prompt_tokens, 12);
	cr_assert_eq(m.u.fin.completion_tokens, 34);
	cr_assert_eq(m.u.fin.queue_ns, 1000);
	cr_assert_eq(m.u.fin.prefill_ns, 2000);
	cr_assert_eq(m.u.fin.decode_ns, 3000);
	cr_assert_eq(m.u.fin.total_ns, 4000);

	/* ERROR, with a message cut at 256 bytes on a character boundary */
	char longmsg[400];
	for (int i = 0; i < 399; i += 2) {
		longmsg[i] = (char)0xc3;
		longmsg[i + 1] = (char)0xa9;  /* é */
	}
	longmsg[399] = 0;
	longmsg[398] = 0;
	long en = nrv_proto_error_payload(pl, sizeof(pl), NRV_PROTO_C_OVERLOADED, 250, longmsg);
	cr_assert_eq(en, 8 + 256);
	n = nrv_proto_encode(buf, sizeof(buf), NRV_PROTO_ERROR, 9, 0, 0, pl, (size_t)en);
	cr_assert_eq(dec(buf, (size_t)n, &m), 0);
	cr_assert_eq(m.u.err.code, NRV_PROTO_C_OVERLOADED);
	cr_assert_eq(m.u.err.retry_after_ms, 250);
	cr_assert_eq(m.u.err.msg_len, 256);
	en = nrv_proto_error_payload(pl, sizeof(pl), NRV_PROTO_C_UNKNOWN_MODEL, 0,
				     "no model \"x\"");
	n = nrv_proto_encode(buf, sizeof(buf), NRV_PROTO_ERROR, 9, 0, 0, pl, (size_t)en);
	uint8_t *p = dup_exact(buf, (size_t)n);
	cr_assert_eq(nrv_proto_decode(p, (size_t)n, NULL, &m, NULL), 0);
	cr_assert_eq(m.u.err.msg_len, 12);
	cr_assert_eq(memcmp(m.u.err.msg, "no model \"x\"", 12), 0);
	free(p);
	cr_assert_str_eq(nrv_proto_code_name(NRV_PROTO_C_UNKNOWN_MODEL), "UNKNOWN_MODEL");
	cr_assert_str_eq(nrv_proto_code_name(999), "INTERNAL");
}

Test(proto, request_round_trip_in_place)
{
	uint8_t buf[NRV_PROTO_MAX_PAYLOAD], body[2048];
	size_t n = make_request(buf, sizeof(buf), body, sizeof(body));
	uint8_t *p = dup_exact(buf, n);
	struct nrv_proto_msg m;
	cr_assert_eq(nrv_proto_decode(p, n, NULL, &m, NULL), 0);
	cr_assert_eq(m.h.type, NRV_PROTO_REQUEST);
	cr_assert_eq(m.h.frag_count, 1);
	cr_assert_eq(m.h.total_len, m.h.payload_len);
	struct nrv_proto_request r, w = sample_request();
	cr_assert_eq(nrv_proto_request_parse(m.payload, m.h.payload_len, &r), 0);
	cr_assert_eq(r.p.set, NRV_PROTO_SET_ALL);
	cr_assert_eq(r.p.max_tokens, 64);
	cr_assert_float_eq(r.p.temperature, 0.7f, 0);
	cr_assert_float_eq(r.p.top_p, 0.9f, 0);
	cr_assert_eq(r.p.top_k, 40);
	cr_assert_float_eq(r.p.min_p, 0.05f, 0);
	cr_assert_float_eq(r.p.repeat_penalty, 1.1f, 0);
	cr_assert_float_eq(r.p.frequency_penalty, -0.5f, 0);
	cr_assert_float_eq(r.p.presence_penalty, 1.5f, 0);
	cr_assert_eq(r.p.penalty_last_n, 64);
	cr_assert_eq(r.p.seed, 0x0123456789abcdefull);
	cr_assert_eq(r.req_flags, NRV_PROTO_RF_IGNORE_EOS);
	cr_assert_eq(r.model_len, 12);
	cr_assert_eq(memcmp(r.model, "smollm2-135m", 12), 0);
	cr_assert_eq(r.n_stop, 2);
	cr_assert_eq(r.stop_len[1], 3);
	cr_assert_eq(memcmp(r.stop[1], "END", 3), 0);
	cr_assert_eq(r.prompt_len, w.prompt_len);
	cr_assert_eq(memcmp(r.prompt, w.prompt, w.prompt_len), 0);
	cr_assert(r.prompt >= p && r.prompt + r.prompt_len == p + n, "parsed in place");
	free(p);
}

Test(proto, request_with_token_ids_and_defaults)
{
	int32_t ids[5] = {1, 2, 3, 49151, 0};
	struct nrv_proto_request r = {0}, o;
	r.prompt_kind = NRV_PROTO_PROMPT_IDS;
	r.prompt = (const uint8_t *)ids;
	r.prompt_len = sizeof(ids);
	uint8_t body[256];
	long bl = nrv_proto_request_encode(&r, body, sizeof(body));
	cr_assert_eq(bl, 56 + 20);
	uint8_t *p = dup_exact(body, (size_t)bl);
	cr_assert_eq(nrv_proto_request_parse(p, (size_t)bl, &o), 0);
	cr_assert_eq(o.p.set, 0, "no parameter: the server's defaults");
	cr_assert_eq(o.model_len, 0);
	for (uint32_t i = 0; i < 5; i++)
		cr_assert_eq(nrv_proto_prompt_id(&o, i), ids[i]);
	/* One byte of misalignment changes nothing: loads are unaligned. */
	uint8_t *q = malloc((size_t)bl + 1);
	memcpy(q + 1, body, (size_t)bl);
	cr_assert_eq(nrv_proto_request_parse(q + 1, (size_t)bl, &o), 0);
	cr_assert_eq(nrv_proto_prompt_id(&o, 3), 49151);
	free(q);
	free(p);
}

Test(proto, fragments_cover_the_body)
{
	/* A 5000-byte prompt: 4 fragments at 1472, 1 with jumbo frames. */
	static uint8_t prompt[5000], body[6000], dg[NRV_PROTO_MAX_PAYLOAD_JUMBO];
	for (size_t i = 0; i < sizeof(prompt); i++)
		prompt[i] = (uint8_t)('a' + i % 26);
	struct nrv_proto_request r = {0};
	r.prompt = prompt;
	r.prompt_len = sizeof(prompt);
	long bl = nrv_proto_request_encode(&r, body, sizeof(body));
	cr_assert_eq(bl, 5056);
	cr_assert_eq(nrv_proto_frag_count((size_t)bl, 1472), 4);
	cr_assert_eq(nrv_proto_frag_count((size_t)bl, 8972), 1);
	uint8_t re[6000];
	for (uint32_t i = 0; i < 4; i++) {
		long n = nrv_proto_encode_fragment(dg, sizeof(dg), 1472, 5, 0, body, (size_t)bl, i);
		cr_assert_gt(n, 0);
		struct nrv_proto_msg m;
		uint8_t *p = dup_exact(dg, (size_t)n);
		cr_assert_eq(nrv_proto_decode(p, (size_t)n, NULL, &m, NULL), 0);
		cr_assert_eq(m.h.frag_index, i);
		cr_assert_eq(m.h.frag_count, 4);
		cr_assert_eq(m.h.total_len, 5056);
		cr_assert_eq(m.h.payload_len, i < 3 ? 1440 : 5056 - 3 * 1440);
		memcpy(re + i * 1440, m.payload, m.h.payload_len);
		free(p);
	}
	cr_assert_eq(memcmp(re, body, (size_t)bl), 0);
	cr_assert_eq(nrv_proto_encode_fragment(dg, sizeof(dg), 1472, 5, 0, body, (size_t)bl, 4),
		     -EINVAL, "index past the last fragment");
	cr_assert_eq(nrv_proto_encode_fragment(dg, sizeof(dg), 1472, 0, 0, body, (size_t)bl, 0),
		     -EINVAL, "id 0");
	/* Jumbo: the default limits reject it, jumbo limits accept it. */
	long n = nrv_proto_encode_fragment(dg, sizeof(dg), 8972, 5, 0, body, (size_t)bl, 0);
	cr_assert_eq(n, 32 + 5056);
	struct nrv_proto_msg m;
	cr_assert_eq(dec(dg, (size_t)n, &m), -NRV_PROTO_E_OVERSIZE);
	struct nrv_proto_limits lim = {.max_payload = 8972};
	cr_assert_eq(nrv_proto_limits_fix(&lim), 0);
	cr_assert_eq(nrv_proto_decode(dg, (size_t)n, &lim, &m, NULL), 0);
	struct nrv_proto_limits badlim = {.max_payload = 9000};
	cr_assert_eq(nrv_proto_limits_fix(&badlim), -EINVAL);
}

/* ---- malformed datagrams ---- */

/* Decode after editing a valid datagram; re-seal (fix the CRC) when asked,
 * so the check under test is the one that fires. */
static int edit_decode(const uint8_t *orig, size_t n, size_t new_len, void (*edit)(uint8_t *),
		       bool reseal, struct nrv_proto_stats *st)
{
	uint8_t *p = malloc(new_len ? new_len : 1);
	memcpy(p, orig, n < new_len ? n : new_len);
	if (new_len > n)
		memset(p + n, 0, new_len - n);
	if (edit)
		edit(p);
	if (reseal && new_len >= 32) {
		uint32_t c = nrv_proto_crc32c(0, p, 28);
		c = nrv_proto_crc32c(c, p + 32, new_len - 32);
		le32(p + 28, c);
	}
	struct nrv_proto_msg m;
	int rc = nrv_proto_decode(p, new_len, NULL, &m, st);
	free(p);
	return rc;
}

static void e_magic(uint8_t *p) { p[0] = 'X'; }
static void e_version(uint8_t *p) { p[2] = 2; }
static void e_type0(uint8_t *p) { p[3] = 0; }
static void e_type10(uint8_t *p) { p[3] = 10; }
static void e_len_up(uint8_t *p) { le16(p + 6, (uint16_t)(p[6] + 1)); }
static void e_len_down(uint8_t *p) { le16(p + 6, (uint16_t)(p[6] - 1)); }
static void e_flags(uint8_t *p) { p[5] = 0x80; }
static void e_retry(uint8_t *p) { p[4] = 1; }
static void e_id0(uint8_t *p) { memset(p + 8, 0, 8); }
static void e_seq(uint8_t *p) { p[16] = 1; }
static void e_fragidx(uint8_t *p) { le16(p + 20, 1); }
static void e_fragcnt(uint8_t *p) { le16(p + 22, 2); }
static void e_total(uint8_t *p) { le32(p + 24, 1); }

Test(proto, header_checks_each_fire)
{
	uint8_t buf[NRV_PROTO_MAX_PAYLOAD];
	size_t n = make_tokens(buf, sizeof(buf), 99, 3);
	struct nrv_proto_stats st = {0};
	for (size_t len = 0; len < 32; len++)
		cr_assert_eq(edit_decode(buf, n, len, NULL, false, &st), -NRV_PROTO_E_TRUNCATED);
	cr_assert_eq(st.bad[NRV_PROTO_E_TRUNCATED], 32);
	cr_assert_eq(edit_decode(buf, n, 1473, NULL, true, &st), -NRV_PROTO_E_OVERSIZE);
	cr_assert_eq(edit_decode(buf, n, 65535, NULL, true, &st), -NRV_PROTO_E_OVERSIZE);
	cr_assert_eq(edit_decode(buf, n, n, e_magic, true, &st), -NRV_PROTO_E_MAGIC);
	cr_assert_eq(edit_decode(buf, n, n, e_version, true, &st), -NRV_PROTO_E_VERSION);
	cr_assert_eq(edit_decode(buf, n, n, e_type0, true, &st), -NRV_PROTO_E_TYPE);
	cr_assert_eq(edit_decode(buf, n, n, e_type10, true, &st), -NRV_PROTO_E_TYPE);
	cr_assert_eq(edit_decode(buf, n, n, e_len_up, true, &st), -NRV_PROTO_E_LENGTH);
	cr_assert_eq(edit_decode(buf, n, n, e_len_down, true, &st), -NRV_PROTO_E_LENGTH);
	/* A datagram cut short or padded: payload_len no longer matches. */
	cr_assert_eq(edit_decode(buf, n, n - 1, NULL, true, &st), -NRV_PROTO_E_LENGTH);
	cr_assert_eq(edit_decode(buf, n, n + 1, NULL, true, &st), -NRV_PROTO_E_LENGTH);
	cr_assert_eq(edit_decode(buf, n, n, e_flags, true, &st), -NRV_PROTO_E_RESERVED);
	cr_assert_eq(edit_decode(buf, n, n, e_retry, true, &st), -NRV_PROTO_E_RESERVED,
		     "RETRY only on REQUEST");
	cr_assert_eq(edit_decode(buf, n, n, e_id0, true, &st), -NRV_PROTO_E_RESERVED);
	cr_assert_eq(edit_decode(buf, n, n, e_fragidx, true, &st), -NRV_PROTO_E_FRAG);
	cr_assert_eq(edit_decode(buf, n, n, e_fragcnt, true, &st), -NRV_PROTO_E_FRAG);
	cr_assert_eq(edit_decode(buf, n, n, e_total, true, &st), -NRV_PROTO_E_FRAG);
	cr_assert_eq(edit_decode(buf, n, n, NULL, false, &st), 0);
	cr_assert_eq(st.ok, 1);
	cr_assert_eq(st.bad[NRV_PROTO_E_LENGTH], 4);

	/* Unsequenced types carry seq 0. */
	uint8_t c[64];
	long cn = nrv_proto_encode(c, sizeof(c), NRV_PROTO_CANCEL, 3, 0, 0, NULL, 0);
	cr_assert_eq(edit_decode(c, (size_t)cn, (size_t)cn, e_seq, true, &st), -NRV_PROTO_E_RESERVED);
	cr_assert_str_eq(nrv_proto_strerror(-NRV_PROTO_E_CRC), "CRC32C mismatch");
}

Test(proto, every_single_bit_flip_is_caught)
{
	uint8_t buf[NRV_PROTO_MAX_PAYLOAD];
	size_t n = make_tokens(buf, sizeof(buf), 99, 3);
	struct nrv_proto_stats st = {0};
	for (size_t bit = 0; bit < n * 8; bit++) {
		uint8_t *p = dup_exact(buf, n);
		p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		struct nrv_proto_msg m;
		cr_assert_neq(nrv_proto_decode(p, n, NULL, &m, &st), 0, "bit %zu", bit);
		free(p);
	}
	cr_assert_eq(st.ok, 0);
	cr_assert_gt(st.bad[NRV_PROTO_E_CRC], n * 8 / 2, "most flips land where only the CRC sees them");
}

/* Build a datagram with an arbitrary payload (sealed) and decode it. */
static int raw(uint8_t type, uint32_t seq, const uint8_t *pl, size_t plen)
{
	uint8_t buf[NRV_PROTO_MAX_PAYLOAD];
	long n = nrv_proto_encode(buf, sizeof(buf), type, 1, seq, 0, pl, plen);
	cr_assert_gt(n, 0);
	struct nrv_proto_msg m;
	return dec(buf, (size_t)n, &m);
}

Test(proto, payload_checks_each_fire)
{
	const int bad = -NRV_PROTO_E_PAYLOAD;
	uint8_t p[700] = {0};

	cr_assert_eq(raw(NRV_PROTO_CANCEL, 0, p, 1), bad, "CANCEL has no payload");
	cr_assert_eq(raw(NRV_PROTO_PING, 0, p, 7), bad, "PING under 8 bytes");

	/* TOKENS: n = 0; a record's text_len lying past the end; bytes left
	 * over; a reserved field; first_index + n overflowing. */
	cr_assert_eq(raw(NRV_PROTO_TOKENS, 0, p, 8), bad);
	memset(p, 0, sizeof(p));
	le16(p, 1);
	le16(p + 12, 5);
	cr_assert_eq(raw(NRV_PROTO_TOKENS, 0, p, 8 + 6 + 5), 0);
	cr_assert_eq(raw(NRV_PROTO_TOKENS, 0, p, 8 + 6 + 4), bad, "text_len lies");
	cr_assert_eq(raw(NRV_PROTO_TOKENS, 0, p, 8 + 6 + 6), bad, "trailing byte");
	cr_assert_eq(raw(NRV_PROTO_TOKENS, 0, p, 8 + 5), bad, "record cut");
	le16(p, 2);
	cr_assert_eq(raw(NRV_PROTO_TOKENS, 0, p, 8 + 6 + 5), bad, "n lies");
	le16(p, 1);
	p[2] = 1;
	cr_assert_eq(raw(NRV_PROTO_TOKENS, 0, p, 8 + 6 + 5), bad, "reserved");
	p[2] = 0;
	le32(p + 4, UINT32_MAX);
	cr_assert_eq(raw(NRV_PROTO_TOKENS, 0, p, 8 + 6 + 5), bad, "index overflows");

	/* FINAL */
	memset(p, 0, sizeof(p));
	p[0] = NRV_PROTO_FINISH_STOP;
	cr_assert_eq(raw(NRV_PROTO_FINAL, 0, p, 48), 0);
	cr_assert_eq(raw(NRV_PROTO_FINAL, 0, p, 47), bad);
	cr_assert_eq(raw(NRV_PROTO_FINAL, 0, p, 49), bad);
	p[0] = 0;
	cr_assert_eq(raw(NRV_PROTO_FINAL, 0, p, 48), bad, "finish 0");
	p[0] = 6;
	cr_assert_eq(raw(NRV_PROTO_FINAL, 0, p, 48), bad, "finish 6");
	p[0] = 1;
	p[13] = 1;
	cr_assert_eq(raw(NRV_PROTO_FINAL, 0, p, 48), bad, "reserved");

	/* ERROR: code 0; msg_len lying both ways; over 256; bad UTF-8. */
	memset(p, 0, sizeof(p));
	le16(p, 1);
	le16(p + 2, 3);
	memcpy(p + 8, "abc", 3);
	cr_assert_eq(raw(NRV_PROTO_ERROR, 0, p, 11), 0);
	cr_assert_eq(raw(NRV_PROTO_ERROR, 0, p, 10), bad);
	cr_assert_eq(raw(NRV_PROTO_ERROR, 0, p, 12), bad);
	cr_assert_eq(raw(NRV_PROTO_ERROR, 0, p, 7), bad);
	le16(p, 0);
	cr_assert_eq(raw(NRV_PROTO_ERROR, 0, p, 11), bad, "code 0");
	le16(p, 1);
	p[9] = (char)0xff;
	cr_assert_eq(raw(NRV_PROTO_ERROR, 0, p, 11), bad, "not UTF-8");
	memset(p + 8, 'x', 300);
	le16(p + 2, 257);
	cr_assert_eq(raw(NRV_PROTO_ERROR, 0, p, 8 + 257), bad, "message over 256");
	cr_assert_eq(raw(NRV_PROTO_ERROR, 7, p, 11), bad);

	/* NACK: empty; not a multiple of 8; over 64 ranges; count 0, over
	 * 1024, wrapping past 2^32. */
	memset(p, 0, sizeof(p));
	cr_assert_eq(raw(NRV_PROTO_NACK, 0, p, 0), bad);
	le32(p + 4, 1);
	cr_assert_eq(raw(NRV_PROTO_NACK, 0, p, 8), 0);
	cr_assert_eq(raw(NRV_PROTO_NACK, 0, p, 12), bad);
	for (int i = 0; i < 65; i++)
		le32(p + 8 * i + 4, 1);
	cr_assert_eq(raw(NRV_PROTO_NACK, 0, p, 64 * 8), 0);
	cr_assert_eq(raw(NRV_PROTO_NACK, 0, p, 65 * 8), bad);
	le32(p + 4, 0);
	cr_assert_eq(raw(NRV_PROTO_NACK, 0, p, 8), bad);
	le32(p + 4, 1025);
	cr_assert_eq(raw(NRV_PROTO_NACK, 0, p, 8), bad);
	le32(p, UINT32_MAX);
	le32(p + 4, 2);
	cr_assert_eq(raw(NRV_PROTO_NACK, 0, p, 8), bad);

	/* ACCEPT */
	memset(p, 0, sizeof(p));
	cr_assert_eq(raw(NRV_PROTO_ACCEPT, 0, p, 8), bad, "window 0");
	le32(p, 64);
	cr_assert_eq(raw(NRV_PROTO_ACCEPT, 0, p, 8), 0);
	cr_assert_eq(raw(NRV_PROTO_ACCEPT, 0, p, 9), bad);
	p[7] = 1;
	cr_assert_eq(raw(NRV_PROTO_ACCEPT, 0, p, 8), bad, "reserved");
}

/* A REQUEST datagram with hand-set fragment fields. */
static int frag(uint16_t index, uint16_t count, uint32_t total, size_t plen)
{
	uint8_t buf[NRV_PROTO_MAX_PAYLOAD] = {0};
	uint8_t body[64] = {0};
	long n = nrv_proto_encode_fragment(buf, sizeof(buf), 1472, 1, 0, body, 60, 0);
	cr_assert_gt(n, 0);
	le16(buf + 20, index);
	le16(buf + 22, count);
	le32(buf + 24, total);
	size_t len = 32 + plen;
	nrv_proto_seal(buf, len);
	struct nrv_proto_msg m;
	return dec(buf, len, &m);
}

Test(proto, fragment_checks_each_fire)
{
	const int bad = -NRV_PROTO_E_FRAG;
	cr_assert_eq(frag(0, 1, 60, 60), 0);
	cr_assert_eq(frag(0, 1, 60, 59), bad, "single fragment shorter than total");
	cr_assert_eq(frag(1, 1, 60, 60), bad, "index >= count");
	cr_assert_eq(frag(0, 0, 60, 60), bad, "count 0");
	cr_assert_eq(frag(0, 1025, 2000000, 1440), bad, "count over max_frags");
	cr_assert_eq(frag(0, 2, 262145, 1440), bad, "total over max_request_bytes");
	cr_assert_eq(frag(0, 2, 56, 28), bad, "total under the fixed part + 1");
	cr_assert_eq(frag(0, 3, 5000, 1440), bad, "3 fragments cannot hold 5000 bytes");
	cr_assert_eq(frag(0, 4, 5000, 1440), 0);
	cr_assert_eq(frag(0, 100, 60, 1), bad, "more fragments than bytes");
	cr_assert_eq(frag(0, 2, 100, 200), bad, "fragment longer than the body");
}

/* ---- request bodies ---- */

/* Encode the sample, apply edit at a body offset, parse. */
static int body_edit(size_t off, const void *bytes, size_t nb, long len_delta)
{
	struct nrv_proto_request r = sample_request(), o;
	uint8_t body[512];
	long bl = nrv_proto_request_encode(&r, body, sizeof(body));
	cr_assert_gt(bl, 0);
	memcpy(body + off, bytes, nb);
	size_t len = (size_t)(bl + len_delta);
	uint8_t *p = dup_exact(body, len);
	int rc = nrv_proto_request_parse(p, len, &o);
	free(p);
	return rc;
}

Test(proto, body_checks_each_fire)
{
	const int bad = -NRV_PROTO_E_BODY;
	uint8_t b4[4], one = 0;
	float f;
	cr_assert_eq(body_edit(0, &one, 0, 0), 0);
	cr_assert_eq(body_edit(0, &one, 0, -1), bad, "body one byte short");
	cr_assert_eq(body_edit(0, &one, 0, 1), bad, "body one byte long");
	le16(b4, 0x0400);
	cr_assert_eq(body_edit(0, b4, 2, 0), bad, "reserved set bit");
	one = 2;
	cr_assert_eq(body_edit(2, &one, 1, 0), bad, "prompt kind 2");
	one = 5;
	cr_assert_eq(body_edit(3, &one, 1, 0), bad, "5 stop strings");
	one = 2;
	cr_assert_eq(body_edit(5, &one, 1, 0), bad, "reserved req_flags bit");
	one = 1;
	cr_assert_eq(body_edit(6, &one, 1, 0), bad, "reserved field");
	le32(b4, 0);
	cr_assert_eq(body_edit(8, b4, 4, 0), bad, "max_tokens 0");
	le32(b4, NRV_PROTO_MAX_TOKENS + 1);
	cr_assert_eq(body_edit(8, b4, 4, 0), bad, "max_tokens too large");
	f = NAN;
	cr_assert_eq(body_edit(12, &f, 4, 0), bad, "temperature NaN");
	f = -1;
	cr_assert_eq(body_edit(12, &f, 4, 0), bad, "temperature < 0");
	f = INFINITY;
	cr_assert_eq(body_edit(16, &f, 4, 0), bad, "top_p inf");
	le32(b4, (uint32_t)-1);
	cr_assert_eq(body_edit(20, b4, 4, 0), bad, "top_k < 0");
	f = 1.5f;
	cr_assert_eq(body_edit(24, &f, 4, 0), bad, "min_p > 1");
	f = 0;
	cr_assert_eq(body_edit(28, &f, 4, 0), bad, "repeat_penalty 0");
	f = 2.5f;
	cr_assert_eq(body_edit(32, &f, 4, 0), bad, "frequency_penalty > 2");
	f = -2.5f;
	cr_assert_eq(body_edit(36, &f, 4, 0), bad, "presence_penalty < -2");
	le32(b4, (uint32_t)-5);
	cr_assert_eq(body_edit(40, b4, 4, 0), bad, "penalty_last_n < 0");
	le32(b4, 1000);
	cr_assert_eq(body_edit(44, b4, 4, 0), bad, "prompt_len lies (long)");
	le32(b4, 3);
	cr_assert_eq(body_edit(44, b4, 4, 0), bad, "prompt_len lies (short)");
	one = ' ';
	cr_assert_eq(body_edit(56, &one, 1, 0), bad, "model name not printable");
	one = 200;
	cr_assert_eq(body_edit(4, &one, 1, 0), bad, "model_len past the end");
	one = 0;
	cr_assert_eq(body_edit(56 + 12, &one, 1, 0), bad, "empty stop string");
	one = 0xff;
	cr_assert_eq(body_edit(56 + 12 + 1, &one, 1, 0), bad, "stop string not UTF-8");
	one = 0xc3;
	cr_assert_eq(body_edit(56 + 12 + 3 + 4, &one, 1, 0), bad, "prompt not UTF-8");

	/* A parameter not in `set` must be zero. */
	struct nrv_proto_request r = {0}, o;
	uint8_t body[128];
	r.prompt = (const uint8_t *)"x";
	r.prompt_len = 1;
	long bl = nrv_proto_request_encode(&r, body, sizeof(body));
	cr_assert_eq(bl, 57);
	cr_assert_eq(nrv_proto_request_parse(body, 57, &o), 0);
	body[12] = 1;
	cr_assert_eq(nrv_proto_request_parse(body, 57, &o), bad);
	cr_assert_eq(nrv_proto_request_parse(body, 55, &o), bad, "shorter than the fixed part");

	/* Token-id prompts: a multiple of 4 bytes, ids >= 0. */
	int32_t ids[2] = {5, -1};
	r.prompt_kind = NRV_PROTO_PROMPT_IDS;
	r.prompt = (const uint8_t *)ids;
	r.prompt_len = 8;
	cr_assert_eq(nrv_proto_request_encode(&r, body, sizeof(body)), -EINVAL,
		     "the encoder refuses what the parser would");
	r.prompt_len = 3;
	cr_assert_eq(nrv_proto_request_encode(&r, body, sizeof(body)), -EINVAL);
	r.prompt_len = 4;
	cr_assert_eq(nrv_proto_request_encode(&r, body, 59), -ENOSPC);
	cr_assert_eq(nrv_proto_request_encode(&r, body, 60), 60);
}

/* ---- fuzz ---- */

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Use everything a decoded view points at, so ASan checks the bounds. */
static unsigned touch(const struct nrv_proto_msg *m)
{
	unsigned acc = 0;
	for (size_t i = 0; i < m->h.payload_len; i++)
		acc += m->payload[i];
	if (m->h.type == NRV_PROTO_TOKENS) {
		struct nrv_proto_tok_iter it;
		int32_t id;
		const uint8_t *t;
		uint16_t len;
		nrv_proto_tok_iter_init(&it, &m->u.tok);
		while (nrv_proto_tok_next(&it, &id, &t, &len))
			for (uint16_t i = 0; i < len; i++)
				acc += t[i];
	} else if (m->h.type == NRV_PROTO_ERROR) {
		for (uint16_t i = 0; i < m->u.err.msg_len; i++)
			acc += (uint8_t)m->u.err.msg[i];
	} else if (m->h.type == NRV_PROTO_NACK) {
		for (uint16_t i = 0; i < m->u.nack.n; i++) {
			uint32_t f, c;
			nrv_proto_nack_range(&m->u.nack, i, &f, &c);
			acc += f + c;
		}
	} else if (m->h.type == NRV_PROTO_REQUEST && m->h.frag_count == 1) {
		struct nrv_proto_request r;
		if (nrv_proto_request_parse(m->payload, m->h.payload_len, &r) == 0) {
			for (uint32_t i = 0; i < r.prompt_len; i++)
				acc += r.prompt[i];
			for (int s = 0; s < r.n_stop; s++)
				for (int i = 0; i < r.stop_len[s]; i++)
					acc += (uint8_t)r.stop[s][i];
			for (int i = 0; i < r.model_len; i++)
				acc += (uint8_t)r.model[i];
		}
	}
	return acc;
}

Test(proto, fuzz_mutated_datagrams, .timeout = 120)
{
	/* Seeds: one valid datagram of each type. */
	uint8_t seeds[9][NRV_PROTO_MAX_PAYLOAD], pl[64], body[1024];
	size_t slen[9];
	slen[0] = make_tokens(seeds[0], NRV_PROTO_MAX_PAYLOAD, 4, 1);
	slen[1] = make_request(seeds[1], NRV_PROTO_MAX_PAYLOAD, body, sizeof(body));
	slen[2] = (size_t)nrv_proto_encode(seeds[2], NRV_PROTO_MAX_PAYLOAD, NRV_PROTO_CANCEL, 4, 0, 0, NULL, 0);
	memset(pl, 1, sizeof(pl));
	slen[3] = (size_t)nrv_proto_encode(seeds[3], NRV_PROTO_MAX_PAYLOAD, NRV_PROTO_PING, 4, 0, 0, pl, 16);
	uint32_t f[2] = {1, 9}, c[2] = {2, 3};
	long pn = nrv_proto_nack_payload(pl, sizeof(pl), f, c, 2);
	slen[4] = (size_t)nrv_proto_encode(seeds[4], NRV_PROTO_MAX_PAYLOAD, NRV_PROTO_NACK, 4, 0, 0, pl, (size_t)pn);
	size_t an = nrv_proto_accept_payload(pl, 64, 1472);
	slen[5] = (size_t)nrv_proto_encode(seeds[5], NRV_PROTO_MAX_PAYLOAD, NRV_PROTO_ACCEPT, 4, 0, 0, pl, an);
	struct nrv_proto_final fin = {NRV_PROTO_FINISH_STOP, 1, 2, 3, 4, 5, 6};
	size_t fn = nrv_proto_final_payload(pl, &fin);
	slen[6] = (size_t)nrv_proto_encode(seeds[6], NRV_PROTO_MAX_PAYLOAD, NRV_PROTO_FINAL, 4, 9, 0, pl, fn);
	long en = nrv_proto_error_payload(pl, sizeof(pl), 3, 100, "busy");
	slen[7] = (size_t)nrv_proto_encode(seeds[7], NRV_PROTO_MAX_PAYLOAD, NRV_PROTO_ERROR, 4, 9, 0, pl, (size_t)en);
	slen[8] = (size_t)nrv_proto_encode(seeds[8], NRV_PROTO_MAX_PAYLOAD, NRV_PROTO_PONG, 4, 0, 0, pl, 8);

	struct nrv_proto_stats st = {0};
	uint64_t s = 0x9e3779b97f4a7c15ull;
	unsigned acc = 0;
	const int iters = 40000;
	for (int it = 0; it < iters; it++) {
		int k = (int)(rng_next(&s) % 9);
		size_t len = slen[k];
		uint8_t work[NRV_PROTO_MAX_PAYLOAD + 64];
		memcpy(work, seeds[k], len);
		int muts = 1 + (int)(rng_next(&s) % 4);
		for (int j = 0; j < muts; j++) {
			uint64_t r = rng_next(&s);
			if (len == 0)
				break;
			switch (r % 5) {
			case 0: /* flip a bit */
				work[(r >> 8) % len] ^= (uint8_t)(1u << ((r >> 40) % 8));
				break;
			case 1: /* a random byte, biased to the header and the payload's start */
				work[(r >> 8) % (len < 48 ? len : 48)] = (uint8_t)(r >> 32);
				break;
			case 2: /* truncate */
				len = (r >> 8) % (len + 1);
				break;
			case 3: /* extend with random bytes */
				for (int e = (int)((r >> 8) % 32); e > 0 && len < sizeof(work); e--)
					work[len++] = (uint8_t)rng_next(&s);
				break;
			case 4: /* an extreme 16-bit value somewhere */
				if (len >= 2) {
					size_t o = (r >> 8) % (len - 1);
					le16(work + o, (r >> 40) & 1 ? 0xffff : 0);
				}
				break;
			}
		}
		/* Half the time fix length and CRC, so the payload checks
		 * are reached rather than stopping at the checksum. */
		if (rng_next(&s) & 1 && len >= 32) {
			le16(work + 6, (uint16_t)(len - 32));
			uint32_t cr = nrv_proto_crc32c(0, work, 28);
			le32(work + 28, nrv_proto_crc32c(cr, work + 32, len - 32));
		}
		uint8_t *p = dup_exact(work, len);
		struct nrv_proto_msg m;
		if (nrv_proto_decode(p, len, NULL, &m, &st) == 0)
			acc += touch(&m);
		free(p);
	}
	uint64_t total = st.ok;
	for (int i = 0; i < NRV_PROTO_E_COUNT; i++)
		total += st.bad[i];
	cr_assert_eq(total, (uint64_t)iters, "every datagram counted exactly once");
	cr_assert_gt(st.ok, 0, "some mutations stay valid");
	cr_assert_gt(st.bad[NRV_PROTO_E_CRC], 0);
	cr_assert_gt(st.bad[NRV_PROTO_E_PAYLOAD], 0);
	cr_assert_gt(st.bad[NRV_PROTO_E_LENGTH], 0);
	(void)acc;
}
