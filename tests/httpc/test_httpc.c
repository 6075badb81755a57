/*
 * tests/httpc/test_httpc.c - the HTTP client's parsers: URLs, response heads
 * (every prefix is "need more", hostile heads are refused) and chunked
 * transfer decoding fed in random splits.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpc.h"

Test(httpc, urls)
{
	struct nrv_url u;
	char err[200];
	cr_assert_eq(nrv_url_parse("http://127.0.0.1:8091", &u, err, sizeof(err)), 0);
	cr_assert_str_eq(u.host, "127.0.0.1");
	cr_assert_str_eq(u.port, "8091");
	cr_assert_str_eq(u.prefix, "");
	cr_assert_str_eq(u.hostport, "127.0.0.1:8091");
	cr_assert_eq(nrv_url_parse("http://example.org/api/v1/", &u, err, sizeof(err)), 0);
	cr_assert_str_eq(u.port, "80");
	cr_assert_str_eq(u.prefix, "/api");
	cr_assert_eq(nrv_url_parse("HTTP://[::1]:9000/v1", &u, err, sizeof(err)), 0);
	cr_assert_str_eq(u.host, "::1");
	cr_assert_str_eq(u.hostport, "[::1]:9000");
	cr_assert_str_eq(u.prefix, "");
	static const char *const bad[] = {
		"https://a", "ftp://a", "a:80", "http://", "http://:80", "http://a:0", "http://a:65536", "http://a:8x",
		"http://a:", "http://[::1", "http://a b", "http://a/?q", "http://u@a",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_assert_eq(nrv_url_parse(bad[i], &u, err, sizeof(err)), -EINVAL, "%s", bad[i]);
		cr_assert(err[0], "%s: no message", bad[i]);
	}
}

Test(httpc, head_complete_and_every_prefix_incomplete)
{
	const char *h = "HTTP/1.1 200 OK\r\nContent-Type: Text/Event-Stream; charset=utf-8\r\n"
			"Transfer-Encoding: chunked\r\nX-Odd:  spaced  \r\n\r\nBODY";
	size_t n = strlen(h), head_len = n - 4;
	struct nrv_http_head hd;
	char err[160];
	cr_assert_eq(nrv_httpc_parse_head(h, n, &hd, err, sizeof(err)), (int)head_len);
	cr_assert_eq(hd.status, 200);
	cr_assert(hd.chunked);
	cr_assert(!hd.close);
	cr_assert_eq(hd.content_length, -1);
	cr_assert_str_eq(hd.content_type, "text/event-stream; charset=utf-8");
	for (size_t k = 0; k < head_len; k++)
		cr_assert_eq(nrv_httpc_parse_head(h, k, &hd, err, sizeof(err)), -EAGAIN, "prefix %zu", k);
}

Test(httpc, head_framing_rules)
{
	struct nrv_http_head hd;
	char err[160];
	const char *s = "HTTP/1.1 500 Internal Server Error\nContent-Length: 12\nConnection: close\n\n";
	cr_assert_eq(nrv_httpc_parse_head(s, strlen(s), &hd, err, sizeof(err)), (int)strlen(s));
	cr_assert_eq(hd.status, 500);
	cr_assert_eq(hd.content_length, 12);
	cr_assert(hd.close);
	s = "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n";
	cr_assert_gt(nrv_httpc_parse_head(s, strlen(s), &hd, err, sizeof(err)), 0);
	cr_assert(hd.close, "HTTP/1.0 closes unless keep-alive");
	s = "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 3\r\n\r\n";
	cr_assert_gt(nrv_httpc_parse_head(s, strlen(s), &hd, err, sizeof(err)), 0);
	cr_assert(!hd.close);
	s = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
	cr_assert_gt(nrv_httpc_parse_head(s, strlen(s), &hd, err, sizeof(err)), 0);
	cr_assert(hd.chunked && hd.content_length == -1 && hd.close, "TE wins over CL, then no reuse");
	s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n";
	cr_assert_gt(nrv_httpc_parse_head(s, strlen(s), &hd, err, sizeof(err)), 0);
	cr_assert(!hd.chunked && hd.close, "chunked not last: read until close");
	s = "HTTP/1.1 204 No Content\r\n\r\n";
	cr_assert_gt(nrv_httpc_parse_head(s, strlen(s), &hd, err, sizeof(err)), 0);
	cr_assert_eq(hd.status, 204);
	s = "HTTP/1.1 200\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n";
	cr_assert_gt(nrv_httpc_parse_head(s, strlen(s), &hd, err, sizeof(err)), 0, "no reason phrase, same CL twice");
}

Test(httpc, hostile_heads)
{
	struct nrv_http_head hd;
	char err[160];
	static const char *const bad[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
		"HTTP/1.1 200 OK\r\n folded: line\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 099 Low\r\n\r\n",
		"HTTP/2 200 OK\r\n\r\n",
		"SSH-2.0-OpenSSH\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_assert_eq(nrv_httpc_parse_head(bad[i], strlen(bad[i]), &hd, err, sizeof(err)), -EBADMSG, "%s", bad[i]);
		cr_assert(err[0]);
	}
	/* Garbage is refused from its first bytes, not after 64 KiB. */
	cr_assert_eq(nrv_httpc_parse_head("GARB", 4, &hd, err, sizeof(err)), -EBADMSG);
	/* A head that never ends is refused at the bound. */
	size_t big = NRV_HTTPC_MAX_HEAD + 10;
	char *b = malloc(big);
	const char *start = "HTTP/1.1 200 OK\r\n";
	memcpy(b, start, strlen(start));
	for (size_t i = strlen(start); i < big; i++) {
		size_t k = (i - strlen(start)) % 40;
		b[i] = k == 39 ? '\n' : k == 38 ? '\r' : k == 5 ? ':' : k < 5 ? 'X' : 'b';
	}
	cr_assert_eq(nrv_httpc_parse_head(b, big, &hd, err, sizeof(err)), -EBADMSG);
	cr_assert(strstr(err, "larger"), "%s", err);
	free(b);
}

/* Encode payload[0..n) with random chunk sizes, extensions, hex case and
 * trailers; returns the length written to out. */
static size_t chunk_encode(const char *payload, size_t n, char *out, unsigned seed)
{
	size_t o = 0, i = 0;
	srand(seed);
	while (i < n) {
		size_t k = 1 + (size_t)rand() % 40;
		if (k > n - i)
			k = n - i;
		o += (size_t)sprintf(out + o, rand() % 2 ? "%zx" : "%zX", k);
		if (rand() % 4 == 0)
			o += (size_t)sprintf(out + o, rand() % 2 ? ";name=val" : " ;ext");
		o += (size_t)sprintf(out + o, rand() % 5 ? "\r\n" : "\n");
		memcpy(out + o, payload + i, k);
		o += k;
		i += k;
		o += (size_t)sprintf(out + o, "\r\n");
	}
	o += (size_t)sprintf(out + o, "0\r\n");
	if (seed % 3 == 0)
		o += (size_t)sprintf(out + o, "X-Trailer: yes\r\nAnother: one\r\n");
	o += (size_t)sprintf(out + o, "\r\n");
	return o;
}

Test(httpc, chunked_random_splits)
{
	char payload[3000];
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (char)('a' + (i * 7) % 26);
	payload[100] = '\r';
	payload[101] = '\n';
	static char enc[16384], work[16384], dec[4096];
	for (unsigned it = 0; it < 600; it++) {
		size_t pn = 1 + (it * 37) % sizeof(payload);
		size_t en = chunk_encode(payload, pn, enc, it);
		memcpy(enc + en, "NEXT", 4);	/* bytes after the message */
		struct nrv_chunked c;
		nrv_chunked_init(&c);
		size_t off = 0, dn = 0;
		srand(it * 31 + 7);
		while (!c.done) {
			cr_assert_lt(off, en + 4, "iteration %u: ran past the message", it);
			size_t k = 1 + (size_t)rand() % (it % 2 ? 3 : 64);
			if (k > en + 4 - off)
				k = en + 4 - off;
			memcpy(work, enc + off, k);
			size_t out = 99999;
			long used = nrv_chunked_decode(&c, work, k, &out);
			cr_assert_geq(used, 0, "iteration %u", it);
			cr_assert_leq(out, k);
			memcpy(dec + dn, work, out);
			dn += out;
			off += (size_t)used;
			if (!c.done)
				cr_assert_eq((size_t)used, k, "consumes everything until done");
		}
		cr_assert_eq(off, en, "iteration %u: stops right after the message", it);
		cr_assert_eq(dn, pn);
		cr_assert_eq(memcmp(dec, payload, pn), 0, "iteration %u", it);
	}
}

Test(httpc, chunked_malformed)
{
	static const char *const bad[] = {
		"g\r\n", "\r\n", ";x\r\n", "5\r\nhelloX", "5\r\nhello\rX", "1234567890abcdef0\r\n", "5 x\r\n", "5\rX",
		"0\r\n\rX",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct nrv_chunked c;
		nrv_chunked_init(&c);
		char buf[64];
		size_t n = strlen(bad[i]), out;
		memcpy(buf, bad[i], n);
		cr_assert_eq(nrv_chunked_decode(&c, buf, n, &out), -EBADMSG, "'%s'", bad[i]);
	}
	/* Endless extensions and trailers are bounded. */
	struct nrv_chunked c;
	nrv_chunked_init(&c);
	char buf[8192];
	size_t out;
	buf[0] = '5';
	buf[1] = ';';
	memset(buf + 2, 'e', sizeof(buf) - 2);
	cr_assert_eq(nrv_chunked_decode(&c, buf, sizeof(buf), &out), -EBADMSG);
	nrv_chunked_init(&c);
	memcpy(buf, "0\r\n", 3);
	memset(buf + 3, 't', sizeof(buf) - 3);
	long rc = 0;
	for (int i = 0; i < 4 && rc >= 0; i++)
		rc = nrv_chunked_decode(&c, buf, sizeof(buf), &out);
	cr_assert_eq(rc, -EBADMSG);
}
