/* tests/engine/test_ring.c - the SPSC ring. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>

#include "ring.h"

Test(ring, init_rejects_bad_capacities)
{
	struct nrv_ring r;
	cr_assert_eq(nrv_ring_init(&r, 0, 4), -EINVAL);
	cr_assert_eq(nrv_ring_init(&r, 1, 4), -EINVAL);
	cr_assert_eq(nrv_ring_init(&r, 12, 4), -EINVAL);
	cr_assert_eq(nrv_ring_init(&r, 16, 0), -EINVAL);
	cr_assert_eq(nrv_ring_init(&r, 16, 4), 0);
	cr_assert_eq(nrv_ring_capacity(&r), 16);
	nrv_ring_fini(&r);
	nrv_ring_fini(&r);
}

Test(ring, fills_empties_and_wraps_in_order)
{
	struct nrv_ring r;
	cr_assert_eq(nrv_ring_init(&r, 4, sizeof(int)), 0);
	int next_in = 0, next_out = 0, v;
	for (int round = 0; round < 100; round++) {
		while (nrv_ring_push(&r, &next_in))
			next_in++;
		cr_assert_eq(nrv_ring_count(&r), 4);
		cr_assert_eq(nrv_ring_space(&r), 0);
		int take = round % 4 + 1;
		for (int i = 0; i < take; i++) {
			cr_assert(nrv_ring_pop(&r, &v));
			cr_assert_eq(v, next_out++);
		}
	}
	while (nrv_ring_pop(&r, &v))
		cr_assert_eq(v, next_out++);
	cr_assert_eq(next_out, next_in);
	cr_assert_not(nrv_ring_pop(&r, &v));
	nrv_ring_fini(&r);
}

/* Counter wrap: start the indices just below 2^32. */
Test(ring, survives_index_wrap)
{
	struct nrv_ring r;
	cr_assert_eq(nrv_ring_init(&r, 8, sizeof(uint64_t)), 0);
	atomic_store(&r.head, UINT32_MAX - 5);
	atomic_store(&r.tail, UINT32_MAX - 5);
	for (uint64_t i = 0; i < 100; i++) {
		cr_assert(nrv_ring_push(&r, &i));
		uint64_t o;
		cr_assert(nrv_ring_pop(&r, &o));
		cr_assert_eq(o, i);
	}
	nrv_ring_fini(&r);
}

struct elem {
	uint64_t seq;
	uint64_t check;
	char pad[48];
};

#define N_ELEMS 2000000

static void *producer(void *arg)
{
	struct nrv_ring *r = arg;
	for (uint64_t i = 0; i < N_ELEMS;) {
		struct elem e = { .seq = i, .check = i * 0x9e3779b97f4a7c15ull };
		if (nrv_ring_push(r, &e))
			i++;
		else
			sched_yield();
	}
	return NULL;
}

Test(ring, two_threads_see_every_element_once_in_order, .timeout = 60)
{
	struct nrv_ring r;
	cr_assert_eq(nrv_ring_init(&r, 64, sizeof(struct elem)), 0);
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, producer, &r), 0);
	for (uint64_t want = 0; want < N_ELEMS;) {
		struct elem e;
		if (!nrv_ring_pop(&r, &e)) {
			sched_yield();
			continue;
		}
		if (e.seq != want || e.check != want * 0x9e3779b97f4a7c15ull)
			cr_assert_fail("element %llu arrived as seq %llu (torn or reordered)",
				 (unsigned long long)want, (unsigned long long)e.seq);
		want++;
	}
	pthread_join(th, NULL);
	nrv_ring_fini(&r);
}
