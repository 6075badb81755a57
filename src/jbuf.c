/*
 * src/jbuf.c - growable buffer and JSON writing (see jbuf.h).
 */
#include "jbuf.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void nrv_jbuf_init(struct nrv_jbuf *b)
{
	memset(b, 0, sizeof(*b));
}

void nrv_jbuf_fini(struct nrv_jbuf *b)
{
	if (!b)
		return;
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void nrv_jbuf_reset(struct nrv_jbuf *b)
{
	b->len = 0;
	b->oom = false;
	if (b->p)
		b->p[0] = 0;
}

bool nrv_jbuf_ok(const struct nrv_jbuf *b)
{
	return !b->oom;
}

int nrv_jbuf_reserve(struct nrv_jbuf *b, size_t n)
{
	if (b->oom)
		return -ENOMEM;
	if (b->len + n + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1) {
		if (cap > SIZE_MAX / 2) {
			b->oom = true;
			return -ENOMEM;
		}
		cap *= 2;
	}
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return -ENOMEM;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void nrv_jbuf_put(struct nrv_jbuf *b, const void *s, size_t n)
{
	if (nrv_jbuf_reserve(b, n))
		return;
	if (n)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

void nrv_jbuf_puts(struct nrv_jbuf *b, const char *s)
{
	nrv_jbuf_put(b, s, strlen(s));
}

void nrv_jbuf_printf(struct nrv_jbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char tmp[256];
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(tmp)) {
		nrv_jbuf_put(b, tmp, (size_t)n);
		return;
	}
	if (nrv_jbuf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

size_t nrv_utf8_seq_len(const unsigned char *s, size_t n)
{
	if (!n)
		return 0;
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	size_t len;
	unsigned min;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	unsigned cp = c & (0xff >> (len + 1));
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void nrv_jbuf_str(struct nrv_jbuf *b, const char *s, size_t n)
{
	/* worst case: every byte becomes \u00XX (6) or U+FFFD (3) */
	if (nrv_jbuf_reserve(b, 6 * n + 2))
		return;
	char *o = b->p + b->len;
	const unsigned char *u = (const unsigned char *)s;
	*o++ = '"';
	size_t i = 0;
	while (i < n) {
		unsigned c = u[i];
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			*o++ = (char)c;
			i++;
			continue;
		}
		if (c < 0x80) {
			*o++ = '\\';
			switch (c) {
			case '"': *o++ = '"'; break;
			case '\\': *o++ = '\\'; break;
			case '\n': *o++ = 'n'; break;
			case '\r': *o++ = 'r'; break;
			case '\t': *o++ = 't'; break;
			case '\b': *o++ = 'b'; break;
			case '\f': *o++ = 'f'; break;
			default:
				o += sprintf(o, "u%04x", c);
			}
			i++;
			continue;
		}
		size_t l = nrv_utf8_seq_len(u + i, n - i);
		if (l) {
			memcpy(o, u + i, l);
			o += l;
			i += l;
		} else {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	*o++ = '"';
	*o = 0;
	b->len = (size_t)(o - b->p);
}

void nrv_jbuf_cstr(struct nrv_jbuf *b, const char *s)
{
	nrv_jbuf_str(b, s, strlen(s));
}

void nrv_jbuf_num(struct nrv_jbuf *b, double v)
{
	if (!isfinite(v)) {
		nrv_jbuf_puts(b, "-9999.0");
		return;
	}
	char tmp[40];
	int n = snprintf(tmp, sizeof(tmp), "%.9g", v);
	/* "%g" may print "1e+20" (valid JSON) or "5" (valid); never "inf" here */
	nrv_jbuf_put(b, tmp, (size_t)n);
}

void nrv_jbuf_int(struct nrv_jbuf *b, int64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);
	nrv_jbuf_put(b, tmp, (size_t)n);
}
