/*
 * mem/kv.h - the paged KV block manager: which blocks of the KV pool hold
 * which sequence's positions.
 *
 * The pool (the memory itself, owned by the model runner) is kv_blocks
 * blocks of block_tokens positions. This module only hands out block ids.
 * Every block is in one of three states:
 *   referenced  held by at least one live sequence (refcount >= 1);
 *   cached      refcount 0 but its contents kept for reuse (a later
 *               prefix cache looks blocks up by content); evictable at
 *               once: allocation takes the least recently cached one when
 *               no block is free;
 *   free        on the free list.
 * Reference counts let several sequences share a block (a common prompt
 * prefix); a block returns to cached or free when its last holder drops it.
 *
 * A sequence's block table (struct nrv_kv_seq) is sized once, when the
 * sequence is set up; growing it afterwards allocates nothing. No call
 * here mallocs except nrv_kv_create and nrv_kv_seq_init.
 *
 * Not thread-safe: one owner (the engine's scheduler thread).
 */
#ifndef NRV_MEM_KV_H
#define NRV_MEM_KV_H

#include <stdbool.h>
#include <stdint.h>

struct nrv_kv;

enum nrv_kv_state { NRV_KV_FREE = 0, NRV_KV_CACHED, NRV_KV_REFERENCED };

struct nrv_kv_counts {
	int total;
	int referenced;
	int cached;
	int free;
};

/* n_blocks >= 1 blocks of block_tokens >= 1 positions, all free.
 * Returns 0, -EINVAL or -ENOMEM. */
int nrv_kv_create(int n_blocks, int block_tokens, struct nrv_kv **out);
/* Accepts NULL. */
void nrv_kv_destroy(struct nrv_kv *kv);

int nrv_kv_block_tokens(const struct nrv_kv *kv);
/* Blocks an allocation can get right now: free + cached. */
int nrv_kv_available(const struct nrv_kv *kv);
void nrv_kv_counts(const struct nrv_kv *kv, struct nrv_kv_counts *out);
/* State and reference count of block b (-EINVAL for a bad id). */
int nrv_kv_state(const struct nrv_kv *kv, int32_t b);
int nrv_kv_refcount(const struct nrv_kv *kv, int32_t b);

/* One block with refcount 1: a free one, else the oldest cached one
 * (its contents are forgotten). Returns the id, or -ENOSPC. */
int32_t nrv_kv_alloc(struct nrv_kv *kv);
/* One more holder of a referenced or cached block (a cached one becomes
 * referenced again). Returns 0, or -EINVAL for a bad or free block. */
int nrv_kv_ref(struct nrv_kv *kv, int32_t b);
/* Drop one holder; at zero the block becomes cached (keep) or free.
 * Returns 0, or -EINVAL for a bad id or a block nobody holds. */
int nrv_kv_unref(struct nrv_kv *kv, int32_t b, bool keep);

/* A sequence's block table: position p lives in blocks[p / block_tokens]. */
struct nrv_kv_seq {
	int32_t *blocks;   /* (cap) block ids, the first n_blocks valid; owned */
	int n_blocks;
	int cap;
};

/* Size a table for sequences of up to max_positions (mallocs once).
 * Returns 0, -EINVAL or -ENOMEM. */
int nrv_kv_seq_init(const struct nrv_kv *kv, struct nrv_kv_seq *s, int max_positions);
/* Free the table (its blocks must have been released). Accepts a zeroed one. */
void nrv_kv_seq_fini(struct nrv_kv_seq *s);
/* Blocks more that positions [0, n_positions) need beyond what s holds. */
int nrv_kv_seq_need(const struct nrv_kv *kv, const struct nrv_kv_seq *s, int n_positions);
/* Grow s to cover positions [0, n_positions): all the blocks or none.
 * Returns 0, -ENOSPC (not enough blocks; s unchanged) or -E2BIG (past
 * the table's capacity). Allocates no memory. */
int nrv_kv_seq_reserve(struct nrv_kv *kv, struct nrv_kv_seq *s, int n_positions);
/* Drop every block of s (cached when keep, else free); s becomes empty. */
void nrv_kv_seq_release(struct nrv_kv *kv, struct nrv_kv_seq *s, bool keep);

#endif
