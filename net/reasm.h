/*
 * net/reasm.h - reassembly of fragmented requests (docs/protocol.md 4.7).
 *
 * A table of at most max_partial partial requests, keyed by (peer, id),
 * each with a max_request_bytes buffer and a bitmap of fragments received,
 * all allocated by nrv_reasm_init: adding fragments never allocates.
 * Fragments may come in any order; duplicates are dropped, fragments that
 * disagree with what the partial already holds are dropped and counted as
 * conflicts, partials older than timeout_ms are dropped by nrv_reasm_expire.
 * Time is passed in (CLOCK_MONOTONIC nanoseconds, or any clock in tests).
 *
 * Single-threaded: one table per receiving thread.
 * Owns: the partial buffers. Does not own: datagrams (fragments are copied
 * out of them), the request table (net/rtx.h).
 */
#ifndef NRV_NET_REASM_H
#define NRV_NET_REASM_H

#include <stdint.h>

#include "proto.h"

struct nrv_reasm_cfg {
	uint32_t max_request_bytes;    /* body bytes; 0: 262144 (as nrv_proto_limits) */
	uint32_t max_frags;            /* 0: 1024; <= 4096 */
	uint32_t max_partial;          /* partial requests at once; 0: 64 */
	uint32_t max_partial_per_peer; /* 0: 4 */
	uint32_t timeout_ms;           /* from the first fragment; 0: 1000 */
};

struct nrv_reasm_stats {
	uint64_t started;      /* partials opened */
	uint64_t completed;    /* bodies completed (single-fragment ones included) */
	uint64_t dup_frags;    /* same fragment again, same bytes */
	uint64_t conflicts;    /* fragment disagreeing with its partial */
	uint64_t timeouts;     /* partials dropped by nrv_reasm_expire */
	uint64_t full;         /* fragments refused: max_partial reached */
	uint64_t peer_full;    /* fragments refused: max_partial_per_peer reached */
};

struct nrv_reasm_slot {
	int used;                     /* 0 free, 1 collecting, 2 complete (until release) */
	struct nrv_proto_peer peer;
	uint64_t id;
	uint32_t total;               /* body bytes */
	uint16_t count;               /* fragments */
	uint16_t got;                 /* fragments received */
	uint32_t frag_len;            /* L: bytes of every fragment but the last */
	uint64_t start_ns;            /* first fragment */
	uint8_t *buf;                 /* (max_request_bytes) */
	uint64_t *bits;               /* (max_frags / 64) received bitmap */
};

struct nrv_reasm {
	struct nrv_reasm_cfg cfg;     /* defaults filled in */
	struct nrv_reasm_slot *slot;  /* (max_partial) */
	uint32_t n_used;
	uint64_t next_deadline_ns;    /* earliest partial's deadline, UINT64_MAX: none */
	struct nrv_reasm_stats st;
	uint8_t *mem;                 /* one allocation for every buffer */
	uint64_t *bitmem;
};

/* A complete body: a view into the datagram (single fragment, zero copy)
 * or into a slot held until nrv_reasm_release(slot). */
struct nrv_reasm_done {
	const uint8_t *body;
	uint32_t len;
	int slot;                     /* -1: points into the datagram */
};

/* Allocate the table. Returns 0, -EINVAL (a bound out of range) or -ENOMEM. */
int nrv_reasm_init(struct nrv_reasm *r, const struct nrv_reasm_cfg *cfg);
/* Free it. Accepts a zeroed or finished table. */
void nrv_reasm_fini(struct nrv_reasm *r);

/*
 * Add a REQUEST datagram m (decoded by nrv_proto_decode with limits no
 * looser than cfg) from peer at time now_ns. Returns
 *   0           stored; the body is not complete yet;
 *   1           the body is complete: *out says where it is;
 *  -EALREADY    a duplicate fragment, dropped;
 *  -EPROTO      a conflicting fragment, dropped;
 *  -EBUSY       no room for another partial (max_partial, or this peer's
 *               max_partial_per_peer): answer OVERLOADED;
 *  -E2BIG       total_len or frag_count over this table's bounds;
 *  -EINVAL      m is not a REQUEST.
 */
int nrv_reasm_add(struct nrv_reasm *r, const struct nrv_proto_peer *peer,
		  const struct nrv_proto_msg *m, uint64_t now_ns, struct nrv_reasm_done *out);
/* Give back the slot of a completed body (slot -1 is ignored). */
void nrv_reasm_release(struct nrv_reasm *r, int slot);
/* Drop partials that are timeout_ms old at now_ns; returns how many.
 * O(1) when none is due. Completed, unreleased slots never expire. */
int nrv_reasm_expire(struct nrv_reasm *r, uint64_t now_ns);

#endif
