/*
 * src/unicode.h - the Unicode the tokenizer needs: UTF-8 decoding the way
 * llama.cpp does it, UTF-8 encoding, and per-code-point category flags.
 *
 * Owns: the generated category table (src/unicode_data.c, made by
 * tools/gen-unicode.py). Does not own: any normalisation or case mapping.
 */
#ifndef NRV_UNICODE_H
#define NRV_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* Category flags: exactly one class bit, plus NRV_UCD_WHITESPACE. */
enum {
	NRV_UCD_UNDEFINED = 0x0001,   /* unassigned (Cn), or beyond U+10FFFF */
	NRV_UCD_NUMBER = 0x0002,      /* \p{N} */
	NRV_UCD_LETTER = 0x0004,      /* \p{L} */
	NRV_UCD_SEPARATOR = 0x0008,   /* \p{Z} */
	NRV_UCD_MARK = 0x0010,        /* \p{M} */
	NRV_UCD_PUNCTUATION = 0x0020, /* \p{P} */
	NRV_UCD_SYMBOL = 0x0040,      /* \p{S} */
	NRV_UCD_CONTROL = 0x0080,     /* \p{C} except Cn */
	NRV_UCD_WHITESPACE = 0x0100,  /* White_Space property, what \s matches */
};

#define NRV_UCD_REPLACEMENT 0xFFFDu

/*
 * Decode one code point from s[0..len) (len >= 1) and store the bytes used
 * in *used. This is deliberately as lax as llama.cpp's decoder, so that
 * tokenization matches it: the lead byte's pattern decides the length, the
 * continuation bytes must be 10xxxxxx and present, and overlong forms and
 * surrogates are accepted as the values they spell. Anything else (a stray
 * continuation byte, a truncated sequence, 0xF8..0xFF) decodes as U+FFFD
 * with *used = 1. Unlike llama.cpp (which throws later and aborts), a
 * four-byte form above U+10FFFF is also invalid here: U+FFFD, *used = 1.
 */
uint32_t nrv_utf8_decode(const uint8_t *s, size_t len, size_t *used);

/* Encode cp (<= 0x10FFFF) into out[0..4). Returns the byte count, or 0
 * when cp is out of range. */
int nrv_utf8_encode(uint32_t cp, uint8_t out[4]);

/* Byte count a UTF-8 lead byte announces (1 for continuation bytes): the
 * length SentencePiece-style splitting uses, without validation. */
static inline int nrv_utf8_seqlen(uint8_t lead)
{
	static const uint8_t len[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4 };
	return len[lead >> 4];
}

/* Category flags of a code point (NRV_UCD_UNDEFINED above U+10FFFF). */
uint16_t nrv_ucd_flags(uint32_t cp);

/* The Unicode version the table was generated from ("15.1.0"). */
const char *nrv_ucd_version(void);

/* Generated data (src/unicode_data.c). */
struct nrv__ucd_range {
	uint32_t start; /* first code point; the range ends where the next starts */
	uint16_t flags;
};
extern const struct nrv__ucd_range nrv__ucd_ranges[];
extern const unsigned nrv__ucd_n_ranges;
extern const char nrv__ucd_version[];

#endif
