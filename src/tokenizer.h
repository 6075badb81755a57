/*
 * src/tokenizer.h - text <-> token ids from a GGUF vocabulary.
 *
 * Two models, chosen by `tokenizer.ggml.model`:
 *   "gpt2"  - byte-level BPE with the merges in `tokenizer.ggml.merges` and
 *             the pre-tokenizer named by `tokenizer.ggml.pre` (smollm,
 *             llama3, gpt2/default, ...), as llama.cpp applies them;
 *   "llama" - SentencePiece-style BPE over `tokenizer.ggml.scores`, with
 *             byte fallback (<0xXX> tokens) and the space prefix ("▁").
 * Output must match llama.cpp token for token.
 *
 * Owns: its vocabulary tables (copied out of the GGUF at create, so the
 * file may be unmapped afterwards). Thread-safe for concurrent encode and
 * decode after creation.
 */
#ifndef NRV_TOKENIZER_H
#define NRV_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nrv_gguf;
struct nrv_tok;

enum nrv_tok_kind { NRV_TOK_BPE, NRV_TOK_SPM };

/* Build from a parsed GGUF (the tokenizer.ggml.* keys; no tensors). The
 * nrv_gguf may be freed afterwards. Returns 0, -EINVAL (err says what is
 * wrong or unsupported: unknown model or pre-tokenizer, bad key types,
 * duplicate token texts), or -ENOMEM. */
int nrv_tok_create(const struct nrv_gguf *g, struct nrv_tok **out, char *err, size_t errlen);
void nrv_tok_destroy(struct nrv_tok *t);

/*
 * Encode `len` bytes of text (any bytes; invalid UTF-8 is handled as
 * llama.cpp does). add_special adds BOS (and EOS) when the vocabulary asks
 * for it (tokenizer.ggml.add_bos_token / add_eos_token, with llama.cpp's
 * defaults per model). parse_special turns control-token text such as
 * "<|im_start|>" into its id; otherwise it is tokenized as plain text.
 * Writes at most `cap` ids to out (out may be NULL when cap is 0).
 * Returns the total number of tokens (which may exceed cap: call again
 * with a larger buffer), -EINVAL for bad arguments, -E2BIG for text over
 * 256 MiB, -EOVERFLOW past INT_MAX tokens, or -ENOMEM. Allocates scratch
 * per call (about 40 bytes per input byte at worst).
 */
int nrv_tok_encode(const struct nrv_tok *t, const char *text, size_t len, bool add_special,
		   bool parse_special, int32_t *out, int cap);

/*
 * The bytes a token stands for (BPE: byte-decoded; SPM: "▁" -> " ",
 * <0xXX> -> that byte). Control tokens render as their text only when
 * `special` is true, else as nothing. Returns the byte count (which may
 * exceed cap; nothing past cap is written) or -EINVAL for a bad id.
 */
int nrv_tok_piece(const struct nrv_tok *t, int32_t id, bool special, char *buf, size_t cap);

/*
 * Decode ids to text, concatenating pieces (and, for SPM with the space
 * prefix, dropping one leading space of the first token, as llama.cpp's
 * detokenize does). llama.cpp's "clean spaces" pass for BPE (" ." -> ".")
 * is not applied, so BPE decoding gives back the encoded bytes exactly.
 * Writes at most cap bytes. Returns bytes needed (may exceed cap), or
 * -EINVAL for a bad id (nothing written).
 */
int nrv_tok_decode(const struct nrv_tok *t, const int32_t *ids, int n, bool special,
		   char *buf, size_t cap);

int nrv_tok_n_vocab(const struct nrv_tok *t);
enum nrv_tok_kind nrv_tok_kind(const struct nrv_tok *t);
int32_t nrv_tok_bos(const struct nrv_tok *t);   /* -1 when none */
int32_t nrv_tok_eos(const struct nrv_tok *t);   /* -1 when none */
/* True for end-of-generation tokens (eos, eot, <|im_end|>, <|endoftext|>, ...). */
bool nrv_tok_is_eog(const struct nrv_tok *t, int32_t id);
/* True for control tokens (token_type 3). */
bool nrv_tok_is_control(const struct nrv_tok *t, int32_t id);
/* Token id of an exact token text, or -1. */
int32_t nrv_tok_find(const struct nrv_tok *t, const char *text, size_t len);
/* The raw vocabulary text of a token (not byte-decoded); NULL for bad id. */
const char *nrv_tok_text(const struct nrv_tok *t, int32_t id, size_t *len);
/* Whether encode's add_special adds BOS for this vocabulary. */
bool nrv_tok_add_bos(const struct nrv_tok *t);
/* Name of the pre-tokenizer in use ("smollm", "default", ...). */
const char *nrv_tok_pre_name(const struct nrv_tok *t);

#endif
