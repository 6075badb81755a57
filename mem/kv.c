/*
 * mem/kv.c - the paged KV block manager (see kv.h).
 *
 * Free blocks form a stack (the most recently freed block is reused first:
 * its memory is warmest). Cached blocks form a doubly linked list in the
 * order they were cached; eviction takes the head, a re-reference unlinks
 * from the middle: every operation is O(1).
 */
#include "mem/kv.h"

#include <errno.h>
#include <stdlib.h>

struct nrv_kv {
	int n_blocks;
	int block_tokens;
	int32_t *ref;       /* (n_blocks) reference counts */
	uint8_t *state;     /* (n_blocks) enum nrv_kv_state */
	int32_t *free_stk;  /* (n_blocks) free block ids; n_free on it */
	int n_free;
	int32_t *prev, *next; /* (n_blocks) cached list links, -1 ends */
	int32_t lru_head, lru_tail;
	int n_cached;
	int n_ref;          /* blocks referenced */
};

int nrv_kv_create(int n_blocks, int block_tokens, struct nrv_kv **out)
{
	*out = NULL;
	if (n_blocks < 1 || block_tokens < 1)
		return -EINVAL;
	struct nrv_kv *kv = calloc(1, sizeof(*kv));
	if (!kv)
		return -ENOMEM;
	kv->n_blocks = n_blocks;
	kv->block_tokens = block_tokens;
	kv->ref = calloc((size_t)n_blocks, sizeof(int32_t));
	kv->state = calloc((size_t)n_blocks, 1);
	kv->free_stk = malloc((size_t)n_blocks * sizeof(int32_t));
	kv->prev = malloc((size_t)n_blocks * sizeof(int32_t));
	kv->next = malloc((size_t)n_blocks * sizeof(int32_t));
	if (!kv->ref || !kv->state || !kv->free_stk || !kv->prev || !kv->next) {
		nrv_kv_destroy(kv);
		return -ENOMEM;
	}
	/* Lowest ids on top, so a fresh pool hands out 0, 1, 2... */
	for (int i = 0; i < n_blocks; i++) {
		kv->free_stk[i] = n_blocks - 1 - i;
		kv->prev[i] = kv->next[i] = -1;
	}
	kv->n_free = n_blocks;
	kv->lru_head = kv->lru_tail = -1;
	*out = kv;
	return 0;
}

void nrv_kv_destroy(struct nrv_kv *kv)
{
	if (!kv)
		return;
	free(kv->ref);
	free(kv->state);
	free(kv->free_stk);
	free(kv->prev);
	free(kv->next);
	free(kv);
}

int nrv_kv_block_tokens(const struct nrv_kv *kv)
{
	return kv->block_tokens;
}

int nrv_kv_available(const struct nrv_kv *kv)
{
	return kv->n_free + kv->n_cached;
}

void nrv_kv_counts(const struct nrv_kv *kv, struct nrv_kv_counts *out)
{
	out->total = kv->n_blocks;
	out->referenced = kv->n_ref;
	out->cached = kv->n_cached;
	out->free = kv->n_free;
}

static bool bad_id(const struct nrv_kv *kv, int32_t b)
{
	return b < 0 || b >= kv->n_blocks;
}

int nrv_kv_state(const struct nrv_kv *kv, int32_t b)
{
	return bad_id(kv, b) ? -EINVAL : kv->state[b];
}

int nrv_kv_refcount(const struct nrv_kv *kv, int32_t b)
{
	return bad_id(kv, b) ? -EINVAL : kv->ref[b];
}

static void lru_unlink(struct nrv_kv *kv, int32_t b)
{
	int32_t p = kv->prev[b], n = kv->next[b];
	if (p >= 0)
		kv->next[p] = n;
	else
		kv->lru_head = n;
	if (n >= 0)
		kv->prev[n] = p;
	else
		kv->lru_tail = p;
	kv->prev[b] = kv->next[b] = -1;
	kv->n_cached--;
}

static void lru_append(struct nrv_kv *kv, int32_t b)
{
	kv->prev[b] = kv->lru_tail;
	kv->next[b] = -1;
	if (kv->lru_tail >= 0)
		kv->next[kv->lru_tail] = b;
	else
		kv->lru_head = b;
	kv->lru_tail = b;
	kv->n_cached++;
}

int32_t nrv_kv_alloc(struct nrv_kv *kv)
{
	int32_t b;
	if (kv->n_free > 0) {
		b = kv->free_stk[--kv->n_free];
	} else if (kv->lru_head >= 0) {
		b = kv->lru_head;
		lru_unlink(kv, b);
	} else {
		return -ENOSPC;
	}
	kv->state[b] = NRV_KV_REFERENCED;
	kv->ref[b] = 1;
	kv->n_ref++;
	return b;
}

int nrv_kv_ref(struct nrv_kv *kv, int32_t b)
{
	if (bad_id(kv, b) || kv->state[b] == NRV_KV_FREE)
		return -EINVAL;
	if (kv->state[b] == NRV_KV_CACHED) {
		lru_unlink(kv, b);
		kv->state[b] = NRV_KV_REFERENCED;
		kv->n_ref++;
	}
	kv->ref[b]++;
	return 0;
}

int nrv_kv_unref(struct nrv_kv *kv, int32_t b, bool keep)
{
	if (bad_id(kv, b) || kv->state[b] != NRV_KV_REFERENCED)
		return -EINVAL;
	if (--kv->ref[b] > 0)
		return 0;
	kv->n_ref--;
	if (keep) {
		kv->state[b] = NRV_KV_CACHED;
		lru_append(kv, b);
	} else {
		kv->state[b] = NRV_KV_FREE;
		kv->free_stk[kv->n_free++] = b;
	}
	return 0;
}

int nrv_kv_seq_init(const struct nrv_kv *kv, struct nrv_kv_seq *s, int max_positions)
{
	s->blocks = NULL;
	s->n_blocks = s->cap = 0;
	if (max_positions < 1)
		return -EINVAL;
	int cap = (int)(((int64_t)max_positions + kv->block_tokens - 1) / kv->block_tokens);
	s->blocks = malloc((size_t)cap * sizeof(int32_t));
	if (!s->blocks)
		return -ENOMEM;
	s->cap = cap;
	return 0;
}

void nrv_kv_seq_fini(struct nrv_kv_seq *s)
{
	free(s->blocks);
	s->blocks = NULL;
	s->n_blocks = s->cap = 0;
}

int nrv_kv_seq_need(const struct nrv_kv *kv, const struct nrv_kv_seq *s, int n_positions)
{
	int want = (int)(((int64_t)n_positions + kv->block_tokens - 1) / kv->block_tokens);
	return want > s->n_blocks ? want - s->n_blocks : 0;
}

int nrv_kv_seq_reserve(struct nrv_kv *kv, struct nrv_kv_seq *s, int n_positions)
{
	int more = nrv_kv_seq_need(kv, s, n_positions);
	if (more == 0)
		return 0;
	if (s->n_blocks + more > s->cap)
		return -E2BIG;
	if (more > nrv_kv_available(kv))
		return -ENOSPC;
	for (int i = 0; i < more; i++)
		s->blocks[s->n_blocks++] = nrv_kv_alloc(kv);
	return 0;
}

void nrv_kv_seq_release(struct nrv_kv *kv, struct nrv_kv_seq *s, bool keep)
{
	/* Last block first, so a sequence's blocks leave the free stack in
	 * order when it is reused. */
	for (int i = s->n_blocks - 1; i >= 0; i--)
		nrv_kv_unref(kv, s->blocks[i], keep);
	s->n_blocks = 0;
}
