/*
 * src/textstream.h - generated tokens to the text a client may see.
 *
 * Per request: each token's bytes are appended to a small held buffer, and
 * only text that is certain leaves it:
 *   - never the start of a UTF-8 character whose continuation bytes have
 *     not arrived (a chunk boundary never cuts a character);
 *   - never bytes that could be the beginning of a stop string: a suffix
 *     of the held text that is a prefix of some stop string waits for the
 *     next token;
 *   - when a stop string appears, the text before it is released, the stop
 *     string and everything after it are dropped (as OpenAI does), and the
 *     stream reports that it stopped.
 * At the end of generation nrv_textstream_finish releases whatever is left
 * (an incomplete character included; the JSON writer turns it into U+FFFD).
 *
 * Owns: fixed storage inside the struct (no allocation). Borrows: the
 * tokenizer and the stop strings, which must outlive it.
 */
#ifndef NRV_TEXTSTREAM_H
#define NRV_TEXTSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nrv_tok;

#define NRV_TEXTSTREAM_MAX_STOP 4
#define NRV_TEXTSTREAM_STOP_BYTES 256   /* longest stop string, as the API allows */
#define NRV_TEXTSTREAM_PIECE_BYTES 512  /* longest token text kept whole */

struct nrv_textstream {
	const struct nrv_tok *tok;
	const char *stop[NRV_TEXTSTREAM_MAX_STOP];   /* borrowed */
	size_t stop_len[NRV_TEXTSTREAM_MAX_STOP];
	int n_stop;
	bool stopped;                                /* a stop string matched */
	size_t n_held;
	size_t n_out;                                /* bytes of the last release */
	/* held text, then room for one piece; the release is copied out to
	 * out[] so the caller may keep it until the next call */
	char held[NRV_TEXTSTREAM_STOP_BYTES + NRV_TEXTSTREAM_PIECE_BYTES + 8];
	char out[NRV_TEXTSTREAM_STOP_BYTES + NRV_TEXTSTREAM_PIECE_BYTES + 8];
};

/*
 * Start a stream. tok may be NULL for nrv_textstream_push_text only.
 * Stop strings longer than NRV_TEXTSTREAM_STOP_BYTES - 1 or more than
 * NRV_TEXTSTREAM_MAX_STOP of them: -EINVAL. Empty ones are skipped.
 */
int nrv_textstream_init(struct nrv_textstream *s, const struct nrv_tok *tok,
			const char *const *stop, const size_t *stop_len, int n_stop);

/*
 * Add one generated token. *out / *len receive the text now certain (may
 * be empty; valid until the next call). Returns 1 when a stop string
 * matched (the caller cancels generation and finishes with "stop"; further
 * pushes release nothing), 0 otherwise, -EINVAL for a bad token id.
 */
int nrv_textstream_push(struct nrv_textstream *s, int32_t token, const char **out, size_t *len);

/* The same for raw bytes (tests; pieces decoded elsewhere). Input beyond
 * NRV_TEXTSTREAM_PIECE_BYTES per call is cut. */
int nrv_textstream_push_text(struct nrv_textstream *s, const char *p, size_t n, const char **out,
			     size_t *len);

/* End of generation: release everything still held (nothing after a
 * stop). */
void nrv_textstream_finish(struct nrv_textstream *s, const char **out, size_t *len);

#endif
