/*
 * kernels/cpu/pool.h - a persistent team of worker threads for one engine.
 *
 * The caller's thread is member 0; n-1 workers are created once and pinned
 * to the given cores. nrv_pool_run() hands every member the same function
 * with its index and returns when all have finished. Waiting spins briefly
 * (a step's ops follow each other within microseconds) and then sleeps on
 * a futex, so an idle engine costs no CPU; a run issues the wake-up system
 * call only when some worker actually sleeps.
 *
 * Inside a run, nrv_pool_barrier() lets the members meet between phases
 * (quantize the activations, then the matrix rows) without a second run.
 *
 * No allocation and no thread creation happens in nrv_pool_run().
 */
#ifndef NRV_KERNELS_CPU_POOL_H
#define NRV_KERNELS_CPU_POOL_H

struct nrv_pool;

typedef void (*nrv_pool_fn)(void *arg, int ith, int nth);

/*
 * Create a pool of n_threads members (>= 1). cores: n_cores core ids to
 * pin members to (member i on cores[i % n_cores]), or NULL to leave
 * placement to the kernel. Pinning failures are logged, not fatal.
 * Returns 0 or -errno.
 */
int nrv_pool_create(int n_threads, const int *cores, int n_cores, struct nrv_pool **out);
void nrv_pool_destroy(struct nrv_pool *p);
int nrv_pool_size(const struct nrv_pool *p);
/* Run fn(arg, i, n) on every member; returns when all are done.
 * Not reentrant: one run at a time per pool. */
void nrv_pool_run(struct nrv_pool *p, nrv_pool_fn fn, void *arg);
/*
 * Called by every member of the current run (from inside fn): returns once
 * all n members have called it, and everything each member wrote before
 * its call is visible to all after. The members spin (every member of a
 * run is running, so the wait is short); a pool of one returns at once.
 * Calling it from fewer than all members of a run deadlocks.
 */
void nrv_pool_barrier(struct nrv_pool *p);

#endif
