/*
 * tests/sse/test_sse.c - the server-sent events parser: the field rules,
 * every line ending, bounds, and the same events however the bytes are
 * split (fuzzed with random splits).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

/* Events collected as "event|data" strings joined by '\n'-free separators. */
struct got {
	char buf[65536];
	size_t len;
	int n;
	int stop_at;	/* return 7 from this event on (0: never) */
};

static int collect(void *ud, const char *event, const char *data, size_t len)
{
	struct got *g = ud;
	cr_assert_eq(strlen(data), len, "data must be NUL-terminated at len");
	int w = snprintf(g->buf + g->len, sizeof(g->buf) - g->len, "[%s|%s]", event, data);
	cr_assert(w > 0 && (size_t)w < sizeof(g->buf) - g->len);
	g->len += (size_t)w;
	g->n++;
	return g->stop_at && g->n >= g->stop_at ? 7 : 0;
}

static void parse_all(const char *s, struct got *g)
{
	struct nrv_sse p;
	nrv_sse_init(&p, 0);
	memset(g, 0, sizeof(*g));
	cr_assert_eq(nrv_sse_feed(&p, s, strlen(s), collect, g), 0);
	cr_assert_eq(nrv_sse_finish(&p, collect, g), 0);
	nrv_sse_fini(&p);
}

Test(sse, fields_and_comments)
{
	struct got g;
	parse_all("data: one\n\n"
		  ": keep-alive\n\n"
		  "event: error\ndata: {\"e\":1}\n\n"
		  "data:a\ndata:  b\ndata\n\n"
		  "id: 5\nretry: 10\nfoo: bar\ndata: x: y\n\n"
		  "event: lonely\n\n"
		  "data: after\n\n",
		  &g);
	cr_assert_str_eq(g.buf, "[message|one][error|{\"e\":1}][message|a\n b\n][message|x: y][message|after]");
}

Test(sse, line_endings)
{
	struct got g;
	parse_all("data: lf\n\ndata: crlf\r\n\r\ndata: cr\r\rdata: mixed\r\n\n", &g);
	cr_assert_str_eq(g.buf, "[message|lf][message|crlf][message|cr][message|mixed]");
}

Test(sse, finish_dispatches_an_unterminated_last_event)
{
	struct got g;
	parse_all("data: a\n\ndata: [DONE]\n", &g);
	cr_assert_str_eq(g.buf, "[message|a][message|[DONE]]");
	parse_all("data: b\n\ndata: [DONE]", &g);
	cr_assert_str_eq(g.buf, "[message|b][message|[DONE]]");
	parse_all(": only a comment", &g);
	cr_assert_eq(g.n, 0);
}

Test(sse, callback_stops_parsing)
{
	struct nrv_sse p;
	struct got g = { .stop_at = 2 };
	nrv_sse_init(&p, 0);
	const char *s = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
	cr_assert_eq(nrv_sse_feed(&p, s, strlen(s), collect, &g), 7);
	cr_assert_eq(g.n, 2);
	nrv_sse_fini(&p);
}

Test(sse, bounded)
{
	struct nrv_sse p;
	struct got g = { 0 };
	nrv_sse_init(&p, 32);
	char line[100];
	memset(line, 'x', sizeof(line));
	/* a line without an end, fed in pieces */
	cr_assert_eq(nrv_sse_feed(&p, "data: ", 6, collect, &g), 0);
	int rc = 0;
	for (int i = 0; i < 10 && !rc; i++)
		rc = nrv_sse_feed(&p, line, 10, collect, &g);
	cr_assert_eq(rc, -EMSGSIZE);
	nrv_sse_fini(&p);
	/* an event whose data lines add up past the bound */
	nrv_sse_init(&p, 32);
	const char *s = "data: 0123456789\ndata: 0123456789\ndata: 0123456789\n\n";
	cr_assert_eq(nrv_sse_feed(&p, s, strlen(s), collect, &g), -EMSGSIZE);
	cr_assert_eq(g.n, 0);
	nrv_sse_fini(&p);
	nrv_sse_fini(NULL);
}

Test(sse, reset_forgets_partial_state)
{
	struct nrv_sse p;
	struct got g = { 0 };
	nrv_sse_init(&p, 0);
	cr_assert_eq(nrv_sse_feed(&p, "data: half", 10, collect, &g), 0);
	nrv_sse_reset(&p);
	cr_assert_eq(nrv_sse_feed(&p, "data: new\n\n", 11, collect, &g), 0);
	cr_assert_str_eq(g.buf, "[message|new]");
	nrv_sse_fini(&p);
}

/* The same stream fed in random pieces, down to single bytes, gives the same
 * events and comment count as fed whole. */
Test(sse, random_splits)
{
	static const char stream[] =
		"data: {\"choices\":[{\"text\":\" hello\"}]}\n\n"
		": ping\r\n\r\n"
		"data: {\"choices\":[{\"text\":\" w\xc3\xb6rld\"}]}\r\n\r\n"
		"event: error\rdata: multi\rdata: line\r\r"
		"data:\n\n"
		"data: first\r\ndata: second\r\nid: 3\r\n\r\n"
		"data: {\"usage\":{\"completion_tokens\":2}}\n\n"
		"data: [DONE]\n\n";
	struct got whole;
	parse_all(stream, &whole);
	cr_assert_eq(whole.n, 7);
	size_t n = strlen(stream);
	srand(12345);
	for (int iter = 0; iter < 2000; iter++) {
		struct nrv_sse p;
		struct got g;
		memset(&g, 0, sizeof(g));
		nrv_sse_init(&p, 0);
		size_t off = 0;
		while (off < n) {
			size_t k = 1 + (size_t)rand() % (iter % 3 == 0 ? 2 : 17);
			if (k > n - off)
				k = n - off;
			cr_assert_eq(nrv_sse_feed(&p, stream + off, k, collect, &g), 0);
			/* empty feeds are harmless */
			cr_assert_eq(nrv_sse_feed(&p, stream + off, 0, collect, &g), 0);
			off += k;
		}
		cr_assert_eq(nrv_sse_finish(&p, collect, &g), 0);
		cr_assert_str_eq(g.buf, whole.buf, "iteration %d: %s VS %s", iter, g.buf, whole.buf);
		cr_assert_eq(p.n_comments, 1);
		nrv_sse_fini(&p);
	}
}
