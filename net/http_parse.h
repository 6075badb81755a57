/*
 * net/http_parse.h - a strict, stateless, zero-copy HTTP/1.1 request parser.
 *
 * nrv_http_parse_request reads a request line and header block from bytes
 * the caller owns and fills a struct nrv_http_request whose pointers point
 * into those bytes: nothing is copied or allocated. It returns how many
 * bytes the header block took, "need more" or an error, so the caller can
 * call it again on the same buffer once more bytes arrived.
 *
 * nrv_http_parse_framing reads the parsed headers for what the server has
 * to know before the body: its length (Content-Length or chunked), whether
 * the connection stays open, and whether the client waits for 100 Continue.
 *
 * nrv_http_dechunk decodes a chunked body in place, incrementally.
 *
 * Strictness, since every byte is hostile: CRLF line ends only; a method
 * and header names made of token characters; a request target of visible
 * ASCII; versions HTTP/1.0 and HTTP/1.x only; no control characters in
 * values; no obs-fold (continuation lines); no space before a header's
 * colon; no conflicting Content-Length; never Content-Length together with
 * Transfer-Encoding.
 *
 * Owns nothing. Does not know about sockets or limits beyond the ones
 * passed in.
 */
#ifndef NRV_NET_HTTP_PARSE_H
#define NRV_NET_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/uring/http.h"

/*
 * Parse the request line and headers in buf[0, len).
 * Returns the length of the header block (> 0, final CRLF included) when it
 * is complete; -EAGAIN when buf is a valid but incomplete prefix; -EBADMSG
 * when malformed (answer 400); -E2BIG with more than NRV_HTTP_MAX_HEADERS
 * headers (answer 431); -EPROTONOSUPPORT for an HTTP major version other
 * than 1 (answer 505). On an error *why (if not NULL) is a static sentence
 * saying what is wrong. body, body_len and keep_alive of req are not set.
 * Empty lines (CRLF) before the request line are skipped and counted.
 */
int nrv_http_parse_request(const char *buf, size_t len, struct nrv_http_request *req,
			   const char **why);

/* How the body of a parsed request is framed, and what the client expects. */
struct nrv_http_framing {
	bool chunked;              /* Transfer-Encoding: chunked */
	bool has_length;           /* Content-Length given */
	uint64_t content_length;   /* bytes; UINT64_MAX when too large to count */
	bool keep_alive;           /* HTTP/1.1 unless "close"; 1.0 only with "keep-alive" */
	bool expect_continue;      /* Expect: 100-continue */
	bool is_head;              /* HEAD: the answer has no body */
};

/*
 * Decide the framing of req (from nrv_http_parse_request). Returns 0, or
 * -EBADMSG with *status set to the answer (400 bad or conflicting framing or
 * a missing Host, 411 a POST/PUT/PATCH without a length, 417 an unknown
 * expectation, 501 an unknown method or transfer coding) and *why to a
 * static sentence saying what to fix.
 */
int nrv_http_parse_framing(const struct nrv_http_request *req, struct nrv_http_framing *f,
			   int *status, const char **why);

/* Decoder state of a chunked body; zero it (or nrv_http_dechunk_init) first. */
struct nrv_http_dechunk {
	int state;
	uint64_t left;             /* bytes of chunk data still to come */
	unsigned digits;           /* hex digits of the size line read so far */
	uint64_t total;            /* decoded bytes so far */
};

static inline void nrv_http_dechunk_init(struct nrv_http_dechunk *d)
{
	d->state = 0;
	d->left = 0;
	d->digits = 0;
	d->total = 0;
}

/*
 * Decode chunked bytes in place: reads buf[*rd, len), writes the data at
 * buf[*wr, ...) and advances both (*wr <= *rd always holds, so the output
 * never overtakes the input). Call again when more bytes arrived.
 * Returns 1 when the last chunk and the trailers are consumed (*rd points
 * just after them: any bytes from there are the next request), 0 when it
 * needs more bytes, -EBADMSG when malformed (*why says what), -EMSGSIZE as
 * soon as the sizes announced add up to more than max bytes.
 */
int nrv_http_dechunk(struct nrv_http_dechunk *d, char *buf, size_t *wr, size_t *rd, size_t len,
		     uint64_t max, const char **why);

/* Case-insensitive compare of a length-delimited string with a C string. */
bool nrv__http_ieq(const char *a, size_t alen, const char *b);

#endif
