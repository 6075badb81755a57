/*
 * src/engine.c - continuous batching over a paged KV cache (see engine.h).
 *
 * The scheduler thread loops:
 *   1. drain the request ring (submits join the waiting queue, cancels
 *      mark their sequence);
 *   2. end what is cancelled or past its deadline (blocks freed now);
 *   3. sleep on an eventfd when nothing is left to do;
 *   4. compose a step under step_tokens: one decode token for every
 *      running sequence, then prefill chunks for sequences still reading
 *      their prompt, then new admissions while blocks and slots allow;
 *   5. run it (nrv_runner_step), sample every sequence whose last fed
 *      token was the end of its known text, push the events, and signal
 *      the event fd once.
 *
 * KV blocks: admission reserves the blocks of the whole prompt (so prefill
 * never stalls) when, after that, one block per running sequence remains
 * (growth headroom). A decoding sequence takes a new block when it crosses
 * a block boundary; when none is left the youngest running sequence is
 * preempted: its blocks are freed and it goes back to the head of the
 * queue with its generated tokens appended to its prompt, to be
 * recomputed when blocks are available (its sampler state is kept, so
 * its output is the same as without the preemption).
 *
 * Memory: the step buffers are sized at create; submit allocates the
 * request (token array, block table), admission its sampler. A step
 * allocates nothing.
 */
#include "engine.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "mem/kv.h"
#include "model.h"
#include "ring.h"
#include "tokenizer.h"

enum { MSG_SUBMIT = 1, MSG_CANCEL };

struct seq;

struct msg {
	int kind;
	uint64_t id;       /* CANCEL */
	struct seq *s;     /* SUBMIT: ownership passes to the engine */
};

struct seq {
	uint64_t id;
	struct nrv_engine_req r;   /* r.prompt is not used after submit */
	int32_t *toks;             /* (cap_tok) prompt, then generated tokens */
	int n_prompt;
	int n_tok;                 /* tokens known: prompt + generated */
	int n_kv;                  /* positions whose K/V are in the blocks */
	int n_gen;                 /* TOKEN events sent */
	int max_gen;               /* min(max_tokens, n_ctx - n_prompt) */
	struct nrv_kv_seq kvs;
	struct nrv_sampler smp;
	bool smp_ready;
	bool admitted_once;
	bool ending;               /* cancelled or timed out: end at the next sweep */
	int end_reason;
	int64_t t_submit, t_admit, deadline;  /* ns, CLOCK_MONOTONIC; deadline 0: none */
	struct seq *prev, *next;   /* waiting queue links */
	int chunk;                 /* tokens fed in the step being composed */
};

struct nrv_engine {
	struct nrv_model *m;
	struct nrv_engine_params p;
	int *cores;
	struct nrv_runner *run;
	struct nrv_kv *kv;
	int n_vocab;

	struct nrv_ring in;   /* struct msg: front -> engine */
	struct nrv_ring out;  /* struct nrv_engine_event: engine -> front */
	int efd;              /* events pushed */
	int wake_fd;          /* submit wakes a sleeping scheduler */
	_Atomic int sleeping;
	_Atomic bool stop;
	pthread_t th;
	bool started;

	/* front thread's */
	_Atomic int n_pending;        /* submitted, neither admitted nor ended */
	uint64_t *cancel_backlog;     /* cancels the full ring refused, oldest first */
	int n_backlog, cap_backlog;

	/* scheduler thread's */
	struct seq **running;         /* (max_running) in admission order */
	int n_running;
	struct seq *wait_head, *wait_tail;
	int n_waiting;
	struct nrv_batch_seq *batch;  /* (max_running) */
	struct seq **batch_seq;       /* (max_running) */
	float *lp;                    /* (n_vocab) log-probability scratch */
	int events_pushed;            /* this iteration */

	/* stats */
	_Atomic int st_running, st_waiting, st_kv_used, st_kv_cached, st_kv_free;
	_Atomic uint64_t st_prompt, st_gen, st_steps, st_preempted;
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t c = 2;
	while (c < n)
		c <<= 1;
	return c;
}

static void seq_free(struct seq *s)
{
	if (!s)
		return;
	free(s->toks);
	nrv_kv_seq_fini(&s->kvs);
	if (s->smp_ready)
		nrv_sampler_fini(&s->smp);
	free(s);
}

/* ---- waiting queue ---- */

static void wait_push_back(struct nrv_engine *e, struct seq *s)
{
	s->next = NULL;
	s->prev = e->wait_tail;
	if (e->wait_tail)
		e->wait_tail->next = s;
	else
		e->wait_head = s;
	e->wait_tail = s;
	e->n_waiting++;
}

static void wait_push_front(struct nrv_engine *e, struct seq *s)
{
	s->prev = NULL;
	s->next = e->wait_head;
	if (e->wait_head)
		e->wait_head->prev = s;
	else
		e->wait_tail = s;
	e->wait_head = s;
	e->n_waiting++;
}

static void wait_remove(struct nrv_engine *e, struct seq *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		e->wait_head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		e->wait_tail = s->prev;
	s->prev = s->next = NULL;
	e->n_waiting--;
}

/* ---- events ---- */

/* Callers make sure the ring has room (see room_for). */
static void push_event(struct nrv_engine *e, const struct nrv_engine_event *ev)
{
	if (nrv_ring_push(&e->out, ev))
		e->events_pushed++;
}

static bool room_for(struct nrv_engine *e, uint32_t n)
{
	return nrv_ring_space(&e->out) >= n;
}

static void signal_events(struct nrv_engine *e)
{
	if (!e->events_pushed)
		return;
	uint64_t one = 1;
	ssize_t w = write(e->efd, &one, sizeof(one));
	(void)w; /* EAGAIN: the counter is already non-zero, the front will look */
	e->events_pushed = 0;
}

/* End a sequence that is in neither the queue nor the batch any more. */
static void finish(struct nrv_engine *e, struct seq *s, int reason, int err)
{
	int64_t t = now_ns();
	struct nrv_engine_event ev = {
		.id = s->id, .kind = NRV_EV_DONE, .finish = reason, .err = err,
		.n_prompt = s->n_prompt, .n_gen = s->n_gen,
		.queue_ns = (s->admitted_once ? s->t_admit : t) - s->t_submit, .t_ns = t,
	};
	push_event(e, &ev);
	nrv_kv_seq_release(e->kv, &s->kvs, false);
	if (!s->admitted_once)
		atomic_fetch_sub_explicit(&e->n_pending, 1, memory_order_relaxed);
	seq_free(s);
}

static void running_remove(struct nrv_engine *e, int i)
{
	memmove(&e->running[i], &e->running[i + 1],
		(size_t)(e->n_running - i - 1) * sizeof(e->running[0]));
	e->n_running--;
}

/* ---- the scheduler ---- */

static struct seq *find(struct nrv_engine *e, uint64_t id)
{
	for (int i = 0; i < e->n_running; i++)
		if (e->running[i]->id == id)
			return e->running[i];
	for (struct seq *s = e->wait_head; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

static void drain_inbox(struct nrv_engine *e)
{
	struct msg m;
	while (nrv_ring_pop(&e->in, &m)) {
		if (m.kind == MSG_SUBMIT) {
			wait_push_back(e, m.s);
		} else if (m.kind == MSG_CANCEL) {
			struct seq *s = find(e, m.id);
			if (s && !s->ending) {
				s->ending = true;
				s->end_reason = NRV_FINISH_CANCELLED;
			}
		}
	}
}

/* Ends cancelled and timed-out sequences while the event ring has room
 * beyond what a step needs. */
static void sweep(struct nrv_engine *e, int64_t now)
{
	uint32_t reserve = 2 * (uint32_t)e->p.max_running;
	for (int i = 0; i < e->n_running;) {
		struct seq *s = e->running[i];
		if (!s->ending && s->deadline && now >= s->deadline) {
			s->ending = true;
			s->end_reason = NRV_FINISH_TIMEOUT;
		}
		if (s->ending && room_for(e, reserve + 1)) {
			running_remove(e, i);
			finish(e, s, s->end_reason, 0);
			continue;
		}
		i++;
	}
	for (struct seq *s = e->wait_head, *nx; s; s = nx) {
		nx = s->next;
		if (!s->ending && s->deadline && now >= s->deadline) {
			s->ending = true;
			s->end_reason = NRV_FINISH_TIMEOUT;
		}
		if (s->ending && room_for(e, reserve + 1)) {
			wait_remove(e, s);
			finish(e, s, s->end_reason, 0);
		}
	}
}

/* Push the youngest running sequence back to the head of the queue. */
static void preempt_youngest(struct nrv_engine *e)
{
	struct seq *v = e->running[e->n_running - 1];
	e->n_running--;
	nrv_kv_seq_release(e->kv, &v->kvs, false);
	v->n_kv = 0;
	wait_push_front(e, v);
	atomic_fetch_add_explicit(&e->st_preempted, 1, memory_order_relaxed);
}

static bool is_decoding(const struct seq *s)
{
	return s->n_tok - s->n_kv == 1;
}

/* Fill the batch; returns the number of sequences in it. */
static int compose(struct nrv_engine *e, int64_t now)
{
	int budget = e->p.step_tokens;
	/* 1. Growth: every decoding sequence needs the block of its next
	 * position. Oldest first; the youngest yields its blocks when short. */
	for (int i = 0; i < e->n_running; i++) {
		struct seq *s = e->running[i];
		if (s->ending || !is_decoding(s))
			continue;
		while (nrv_kv_seq_reserve(e->kv, &s->kvs, s->n_kv + 1) == -ENOSPC) {
			bool self = e->running[e->n_running - 1] == s;
			preempt_youngest(e);
			if (self)
				break;
		}
	}
	/* 2. Every running sequence: decoders take one token, prefills a chunk. */
	int nb = 0;
	for (int i = 0; i < e->n_running && budget > 0; i++) {
		struct seq *s = e->running[i];
		if (s->ending)
			continue; /* ends at the next sweep */
		int left = s->n_tok - s->n_kv;
		s->chunk = left < budget ? left : budget;
		budget -= s->chunk;
		e->batch_seq[nb++] = s;
	}
	/* 3. Admissions, first come first served, while a slot, budget and the
	 * prompt's blocks (plus one block of headroom per running sequence)
	 * are available. */
	while (e->wait_head && budget > 0 && e->n_running < e->p.max_running) {
		struct seq *s = e->wait_head;
		if (s->ending)
			break; /* ends at the next sweep */
		int need = nrv_kv_seq_need(e->kv, &s->kvs, s->n_tok);
		if (need + e->n_running > nrv_kv_available(e->kv))
			break;
		if (!s->smp_ready) {
			int rc = nrv_sampler_init(&s->smp, &s->r.sp, e->n_vocab);
			if (rc) {
				if (!room_for(e, 2 * (uint32_t)e->p.max_running + 1))
					break;
				wait_remove(e, s);
				finish(e, s, NRV_FINISH_ERROR, rc);
				continue;
			}
			s->smp_ready = true;
			for (int i = 0; i < s->n_tok; i++)
				nrv_sampler_accept(&s->smp, s->toks[i]);
		}
		int rc = nrv_kv_seq_reserve(e->kv, &s->kvs, s->n_tok);
		if (rc)
			break; /* cannot happen after the count above; retry next step */
		wait_remove(e, s);
		if (!s->admitted_once) {
			s->admitted_once = true;
			s->t_admit = now;
			atomic_fetch_sub_explicit(&e->n_pending, 1, memory_order_relaxed);
		}
		e->running[e->n_running++] = s;
		int left = s->n_tok - s->n_kv;
		s->chunk = left < budget ? left : budget;
		budget -= s->chunk;
		e->batch_seq[nb++] = s;
	}
	for (int i = 0; i < nb; i++) {
		struct seq *s = e->batch_seq[i];
		e->batch[i] = (struct nrv_batch_seq){
			.tokens = s->toks + s->n_kv, .n = s->chunk, .pos0 = s->n_kv,
			.blocks = s->kvs.blocks, .n_blocks = s->kvs.n_blocks,
			.n_logits = s->n_kv + s->chunk == s->n_tok ? 1 : 0,
		};
	}
	return nb;
}

/* The sampled token's log-probability and the top alternatives, sorted
 * (descending, ties to the lower id): log-softmax of the logits the
 * sampler sees after its penalties, at temperature 1, before top-k/top-p/
 * min-p filtering - the model's own distribution, as OpenAI reports it. */
static void logprobs(struct nrv_engine *e, struct seq *s, const float *logits, int32_t tok,
		     struct nrv_engine_event *ev)
{
	int V = e->n_vocab;
	float *lp = e->lp;
	memcpy(lp, logits, (size_t)V * sizeof(float));
	nrv_sampler_penalize(&s->smp, lp);
	float mx = -INFINITY;
	for (int i = 0; i < V; i++)
		if (lp[i] > mx)
			mx = lp[i];
	double sum = 0;
	for (int i = 0; i < V; i++)
		sum += exp((double)lp[i] - mx);
	float lse = mx + (float)log(sum);
	ev->logprob = lp[tok] - lse;
	int k = s->r.top_logprobs;
	int n = 0;
	/* Insertion into a sorted list of k: descending value, ties to the lower id. */
	for (int i = 0; i < V && k > 0; i++) {
		float v = lp[i];
		if (n == k && !(v > ev->top_logprob[n - 1]))
			continue;
		int j = n < k ? n++ : k - 1;
		while (j > 0 && v > ev->top_logprob[j - 1]) {
			ev->top_logprob[j] = ev->top_logprob[j - 1];
			ev->top_token[j] = ev->top_token[j - 1];
			j--;
		}
		ev->top_logprob[j] = v;
		ev->top_token[j] = i;
	}
	for (int i = 0; i < n; i++)
		ev->top_logprob[i] -= lse;
	ev->n_top = n;
}

/* After the step: advance every fed sequence, sample where logits came. */
static void advance(struct nrv_engine *e, int nb)
{
	int row = 0;
	uint64_t prompt = 0, gen = 0;
	for (int i = 0; i < nb; i++) {
		struct seq *s = e->batch_seq[i];
		bool decode = is_decoding(s);
		s->n_kv += s->chunk;
		if (!decode)
			prompt += (uint64_t)s->chunk;
		if (!e->batch[i].n_logits)
			continue;
		const float *lg = nrv_runner_logits(e->run, row++);
		int32_t tok = nrv_sampler_sample(&s->smp, lg);
		if (tok < 0) {
			s->ending = true;
			s->end_reason = NRV_FINISH_ERROR;
			continue;
		}
		if (!s->r.ignore_eos && nrv_tok_is_eog(e->m->tok, tok)) {
			s->ending = true;
			s->end_reason = NRV_FINISH_STOP;
			continue;
		}
		struct nrv_engine_event ev = { .id = s->id, .kind = NRV_EV_TOKEN, .token = tok };
		if (s->r.logprobs || s->r.top_logprobs > 0)
			logprobs(e, s, lg, tok, &ev);
		nrv_sampler_accept(&s->smp, tok);
		s->toks[s->n_tok++] = tok;
		s->n_gen++;
		gen++;
		ev.t_ns = now_ns();
		push_event(e, &ev);
		if (s->n_gen >= s->max_gen) {
			s->ending = true;
			s->end_reason = NRV_FINISH_LENGTH;
		}
	}
	/* Natural ends leave the batch now (the room was checked before the step). */
	for (int i = 0; i < e->n_running;) {
		struct seq *s = e->running[i];
		if (s->ending && s->end_reason != NRV_FINISH_CANCELLED &&
		    s->end_reason != NRV_FINISH_TIMEOUT) {
			running_remove(e, i);
			finish(e, s, s->end_reason, s->end_reason == NRV_FINISH_ERROR ? -EINVAL : 0);
			continue;
		}
		i++;
	}
	atomic_fetch_add_explicit(&e->st_prompt, prompt, memory_order_relaxed);
	atomic_fetch_add_explicit(&e->st_gen, gen, memory_order_relaxed);
}

static void publish_stats(struct nrv_engine *e)
{
	struct nrv_kv_counts c;
	nrv_kv_counts(e->kv, &c);
	atomic_store_explicit(&e->st_running, e->n_running, memory_order_relaxed);
	atomic_store_explicit(&e->st_waiting, e->n_waiting, memory_order_relaxed);
	atomic_store_explicit(&e->st_kv_used, c.referenced, memory_order_relaxed);
	atomic_store_explicit(&e->st_kv_cached, c.cached, memory_order_relaxed);
	atomic_store_explicit(&e->st_kv_free, c.free, memory_order_relaxed);
}

/* Sleep until submit (or destroy) writes the wake fd, or timeout_ms. */
static void idle_wait(struct nrv_engine *e, int timeout_ms)
{
	atomic_store(&e->sleeping, 1);
	atomic_thread_fence(memory_order_seq_cst);
	if (nrv_ring_count(&e->in) == 0 && !atomic_load(&e->stop)) {
		struct pollfd pfd = { .fd = e->wake_fd, .events = POLLIN };
		if (poll(&pfd, 1, timeout_ms) > 0) {
			uint64_t v;
			ssize_t r = read(e->wake_fd, &v, sizeof(v));
			(void)r;
		}
	}
	atomic_store(&e->sleeping, 0);
}

static void pin_self(const struct nrv_engine *e)
{
	if (!e->cores || e->p.n_cores < 1)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(e->cores[0], &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *engine_main(void *arg)
{
	struct nrv_engine *e = arg;
	pin_self(e);
	uint32_t step_room = 2 * (uint32_t)e->p.max_running;
	while (!atomic_load_explicit(&e->stop, memory_order_acquire)) {
		drain_inbox(e);
		int64_t now = now_ns();
		sweep(e, now);
		publish_stats(e);
		signal_events(e);
		if (e->n_running == 0 && e->n_waiting == 0) {
			idle_wait(e, -1);
			continue;
		}
		if (!room_for(e, step_room)) {
			/* The front is behind: wait for it to poll. */
			idle_wait(e, 1);
			continue;
		}
		int nb = compose(e, now);
		if (nb == 0) {
			publish_stats(e);
			signal_events(e);
			idle_wait(e, 1);
			continue;
		}
		publish_stats(e); /* admissions, before their events exist */
		int rc = nrv_runner_step(e->run, e->batch, nb);
		if (rc) {
			/* A bad step is a bug or a backend failure: end the batch with it. */
			for (int i = 0; i < e->n_running; i++) {
				e->running[i]->ending = true;
				e->running[i]->end_reason = NRV_FINISH_ERROR;
			}
			while (e->n_running > 0) {
				struct seq *s = e->running[--e->n_running];
				finish(e, s, NRV_FINISH_ERROR, rc);
			}
			continue;
		}
		atomic_fetch_add_explicit(&e->st_steps, 1, memory_order_relaxed);
		advance(e, nb);
		publish_stats(e);
	}
	return NULL;
}

/* ---- the front's side ---- */

static void wake(struct nrv_engine *e)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load(&e->sleeping)) {
		uint64_t one = 1;
		ssize_t w = write(e->wake_fd, &one, sizeof(one));
		(void)w;
	}
}

static void flush_backlog(struct nrv_engine *e)
{
	int k = 0;
	while (k < e->n_backlog) {
		struct msg m = { .kind = MSG_CANCEL, .id = e->cancel_backlog[k] };
		if (!nrv_ring_push(&e->in, &m))
			break;
		k++;
	}
	if (k) {
		memmove(e->cancel_backlog, e->cancel_backlog + k,
			(size_t)(e->n_backlog - k) * sizeof(uint64_t));
		e->n_backlog -= k;
		wake(e);
	}
}

int nrv_engine_submit(struct nrv_engine *e, const struct nrv_engine_req *r)
{
	flush_backlog(e);
	if (!r || !r->prompt || r->n_prompt < 1 || r->max_tokens < 1 || r->top_logprobs < 0 ||
	    r->top_logprobs > NRV_ENGINE_MAX_TOP || nrv_sampler_check(&r->sp))
		return -EINVAL;
	for (int i = 0; i < r->n_prompt; i++)
		if (r->prompt[i] < 0 || r->prompt[i] >= e->n_vocab)
			return -EINVAL;
	if (r->n_prompt >= e->p.n_ctx)
		return -E2BIG;
	if (atomic_load_explicit(&e->n_pending, memory_order_relaxed) >= e->p.max_queued ||
	    e->n_backlog > 0)
		return -EAGAIN;
	struct seq *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->id = r->id;
	s->r = *r;
	s->r.prompt = NULL;
	s->n_prompt = s->n_tok = r->n_prompt;
	int room = e->p.n_ctx - r->n_prompt;
	s->max_gen = r->max_tokens < room ? r->max_tokens : room;
	s->toks = malloc((size_t)(s->n_prompt + s->max_gen) * sizeof(int32_t));
	if (!s->toks || nrv_kv_seq_init(e->kv, &s->kvs, e->p.n_ctx)) {
		seq_free(s);
		return -ENOMEM;
	}
	memcpy(s->toks, r->prompt, (size_t)r->n_prompt * sizeof(int32_t));
	s->t_submit = now_ns();
	s->deadline = e->p.timeout_ms > 0 ? s->t_submit + (int64_t)e->p.timeout_ms * 1000000 : 0;
	atomic_fetch_add_explicit(&e->n_pending, 1, memory_order_relaxed);
	struct msg m = { .kind = MSG_SUBMIT, .s = s };
	if (!nrv_ring_push(&e->in, &m)) {
		atomic_fetch_sub_explicit(&e->n_pending, 1, memory_order_relaxed);
		seq_free(s);
		return -EAGAIN;
	}
	wake(e);
	return 0;
}

void nrv_engine_cancel(struct nrv_engine *e, uint64_t id)
{
	flush_backlog(e);
	struct msg m = { .kind = MSG_CANCEL, .id = id };
	if (e->n_backlog == 0 && nrv_ring_push(&e->in, &m)) {
		wake(e);
		return;
	}
	/* The ring is full: keep it for the next front call (order kept). */
	if (e->n_backlog < e->cap_backlog)
		e->cancel_backlog[e->n_backlog++] = id;
}

int nrv_engine_poll(struct nrv_engine *e, struct nrv_engine_event *ev, int max)
{
	flush_backlog(e);
	int n = 0;
	while (n < max && nrv_ring_pop(&e->out, &ev[n]))
		n++;
	if (n)
		wake(e); /* a scheduler waiting for room may go on */
	return n;
}

int nrv_engine_eventfd(const struct nrv_engine *e)
{
	return e->efd;
}

void nrv_engine_stats(const struct nrv_engine *e, struct nrv_engine_stats *o)
{
	struct nrv_engine *m = (struct nrv_engine *)e; /* atomics read only */
	o->running = atomic_load_explicit(&m->st_running, memory_order_relaxed);
	o->waiting = atomic_load_explicit(&m->st_waiting, memory_order_relaxed);
	o->kv_total = e->p.kv_blocks;
	o->kv_used = atomic_load_explicit(&m->st_kv_used, memory_order_relaxed);
	o->kv_cached = atomic_load_explicit(&m->st_kv_cached, memory_order_relaxed);
	o->kv_free = atomic_load_explicit(&m->st_kv_free, memory_order_relaxed);
	o->block_tokens = e->p.block_tokens;
	o->prompt_tokens = atomic_load_explicit(&m->st_prompt, memory_order_relaxed);
	o->gen_tokens = atomic_load_explicit(&m->st_gen, memory_order_relaxed);
	o->steps = atomic_load_explicit(&m->st_steps, memory_order_relaxed);
	o->preempted = atomic_load_explicit(&m->st_preempted, memory_order_relaxed);
}

const struct nrv_engine_params *nrv_engine_params(const struct nrv_engine *e)
{
	return &e->p;
}

/* ---- create / destroy ---- */

void nrv_engine_destroy(struct nrv_engine *e)
{
	if (!e)
		return;
	if (e->started) {
		atomic_store_explicit(&e->stop, true, memory_order_release);
		uint64_t one = 1;
		ssize_t w = write(e->wake_fd, &one, sizeof(one));
		(void)w;
		pthread_join(e->th, NULL);
	}
	if (e->kv) {
		struct msg m;
		if (e->in.slots)
			while (nrv_ring_pop(&e->in, &m))
				if (m.kind == MSG_SUBMIT)
					seq_free(m.s);
		for (int i = 0; i < e->n_running; i++) {
			nrv_kv_seq_release(e->kv, &e->running[i]->kvs, false);
			seq_free(e->running[i]);
		}
		for (struct seq *s = e->wait_head, *nx; s; s = nx) {
			nx = s->next;
			nrv_kv_seq_release(e->kv, &s->kvs, false);
			seq_free(s);
		}
	}
	nrv_ring_fini(&e->in);
	nrv_ring_fini(&e->out);
	if (e->efd >= 0)
		close(e->efd);
	if (e->wake_fd >= 0)
		close(e->wake_fd);
	nrv_runner_destroy(e->run);
	nrv_kv_destroy(e->kv);
	free(e->cores);
	free(e->cancel_backlog);
	free(e->running);
	free(e->batch);
	free(e->batch_seq);
	free(e->lp);
	free(e);
}

static int fill_params(const struct nrv_model *m, struct nrv_engine_params *p, char *err,
		       size_t errlen)
{
	int train = m->cfg.n_ctx_train;
	if (p->n_threads <= 0)
		p->n_threads = 1;
	if (p->n_ctx <= 0)
		p->n_ctx = train < 4096 ? train : 4096;
	if (p->n_ctx > train) {
		snprintf(err, errlen, "n_ctx %d exceeds the model's trained context %d", p->n_ctx, train);
		return -EINVAL;
	}
	if (p->n_ctx < 2) {
		snprintf(err, errlen, "n_ctx %d: at least 2 positions (a prompt and a token)", p->n_ctx);
		return -EINVAL;
	}
	if (p->block_tokens <= 0)
		p->block_tokens = 16;
	if (p->step_tokens <= 0)
		p->step_tokens = 512;
	if (p->max_running <= 0)
		p->max_running = 64;
	/* Every running sequence decodes one token per step. */
	if (p->max_running > p->step_tokens)
		p->max_running = p->step_tokens;
	if (p->max_queued <= 0)
		p->max_queued = 1000;
	if (p->timeout_ms == 0)
		p->timeout_ms = 30000;
	int per_ctx = (p->n_ctx + p->block_tokens - 1) / p->block_tokens;
	if (p->kv_blocks <= 0) {
		int quarter = (p->n_ctx / 4 + p->block_tokens - 1) / p->block_tokens;
		int64_t want = (int64_t)p->max_running * quarter;
		p->kv_blocks = want > per_ctx ? (int)(want < (1 << 30) ? want : (1 << 30)) : per_ctx;
	}
	if (p->kv_blocks < per_ctx) {
		snprintf(err, errlen,
			 "kv_blocks %d x block_tokens %d cannot hold one %d-position sequence: "
			 "raise kv_blocks to at least %d",
			 p->kv_blocks, p->block_tokens, p->n_ctx, per_ctx);
		return -EINVAL;
	}
	if (p->n_cores < 0 || (p->n_cores > 0 && !p->cores)) {
		snprintf(err, errlen, "cores: %d ids given without a list", p->n_cores);
		return -EINVAL;
	}
	return 0;
}

int nrv_engine_create(struct nrv_model *m, const struct nrv_engine_params *pp,
		      struct nrv_engine **out, char *err, size_t errlen)
{
	*out = NULL;
	struct nrv_engine *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->efd = e->wake_fd = -1;
	e->m = m;
	e->p = *pp;
	e->n_vocab = m->cfg.n_vocab;
	int rc = fill_params(m, &e->p, err, errlen);
	if (rc) {
		free(e);
		return rc;
	}
	struct nrv_engine_params *p = &e->p;
	if (p->n_cores > 0) {
		e->cores = malloc((size_t)p->n_cores * sizeof(int));
		if (!e->cores)
			goto oom;
		memcpy(e->cores, pp->cores, (size_t)p->n_cores * sizeof(int));
	}
	p->cores = e->cores;
	struct nrv_runner_params rp = {
		.n_threads = p->n_threads, .cores = e->cores, .n_cores = p->n_cores,
		.max_tokens = p->step_tokens, .max_seqs = p->max_running,
		.max_logits = p->max_running, .max_ctx = p->n_ctx,
		.kv_blocks = p->kv_blocks, .block_tokens = p->block_tokens, .device = p->device,
	};
	rc = nrv_runner_create(m, &rp, &e->run, err, errlen);
	if (rc)
		goto fail;
	rc = nrv_kv_create(p->kv_blocks, p->block_tokens, &e->kv);
	if (rc)
		goto oom;
	uint32_t in_cap = pow2_at_least(2 * (uint32_t)(p->max_queued + p->max_running) + 64);
	uint32_t out_cap = pow2_at_least(4 * (uint32_t)p->max_running + 256);
	if (nrv_ring_init(&e->in, in_cap, sizeof(struct msg)) ||
	    nrv_ring_init(&e->out, out_cap, sizeof(struct nrv_engine_event)))
		goto oom;
	e->cap_backlog = (int)in_cap;
	e->cancel_backlog = malloc((size_t)e->cap_backlog * sizeof(uint64_t));
	e->running = calloc((size_t)p->max_running, sizeof(*e->running));
	e->batch = calloc((size_t)p->max_running, sizeof(*e->batch));
	e->batch_seq = calloc((size_t)p->max_running, sizeof(*e->batch_seq));
	e->lp = malloc((size_t)e->n_vocab * sizeof(float));
	if (!e->cancel_backlog || !e->running || !e->batch || !e->batch_seq || !e->lp)
		goto oom;
	e->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	e->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (e->efd < 0 || e->wake_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	publish_stats(e);
	rc = -pthread_create(&e->th, NULL, engine_main, e);
	if (rc) {
		snprintf(err, errlen, "cannot start the engine thread: %s", strerror(-rc));
		goto fail;
	}
	e->started = true;
	*out = e;
	return 0;
oom:
	rc = -ENOMEM;
	snprintf(err, errlen, "out of memory for the engine (kv_blocks %d, max_queued %d)",
		 p->kv_blocks, p->max_queued);
fail:
	nrv_engine_destroy(e);
	return rc;
}
