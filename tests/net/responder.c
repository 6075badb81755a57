/*
 * tests/net/responder.c - the test-only echo peer of responder.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/proto.h"
#include "net/reasm.h"
#include "net/rtx.h"
#include "responder.h"

#define MAX_JOBS 8
#define MAX_PROMPT 16384

struct job {
	int active;
	uint32_t h;                     /* rtx handle */
	struct sockaddr_in to;
	uint64_t id;
	uint8_t prompt[MAX_PROMPT];     /* the tokens to echo: one per byte */
	uint32_t n_tokens;              /* to send before FINAL */
	uint32_t next_tok;
	uint32_t prompt_tokens;
	int finish;
	int cancel;
	int64_t next_ns;
};

struct priv {
	struct nrv_reasm reasm;
	struct nrv_rtx rtx;
	struct nrv_proto_stats pst;
	struct job job[MAX_JOBS];
	long out_count, in_count;
	int64_t mute_until;             /* 0: not started */
	uint8_t buf[NRV_PROTO_MAX_PAYLOAD + 1];
	uint8_t out[NRV_PROTO_MAX_PAYLOAD];
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void send_to(struct responder *r, const struct sockaddr_in *to, const uint8_t *d,
		    size_t n, int drop_anyway)
{
	struct priv *p = r->priv;
	p->out_count++;
	if (drop_anyway || (p->mute_until && now_ns() < p->mute_until) ||
	    (r->cfg.drop_every && p->out_count % r->cfg.drop_every == 0)) {
		r->dropped++;
		return;
	}
	(void)sendto(r->fd, d, n, 0, (const struct sockaddr *)to, sizeof(*to));
}

static void send_simple(struct responder *r, const struct sockaddr_in *to, uint8_t type,
			uint64_t id, uint32_t seq, const void *pl, size_t plen)
{
	struct priv *p = r->priv;
	long n = nrv_proto_encode(p->out, sizeof(p->out), type, id, seq, 0, pl, plen);
	if (n > 0)
		send_to(r, to, p->out, (size_t)n, 0);
}

static void send_error(struct responder *r, const struct sockaddr_in *to, uint64_t id,
		       uint32_t seq, uint16_t code, const char *msg)
{
	uint8_t pl[300];
	long n = nrv_proto_error_payload(pl, sizeof(pl), code, code == NRV_PROTO_C_OVERLOADED ? 50 : 0,
					 msg);
	send_simple(r, to, NRV_PROTO_ERROR, id, seq, pl, (size_t)n);
}

/* Record a stream datagram in the window, then send it. */
static void emit(struct responder *r, struct job *j, const uint8_t *d, size_t n, int drop)
{
	struct priv *p = r->priv;
	(void)nrv_rtx_record(&p->rtx, j->h, nrv_rtx_entry(&p->rtx, j->h)->next_seq, d, n);
	send_to(r, &j->to, d, n, drop);
}

static struct nrv_proto_peer peer_of(const struct sockaddr_in *a)
{
	struct nrv_proto_peer pe;
	memset(&pe, 0, sizeof(pe));
	pe.family = AF_INET;
	pe.port = a->sin_port;
	memcpy(pe.addr, &a->sin_addr, 4);
	return pe;
}

static void send_accept(struct responder *r, const struct sockaddr_in *to, uint64_t id)
{
	struct priv *p = r->priv;
	uint8_t pl[NRV_PROTO_ACCEPT_LEN];
	nrv_proto_accept_payload(pl, p->rtx.cfg.window, NRV_PROTO_MAX_PAYLOAD);
	send_simple(r, to, NRV_PROTO_ACCEPT, id, 0, pl, sizeof(pl));
}

static void resend(struct responder *r, const struct sockaddr_in *to, uint32_t h, uint32_t first,
		   uint32_t count, uint64_t id)
{
	struct priv *p = r->priv;
	for (uint64_t s = first; s < (uint64_t)first + count; s++) {
		const uint8_t *d;
		size_t n;
		int rc = nrv_rtx_get(&p->rtx, h, (uint32_t)s, &d, &n);
		if (rc == -EAGAIN)
			break;
		if (rc == -ESTALE) {
			send_error(r, to, id, (uint32_t)s, NRV_PROTO_C_GONE, "left the window");
			break;
		}
		if (rc)
			break;   /* -EDQUOT: this request's resends are spent */
		/* d points into the ring, which send_to does not touch. */
		r->resent++;
		send_to(r, to, d, n, 0);
	}
}

static void on_request(struct responder *r, const struct sockaddr_in *from,
		       const struct nrv_proto_msg *m, int64_t t)
{
	struct priv *p = r->priv;
	struct nrv_proto_peer pe = peer_of(from);
	if (!p->mute_until && r->cfg.mute_ms)
		p->mute_until = t + (int64_t)r->cfg.mute_ms * 1000000;
	struct nrv_reasm_done d;
	int rc = nrv_reasm_add(&p->reasm, &pe, m, (uint64_t)t, &d);
	if (rc == -EBUSY || rc == -E2BIG) {
		send_error(r, from, m->h.id, 0, rc == -EBUSY ? NRV_PROTO_C_OVERLOADED
							       : NRV_PROTO_C_TOO_LARGE, "no room");
		return;
	}
	if (rc != 1)
		return;
	struct nrv_proto_request req;
	if (nrv_proto_request_parse(d.body, d.len, &req)) {
		send_error(r, from, m->h.id, 0, NRV_PROTO_C_BAD_REQUEST, "malformed request body");
		nrv_reasm_release(&p->reasm, d.slot);
		return;
	}
	uint32_t crc = nrv_proto_crc32c(0, d.body, d.len);
	uint32_t h;
	rc = nrv_rtx_admit(&p->rtx, &pe, m->h.id, crc, (uint64_t)t, &h);
	if (rc == NRV_RTX_DUP) {
		r->dup_reqs++;
		send_accept(r, from, m->h.id);
		const struct nrv_rtx_entry *e = nrv_rtx_entry(&p->rtx, h);
		if (e->next_seq)
			resend(r, from, h, 0, e->next_seq, m->h.id);
		nrv_reasm_release(&p->reasm, d.slot);
		return;
	}
	if (rc < 0) {
		send_error(r, from, m->h.id, 0,
			   rc == -EEXIST ? NRV_PROTO_C_DUPLICATE_ID : NRV_PROTO_C_OVERLOADED,
			   rc == -EEXIST ? "id in use with another body" : "table full");
		nrv_reasm_release(&p->reasm, d.slot);
		return;
	}
	struct job *j = NULL;
	for (int i = 0; i < MAX_JOBS; i++)
		if (!p->job[i].active) {
			j = &p->job[i];
			break;
		}
	if (!j) {
		nrv_rtx_drop(&p->rtx, h);
		send_error(r, from, m->h.id, 0, NRV_PROTO_C_OVERLOADED, "busy");
		nrv_reasm_release(&p->reasm, d.slot);
		return;
	}
	r->runs++;
	memset(j, 0, sizeof(*j));
	j->active = 1;
	j->h = h;
	j->to = *from;
	j->id = m->h.id;
	j->next_ns = t;
	send_accept(r, from, m->h.id);
	if (req.model_len && !(req.model_len == 4 && !memcmp(req.model, "echo", 4))) {
		/* The stream is one ERROR, recorded so a retry gets it too. */
		uint8_t pl[300];
		long n = nrv_proto_error_payload(pl, sizeof(pl), NRV_PROTO_C_UNKNOWN_MODEL, 0,
						 "unknown model: this responder serves \"echo\"");
		long dn = nrv_proto_encode(p->out, sizeof(p->out), NRV_PROTO_ERROR, j->id, 0, 0, pl,
					   (size_t)n);
		emit(r, j, p->out, (size_t)dn, 0);
		nrv_rtx_finish(&p->rtx, h, (uint64_t)t);
		j->active = 0;
		nrv_reasm_release(&p->reasm, d.slot);
		return;
	}
	uint32_t n = req.prompt_len < MAX_PROMPT ? req.prompt_len : MAX_PROMPT;
	memcpy(j->prompt, req.prompt, n);
	j->prompt_tokens = n;
	uint32_t maxt = (req.p.set & NRV_PROTO_SET_MAX_TOKENS) ? req.p.max_tokens : 16;
	j->n_tokens = n < maxt ? n : maxt;
	j->finish = n <= maxt ? NRV_PROTO_FINISH_STOP : NRV_PROTO_FINISH_LENGTH;
	nrv_reasm_release(&p->reasm, d.slot);
}

static void step_job(struct responder *r, struct job *j, int64_t t)
{
	struct priv *p = r->priv;
	uint32_t seq = nrv_rtx_entry(&p->rtx, j->h)->next_seq;
	if (!j->cancel && j->next_tok < j->n_tokens) {
		struct nrv_proto_tmpl tm;
		struct nrv_proto_tokbuf b;
		nrv_proto_tmpl_init(&tm, j->id);
		nrv_proto_tokens_begin(&b, p->out, sizeof(p->out), &tm, seq, j->next_tok);
		int per = r->cfg.tokens_per_dgram ? r->cfg.tokens_per_dgram : 1;
		for (int k = 0; k < per && j->next_tok < j->n_tokens; k++) {
			uint8_t c = j->prompt[j->next_tok];
			if (nrv_proto_tokens_add(&b, c, &c, 1))
				break;
			j->next_tok++;
		}
		emit(r, j, p->out, nrv_proto_tokens_finish(&b), 0);
		return;
	}
	struct nrv_proto_final f = {0};
	f.finish = (uint8_t)(j->cancel ? NRV_PROTO_FINISH_CANCELLED : j->finish);
	f.prompt_tokens = j->prompt_tokens;
	f.completion_tokens = j->next_tok;
	f.total_ns = 1234;
	uint8_t pl[NRV_PROTO_FINAL_LEN];
	nrv_proto_final_payload(pl, &f);
	long n = nrv_proto_encode(p->out, sizeof(p->out), NRV_PROTO_FINAL, j->id, seq, 0, pl,
				  sizeof(pl));
	emit(r, j, p->out, (size_t)n, r->cfg.drop_final_once);
	nrv_rtx_finish(&p->rtx, j->h, (uint64_t)t);
	j->active = 0;
}

static void on_dgram(struct responder *r, const struct sockaddr_in *from, size_t n, int64_t t)
{
	struct priv *p = r->priv;
	struct nrv_proto_msg m;
	if (nrv_proto_decode(p->buf, n, NULL, &m, &p->pst)) {
		r->bad++;
		return;
	}
	struct nrv_proto_peer pe = peer_of(from);
	switch (m.h.type) {
	case NRV_PROTO_REQUEST:
		p->in_count++;
		if (r->cfg.drop_in_every && p->in_count % r->cfg.drop_in_every == 0)
			return;
		on_request(r, from, &m, t);
		break;
	case NRV_PROTO_PING:
		r->pings++;
		send_simple(r, from, NRV_PROTO_PONG, m.h.id, 0, m.payload, m.h.payload_len);
		break;
	case NRV_PROTO_CANCEL:
		r->cancels++;
		for (int i = 0; i < MAX_JOBS; i++)
			if (p->job[i].active && p->job[i].id == m.h.id &&
			    p->job[i].to.sin_port == from->sin_port)
				p->job[i].cancel = 1;
		break;
	case NRV_PROTO_NACK: {
		r->nacks++;
		long h = nrv_rtx_find(&p->rtx, &pe, m.h.id);
		if (h < 0)
			break;
		for (uint16_t i = 0; i < m.u.nack.n; i++) {
			uint32_t f, c;
			nrv_proto_nack_range(&m.u.nack, i, &f, &c);
			resend(r, from, (uint32_t)h, f, c, m.h.id);
		}
		break;
	}
	default:
		r->bad++;   /* server-to-client types are not for us */
	}
}

static void *loop(void *arg)
{
	struct responder *r = arg;
	struct priv *p = r->priv;
	int64_t step = (int64_t)(r->cfg.step_us ? r->cfg.step_us : 200) * 1000;
	while (!atomic_load(&r->quit)) {
		struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
		(void)poll(&pfd, 1, 1);
		for (;;) {
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(r->fd, p->buf, sizeof(p->buf), MSG_DONTWAIT,
					     (struct sockaddr *)&from, &fl);
			if (n < 0)
				break;
			on_dgram(r, &from, (size_t)n, now_ns());
		}
		int64_t t = now_ns();
		for (int i = 0; i < MAX_JOBS; i++) {
			struct job *j = &p->job[i];
			if (j->active && t >= j->next_ns) {
				step_job(r, j, t);
				j->next_ns = t + step;
			}
		}
		nrv_reasm_expire(&p->reasm, (uint64_t)t);
		nrv_rtx_expire(&p->rtx, (uint64_t)t);
	}
	return NULL;
}

int responder_start(struct responder *r, const struct responder_cfg *cfg)
{
	memset(r, 0, sizeof(*r));
	r->cfg = *cfg;
	struct priv *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	r->priv = p;
	struct nrv_reasm_cfg rc = {.timeout_ms = 2000};
	struct nrv_rtx_cfg tc = {.window = cfg->window, .max_requests = 256, .hash_seed = 99};
	if (nrv_reasm_init(&p->reasm, &rc) || nrv_rtx_init(&p->rtx, &tc))
		return -ENOMEM;
	r->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (r->fd < 0)
		return -errno;
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof(a);
	if (bind(r->fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(r->fd, (struct sockaddr *)&a, &al))
		return -errno;
	r->port = ntohs(a.sin_port);
	if (pthread_create(&r->th, NULL, loop, r))
		return -EAGAIN;
	return 0;
}

void responder_stop(struct responder *r)
{
	atomic_store(&r->quit, 1);
	pthread_join(r->th, NULL);
	close(r->fd);
	struct priv *p = r->priv;
	nrv_reasm_fini(&p->reasm);
	nrv_rtx_fini(&p->rtx);
	free(p);
}
