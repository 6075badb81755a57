/*
 * src/jbuf.h - a growable byte buffer with JSON writing helpers, for
 * response bodies, SSE chunks and the metrics text.
 *
 * A request keeps one buffer for its whole life and resets it per chunk, so
 * streaming allocates only while the buffer grows to its working size.
 * Errors are sticky: after a failed allocation every call is a no-op and
 * nrv_jbuf_ok says false, so callers check once at the end.
 *
 * Owns: its bytes (nrv_jbuf_fini frees them).
 */
#ifndef NRV_JBUF_H
#define NRV_JBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nrv_jbuf {
	char *p;       /* bytes, NUL-terminated when len < cap */
	size_t len;
	size_t cap;
	bool oom;      /* an allocation failed: content is incomplete */
};

void nrv_jbuf_init(struct nrv_jbuf *b);
void nrv_jbuf_fini(struct nrv_jbuf *b);
/* Empty it, keeping the storage (and clearing the error). */
void nrv_jbuf_reset(struct nrv_jbuf *b);
/* Make room for n more bytes: 0 or -ENOMEM. */
int nrv_jbuf_reserve(struct nrv_jbuf *b, size_t n);
bool nrv_jbuf_ok(const struct nrv_jbuf *b);

void nrv_jbuf_put(struct nrv_jbuf *b, const void *s, size_t n);
void nrv_jbuf_puts(struct nrv_jbuf *b, const char *s);
void nrv_jbuf_printf(struct nrv_jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A JSON string with its quotes. Control characters are escaped; invalid
 * UTF-8 (a lone byte, a truncated or overlong sequence, a surrogate)
 * becomes U+FFFD, so the output is always valid JSON in UTF-8. */
void nrv_jbuf_str(struct nrv_jbuf *b, const char *s, size_t n);
void nrv_jbuf_cstr(struct nrv_jbuf *b, const char *s);
/* A JSON number; NaN and infinities (not JSON) are written as -9999.0
 * (the value OpenAI reports for an impossible token's log-probability). */
void nrv_jbuf_num(struct nrv_jbuf *b, double v);
void nrv_jbuf_int(struct nrv_jbuf *b, int64_t v);

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when s[0..n) does
 * not start with one. */
size_t nrv_utf8_seq_len(const unsigned char *s, size_t n);

#endif
