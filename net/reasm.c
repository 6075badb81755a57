/*
 * net/reasm.c - reassembly of fragmented requests. See reasm.h.
 *
 * Partials are found by a linear scan: max_partial is tens, the scan
 * touches only each slot's key, and it happens once per fragment of a
 * multi-datagram request, which is rare next to token traffic.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reasm.h"

int nrv_reasm_init(struct nrv_reasm *r, const struct nrv_reasm_cfg *cfg)
{
	memset(r, 0, sizeof(*r));
	struct nrv_reasm_cfg c = cfg ? *cfg : (struct nrv_reasm_cfg){0};
	if (!c.max_request_bytes)
		c.max_request_bytes = 262144;
	if (!c.max_frags)
		c.max_frags = 1024;
	if (!c.max_partial)
		c.max_partial = 64;
	if (!c.max_partial_per_peer)
		c.max_partial_per_peer = 4;
	if (!c.timeout_ms)
		c.timeout_ms = 1000;
	if (c.max_request_bytes > (16u << 20) || c.max_frags > NRV_PROTO_MAX_FRAGS_CAP ||
	    c.max_partial > 4096 || c.max_partial_per_peer > c.max_partial ||
	    c.timeout_ms < 10 || c.timeout_ms > 60000)
		return -EINVAL;
	size_t words = (c.max_frags + 63) / 64;
	r->slot = calloc(c.max_partial, sizeof(*r->slot));
	r->mem = malloc((size_t)c.max_partial * c.max_request_bytes);
	r->bitmem = calloc((size_t)c.max_partial * words, sizeof(uint64_t));
	if (!r->slot || !r->mem || !r->bitmem) {
		nrv_reasm_fini(r);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < c.max_partial; i++) {
		r->slot[i].buf = r->mem + (size_t)i * c.max_request_bytes;
		r->slot[i].bits = r->bitmem + (size_t)i * words;
	}
	r->cfg = c;
	r->next_deadline_ns = UINT64_MAX;
	return 0;
}

void nrv_reasm_fini(struct nrv_reasm *r)
{
	if (!r)
		return;
	free(r->slot);
	free(r->mem);
	free(r->bitmem);
	r->slot = NULL;
	r->mem = NULL;
	r->bitmem = NULL;
}

static void slot_free(struct nrv_reasm *r, struct nrv_reasm_slot *s)
{
	size_t words = (r->cfg.max_frags + 63) / 64;
	memset(s->bits, 0, words * sizeof(uint64_t));
	s->used = 0;
	r->n_used--;
}

/* L for a fragment: its own length, or derived from the last one. 0 when
 * the fragment cannot belong to a body of this total and count. */
static uint32_t frag_len_of(const struct nrv_proto_hdr *h)
{
	uint32_t total = h->total_len, count = h->frag_count, len = h->payload_len;
	if (count == 1)
		return len == total ? len : 0;
	if (h->frag_index + 1u < count) {
		/* (count-1)*L < total <= count*L */
		if ((uint64_t)(count - 1) * len >= total || (uint64_t)count * len < total)
			return 0;
		return len;
	}
	if (len == 0 || len >= total || (total - len) % (count - 1))
		return 0;
	uint32_t l = (total - len) / (count - 1);
	return len <= l ? l : 0;
}

int nrv_reasm_add(struct nrv_reasm *r, const struct nrv_proto_peer *peer,
		  const struct nrv_proto_msg *m, uint64_t now_ns, struct nrv_reasm_done *out)
{
	const struct nrv_proto_hdr *h = &m->h;
	if (h->type != NRV_PROTO_REQUEST || h->frag_count == 0 || h->frag_index >= h->frag_count)
		return -EINVAL;
	if (h->total_len > r->cfg.max_request_bytes || h->frag_count > r->cfg.max_frags)
		return -E2BIG;
	uint32_t l = frag_len_of(h);
	if (l == 0) {
		r->st.conflicts++;
		return -EPROTO;
	}
	if (h->frag_count == 1) {
		/* The common case: the body is the payload, parsed in place. */
		out->body = m->payload;
		out->len = h->payload_len;
		out->slot = -1;
		r->st.completed++;
		return 1;
	}

	struct nrv_reasm_slot *s = NULL, *free_slot = NULL;
	uint32_t same_peer = 0;
	for (uint32_t i = 0; i < r->cfg.max_partial; i++) {
		struct nrv_reasm_slot *t = &r->slot[i];
		if (!t->used) {
			if (!free_slot)
				free_slot = t;
			continue;
		}
		if (memcmp(&t->peer, peer, sizeof(*peer)))
			continue;
		same_peer++;
		if (t->id == h->id && t->used == 1) {
			s = t;
			break;
		}
	}
	if (!s) {
		if (!free_slot) {
			r->st.full++;
			return -EBUSY;
		}
		if (same_peer >= r->cfg.max_partial_per_peer) {
			r->st.peer_full++;
			return -EBUSY;
		}
		s = free_slot;
		s->used = 1;
		s->peer = *peer;
		s->id = h->id;
		s->total = h->total_len;
		s->count = h->frag_count;
		s->got = 0;
		s->frag_len = l;
		s->start_ns = now_ns;
		r->n_used++;
		r->st.started++;
		uint64_t dl = now_ns + (uint64_t)r->cfg.timeout_ms * 1000000u;
		if (dl < r->next_deadline_ns)
			r->next_deadline_ns = dl;
	} else if (s->total != h->total_len || s->count != h->frag_count || s->frag_len != l) {
		r->st.conflicts++;
		return -EPROTO;
	}

	size_t off = (size_t)h->frag_index * s->frag_len;
	uint64_t bit = 1ull << (h->frag_index % 64);
	uint64_t *w = &s->bits[h->frag_index / 64];
	if (*w & bit) {
		if (memcmp(s->buf + off, m->payload, h->payload_len)) {
			r->st.conflicts++;
			return -EPROTO;
		}
		r->st.dup_frags++;
		return -EALREADY;
	}
	memcpy(s->buf + off, m->payload, h->payload_len);
	*w |= bit;
	if (++s->got < s->count)
		return 0;
	s->used = 2;
	out->body = s->buf;
	out->len = s->total;
	out->slot = (int)(s - r->slot);
	r->st.completed++;
	return 1;
}

void nrv_reasm_release(struct nrv_reasm *r, int slot)
{
	if (slot < 0 || (uint32_t)slot >= r->cfg.max_partial || r->slot[slot].used != 2)
		return;
	slot_free(r, &r->slot[slot]);
}

int nrv_reasm_expire(struct nrv_reasm *r, uint64_t now_ns)
{
	if (now_ns < r->next_deadline_ns)
		return 0;
	uint64_t tmo = (uint64_t)r->cfg.timeout_ms * 1000000u, next = UINT64_MAX;
	int n = 0;
	for (uint32_t i = 0; i < r->cfg.max_partial; i++) {
		struct nrv_reasm_slot *s = &r->slot[i];
		if (s->used != 1)
			continue;
		if (now_ns - s->start_ns >= tmo) {
			slot_free(r, s);
			r->st.timeouts++;
			n++;
		} else if (s->start_ns + tmo < next) {
			next = s->start_ns + tmo;
		}
	}
	r->next_deadline_ns = next;
	return n;
}
