/*
 * net/udp_client.c - the protocol's client over a kernel UDP socket. See
 * udp_client.h for the contract and docs/protocol.md section 5 for the
 * recovery rules implemented here.
 *
 * Buffers: the request body, one send buffer, one receive buffer and the
 * reorder ring (reorder slots of max_payload bytes) are allocated by
 * create; generate allocates nothing.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"
#include "udp_client.h"

/* Token-id prompts are sent as the caller's int32 array, byte for byte:
 * that is the wire's little-endian only on a little-endian host. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "udp_client.c sends int32 prompts as they are in memory: add a conversion for big-endian hosts"
#endif

/* The wire's and the public header's constants must agree. */
_Static_assert((int)NRV_UDP_SET_SEED == (int)NRV_PROTO_SET_SEED, "set bits");
_Static_assert((int)NRV_UDP_FINISH_TIMEOUT == (int)NRV_PROTO_FINISH_TIMEOUT, "finish reasons");

struct slot {
	uint32_t seq;
	uint16_t len;              /* 0: empty */
};

struct nrv_udp_client {
	struct nrv_udp_client_cfg cfg;   /* defaults filled in */
	struct nrv_proto_limits lim;
	int fd;
	uint64_t next_id;
	uint8_t *body;                   /* (max_request_bytes) */
	uint8_t *sbuf;                   /* (max_payload) */
	uint8_t *rbuf;                   /* (max_payload + 1): one more shows an oversized datagram */
	uint8_t *ring;                   /* (reorder, max_payload) out-of-order datagrams */
	struct slot *slot;               /* (reorder) */
	struct nrv_udp_client_stats st;
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int nrv_udp_client_create(const struct nrv_udp_client_cfg *cfg, struct nrv_udp_client **out)
{
	*out = NULL;
	struct nrv_udp_client_cfg c = *cfg;
	if (!c.max_payload)
		c.max_payload = NRV_PROTO_MAX_PAYLOAD;
	if (!c.max_request_bytes)
		c.max_request_bytes = 262144;
	if (!c.accept_timeout_ms)
		c.accept_timeout_ms = 250;
	if (!c.retries)
		c.retries = 4;
	if (c.retries < 0)
		c.retries = 0;
	if (!c.stall_timeout_ms)
		c.stall_timeout_ms = 200;
	if (!c.nack_interval_ms)
		c.nack_interval_ms = 20;
	if (!c.max_nacks)
		c.max_nacks = 8;
	if (!c.request_timeout_ms)
		c.request_timeout_ms = 60000;
	if (!c.reorder)
		c.reorder = 256;
	if (!c.host || c.accept_timeout_ms < 0 || c.stall_timeout_ms < 0 || c.nack_interval_ms < 0 ||
	    c.max_nacks < 0 || c.request_timeout_ms < 0 || c.retries > 32 || c.reorder > 65536)
		return -EINVAL;
	struct nrv_proto_limits lim = {c.max_payload, c.max_request_bytes, NRV_PROTO_MAX_FRAGS_CAP};
	if (nrv_proto_limits_fix(&lim))
		return -EINVAL;

	struct addrinfo hints = {0}, *ai = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	/* Numeric only: a name lookup could block for seconds. */
	hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST;
	const char *host = strcmp(c.host, "localhost") ? c.host : "127.0.0.1";
	char port[8];
	snprintf(port, sizeof(port), "%u", (unsigned)c.port);
	if (getaddrinfo(host, port, &hints, &ai) || !ai)
		return -EINVAL;

	struct nrv_udp_client *cl = calloc(1, sizeof(*cl));
	if (!cl) {
		freeaddrinfo(ai);
		return -ENOMEM;
	}
	cl->fd = -1;
	cl->cfg = c;
	cl->lim = lim;
	cl->body = malloc(c.max_request_bytes);
	cl->sbuf = malloc(c.max_payload);
	cl->rbuf = malloc(c.max_payload + 1);
	cl->ring = malloc((size_t)c.reorder * c.max_payload);
	cl->slot = calloc(c.reorder, sizeof(*cl->slot));
	if (!cl->body || !cl->sbuf || !cl->rbuf || !cl->ring || !cl->slot) {
		freeaddrinfo(ai);
		nrv_udp_client_destroy(cl);
		return -ENOMEM;
	}
	int rc = 0;
	cl->fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (cl->fd < 0) {
		rc = -errno;
	} else {
		/* Never let the kernel fragment a datagram: the protocol
		 * sizes them to the path MTU itself. */
		int pmtu = IP_PMTUDISC_DO;
		if (ai->ai_family == AF_INET)
			(void)setsockopt(cl->fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu));
		if (connect(cl->fd, ai->ai_addr, ai->ai_addrlen))
			rc = -errno;
	}
	freeaddrinfo(ai);
	if (rc) {
		nrv_udp_client_destroy(cl);
		return rc;
	}
	cl->next_id = c.id_seed;
	if (!cl->next_id && getrandom(&cl->next_id, sizeof(cl->next_id), 0) != sizeof(cl->next_id))
		cl->next_id = (uint64_t)now_ns() * 0x9e3779b97f4a7c15ull;
	*out = cl;
	return 0;
}

void nrv_udp_client_destroy(struct nrv_udp_client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->body);
	free(c->sbuf);
	free(c->rbuf);
	free(c->ring);
	free(c->slot);
	free(c);
}

void nrv_udp_client_stats(const struct nrv_udp_client *c, struct nrv_udp_client_stats *st)
{
	*st = c->st;
}

static uint64_t take_id(struct nrv_udp_client *c)
{
	if (c->next_id == 0)
		c->next_id = 1;
	return c->next_id++;
}

static int send_dgram(struct nrv_udp_client *c, const uint8_t *buf, size_t len)
{
	if (send(c->fd, buf, len, 0) < 0) {
		/* A full socket buffer or an ICMP error from an earlier
		 * datagram is loss like any other: the timers recover. */
		if (errno == EAGAIN || errno == ENOBUFS || errno == ECONNREFUSED || errno == EINTR)
			return 0;
		return -errno;
	}
	c->st.sent++;
	return 0;
}

static int send_simple(struct nrv_udp_client *c, uint8_t type, uint64_t id, const void *payload,
		       size_t plen)
{
	long n = nrv_proto_encode(c->sbuf, c->cfg.max_payload, type, id, 0, 0, payload, plen);
	if (n < 0)
		return (int)n;
	return send_dgram(c, c->sbuf, (size_t)n);
}

int nrv_udp_client_cancel(struct nrv_udp_client *c, uint64_t id)
{
	if (id == 0)
		return -EINVAL;
	return send_simple(c, NRV_PROTO_CANCEL, id, NULL, 0);
}

/* Receive one datagram within timeout_ms (0: only what is there).
 * Returns its length, 0 when none came, or -errno. */
static long recv_one(struct nrv_udp_client *c, int timeout_ms)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->rbuf, c->cfg.max_payload + 1, MSG_DONTWAIT);
		if (n >= 0) {
			c->st.received++;
			return n;
		}
		if (errno == EINTR)
			continue;
		if (errno == ECONNREFUSED)   /* ICMP port unreachable: loss */
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		if (timeout_ms <= 0)
			return 0;
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		int r = poll(&pfd, 1, timeout_ms);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r == 0)
			return 0;
		timeout_ms = 0;   /* readable now: one more try, no second wait */
	}
}

int nrv_udp_client_ping(struct nrv_udp_client *c, int timeout_ms, int64_t *rtt_ns)
{
	uint64_t id = take_id(c);
	int64_t t0 = now_ns();
	uint8_t pl[8];
	memcpy(pl, &t0, 8);
	int rc = send_simple(c, NRV_PROTO_PING, id, pl, sizeof(pl));
	if (rc)
		return rc;
	int64_t deadline = t0 + (int64_t)timeout_ms * 1000000;
	for (;;) {
		int64_t t = now_ns();
		if (t >= deadline)
			return -ETIMEDOUT;
		long n = recv_one(c, (int)((deadline - t + 999999) / 1000000));
		if (n < 0)
			return (int)n;
		if (n == 0)
			continue;
		struct nrv_proto_msg m;
		if (nrv_proto_decode(c->rbuf, (size_t)n, &c->lim, &m, NULL)) {
			c->st.bad++;
			continue;
		}
		if (m.h.type != NRV_PROTO_PONG || m.h.id != id || m.h.payload_len != sizeof(pl) ||
		    memcmp(m.payload, pl, sizeof(pl))) {
			c->st.stray++;
			continue;
		}
		*rtt_ns = now_ns() - t0;
		return 0;
	}
}

/* ---- generate ---- */

struct run {
	struct nrv_udp_client *c;
	const uint8_t *body;
	size_t body_len;
	uint32_t frags;
	uint64_t id;
	nrv_udp_client_token_fn fn;
	void *user;
	struct nrv_udp_client_res *res;
	int64_t t0;
	bool accepted, cancelling, done;
	int rc;                     /* result once done */
	uint32_t next_seq;          /* next datagram to deliver */
	uint32_t high;              /* one past the highest seq held */
	uint32_t next_token;        /* index of the next token expected */
	int64_t last_rx;
	int64_t next_resend;        /* of the request, while not accepted */
	int accept_wait_ms;
	int64_t next_nack;          /* of the hole at next_seq */
	int nacks_hole;
	uint32_t hole_at;           /* next_seq when nacks_hole counting began */
	int64_t next_tail;
	int64_t next_cancel;
	int cancels;
};

static int send_request(struct run *r, uint16_t flags)
{
	struct nrv_udp_client *c = r->c;
	for (uint32_t i = 0; i < r->frags; i++) {
		long n = nrv_proto_encode_fragment(c->sbuf, c->cfg.max_payload, c->cfg.max_payload,
						   r->id, flags, r->body, r->body_len, i);
		if (n < 0)
			return (int)n;
		int rc = send_dgram(c, c->sbuf, (size_t)n);
		if (rc)
			return rc;
	}
	return 0;
}

/* NACK every missing seq in [next_seq, high), up to 64 ranges; or the
 * tail {next_seq, 64} when nothing is held. */
static int send_nack(struct run *r, bool tail)
{
	struct nrv_udp_client *c = r->c;
	uint32_t first[NRV_PROTO_MAX_NACK], count[NRV_PROTO_MAX_NACK];
	uint16_t n = 0;
	if (tail) {
		first[0] = r->next_seq;
		count[0] = 64;
		n = 1;
	} else {
		uint32_t s = r->next_seq;
		while (s < r->high && n < NRV_PROTO_MAX_NACK) {
			if (c->slot[s % c->cfg.reorder].len && c->slot[s % c->cfg.reorder].seq == s) {
				s++;
				continue;
			}
			uint32_t b = s;
			while (s < r->high && s - b < NRV_PROTO_MAX_NACK_COUNT &&
			       !(c->slot[s % c->cfg.reorder].len &&
				 c->slot[s % c->cfg.reorder].seq == s))
				s++;
			first[n] = b;
			count[n] = s - b;
			n++;
		}
		if (n == 0)
			return 0;
	}
	uint8_t pl[8 * NRV_PROTO_MAX_NACK];
	long pn = nrv_proto_nack_payload(pl, sizeof(pl), first, count, n);
	if (pn < 0)
		return (int)pn;
	r->res->nacks++;
	c->st.nacks++;
	return send_simple(c, NRV_PROTO_NACK, r->id, pl, (size_t)pn);
}

static void start_cancel(struct run *r, int64_t t)
{
	if (r->cancelling)
		return;
	r->cancelling = true;
	r->cancels = 0;
	r->next_cancel = t;
}

/* Deliver one in-order datagram (decoded view m). */
static void deliver(struct run *r, const struct nrv_proto_msg *m, int64_t t)
{
	struct nrv_udp_client_res *res = r->res;
	switch (m->h.type) {
	case NRV_PROTO_TOKENS: {
		struct nrv_proto_tok_iter it;
		int32_t tok;
		const uint8_t *text;
		uint16_t len;
		uint32_t idx = m->u.tok.first_index;
		nrv_proto_tok_iter_init(&it, &m->u.tok);
		while (nrv_proto_tok_next(&it, &tok, &text, &len)) {
			if (idx++ != r->next_token)
				continue;  /* a server bug; never deliver a token twice */
			r->next_token++;
			if (res->ttft_ns < 0)
				res->ttft_ns = t - r->t0;
			if (r->fn && !r->cancelling &&
			    r->fn(r->user, idx - 1, tok, (const char *)text, len, t))
				start_cancel(r, t);
		}
		break;
	}
	case NRV_PROTO_FINAL:
		res->finish = m->u.fin.finish;
		res->prompt_tokens = m->u.fin.prompt_tokens;
		res->completion_tokens = m->u.fin.completion_tokens;
		res->queue_ns = m->u.fin.queue_ns;
		res->prefill_ns = m->u.fin.prefill_ns;
		res->decode_ns = m->u.fin.decode_ns;
		res->total_ns = m->u.fin.total_ns;
		r->done = true;
		r->rc = 0;
		break;
	case NRV_PROTO_ERROR:
		res->error_code = m->u.err.code;
		res->retry_after_ms = m->u.err.retry_after_ms;
		memcpy(res->error_msg, m->u.err.msg, m->u.err.msg_len);
		res->error_msg[m->u.err.msg_len] = 0;
		r->done = true;
		r->rc = -EREMOTEIO;
		break;
	}
}

/* Handle one received datagram of length n in c->rbuf. */
static void on_dgram(struct run *r, size_t n, int64_t t)
{
	struct nrv_udp_client *c = r->c;
	struct nrv_proto_msg m;
	if (nrv_proto_decode(c->rbuf, n, &c->lim, &m, NULL)) {
		c->st.bad++;
		return;
	}
	if (m.h.id != r->id) {
		c->st.stray++;
		return;
	}
	if (m.h.type == NRV_PROTO_ACCEPT) {
		r->accepted = true;
		r->last_rx = t;
		return;
	}
	if (m.h.type != NRV_PROTO_TOKENS && m.h.type != NRV_PROTO_FINAL &&
	    m.h.type != NRV_PROTO_ERROR) {
		c->st.stray++;
		return;
	}
	r->accepted = true;
	r->last_rx = t;
	uint32_t seq = m.h.seq;
	if (seq < r->next_seq) {
		r->res->dups++;
		c->st.dups++;
		return;
	}
	if (seq - r->next_seq >= c->cfg.reorder)
		return;  /* beyond what we can hold: it will be NACKed later */
	if (seq == r->next_seq) {
		deliver(r, &m, t);
		r->next_seq++;
		/* Then whatever was waiting behind it. */
		for (;;) {
			struct slot *s = &c->slot[r->next_seq % c->cfg.reorder];
			if (r->done || !s->len || s->seq != r->next_seq)
				break;
			uint8_t *d = c->ring + (size_t)(r->next_seq % c->cfg.reorder) * c->cfg.max_payload;
			struct nrv_proto_msg hm;
			(void)nrv_proto_decode(d, s->len, &c->lim, &hm, NULL);
			s->len = 0;
			deliver(r, &hm, t);
			r->next_seq++;
		}
		if (r->high < r->next_seq)
			r->high = r->next_seq;
		return;
	}
	/* Out of order: hold it, and NACK the hole at once if it is new. */
	struct slot *s = &c->slot[seq % c->cfg.reorder];
	if (s->len && s->seq == seq) {
		r->res->dups++;
		c->st.dups++;
		return;
	}
	memcpy(c->ring + (size_t)(seq % c->cfg.reorder) * c->cfg.max_payload, c->rbuf, n);
	s->seq = seq;
	s->len = (uint16_t)n;
	if (seq > r->high) {
		/* Seqs between high and seq were never seen: a new hole. */
		r->res->gaps++;
		c->st.gaps++;
		r->next_nack = t;   /* NACK in this iteration */
	}
	if (seq + 1 > r->high)
		r->high = seq + 1;
}

int nrv_udp_client_generate(struct nrv_udp_client *c, const struct nrv_udp_client_req *req,
			    nrv_udp_client_token_fn on_token, void *user,
			    struct nrv_udp_client_res *res)
{
	memset(res, 0, sizeof(*res));
	res->ttft_ns = -1;
	if (req->n_stop < 0 || req->n_stop > NRV_PROTO_MAX_STOP)
		return -EINVAL;

	struct nrv_proto_request pr = {0};
	pr.p.set = req->set;
	pr.p.max_tokens = req->max_tokens;
	pr.p.temperature = req->temperature;
	pr.p.top_p = req->top_p;
	pr.p.top_k = req->top_k;
	pr.p.min_p = req->min_p;
	pr.p.repeat_penalty = req->repeat_penalty;
	pr.p.frequency_penalty = req->frequency_penalty;
	pr.p.presence_penalty = req->presence_penalty;
	pr.p.penalty_last_n = req->penalty_last_n;
	pr.p.seed = req->seed;
	pr.req_flags = req->ignore_eos ? NRV_PROTO_RF_IGNORE_EOS : 0;
	size_t ml = req->model ? strlen(req->model) : 0;
	if (ml > 255)
		return -EINVAL;
	pr.model = req->model;
	pr.model_len = (uint8_t)ml;
	pr.n_stop = (uint8_t)req->n_stop;
	for (int i = 0; i < req->n_stop; i++) {
		size_t sl = req->stop[i] ? strlen(req->stop[i]) : 0;
		if (sl == 0 || sl > 255)
			return -EINVAL;
		pr.stop[i] = req->stop[i];
		pr.stop_len[i] = (uint8_t)sl;
	}
	size_t plen;
	if (req->prompt_ids) {
		pr.prompt_kind = NRV_PROTO_PROMPT_IDS;
		pr.prompt = (const uint8_t *)req->prompt_ids;  /* little-endian hosts only */
		plen = req->n_prompt_ids * 4;
	} else {
		if (!req->prompt)
			return -EINVAL;
		pr.prompt_kind = NRV_PROTO_PROMPT_TEXT;
		pr.prompt = (const uint8_t *)req->prompt;
		plen = req->prompt_len ? req->prompt_len : strlen(req->prompt);
	}
	if (plen > c->cfg.max_request_bytes)
		return -E2BIG;
	pr.prompt_len = (uint32_t)plen;
	if (nrv_proto_request_size(&pr) > c->cfg.max_request_bytes)
		return -E2BIG;
	long bl = nrv_proto_request_encode(&pr, c->body, c->cfg.max_request_bytes);
	if (bl < 0)
		return bl == -ENOSPC ? -E2BIG : (int)bl;

	struct run r = {0};
	r.c = c;
	r.body = c->body;
	r.body_len = (size_t)bl;
	r.frags = nrv_proto_frag_count(r.body_len, c->cfg.max_payload);
	if (r.frags > NRV_PROTO_MAX_FRAGS_CAP)
		return -E2BIG;
	r.id = take_id(c);
	r.fn = on_token;
	r.user = user;
	r.res = res;
	res->id = r.id;
	for (uint32_t i = 0; i < c->cfg.reorder; i++)
		c->slot[i].len = 0;

	const int64_t ms = 1000000;
	r.t0 = now_ns();
	int64_t deadline = r.t0 + (int64_t)c->cfg.request_timeout_ms * ms;
	r.accept_wait_ms = c->cfg.accept_timeout_ms;
	r.next_resend = r.t0 + (int64_t)r.accept_wait_ms * ms;
	r.last_rx = r.t0;
	r.next_nack = INT64_MAX;
	r.hole_at = UINT32_MAX;
	int retries = 0;
	int rc = send_request(&r, 0);
	if (rc)
		return rc;

	while (!r.done) {
		int64_t t = now_ns();
		if (t >= deadline) {
			(void)nrv_udp_client_cancel(c, r.id);
			rc = -ETIMEDOUT;
			goto out;
		}
		int64_t wake = deadline;
		if (r.cancelling) {
			if (t >= r.next_cancel) {
				if (r.cancels == 3) {
					rc = -ETIMEDOUT;  /* the server never confirmed */
					goto out;
				}
				(void)nrv_udp_client_cancel(c, r.id);
				r.cancels++;
				/* The last wait is long enough for a FINAL lost
				 * once to be NACKed back. */
				r.next_cancel = t + (int64_t)(r.cancels == 3 ? c->cfg.stall_timeout_ms * 2
								 : c->cfg.nack_interval_ms) * ms;
			}
			if (r.next_cancel < wake)
				wake = r.next_cancel;
		}
		if (!r.accepted) {
			if (t >= r.next_resend) {
				if (retries >= c->cfg.retries) {
					rc = -ETIMEDOUT;
					goto out;
				}
				retries++;
				res->retries++;
				c->st.retries++;
				rc = send_request(&r, NRV_PROTO_F_RETRY);
				if (rc)
					goto out;
				r.accept_wait_ms *= 2;
				r.next_resend = t + (int64_t)r.accept_wait_ms * ms;
			}
			if (r.next_resend < wake)
				wake = r.next_resend;
		} else if (r.high > r.next_seq) {
			/* A hole at next_seq: NACK it until it fills. */
			if (r.hole_at != r.next_seq) {
				r.hole_at = r.next_seq;
				r.nacks_hole = 0;
			}
			if (t >= r.next_nack) {
				if (r.nacks_hole >= c->cfg.max_nacks) {
					rc = -ETIMEDOUT;
					goto out;
				}
				r.nacks_hole++;
				rc = send_nack(&r, false);
				if (rc)
					goto out;
				r.next_nack = t + (int64_t)c->cfg.nack_interval_ms * ms;
			}
			if (r.next_nack < wake)
				wake = r.next_nack;
		} else {
			/* Nothing held: after a silence, NACK the tail. */
			r.next_nack = t;  /* a future hole is NACKed at once */
			int64_t due = r.last_rx + (int64_t)c->cfg.stall_timeout_ms * ms;
			if (r.next_tail > due)
				due = r.next_tail;
			if (t >= due) {
				rc = send_nack(&r, true);
				if (rc)
					goto out;
				r.next_tail = t + (int64_t)c->cfg.stall_timeout_ms * ms;
				due = r.next_tail;
			}
			if (due < wake)
				wake = due;
		}
		int wait_ms = wake > t ? (int)((wake - t + ms - 1) / ms) : 0;
		long n = recv_one(c, wait_ms);
		if (n < 0) {
			rc = (int)n;
			goto out;
		}
		/* Drain everything that is there before the timers run again. */
		while (n > 0 && !r.done) {
			on_dgram(&r, (size_t)n, now_ns());
			n = recv_one(c, 0);
			if (n < 0) {
				rc = (int)n;
				goto out;
			}
		}
	}
	rc = r.rc;
out:
	res->e2e_ns = now_ns() - r.t0;
	return rc;
}
