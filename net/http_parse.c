/*
 * net/http_parse.c - strict zero-copy HTTP/1.1 request parsing (see
 * http_parse.h).
 */
#include "net/http_parse.h"

#include <errno.h>
#include <string.h>

/* tchar from RFC 9110 5.6.2: the characters of methods and header names. */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A field value byte: visible ASCII, space, tab or obs-text. */
static bool is_vchar_ws(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static unsigned char lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

bool nrv__http_ieq(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return false;
	return true;
}

const struct nrv_http_header *nrv_http_find_header(const struct nrv_http_request *req,
						   const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++)
		if (nrv__http_ieq(req->headers[i].name, req->headers[i].name_len, name))
			return &req->headers[i];
	return NULL;
}

#define BAD(msg)                          \
	do {                              \
		if (why)                  \
			*why = (msg);     \
		return -EBADMSG;          \
	} while (0)

/* Expect the literal lit at buf[*p]: 0 when matched (and advanced), -EAGAIN
 * when buf ends inside a matching prefix, -EBADMSG on a mismatch. */
static int expect_lit(const char *buf, size_t len, size_t *p, const char *lit)
{
	for (size_t i = 0; lit[i]; i++) {
		if (*p + i >= len)
			return -EAGAIN;
		if (buf[*p + i] != lit[i])
			return -EBADMSG;
	}
	*p += strlen(lit);
	return 0;
}

int nrv_http_parse_request(const char *buf, size_t len, struct nrv_http_request *req,
			   const char **why)
{
	size_t p = 0;
	req->n_headers = 0;

	/* RFC 9112 2.2: a server should ignore empty lines before the request. */
	while (p < len && buf[p] == '\r') {
		if (p + 1 >= len)
			return -EAGAIN;
		if (buf[p + 1] != '\n')
			BAD("a line ends with a bare CR: end lines with CRLF");
		p += 2;
	}

	/* method SP */
	size_t m0 = p;
	while (p < len && is_tchar((unsigned char)buf[p]))
		p++;
	if (p >= len)
		return -EAGAIN;
	if (buf[p] != ' ')
		BAD("the method contains a character that is not allowed: send e.g. GET or POST");
	if (p == m0)
		BAD("the request line has no method: send e.g. \"POST /v1/completions HTTP/1.1\"");
	req->method = buf + m0;
	req->method_len = p - m0;
	p++;

	/* request-target SP: visible ASCII only */
	size_t t0 = p;
	while (p < len && (unsigned char)buf[p] > 0x20 && (unsigned char)buf[p] < 0x7f)
		p++;
	if (p >= len)
		return -EAGAIN;
	if (buf[p] != ' ')
		BAD("the request target contains a space, control or non-ASCII byte: percent-encode it");
	if (p == t0)
		BAD("the request line has no target (path): send e.g. \"GET /health HTTP/1.1\"");
	req->path = buf + t0;
	req->path_len = p - t0;
	p++;

	/* HTTP-version CRLF */
	int r = expect_lit(buf, len, &p, "HTTP/");
	if (r == -EAGAIN)
		return r;
	if (r < 0)
		BAD("the request line must end with HTTP/1.1 or HTTP/1.0, separated by single spaces");
	if (p + 3 > len)
		return -EAGAIN;
	unsigned char maj = (unsigned char)buf[p], dot = (unsigned char)buf[p + 1],
		      min = (unsigned char)buf[p + 2];
	if (maj < '0' || maj > '9' || dot != '.' || min < '0' || min > '9')
		BAD("the HTTP version is malformed: use HTTP/1.1");
	p += 3;
	r = expect_lit(buf, len, &p, "\r\n");
	if (r == -EAGAIN)
		return r;
	if (r < 0)
		BAD("the request line must end with the version and CRLF");
	if (maj != '1') {
		if (why)
			*why = "only HTTP/1.0 and HTTP/1.1 are served: use HTTP/1.1";
		return -EPROTONOSUPPORT;
	}
	req->minor_version = min - '0';

	/* header fields, then an empty line */
	for (;;) {
		if (p >= len)
			return -EAGAIN;
		if (buf[p] == '\r') {
			if (p + 1 >= len)
				return -EAGAIN;
			if (buf[p + 1] != '\n')
				BAD("a line ends with a bare CR: end lines with CRLF");
			return (int)(p + 2);
		}
		if (buf[p] == ' ' || buf[p] == '\t')
			BAD("a header line starts with whitespace (obs-fold): put each header on one line");
		size_t n0 = p;
		while (p < len && is_tchar((unsigned char)buf[p]))
			p++;
		if (p >= len)
			return -EAGAIN;
		if (buf[p] != ':') {
			if (buf[p] == ' ' || buf[p] == '\t')
				BAD("a header name is followed by whitespace before the colon: remove it");
			BAD("a header name contains a character that is not allowed, or a line has no colon");
		}
		if (p == n0)
			BAD("a header line has an empty name");
		if (req->n_headers >= NRV_HTTP_MAX_HEADERS) {
			if (why)
				*why = "too many header fields: send at most 64";
			return -E2BIG;
		}
		struct nrv_http_header *h = &req->headers[req->n_headers];
		h->name = buf + n0;
		h->name_len = p - n0;
		p++;
		while (p < len && (buf[p] == ' ' || buf[p] == '\t'))
			p++;
		size_t v0 = p;
		while (p < len && buf[p] != '\r' && is_vchar_ws((unsigned char)buf[p]))
			p++;
		if (p >= len)
			return -EAGAIN;
		if (buf[p] != '\r')
			BAD("a header value contains a control character or a bare LF: remove it");
		size_t v1 = p;
		while (v1 > v0 && (buf[v1 - 1] == ' ' || buf[v1 - 1] == '\t'))
			v1--;
		h->value = buf + v0;
		h->value_len = v1 - v0;
		if (p + 1 >= len)
			return -EAGAIN;
		if (buf[p + 1] != '\n')
			BAD("a line ends with a bare CR: end lines with CRLF");
		p += 2;
		req->n_headers++;
		/* A header block past INT_MAX cannot be returned; callers bound
		 * the input far below that, this keeps the return type honest. */
		if (p > (size_t)0x7fffffff)
			BAD("the header block is too large");
	}
}

/* Calls fn on each comma-separated, OWS-trimmed element of a list value.
 * Empty elements are skipped (RFC 9110 5.6.1). Stops at a non-zero return. */
static int each_token(const char *v, size_t n, int (*fn)(void *, const char *, size_t), void *arg)
{
	size_t i = 0;
	while (i < n) {
		size_t a = i;
		while (i < n && v[i] != ',')
			i++;
		size_t b = i;
		while (a < b && (v[a] == ' ' || v[a] == '\t'))
			a++;
		while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
			b--;
		if (b > a) {
			int r = fn(arg, v + a, b - a);
			if (r)
				return r;
		}
		i++;
	}
	return 0;
}

struct conn_opts {
	bool close, keep_alive;
};

static int conn_token(void *arg, const char *t, size_t n)
{
	struct conn_opts *o = arg;
	if (nrv__http_ieq(t, n, "close"))
		o->close = true;
	else if (nrv__http_ieq(t, n, "keep-alive"))
		o->keep_alive = true;
	return 0;
}

struct te_state {
	int n;            /* codings seen */
	bool last_chunked;
	bool chunked_before_last;
};

static int te_token(void *arg, const char *t, size_t n)
{
	struct te_state *s = arg;
	if (s->last_chunked)
		s->chunked_before_last = true;
	s->last_chunked = nrv__http_ieq(t, n, "chunked");
	s->n++;
	return 0;
}

#define FAIL(st, msg)                     \
	do {                              \
		*status = (st);           \
		if (why)                  \
			*why = (msg);     \
		return -EBADMSG;          \
	} while (0)

int nrv_http_parse_framing(const struct nrv_http_request *req, struct nrv_http_framing *f,
			   int *status, const char **why)
{
	static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "DELETE",
					       "OPTIONS", "PATCH" };
	memset(f, 0, sizeof(*f));
	bool known = false;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (req->method_len == strlen(methods[i]) &&
		    memcmp(req->method, methods[i], req->method_len) == 0)
			known = true;
	if (!known)
		FAIL(501, "the method is not supported: use GET, HEAD, POST, PUT, DELETE, OPTIONS or PATCH");
	f->is_head = req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0;

	struct conn_opts co = { false, false };
	struct te_state te = { 0, false, false };
	int n_host = 0;
	for (size_t i = 0; i < req->n_headers; i++) {
		const struct nrv_http_header *h = &req->headers[i];
		if (nrv__http_ieq(h->name, h->name_len, "content-length")) {
			if (h->value_len == 0)
				FAIL(400, "Content-Length is empty: send the body size in bytes");
			uint64_t v = 0;
			for (size_t k = 0; k < h->value_len; k++) {
				unsigned char c = (unsigned char)h->value[k];
				if (c < '0' || c > '9')
					FAIL(400, "Content-Length must be one decimal number of bytes");
				if (v > (UINT64_MAX - 9) / 10)
					v = UINT64_MAX; /* too large to count: over any limit */
				else
					v = v * 10 + (c - '0');
			}
			if (f->has_length && f->content_length != v)
				FAIL(400, "the request has conflicting Content-Length headers: send one");
			f->has_length = true;
			f->content_length = v;
		} else if (nrv__http_ieq(h->name, h->name_len, "transfer-encoding")) {
			each_token(h->value, h->value_len, te_token, &te);
		} else if (nrv__http_ieq(h->name, h->name_len, "connection")) {
			each_token(h->value, h->value_len, conn_token, &co);
		} else if (nrv__http_ieq(h->name, h->name_len, "expect")) {
			if (!nrv__http_ieq(h->value, h->value_len, "100-continue"))
				FAIL(417, "the only expectation supported is Expect: 100-continue");
			f->expect_continue = true;
		} else if (nrv__http_ieq(h->name, h->name_len, "host")) {
			n_host++;
		}
	}
	bool has_te = false;
	for (size_t i = 0; i < req->n_headers; i++)
		if (nrv__http_ieq(req->headers[i].name, req->headers[i].name_len,
				  "transfer-encoding"))
			has_te = true;
	if (has_te) {
		if (f->has_length)
			FAIL(400, "the request has both Content-Length and Transfer-Encoding: send one");
		if (req->minor_version == 0)
			FAIL(400, "Transfer-Encoding is not defined in HTTP/1.0: send Content-Length");
		if (te.n == 0 || !te.last_chunked || te.chunked_before_last)
			FAIL(400, "Transfer-Encoding must end with chunked, once");
		if (te.n > 1)
			FAIL(501, "the only transfer coding supported is chunked");
		f->chunked = true;
	}
	if (req->minor_version >= 1 && n_host != 1)
		FAIL(400, "an HTTP/1.1 request needs exactly one Host header");
	bool wants_body = (req->method_len == 4 && memcmp(req->method, "POST", 4) == 0) ||
			  (req->method_len == 3 && memcmp(req->method, "PUT", 3) == 0) ||
			  (req->method_len == 5 && memcmp(req->method, "PATCH", 5) == 0);
	if (wants_body && !f->has_length && !f->chunked)
		FAIL(411, "a request with a body needs Content-Length (or chunked Transfer-Encoding)");
	if (req->minor_version >= 1)
		f->keep_alive = !co.close;
	else
		f->keep_alive = co.keep_alive && !co.close;
	return 0;
}

enum {
	DC_SIZE0 = 0, /* first hex digit of a size line */
	DC_SIZE,      /* more hex digits, ';' or CR */
	DC_EXT,       /* chunk extension up to CR */
	DC_SIZE_LF,
	DC_DATA,
	DC_DATA_CR,
	DC_DATA_LF,
	DC_TRL0,      /* start of a trailer line or the final CRLF */
	DC_TRL,       /* inside a trailer line */
	DC_TRL_LF,
	DC_END_LF,
};

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int nrv_http_dechunk(struct nrv_http_dechunk *d, char *buf, size_t *wr, size_t *rd, size_t len,
		     uint64_t max, const char **why)
{
	size_t w = *wr, r = *rd;
	int ret = 0;
	while (r < len) {
		unsigned char c = (unsigned char)buf[r];
		switch (d->state) {
		case DC_SIZE0:
		case DC_SIZE: {
			int v = hexval(c);
			if (v >= 0) {
				if (d->digits >= 15) {
					ret = -EMSGSIZE; /* 16 hex digits are past any limit */
					goto out;
				}
				d->left = d->left * 16 + (uint64_t)v;
				d->digits++;
				d->state = DC_SIZE;
				r++;
				break;
			}
			if (d->state == DC_SIZE0) {
				if (why)
					*why = "a chunk size line does not start with a hex number";
				ret = -EBADMSG;
				goto out;
			}
			if (d->left > max || d->total > max - d->left) {
				ret = -EMSGSIZE;
				goto out;
			}
			if (c == ';') {
				d->state = DC_EXT;
			} else if (c == '\r') {
				d->state = DC_SIZE_LF;
			} else {
				if (why)
					*why = "a chunk size is followed by something other than ';' or CRLF";
				ret = -EBADMSG;
				goto out;
			}
			r++;
			break;
		}
		case DC_EXT:
			if (c == '\r') {
				d->state = DC_SIZE_LF;
			} else if (!is_vchar_ws(c)) {
				if (why)
					*why = "a chunk extension contains a control character";
				ret = -EBADMSG;
				goto out;
			}
			r++;
			break;
		case DC_SIZE_LF:
			if (c != '\n') {
				if (why)
					*why = "a chunk size line ends with a bare CR: end it with CRLF";
				ret = -EBADMSG;
				goto out;
			}
			r++;
			d->digits = 0;
			d->state = d->left ? DC_DATA : DC_TRL0;
			break;
		case DC_DATA: {
			size_t n = len - r;
			if (n > d->left)
				n = (size_t)d->left;
			memmove(buf + w, buf + r, n);
			w += n;
			r += n;
			d->left -= n;
			d->total += n;
			if (d->left == 0)
				d->state = DC_DATA_CR;
			break;
		}
		case DC_DATA_CR:
		case DC_DATA_LF:
			if (c != (d->state == DC_DATA_CR ? '\r' : '\n')) {
				if (why)
					*why = "chunk data is not followed by CRLF: the chunk size is wrong";
				ret = -EBADMSG;
				goto out;
			}
			r++;
			d->state = d->state == DC_DATA_CR ? DC_DATA_LF : DC_SIZE0;
			break;
		case DC_TRL0:
			if (c == '\r') {
				d->state = DC_END_LF;
			} else if (is_tchar(c)) {
				d->state = DC_TRL;
			} else {
				if (why)
					*why = "a trailer line after the last chunk is malformed";
				ret = -EBADMSG;
				goto out;
			}
			r++;
			break;
		case DC_TRL:
			if (c == '\r') {
				d->state = DC_TRL_LF;
			} else if (!is_vchar_ws(c)) {
				if (why)
					*why = "a trailer line contains a control character";
				ret = -EBADMSG;
				goto out;
			}
			r++;
			break;
		case DC_TRL_LF:
		case DC_END_LF:
			if (c != '\n') {
				if (why)
					*why = "a line of the chunked body ends with a bare CR: use CRLF";
				ret = -EBADMSG;
				goto out;
			}
			r++;
			if (d->state == DC_END_LF) {
				ret = 1;
				goto out;
			}
			d->state = DC_TRL0;
			break;
		default:
			if (why)
				*why = "chunked decoder in a bad state";
			ret = -EBADMSG;
			goto out;
		}
	}
out:
	*wr = w;
	*rd = r;
	return ret;
}
