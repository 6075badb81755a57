/*
 * net/rtx.c - the server's request table and retransmit window. See rtx.h.
 *
 * Entries live in an array; a chained hash (bucket heads plus a `chain`
 * index per entry) finds them by key; a free stack hands out entries; a
 * FIFO holds DONE entries in finishing order, which, with one linger time
 * for all, is also their expiry order, so expiring and evicting the oldest
 * are both O(1) per entry.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rtx.h"

#define NONE UINT32_MAX

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v;
	h *= 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

static uint32_t bucket_of(const struct nrv_rtx *t, const struct nrv_proto_peer *p, uint64_t id)
{
	uint64_t a, b, h = t->cfg.hash_seed;
	memcpy(&a, p->addr, 8);
	memcpy(&b, p->addr + 8, 8);
	h = mix(h, a);
	h = mix(h, b);
	h = mix(h, (uint64_t)p->family << 16 | p->port);
	h = mix(h, id);
	return (uint32_t)(h ^ (h >> 32)) & (t->n_bucket - 1);
}

int nrv_rtx_init(struct nrv_rtx *t, const struct nrv_rtx_cfg *cfg)
{
	memset(t, 0, sizeof(*t));
	struct nrv_rtx_cfg c = cfg ? *cfg : (struct nrv_rtx_cfg){0};
	if (!c.max_requests)
		c.max_requests = 4096;
	if (!c.window)
		c.window = 64;
	if (!c.max_dgram)
		c.max_dgram = NRV_PROTO_MAX_PAYLOAD;
	if (!c.ring_bytes)
		c.ring_bytes = 8u << 20;
	if (!c.linger_ms)
		c.linger_ms = 10000;
	if (c.max_requests < 16 || c.max_requests > (1u << 20) || c.window > 1024 ||
	    c.max_dgram < NRV_PROTO_HDR || c.max_dgram > NRV_PROTO_MAX_PAYLOAD_JUMBO ||
	    c.ring_bytes < (size_t)c.window * c.max_dgram || c.linger_ms > 600000)
		return -EINVAL;
	uint32_t nb = 1;
	while (nb < c.max_requests)
		nb <<= 1;
	size_t n = c.max_requests;
	t->e = calloc(n, sizeof(*t->e));
	t->slot_off = calloc(n * c.window, sizeof(uint64_t));
	t->slot_len = calloc(n * c.window, sizeof(uint16_t));
	t->bucket = malloc(nb * sizeof(uint32_t));
	t->free_list = malloc(n * sizeof(uint32_t));
	t->done_fifo = malloc(n * sizeof(uint32_t));
	t->ring = malloc(c.ring_bytes);
	if (!t->e || !t->slot_off || !t->slot_len || !t->bucket || !t->free_list ||
	    !t->done_fifo || !t->ring) {
		nrv_rtx_fini(t);
		return -ENOMEM;
	}
	t->cfg = c;
	t->n_bucket = nb;
	for (uint32_t i = 0; i < nb; i++)
		t->bucket[i] = NONE;
	/* Hand out low indices first (the stack pops from the end). */
	for (uint32_t i = 0; i < c.max_requests; i++)
		t->free_list[i] = c.max_requests - 1 - i;
	t->n_free = c.max_requests;
	return 0;
}

void nrv_rtx_fini(struct nrv_rtx *t)
{
	if (!t)
		return;
	free(t->e);
	free(t->slot_off);
	free(t->slot_len);
	free(t->bucket);
	free(t->free_list);
	free(t->done_fifo);
	free(t->ring);
	memset(t, 0, sizeof(*t));
}

long nrv_rtx_find(const struct nrv_rtx *t, const struct nrv_proto_peer *peer, uint64_t id)
{
	for (uint32_t i = t->bucket[bucket_of(t, peer, id)]; i != NONE; i = t->e[i].chain)
		if (t->e[i].id == id && !memcmp(&t->e[i].peer, peer, sizeof(*peer)))
			return i;
	return -ENOENT;
}

const struct nrv_rtx_entry *nrv_rtx_entry(const struct nrv_rtx *t, uint32_t h)
{
	return &t->e[h];
}

static void unlink_entry(struct nrv_rtx *t, uint32_t h)
{
	struct nrv_rtx_entry *e = &t->e[h];
	uint32_t *pp = &t->bucket[bucket_of(t, &e->peer, e->id)];
	while (*pp != h)
		pp = &t->e[*pp].chain;
	*pp = e->chain;
	e->state = NRV_RTX_FREE;
	t->free_list[t->n_free++] = h;
}

/* Forget the oldest DONE entry. */
static void pop_done(struct nrv_rtx *t)
{
	uint32_t h = t->done_fifo[t->fifo_head];
	t->fifo_head = (t->fifo_head + 1) % t->cfg.max_requests;
	t->fifo_len--;
	unlink_entry(t, h);
}

int nrv_rtx_admit(struct nrv_rtx *t, const struct nrv_proto_peer *peer, uint64_t id,
		  uint32_t body_crc, uint64_t now_ns, uint32_t *h)
{
	long f = nrv_rtx_find(t, peer, id);
	if (f >= 0) {
		if (t->e[f].body_crc != body_crc) {
			t->st.conflicts++;
			return -EEXIST;
		}
		t->st.dups++;
		*h = (uint32_t)f;
		return NRV_RTX_DUP;
	}
	if (t->n_free == 0) {
		if (t->fifo_len == 0) {
			t->st.full++;
			return -ENOSPC;
		}
		pop_done(t);
		t->st.evicted_early++;
	}
	uint32_t i = t->free_list[--t->n_free];
	struct nrv_rtx_entry *e = &t->e[i];
	e->peer = *peer;
	e->id = id;
	e->body_crc = body_crc;
	e->state = NRV_RTX_LIVE;
	e->next_seq = 0;
	e->done_ns = 0;
	e->resends = 0;
	uint32_t b = bucket_of(t, peer, id);
	e->chain = t->bucket[b];
	t->bucket[b] = i;
	t->st.admitted++;
	*h = i;
	return NRV_RTX_NEW;
}

int nrv_rtx_record(struct nrv_rtx *t, uint32_t h, uint32_t seq, const uint8_t *dgram,
		   size_t len)
{
	struct nrv_rtx_entry *e = &t->e[h];
	if (e->state != NRV_RTX_LIVE || seq != e->next_seq || len > t->cfg.max_dgram ||
	    e->next_seq == UINT32_MAX)
		return -EINVAL;
	size_t rb = t->cfg.ring_bytes;
	uint64_t pos = t->ring_head;
	/* A datagram never wraps: skip to the ring's start when it would. */
	if (pos % rb + len > rb)
		pos += rb - pos % rb;
	memcpy(t->ring + pos % rb, dgram, len);
	t->ring_head = pos + len;
	size_t k = (size_t)h * t->cfg.window + seq % t->cfg.window;
	t->slot_off[k] = pos;
	t->slot_len[k] = (uint16_t)len;
	e->next_seq++;
	t->st.recorded++;
	return 0;
}

int nrv_rtx_get(struct nrv_rtx *t, uint32_t h, uint32_t seq, const uint8_t **dgram,
		size_t *len)
{
	const struct nrv_rtx_entry *e = &t->e[h];
	if (e->state == NRV_RTX_FREE)
		return -ESTALE;
	if (seq >= e->next_seq)
		return -EAGAIN;
	size_t k = (size_t)h * t->cfg.window + seq % t->cfg.window;
	if (e->next_seq - seq > t->cfg.window || t->slot_off[k] + t->cfg.ring_bytes < t->ring_head) {
		t->st.gone++;
		return -ESTALE;
	}
	if (e->resends >= 4ull * e->next_seq + t->cfg.window) {
		t->st.over_quota++;
		return -EDQUOT;
	}
	t->e[h].resends++;
	*dgram = t->ring + t->slot_off[k] % t->cfg.ring_bytes;
	*len = t->slot_len[k];
	t->st.resent++;
	return 0;
}

void nrv_rtx_finish(struct nrv_rtx *t, uint32_t h, uint64_t now_ns)
{
	struct nrv_rtx_entry *e = &t->e[h];
	if (e->state != NRV_RTX_LIVE)
		return;
	e->state = NRV_RTX_DONE;
	e->done_ns = now_ns;
	/* The FIFO has room: it holds DONE entries only, fewer than all. */
	t->done_fifo[(t->fifo_head + t->fifo_len) % t->cfg.max_requests] = h;
	t->fifo_len++;
}

void nrv_rtx_drop(struct nrv_rtx *t, uint32_t h)
{
	if (t->e[h].state == NRV_RTX_LIVE)
		unlink_entry(t, h);
}

int nrv_rtx_expire(struct nrv_rtx *t, uint64_t now_ns)
{
	uint64_t linger = (uint64_t)t->cfg.linger_ms * 1000000u;
	int n = 0;
	while (t->fifo_len) {
		const struct nrv_rtx_entry *e = &t->e[t->done_fifo[t->fifo_head]];
		if (now_ns - e->done_ns < linger)
			break;
		pop_done(t);
		t->st.expired++;
		n++;
	}
	return n;
}
