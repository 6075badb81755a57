/*
 * src/pretok.h - pre-tokenizers of byte-level BPE: the regex splits
 * llama.cpp applies before merging (GPT-2, llama-3, digit and punctuation
 * splits), written as hand matchers over code points. Internal to
 * tokenizer.c.
 */
#ifndef NRV_PRETOK_H
#define NRV_PRETOK_H

#include <stddef.h>
#include <stdint.h>

enum nrv__pretok {
	NRV__GPT2,        /* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
	NRV__LLAMA3,      /* the llama-3 pattern */
	NRV__NUM_EACH,    /* \p{N}, each alone */
	NRV__NUM_RUNS,    /* \p{N}+ */
	NRV__PUNCT_RUNS,  /* [\p{P}\$\+<=>\^~\|]+ */
	NRV__DIGIT3,      /* [0-9][0-9][0-9] */
};

/*
 * Split each of the n_in input segments (lengths in code points, summing
 * to the length of cps) into pieces, writing their lengths to out (room for
 * one per code point is enough). Text between matches is kept as pieces;
 * no piece crosses an input segment. fl holds nrv_ucd_flags of each code
 * point. Returns the number of pieces.
 */
size_t nrv__pretok_stage(enum nrv__pretok st, const uint32_t *cps, const uint16_t *fl,
			 const uint32_t *in, size_t n_in, uint32_t *out);

#endif
