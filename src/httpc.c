/*
 * src/httpc.c - small non-blocking HTTP/1.1 client; see httpc.h.
 */
#include "httpc.h"

#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

#define RBUF_CAP (NRV_HTTPC_MAX_HEAD + 16 * 1024)
#define MAX_CHUNK_LINE 4096		/* a chunk-size line with its extensions */
#define MAX_TRAILERS (16 * 1024)

static void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int64_t nrv_httpc_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- URLs ---- */

int nrv_url_parse(const char *s, struct nrv_url *u, char *err, size_t errlen)
{
	memset(u, 0, sizeof(*u));
	if (!strncasecmp(s, "https://", 8)) {
		seterr(err, errlen, "'%s': https is not supported; give the server's plain http:// address", s);
		return -EINVAL;
	}
	if (strncasecmp(s, "http://", 7)) {
		seterr(err, errlen, "'%s' is not a URL of the form http://HOST[:PORT][/PREFIX]", s);
		return -EINVAL;
	}
	for (const char *q = s; *q; q++) {
		if ((unsigned char)*q <= 0x20 || *q == 0x7f || *q == '?' || *q == '#' || *q == '@') {
			seterr(err, errlen, "'%s': URLs with spaces, control bytes, queries, fragments or user names are not supported", s);
			return -EINVAL;
		}
	}
	const char *p = s + 7;
	const char *host = p, *host_end;
	if (*p == '[') {
		host = p + 1;
		host_end = strchr(host, ']');
		if (!host_end) {
			seterr(err, errlen, "'%s': IPv6 address without a closing ']'", s);
			return -EINVAL;
		}
		p = host_end + 1;
	} else {
		while (*p && *p != ':' && *p != '/')
			p++;
		host_end = p;
	}
	size_t hl = (size_t)(host_end - host);
	if (hl == 0 || hl >= sizeof(u->host)) {
		seterr(err, errlen, "'%s': the host name is empty or too long", s);
		return -EINVAL;
	}
	memcpy(u->host, host, hl);
	strcpy(u->port, "80");
	if (*p == ':') {
		p++;
		unsigned long port = 0;
		size_t nd = 0;
		while (isdigit((unsigned char)*p) && nd < 6) {
			port = port * 10 + (unsigned long)(*p - '0');
			p++;
			nd++;
		}
		if (nd == 0 || port == 0 || port > 65535 || (*p && *p != '/')) {
			seterr(err, errlen, "'%s': the port must be a number from 1 to 65535", s);
			return -EINVAL;
		}
		snprintf(u->port, sizeof(u->port), "%lu", port);
	} else if (*p && *p != '/') {
		seterr(err, errlen, "'%s': unexpected '%c' after the host", s, *p);
		return -EINVAL;
	}
	size_t pl = strlen(p);
	while (pl && p[pl - 1] == '/')
		pl--;
	if (pl >= 3 && !strncmp(p + pl - 3, "/v1", 3))
		pl -= 3;
	while (pl && p[pl - 1] == '/')
		pl--;
	if (pl >= sizeof(u->prefix)) {
		seterr(err, errlen, "'%s': the path is too long", s);
		return -EINVAL;
	}
	memcpy(u->prefix, p, pl);
	bool v6 = strchr(u->host, ':') != NULL;
	snprintf(u->hostport, sizeof(u->hostport), v6 ? "[%s]:%s" : "%s:%s", u->host, u->port);
	return 0;
}

int nrv_url_resolve(struct nrv_url *u, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(u->host, u->port, &hints, &res);
	if (rc || !res) {
		seterr(err, errlen, "cannot resolve '%s': %s", u->host, rc ? gai_strerror(rc) : "no address");
		return -EHOSTUNREACH;
	}
	memcpy(&u->addr, res->ai_addr, res->ai_addrlen);
	u->addr_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* ---- response head ---- */

static bool token_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("()<>@,;:\\\"/[]?={}", c);
}

/* Does the comma-separated list v[0..n) hold token t (case-insensitive)?
 * last: only as its last element. */
static bool list_has(const char *v, size_t n, const char *t, bool last)
{
	size_t tl = strlen(t);
	size_t i = 0;
	bool found = false;
	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		size_t st = i;
		while (i < n && v[i] != ',')
			i++;
		size_t e = i;
		while (e > st && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e == st)
			continue;
		bool match = e - st == tl && !strncasecmp(v + st, t, tl);
		if (last)
			found = match;
		else if (match)
			return true;
	}
	return found;
}

int nrv_httpc_parse_head(const char *buf, size_t n, struct nrv_http_head *h, char *err, size_t errlen)
{
	memset(h, 0, sizeof(*h));
	h->content_length = -1;
	size_t limit = n < NRV_HTTPC_MAX_HEAD ? n : NRV_HTTPC_MAX_HEAD;
	const char *nl = memchr(buf, '\n', limit);
	if (!nl) {
		if (n >= NRV_HTTPC_MAX_HEAD)
			goto too_big;
		/* Reject garbage early rather than waiting for 64 KiB of it. */
		size_t k = n < 7 ? n : 7;
		if (memcmp(buf, "HTTP/1.", k)) {
			seterr(err, errlen, "the response does not start with an HTTP/1.x status line");
			return -EBADMSG;
		}
		return -EAGAIN;
	}
	size_t ll = (size_t)(nl - buf);
	if (ll && buf[ll - 1] == '\r')
		ll--;
	if (ll < 12 || memcmp(buf, "HTTP/1.", 7) || !isdigit((unsigned char)buf[7]) || buf[8] != ' ' ||
	    !isdigit((unsigned char)buf[9]) || !isdigit((unsigned char)buf[10]) || !isdigit((unsigned char)buf[11]) ||
	    (ll > 12 && buf[12] != ' ')) {
		seterr(err, errlen, "malformed status line '%.*s'", (int)(ll < 80 ? ll : 80), buf);
		return -EBADMSG;
	}
	h->minor = buf[7] - '0';
	h->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	if (h->status < 100) {
		seterr(err, errlen, "status code %d is out of range", h->status);
		return -EBADMSG;
	}
	bool keep_alive = false, te = false;
	size_t off = (size_t)(nl - buf) + 1;
	for (;;) {
		nl = off < limit ? memchr(buf + off, '\n', limit - off) : NULL;
		if (!nl) {
			if (n >= NRV_HTTPC_MAX_HEAD)
				goto too_big;
			return -EAGAIN;
		}
		const char *line = buf + off;
		ll = (size_t)(nl - line);
		if (ll && line[ll - 1] == '\r')
			ll--;
		off = (size_t)(nl - buf) + 1;
		if (ll == 0)
			break;
		size_t nlen = 0;
		while (nlen < ll && token_char((unsigned char)line[nlen]))
			nlen++;
		if (nlen == 0 || nlen == ll || line[nlen] != ':') {
			seterr(err, errlen, "malformed header line '%.*s'", (int)(ll < 80 ? ll : 80), line);
			return -EBADMSG;
		}
		const char *v = line + nlen + 1;
		size_t vl = ll - nlen - 1;
		while (vl && (*v == ' ' || *v == '\t')) {
			v++;
			vl--;
		}
		while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			vl--;
		if (nlen == 14 && !strncasecmp(line, "content-length", 14)) {
			int64_t cl = 0;
			if (vl == 0 || vl > 18) {
				seterr(err, errlen, "Content-Length '%.*s' is not a number below 10^18", (int)(vl < 40 ? vl : 40), v);
				return -EBADMSG;
			}
			for (size_t i = 0; i < vl; i++) {
				if (!isdigit((unsigned char)v[i])) {
					seterr(err, errlen, "Content-Length '%.*s' is not a number", (int)(vl < 40 ? vl : 40), v);
					return -EBADMSG;
				}
				cl = cl * 10 + (v[i] - '0');
			}
			if (h->content_length >= 0 && h->content_length != cl) {
				seterr(err, errlen, "two different Content-Length headers");
				return -EBADMSG;
			}
			h->content_length = cl;
		} else if (nlen == 17 && !strncasecmp(line, "transfer-encoding", 17)) {
			te = true;
			h->chunked = list_has(v, vl, "chunked", true);
		} else if (nlen == 10 && !strncasecmp(line, "connection", 10)) {
			if (list_has(v, vl, "close", false))
				h->close = true;
			if (list_has(v, vl, "keep-alive", false))
				keep_alive = true;
		} else if (nlen == 12 && !strncasecmp(line, "content-type", 12)) {
			size_t k = vl < sizeof(h->content_type) - 1 ? vl : sizeof(h->content_type) - 1;
			for (size_t i = 0; i < k; i++)
				h->content_type[i] = (char)tolower((unsigned char)v[i]);
			h->content_type[k] = '\0';
		}
	}
	if (te) {
		/* Transfer-Encoding overrides Content-Length; a coding we cannot
		 * frame means reading until the server closes. Either way the
		 * message was ambiguous enough not to reuse the connection. */
		if (h->content_length >= 0 || !h->chunked)
			h->close = true;
		h->content_length = -1;
	}
	if (h->minor == 0 && !keep_alive)
		h->close = true;
	return (int)off;
too_big:
	seterr(err, errlen, "the response head is larger than %d bytes", NRV_HTTPC_MAX_HEAD);
	return -EBADMSG;
}

/* ---- chunked transfer coding ---- */

enum {
	CH_SIZE,	/* reading hex digits of a chunk size */
	CH_SIZE_WS,	/* whitespace after the size */
	CH_EXT,		/* a chunk extension, skipped */
	CH_SIZE_LF,	/* the LF after a size line's CR */
	CH_DATA,
	CH_DATA_CR,	/* the CRLF after a chunk's data */
	CH_DATA_LF,
	CH_TRAILER,	/* at the start of a trailer line (or the final blank line) */
	CH_TRAILER_LINE,
	CH_END_LF,	/* the LF of the final blank line */
};

void nrv_chunked_init(struct nrv_chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CH_SIZE;
}

static int hexval(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* The size line ended: data follows, or the trailers after the last chunk. */
static int size_line_done(struct nrv_chunked *c)
{
	if (c->digits == 0)
		return -EBADMSG;
	c->line = 0;
	c->state = c->left ? CH_DATA : CH_TRAILER;
	return 0;
}

long nrv_chunked_decode(struct nrv_chunked *c, char *buf, size_t n, size_t *out)
{
	size_t i = 0, w = 0;
	while (i < n && !c->done) {
		unsigned char ch = (unsigned char)buf[i];
		switch (c->state) {
		case CH_SIZE: {
			int hv = hexval(ch);
			if (hv >= 0) {
				/* 15 hex digits: 2^60 bytes, far beyond any body. */
				if (c->digits >= 15)
					return -EBADMSG;
				c->left = c->left << 4 | (uint64_t)hv;
				c->digits++;
				i++;
				continue;
			}
			if (c->digits == 0)
				return -EBADMSG;
			if (ch == ' ' || ch == '\t')
				c->state = CH_SIZE_WS;
			else if (ch == ';')
				c->state = CH_EXT;
			else if (ch == '\r')
				c->state = CH_SIZE_LF;
			else if (ch == '\n')
				size_line_done(c);
			else
				return -EBADMSG;
			i++;
			continue;
		}
		case CH_SIZE_WS:
			if (ch == ';')
				c->state = CH_EXT;
			else if (ch == '\r')
				c->state = CH_SIZE_LF;
			else if (ch == '\n') {
				if (size_line_done(c))
					return -EBADMSG;
			} else if (ch != ' ' && ch != '\t')
				return -EBADMSG;
			i++;
			continue;
		case CH_EXT:
			if (++c->line > MAX_CHUNK_LINE)
				return -EBADMSG;
			if (ch == '\r')
				c->state = CH_SIZE_LF;
			else if (ch == '\n') {
				if (size_line_done(c))
					return -EBADMSG;
			}
			i++;
			continue;
		case CH_SIZE_LF:
			if (ch != '\n' || size_line_done(c))
				return -EBADMSG;
			i++;
			continue;
		case CH_DATA: {
			size_t k = n - i;
			if ((uint64_t)k > c->left)
				k = (size_t)c->left;
			if (w != i)
				memmove(buf + w, buf + i, k);
			w += k;
			i += k;
			c->left -= k;
			if (c->left == 0)
				c->state = CH_DATA_CR;
			continue;
		}
		case CH_DATA_CR:
			if (ch == '\r')
				c->state = CH_DATA_LF;
			else if (ch == '\n')
				c->state = CH_SIZE;
			else
				return -EBADMSG;
			if (c->state == CH_SIZE)
				c->digits = 0;
			i++;
			continue;
		case CH_DATA_LF:
			if (ch != '\n')
				return -EBADMSG;
			c->state = CH_SIZE;
			c->digits = 0;
			i++;
			continue;
		case CH_TRAILER:
			if (ch == '\r')
				c->state = CH_END_LF;
			else if (ch == '\n')
				c->done = true;
			else
				c->state = CH_TRAILER_LINE;
			if (++c->trailer > MAX_TRAILERS)
				return -EBADMSG;
			i++;
			continue;
		case CH_TRAILER_LINE:
			if (++c->trailer > MAX_TRAILERS)
				return -EBADMSG;
			if (ch == '\n')
				c->state = CH_TRAILER;
			i++;
			continue;
		case CH_END_LF:
			if (ch != '\n')
				return -EBADMSG;
			c->done = true;
			i++;
			continue;
		default:
			return -EBADMSG;
		}
	}
	*out = w;
	return (long)i;
}

/* ---- one connection ---- */

enum { FRAME_NONE, FRAME_LENGTH, FRAME_CHUNKED, FRAME_CLOSE };

int nrv_httpc_init(struct nrv_httpc *c, const struct nrv_url *url)
{
	memset(c, 0, sizeof(*c));
	c->url = url;
	c->fd = -1;
	c->rbuf = malloc(RBUF_CAP);
	if (!c->rbuf)
		return -ENOMEM;
	c->rcap = RBUF_CAP;
	return 0;
}

void nrv_httpc_close(struct nrv_httpc *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->rlen = 0;
}

void nrv_httpc_fini(struct nrv_httpc *c)
{
	if (!c)
		return;
	nrv_httpc_close(c);
	free(c->req);
	free(c->rbuf);
	c->req = c->rbuf = NULL;
}

static const char *state_name(enum nrv_httpc_state s)
{
	switch (s) {
	case NRV_HTTPC_CONNECTING: return "connecting";
	case NRV_HTTPC_SENDING: return "sending the request";
	case NRV_HTTPC_HEAD: return "waiting for the response";
	case NRV_HTTPC_BODY: return "reading the response body";
	default: return "idle";
	}
}

static int fail(struct nrv_httpc *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct nrv_httpc *c, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	nrv_httpc_close(c);
	c->state = NRV_HTTPC_IDLE;
	return rc;
}

static int do_connect(struct nrv_httpc *c)
{
	const struct nrv_url *u = c->url;
	int fd = socket(u->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(c, -errno, "socket: %s", strerror(errno));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	c->n_connects++;
	c->reused = false;
	c->req_off = 0;
	c->rlen = 0;
	if (connect(fd, (const struct sockaddr *)&u->addr, u->addr_len) == 0) {
		c->state = NRV_HTTPC_SENDING;
		return 0;
	}
	if (errno == EINPROGRESS) {
		c->state = NRV_HTTPC_CONNECTING;
		return 0;
	}
	int e = errno;
	return fail(c, -e, "connect to %s: %s", u->hostport, strerror(e));
}

int nrv_httpc_start(struct nrv_httpc *c, const char *method, const char *path, const char *headers,
		    const char *body, size_t body_len, int64_t deadline_ns)
{
	if (c->state != NRV_HTTPC_IDLE)
		return fail(c, -EBUSY, "a request is already in flight on this connection");
	const char *hdr = headers ? headers : "";
	size_t need = strlen(method) + strlen(c->url->prefix) + strlen(path) + strlen(c->url->hostport) +
		      strlen(hdr) + body_len + 160;
	if (need > c->req_cap) {
		char *nr = realloc(c->req, need);
		if (!nr)
			return fail(c, -ENOMEM, "out of memory for a %zu-byte request", need);
		c->req = nr;
		c->req_cap = need;
	}
	int hl;
	if (body)
		hl = snprintf(c->req, c->req_cap,
			      "%s %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: nirvana-load/%s\r\n%s"
			      "Content-Length: %zu\r\n\r\n",
			      method, c->url->prefix, path, c->url->hostport, NRV_VERSION, hdr, body_len);
	else
		hl = snprintf(c->req, c->req_cap, "%s %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: nirvana-load/%s\r\n%s\r\n",
			      method, c->url->prefix, path, c->url->hostport, NRV_VERSION, hdr);
	if (hl < 0 || (size_t)hl + body_len >= c->req_cap)
		return fail(c, -EOVERFLOW, "request head too long");
	if (body)
		memcpy(c->req + hl, body, body_len);
	c->req_len = (size_t)hl + body_len;
	c->req_off = 0;
	c->deadline_ns = deadline_ns;
	c->got_bytes = false;
	c->retried = false;
	c->err[0] = '\0';
	if (c->fd >= 0 && c->rlen) {
		/* Bytes arrived on an idle connection: the server broke framing. */
		nrv_httpc_close(c);
	}
	if (c->fd >= 0) {
		c->reused = true;
		c->state = NRV_HTTPC_SENDING;
		return 0;
	}
	return do_connect(c);
}

int nrv_httpc_fd(const struct nrv_httpc *c)
{
	return c->state == NRV_HTTPC_IDLE ? -1 : c->fd;
}

short nrv_httpc_events(const struct nrv_httpc *c)
{
	switch (c->state) {
	case NRV_HTTPC_CONNECTING:
	case NRV_HTTPC_SENDING:
		return POLLOUT;
	case NRV_HTTPC_HEAD:
	case NRV_HTTPC_BODY:
		return POLLIN;
	default:
		return 0;
	}
}

/* A kept-alive connection the server had already closed: reconnect and
 * send again, once, as long as nothing of a response arrived. */
static bool can_retry(const struct nrv_httpc *c)
{
	return c->reused && !c->retried && !c->got_bytes;
}

static int retry(struct nrv_httpc *c)
{
	nrv_httpc_close(c);
	c->retried = true;
	return do_connect(c);
}

static int complete(struct nrv_httpc *c, bool leftover)
{
	c->state = NRV_HTTPC_IDLE;
	c->rlen = 0;
	if (c->head.close || leftover)
		nrv_httpc_close(c);
	return 1;
}

/* Hand the body bytes in rbuf[0..rlen) to the caller. Returns 0 (more to
 * come), 1 (complete) or -errno. */
static int body_bytes(struct nrv_httpc *c, const struct nrv_httpc_cb *cb, void *ud)
{
	size_t n = c->rlen;
	c->rlen = 0;
	switch (c->framing) {
	case FRAME_NONE:
		return complete(c, n > 0);
	case FRAME_LENGTH: {
		size_t k = (uint64_t)n > c->body_left ? (size_t)c->body_left : n;
		if (k && cb->on_body && cb->on_body(ud, c->rbuf, k))
			return fail(c, -ECANCELED, "request abandoned by the caller");
		c->body_left -= k;
		return c->body_left ? 0 : complete(c, n > k);
	}
	case FRAME_CHUNKED: {
		size_t out = 0;
		long used = nrv_chunked_decode(&c->chunk, c->rbuf, n, &out);
		if (used < 0)
			return fail(c, -EBADMSG, "malformed chunked transfer coding in the response body");
		if (out && cb->on_body && cb->on_body(ud, c->rbuf, out))
			return fail(c, -ECANCELED, "request abandoned by the caller");
		return c->chunk.done ? complete(c, (size_t)used < n) : 0;
	}
	default:
		if (n && cb->on_body && cb->on_body(ud, c->rbuf, n))
			return fail(c, -ECANCELED, "request abandoned by the caller");
		return 0;
	}
}

static int got_head(struct nrv_httpc *c, const struct nrv_httpc_cb *cb, void *ud)
{
	for (;;) {
		char perr[160];
		int hl = nrv_httpc_parse_head(c->rbuf, c->rlen, &c->head, perr, sizeof(perr));
		if (hl == -EAGAIN)
			return 0;
		if (hl < 0)
			return fail(c, -EBADMSG, "bad response from %s: %s", c->url->hostport, perr);
		memmove(c->rbuf, c->rbuf + hl, c->rlen - (size_t)hl);
		c->rlen -= (size_t)hl;
		if (c->head.status >= 100 && c->head.status < 200 && c->head.status != 101)
			continue;	/* interim response (100 Continue): the real one follows */
		int st = c->head.status;
		if (st == 101)
			return fail(c, -EPROTO, "the server switched protocols (101), which a load client cannot follow");
		if (st == 204 || st == 304) {
			c->framing = FRAME_NONE;
		} else if (c->head.chunked) {
			c->framing = FRAME_CHUNKED;
			nrv_chunked_init(&c->chunk);
		} else if (c->head.content_length >= 0) {
			c->framing = c->head.content_length ? FRAME_LENGTH : FRAME_NONE;
			c->body_left = (uint64_t)c->head.content_length;
		} else {
			c->framing = FRAME_CLOSE;
			c->head.close = true;
		}
		c->state = NRV_HTTPC_BODY;
		if (cb->on_head && cb->on_head(ud, &c->head))
			return fail(c, -ECANCELED, "request abandoned by the caller");
		return body_bytes(c, cb, ud);
	}
}

static int do_recv(struct nrv_httpc *c, const struct nrv_httpc_cb *cb, void *ud)
{
	for (;;) {
		if (c->rlen == c->rcap)
			return fail(c, -EBADMSG, "the response head from %s is larger than %d bytes", c->url->hostport,
				    NRV_HTTPC_MAX_HEAD);
		ssize_t r = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			int e = errno;
			if (can_retry(c))
				return retry(c);
			return fail(c, -e, "receiving from %s: %s", c->url->hostport, strerror(e));
		}
		if (r == 0) {
			if (c->state == NRV_HTTPC_BODY && c->framing == FRAME_CLOSE)
				return complete(c, false);
			if (can_retry(c))
				return retry(c);
			if (c->state == NRV_HTTPC_HEAD)
				return fail(c, -ECONNRESET, "%s closed the connection before a complete response head",
					    c->url->hostport);
			return fail(c, -ECONNRESET, "%s closed the connection in the middle of the response body",
				    c->url->hostport);
		}
		c->got_bytes = true;
		c->rlen += (size_t)r;
		int rc = c->state == NRV_HTTPC_HEAD ? got_head(c, cb, ud) : body_bytes(c, cb, ud);
		if (rc)
			return rc;
		if (c->state == NRV_HTTPC_IDLE)
			return 1;
	}
}

int nrv_httpc_step(struct nrv_httpc *c, short revents, const struct nrv_httpc_cb *cb, void *ud)
{
	static const struct nrv_httpc_cb none = { 0 };
	if (!cb)
		cb = &none;
	if (c->state == NRV_HTTPC_IDLE || c->fd < 0)
		return 0;
	if (c->state == NRV_HTTPC_CONNECTING) {
		if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
			return 0;
		int e = 0;
		socklen_t el = sizeof(e);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
			e = errno;
		if (e)
			return fail(c, -e, "connect to %s: %s", c->url->hostport, strerror(e));
		c->state = NRV_HTTPC_SENDING;
	}
	if (c->state == NRV_HTTPC_SENDING) {
		while (c->req_off < c->req_len) {
			ssize_t w = send(c->fd, c->req + c->req_off, c->req_len - c->req_off, MSG_NOSIGNAL);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					return 0;
				int e = errno;
				if (can_retry(c))
					return retry(c);
				return fail(c, -e, "sending to %s: %s", c->url->hostport, strerror(e));
			}
			c->req_off += (size_t)w;
		}
		c->state = NRV_HTTPC_HEAD;
		c->rlen = 0;
		return 0;
	}
	return do_recv(c, cb, ud);
}

int nrv_httpc_timeout(struct nrv_httpc *c)
{
	return fail(c, -ETIMEDOUT, "no complete response from %s within the timeout (was %s)", c->url->hostport,
		    state_name(c->state));
}

/* ---- one whole request ---- */

struct fetch_ctx {
	char *buf;
	size_t len, cap, max;
	bool truncated;
};

static int fetch_body(void *ud, const char *data, size_t n)
{
	struct fetch_ctx *f = ud;
	if (f->len + n > f->max) {
		n = f->max - f->len;
		f->truncated = true;
	}
	if (f->len + n + 1 > f->cap) {
		size_t nc = f->cap ? f->cap : 4096;
		while (nc < f->len + n + 1)
			nc *= 2;
		char *nb = realloc(f->buf, nc);
		if (!nb)
			return -ENOMEM;
		f->buf = nb;
		f->cap = nc;
	}
	memcpy(f->buf + f->len, data, n);
	f->len += n;
	f->buf[f->len] = '\0';
	return 0;
}

int nrv_httpc_fetch(const struct nrv_url *url, const char *method, const char *path, const char *headers,
		    const char *body, double timeout_s, size_t max_body, int *status, char **out,
		    char *err, size_t errlen)
{
	struct nrv_httpc c;
	struct fetch_ctx f = { .max = max_body };
	*out = NULL;
	int rc = nrv_httpc_init(&c, url);
	if (rc) {
		seterr(err, errlen, "out of memory");
		return rc;
	}
	int64_t deadline = nrv_httpc_now_ns() + (int64_t)(timeout_s * 1e9);
	rc = nrv_httpc_start(&c, method, path, headers, body, body ? strlen(body) : 0, deadline);
	const struct nrv_httpc_cb cb = { .on_body = fetch_body };
	short rev = 0;
	while (rc == 0) {
		rc = nrv_httpc_step(&c, rev, &cb, &f);
		if (rc)
			break;
		int64_t left = deadline - nrv_httpc_now_ns();
		if (left <= 0) {
			rc = nrv_httpc_timeout(&c);
			break;
		}
		struct pollfd pfd = { .fd = nrv_httpc_fd(&c), .events = nrv_httpc_events(&c) };
		int pr = poll(&pfd, 1, (int)(left / 1000000) + 1);
		if (pr < 0 && errno != EINTR) {
			rc = fail(&c, -errno, "poll: %s", strerror(errno));
			break;
		}
		rev = pr > 0 ? pfd.revents : 0;
	}
	if (rc < 0) {
		seterr(err, errlen, "%s", c.err);
		free(f.buf);
		nrv_httpc_fini(&c);
		return rc;
	}
	*status = c.head.status;
	if (!f.buf)
		fetch_body(&f, "", 0);
	*out = f.buf;
	nrv_httpc_fini(&c);
	if (!*out) {
		seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}
