/*
 * src/textstream.c - detokenize with UTF-8 and stop-string hold-back (see
 * textstream.h).
 *
 * The held buffer never exceeds the longest stop string plus three bytes of
 * an incomplete character between calls, so each push scans a few hundred
 * bytes at most: the search is plain memmem and prefix compares.
 */
#include "textstream.h"

#include <errno.h>
#include <string.h>

#include "tokenizer.h"
#include "util.h"

int nrv_textstream_init(struct nrv_textstream *s, const struct nrv_tok *tok,
			const char *const *stop, const size_t *stop_len, int n_stop)
{
	memset(s, 0, offsetof(struct nrv_textstream, held));
	s->tok = tok;
	if (n_stop < 0 || n_stop > NRV_TEXTSTREAM_MAX_STOP)
		return -EINVAL;
	for (int i = 0; i < n_stop; i++) {
		if (stop_len[i] >= NRV_TEXTSTREAM_STOP_BYTES)
			return -EINVAL;
		if (!stop_len[i])
			continue;
		s->stop[s->n_stop] = stop[i];
		s->stop_len[s->n_stop++] = stop_len[i];
	}
	return 0;
}

/* Longest suffix of h[0..n) that is a proper prefix of some stop string. */
static size_t stop_prefix_tail(const struct nrv_textstream *s, const char *h, size_t n)
{
	size_t best = 0;
	for (int i = 0; i < s->n_stop; i++) {
		size_t max = s->stop_len[i] - 1;
		if (max > n)
			max = n;
		for (size_t k = max; k > best; k--) {
			if (!memcmp(h + n - k, s->stop[i], k)) {
				best = k;
				break;
			}
		}
	}
	return best;
}

/* Release h[0..n) into out[], keep h[n..n_held). */
static void release(struct nrv_textstream *s, size_t n, size_t drop_to)
{
	memcpy(s->out, s->held, n);
	s->n_out = n;
	memmove(s->held, s->held + drop_to, s->n_held - drop_to);
	s->n_held -= drop_to;
}

int nrv_textstream_push_text(struct nrv_textstream *s, const char *p, size_t n, const char **out,
			     size_t *len)
{
	s->n_out = 0;
	*out = s->out;
	*len = 0;
	if (s->stopped)
		return 1;
	if (n > NRV_TEXTSTREAM_PIECE_BYTES)
		n = NRV_TEXTSTREAM_PIECE_BYTES;
	size_t old = s->n_held;
	memcpy(s->held + s->n_held, p, n);
	s->n_held += n;
	/* a new match must end in the new bytes: start where it could begin */
	size_t best = s->n_held;
	for (int i = 0; i < s->n_stop; i++) {
		size_t from = old + 1 > s->stop_len[i] ? old + 1 - s->stop_len[i] : 0;
		if (from + s->stop_len[i] > s->n_held)
			continue;
		const char *m = memmem(s->held + from, s->n_held - from, s->stop[i], s->stop_len[i]);
		if (m && (size_t)(m - s->held) < best)
			best = (size_t)(m - s->held);
	}
	if (best < s->n_held) {
		s->stopped = true;
		release(s, best, s->n_held);
		*len = s->n_out;
		return 1;
	}
	size_t keep = stop_prefix_tail(s, s->held, s->n_held);
	size_t emit = s->n_held - keep;
	emit -= nrv_utf8_incomplete_tail(s->held, emit);
	release(s, emit, emit);
	*len = s->n_out;
	return 0;
}

int nrv_textstream_push(struct nrv_textstream *s, int32_t token, const char **out, size_t *len)
{
	char piece[NRV_TEXTSTREAM_PIECE_BYTES];
	int n = nrv_tok_piece(s->tok, token, false, piece, sizeof(piece));
	if (n < 0) {
		*out = s->out;
		*len = 0;
		return n;
	}
	return nrv_textstream_push_text(s, piece, (size_t)n < sizeof(piece) ? (size_t)n : sizeof(piece),
					out, len);
}

void nrv_textstream_finish(struct nrv_textstream *s, const char **out, size_t *len)
{
	s->n_out = 0;
	if (!s->stopped)
		release(s, s->n_held, s->n_held);
	*out = s->out;
	*len = s->n_out;
}
