/*
 * net/rtx.h - the server's request table: duplicate-request detection and
 * the per-request retransmit window (docs/protocol.md section 5).
 *
 * One entry per request, keyed by (client address, request id): LIVE while
 * the request runs, DONE for linger_ms after its last datagram, then
 * forgotten. A REQUEST for a key in the table is not run again. Every
 * datagram sent for a request is copied into one shared byte ring; an
 * entry remembers where its last `window` datagrams are, and a datagram
 * can be resent while it is among those and the ring has not wrapped over
 * it. When the table is full, the oldest DONE entry is evicted early; when
 * every entry is LIVE, admission fails (answer OVERLOADED).
 *
 * Everything is allocated by nrv_rtx_init; no call after it allocates.
 * Time is passed in. Single-threaded: one table per sending thread.
 * Owns: the ring, the entries. Does not own: sockets, requests' state.
 */
#ifndef NRV_NET_RTX_H
#define NRV_NET_RTX_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct nrv_rtx_cfg {
	uint32_t max_requests;     /* entries, LIVE + DONE; 0: 4096; 16 .. 1048576 */
	uint32_t window;           /* datagrams kept per request; 0: 64; <= 1024 */
	size_t ring_bytes;         /* shared datagram ring; 0: 8 MiB; >= window * max_dgram */
	uint32_t max_dgram;        /* largest datagram recorded; 0: 1472 */
	uint32_t linger_ms;        /* DONE entries kept this long; 0: 10000 */
	uint64_t hash_seed;        /* random per process, so keys cannot be chosen to collide */
};

struct nrv_rtx_stats {
	uint64_t admitted;         /* new requests */
	uint64_t dups;             /* REQUEST for a known key with the same body */
	uint64_t conflicts;        /* known key, different body (DUPLICATE_ID) */
	uint64_t full;             /* admission refused: every entry LIVE */
	uint64_t evicted_early;    /* DONE entries evicted before linger_ms for room */
	uint64_t expired;          /* DONE entries forgotten after linger_ms */
	uint64_t recorded;         /* datagrams copied into the ring */
	uint64_t resent;           /* datagrams handed out by nrv_rtx_get */
	uint64_t gone;             /* nrv_rtx_get asked for a datagram out of the window */
	uint64_t over_quota;       /* resends refused: the request's resend quota is spent */
};

enum nrv_rtx_state { NRV_RTX_FREE = 0, NRV_RTX_LIVE = 1, NRV_RTX_DONE = 2 };

struct nrv_rtx_entry {
	struct nrv_proto_peer peer;
	uint64_t id;
	uint32_t body_crc;         /* CRC32C of the request body: same id, same request? */
	uint8_t state;             /* enum nrv_rtx_state */
	uint32_t next_seq;         /* datagrams recorded so far = the next seq */
	uint64_t done_ns;          /* when nrv_rtx_finish was called */
	uint32_t resends;          /* datagrams handed out by nrv_rtx_get */
	uint32_t chain;            /* next entry in the hash bucket, UINT32_MAX: none */
};

struct nrv_rtx {
	struct nrv_rtx_cfg cfg;      /* defaults filled in */
	struct nrv_rtx_entry *e;     /* (max_requests) */
	uint64_t *slot_off;          /* (max_requests, window) absolute ring offset of each datagram */
	uint16_t *slot_len;          /* (max_requests, window) its length */
	uint32_t *bucket;            /* (n_bucket) first entry of each chain */
	uint32_t n_bucket;           /* power of two >= max_requests */
	uint32_t *free_list;         /* (max_requests) stack of free entries */
	uint32_t n_free;
	uint32_t *done_fifo;         /* (max_requests) DONE entries in finishing order */
	uint32_t fifo_head, fifo_len;
	uint8_t *ring;               /* (ring_bytes) */
	uint64_t ring_head;          /* absolute offset of the next write */
	struct nrv_rtx_stats st;
};

/* Allocate. Returns 0, -EINVAL (bound out of range) or -ENOMEM. */
int nrv_rtx_init(struct nrv_rtx *t, const struct nrv_rtx_cfg *cfg);
/* Free. Accepts a zeroed or finished table. */
void nrv_rtx_fini(struct nrv_rtx *t);

#define NRV_RTX_NEW 0    /* admitted: run it */
#define NRV_RTX_DUP 1    /* known with the same body: do not run; answer ACCEPT, resend */

/*
 * Admit a request whose body has CRC32C body_crc. *h receives the entry's
 * handle for NEW and DUP. Returns NRV_RTX_NEW, NRV_RTX_DUP, -EEXIST (the
 * key is in use with another body: DUPLICATE_ID) or -ENOSPC (every entry
 * is LIVE: OVERLOADED).
 */
int nrv_rtx_admit(struct nrv_rtx *t, const struct nrv_proto_peer *peer, uint64_t id,
		  uint32_t body_crc, uint64_t now_ns, uint32_t *h);
/* The handle of (peer, id), or -ENOENT. */
long nrv_rtx_find(const struct nrv_rtx *t, const struct nrv_proto_peer *peer, uint64_t id);
/* The entry behind a handle. */
const struct nrv_rtx_entry *nrv_rtx_entry(const struct nrv_rtx *t, uint32_t h);

/* Copy the datagram sent as seq (which must be the entry's next_seq) of
 * LIVE entry h into the ring. Returns 0 or -EINVAL (wrong seq, entry not
 * LIVE, len over max_dgram). */
int nrv_rtx_record(struct nrv_rtx *t, uint32_t h, uint32_t seq, const uint8_t *dgram,
		   size_t len);
/* The datagram seq of entry h, for a resend: a view into the ring, valid
 * until the next nrv_rtx_record. Returns 0, -EAGAIN (not sent yet),
 * -ESTALE (out of the window or overwritten: answer GONE) or -EDQUOT (the
 * request had its quota of 4 x next_seq + window resends: ignore the NACK,
 * so that a spoofed NACK stream cannot turn the server into an amplifier). */
int nrv_rtx_get(struct nrv_rtx *t, uint32_t h, uint32_t seq, const uint8_t **dgram,
		size_t *len);
/* The request ended (its FINAL or ERROR recorded): DONE from now_ns. */
void nrv_rtx_finish(struct nrv_rtx *t, uint32_t h, uint64_t now_ns);
/* Forget a LIVE entry at once (it never ran: e.g. the engine's queue was
 * full, so a retry by the same id must be able to run). */
void nrv_rtx_drop(struct nrv_rtx *t, uint32_t h);
/* Forget DONE entries older than linger_ms; returns how many. */
int nrv_rtx_expire(struct nrv_rtx *t, uint64_t now_ns);

#endif
