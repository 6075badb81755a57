/*
 * net/uring/http.c - the HTTP/1.1 server on io_uring (see http.h).
 *
 * One thread, one ring. Every connection lives in a slot of an array
 * allocated at create (max_connections plus a few reserve slots that answer
 * 503 to the connections over the limit). A slot holds the socket, an input
 * buffer (the request is parsed and de-chunked in place there), two output
 * buffers and its place in one timer list.
 *
 * Operations in flight per connection: at most one recv and one send. The
 * recv takes a buffer from the provided-buffer ring (the kernel picks it
 * when data arrives, so idle connections hold no receive memory) and its
 * bytes are appended to the connection's input buffer; without provided
 * buffers the recv reads straight into the input buffer. The send always
 * covers the "sending" buffer, which nothing touches while the kernel may
 * read it; responses append to the "pending" buffer, which becomes the next
 * send: every chunk written between two sends goes out in one send, in
 * order.
 *
 * Timers: each kind of timeout has a fixed duration, so appending a
 * connection to its kind's list when its timer starts keeps every list
 * sorted by deadline. A tick every 100 ms pops expired heads: O(1) per
 * timer start and per expiry, whatever the number of connections.
 *
 * Callbacks never run inside an API call: work a callback triggers on the
 * same connection (the next pipelined request, a deferred on_close) goes
 * through the "dirty" list that the loop drains after each batch of
 * completions, which also submits the sends (batching).
 */
#include "net/uring/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "net/http_parse.h"

#define TICK_MS 100
#define LINGER_MS 2000       /* reading what a closed-on client still sends */
#define RESERVE_SLOTS 16     /* slots that answer 503 past max_connections */
#define RECV_BUF_SIZE 16384  /* one provided buffer */
#define RECV_BUF_COUNT 256   /* provided buffers (power of two) */
#define RECV_BGID 7
#define IN_BUF_MIN 4096
#define OUT_BUF_MIN 4096
#define RING_ENTRIES 1024

enum op { OP_ACCEPT = 1, OP_RECV, OP_SEND, OP_TICK, OP_WAKE, OP_STOP };

enum cstate {
	CS_FREE = 0,
	CS_READ,    /* reading a request (rstate says how far) */
	CS_BUSY,    /* the application holds the request */
	CS_CLOSING, /* last response queued: drain it, then linger */
	CS_LINGER,  /* write side shut: discard input until EOF or LINGER_MS */
	CS_DEAD,    /* closed for the application: waiting for its operations */
};

enum rstate { RS_IDLE = 0, RS_HEAD, RS_BODY };
enum resp { RESP_NONE = 0, RESP_STREAM, RESP_DONE };
enum tkind { T_IDLE = 0, T_HEADER, T_BODY, T_LINGER, T_KINDS, T_NONE = -1 };

struct obuf {
	char *p;
	size_t len, cap; /* bytes */
};

struct conn {
	int fd;
	uint32_t gen;            /* bumped per request and at close: handles go stale */
	uint8_t state, rstate, resp;
	bool recv_armed, send_armed;
	bool refusing;           /* a reserve slot answering 503 */
	bool peer_eof;
	bool dirty, process;     /* on the dirty list; input to look at */
	bool notify;             /* on_close owed (deferred) */
	uint32_t notify_gen;
	/* response */
	bool keep, head, http11, chunked_out, close_after;
	/* input: [in_start, in_len) is the current request, then pipelined bytes */
	char *in;
	size_t in_cap, in_start, in_len;
	size_t scan;             /* bytes after in_start searched for the header end */
	size_t parsed_at;        /* bytes after in_start at the last partial parse */
	size_t hdr_end;          /* offset where the body starts */
	size_t body_wr, body_rd; /* chunked: decoded end, next raw byte */
	size_t req_end;          /* offset of the next request (while busy) */
	struct nrv_http_framing fr;
	struct nrv_http_dechunk dc;
	/* output */
	struct obuf sending, pending;
	size_t sent;             /* bytes of sending already sent */
	/* timer */
	int8_t tkind;
	int64_t deadline;        /* ms, CLOCK_MONOTONIC */
	struct conn *tprev, *tnext;
	struct conn *dnext;
};

struct tlist {
	struct conn *head, *tail;
};

struct nrv_http_server {
	struct io_uring ring;
	bool ring_ok;
	int listen_fd, port;
	int stop_fd, wake_fd;
	atomic_int stopping;
	struct nrv_http_limits lim;
	struct nrv_http_handlers h;
	struct conn *conns;
	uint32_t nslots;
	uint32_t *free_slots;
	uint32_t nfree;
	int open, refusing;
	struct tlist timers[T_KINDS];
	int64_t tdur[T_KINDS];   /* ms */
	struct conn *dirty;
	bool use_bufring;
	struct io_uring_buf_ring *br;
	size_t br_len;
	char *bufs;              /* RECV_BUF_COUNT * RECV_BUF_SIZE */
	bool accept_armed, accept_multishot, accept_paused;
	bool tick_armed, wake_armed, stop_armed;
	int64_t now;             /* ms, CLOCK_MONOTONIC, per loop iteration */
	time_t date_sec;
	char date[40];           /* "Sat, 28 Nov 2026 17:41:12 GMT" */
	struct __kernel_timespec tick_ts;
	uint64_t stop_val, wake_val;
	struct nrv_http_request req; /* scratch: the request given to on_request */
	struct nrv_http_stats st;
};

/* ------------------------------------------------------------------ misc */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void update_date(struct nrv_http_server *s)
{
	time_t t = time(NULL);
	if (t == s->date_sec)
		return;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(s->date, sizeof(s->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	s->date_sec = t;
}

static const char *reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return status < 200 ? "Informational" : status < 300 ? "OK" :
			status < 400 ? "Redirect" : status < 500 ? "Client Error" : "Server Error";
	}
}

static uint64_t ud(enum op op, uint32_t slot)
{
	return ((uint64_t)op << 56) | slot;
}

static struct io_uring_sqe *sqe_get(struct nrv_http_server *s)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
	if (!sqe) {
		/* The submission queue is full: hand it to the kernel, which
		 * empties it, so the second try cannot fail. */
		io_uring_submit(&s->ring);
		sqe = io_uring_get_sqe(&s->ring);
	}
	return sqe;
}

/* ---------------------------------------------------------------- timers */

static void timer_clear(struct nrv_http_server *s, struct conn *c)
{
	if (c->tkind == T_NONE)
		return;
	struct tlist *l = &s->timers[c->tkind];
	if (c->tprev)
		c->tprev->tnext = c->tnext;
	else
		l->head = c->tnext;
	if (c->tnext)
		c->tnext->tprev = c->tprev;
	else
		l->tail = c->tprev;
	c->tprev = c->tnext = NULL;
	c->tkind = T_NONE;
}

static void timer_set(struct nrv_http_server *s, struct conn *c, int kind)
{
	timer_clear(s, c);
	struct tlist *l = &s->timers[kind];
	c->tkind = (int8_t)kind;
	c->deadline = s->now + s->tdur[kind];
	c->tprev = l->tail;
	c->tnext = NULL;
	if (l->tail)
		l->tail->tnext = c;
	else
		l->head = c;
	l->tail = c;
}

/* --------------------------------------------------------------- buffers */

static int obuf_reserve(struct obuf *b, size_t more)
{
	if (b->cap - b->len >= more)
		return 0;
	size_t cap = b->cap ? b->cap : OUT_BUF_MIN;
	while (cap - b->len < more)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* Unsent bytes queued on c. */
static size_t out_queued(const struct conn *c)
{
	return (c->sending.len - c->sent) + c->pending.len;
}

static void mark_dirty(struct nrv_http_server *s, struct conn *c)
{
	if (c->dirty)
		return;
	c->dirty = true;
	c->dnext = s->dirty;
	s->dirty = c;
}

/* Append to the pending output. -ENOBUFS past max_pending_out (unless
 * force: the server's own short answers), -ENOMEM. */
static int out_append(struct nrv_http_server *s, struct conn *c, const void *p, size_t n,
		      bool force)
{
	if (!force && out_queued(c) + n > s->lim.max_pending_out)
		return -ENOBUFS;
	int r = obuf_reserve(&c->pending, n);
	if (r)
		return r;
	memcpy(c->pending.p + c->pending.len, p, n);
	c->pending.len += n;
	mark_dirty(s, c);
	return 0;
}

/* Move the unread input to the start of the buffer. Only while no recv
 * writes into it (always true with provided buffers). */
static void in_compact(struct nrv_http_server *s, struct conn *c)
{
	if (c->in_start == 0 || (!s->use_bufring && c->recv_armed))
		return;
	size_t d = c->in_start;
	memmove(c->in, c->in + d, c->in_len - d);
	c->in_len -= d;
	c->in_start = 0;
	if (c->hdr_end >= d)
		c->hdr_end -= d;
	if (c->body_wr >= d)
		c->body_wr -= d;
	if (c->body_rd >= d)
		c->body_rd -= d;
	if (c->req_end >= d)
		c->req_end -= d;
}

static int in_reserve(struct conn *c, size_t more)
{
	if (c->in_cap - c->in_len >= more)
		return 0;
	size_t cap = c->in_cap ? c->in_cap : IN_BUF_MIN;
	while (cap - c->in_len < more)
		cap *= 2;
	char *p = realloc(c->in, cap);
	if (!p)
		return -ENOMEM;
	c->in = p;
	c->in_cap = cap;
	return 0;
}

/* ----------------------------------------------------------- connections */

static struct nrv_http_conn handle_of(const struct nrv_http_server *s, const struct conn *c)
{
	struct nrv_http_conn h = { (uint32_t)(c - s->conns), c->gen };
	return h;
}

static void conn_release(struct nrv_http_server *s, struct conn *c)
{
	/* Not while on the dirty list either: the list runs through the slot,
	 * and draining it releases the slot a moment later. */
	if (c->state != CS_DEAD || c->recv_armed || c->send_armed || c->notify || c->dirty)
		return;
	close(c->fd);
	free(c->in);
	free(c->sending.p);
	free(c->pending.p);
	uint32_t gen = c->gen;
	memset(c, 0, sizeof(*c));
	c->gen = gen;
	c->fd = -1;
	c->tkind = T_NONE;
	s->free_slots[s->nfree++] = (uint32_t)(c - s->conns);
}

/* Close c for good. When the application holds its request, on_close
 * fires: now, or from the loop when defer (inside an API call). */
static void conn_kill(struct nrv_http_server *s, struct conn *c, bool defer)
{
	if (c->state == CS_DEAD || c->state == CS_FREE)
		return;
	bool owed = c->state == CS_BUSY && s->h.on_close;
	struct nrv_http_conn h = handle_of(s, c);
	c->state = CS_DEAD;
	c->gen++;
	timer_clear(s, c);
	if (c->refusing)
		s->refusing--;
	else
		s->open--;
	/* Wake the operations in flight: a pending recv returns 0 and a
	 * pending send fails, and their completions release the slot. */
	if (c->recv_armed || c->send_armed)
		shutdown(c->fd, SHUT_RDWR);
	if (owed) {
		if (defer) {
			c->notify = true;
			c->notify_gen = h.gen;
			mark_dirty(s, c);
		} else {
			s->h.on_close(s->h.app, h);
		}
	}
	conn_release(s, c);
}

static void arm_recv(struct nrv_http_server *s, struct conn *c)
{
	struct io_uring_sqe *sqe;
	if (s->use_bufring) {
		sqe = sqe_get(s);
		io_uring_prep_recv(sqe, c->fd, NULL, RECV_BUF_SIZE, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = RECV_BGID;
	} else {
		if (c->state == CS_READ || c->state == CS_LINGER)
			in_compact(s, c);
		if (c->state == CS_LINGER)
			c->in_start = c->in_len = 0;
		if (in_reserve(c, IN_BUF_MIN / 2)) {
			conn_kill(s, c, false);
			return;
		}
		sqe = sqe_get(s);
		io_uring_prep_recv(sqe, c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
	}
	io_uring_sqe_set_data64(sqe, ud(OP_RECV, (uint32_t)(c - s->conns)));
	c->recv_armed = true;
}

static void start_send(struct nrv_http_server *s, struct conn *c)
{
	if (c->sent == c->sending.len) {
		struct obuf t = c->sending;
		c->sending = c->pending;
		c->pending = t;
		c->pending.len = 0;
		c->sent = 0;
	}
	struct io_uring_sqe *sqe = sqe_get(s);
	io_uring_prep_send(sqe, c->fd, c->sending.p + c->sent, c->sending.len - c->sent,
			   MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, ud(OP_SEND, (uint32_t)(c - s->conns)));
	c->send_armed = true;
}

static bool wants_recv(const struct nrv_http_server *s, const struct conn *c)
{
	if (c->peer_eof)
		return false;
	switch (c->state) {
	case CS_READ:
	case CS_LINGER:
		return true;
	case CS_BUSY:
		/* Read ahead (pipelined requests, or the EOF of a client that
		 * went away) while what is buffered stays small. */
		return c->in_len - c->req_end < s->lim.max_header_bytes;
	default:
		return false;
	}
}

/* Bring c's operations in line with its state. */
static void conn_update(struct nrv_http_server *s, struct conn *c)
{
	if (c->state == CS_DEAD) {
		conn_release(s, c);
		return;
	}
	if (!c->send_armed && out_queued(c) > 0)
		start_send(s, c);
	if (c->state == CS_CLOSING && !c->send_armed && out_queued(c) == 0) {
		/* Everything is sent: shut our side, then read what the client
		 * still sends so that closing does not reset the connection
		 * before it read the answer. */
		shutdown(c->fd, SHUT_WR);
		c->state = CS_LINGER;
		timer_set(s, c, T_LINGER);
		if (c->peer_eof) {
			conn_kill(s, c, false);
			return;
		}
	}
	if (!c->recv_armed && wants_recv(s, c))
		arm_recv(s, c);
}

static size_t json_escape(char *dst, size_t cap, const char *src)
{
	size_t n = 0;
	for (; *src && n + 7 < cap; src++) {
		unsigned char ch = (unsigned char)*src;
		if (ch == '"' || ch == '\\') {
			dst[n++] = '\\';
			dst[n++] = (char)ch;
		} else if (ch < 0x20) {
			n += (size_t)snprintf(dst + n, cap - n, "\\u%04x", ch);
		} else {
			dst[n++] = (char)ch;
		}
	}
	dst[n] = 0;
	return n;
}

/* Format and queue a status line and headers. len < 0: no Content-Length
 * (chunked when chunked, else close-delimited). */
static int put_head(struct nrv_http_server *s, struct conn *c, int status, const char *ctype,
		    const char *extra, long long len, bool chunked, bool close, bool force)
{
	char h[1024];
	int n = snprintf(h, sizeof(h), "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, reason(status),
			 s->date);
	if (ctype && n >= 0 && (size_t)n < sizeof(h))
		n += snprintf(h + n, sizeof(h) - (size_t)n, "Content-Type: %s\r\n", ctype);
	if (len >= 0 && n >= 0 && (size_t)n < sizeof(h))
		n += snprintf(h + n, sizeof(h) - (size_t)n, "Content-Length: %lld\r\n", len);
	if (chunked && n >= 0 && (size_t)n < sizeof(h))
		n += snprintf(h + n, sizeof(h) - (size_t)n, "Transfer-Encoding: chunked\r\n");
	if (n >= 0 && (size_t)n < sizeof(h)) {
		if (close)
			n += snprintf(h + n, sizeof(h) - (size_t)n, "Connection: close\r\n");
		else if (c->keep && !c->http11)
			n += snprintf(h + n, sizeof(h) - (size_t)n, "Connection: keep-alive\r\n");
	}
	if (n < 0 || (size_t)n >= sizeof(h) - 2)
		return -EINVAL; /* a content type of a kilobyte is a bug */
	size_t elen = extra ? strlen(extra) : 0;
	/* Whole header lines only: a missing CRLF or an empty line would
	 * change where the body starts. */
	if (elen && (elen < 4 || memcmp(extra + elen - 2, "\r\n", 2) != 0 ||
		     memmem(extra, elen, "\r\n\r\n", 4) != NULL || extra[0] == '\r'))
		return -EINVAL;
	if (!force && out_queued(c) + (size_t)n + elen + 2 > s->lim.max_pending_out)
		return -ENOBUFS;
	int r = out_append(s, c, h, (size_t)n, true);
	if (!r && elen)
		r = out_append(s, c, extra, elen, true);
	if (!r)
		r = out_append(s, c, "\r\n", 2, true);
	return r;
}

/* The HTTP layer's own answer, then close. */
static void conn_fail(struct nrv_http_server *s, struct conn *c, int status, const char *msg)
{
	if (status == 408)
		s->st.timed_out++;
	else if (status != 503)
		s->st.bad_requests++;
	char body[768], esc[512];
	json_escape(esc, sizeof(esc), msg);
	int n = snprintf(body, sizeof(body),
			 "{\"error\":{\"message\":\"%s\",\"type\":\"%s\",\"param\":null,\"code\":null}}",
			 esc, status >= 500 ? "server_error" : "invalid_request_error");
	if (n < 0 || (size_t)n >= sizeof(body))
		n = (int)strlen(body);
	c->fr.keep_alive = false;
	if (put_head(s, c, status, "application/json", NULL, n, false, true, true) ||
	    out_append(s, c, body, (size_t)n, true)) {
		conn_kill(s, c, false);
		return;
	}
	c->state = CS_CLOSING;
	c->close_after = true;
	timer_set(s, c, T_IDLE); /* a client that never reads it is cut */
	mark_dirty(s, c);
}

static void dispatch(struct nrv_http_server *s, struct conn *c, bool fresh, size_t body_len,
		     size_t next)
{
	if (!fresh) {
		/* The scratch request may describe another connection by now,
		 * or the buffer moved: parse the header block again. */
		int r = nrv_http_parse_request(c->in + c->in_start, c->hdr_end - c->in_start,
					       &s->req, NULL);
		if (r <= 0) {
			conn_fail(s, c, 400, "the request header could not be parsed again");
			return;
		}
	}
	s->req.body = c->in + c->hdr_end;
	s->req.body_len = body_len;
	s->req.keep_alive = c->fr.keep_alive;
	c->req_end = next;
	c->state = CS_BUSY;
	c->resp = RESP_NONE;
	c->keep = c->fr.keep_alive;
	c->head = c->fr.is_head;
	c->http11 = s->req.minor_version >= 1;
	c->close_after = false;
	c->gen++;
	timer_clear(s, c);
	s->h.on_request(s->h.app, handle_of(s, c), &s->req);
}

/* Look at c's input: parse, read the body, hand complete requests over. */
static void conn_process(struct nrv_http_server *s, struct conn *c)
{
	bool fresh = false;
	if (c->state != CS_READ)
		return;
	if (c->in_start == c->in_len || c->in_start > c->in_cap / 2)
		in_compact(s, c);
	if (c->rstate != RS_BODY) {
		/* Empty lines before a request are allowed (RFC 9112 2.2). */
		while (c->in_len - c->in_start >= 2 && c->in[c->in_start] == '\r' &&
		       c->in[c->in_start + 1] == '\n')
			c->in_start += 2;
		size_t avail = c->in_len - c->in_start;
		if (avail == 0)
			return;
		if (c->rstate == RS_IDLE) {
			c->rstate = RS_HEAD;
			c->scan = 0;
			c->parsed_at = 0;
			timer_set(s, c, T_HEADER);
		}
		const char *base = c->in + c->in_start;
		size_t from = c->scan > 3 ? c->scan - 3 : 0;
		const char *e = avail > from ? memmem(base + from, avail - from, "\r\n\r\n", 4) : NULL;
		size_t hlen = e ? (size_t)(e - base) + 4 : avail;
		c->scan = avail;
		if (hlen > s->lim.max_header_bytes) {
			char msg[160];
			snprintf(msg, sizeof(msg),
				 "the request line and headers exceed %zu bytes: send fewer or shorter headers",
				 s->lim.max_header_bytes);
			conn_fail(s, c, 431, msg);
			return;
		}
		/* Without the end of the header block, parse the prefix only
		 * when it has doubled since the last try: garbage is refused
		 * early, and a client sending a byte at a time costs O(n). */
		if (!e && avail < 2 * c->parsed_at)
			return;
		c->parsed_at = avail;
		const char *why = "malformed request";
		int r = nrv_http_parse_request(base, hlen, &s->req, &why);
		if (r == -EAGAIN) {
			if (e) /* a terminator the parser does not see as one */
				conn_fail(s, c, 400, "the request header block is malformed");
			return;
		}
		if (r < 0) {
			conn_fail(s, c, r == -E2BIG ? 431 : r == -EPROTONOSUPPORT ? 505 : 400, why);
			return;
		}
		int status = 400;
		if (nrv_http_parse_framing(&s->req, &c->fr, &status, &why)) {
			conn_fail(s, c, status, why);
			return;
		}
		if (c->fr.has_length && c->fr.content_length > s->lim.max_body_bytes) {
			char msg[160];
			snprintf(msg, sizeof(msg),
				 "the request body is larger than %zu bytes: send a smaller body",
				 s->lim.max_body_bytes);
			conn_fail(s, c, 413, msg);
			return;
		}
		fresh = true;
		c->hdr_end = c->in_start + (size_t)r;
		c->body_wr = c->body_rd = c->hdr_end;
		nrv_http_dechunk_init(&c->dc);
		c->rstate = RS_BODY;
		timer_set(s, c, T_BODY);
		bool complete = c->fr.chunked ? false
					      : c->in_len - c->hdr_end >= c->fr.content_length;
		if (c->fr.expect_continue && s->req.minor_version >= 1 && !complete &&
		    (c->fr.chunked || c->fr.content_length > 0)) {
			static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
			if (out_append(s, c, cont, sizeof(cont) - 1, true)) {
				conn_kill(s, c, false);
				return;
			}
		}
	}

	/* RS_BODY */
	size_t body_len, next;
	if (c->fr.chunked) {
		const char *why = "malformed chunked body";
		int r = nrv_http_dechunk(&c->dc, c->in, &c->body_wr, &c->body_rd, c->in_len,
					 s->lim.max_body_bytes, &why);
		if (r == -EMSGSIZE) {
			char msg[160];
			snprintf(msg, sizeof(msg),
				 "the chunked request body is larger than %zu bytes: send a smaller body",
				 s->lim.max_body_bytes);
			conn_fail(s, c, 413, msg);
			return;
		}
		if (r < 0) {
			conn_fail(s, c, 400, why);
			return;
		}
		if (r == 0) {
			if (!fresh)
				timer_set(s, c, T_BODY);
			return;
		}
		body_len = c->body_wr - c->hdr_end;
		next = c->body_rd;
	} else {
		if (c->in_len - c->hdr_end < c->fr.content_length) {
			if (!fresh)
				timer_set(s, c, T_BODY);
			return;
		}
		body_len = (size_t)c->fr.content_length;
		next = c->hdr_end + body_len;
	}
	dispatch(s, c, fresh, body_len, next);
}

/* The response to c's request is completely queued. */
static void response_done(struct nrv_http_server *s, struct conn *c)
{
	c->resp = RESP_DONE;
	c->gen++; /* the request's handle is spent */
	if (!c->keep || c->close_after || atomic_load(&s->stopping)) {
		c->state = CS_CLOSING;
		timer_set(s, c, T_IDLE);
		mark_dirty(s, c);
		return;
	}
	c->state = CS_READ;
	c->in_start = c->req_end;
	c->rstate = RS_IDLE;
	c->scan = 0;
	c->parsed_at = 0;
	if (c->in_len > c->in_start) {
		/* Pipelined bytes: their header clock starts now. */
		c->rstate = RS_HEAD;
		timer_set(s, c, T_HEADER);
	} else {
		timer_set(s, c, T_IDLE);
	}
	c->process = true;
	mark_dirty(s, c);
}

static void conn_open(struct nrv_http_server *s, int fd)
{
	s->st.accepted++;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	bool refuse = s->open >= s->lim.max_connections;
	if (refuse) {
		s->st.refused++;
		if (s->refusing >= RESERVE_SLOTS || s->nfree == 0) {
			/* No slot left even to answer: say it in one try. */
			static const char r503[] =
				"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
				"Connection: close\r\n\r\n";
			ssize_t w = send(fd, r503, sizeof(r503) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
			(void)w;
			close(fd);
			return;
		}
	}
	struct conn *c = &s->conns[s->free_slots[--s->nfree]];
	c->fd = fd;
	c->state = CS_READ;
	c->rstate = RS_IDLE;
	c->tkind = T_NONE;
	c->refusing = refuse;
	c->gen++;
	if (refuse) {
		s->refusing++;
		char msg[160];
		snprintf(msg, sizeof(msg),
			 "the server has %d connections open, its limit: retry later or reuse a connection",
			 s->lim.max_connections);
		conn_fail(s, c, 503, msg);
		return;
	}
	s->open++;
	timer_set(s, c, T_IDLE);
	arm_recv(s, c);
}

/* ------------------------------------------------------------ completions */

static void arm_accept(struct nrv_http_server *s)
{
	struct io_uring_sqe *sqe = sqe_get(s);
	if (s->accept_multishot)
		io_uring_prep_multishot_accept(sqe, s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	else
		io_uring_prep_accept(sqe, s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, ud(OP_ACCEPT, 0));
	s->accept_armed = true;
}

static void arm_tick(struct nrv_http_server *s)
{
	struct io_uring_sqe *sqe = sqe_get(s);
	io_uring_prep_timeout(sqe, &s->tick_ts, 0, 0);
	io_uring_sqe_set_data64(sqe, ud(OP_TICK, 0));
	s->tick_armed = true;
}

static void arm_poll(struct nrv_http_server *s, int fd, enum op op)
{
	struct io_uring_sqe *sqe = sqe_get(s);
	io_uring_prep_poll_multishot(sqe, fd, POLLIN);
	io_uring_sqe_set_data64(sqe, ud(op, 0));
	if (op == OP_WAKE)
		s->wake_armed = true;
	else
		s->stop_armed = true;
}

static void on_accept(struct nrv_http_server *s, struct io_uring_cqe *cqe)
{
	if (!(cqe->flags & IORING_CQE_F_MORE))
		s->accept_armed = false;
	int res = cqe->res;
	if (res >= 0) {
		conn_open(s, res);
	} else if (res == -EINVAL && s->accept_multishot) {
		NRV_WARN("http: the kernel lacks multishot accept: accepting one at a time");
		s->accept_multishot = false;
	} else if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
		/* Out of descriptors or memory: retry on the next tick rather
		 * than spin. */
		NRV_WARN("http: accept failed: %s (raise the open-file limit or lower "
			 "max_connections)", strerror(-res));
		s->accept_paused = true;
	} else if (res != -EINTR && res != -ECONNABORTED && res != -EAGAIN && res != -ECANCELED) {
		NRV_WARN("http: accept failed: %s", strerror(-res));
	}
	if (!s->accept_armed && !s->accept_paused && !atomic_load(&s->stopping))
		arm_accept(s);
}

static void recycle_buf(struct nrv_http_server *s, unsigned bid)
{
	io_uring_buf_ring_add(s->br, s->bufs + (size_t)bid * RECV_BUF_SIZE, RECV_BUF_SIZE,
			      (unsigned short)bid, io_uring_buf_ring_mask(RECV_BUF_COUNT), 0);
	io_uring_buf_ring_advance(s->br, 1);
}

static void on_recv(struct nrv_http_server *s, struct conn *c, struct io_uring_cqe *cqe)
{
	c->recv_armed = false;
	int res = cqe->res;
	const char *data = NULL;
	unsigned bid = 0;
	bool has_buf = s->use_bufring && (cqe->flags & IORING_CQE_F_BUFFER);
	if (has_buf) {
		bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		data = s->bufs + (size_t)bid * RECV_BUF_SIZE;
	}
	if (c->state == CS_DEAD) {
		if (has_buf)
			recycle_buf(s, bid);
		conn_release(s, c);
		return;
	}
	if (res == -ENOBUFS) {
		/* Every provided buffer was in use at that moment; they come
		 * back as their completions are handled: just ask again. */
		conn_update(s, c);
		return;
	}
	if (res == 0 && c->state == CS_READ && (c->send_armed || out_queued(c) > 0)) {
		/* The client half-closed after its last request: its answer
		 * is still on the way out, then the connection closes. */
		c->peer_eof = true;
		c->state = CS_CLOSING;
		timer_set(s, c, T_IDLE);
		conn_update(s, c);
		return;
	}
	if (res < 0 || (res == 0 && (c->state == CS_BUSY || c->state == CS_READ ||
				     c->state == CS_LINGER))) {
		/* Reset, or the client closed: in the middle of a response the
		 * application learns it through on_close. */
		if (has_buf)
			recycle_buf(s, bid);
		conn_kill(s, c, false);
		return;
	}
	if (res == 0) {
		/* CS_CLOSING: the client stopped sending; the answer still goes. */
		c->peer_eof = true;
		conn_update(s, c);
		return;
	}
	if (c->state == CS_LINGER || c->state == CS_CLOSING) {
		if (!s->use_bufring)
			c->in_len = c->in_start; /* discard */
	} else if (has_buf) {
		if (c->state == CS_READ && (c->in_start == c->in_len || c->in_start > c->in_cap / 2))
			in_compact(s, c);
		if (in_reserve(c, (size_t)res)) {
			recycle_buf(s, bid);
			conn_kill(s, c, false);
			return;
		}
		memcpy(c->in + c->in_len, data, (size_t)res);
		c->in_len += (size_t)res;
	} else {
		c->in_len += (size_t)res;
	}
	if (has_buf)
		recycle_buf(s, bid);
	if (c->state == CS_READ)
		conn_process(s, c);
	conn_update(s, c);
}

static void on_send(struct nrv_http_server *s, struct conn *c, int res)
{
	c->send_armed = false;
	if (c->state == CS_DEAD) {
		conn_release(s, c);
		return;
	}
	if (res <= 0) {
		conn_kill(s, c, false);
		return;
	}
	c->sent += (size_t)res;
	if (c->sent >= c->sending.len)
		c->sent = c->sending.len = 0;
	conn_update(s, c);
}

static void on_tick(struct nrv_http_server *s)
{
	s->tick_armed = false;
	update_date(s);
	for (int k = 0; k < T_KINDS; k++) {
		struct conn *c;
		while ((c = s->timers[k].head) && c->deadline <= s->now) {
			timer_clear(s, c);
			if (c->state == CS_READ && c->rstate == RS_HEAD) {
				char msg[200];
				snprintf(msg, sizeof(msg),
					 "no complete request header arrived within %d ms: send the "
					 "request line and headers at once", s->lim.header_timeout_ms);
				conn_fail(s, c, 408, msg);
			} else if (c->state == CS_READ && c->rstate == RS_BODY) {
				char msg[200];
				snprintf(msg, sizeof(msg),
					 "the request body stalled for %d ms: send the whole body "
					 "without pauses", s->lim.body_timeout_ms);
				conn_fail(s, c, 408, msg);
			} else {
				/* idle keep-alive, an answer never read, or lingering */
				if (c->state == CS_READ)
					s->st.timed_out++;
				conn_kill(s, c, false);
			}
		}
	}
	if (s->accept_paused) {
		s->accept_paused = false;
		if (!s->accept_armed)
			arm_accept(s);
	}
	arm_tick(s);
}

static void on_poll(struct nrv_http_server *s, enum op op, struct io_uring_cqe *cqe)
{
	bool more = cqe->flags & IORING_CQE_F_MORE;
	int fd = op == OP_WAKE ? s->wake_fd : s->stop_fd;
	uint64_t *v = op == OP_WAKE ? &s->wake_val : &s->stop_val;
	if (cqe->res > 0) {
		ssize_t r = read(fd, v, sizeof(*v)); /* non-blocking: resets the count */
		(void)r;
	}
	if (!more) {
		if (op == OP_WAKE)
			s->wake_armed = false;
		else
			s->stop_armed = false;
		if (!atomic_load(&s->stopping))
			arm_poll(s, fd, op);
	}
	if (op == OP_WAKE && cqe->res > 0 && s->h.on_wake)
		s->h.on_wake(s->h.app);
}

static void drain_dirty(struct nrv_http_server *s)
{
	struct conn *c;
	while ((c = s->dirty)) {
		s->dirty = c->dnext;
		c->dirty = false;
		c->dnext = NULL;
		if (c->notify) {
			c->notify = false;
			struct nrv_http_conn h = { (uint32_t)(c - s->conns), c->notify_gen };
			s->h.on_close(s->h.app, h);
		}
		if (c->process) {
			c->process = false;
			conn_process(s, c);
		}
		conn_update(s, c);
	}
}

int nrv_http_run(struct nrv_http_server *s)
{
	s->now = mono_ms();
	update_date(s);
	if (!s->accept_armed)
		arm_accept(s);
	if (!s->tick_armed)
		arm_tick(s);
	if (!s->stop_armed)
		arm_poll(s, s->stop_fd, OP_STOP);
	if (s->wake_fd >= 0 && !s->wake_armed)
		arm_poll(s, s->wake_fd, OP_WAKE);
	while (!atomic_load(&s->stopping)) {
		int r = io_uring_submit_and_wait(&s->ring, 1);
		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY && r != -ETIME) {
			NRV_ERROR("http: io_uring wait failed: %s", strerror(-r));
			return r;
		}
		s->now = mono_ms();
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		io_uring_for_each_cqe(&s->ring, head, cqe) {
			n++;
			uint64_t d = io_uring_cqe_get_data64(cqe);
			enum op op = (enum op)(d >> 56);
			uint32_t slot = (uint32_t)d;
			switch (op) {
			case OP_ACCEPT: on_accept(s, cqe); break;
			case OP_RECV: on_recv(s, &s->conns[slot], cqe); break;
			case OP_SEND: on_send(s, &s->conns[slot], cqe->res); break;
			case OP_TICK: on_tick(s); break;
			case OP_WAKE:
			case OP_STOP: on_poll(s, op, cqe); break;
			default: break;
			}
		}
		io_uring_cq_advance(&s->ring, n);
		drain_dirty(s);
	}
	io_uring_submit(&s->ring);
	return 0;
}

void nrv_http_stop(struct nrv_http_server *s)
{
	if (!s)
		return;
	atomic_store(&s->stopping, 1);
	uint64_t one = 1;
	ssize_t r = write(s->stop_fd, &one, sizeof(one));
	(void)r;
}

/* ------------------------------------------------------------ application */

/* The connection behind a handle, if it still holds that request. */
static struct conn *conn_of(struct nrv_http_server *s, struct nrv_http_conn h)
{
	if (!s || h.slot >= s->nslots)
		return NULL;
	struct conn *c = &s->conns[h.slot];
	if (c->gen != h.gen || c->state != CS_BUSY)
		return NULL;
	return c;
}

static bool bodiless(int status)
{
	return status < 200 || status == 204 || status == 304;
}

int nrv_http_respond(struct nrv_http_server *s, struct nrv_http_conn h, int status,
		     const char *content_type, const char *extra_headers,
		     const void *body, size_t len)
{
	struct conn *c = conn_of(s, h);
	if (!c)
		return -ENOENT;
	if (c->resp != RESP_NONE || status < 100 || status > 999)
		return -EINVAL;
	if (bodiless(status))
		len = 0;
	size_t save = c->pending.len;
	bool close = !c->keep || atomic_load(&s->stopping);
	size_t body_out = c->head ? 0 : len;
	if (out_queued(c) + body_out + 512 > s->lim.max_pending_out)
		return -ENOMEM;
	int r = put_head(s, c, status, content_type, extra_headers,
			 bodiless(status) ? -1 : (long long)len, false, close, false);
	if (!r && body_out)
		r = out_append(s, c, body, body_out, false);
	if (r) {
		c->pending.len = save;
		return r == -EINVAL ? -EINVAL : -ENOMEM;
	}
	c->close_after = close;
	response_done(s, c);
	return 0;
}

int nrv_http_stream_begin(struct nrv_http_server *s, struct nrv_http_conn h, int status,
			  const char *content_type, const char *extra_headers)
{
	struct conn *c = conn_of(s, h);
	if (!c)
		return -ENOENT;
	if (c->resp != RESP_NONE || status < 200 || bodiless(status))
		return -EINVAL;
	/* HTTP/1.0 has no chunked coding: there the body ends when we close. */
	bool chunked = c->http11;
	bool close = !c->keep || !chunked || atomic_load(&s->stopping);
	size_t save = c->pending.len;
	int r = put_head(s, c, status, content_type, extra_headers, -1, chunked && !c->head, close,
			 false);
	if (r) {
		c->pending.len = save;
		return r == -EINVAL ? -EINVAL : -ENOMEM;
	}
	c->chunked_out = chunked;
	c->close_after = close;
	c->resp = RESP_STREAM;
	return 0;
}

int nrv_http_stream_write(struct nrv_http_server *s, struct nrv_http_conn h, const void *data,
			  size_t len)
{
	struct conn *c = conn_of(s, h);
	if (!c)
		return -ENOENT;
	if (c->resp != RESP_STREAM)
		return -EINVAL;
	if (len == 0 || c->head)
		return 0;
	char hex[24];
	int n = c->chunked_out ? snprintf(hex, sizeof(hex), "%zx\r\n", len) : 0;
	if (out_queued(c) + (size_t)n + len + 2 > s->lim.max_pending_out) {
		/* The client does not read its stream: cut it. on_close fires
		 * from the loop, after this call returns. */
		NRV_INFO("http: cutting a client with %zu unsent bytes (max_pending_out %zu)",
			 out_queued(c), s->lim.max_pending_out);
		conn_kill(s, c, true);
		return -ENOENT;
	}
	size_t save = c->pending.len;
	int r = obuf_reserve(&c->pending, (size_t)n + len + 2);
	if (!r && n)
		r = out_append(s, c, hex, (size_t)n, true);
	if (!r)
		r = out_append(s, c, data, len, true);
	if (!r && c->chunked_out)
		r = out_append(s, c, "\r\n", 2, true);
	if (r) {
		c->pending.len = save;
		return -ENOMEM;
	}
	return 0;
}

int nrv_http_stream_end(struct nrv_http_server *s, struct nrv_http_conn h)
{
	struct conn *c = conn_of(s, h);
	if (!c)
		return -ENOENT;
	if (c->resp != RESP_STREAM)
		return -EINVAL;
	if (c->chunked_out && !c->head && out_append(s, c, "0\r\n\r\n", 5, true))
		return -ENOMEM;
	response_done(s, c);
	return 0;
}

/* ------------------------------------------------------------- lifecycle */

static int parse_host(const char *host, int port, struct sockaddr_storage *ss, socklen_t *sl)
{
	memset(ss, 0, sizeof(*ss));
	if (!host || strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*sl = sizeof(*a4);
		return 0;
	}
	char buf[64];
	size_t n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof(buf)) {
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = 0;
		host = buf;
	}
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*sl = sizeof(*a6);
		return 0;
	}
	return -EINVAL;
}

static void raise_nofile(int max_connections)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t old = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			NRV_INFO("http: raised the open-file limit from %llu to %llu",
				 (unsigned long long)old, (unsigned long long)rl.rlim_cur);
		else
			rl.rlim_cur = old;
	}
	if (rl.rlim_cur < (rlim_t)max_connections + 64)
		NRV_WARN("http: the open-file limit %llu is below max_connections %d + 64: "
			 "raise it (ulimit -n, LimitNOFILE=) or expect refused accepts",
			 (unsigned long long)rl.rlim_cur, max_connections);
}

static int setup_bufring(struct nrv_http_server *s)
{
	s->br_len = RECV_BUF_COUNT * sizeof(struct io_uring_buf);
	void *m = mmap(NULL, s->br_len, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (m == MAP_FAILED)
		return -errno;
	s->br = m;
	struct io_uring_buf_reg reg = { 0 };
	reg.ring_addr = (unsigned long)m;
	reg.ring_entries = RECV_BUF_COUNT;
	reg.bgid = RECV_BGID;
	int r = io_uring_register_buf_ring(&s->ring, &reg, 0);
	if (r) {
		munmap(m, s->br_len);
		s->br = NULL;
		return r;
	}
	s->bufs = malloc((size_t)RECV_BUF_COUNT * RECV_BUF_SIZE);
	if (!s->bufs) {
		io_uring_unregister_buf_ring(&s->ring, RECV_BGID);
		munmap(m, s->br_len);
		s->br = NULL;
		return -ENOMEM;
	}
	io_uring_buf_ring_init(s->br);
	for (unsigned i = 0; i < RECV_BUF_COUNT; i++)
		io_uring_buf_ring_add(s->br, s->bufs + (size_t)i * RECV_BUF_SIZE, RECV_BUF_SIZE,
				      (unsigned short)i, io_uring_buf_ring_mask(RECV_BUF_COUNT), (int)i);
	io_uring_buf_ring_advance(s->br, RECV_BUF_COUNT);
	return 0;
}

#define ERR(code, ...)                                 \
	do {                                           \
		snprintf(err, errlen, __VA_ARGS__);    \
		nrv_http_destroy(s);                   \
		return (code);                         \
	} while (0)

int nrv_http_create(const struct nrv_http_config *cfg, const struct nrv_http_handlers *h,
		    struct nrv_http_server **out, char *err, size_t errlen)
{
	*out = NULL;
	struct nrv_http_server *s = NULL;
	if (!cfg || !h || !h->on_request)
		ERR(-EINVAL, "http: a configuration and an on_request handler are required");
	struct nrv_http_limits l = cfg->limits;
	if (l.header_timeout_ms < 0 || l.body_timeout_ms < 0 || l.idle_timeout_ms < 0 ||
	    l.max_connections < 0 || cfg->port < 0 || cfg->port > 65535)
		ERR(-EINVAL, "http: limits and the port must not be negative (port at most 65535)");
	if (!l.max_header_bytes)
		l.max_header_bytes = 8192;
	if (!l.max_body_bytes)
		l.max_body_bytes = 1 << 20;
	if (!l.header_timeout_ms)
		l.header_timeout_ms = 10000;
	if (!l.body_timeout_ms)
		l.body_timeout_ms = 30000;
	if (!l.idle_timeout_ms)
		l.idle_timeout_ms = 60000;
	if (!l.max_connections)
		l.max_connections = 4096;
	if (!l.max_pending_out)
		l.max_pending_out = 8u << 20;
	if (l.max_connections > (1 << 22) || l.max_header_bytes > (1u << 30) ||
	    l.max_body_bytes > ((size_t)1 << 40))
		ERR(-EINVAL, "http: max_connections (at most 4194304), max_header_bytes (1 GiB) or "
			     "max_body_bytes (1 TiB) is too large");

	s = calloc(1, sizeof(*s));
	if (!s)
		ERR(-ENOMEM, "http: out of memory");
	s->listen_fd = s->stop_fd = -1;
	s->wake_fd = cfg->wake_fd;
	s->lim = l;
	s->h = *h;
	s->accept_multishot = true;
	s->tdur[T_IDLE] = l.idle_timeout_ms;
	s->tdur[T_HEADER] = l.header_timeout_ms;
	s->tdur[T_BODY] = l.body_timeout_ms;
	s->tdur[T_LINGER] = LINGER_MS;
	s->tick_ts.tv_sec = 0;
	s->tick_ts.tv_nsec = TICK_MS * 1000000L;

	raise_nofile(l.max_connections);

	s->nslots = (uint32_t)l.max_connections + RESERVE_SLOTS;
	s->conns = calloc(s->nslots, sizeof(*s->conns));
	s->free_slots = calloc(s->nslots, sizeof(*s->free_slots));
	if (!s->conns || !s->free_slots)
		ERR(-ENOMEM, "http: out of memory for %u connection slots", s->nslots);
	for (uint32_t i = 0; i < s->nslots; i++) {
		s->conns[i].fd = -1;
		s->conns[i].tkind = T_NONE;
		s->free_slots[s->nfree++] = s->nslots - 1 - i;
	}

	struct sockaddr_storage ss;
	socklen_t sl;
	if (parse_host(cfg->host, cfg->port, &ss, &sl))
		ERR(-EINVAL, "http: host \"%s\" is not a numeric IPv4/IPv6 address or localhost",
		    cfg->host);
	s->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0)
		ERR(-errno, "http: socket: %s", strerror(errno));
	int one = 1;
	setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s->listen_fd, (struct sockaddr *)&ss, sl)) {
		int e = errno;
		ERR(-e, "http: cannot listen on %s port %d: %s%s", cfg->host ? cfg->host : "127.0.0.1",
		    cfg->port, strerror(e),
		    e == EADDRINUSE ? " (another server has it: stop it or pick another port)" :
		    e == EADDRNOTAVAIL ? " (no interface has this address)" :
		    e == EACCES ? " (ports below 1024 need privileges)" : "");
	}
	if (listen(s->listen_fd, 4096))
		ERR(-errno, "http: listen: %s", strerror(errno));
	struct sockaddr_storage bound;
	socklen_t bl = sizeof(bound);
	getsockname(s->listen_fd, (struct sockaddr *)&bound, &bl);
	s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						    : ((struct sockaddr_in *)&bound)->sin_port);

	s->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->stop_fd < 0)
		ERR(-errno, "http: eventfd: %s", strerror(errno));
	if (s->wake_fd >= 0) {
		int fl = fcntl(s->wake_fd, F_GETFL);
		if (fl < 0 || fcntl(s->wake_fd, F_SETFL, fl | O_NONBLOCK) < 0)
			ERR(-EBADF, "http: wake_fd %d is not an open descriptor", s->wake_fd);
	}

	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN;
	p.cq_entries = RING_ENTRIES * 8;
	int r = io_uring_queue_init_params(RING_ENTRIES, &s->ring, &p);
	if (r == -EINVAL) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = RING_ENTRIES * 8;
		r = io_uring_queue_init_params(RING_ENTRIES, &s->ring, &p);
	}
	if (r)
		ERR(r, "http: io_uring is unavailable: %s (needs Linux 5.19 or later with io_uring "
		       "enabled: sysctl kernel.io_uring_disabled=0, and no seccomp filter blocking it)",
		    strerror(-r));
	s->ring_ok = true;
	/* NRV_HTTP_NO_BUFRING=1 takes the fallback path on purpose: the tests
	 * run both, and an operator can rule the provided buffers out. */
	const char *nb = getenv("NRV_HTTP_NO_BUFRING");
	r = nb && strcmp(nb, "1") == 0 ? -EOPNOTSUPP : setup_bufring(s);
	s->use_bufring = r == 0;
	if (r)
		NRV_WARN("http: provided buffer rings are unavailable (%s): receiving into "
			 "per-connection buffers", strerror(-r));
	NRV_INFO("http: listening on %s port %d (%d connections at most)",
		 cfg->host ? cfg->host : "127.0.0.1", s->port, l.max_connections);
	*out = s;
	return 0;
}

void nrv_http_destroy(struct nrv_http_server *s)
{
	if (!s)
		return;
	/* Tear the ring down first: it cancels every operation, and then no
	 * kernel reference to our buffers remains. */
	if (s->ring_ok) {
		if (s->use_bufring)
			io_uring_unregister_buf_ring(&s->ring, RECV_BGID);
		io_uring_queue_exit(&s->ring);
	}
	if (s->conns) {
		for (uint32_t i = 0; i < s->nslots; i++) {
			struct conn *c = &s->conns[i];
			if (c->state != CS_FREE)
				close(c->fd);
			free(c->in);
			free(c->sending.p);
			free(c->pending.p);
		}
	}
	if (s->br)
		munmap(s->br, s->br_len);
	free(s->bufs);
	free(s->conns);
	free(s->free_slots);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	free(s);
}

int nrv_http_port(const struct nrv_http_server *s)
{
	return s ? s->port : -1;
}

void nrv_http_stats(const struct nrv_http_server *s, struct nrv_http_stats *out)
{
	*out = s->st;
	out->open = s->open;
}
