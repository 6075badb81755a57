/*
 * kernels/cpu/pool.h - a persistent team of worker threads for one engine.
 *
 * The caller's thread is member 0; n-1 workers are created once and pinned
 * to the given cores. nrv_pool_run() hands every member the same function
 * with its index and returns when all have finished. Waiting spins briefly
 * (a step's ops follow each other within microseconds) and then sleeps on
 * a futex, so an idle engine costs no CPU.
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

#endif
