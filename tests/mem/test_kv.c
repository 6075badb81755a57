/* tests/mem/test_kv.c - the paged KV block manager. */
#include <criterion/criterion.h>
#include <errno.h>

#include "mem/kv.h"

static void expect_counts(const struct nrv_kv *kv, int ref, int cached, int fr)
{
	struct nrv_kv_counts c;
	nrv_kv_counts(kv, &c);
	cr_assert_eq(c.referenced, ref, "referenced %d, want %d", c.referenced, ref);
	cr_assert_eq(c.cached, cached, "cached %d, want %d", c.cached, cached);
	cr_assert_eq(c.free, fr, "free %d, want %d", c.free, fr);
	cr_assert_eq(c.total, ref + cached + fr);
}

Test(kv, create_rejects_bad_sizes)
{
	struct nrv_kv *kv;
	cr_assert_eq(nrv_kv_create(0, 16, &kv), -EINVAL);
	cr_assert_eq(nrv_kv_create(4, 0, &kv), -EINVAL);
	cr_assert_eq(nrv_kv_create(4, 16, &kv), 0);
	expect_counts(kv, 0, 0, 4);
	cr_assert_eq(nrv_kv_block_tokens(kv), 16);
	nrv_kv_destroy(kv);
	nrv_kv_destroy(NULL);
}

Test(kv, alloc_until_exhausted_then_free)
{
	struct nrv_kv *kv;
	cr_assert_eq(nrv_kv_create(3, 16, &kv), 0);
	int32_t a = nrv_kv_alloc(kv), b = nrv_kv_alloc(kv), c = nrv_kv_alloc(kv);
	cr_assert(a >= 0 && b >= 0 && c >= 0 && a != b && b != c && a != c);
	cr_assert_eq(nrv_kv_alloc(kv), -ENOSPC);
	expect_counts(kv, 3, 0, 0);
	cr_assert_eq(nrv_kv_state(kv, b), NRV_KV_REFERENCED);
	cr_assert_eq(nrv_kv_unref(kv, b, false), 0);
	cr_assert_eq(nrv_kv_state(kv, b), NRV_KV_FREE);
	expect_counts(kv, 2, 0, 1);
	cr_assert_eq(nrv_kv_alloc(kv), b, "the freed block is reused");
	cr_assert_eq(nrv_kv_unref(kv, 99, false), -EINVAL);
	cr_assert_eq(nrv_kv_unref(kv, -1, false), -EINVAL);
	nrv_kv_destroy(kv);
}

Test(kv, refcounts_share_a_block)
{
	struct nrv_kv *kv;
	cr_assert_eq(nrv_kv_create(2, 8, &kv), 0);
	int32_t a = nrv_kv_alloc(kv);
	cr_assert_eq(nrv_kv_ref(kv, a), 0);
	cr_assert_eq(nrv_kv_refcount(kv, a), 2);
	cr_assert_eq(nrv_kv_unref(kv, a, false), 0);
	cr_assert_eq(nrv_kv_state(kv, a), NRV_KV_REFERENCED, "one holder left");
	expect_counts(kv, 1, 0, 1);
	cr_assert_eq(nrv_kv_unref(kv, a, false), 0);
	cr_assert_eq(nrv_kv_unref(kv, a, false), -EINVAL, "nobody holds it");
	cr_assert_eq(nrv_kv_ref(kv, a), -EINVAL, "a free block cannot be referenced");
	expect_counts(kv, 0, 0, 2);
	nrv_kv_destroy(kv);
}

Test(kv, cached_blocks_are_kept_then_evicted_oldest_first)
{
	struct nrv_kv *kv;
	cr_assert_eq(nrv_kv_create(3, 4, &kv), 0);
	int32_t a = nrv_kv_alloc(kv), b = nrv_kv_alloc(kv), c = nrv_kv_alloc(kv);
	cr_assert_eq(nrv_kv_unref(kv, b, true), 0);
	cr_assert_eq(nrv_kv_unref(kv, a, true), 0);
	cr_assert_eq(nrv_kv_unref(kv, c, true), 0);
	expect_counts(kv, 0, 3, 0);
	cr_assert_eq(nrv_kv_available(kv), 3);
	/* Re-referencing takes a from the middle of the cached list. */
	cr_assert_eq(nrv_kv_ref(kv, a), 0);
	cr_assert_eq(nrv_kv_state(kv, a), NRV_KV_REFERENCED);
	expect_counts(kv, 1, 2, 0);
	cr_assert_eq(nrv_kv_alloc(kv), b, "oldest cached first");
	cr_assert_eq(nrv_kv_alloc(kv), c);
	cr_assert_eq(nrv_kv_alloc(kv), -ENOSPC);
	expect_counts(kv, 3, 0, 0);
	nrv_kv_destroy(kv);
}

Test(kv, free_blocks_go_before_cached_ones)
{
	struct nrv_kv *kv;
	cr_assert_eq(nrv_kv_create(2, 4, &kv), 0);
	int32_t a = nrv_kv_alloc(kv);
	cr_assert_eq(nrv_kv_unref(kv, a, true), 0);
	int32_t b = nrv_kv_alloc(kv);
	cr_assert_neq(b, a, "the cached block survives while a free one exists");
	cr_assert_eq(nrv_kv_state(kv, a), NRV_KV_CACHED);
	nrv_kv_destroy(kv);
}

Test(kv, sequence_tables_grow_all_or_nothing)
{
	struct nrv_kv *kv;
	cr_assert_eq(nrv_kv_create(5, 16, &kv), 0);
	struct nrv_kv_seq s, t;
	cr_assert_eq(nrv_kv_seq_init(kv, &s, 64), 0);
	cr_assert_eq(s.cap, 4);
	cr_assert_eq(nrv_kv_seq_init(kv, &t, 64), 0);
	cr_assert_eq(nrv_kv_seq_need(kv, &s, 17), 2);
	cr_assert_eq(nrv_kv_seq_reserve(kv, &s, 17), 0);
	cr_assert_eq(s.n_blocks, 2);
	cr_assert_eq(nrv_kv_seq_reserve(kv, &s, 32), 0, "still inside two blocks");
	cr_assert_eq(s.n_blocks, 2);
	cr_assert_eq(nrv_kv_seq_reserve(kv, &s, 65), -E2BIG);
	cr_assert_eq(nrv_kv_seq_reserve(kv, &t, 64), -ENOSPC, "needs 4, 3 left");
	cr_assert_eq(t.n_blocks, 0, "nothing taken on failure");
	expect_counts(kv, 2, 0, 3);
	cr_assert_eq(nrv_kv_seq_reserve(kv, &t, 48), 0);
	expect_counts(kv, 5, 0, 0);
	for (int i = 0; i < s.n_blocks; i++)
		for (int j = 0; j < t.n_blocks; j++)
			cr_assert_neq(s.blocks[i], t.blocks[j], "tables never share by accident");
	nrv_kv_seq_release(kv, &s, false);
	cr_assert_eq(s.n_blocks, 0);
	nrv_kv_seq_release(kv, &t, true);
	expect_counts(kv, 0, 3, 2);
	nrv_kv_seq_fini(&s);
	nrv_kv_seq_fini(&t);
	nrv_kv_seq_fini(&t);
	nrv_kv_destroy(kv);
}

Test(kv, churn_keeps_the_counts_consistent)
{
	struct nrv_kv *kv;
	cr_assert_eq(nrv_kv_create(64, 16, &kv), 0);
	struct nrv_kv_seq s[8];
	for (int i = 0; i < 8; i++)
		cr_assert_eq(nrv_kv_seq_init(kv, &s[i], 256), 0);
	uint32_t x = 12345;
	for (int it = 0; it < 20000; it++) {
		x = x * 1103515245u + 12345u;
		int i = (int)((x >> 16) % 8);
		if ((x >> 8) & 1) {
			int want = (int)((x >> 20) % 257);
			int rc = nrv_kv_seq_reserve(kv, &s[i], want);
			cr_assert(rc == 0 || rc == -ENOSPC, "rc %d", rc);
		} else {
			nrv_kv_seq_release(kv, &s[i], (x >> 9) & 1);
		}
		int held = 0;
		for (int k = 0; k < 8; k++)
			held += s[k].n_blocks;
		struct nrv_kv_counts c;
		nrv_kv_counts(kv, &c);
		cr_assert_eq(c.referenced, held);
		cr_assert_eq(c.referenced + c.cached + c.free, 64);
	}
	for (int i = 0; i < 8; i++) {
		nrv_kv_seq_release(kv, &s[i], false);
		nrv_kv_seq_fini(&s[i]);
	}
	nrv_kv_destroy(kv);
}
