/*
 * src/sse.c - incremental server-sent events parser; see sse.h.
 *
 * A line is processed straight from the caller's buffer when it lies there
 * whole; only a line split across feeds is copied into p->line. So a stream
 * that arrives in large reads costs one copy (of the data fields) per event.
 */
#include "sse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SSE_DEFAULT_MAX ((size_t)1 << 20)

void nrv_sse_init(struct nrv_sse *p, size_t max_event)
{
	memset(p, 0, sizeof(*p));
	p->max_event = max_event ? max_event : SSE_DEFAULT_MAX;
}

void nrv_sse_fini(struct nrv_sse *p)
{
	if (!p)
		return;
	free(p->line);
	free(p->data);
	p->line = p->data = NULL;
	p->line_len = p->line_cap = p->data_len = p->data_cap = 0;
}

void nrv_sse_reset(struct nrv_sse *p)
{
	p->line_len = 0;
	p->data_len = 0;
	p->event[0] = '\0';
	p->after_cr = false;
}

/* Make room for need bytes in *buf; need never exceeds max + 1. */
static int reserve(char **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 256;
	while (nc < need)
		nc *= 2;
	char *nb = realloc(*buf, nc);
	if (!nb)
		return -ENOMEM;
	*buf = nb;
	*cap = nc;
	return 0;
}

static int dispatch(struct nrv_sse *p, nrv_sse_cb cb, void *ud)
{
	if (p->data_len == 0) {
		/* No data field since the last blank line: nothing to deliver. */
		p->event[0] = '\0';
		return 0;
	}
	/* Every data line was stored with a '\n' after it; the last one becomes
	 * the terminator. */
	size_t len = p->data_len - 1;
	p->data[len] = '\0';
	p->data_len = 0;
	p->n_events++;
	char ev[sizeof(p->event)];
	if (p->event[0])
		memcpy(ev, p->event, sizeof(ev));
	else
		strcpy(ev, "message");
	p->event[0] = '\0';
	return cb(ud, ev, p->data, len);
}

static int process_line(struct nrv_sse *p, const char *s, size_t n, nrv_sse_cb cb, void *ud)
{
	if (n == 0)
		return dispatch(p, cb, ud);
	if (s[0] == ':') {
		p->n_comments++;
		return 0;
	}
	const char *colon = memchr(s, ':', n);
	size_t name_len = colon ? (size_t)(colon - s) : n;
	const char *val = colon ? colon + 1 : s + n;
	size_t val_len = (size_t)(s + n - val);
	if (val_len && val[0] == ' ') {
		val++;
		val_len--;
	}
	if (name_len == 4 && !memcmp(s, "data", 4)) {
		if (p->data_len + val_len + 1 > p->max_event)
			return -EMSGSIZE;
		int rc = reserve(&p->data, &p->data_cap, p->data_len + val_len + 1);
		if (rc)
			return rc;
		memcpy(p->data + p->data_len, val, val_len);
		p->data_len += val_len;
		p->data[p->data_len++] = '\n';
	} else if (name_len == 5 && !memcmp(s, "event", 5)) {
		size_t k = val_len < sizeof(p->event) - 1 ? val_len : sizeof(p->event) - 1;
		memcpy(p->event, val, k);
		p->event[k] = '\0';
	}
	/* "id", "retry" and unknown fields: ignored. */
	return 0;
}

int nrv_sse_feed(struct nrv_sse *p, const char *buf, size_t n, nrv_sse_cb cb, void *ud)
{
	size_t i = 0;
	if (n == 0)
		return 0;
	if (p->after_cr && buf[0] == '\n')
		i = 1;	/* the LF of a CRLF split across feeds */
	p->after_cr = false;
	while (i < n) {
		/* Find the end of the line: the first CR or LF. */
		size_t j = i;
		while (j < n && buf[j] != '\n' && buf[j] != '\r')
			j++;
		size_t seg = j - i;
		if (j == n) {
			/* No terminator yet: keep the partial line. */
			if (p->line_len + seg > p->max_event)
				return -EMSGSIZE;
			int rc = reserve(&p->line, &p->line_cap, p->line_len + seg);
			if (rc)
				return rc;
			memcpy(p->line + p->line_len, buf + i, seg);
			p->line_len += seg;
			return 0;
		}
		int rc;
		if (p->line_len) {
			if (p->line_len + seg > p->max_event)
				return -EMSGSIZE;
			rc = reserve(&p->line, &p->line_cap, p->line_len + seg);
			if (rc)
				return rc;
			memcpy(p->line + p->line_len, buf + i, seg);
			size_t len = p->line_len + seg;
			p->line_len = 0;
			rc = process_line(p, p->line, len, cb, ud);
		} else {
			if (seg > p->max_event)
				return -EMSGSIZE;
			rc = process_line(p, buf + i, seg, cb, ud);
		}
		if (rc)
			return rc;
		if (buf[j] == '\r') {
			if (j + 1 == n) {
				p->after_cr = true;
				return 0;
			}
			if (buf[j + 1] == '\n')
				j++;
		}
		i = j + 1;
	}
	return 0;
}

int nrv_sse_finish(struct nrv_sse *p, nrv_sse_cb cb, void *ud)
{
	int rc = 0;
	p->after_cr = false;
	if (p->line_len) {
		size_t len = p->line_len;
		p->line_len = 0;
		rc = process_line(p, p->line, len, cb, ud);
	}
	if (!rc)
		rc = dispatch(p, cb, ud);
	return rc;
}
