/*
 * src/ring.h - a bounded single-producer / single-consumer ring of
 * fixed-size elements, lock-free (C11 atomics).
 *
 * Exactly one thread pushes and exactly one thread pops. The producer
 * publishes an element with a release store of head after copying it in;
 * the consumer reads head with acquire, copies the element out, then
 * publishes the free slot with a release store of tail. Indices are free
 * running 32-bit counters (capacity a power of two, so wrapping is exact).
 *
 * Owns: the slot memory (init allocates it once; push and pop allocate
 * nothing and never block).
 */
#ifndef NRV_RING_H
#define NRV_RING_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct nrv_ring {
	_Alignas(64) _Atomic uint32_t head; /* slots written, all time (producer's) */
	_Alignas(64) _Atomic uint32_t tail; /* slots read, all time (consumer's) */
	_Alignas(64) uint32_t mask;         /* capacity - 1 */
	size_t esize;                       /* bytes per element */
	unsigned char *slots;               /* (capacity, esize) */
};

/* capacity: a power of two in [2, 2^30]; esize >= 1. Returns 0, -EINVAL or
 * -ENOMEM. */
static inline int nrv_ring_init(struct nrv_ring *r, uint32_t capacity, size_t esize)
{
	memset(r, 0, sizeof(*r));
	if (capacity < 2 || capacity > (1u << 30) || (capacity & (capacity - 1)) || esize < 1)
		return -EINVAL;
	r->slots = malloc((size_t)capacity * esize);
	if (!r->slots)
		return -ENOMEM;
	r->mask = capacity - 1;
	r->esize = esize;
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	return 0;
}

/* Free the slots. Accepts a zeroed ring. */
static inline void nrv_ring_fini(struct nrv_ring *r)
{
	free(r->slots);
	r->slots = NULL;
}

static inline uint32_t nrv_ring_capacity(const struct nrv_ring *r)
{
	return r->mask + 1;
}

/* Elements waiting: exact for the consumer, a lower bound elsewhere. */
static inline uint32_t nrv_ring_count(struct nrv_ring *r)
{
	uint32_t h = atomic_load_explicit(&r->head, memory_order_acquire);
	uint32_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
	return h - t;
}

/* Free slots: exact for the producer, a lower bound elsewhere. */
static inline uint32_t nrv_ring_space(struct nrv_ring *r)
{
	return nrv_ring_capacity(r) - nrv_ring_count(r);
}

/* Producer: copy one element in. false when the ring is full. */
static inline bool nrv_ring_push(struct nrv_ring *r, const void *e)
{
	uint32_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint32_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
	if (h - t > r->mask)
		return false;
	memcpy(r->slots + (size_t)(h & r->mask) * r->esize, e, r->esize);
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
	return true;
}

/* Consumer: copy one element out. false when the ring is empty. */
static inline bool nrv_ring_pop(struct nrv_ring *r, void *e)
{
	uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint32_t h = atomic_load_explicit(&r->head, memory_order_acquire);
	if (h == t)
		return false;
	memcpy(e, r->slots + (size_t)(t & r->mask) * r->esize, r->esize);
	atomic_store_explicit(&r->tail, t + 1, memory_order_release);
	return true;
}

#endif
