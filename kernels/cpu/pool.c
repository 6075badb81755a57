/*
 * kernels/cpu/pool.c - persistent pinned worker team (see pool.h).
 *
 * A run publishes (fn, arg) and bumps a generation counter; workers wait
 * for the counter to move (spin, then futex), run their share, and
 * decrement a pending counter; the caller runs share 0 and spins until
 * pending reaches zero (then sleeps on a futex too, if a worker was
 * descheduled for long).
 *
 * Lost wake-ups: a sleeper counts itself in `sleepers` and re-reads the
 * word it waits on before sleeping; the waker changes the word and then
 * reads `sleepers`. Both sides use sequentially consistent operations, so
 * either the sleeper sees the new word or the waker sees the sleeper (and
 * the futex itself re-checks the word in the kernel). When nobody sleeps,
 * a run makes no system call.
 */
#include "kernels/cpu/pool.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
/* The spin-wait hint (PAUSE, in every x86-64 CPU), as a compiler builtin so
 * that no intrinsics header is needed outside the ISA folders. */
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define SPIN_ITERS 20000
#define BARRIER_SPINS 4096
#define YIELD_AFTER 4096

struct worker {
	struct nrv_pool *pool;
	int index;
	pthread_t thread;
};

struct nrv_pool {
	int n;
	struct worker *w;
	nrv_pool_fn fn;
	void *arg;
	_Atomic uint32_t gen;      /* bumped per run; futex word for workers */
	_Atomic uint32_t sleepers; /* workers inside futex_wait on gen (or about to be) */
	_Atomic uint32_t pending;  /* workers still running this run */
	_Atomic uint32_t done_gen; /* bumped when pending reaches 0; futex word for the caller */
	_Atomic uint32_t caller_sleeps; /* the caller sleeps on done_gen */
	_Atomic uint32_t bar_count;     /* members arrived at the current barrier */
	_Atomic uint32_t bar_phase;     /* bumped when all have arrived */
	_Atomic int quit;
	const int *cores;
	int n_cores;
};

static void futex_wait(_Atomic uint32_t *addr, uint32_t val)
{
	syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *addr)
{
	syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

/* Wait for *addr to differ from old: spin, then sleep counted in *sleepers. */
static void wait_change(_Atomic uint32_t *addr, uint32_t old, _Atomic uint32_t *sleepers)
{
	for (int i = 0; i < SPIN_ITERS; i++) {
		if (atomic_load_explicit(addr, memory_order_acquire) != old)
			return;
		/* After a short spin, let a descheduled peer have the core. */
		if (i < YIELD_AFTER)
			cpu_relax();
		else
			sched_yield();
	}
	atomic_fetch_add_explicit(sleepers, 1, memory_order_seq_cst);
	while (atomic_load_explicit(addr, memory_order_seq_cst) == old)
		futex_wait(addr, old);
	atomic_fetch_sub_explicit(sleepers, 1, memory_order_seq_cst);
}

/* Move *addr on and wake its sleepers, if there are any. */
static void bump_and_wake(_Atomic uint32_t *addr, _Atomic uint32_t *sleepers)
{
	atomic_fetch_add_explicit(addr, 1, memory_order_seq_cst);
	if (atomic_load_explicit(sleepers, memory_order_seq_cst))
		futex_wake(addr);
}

static void pin(int core)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(core, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *worker_main(void *p)
{
	struct worker *w = p;
	struct nrv_pool *pool = w->pool;
	if (pool->cores && pool->n_cores > 0)
		pin(pool->cores[w->index % pool->n_cores]);
	uint32_t seen = 0; /* gen starts at 0: a run published before this thread started is still seen */
	for (;;) {
		wait_change(&pool->gen, seen, &pool->sleepers);
		seen = atomic_load_explicit(&pool->gen, memory_order_acquire);
		if (atomic_load(&pool->quit))
			break;
		pool->fn(pool->arg, w->index, pool->n);
		if (atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_acq_rel) == 1)
			bump_and_wake(&pool->done_gen, &pool->caller_sleeps);
	}
	return NULL;
}

int nrv_pool_create(int n_threads, const int *cores, int n_cores, struct nrv_pool **out)
{
	*out = NULL;
	if (n_threads < 1 || n_threads > 1024)
		return -EINVAL;
	struct nrv_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->n = n_threads;
	p->cores = NULL;
	if (cores && n_cores > 0) {
		int *c = malloc((size_t)n_cores * sizeof(int));
		if (!c) {
			free(p);
			return -ENOMEM;
		}
		for (int i = 0; i < n_cores; i++)
			c[i] = cores[i];
		p->cores = c;
		p->n_cores = n_cores;
		pin(c[0]);
	}
	p->w = calloc((size_t)n_threads, sizeof(*p->w));
	if (!p->w) {
		free((void *)p->cores);
		free(p);
		return -ENOMEM;
	}
	for (int i = 1; i < n_threads; i++) {
		p->w[i].pool = p;
		p->w[i].index = i;
		int rc = pthread_create(&p->w[i].thread, NULL, worker_main, &p->w[i]);
		if (rc) {
			p->n = i; /* destroy joins only the ones that started */
			nrv_pool_destroy(p);
			return -rc;
		}
	}
	*out = p;
	return 0;
}

void nrv_pool_destroy(struct nrv_pool *p)
{
	if (!p)
		return;
	atomic_store(&p->quit, 1);
	atomic_fetch_add(&p->gen, 1);
	futex_wake(&p->gen); /* unconditionally: destroy is not hot */
	for (int i = 1; i < p->n; i++)
		pthread_join(p->w[i].thread, NULL);
	free(p->w);
	free((void *)p->cores);
	free(p);
}

int nrv_pool_size(const struct nrv_pool *p)
{
	return p->n;
}

void nrv_pool_run(struct nrv_pool *p, nrv_pool_fn fn, void *arg)
{
	if (p->n == 1) {
		fn(arg, 0, 1);
		return;
	}
	p->fn = fn;
	p->arg = arg;
	atomic_store_explicit(&p->pending, (uint32_t)(p->n - 1), memory_order_relaxed);
	uint32_t done = atomic_load_explicit(&p->done_gen, memory_order_relaxed);
	bump_and_wake(&p->gen, &p->sleepers);
	fn(arg, 0, p->n);
	wait_change(&p->done_gen, done, &p->caller_sleeps);
}

void nrv_pool_barrier(struct nrv_pool *p)
{
	uint32_t n = (uint32_t)p->n;
	if (n == 1)
		return;
	/* Read the phase before arriving: the last arrival moves it only
	 * after every member has counted itself in. */
	uint32_t phase = atomic_load_explicit(&p->bar_phase, memory_order_acquire);
	if (atomic_fetch_add_explicit(&p->bar_count, 1, memory_order_acq_rel) == n - 1) {
		atomic_store_explicit(&p->bar_count, 0, memory_order_relaxed);
		atomic_fetch_add_explicit(&p->bar_phase, 1, memory_order_release);
		return;
	}
	/* Spin; when a peer has been descheduled (more runnable threads than
	 * cores), give the core away instead of burning our time slice. */
	for (uint32_t i = 0; atomic_load_explicit(&p->bar_phase, memory_order_acquire) == phase; i++) {
		if (i < BARRIER_SPINS)
			cpu_relax();
		else
			sched_yield();
	}
}
