/*
 * tests/net/test_reasm.c - fragment reassembly (every arrival order, with
 * duplicates, conflicts, timeouts and the bounds) and the server's request
 * table (duplicate ids, retransmit window, ring overwrite, linger,
 * eviction). The clock is a plain number passed in.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/reasm.h"
#include "net/rtx.h"

#define MS 1000000ull

/* ---- fragments ---- */

struct frags {
	uint8_t body[8192];
	size_t total;
	uint32_t count;
	uint8_t dg[8][NRV_PROTO_MAX_PAYLOAD];
	size_t len[8];
	struct nrv_proto_msg m[8];
};

/* A request body of prompt_len bytes cut at max_payload 512 (480-byte
 * fragments), decoded in place. */
static void make_frags(struct frags *f, uint64_t id, size_t prompt_len, uint8_t fill)
{
	static uint8_t prompt[8192];
	for (size_t i = 0; i < prompt_len; i++)
		prompt[i] = (uint8_t)('a' + (i * 7 + fill) % 26);
	struct nrv_proto_request r = {0};
	r.prompt = prompt;
	r.prompt_len = (uint32_t)prompt_len;
	long bl = nrv_proto_request_encode(&r, f->body, sizeof(f->body));
	cr_assert_gt(bl, 0);
	f->total = (size_t)bl;
	f->count = nrv_proto_frag_count(f->total, 512);
	cr_assert_leq(f->count, 8);
	struct nrv_proto_limits lim = {.max_payload = 512};
	cr_assert_eq(nrv_proto_limits_fix(&lim), 0);
	for (uint32_t i = 0; i < f->count; i++) {
		long n = nrv_proto_encode_fragment(f->dg[i], sizeof(f->dg[i]), 512, id, 0, f->body,
						   f->total, i);
		cr_assert_gt(n, 0);
		f->len[i] = (size_t)n;
		cr_assert_eq(nrv_proto_decode(f->dg[i], f->len[i], &lim, &f->m[i], NULL), 0);
	}
}

static struct nrv_proto_peer peer_n(uint32_t n)
{
	struct nrv_proto_peer p;
	memset(&p, 0, sizeof(p));
	p.family = 2;
	p.port = (uint16_t)(4000 + n);
	p.addr[0] = 198;
	p.addr[1] = 51;
	p.addr[2] = 100;
	p.addr[3] = (uint8_t)n;
	return p;
}

static void reasm_small(struct nrv_reasm *r)
{
	struct nrv_reasm_cfg cfg = {.max_request_bytes = 8192, .max_frags = 16, .max_partial = 4,
				    .max_partial_per_peer = 2, .timeout_ms = 100};
	cr_assert_eq(nrv_reasm_init(r, &cfg), 0);
}

Test(reasm, single_fragment_is_zero_copy)
{
	struct nrv_reasm r;
	reasm_small(&r);
	struct frags *f = calloc(1, sizeof(*f));
	make_frags(f, 1, 100, 0);
	cr_assert_eq(f->count, 1);
	struct nrv_proto_peer p = peer_n(1);
	struct nrv_reasm_done d;
	cr_assert_eq(nrv_reasm_add(&r, &p, &f->m[0], 0, &d), 1);
	cr_assert_eq(d.slot, -1);
	cr_assert_eq(d.body, f->m[0].payload, "the body is the datagram's payload");
	cr_assert_eq(d.len, f->total);
	cr_assert_eq(r.n_used, 0);
	free(f);
	nrv_reasm_fini(&r);
}

/* Heap's algorithm over 4 fragments: all 24 orders. */
static void permute(uint32_t *a, int n, void (*fn)(const uint32_t *, void *), void *ctx)
{
	int c[8] = {0};
	fn(a, ctx);
	int i = 0;
	while (i < n) {
		if (c[i] < i) {
			int j = i % 2 ? c[i] : 0;
			uint32_t t = a[j];
			a[j] = a[i];
			a[i] = t;
			fn(a, ctx);
			c[i]++;
			i = 0;
		} else {
			c[i] = 0;
			i++;
		}
	}
}

struct order_ctx {
	struct nrv_reasm *r;
	struct frags *f;
	int runs;
	bool with_dups;
};

static void one_order(const uint32_t *ord, void *vctx)
{
	struct order_ctx *c = vctx;
	struct nrv_proto_peer p = peer_n(1);
	struct nrv_reasm_done d;
	for (uint32_t k = 0; k < c->f->count; k++) {
		int rc = nrv_reasm_add(c->r, &p, &c->f->m[ord[k]], k, &d);
		if (k + 1 < c->f->count) {
			cr_assert_eq(rc, 0, "order %d step %u", c->runs, k);
			if (c->with_dups) {
				/* Every fragment received so far, again. */
				for (uint32_t j = 0; j <= k; j++)
					cr_assert_eq(nrv_reasm_add(c->r, &p, &c->f->m[ord[j]], k, &d),
						     -EALREADY);
			}
		} else {
			cr_assert_eq(rc, 1, "order %d completes", c->runs);
		}
	}
	cr_assert_eq(d.len, c->f->total);
	cr_assert_eq(memcmp(d.body, c->f->body, c->f->total), 0, "order %d: bytes", c->runs);
	cr_assert_geq(d.slot, 0);
	nrv_reasm_release(c->r, d.slot);
	cr_assert_eq(c->r->n_used, 0);
	c->runs++;
}

Test(reasm, every_order_and_duplicates)
{
	struct nrv_reasm r;
	reasm_small(&r);
	struct frags *f = calloc(1, sizeof(*f));
	make_frags(f, 9, 1800, 3);   /* 1856 bytes: 3 x 480 + 416 */
	cr_assert_eq(f->count, 4);
	uint32_t ord[4] = {0, 1, 2, 3};
	struct order_ctx c = {&r, f, 0, false};
	permute(ord, 4, one_order, &c);
	cr_assert_eq(c.runs, 24);
	c.with_dups = true;
	permute(ord, 4, one_order, &c);
	cr_assert_eq(c.runs, 48);
	cr_assert_eq(r.st.completed, 48);
	cr_assert_eq(r.st.dup_frags, 24 * 6);
	cr_assert_eq(r.st.conflicts, 0);
	free(f);
	nrv_reasm_fini(&r);
}

Test(reasm, last_fragment_first_fixes_the_fragment_length)
{
	struct nrv_reasm r;
	reasm_small(&r);
	struct frags *f = calloc(1, sizeof(*f));
	make_frags(f, 9, 1800, 0);
	struct nrv_proto_peer p = peer_n(1);
	struct nrv_reasm_done d;
	cr_assert_eq(nrv_reasm_add(&r, &p, &f->m[3], 0, &d), 0);
	cr_assert_eq(r.slot[0].frag_len, 480);
	free(f);
	nrv_reasm_fini(&r);
}

Test(reasm, conflicting_fragments_are_dropped)
{
	struct nrv_reasm r;
	reasm_small(&r);
	struct frags *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b)), *c = calloc(1, sizeof(*c));
	make_frags(a, 5, 1800, 0);
	make_frags(b, 5, 1800, 1);   /* same id and sizes, other bytes */
	make_frags(c, 5, 1000, 0);   /* same id, another total */
	struct nrv_proto_peer p = peer_n(1);
	struct nrv_reasm_done d;
	cr_assert_eq(nrv_reasm_add(&r, &p, &a->m[0], 0, &d), 0);
	cr_assert_eq(nrv_reasm_add(&r, &p, &b->m[0], 0, &d), -EPROTO, "same index, other bytes");
	cr_assert_eq(nrv_reasm_add(&r, &p, &c->m[1], 0, &d), -EPROTO, "other total_len");
	/* An overlapping fragment: same total and count, another length L. */
	struct nrv_proto_msg m = a->m[1];
	m.h.payload_len = 470;
	cr_assert_eq(nrv_reasm_add(&r, &p, &m, 0, &d), -EPROTO, "fragment length disagrees");
	/* A last fragment whose length does not divide. */
	m = a->m[3];
	m.h.payload_len = 415;
	cr_assert_eq(nrv_reasm_add(&r, &p, &m, 0, &d), -EPROTO);
	cr_assert_eq(r.st.conflicts, 4);
	/* The partial is intact: the right fragments still complete it. */
	cr_assert_eq(nrv_reasm_add(&r, &p, &a->m[1], 0, &d), 0);
	cr_assert_eq(nrv_reasm_add(&r, &p, &a->m[2], 0, &d), 0);
	cr_assert_eq(nrv_reasm_add(&r, &p, &a->m[3], 0, &d), 1);
	cr_assert_eq(memcmp(d.body, a->body, a->total), 0);
	/* The same id from another peer is another request. */
	struct nrv_proto_peer q = peer_n(2);
	cr_assert_eq(nrv_reasm_add(&r, &q, &b->m[0], 0, &d), 0);
	cr_assert_eq(r.n_used, 2);
	free(a);
	free(b);
	free(c);
	nrv_reasm_fini(&r);
}

Test(reasm, timeout_and_bounds)
{
	struct nrv_reasm r;
	reasm_small(&r);   /* 4 partials, 2 per peer, 100 ms */
	struct frags *f = calloc(1, sizeof(*f));
	struct nrv_reasm_done d;
	struct nrv_proto_peer p1 = peer_n(1), p2 = peer_n(2), p3 = peer_n(3);
	make_frags(f, 1, 1800, 0);
	cr_assert_eq(nrv_reasm_add(&r, &p1, &f->m[0], 0, &d), 0);
	make_frags(f, 2, 1800, 0);
	cr_assert_eq(nrv_reasm_add(&r, &p1, &f->m[0], 10 * MS, &d), 0);
	make_frags(f, 3, 1800, 0);
	cr_assert_eq(nrv_reasm_add(&r, &p1, &f->m[0], 20 * MS, &d), -EBUSY, "per-peer bound");
	cr_assert_eq(r.st.peer_full, 1);
	cr_assert_eq(nrv_reasm_add(&r, &p2, &f->m[0], 20 * MS, &d), 0);
	make_frags(f, 4, 1800, 0);
	cr_assert_eq(nrv_reasm_add(&r, &p2, &f->m[0], 30 * MS, &d), 0);
	make_frags(f, 5, 1800, 0);
	cr_assert_eq(nrv_reasm_add(&r, &p3, &f->m[0], 30 * MS, &d), -EBUSY, "table bound");
	cr_assert_eq(r.st.full, 1);

	cr_assert_eq(nrv_reasm_expire(&r, 99 * MS), 0);
	cr_assert_eq(nrv_reasm_expire(&r, 100 * MS), 1, "the first partial is 100 ms old");
	cr_assert_eq(nrv_reasm_expire(&r, 105 * MS), 0);
	cr_assert_eq(nrv_reasm_expire(&r, 130 * MS), 3);
	cr_assert_eq(r.n_used, 0);
	cr_assert_eq(r.st.timeouts, 4);
	cr_assert_eq(r.next_deadline_ns, UINT64_MAX);
	/* A late fragment of an expired partial opens a new one. */
	cr_assert_eq(nrv_reasm_add(&r, &p3, &f->m[1], 200 * MS, &d), 0);
	cr_assert_eq(r.st.started, 5);

	/* Bodies over this table's bounds, though the decoder's were looser. */
	struct nrv_reasm small;
	struct nrv_reasm_cfg cfg = {.max_request_bytes = 1000, .max_frags = 2};
	cr_assert_eq(nrv_reasm_init(&small, &cfg), 0);
	cr_assert_eq(nrv_reasm_add(&small, &p1, &f->m[0], 0, &d), -E2BIG);
	nrv_reasm_fini(&small);

	struct nrv_proto_msg notreq = f->m[0];
	notreq.h.type = NRV_PROTO_CANCEL;
	cr_assert_eq(nrv_reasm_add(&r, &p1, &notreq, 0, &d), -EINVAL);
	struct nrv_reasm_cfg badcfg = {.max_frags = 5000};
	cr_assert_eq(nrv_reasm_init(&small, &badcfg), -EINVAL);
	free(f);
	nrv_reasm_fini(&r);
	nrv_reasm_fini(NULL);
}

Test(reasm, completed_slot_is_held_until_released)
{
	struct nrv_reasm r;
	reasm_small(&r);
	struct frags *f = calloc(1, sizeof(*f));
	make_frags(f, 7, 1000, 0);
	struct nrv_proto_peer p = peer_n(1);
	struct nrv_reasm_done d;
	for (uint32_t i = 0; i < f->count; i++)
		nrv_reasm_add(&r, &p, &f->m[i], 0, &d);
	cr_assert_geq(d.slot, 0);
	cr_assert_eq(nrv_reasm_expire(&r, 10000 * MS), 0, "a complete body never expires");
	cr_assert_eq(r.n_used, 1);
	/* A retry of the same id while the body is held starts a new partial
	 * (the server finds the id in its request table first). */
	struct nrv_reasm_done d2;
	cr_assert_eq(nrv_reasm_add(&r, &p, &f->m[0], 0, &d2), 0);
	nrv_reasm_release(&r, d.slot);
	nrv_reasm_release(&r, d.slot);   /* twice: ignored */
	nrv_reasm_release(&r, -1);
	cr_assert_eq(r.n_used, 1);
	free(f);
	nrv_reasm_fini(&r);
}

/* ---- request table and retransmit window ---- */

static void rtx_small(struct nrv_rtx *t, uint32_t window, size_t ring)
{
	struct nrv_rtx_cfg cfg = {.max_requests = 16, .window = window, .ring_bytes = ring,
				  .max_dgram = 512, .linger_ms = 1000, .hash_seed = 42};
	cr_assert_eq(nrv_rtx_init(t, &cfg), 0);
}

/* A datagram for seq whose bytes say which it is. */
static size_t dgram_for(uint8_t *buf, uint64_t id, uint32_t seq, size_t len)
{
	memset(buf, 0, len);
	memcpy(buf, &id, 8);
	memcpy(buf + 8, &seq, 4);
	buf[len - 1] = (uint8_t)seq;
	return len;
}

Test(rtx, admit_duplicate_and_conflict)
{
	struct nrv_rtx t;
	rtx_small(&t, 8, 8 * 512);
	struct nrv_proto_peer a = peer_n(1), b = peer_n(2);
	uint32_t h, h2;
	cr_assert_eq(nrv_rtx_admit(&t, &a, 100, 0xabc, 0, &h), NRV_RTX_NEW);
	cr_assert_eq(nrv_rtx_admit(&t, &a, 100, 0xabc, 0, &h2), NRV_RTX_DUP, "not run twice");
	cr_assert_eq(h2, h);
	cr_assert_eq(nrv_rtx_admit(&t, &a, 100, 0xdef, 0, &h2), -EEXIST, "same id, other body");
	cr_assert_eq(nrv_rtx_admit(&t, &b, 100, 0xdef, 0, &h2), NRV_RTX_NEW, "other client");
	cr_assert_neq(h2, h);
	cr_assert_eq(nrv_rtx_find(&t, &a, 100), h);
	cr_assert_eq(nrv_rtx_find(&t, &a, 101), -ENOENT);
	cr_assert_eq(t.st.admitted, 2);
	cr_assert_eq(t.st.dups, 1);
	cr_assert_eq(t.st.conflicts, 1);
	/* Dropped before it ran: a retry runs. */
	nrv_rtx_drop(&t, h);
	cr_assert_eq(nrv_rtx_find(&t, &a, 100), -ENOENT);
	cr_assert_eq(nrv_rtx_admit(&t, &a, 100, 0xabc, 0, &h), NRV_RTX_NEW);
	nrv_rtx_fini(&t);
	nrv_rtx_fini(NULL);
}

Test(rtx, window_keeps_the_last_datagrams)
{
	struct nrv_rtx t;
	rtx_small(&t, 8, 64 * 512);
	struct nrv_proto_peer a = peer_n(1);
	uint32_t h;
	cr_assert_eq(nrv_rtx_admit(&t, &a, 5, 1, 0, &h), NRV_RTX_NEW);
	uint8_t buf[512];
	const uint8_t *p;
	size_t len;
	cr_assert_eq(nrv_rtx_get(&t, h, 0, &p, &len), -EAGAIN, "nothing sent yet");
	for (uint32_t s = 0; s < 20; s++) {
		size_t n = dgram_for(buf, 5, s, 40 + s);
		cr_assert_eq(nrv_rtx_record(&t, h, s, buf, n), 0);
	}
	cr_assert_eq(nrv_rtx_record(&t, h, 25, buf, 40), -EINVAL, "seq must be the next one");
	cr_assert_eq(nrv_rtx_record(&t, h, 20, buf, 513), -EINVAL, "over max_dgram");
	for (uint32_t s = 0; s < 12; s++)
		cr_assert_eq(nrv_rtx_get(&t, h, s, &p, &len), -ESTALE, "seq %u left the window", s);
	for (uint32_t s = 12; s < 20; s++) {
		cr_assert_eq(nrv_rtx_get(&t, h, s, &p, &len), 0, "seq %u", s);
		cr_assert_eq(len, 40 + s);
		uint32_t got;
		memcpy(&got, p + 8, 4);
		cr_assert_eq(got, s);
		cr_assert_eq(p[len - 1], (uint8_t)s);
	}
	cr_assert_eq(nrv_rtx_get(&t, h, 20, &p, &len), -EAGAIN);
	cr_assert_eq(t.st.gone, 12);
	cr_assert_eq(t.st.resent, 8);
	/* The resend quota: 4 x 20 sent + 8 (window), 8 of it used above. */
	int ok = 0;
	while (nrv_rtx_get(&t, h, 19, &p, &len) == 0)
		ok++;
	cr_assert_eq(ok, 4 * 20 + 8 - 8);
	cr_assert_eq(nrv_rtx_get(&t, h, 19, &p, &len), -EDQUOT);
	cr_assert_eq(t.st.over_quota, 2);
	nrv_rtx_fini(&t);
}

Test(rtx, ring_overwrite_makes_datagrams_gone)
{
	/* Two requests share a ring of 4 x 512 bytes; windows of 4. */
	struct nrv_rtx t;
	rtx_small(&t, 4, 4 * 512);
	struct nrv_proto_peer a = peer_n(1);
	uint32_t h1, h2;
	cr_assert_eq(nrv_rtx_admit(&t, &a, 1, 1, 0, &h1), NRV_RTX_NEW);
	cr_assert_eq(nrv_rtx_admit(&t, &a, 2, 2, 0, &h2), NRV_RTX_NEW);
	uint8_t buf[512];
	const uint8_t *p;
	size_t len;
	cr_assert_eq(nrv_rtx_record(&t, h1, 0, buf, dgram_for(buf, 1, 0, 500)), 0);
	cr_assert_eq(nrv_rtx_record(&t, h1, 1, buf, dgram_for(buf, 1, 1, 500)), 0);
	for (uint32_t s = 0; s < 3; s++)
		cr_assert_eq(nrv_rtx_record(&t, h2, s, buf, dgram_for(buf, 2, s, 500)), 0);
	/* The ring took 5 x 500 bytes in 2048: request 1's first datagram
	 * is overwritten, its second one is not yet. */
	cr_assert_eq(nrv_rtx_get(&t, h1, 0, &p, &len), -ESTALE);
	cr_assert_eq(nrv_rtx_get(&t, h1, 1, &p, &len), 0);
	uint32_t got;
	memcpy(&got, p + 8, 4);
	cr_assert_eq(got, 1);
	for (uint32_t s = 0; s < 3; s++) {
		cr_assert_eq(nrv_rtx_get(&t, h2, s, &p, &len), 0);
		memcpy(&got, p + 8, 4);
		cr_assert_eq(got, s);
		uint64_t id;
		memcpy(&id, p, 8);
		cr_assert_eq(id, 2);
	}
	cr_assert_eq(nrv_rtx_record(&t, h2, 3, buf, dgram_for(buf, 2, 3, 500)), 0);
	cr_assert_eq(nrv_rtx_get(&t, h1, 1, &p, &len), -ESTALE);
	nrv_rtx_fini(&t);
}

Test(rtx, linger_expiry_and_early_eviction)
{
	struct nrv_rtx t;
	rtx_small(&t, 4, 4 * 512);   /* 16 entries, linger 1000 ms */
	struct nrv_proto_peer a = peer_n(1);
	uint32_t h[16], x;
	for (uint32_t i = 0; i < 16; i++)
		cr_assert_eq(nrv_rtx_admit(&t, &a, 1000 + i, i, 0, &h[i]), NRV_RTX_NEW);
	cr_assert_eq(nrv_rtx_admit(&t, &a, 2000, 0, 0, &x), -ENOSPC, "all LIVE: overloaded");
	cr_assert_eq(t.st.full, 1);
	/* Finish 0..5 at 10 ms apart. */
	for (uint32_t i = 0; i < 6; i++)
		nrv_rtx_finish(&t, h[i], i * 10 * MS);
	nrv_rtx_finish(&t, h[0], 500 * MS);  /* twice: ignored */
	/* A DONE entry still answers DUP, and is not run again. */
	cr_assert_eq(nrv_rtx_admit(&t, &a, 1003, 3, 100 * MS, &x), NRV_RTX_DUP);
	cr_assert_eq(nrv_rtx_entry(&t, x)->state, NRV_RTX_DONE);
	/* Full: the oldest DONE entry (1000) is evicted for a new one. */
	cr_assert_eq(nrv_rtx_admit(&t, &a, 2000, 0, 100 * MS, &x), NRV_RTX_NEW);
	cr_assert_eq(t.st.evicted_early, 1);
	cr_assert_eq(nrv_rtx_find(&t, &a, 1000), -ENOENT);
	cr_assert_geq(nrv_rtx_find(&t, &a, 1001), 0);
	/* Linger: entries finished at 10, 20 ms are gone at 1020 ms. */
	cr_assert_eq(nrv_rtx_expire(&t, 1009 * MS), 0);
	cr_assert_eq(nrv_rtx_expire(&t, 1020 * MS), 2);
	cr_assert_eq(nrv_rtx_find(&t, &a, 1002), -ENOENT);
	cr_assert_geq(nrv_rtx_find(&t, &a, 1003), 0);
	cr_assert_eq(nrv_rtx_expire(&t, 5000 * MS), 3);
	cr_assert_eq(t.st.expired, 5);
	/* A forgotten id runs again: the documented limit of dedup. */
	cr_assert_eq(nrv_rtx_admit(&t, &a, 1003, 3, 5000 * MS, &x), NRV_RTX_NEW);
	/* LIVE entries never expire. */
	cr_assert_geq(nrv_rtx_find(&t, &a, 1010), 0);
	nrv_rtx_fini(&t);
}

Test(rtx, many_keys_in_one_bucket_chain)
{
	/* 1024 entries over many peers and ids; every one found, and dropping
	 * from the middle of chains keeps the others reachable. */
	struct nrv_rtx t;
	struct nrv_rtx_cfg cfg = {.max_requests = 1024, .window = 1, .ring_bytes = 4096,
				  .max_dgram = 512, .hash_seed = 7};
	cr_assert_eq(nrv_rtx_init(&t, &cfg), 0);
	uint32_t h[1024];
	for (uint32_t i = 0; i < 1024; i++) {
		struct nrv_proto_peer p = peer_n(i % 7);
		cr_assert_eq(nrv_rtx_admit(&t, &p, i / 7 + 1, i, 0, &h[i]), NRV_RTX_NEW);
	}
	for (uint32_t i = 0; i < 1024; i += 3)
		nrv_rtx_drop(&t, h[i]);
	for (uint32_t i = 0; i < 1024; i++) {
		struct nrv_proto_peer p = peer_n(i % 7);
		long f = nrv_rtx_find(&t, &p, i / 7 + 1);
		if (i % 3 == 0)
			cr_assert_eq(f, -ENOENT);
		else
			cr_assert_eq(f, h[i]);
	}
	nrv_rtx_fini(&t);
	struct nrv_rtx_cfg bad = {.window = 2000};
	cr_assert_eq(nrv_rtx_init(&t, &bad), -EINVAL);
	struct nrv_rtx_cfg small_ring = {.window = 64, .ring_bytes = 1000};
	cr_assert_eq(nrv_rtx_init(&t, &small_ring), -EINVAL, "ring smaller than one window");
}

/* Random fragments of a few requests from a few peers, some with lying
 * lengths, in random order with duplicates and a moving clock: the table
 * never exceeds its bounds, and every body it completes is the one sent. */
Test(reasm, random_fragment_soup, .timeout = 60)
{
	struct nrv_reasm r;
	reasm_small(&r);
	struct frags *f = calloc(6, sizeof(*f));
	for (int k = 0; k < 6; k++)
		make_frags(&f[k], 100 + (uint64_t)k, 600 + 500 * (size_t)k, (uint8_t)k);
	uint64_t s = 88172645463325252ull, t = 0;
	int completed = 0;
	for (int it = 0; it < 50000; it++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		int k = (int)(s % 6);
		struct frags *g = &f[k];
		uint32_t i = (uint32_t)((s >> 8) % g->count);
		struct nrv_proto_msg m = g->m[i];
		if ((s >> 20) % 50 == 0)
			m.h.payload_len = (uint16_t)(1 + (s >> 30) % m.h.payload_len);  /* a lie */
		struct nrv_proto_peer p = peer_n((uint32_t)((s >> 40) % 3));
		t += (s >> 44) % 3 * MS;
		struct nrv_reasm_done d;
		int rc = nrv_reasm_add(&r, &p, &m, t, &d);
		cr_assert(rc == 0 || rc == 1 || rc == -EALREADY || rc == -EPROTO || rc == -EBUSY,
			  "rc %d", rc);
		cr_assert_leq(r.n_used, r.cfg.max_partial);
		if (rc == 1) {
			cr_assert_eq(d.len, g->total);
			cr_assert_eq(memcmp(d.body, g->body, g->total), 0);
			nrv_reasm_release(&r, d.slot);
			completed++;
		}
		nrv_reasm_expire(&r, t);
	}
	cr_assert_gt(completed, 100);
	cr_assert_gt(r.st.timeouts, 0);
	cr_assert_gt(r.st.conflicts, 0);
	free(f);
	nrv_reasm_fini(&r);
}
