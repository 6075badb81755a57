/*
 * src/httpc.h - a small HTTP/1.1 client for the load generator: one
 * non-blocking connection per slot, kept alive between requests, driven by
 * the caller's poll() loop. No threads, no TLS.
 *
 * Three layers, each usable alone:
 *   - nrv_httpc_parse_head(): a stateless response-head parser (status line
 *     and the headers that frame the body);
 *   - struct nrv_chunked: an incremental decoder of chunked transfer coding
 *     that works in place, fed bytes split anywhere;
 *   - struct nrv_httpc: one connection. nrv_httpc_start() queues a request
 *     (connecting first when there is no open connection), the caller polls
 *     nrv_httpc_fd() for nrv_httpc_events() and calls nrv_httpc_step() when
 *     it is ready; the response body arrives decoded through a callback.
 *
 * Everything read from the network is treated as hostile: heads are bounded
 * (64 KiB), chunk sizes and Content-Length are overflow-checked, and every
 * wait is bounded by the request's deadline, which the caller enforces with
 * nrv_httpc_deadline() / nrv_httpc_timeout().
 */
#ifndef NRV_HTTPC_H
#define NRV_HTTPC_H

#include <netdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define NRV_HTTPC_MAX_HEAD (64 * 1024)

/* ---- URLs ---- */

struct nrv_url {
	char host[256];		/* as written, without brackets for IPv6 */
	char port[8];		/* decimal; "80" when absent */
	char prefix[512];	/* path before the API paths, no trailing '/' ("" for none) */
	char hostport[272];	/* the Host header's value */
	struct sockaddr_storage addr;	/* resolved by nrv_url_resolve() */
	socklen_t addr_len;
};

/* Parse "http://host[:port][/prefix]". A trailing "/v1" in the prefix is
 * dropped (the API paths carry it). Returns 0, or -EINVAL with err set. */
int nrv_url_parse(const char *s, struct nrv_url *u, char *err, size_t errlen);
/* Resolve host:port (blocking getaddrinfo, once, before any request).
 * Returns 0 or -EHOSTUNREACH with err set. */
int nrv_url_resolve(struct nrv_url *u, char *err, size_t errlen);

/* ---- response head ---- */

struct nrv_http_head {
	int status;		/* 100..599 */
	int minor;		/* HTTP/1.minor */
	int64_t content_length;	/* -1: none given */
	bool chunked;		/* Transfer-Encoding ends in chunked */
	bool close;		/* the server closes after this response */
	char content_type[96];	/* lowercased, parameters kept, truncated */
};

/* Parse a response head from buf[0..n). Returns the head's length in bytes
 * (through the blank line), -EAGAIN when the head is not complete yet, or
 * -EBADMSG for a malformed head (err says why). Lines may end in CRLF or
 * LF. */
int nrv_httpc_parse_head(const char *buf, size_t n, struct nrv_http_head *h, char *err, size_t errlen);

/* ---- chunked transfer coding ---- */

struct nrv_chunked {
	int state;		/* private */
	uint64_t left;		/* bytes left in the current chunk */
	unsigned digits;	/* hex digits of the size read so far */
	size_t line;		/* bytes of the current size/trailer line, bounded */
	size_t trailer;		/* bytes of trailers so far, bounded */
	bool done;		/* the last chunk and the trailers were read */
};

void nrv_chunked_init(struct nrv_chunked *c);
/* Decode buf[0..n) in place: the body bytes it holds are moved to
 * buf[0..*out). Returns the number of input bytes consumed (less than n only
 * once c->done is set: the rest follows the message), or -EBADMSG. */
long nrv_chunked_decode(struct nrv_chunked *c, char *buf, size_t n, size_t *out);

/* ---- one connection ---- */

enum nrv_httpc_state {
	NRV_HTTPC_IDLE,		/* no request in flight (connection open or not) */
	NRV_HTTPC_CONNECTING,
	NRV_HTTPC_SENDING,
	NRV_HTTPC_HEAD,		/* waiting for / reading the response head */
	NRV_HTTPC_BODY,
};

struct nrv_httpc_cb {
	/* The head arrived. Return nonzero to abort the request. */
	int (*on_head)(void *ud, const struct nrv_http_head *h);
	/* Decoded body bytes (valid during the call only). Nonzero aborts. */
	int (*on_body)(void *ud, const char *data, size_t n);
};

struct nrv_httpc {
	const struct nrv_url *url;	/* not owned */
	int fd;			/* -1 when no connection is open */
	enum nrv_httpc_state state;
	char *req;		/* the request being sent (kept for a retry) */
	size_t req_len, req_cap, req_off;
	char *rbuf;		/* received bytes not yet consumed */
	size_t rlen, rcap;
	struct nrv_http_head head;
	struct nrv_chunked chunk;
	uint64_t body_left;	/* Content-Length framing: bytes still to come */
	int framing;		/* private: how the body ends */
	int64_t deadline_ns;	/* CLOCK_MONOTONIC; the caller times out the request */
	bool reused;		/* the request went out on a kept-alive connection */
	bool got_bytes;		/* any response byte arrived */
	bool retried;		/* already resent once after a stale keep-alive */
	uint64_t n_connects;	/* connections opened by this slot */
	char err[256];		/* the last error, for messages */
};

/* Caller-owned storage; no connection is opened until a request starts. */
int nrv_httpc_init(struct nrv_httpc *c, const struct nrv_url *url);
void nrv_httpc_fini(struct nrv_httpc *c);
/* Close the connection (a new request then reconnects). */
void nrv_httpc_close(struct nrv_httpc *c);

/* Start a request: method, path (prefixed with the URL's), extra header
 * lines (each ending in "\r\n", may be NULL) and a body (may be NULL).
 * Reuses the open connection or starts a non-blocking connect. deadline_ns
 * is recorded for the caller's loop. Returns 0, or -errno with c->err set
 * (the connection is then closed and the slot idle). */
int nrv_httpc_start(struct nrv_httpc *c, const char *method, const char *path, const char *headers,
		    const char *body, size_t body_len, int64_t deadline_ns);

/* The fd to poll (-1 when idle without a connection) and the poll events
 * the current state waits for. */
int nrv_httpc_fd(const struct nrv_httpc *c);
short nrv_httpc_events(const struct nrv_httpc *c);

/* Make progress after poll() reported revents on the fd (0 is allowed: it
 * just tries). Returns 0 while the request is in flight, 1 when the
 * response is complete (the slot is idle again, the connection kept unless
 * the server closes it), or -errno with c->err set (the connection is
 * closed, the slot idle). A callback's nonzero return ends the request with
 * -ECANCELED. A reused connection the server had closed before answering is
 * reopened and the request resent once, transparently. */
int nrv_httpc_step(struct nrv_httpc *c, short revents, const struct nrv_httpc_cb *cb, void *ud);

/* Abandon the request in flight because its deadline passed: closes the
 * connection and returns -ETIMEDOUT with c->err set. */
int nrv_httpc_timeout(struct nrv_httpc *c);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t nrv_httpc_now_ns(void);

/* One whole request, waiting for it (for set-up calls such as GET
 * /v1/models, never inside the measured run). The body is returned
 * NUL-terminated in *out (malloc'd, at most max_body bytes, caller frees),
 * the status in *status. Returns 0 or -errno with err set. */
int nrv_httpc_fetch(const struct nrv_url *url, const char *method, const char *path, const char *headers,
		    const char *body, double timeout_s, size_t max_body, int *status, char **out,
		    char *err, size_t errlen);

#endif
