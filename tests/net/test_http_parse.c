/*
 * tests/net/test_http_parse.c - the strict HTTP/1.1 request parser, the
 * framing rules and the chunked decoder: valid input, each malformed case,
 * input split at every point, and a random-mutation fuzz loop.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_parse.h"

static struct nrv_http_request req;

static int parse(const char *s)
{
	return nrv_http_parse_request(s, strlen(s), &req, NULL);
}

static bool span_eq(const char *p, size_t n, const char *want)
{
	return n == strlen(want) && memcmp(p, want, n) == 0;
}

Test(http_parse, simple_get)
{
	const char *s = "GET /v1/models?x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent:  t/1 \t\r\n\r\n";
	cr_assert_eq(parse(s), (int)strlen(s));
	cr_assert(span_eq(req.method, req.method_len, "GET"));
	cr_assert(span_eq(req.path, req.path_len, "/v1/models?x=1"));
	cr_assert_eq(req.minor_version, 1);
	cr_assert_eq(req.n_headers, 2);
	cr_assert(span_eq(req.headers[1].name, req.headers[1].name_len, "User-Agent"));
	cr_assert(span_eq(req.headers[1].value, req.headers[1].value_len, "t/1"),
		  "value is trimmed of surrounding whitespace");
	const struct nrv_http_header *h = nrv_http_find_header(&req, "user-agent");
	cr_assert_not_null(h);
	cr_assert_null(nrv_http_find_header(&req, "cookie"));
}

Test(http_parse, pointers_are_into_the_input)
{
	const char *s = "POST /a HTTP/1.0\r\nX-Empty:\r\nContent-Length: 3\r\n\r\nabc";
	int n = parse(s);
	cr_assert_eq(n, (int)strlen(s) - 3, "the body is not part of the header block");
	cr_assert_eq(req.method, s);
	cr_assert_eq(req.minor_version, 0);
	cr_assert_eq(req.headers[0].value_len, 0);
	cr_assert(req.headers[1].value >= s && req.headers[1].value < s + n);
}

Test(http_parse, leading_empty_lines_are_skipped)
{
	const char *s = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
	cr_assert_eq(parse(s), (int)strlen(s));
	cr_assert(span_eq(req.path, req.path_len, "/"));
}

Test(http_parse, obs_text_in_values_is_kept)
{
	const char *s = "GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9\r\n\r\n";
	cr_assert_eq(parse(s), (int)strlen(s));
	cr_assert_eq(req.headers[1].value_len, 5);
}

static const char *const malformed[] = {
	" GET / HTTP/1.1\r\n\r\n",                    /* no method */
	"G(T / HTTP/1.1\r\n\r\n",                     /* separator in method */
	"GET\t/ HTTP/1.1\r\n\r\n",                    /* tab instead of space */
	"GET  / HTTP/1.1\r\n\r\n",                    /* two spaces: empty target */
	"GET / HTTP/1.1 \r\n\r\n",                    /* trailing space */
	"GET /a\x01 HTTP/1.1\r\n\r\n",                /* control in target */
	"GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n",          /* non-ASCII target */
	"GET / http/1.1\r\n\r\n",                     /* lower-case version */
	"GET / HTTP/1\r\n\r\n",                       /* short version */
	"GET / HTTP/1.10\r\n\r\n",                    /* long version */
	"GET / HTTP/x.1\r\n\r\n",
	"GET / HTTP/1.1\n\n",                         /* bare LF */
	"GET / HTTP/1.1\r\r\n\r\n",                   /* bare CR */
	"GET / HTTP/1.1\r\nHost : a\r\n\r\n",         /* space before colon */
	"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHo st: a\r\n\r\n",         /* space in name */
	"GET / HTTP/1.1\r\n: a\r\n\r\n",              /* empty name */
	"GET / HTTP/1.1\r\nHost a\r\n\r\n",           /* no colon */
	"GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n",    /* obs-fold */
	"GET / HTTP/1.1\r\nHost: a\r\n\tb\r\n\r\n",   /* obs-fold with tab */
	"GET / HTTP/1.1\r\nHost: a\x00z\r\n\r\n",     /* NUL in value (length below) */
	"GET / HTTP/1.1\r\nHost: a\x1b[0m\r\n\r\n",   /* escape in value */
	"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n",    /* bare LF in value */
	"GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n",      /* DEL in value */
	"GET / HTTP/1.1\r\nHo\x80st: a\r\n\r\n",      /* non-ASCII name */
	"\r\rGET / HTTP/1.1\r\n\r\n",
};

Test(http_parse, malformed_is_rejected)
{
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		size_t len = strlen(malformed[i]);
		if (i == 20)
			len = 29; /* the NUL case: past the embedded NUL */
		const char *why = NULL;
		int r = nrv_http_parse_request(malformed[i], len, &req, &why);
		cr_assert_eq(r, -EBADMSG, "case %zu (%s) gave %d", i, malformed[i], r);
		cr_assert_not_null(why, "case %zu has no message", i);
	}
}

Test(http_parse, too_many_headers_and_bad_major)
{
	char buf[4096];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\n");
	for (int i = 0; i < NRV_HTTP_MAX_HEADERS; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-%d: v\r\n", i);
	memcpy(buf + n, "\r\n", 3);
	cr_assert_eq(parse(buf), (int)n + 2, "exactly the maximum is fine");
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-last: v\r\n\r\n");
	cr_assert_eq(parse(buf), -E2BIG);
	cr_assert_eq(parse("GET / HTTP/2.0\r\n\r\n"), -EPROTONOSUPPORT);
	cr_assert_eq(parse("GET / HTTP/0.9\r\n\r\n"), -EPROTONOSUPPORT);
}

static const char *const valid[] = {
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"\r\nPOST /v1/chat/completions HTTP/1.1\r\nHost: localhost:8080\r\n"
	"Content-Type: application/json\r\nContent-Length: 12\r\nX-Empty:\r\n\r\n",
	"DELETE /x%20y?q=1#f HTTP/1.0\r\n\r\n",
};

Test(http_parse, every_prefix_needs_more)
{
	for (size_t v = 0; v < sizeof(valid) / sizeof(valid[0]); v++) {
		size_t len = strlen(valid[v]);
		for (size_t k = 0; k < len; k++) {
			int r = nrv_http_parse_request(valid[v], k, &req, NULL);
			cr_assert_eq(r, -EAGAIN, "valid %zu cut at %zu gave %d", v, k, r);
		}
		cr_assert_eq(nrv_http_parse_request(valid[v], len, &req, NULL), (int)len);
	}
}

static int framing(const char *s, struct nrv_http_framing *f)
{
	int n = parse(s);
	cr_assert_gt(n, 0, "parse of %s", s);
	int status = 0;
	const char *why = NULL;
	int r = nrv_http_parse_framing(&req, f, &status, &why);
	if (r) {
		cr_assert_not_null(why);
		return status;
	}
	return 0;
}

Test(http_parse, framing_rules)
{
	struct nrv_http_framing f;
	cr_assert_eq(framing("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &f), 0);
	cr_assert(f.keep_alive && !f.has_length && !f.chunked && !f.is_head);
	cr_assert_eq(framing("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, Close\r\n\r\n", &f), 0);
	cr_assert(!f.keep_alive);
	cr_assert_eq(framing("GET / HTTP/1.0\r\n\r\n", &f), 0);
	cr_assert(!f.keep_alive, "1.0 closes by default");
	cr_assert_eq(framing("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &f), 0);
	cr_assert(f.keep_alive);
	cr_assert_eq(framing("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", &f), 0);
	cr_assert(f.is_head);
	cr_assert_eq(framing("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n", &f), 0);
	cr_assert(f.has_length && f.content_length == 42);
	cr_assert_eq(framing("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
			     "Content-Length: 4\r\n\r\n", &f), 0, "identical repeats are one");
	cr_assert_eq(framing("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
			     &f), 0);
	cr_assert_eq(f.content_length, UINT64_MAX, "too large to count is over any limit");
	cr_assert_eq(framing("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n", &f), 0);
	cr_assert(f.chunked);
	cr_assert_eq(framing("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
			     "Expect: 100-Continue\r\n\r\n", &f), 0);
	cr_assert(f.expect_continue);

	cr_assert_eq(framing("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
			     "Content-Length: 5\r\n\r\n", &f), 400, "conflicting lengths");
	cr_assert_eq(framing("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4, 4\r\n\r\n", &f), 400);
	cr_assert_eq(framing("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", &f), 400);
	cr_assert_eq(framing("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", &f), 400);
	cr_assert_eq(framing("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", &f), 400);
	cr_assert_eq(framing("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
			     "Transfer-Encoding: chunked\r\n\r\n", &f), 400, "CL + TE smuggling");
	cr_assert_eq(framing("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", &f), 400);
	cr_assert_eq(framing("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
			     &f), 400);
	cr_assert_eq(framing("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
			     "Transfer-Encoding: chunked\r\n\r\n", &f), 400);
	cr_assert_eq(framing("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
			     &f), 501);
	cr_assert_eq(framing("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", &f), 400);
	cr_assert_eq(framing("GET / HTTP/1.1\r\n\r\n", &f), 400, "no Host");
	cr_assert_eq(framing("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", &f), 400);
	cr_assert_eq(framing("POST / HTTP/1.1\r\nHost: a\r\n\r\n", &f), 411);
	cr_assert_eq(framing("GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", &f), 417);
	cr_assert_eq(framing("BREW / HTTP/1.1\r\nHost: a\r\n\r\n", &f), 501);
	cr_assert_eq(framing("get / HTTP/1.1\r\nHost: a\r\n\r\n", &f), 501, "methods are case-sensitive");
}

/* Decode s in one go, or fed in pieces of step bytes. */
static int dechunk(const char *s, size_t step, uint64_t max, char *out, size_t *out_len,
		   size_t *consumed)
{
	size_t len = strlen(s);
	char *buf = malloc(len + 1);
	memcpy(buf, s, len + 1);
	struct nrv_http_dechunk d;
	nrv_http_dechunk_init(&d);
	size_t wr = 0, rd = 0, have = 0;
	int r = 0;
	while (have < len) {
		have = have + step > len ? len : have + step;
		r = nrv_http_dechunk(&d, buf, &wr, &rd, have, max, NULL);
		cr_assert_leq(wr, rd);
		if (r != 0)
			break;
	}
	memcpy(out, buf, wr);
	*out_len = wr;
	*consumed = rd;
	free(buf);
	return r;
}

Test(http_parse, dechunk_valid_at_every_split)
{
	const char *s = "5\r\nhello\r\n1;name=v\r\n \r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\nNEXT";
	for (size_t step = 1; step <= strlen(s); step++) {
		char out[64];
		size_t n, used;
		int r = dechunk(s, step, 1000, out, &n, &used);
		cr_assert_eq(r, 1, "step %zu", step);
		cr_assert_eq(n, 16);
		cr_assert_eq(memcmp(out, "hello 0123456789", 16), 0);
		cr_assert_eq(used, strlen(s) - 4, "stops before the next request");
	}
}

Test(http_parse, dechunk_malformed_and_limits)
{
	static const char *const bad[] = {
		"x\r\n",              /* not hex */
		"\r\n",               /* empty size */
		"5 \r\nhello\r\n",    /* space after size */
		"5\nhello\r\n",       /* bare LF */
		"5\r\nhelloXX",       /* data longer than the size */
		"5\r\nhello\r\r",
		"0\r\n\x01\r\n\r\n",  /* bad trailer */
		"0\r\nX: a\x01\r\n",
		"0\r\n\r\r",
		"3;e\x01\r\nabc\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char out[64];
		size_t n, used;
		cr_assert_eq(dechunk(bad[i], strlen(bad[i]), 1000, out, &n, &used), -EBADMSG,
			     "case %zu", i);
	}
	char out[64];
	size_t n, used;
	cr_assert_eq(dechunk("10\r\n", 4, 15, out, &n, &used), -EMSGSIZE,
		     "the size line alone is enough to refuse");
	cr_assert_eq(dechunk("8\r\n12345678\r\n8\r\n", 100, 15, out, &n, &used), -EMSGSIZE);
	cr_assert_eq(dechunk("ffffffffffffffffff\r\n", 100, UINT64_MAX, out, &n, &used), -EMSGSIZE);
	cr_assert_eq(dechunk("f\r\n", 100, 15, out, &n, &used), 0, "exactly the limit is fine");
}

/* xorshift64*: a fixed seed makes any failure reproducible. */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

Test(http_parse, fuzz_random_mutations, .timeout = 60)
{
	static const char *const seeds[] = {
		"POST /v1/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
		"Connection: keep-alive\r\nExpect: 100-continue\r\n\r\nhello",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
		"5\r\nhello\r\n0\r\n\r\n",
		"GET /x?y=z HTTP/1.0\r\nConnection: close\r\n\r\n",
	};
	static const char alphabet[] = "\r\n :;,\t0123456789abcdefxHTP/.\x00\x7f\xff";
	char buf[512];
	int complete = 0;
	for (int it = 0; it < 200000; it++) {
		const char *seed = seeds[rnd() % 3];
		size_t len = strlen(seed);
		memcpy(buf, seed, len);
		int muts = 1 + (int)(rnd() % 4);
		for (int m = 0; m < muts; m++) {
			size_t at = rnd() % len;
			switch (rnd() % 4) {
			case 0: buf[at] = (char)rnd(); break;
			case 1: buf[at] = alphabet[rnd() % (sizeof(alphabet) - 1)]; break;
			case 2: /* delete */
				memmove(buf + at, buf + at + 1, len - at - 1);
				len--;
				break;
			default: /* insert */
				if (len + 1 < sizeof(buf)) {
					memmove(buf + at + 1, buf + at, len - at);
					buf[at] = alphabet[rnd() % (sizeof(alphabet) - 1)];
					len++;
				}
			}
		}
		/* An exact-size heap copy lets ASan catch any read past the end. */
		char *in = malloc(len ? len : 1);
		memcpy(in, buf, len);
		const char *why = NULL;
		int r = nrv_http_parse_request(in, len, &req, &why);
		cr_assert(r == -EAGAIN || r == -EBADMSG || r == -E2BIG || r == -EPROTONOSUPPORT ||
			  (r > 0 && (size_t)r <= len), "iteration %d gave %d", it, r);
		if (r > 0) {
			complete++;
			for (size_t i = 0; i < req.n_headers; i++) {
				cr_assert(req.headers[i].name >= in &&
					  req.headers[i].value + req.headers[i].value_len <= in + r);
			}
			struct nrv_http_framing f;
			int status = 0;
			if (nrv_http_parse_framing(&req, &f, &status, &why) == 0 && f.chunked) {
				struct nrv_http_dechunk d;
				nrv_http_dechunk_init(&d);
				size_t wr = (size_t)r, rd = (size_t)r;
				int dr = nrv_http_dechunk(&d, in, &wr, &rd, len, 1 << 20, &why);
				cr_assert((dr == 0 || dr == 1 || dr == -EBADMSG || dr == -EMSGSIZE) &&
					  wr <= rd && rd <= len);
			} else if (status) {
				cr_assert(status >= 400 && status <= 505);
			}
		} else if (r != -EAGAIN) {
			cr_assert_not_null(why, "iteration %d: an error without a message", it);
		}
		free(in);
	}
	cr_assert_gt(complete, 1000, "the mutations should leave many requests valid");
}
