/*
 * src/pretok.c - pre-tokenizer splits (see pretok.h). Each follows the
 * observable behaviour of llama.cpp's matcher for the same pattern,
 * including how \s+(?!\S) leaves the last whitespace to the next word.
 */
#include "pretok.h"

#include <stdbool.h>
#include <string.h>

#include "unicode.h"

/* ---- encode: pre-tokenizers over code points --------------------------- */

/*
 * Each splitter reads segments (lengths in code points, summing to n) and
 * writes finer ones; a segment is never crossed. cps and fl hold the code
 * points and their category flags.
 */
struct seg_ctx {
	const uint32_t *cps;
	const uint16_t *fl;
	uint32_t *out;
	size_t n_out;
	size_t start, end;  /* current input segment [start, end) */
	size_t prev;        /* end of the last emitted piece */
};

#define OOR UINT32_MAX /* "no code point": position outside the segment */

static uint32_t cp_at(const struct seg_ctx *c, size_t p)
{
	return p < c->end ? c->cps[p] : OOR;
}

static uint16_t fl_at(const struct seg_ctx *c, size_t p)
{
	return p < c->end ? c->fl[p] : 0;
}

/* Close the piece [prev, end) if it is not empty. */
static void cut(struct seg_ctx *c, size_t end)
{
	if (end > c->prev)
		c->out[c->n_out++] = (uint32_t)(end - c->prev);
	c->prev = end;
}

#define WS NRV_UCD_WHITESPACE
#define LET NRV_UCD_LETTER
#define NUM NRV_UCD_NUMBER

static bool is_contraction1(uint32_t c)
{
	return c == 's' || c == 't' || c == 'm' || c == 'd';
}

static bool is_contraction2(uint32_t a, uint32_t b)
{
	return (a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l');
}

static uint32_t ascii_lower(uint32_t c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static void split_gpt2(struct seg_ctx *c)
{
	size_t pos = c->start, end = c->end;

	while (pos < end) {
		uint32_t ch = c->cps[pos];

		if (ch == '\'' && pos + 1 < end) {
			uint32_t a = c->cps[pos + 1];
			if (is_contraction1(a)) {
				pos += 2;
				cut(c, pos);
				continue;
			}
			if (pos + 2 < end && is_contraction2(a, c->cps[pos + 2])) {
				pos += 3;
				cut(c, pos);
				continue;
			}
		}
		/* An optional leading space, then a run of one class. */
		size_t body = pos + (ch == ' ');
		uint16_t f = ch == ' ' ? fl_at(c, pos + 1) : c->fl[pos];
		if (f & (LET | NUM)) {
			uint16_t cls = f & LET ? LET : NUM;
			pos = body;
			while (fl_at(c, pos) & cls)
				pos++;
			cut(c, pos);
			continue;
		}
		if (f && !(f & (WS | LET | NUM))) {
			pos = body;
			for (uint16_t g = fl_at(c, pos); g && !(g & (WS | LET | NUM)); g = fl_at(c, pos))
				pos++;
			cut(c, pos);
			continue;
		}
		size_t nws = 0;
		while (fl_at(c, pos + nws) & WS)
			nws++;
		if (nws > 1 && pos + nws < end) {
			/* \s+(?!\S): leave the last space to the word after it */
			pos += nws - 1;
			cut(c, pos);
			continue;
		}
		pos += nws ? nws : 1;
		cut(c, pos);
	}
}

/* (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 *  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static void split_llama3(struct seg_ctx *c)
{
	size_t pos = c->start, end = c->end;

	while (pos < end) {
		uint32_t ch = c->cps[pos];
		uint16_t f = c->fl[pos];

		if (ch == '\'' && pos + 1 < end) {
			uint32_t a = ascii_lower(c->cps[pos + 1]);
			if (is_contraction1(a)) {
				pos += 2;
				cut(c, pos);
				continue;
			}
			if (pos + 2 < end && is_contraction2(a, ascii_lower(c->cps[pos + 2]))) {
				pos += 3;
				cut(c, pos);
				continue;
			}
		}
		if (ch != '\r' && ch != '\n' && !(f & NUM) && ((f & LET) || (fl_at(c, pos + 1) & LET))) {
			pos++;
			while (fl_at(c, pos) & LET)
				pos++;
			cut(c, pos);
			continue;
		}
		if (f & NUM) {
			size_t run = pos;
			while (fl_at(c, pos) & NUM) {
				pos++;
				if (pos - run >= 3) {
					cut(c, pos);
					run = pos;
				}
			}
			cut(c, pos);
			continue;
		}
		uint16_t f2 = ch == ' ' ? fl_at(c, pos + 1) : f;
		if (!(f2 & (WS | LET | NUM)) && f) {
			pos += ch == ' ';
			while (f2 && !(f2 & (WS | LET | NUM)))
				f2 = fl_at(c, ++pos);
			for (uint32_t x = cp_at(c, pos); x == '\r' || x == '\n'; x = cp_at(c, pos))
				pos++;
			cut(c, pos);
			continue;
		}
		size_t nws = 0, last_nl = 0;
		while (fl_at(c, pos + nws) & WS) {
			uint32_t x = c->cps[pos + nws];
			nws++;
			if (x == '\r' || x == '\n')
				last_nl = pos + nws;
		}
		if (last_nl) {
			pos = last_nl;
			cut(c, pos);
			continue;
		}
		if (nws > 1 && pos + nws < end) {
			pos += nws - 1;
			cut(c, pos);
			continue;
		}
		pos += nws ? nws : 1;
		cut(c, pos);
	}
}

/* Each code point of class `cls` alone (isolated = true, "\p{N}"), or
 * maximal runs of them ("\p{N}+"); the text between is kept as pieces. */
static void split_class(struct seg_ctx *c, bool (*in)(uint32_t cp, uint16_t f), bool isolated)
{
	size_t pos = c->start;
	while (pos < c->end) {
		if (!in(c->cps[pos], c->fl[pos])) {
			pos++;
			continue;
		}
		cut(c, pos);
		pos++;
		if (!isolated)
			while (pos < c->end && in(c->cps[pos], c->fl[pos]))
				pos++;
		cut(c, pos);
	}
	cut(c, c->end);
}

static bool in_number(uint32_t cp, uint16_t f)
{
	(void)cp;
	return (f & NUM) && !(f & WS);
}

/* [\p{P}\$\+<=>\^~\|] */
static bool in_punct(uint32_t cp, uint16_t f)
{
	if (cp < 128 && strchr("$+<=>^~|", (int)cp) && cp)
		return true;
	return (f & NRV_UCD_PUNCTUATION) && !(f & WS);
}

/* [0-9][0-9][0-9], matched left to right without overlap. */
static void split_digit3(struct seg_ctx *c)
{
	size_t pos = c->start;
#define D(p) (c->cps[p] >= '0' && c->cps[p] <= '9')
	while (pos + 3 <= c->end) {
		if (D(pos) && D(pos + 1) && D(pos + 2)) {
			cut(c, pos);
			pos += 3;
			cut(c, pos);
		} else {
			pos++;
		}
	}
#undef D
	cut(c, c->end);
}

size_t nrv__pretok_stage(enum nrv__pretok st, const uint32_t *cps, const uint16_t *fl,
			const uint32_t *in, size_t n_in, uint32_t *out)
{
	struct seg_ctx c = { .cps = cps, .fl = fl, .out = out };
	size_t start = 0;
	for (size_t i = 0; i < n_in; i++) {
		c.start = c.prev = start;
		c.end = start + in[i];
		switch (st) {
		case NRV__GPT2: split_gpt2(&c); break;
		case NRV__LLAMA3: split_llama3(&c); break;
		case NRV__NUM_EACH: split_class(&c, in_number, true); break;
		case NRV__NUM_RUNS: split_class(&c, in_number, false); break;
		case NRV__PUNCT_RUNS: split_class(&c, in_punct, false); break;
		case NRV__DIGIT3: split_digit3(&c); break;
		}
		cut(&c, c.end);
		start = c.end;
	}
	return c.n_out;
}

