/*
 * src/tokenizer.c - GGUF vocabularies: byte-level BPE and SentencePiece BPE
 * (see tokenizer.h).
 *
 * The goal is llama.cpp's output, token for token, so the behaviour below
 * follows llama.cpp's (llama-vocab.cpp, unicode.cpp) where it is
 * observable, including its quirks: invalid UTF-8 becomes U+FFFD before
 * byte encoding, special tokens are cut out longest text first, user-defined
 * tokens are cut out even without parse_special. docs/tokenizer.md lists
 * the choices and the known differences.
 *
 * Layout: every string the tokenizer knows (the vocabulary, plus merge
 * operands that are not tokens) has an id and lives in one blob; one hash
 * table maps text to id, another maps a pair of ids to its merge rank and
 * result. Encoding allocates its scratch per call: it runs at request
 * admission, not per generated token.
 */
#include "tokenizer.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "pretok.h"
#include "unicode.h"

/* Largest text nrv_tok_encode accepts (its scratch is ~40 bytes a byte). */
#define MAX_TEXT ((size_t)1 << 28)

enum {
	A_NORMAL = 1 << 0,
	A_UNKNOWN = 1 << 1,
	A_CONTROL = 1 << 2,
	A_USER = 1 << 3,
	A_UNUSED = 1 << 4,
	A_BYTE = 1 << 5,
	A_EOG = 1 << 6,
};

enum pre {
	PRE_DEFAULT, /* llama.cpp's fallback: punctuation runs, gpt2, digit runs, digit triples */
	PRE_GPT2,    /* the GPT-2 pattern alone */
	PRE_SMOLLM,  /* \p{N} one by one, then the GPT-2 pattern */
	PRE_LLAMA3,  /* the llama-3 pattern */
};

struct pre_name {
	const char *name;
	enum pre pre;
	bool ignore_merges;
	bool add_bos;
};

/* tokenizer.ggml.pre values and what llama.cpp does with them. */
static const struct pre_name pre_names[] = {
	{ "default", PRE_DEFAULT, false, false },
	{ "gpt-2", PRE_GPT2, false, false },
	{ "gpt2", PRE_GPT2, false, false },
	{ "phi-2", PRE_GPT2, false, false },
	{ "jina-es", PRE_GPT2, false, false },
	{ "jina-de", PRE_GPT2, false, false },
	{ "gigachat", PRE_GPT2, false, false },
	{ "jina-v2-es", PRE_GPT2, false, false },
	{ "jina-v2-de", PRE_GPT2, false, false },
	{ "jina-v1-en", PRE_GPT2, false, false },
	{ "jina-v2-code", PRE_GPT2, false, false },
	{ "roberta-bpe", PRE_GPT2, false, false },
	{ "a.x-4.0", PRE_GPT2, false, false },
	{ "mellum", PRE_GPT2, false, false },
	{ "modern-bert", PRE_GPT2, false, false },
	{ "mpt", PRE_GPT2, false, false },
	{ "olmo", PRE_GPT2, false, false },
	{ "jais", PRE_GPT2, false, false },
	{ "trillion", PRE_GPT2, false, false },
	{ "granite-docling", PRE_GPT2, false, false },
	{ "smollm", PRE_SMOLLM, false, false },
	{ "starcoder", PRE_SMOLLM, false, false },
	{ "refact", PRE_SMOLLM, false, false },
	{ "command-r", PRE_SMOLLM, false, false },
	{ "codeshell", PRE_SMOLLM, false, false },
	{ "exaone", PRE_SMOLLM, false, false },
	{ "minerva-7b", PRE_SMOLLM, false, false },
	{ "mellum2", PRE_SMOLLM, false, false },
	{ "llama3", PRE_LLAMA3, true, true },
	{ "llama-v3", PRE_LLAMA3, true, true },
	{ "llama-bpe", PRE_LLAMA3, true, true },
	{ "falcon3", PRE_LLAMA3, true, true },
	{ "pixtral", PRE_LLAMA3, true, true },
};

/* Token texts llama.cpp treats as end-of-generation (and as control). */
static const char *const eog_texts[] = {
	"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
	"<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>",
};

/* Fill-in-the-middle pad / repo / file-separator texts: also EOG. */
static const char *const fim_eog_texts[] = {
	"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>",
	"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>",
	"<|file_sep|>",
};

struct merge_slot {
	uint64_t key;   /* left id << 32 | right id; EMPTY_KEY when free */
	int32_t rank;
	int32_t result; /* string id of left + right */
};

#define EMPTY_KEY UINT64_MAX

struct nrv_tok {
	enum nrv_tok_kind kind;
	enum pre pre;
	char pre_name[32];
	int n_vocab;

	/* Strings: ids [0, n_vocab) are tokens, [n_vocab, n_str) merge operands. */
	char *blob;
	size_t blob_len, blob_cap;
	uint32_t *str_off;      /* (n_str_cap) */
	uint32_t *str_len;      /* (n_str_cap) */
	int n_str, n_str_cap;
	int32_t *str_tab;       /* open addressing, -1 = free */
	size_t str_mask;

	float *score;           /* (n_vocab) */
	uint8_t *attr;          /* (n_vocab) A_* */

	struct merge_slot *merge_tab;
	size_t merge_mask;
	bool ignore_merges;

	int32_t byte_sym[256];  /* BPE: string id of each byte's character, -1 none */
	int32_t byte_fb[256][2];/* BPE: tokens for the single bytes of that character */
	uint16_t cp_byte[0x144];/* BPE: code point -> byte + 1, 0 when unmapped */
	int32_t spm_byte[256];  /* SPM: <0xXX> (or the 1-byte string) token, -1 none */

	int32_t *special;       /* control/user/unknown ids, longest text first */
	int n_special;

	int32_t bos, eos, unk;
	bool add_bos, add_eos, add_space_prefix;
};

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* ---- strings ---------------------------------------------------------- */

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
	return h ^ (h >> 29);
}

static const char *str_ptr(const struct nrv_tok *t, int32_t id)
{
	return t->blob + t->str_off[id];
}

static int32_t str_find(const struct nrv_tok *t, const char *s, size_t n)
{
	size_t i = hash_bytes(s, n) & t->str_mask;
	for (;;) {
		int32_t id = t->str_tab[i];
		if (id < 0)
			return -1;
		if (t->str_len[id] == n && memcmp(str_ptr(t, id), s, n) == 0)
			return id;
		i = (i + 1) & t->str_mask;
	}
}

/* Add a string (not present yet) and return its id, or -ENOMEM/-E2BIG. */
static int32_t str_add(struct nrv_tok *t, const char *s, size_t n)
{
	if (t->n_str >= t->n_str_cap)
		return -E2BIG;
	if (n > UINT32_MAX - t->blob_len - 1)
		return -E2BIG;
	if (t->blob_len + n + 1 > t->blob_cap) {
		size_t cap = t->blob_cap ? t->blob_cap : 4096;
		while (cap < t->blob_len + n + 1)
			cap *= 2;
		char *nb = realloc(t->blob, cap);
		if (!nb)
			return -ENOMEM;
		t->blob = nb;
		t->blob_cap = cap;
	}
	memcpy(t->blob + t->blob_len, s, n);
	t->blob[t->blob_len + n] = 0;
	int32_t id = t->n_str++;
	t->str_off[id] = (uint32_t)t->blob_len;
	t->str_len[id] = (uint32_t)n;
	t->blob_len += n + 1;
	size_t i = hash_bytes(s, n) & t->str_mask;
	while (t->str_tab[i] >= 0)
		i = (i + 1) & t->str_mask;
	t->str_tab[i] = id;
	return id;
}

static int32_t str_intern(struct nrv_tok *t, const char *s, size_t n)
{
	int32_t id = str_find(t, s, n);
	return id >= 0 ? id : str_add(t, s, n);
}

/* ---- merges ------------------------------------------------------------ */

static uint64_t pair_key(int32_t l, int32_t r)
{
	return (uint64_t)(uint32_t)l << 32 | (uint32_t)r;
}

static size_t pair_slot(uint64_t key, size_t mask)
{
	uint64_t h = key * 0x9E3779B97F4A7C15ull;
	return (size_t)(h >> 17) & mask;
}

static const struct merge_slot *merge_find(const struct nrv_tok *t, int32_t l, int32_t r)
{
	if (!t->merge_tab || l < 0 || r < 0)
		return NULL;
	uint64_t key = pair_key(l, r);
	size_t i = pair_slot(key, t->merge_mask);
	for (;;) {
		const struct merge_slot *s = &t->merge_tab[i];
		if (s->key == key)
			return s;
		if (s->key == EMPTY_KEY)
			return NULL;
		i = (i + 1) & t->merge_mask;
	}
}

static size_t pow2_at_least(size_t n)
{
	size_t p = 16;
	while (p < n)
		p *= 2;
	return p;
}

/* The GPT-2 byte -> character map: printable Latin-1 maps to itself, the
 * other 68 bytes to U+0100 + n in byte order. */
static uint32_t byte_char(int b)
{
	if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF))
		return (uint32_t)b;
	int n = 0;
	for (int c = 0; c < b; c++)
		if (!((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF)))
			n++;
	return 0x100u + (uint32_t)n;
}

static int load_merges(struct nrv_tok *t, const struct nrv_gguf_kv *kv, char *err, size_t errlen)
{
	uint64_t n = kv->arr_n;
	t->merge_mask = pow2_at_least(n * 2 + 1) - 1;
	t->merge_tab = malloc((t->merge_mask + 1) * sizeof(*t->merge_tab));
	if (!t->merge_tab)
		return -ENOMEM;
	for (size_t i = 0; i <= t->merge_mask; i++)
		t->merge_tab[i].key = EMPTY_KEY;

	char *cat = NULL;
	size_t cat_cap = 0;
	int rc = 0;
	for (uint64_t m = 0; m < n; m++) {
		const char *w = kv->arr_str[m].p;
		size_t wl = kv->arr_str[m].len;
		/* "left right", split at the first space after the first byte. */
		const char *sp = wl > 1 ? memchr(w + 1, ' ', wl - 1) : NULL;
		if (!sp)
			continue;
		size_t ll = (size_t)(sp - w), rl = wl - ll - 1;
		if (rl == 0)
			continue; /* never matches a symbol */
		int32_t l = str_intern(t, w, ll);
		int32_t r = l < 0 ? l : str_intern(t, sp + 1, rl);
		if (l < 0 || r < 0) {
			rc = l < 0 ? l : r;
			break;
		}
		if (ll + rl > cat_cap) {
			cat_cap = (ll + rl) * 2;
			char *nc = realloc(cat, cat_cap);
			if (!nc) {
				rc = -ENOMEM;
				break;
			}
			cat = nc;
		}
		memcpy(cat, w, ll);
		memcpy(cat + ll, sp + 1, rl);
		int32_t res = str_intern(t, cat, ll + rl);
		if (res < 0) {
			rc = res;
			break;
		}
		uint64_t key = pair_key(l, r);
		size_t i = pair_slot(key, t->merge_mask);
		while (t->merge_tab[i].key != EMPTY_KEY && t->merge_tab[i].key != key)
			i = (i + 1) & t->merge_mask;
		if (t->merge_tab[i].key == key)
			continue; /* duplicate pair: the first (lowest) rank stays */
		t->merge_tab[i].key = key;
		t->merge_tab[i].rank = (int32_t)m;
		t->merge_tab[i].result = res;
	}
	free(cat);
	if (rc == -E2BIG)
		return fail(err, errlen, -EINVAL, "tokenizer merges: too many or too long strings");
	return rc;
}

/* ---- create ------------------------------------------------------------ */

static int32_t get_id(const struct nrv_gguf *g, const char *key, int32_t def, int n_vocab)
{
	uint32_t v;
	if (nrv_gguf_get_u32(g, key, &v) == 0 && v < (uint32_t)n_vocab)
		return (int32_t)v;
	return def >= 0 && def < n_vocab ? def : -1;
}

static bool text_in(const char *s, size_t n, const char *const *list, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (strlen(list[i]) == n && memcmp(list[i], s, n) == 0)
			return true;
	return false;
}

static const struct nrv_tok *g_sort_tok; /* only during create's qsort */

static int cmp_special(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	uint32_t lx = g_sort_tok->str_len[x], ly = g_sort_tok->str_len[y];
	if (lx != ly)
		return lx > ly ? -1 : 1;
	return x < y ? -1 : x > y;
}

static int build_special(struct nrv_tok *t)
{
	int n = 0;
	for (int i = 0; i < t->n_vocab; i++)
		if (t->attr[i] & (A_CONTROL | A_USER | A_UNKNOWN))
			n++;
	t->special = malloc((size_t)(n ? n : 1) * sizeof(int32_t));
	if (!t->special)
		return -ENOMEM;
	n = 0;
	for (int i = 0; i < t->n_vocab; i++)
		if (t->attr[i] & (A_CONTROL | A_USER | A_UNKNOWN))
			t->special[n++] = i;
	t->n_special = n;
	/* qsort's comparator has no context argument; the static pointer is
	 * only used inside this call. A merge sort would avoid it but this
	 * runs once per model load. */
	g_sort_tok = t;
	qsort(t->special, (size_t)n, sizeof(int32_t), cmp_special);
	g_sort_tok = NULL;
	return 0;
}

static int load_vocab(struct nrv_tok *t, const struct nrv_gguf *g, size_t extra,
		      char *err, size_t errlen)
{
	const struct nrv_gguf_kv *toks, *scores = NULL, *types = NULL;
	int rc = nrv_gguf_get_arr(g, "tokenizer.ggml.tokens", NRV_GGUF_STRING, &toks);
	if (rc)
		return fail(err, errlen, -EINVAL, "tokenizer.ggml.tokens is %s",
			    rc == -ENOENT ? "missing" : "not an array of strings");
	if (toks->arr_n == 0 || toks->arr_n > INT32_MAX / 4)
		return fail(err, errlen, -EINVAL, "tokenizer.ggml.tokens has %llu entries",
			    (unsigned long long)toks->arr_n);
	int n = (int)toks->arr_n;
	t->n_vocab = n;

	if (nrv_gguf_get_arr(g, "tokenizer.ggml.scores", -1, &scores) == 0) {
		if (scores->arr_type != NRV_GGUF_F32 && scores->arr_type != NRV_GGUF_I32)
			return fail(err, errlen, -EINVAL, "tokenizer.ggml.scores is not float32 or int32");
		if (scores->arr_n < (uint64_t)n)
			return fail(err, errlen, -EINVAL, "tokenizer.ggml.scores has fewer entries than tokens");
	} else {
		scores = NULL;
	}
	if (nrv_gguf_get_arr(g, "tokenizer.ggml.token_type", -1, &types) == 0) {
		if (types->arr_type != NRV_GGUF_I32)
			return fail(err, errlen, -EINVAL, "tokenizer.ggml.token_type is not int32");
		if (types->arr_n < (uint64_t)n)
			return fail(err, errlen, -EINVAL, "tokenizer.ggml.token_type has fewer entries than tokens");
	} else {
		types = NULL;
	}

	if (extra > (size_t)INT32_MAX - (size_t)n)
		return fail(err, errlen, -EINVAL, "tokenizer: too many merges");
	t->n_str_cap = n + (int)extra;
	t->str_off = malloc((size_t)t->n_str_cap * sizeof(uint32_t));
	t->str_len = malloc((size_t)t->n_str_cap * sizeof(uint32_t));
	t->str_mask = pow2_at_least((size_t)t->n_str_cap * 2) - 1;
	t->str_tab = malloc((t->str_mask + 1) * sizeof(int32_t));
	t->score = calloc((size_t)n, sizeof(float));
	t->attr = calloc((size_t)n, 1);
	if (!t->str_off || !t->str_len || !t->str_tab || !t->score || !t->attr)
		return -ENOMEM;
	memset(t->str_tab, 0xff, (t->str_mask + 1) * sizeof(int32_t));

	for (int i = 0; i < n; i++) {
		const char *s = toks->arr_str[i].p;
		size_t len = toks->arr_str[i].len;
		char empty[32];
		if (len == 0) { /* llama.cpp renames empty tokens the same way */
			len = (size_t)snprintf(empty, sizeof(empty), "[EMPTY_%d]", i);
			s = empty;
		}
		if (str_find(t, s, len) >= 0)
			return fail(err, errlen, -EINVAL, "tokenizer.ggml.tokens: token %d duplicates an earlier token", i);
		rc = str_add(t, s, len);
		if (rc < 0)
			return rc == -E2BIG ? fail(err, errlen, -EINVAL, "tokenizer.ggml.tokens: texts too long") : rc;

		if (scores) {
			if (scores->arr_type == NRV_GGUF_F32) {
				memcpy(&t->score[i], scores->arr_data + 4 * (size_t)i, 4);
			} else {
				int32_t v;
				memcpy(&v, scores->arr_data + 4 * (size_t)i, 4);
				t->score[i] = (float)v;
			}
		}
		int32_t ty = 1;
		if (types)
			memcpy(&ty, types->arr_data + 4 * (size_t)i, 4);
		switch (ty) {
		case 1: t->attr[i] = A_NORMAL; break;
		case 2: t->attr[i] = A_UNKNOWN; break;
		case 3: t->attr[i] = A_CONTROL; break;
		case 4: t->attr[i] = A_USER; break;
		case 5: t->attr[i] = A_UNUSED; break;
		case 6: t->attr[i] = A_BYTE; break;
		default: t->attr[i] = 0; break;
		}
	}
	return 0;
}

static void mark_eog(struct nrv_tok *t, const struct nrv_gguf *g)
{
	for (int i = 0; i < t->n_vocab; i++) {
		const char *s = str_ptr(t, i);
		size_t n = t->str_len[i];
		if (text_in(s, n, eog_texts, sizeof(eog_texts) / sizeof(eog_texts[0])) ||
		    text_in(s, n, fim_eog_texts, sizeof(fim_eog_texts) / sizeof(fim_eog_texts[0])))
			t->attr[i] |= A_EOG | A_CONTROL;
	}
	static const char *const keys[] = {
		"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id",
		"tokenizer.ggml.fim_pad_token_id", "tokenizer.ggml.fim_rep_token_id",
		"tokenizer.ggml.fim_sep_token_id",
	};
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		int32_t id = get_id(g, keys[k], -1, t->n_vocab);
		if (id >= 0)
			t->attr[id] |= A_EOG;
	}
	if (t->eos >= 0)
		t->attr[t->eos] |= A_EOG;
}

static void build_byte_maps(struct nrv_tok *t)
{
	for (int b = 0; b < 256; b++) {
		uint8_t u[4];
		int n = nrv_utf8_encode(byte_char(b), u);
		t->byte_sym[b] = str_find(t, (const char *)u, (size_t)n);
		for (int k = 0; k < 2; k++) {
			int32_t id = k < n ? str_find(t, (const char *)&u[k], 1) : -1;
			t->byte_fb[b][k] = id < t->n_vocab ? id : -1;
		}
		t->cp_byte[byte_char(b)] = (uint16_t)(b + 1);

		char hex[8];
		snprintf(hex, sizeof(hex), "<0x%02X>", b);
		int32_t id = str_find(t, hex, 6);
		if (id < 0) {
			char c = (char)b;
			id = str_find(t, &c, 1);
		}
		t->spm_byte[b] = id < t->n_vocab ? id : -1;
	}
}

int nrv_tok_create(const struct nrv_gguf *g, struct nrv_tok **out, char *err, size_t errlen)
{
	struct nrv_gguf_str model, pre;
	const struct nrv_gguf_kv *merges = NULL;
	int rc;

	if (!g || !out)
		return -EINVAL;
	*out = NULL;
	if (nrv_gguf_get_str(g, "tokenizer.ggml.model", &model))
		return fail(err, errlen, -EINVAL, "tokenizer.ggml.model is missing");

	struct nrv_tok *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;

	size_t extra = 0;
	if (model.len == 4 && !memcmp(model.p, "gpt2", 4)) {
		t->kind = NRV_TOK_BPE;
		rc = nrv_gguf_get_arr(g, "tokenizer.ggml.merges", NRV_GGUF_STRING, &merges);
		if (rc) {
			rc = fail(err, errlen, -EINVAL, "tokenizer.ggml.merges is %s",
				  rc == -ENOENT ? "missing" : "not an array of strings");
			goto out;
		}
		if (merges->arr_n > INT32_MAX / 8) {
			rc = fail(err, errlen, -EINVAL, "tokenizer.ggml.merges is too long");
			goto out;
		}
		extra = (size_t)merges->arr_n * 3; /* each merge adds at most 3 strings */
		t->pre = PRE_DEFAULT;
		snprintf(t->pre_name, sizeof(t->pre_name), "default");
		if (nrv_gguf_get_str(g, "tokenizer.ggml.pre", &pre) == 0) {
			size_t i, np = sizeof(pre_names) / sizeof(pre_names[0]);
			for (i = 0; i < np; i++)
				if (strlen(pre_names[i].name) == pre.len &&
				    !memcmp(pre_names[i].name, pre.p, pre.len))
					break;
			if (i == np) {
				rc = fail(err, errlen, -EINVAL, "unsupported pre-tokenizer '%.*s'",
					  (int)(pre.len > 64 ? 64 : pre.len), pre.p);
				goto out;
			}
			t->pre = pre_names[i].pre;
			t->ignore_merges = pre_names[i].ignore_merges;
			t->add_bos = pre_names[i].add_bos;
			snprintf(t->pre_name, sizeof(t->pre_name), "%s", pre_names[i].name);
		}
		t->bos = 11;
		t->eos = 11;
		t->unk = -1;
	} else if (model.len == 5 && !memcmp(model.p, "llama", 5)) {
		t->kind = NRV_TOK_SPM;
		snprintf(t->pre_name, sizeof(t->pre_name), "default");
		t->add_space_prefix = true;
		t->add_bos = true;
		t->bos = 1;
		t->eos = 2;
		t->unk = 0;
	} else {
		rc = fail(err, errlen, -EINVAL, "unsupported tokenizer model '%.*s' (gpt2 and llama are)",
			  (int)(model.len > 64 ? 64 : model.len), model.p);
		goto out;
	}

	rc = load_vocab(t, g, extra, err, errlen);
	if (rc)
		goto out;
	if (merges) {
		rc = load_merges(t, merges, err, errlen);
		if (rc)
			goto out;
	}

	bool b;
	if (t->kind == NRV_TOK_SPM && nrv_gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &b) == 0)
		t->add_space_prefix = b;
	t->bos = get_id(g, "tokenizer.ggml.bos_token_id", t->bos, t->n_vocab);
	t->eos = get_id(g, "tokenizer.ggml.eos_token_id", t->eos, t->n_vocab);
	t->unk = get_id(g, "tokenizer.ggml.unknown_token_id", t->unk, t->n_vocab);
	if (nrv_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b) == 0)
		t->add_bos = b;
	if (nrv_gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &b) == 0)
		t->add_eos = b;

	mark_eog(t, g);
	build_byte_maps(t);
	rc = build_special(t);
out:
	if (rc) {
		if (rc == -ENOMEM)
			fail(err, errlen, rc, "out of memory building the tokenizer");
		nrv_tok_destroy(t);
		return rc;
	}
	*out = t;
	return 0;
}

void nrv_tok_destroy(struct nrv_tok *t)
{
	if (!t)
		return;
	free(t->blob);
	free(t->str_off);
	free(t->str_len);
	free(t->str_tab);
	free(t->score);
	free(t->attr);
	free(t->merge_tab);
	free(t->special);
	free(t);
}

/* ---- encode: output ---------------------------------------------------- */

struct out {
	int32_t *ids;
	size_t cap;
	size_t n;  /* tokens produced, may exceed cap */
};

static void emit(struct out *o, int32_t id)
{
	if (o->n < o->cap)
		o->ids[o->n] = id;
	o->n++;
}

/* ---- encode: special-token partition ----------------------------------- */

struct frag {
	int32_t id;  /* token, or -1 for text */
	size_t off, len;
};

struct frags {
	struct frag *v;
	size_t n, cap;
};

static int frags_push(struct frags *f, int32_t id, size_t off, size_t len)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		struct frag *nv = realloc(f->v, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		f->v = nv;
		f->cap = cap;
	}
	f->v[f->n++] = (struct frag){ id, off, len };
	return 0;
}

/*
 * Cut special tokens out of the text, one token at a time in the order of
 * t->special (longest text first), each time splitting every remaining text
 * fragment at all its non-overlapping occurrences, left to right.
 */
static int partition(const struct nrv_tok *t, const char *text, size_t len, bool parse_special,
		     struct frags *cur)
{
	struct frags nxt = { 0 };
	int rc = 0;

	cur->n = 0;
	if (len == 0)
		return 0;
	if ((rc = frags_push(cur, -1, 0, len)))
		return rc;
	for (int k = 0; k < t->n_special; k++) {
		int32_t id = t->special[k];
		if (!parse_special && (t->attr[id] & (A_CONTROL | A_UNKNOWN)))
			continue;
		const char *s = str_ptr(t, id);
		size_t sl = t->str_len[id];
		bool found = false;
		for (size_t i = 0; i < cur->n && !found; i++)
			found = cur->v[i].id < 0 && cur->v[i].len >= sl &&
				memmem(text + cur->v[i].off, cur->v[i].len, s, sl);
		if (!found)
			continue;
		nxt.n = 0;
		for (size_t i = 0; i < cur->n && !rc; i++) {
			struct frag f = cur->v[i];
			if (f.id >= 0) {
				rc = frags_push(&nxt, f.id, 0, 0);
				continue;
			}
			size_t pos = f.off, end = f.off + f.len;
			while (!rc && pos < end) {
				const char *m = end - pos >= sl ? memmem(text + pos, end - pos, s, sl) : NULL;
				if (!m) {
					rc = frags_push(&nxt, -1, pos, end - pos);
					break;
				}
				size_t mo = (size_t)(m - text);
				if (mo > pos)
					rc = frags_push(&nxt, -1, pos, mo - pos);
				if (!rc)
					rc = frags_push(&nxt, id, 0, 0);
				pos = mo + sl;
			}
		}
		struct frags tmp = *cur;
		*cur = nxt;
		nxt = tmp;
		if (rc)
			break;
	}
	free(nxt.v);
	return rc;
}

/* ---- encode: BPE merge loop -------------------------------------------- */

struct cand {
	int32_t left, right;  /* symbol indices */
	int32_t lid, rid;     /* their string ids when the candidate was made */
	int32_t rank;
	int32_t result;
};

struct bpe_scratch {
	int32_t *id, *prev, *next;
	uint32_t *start, *len;  /* bytes of the word each symbol covers */
	struct cand *heap;
	size_t cap_sym, cap_heap, n_heap;
	char *lvl;              /* byte-level text of a word (ignore_merges) */
};

/* Heap order: lowest rank first, then leftmost. */
static bool cand_less(const struct cand *a, const struct cand *b)
{
	return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

/*
 * A binary min-heap of candidates in scratch->heap (n_heap used), ordered
 * by LESS; both merge loops (BPE by rank, SentencePiece by score) use one.
 * PUSH inserts a candidate; POP removes and returns the smallest (the heap
 * must not be empty).
 */
#define NRV__DEFINE_HEAP(PUSH, POP, SCRATCH, CAND, LESS)                       \
	static void PUSH(SCRATCH *s, CAND c)                                   \
	{                                                                      \
		size_t i = s->n_heap++;                                        \
		while (i > 0) {                                                \
			size_t p = (i - 1) / 2;                                \
			if (!LESS(&c, &s->heap[p]))                            \
				break;                                         \
			s->heap[i] = s->heap[p];                               \
			i = p;                                                 \
		}                                                              \
		s->heap[i] = c;                                                \
	}                                                                      \
	static CAND POP(SCRATCH *s)                                            \
	{                                                                      \
		CAND top = s->heap[0], last = s->heap[--s->n_heap];            \
		size_t i = 0, n = s->n_heap;                                   \
		for (;;) {                                                     \
			size_t l = 2 * i + 1, m = i;                           \
			const CAND *best = &last;                              \
			if (l < n && LESS(&s->heap[l], best))                  \
				m = l, best = &s->heap[l];                     \
			if (l + 1 < n && LESS(&s->heap[l + 1], best))          \
				m = l + 1;                                     \
			if (m == i)                                            \
				break;                                         \
			s->heap[i] = s->heap[m];                               \
			i = m;                                                 \
		}                                                              \
		if (n)                                                         \
			s->heap[i] = last;                                     \
		return top;                                                    \
	}

NRV__DEFINE_HEAP(heap_push, heap_pop, struct bpe_scratch, struct cand, cand_less)

static void try_pair(const struct nrv_tok *t, struct bpe_scratch *s, int32_t l, int32_t r)
{
	if (l < 0 || r < 0)
		return;
	const struct merge_slot *m = merge_find(t, s->id[l], s->id[r]);
	if (!m)
		return;
	heap_push(s, (struct cand){ l, r, s->id[l], s->id[r], m->rank, m->result });
}

static void emit_symbol(const struct nrv_tok *t, const uint8_t *w, int32_t id, uint32_t start,
			uint32_t len, struct out *o)
{
	if (id >= 0 && id < t->n_vocab) {
		emit(o, id);
		return;
	}
	/* Not a token: llama.cpp looks up each byte of the byte-level text
	 * as a one-byte token and keeps those it finds. */
	for (uint32_t i = start; i < start + len; i++)
		for (int k = 0; k < 2; k++)
			if (t->byte_fb[w[i]][k] >= 0)
				emit(o, t->byte_fb[w[i]][k]);
}

/* Merge one pre-tokenized word (UTF-8 bytes w[0..m)) and emit its tokens. */
static void bpe_word(const struct nrv_tok *t, struct bpe_scratch *s, const uint8_t *w, size_t m,
		     struct out *o)
{
	if (t->ignore_merges) {
		size_t n = 0;
		for (size_t i = 0; i < m; i++) {
			uint8_t u[4];
			int k = nrv_utf8_encode(byte_char(w[i]), u);
			memcpy(s->lvl + n, u, (size_t)k);
			n += (size_t)k;
		}
		int32_t id = str_find(t, s->lvl, n);
		if (id >= 0 && id < t->n_vocab) {
			emit(o, id);
			return;
		}
	}
	for (size_t i = 0; i < m; i++) {
		s->id[i] = t->byte_sym[w[i]];
		s->prev[i] = (int32_t)i - 1;
		s->next[i] = i + 1 < m ? (int32_t)i + 1 : -1;
		s->start[i] = (uint32_t)i;
		s->len[i] = 1;
	}
	s->n_heap = 0;
	for (size_t i = 1; i < m; i++)
		try_pair(t, s, (int32_t)i - 1, (int32_t)i);
	while (s->n_heap) {
		struct cand c = heap_pop(s);
		if (!s->len[c.left] || !s->len[c.right] ||
		    s->id[c.left] != c.lid || s->id[c.right] != c.rid)
			continue; /* stale: a side has changed since */
		s->id[c.left] = c.result;
		s->len[c.left] += s->len[c.right];
		s->len[c.right] = 0;
		s->next[c.left] = s->next[c.right];
		if (s->next[c.left] >= 0)
			s->prev[s->next[c.left]] = c.left;
		try_pair(t, s, s->prev[c.left], c.left);
		try_pair(t, s, c.left, s->next[c.left]);
	}
	for (int32_t i = m ? 0 : -1; i >= 0; i = s->next[i])
		emit_symbol(t, w, s->id[i], s->start[i], s->len[i], o);
}

static int bpe_fragment(const struct nrv_tok *t, const uint8_t *text, size_t len, struct out *o)
{
	static const enum nrv__pretok st_default[] = { NRV__PUNCT_RUNS, NRV__GPT2, NRV__NUM_RUNS, NRV__DIGIT3 };
	static const enum nrv__pretok st_gpt2[] = { NRV__GPT2 };
	static const enum nrv__pretok st_smollm[] = { NRV__NUM_EACH, NRV__GPT2 };
	static const enum nrv__pretok st_llama3[] = { NRV__LLAMA3 };
	const enum nrv__pretok *stages;
	size_t n_stages;
	int rc = -ENOMEM;

	switch (t->pre) {
	case PRE_GPT2: stages = st_gpt2; n_stages = 1; break;
	case PRE_SMOLLM: stages = st_smollm; n_stages = 2; break;
	case PRE_LLAMA3: stages = st_llama3; n_stages = 1; break;
	default: stages = st_default; n_stages = 4; break;
	}

	uint32_t *cps = malloc(len * sizeof(uint32_t));
	uint16_t *fl = malloc(len * sizeof(uint16_t));
	uint32_t *sa = malloc((len + 1) * sizeof(uint32_t));
	uint32_t *sb = malloc((len + 1) * sizeof(uint32_t));
	struct bpe_scratch s = { 0 };
	uint8_t *w = NULL;
	if (!cps || !fl || !sa || !sb)
		goto out;

	size_t n = 0;
	for (size_t i = 0; i < len;) {
		size_t used;
		cps[n] = nrv_utf8_decode(text + i, len - i, &used);
		fl[n] = nrv_ucd_flags(cps[n]);
		n++;
		i += used;
	}
	size_t n_seg = 1;
	sa[0] = (uint32_t)n;
	for (size_t k = 0; k < n_stages; k++) {
		n_seg = nrv__pretok_stage(stages[k], cps, fl, sa, n_seg, sb);
		uint32_t *tmp = sa;
		sa = sb;
		sb = tmp;
	}

	/* The longest word in bytes sizes the merge scratch. */
	size_t max_bytes = 0, p = 0;
	for (size_t k = 0; k < n_seg; k++) {
		size_t b = 0;
		for (size_t i = p; i < p + sa[k]; i++)
			b += cps[i] < 0x80 ? 1 : cps[i] < 0x800 ? 2 : cps[i] < 0x10000 ? 3 : 4;
		if (b > max_bytes)
			max_bytes = b;
		p += sa[k];
	}
	s.cap_sym = max_bytes ? max_bytes : 1;
	s.id = malloc(s.cap_sym * sizeof(int32_t));
	s.prev = malloc(s.cap_sym * sizeof(int32_t));
	s.next = malloc(s.cap_sym * sizeof(int32_t));
	s.start = malloc(s.cap_sym * sizeof(uint32_t));
	s.len = malloc(s.cap_sym * sizeof(uint32_t));
	s.heap = malloc(s.cap_sym * 3 * sizeof(struct cand));
	s.lvl = t->ignore_merges ? malloc(s.cap_sym * 2) : NULL;
	w = malloc(s.cap_sym);
	if (!s.id || !s.prev || !s.next || !s.start || !s.len || !s.heap || !w ||
	    (t->ignore_merges && !s.lvl))
		goto out;

	p = 0;
	for (size_t k = 0; k < n_seg; k++) {
		size_t m = 0;
		for (size_t i = p; i < p + sa[k]; i++)
			m += (size_t)nrv_utf8_encode(cps[i], w + m);
		p += sa[k];
		bpe_word(t, &s, w, m, o);
	}
	rc = 0;
out:
	free(cps);
	free(fl);
	free(sa);
	free(sb);
	free(s.id);
	free(s.prev);
	free(s.next);
	free(s.start);
	free(s.len);
	free(s.heap);
	free(s.lvl);
	free(w);
	return rc;
}

/* ---- encode: SentencePiece BPE ----------------------------------------- */

struct spm_cand {
	int32_t left, right;
	float score;
	uint32_t size;  /* bytes of left + right when made */
};

/* Highest score first, then leftmost. */
static bool spm_less(const struct spm_cand *a, const struct spm_cand *b)
{
	return a->score > b->score || (a->score == b->score && a->left < b->left);
}

struct spm_scratch {
	int32_t *prev, *next;
	uint32_t *start, *len;
	struct spm_cand *heap;
	size_t n_heap;
};

NRV__DEFINE_HEAP(spm_push, spm_pop, struct spm_scratch, struct spm_cand, spm_less)

static void spm_try(const struct nrv_tok *t, struct spm_scratch *s, const char *buf, int32_t l, int32_t r)
{
	if (l < 0 || r < 0)
		return;
	uint32_t size = s->len[l] + s->len[r];
	int32_t id = str_find(t, buf + s->start[l], size);
	if (id < 0 || id >= t->n_vocab)
		return;
	spm_push(s, (struct spm_cand){ l, r, t->score[id], size });
}

/* Tokenize one text fragment: spaces become U+2581, merges by score. */
static int spm_fragment(const struct nrv_tok *t, const char *text, size_t len, bool prefix, struct out *o)
{
	size_t n_sp = 0;
	for (size_t i = 0; i < len; i++)
		n_sp += text[i] == ' ';
	/* Each space grows from 1 to 3 bytes; the prefix adds 3. */
	size_t blen = len + 2 * n_sp + (prefix ? 3 : 0);
	char *buf = malloc(blen ? blen : 1);
	struct spm_scratch s = { 0 };
	int rc = -ENOMEM;
	if (!buf)
		return rc;
	size_t b = 0;
	if (prefix) {
		memcpy(buf, "\xE2\x96\x81", 3);
		b = 3;
	}
	for (size_t i = 0; i < len; i++) {
		if (text[i] == ' ') {
			memcpy(buf + b, "\xE2\x96\x81", 3);
			b += 3;
		} else {
			buf[b++] = text[i];
		}
	}
	size_t cap = blen ? blen : 1;
	s.prev = malloc(cap * sizeof(int32_t));
	s.next = malloc(cap * sizeof(int32_t));
	s.start = malloc(cap * sizeof(uint32_t));
	s.len = malloc(cap * sizeof(uint32_t));
	s.heap = malloc(cap * 3 * sizeof(struct spm_cand));
	if (!s.prev || !s.next || !s.start || !s.len || !s.heap)
		goto out;

	/* Symbols: UTF-8 characters by their lead byte, unvalidated. */
	int32_t n = 0;
	for (size_t i = 0; i < blen;) {
		size_t l = (size_t)nrv_utf8_seqlen((uint8_t)buf[i]);
		if (l > blen - i)
			l = blen - i;
		s.start[n] = (uint32_t)i;
		s.len[n] = (uint32_t)l;
		s.prev[n] = n - 1;
		i += l;
		s.next[n] = i < blen ? n + 1 : -1;
		n++;
	}
	for (int32_t i = 1; i < n; i++)
		spm_try(t, &s, buf, i - 1, i);
	while (s.n_heap) {
		struct spm_cand c = spm_pop(&s);
		if (!s.len[c.left] || !s.len[c.right] || s.len[c.left] + s.len[c.right] != c.size)
			continue;
		s.len[c.left] += s.len[c.right];
		s.len[c.right] = 0;
		s.next[c.left] = s.next[c.right];
		if (s.next[c.left] >= 0)
			s.prev[s.next[c.left]] = c.left;
		spm_try(t, &s, buf, s.prev[c.left], c.left);
		spm_try(t, &s, buf, c.left, s.next[c.left]);
	}
	for (int32_t i = n ? 0 : -1; i >= 0; i = s.next[i]) {
		int32_t id = str_find(t, buf + s.start[i], s.len[i]);
		if (id >= 0 && id < t->n_vocab) {
			emit(o, id);
			continue;
		}
		/* Byte fallback. Where the vocabulary has no token for a byte,
		 * llama.cpp throws; we emit the unknown token, if any. */
		for (uint32_t k = s.start[i]; k < s.start[i] + s.len[i]; k++) {
			int32_t bt = t->spm_byte[(uint8_t)buf[k]];
			if (bt >= 0)
				emit(o, bt);
			else if (t->unk >= 0)
				emit(o, t->unk);
		}
	}
	rc = 0;
out:
	free(buf);
	free(s.prev);
	free(s.next);
	free(s.start);
	free(s.len);
	free(s.heap);
	return rc;
}

int nrv_tok_encode(const struct nrv_tok *t, const char *text, size_t len, bool add_special,
		   bool parse_special, int32_t *out, int cap)
{
	struct frags fr = { 0 };
	struct out o = { out, cap > 0 ? (size_t)cap : 0, 0 };
	int rc;

	if (!t || (!text && len) || cap < 0 || (cap > 0 && !out))
		return -EINVAL;
	if (len > MAX_TEXT)
		return -E2BIG;
	rc = partition(t, text, len, parse_special, &fr);
	if (rc)
		goto out;

	if (add_special && t->add_bos && t->bos >= 0)
		emit(&o, t->bos);
	bool prev_special = true; /* SPM: a fragment after a token (or first) gets the space prefix */
	for (size_t i = 0; i < fr.n && !rc; i++) {
		const struct frag *f = &fr.v[i];
		if (f->id >= 0) {
			emit(&o, f->id);
			prev_special = true;
			continue;
		}
		if (t->kind == NRV_TOK_SPM) {
			rc = spm_fragment(t, text + f->off, f->len, t->add_space_prefix && prev_special, &o);
			prev_special = false;
		} else {
			rc = bpe_fragment(t, (const uint8_t *)text + f->off, f->len, &o);
		}
	}
	if (!rc && add_special && t->add_eos && t->eos >= 0)
		emit(&o, t->eos);
out:
	free(fr.v);
	if (rc)
		return rc;
	if (o.n > INT_MAX)
		return -EOVERFLOW;
	return (int)o.n;
}

/* ---- pieces and decoding ----------------------------------------------- */

struct sink {
	char *buf;
	size_t cap, n;
	int lstrip;  /* leading spaces still to drop */
};

static void put(struct sink *k, const void *p, size_t n)
{
	const char *c = p;
	while (k->lstrip > 0 && n > 0) {
		if (*c != ' ') {
			k->lstrip = 0;
			break;
		}
		k->lstrip--;
		c++;
		n--;
	}
	if (n == 0)
		return;
	k->lstrip = 0;
	if (k->n < k->cap) {
		size_t room = k->cap - k->n;
		memcpy(k->buf + k->n, c, n < room ? n : room);
	}
	k->n += n;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Write a token's bytes (what llama.cpp's token_to_piece gives). */
static void piece(const struct nrv_tok *t, int32_t id, bool special, struct sink *k)
{
	uint8_t a = t->attr[id];
	const char *s = str_ptr(t, id);
	size_t n = t->str_len[id];

	if (!special && (a & (A_UNKNOWN | A_CONTROL)))
		return;
	if (a & (A_UNKNOWN | A_CONTROL | A_USER)) {
		put(k, s, n);
	} else if (a & A_NORMAL) {
		if (t->kind == NRV_TOK_SPM) {
			for (size_t i = 0; i < n; i++) {
				if (i + 2 < n && !memcmp(s + i, "\xE2\x96\x81", 3)) {
					put(k, " ", 1);
					i += 2;
				} else {
					put(k, s + i, 1);
				}
			}
		} else {
			for (size_t i = 0; i < n;) {
				size_t used;
				uint32_t cp = nrv_utf8_decode((const uint8_t *)s + i, n - i, &used);
				i += used;
				if (cp < sizeof(t->cp_byte) / sizeof(t->cp_byte[0]) && t->cp_byte[cp]) {
					uint8_t byte = (uint8_t)(t->cp_byte[cp] - 1);
					put(k, &byte, 1);
					continue;
				}
				/* Not a byte-level character: llama.cpp's marker. */
				uint8_t u[4];
				int ul = nrv_utf8_encode(cp, u);
				char hx[4];
				put(k, "[UNK_BYTE_0x", 12);
				for (int j = 0; j < ul; j++) {
					snprintf(hx, sizeof(hx), "%02x", u[j]);
					put(k, hx, 2);
				}
				put(k, s, n);
				put(k, "]", 1);
			}
		}
	} else if (a & A_BYTE) {
		/* "<0xXX>": the hex digits at offset 3. */
		int v = 0, d;
		for (size_t i = 3; i < 5 && i < n && (d = hexval(s[i])) >= 0; i++)
			v = v * 16 + d;
		uint8_t byte = (uint8_t)v;
		if (n >= 3)
			put(k, &byte, 1);
	}
}

int nrv_tok_piece(const struct nrv_tok *t, int32_t id, bool special, char *buf, size_t cap)
{
	if (!t || id < 0 || id >= t->n_vocab || (!buf && cap))
		return -EINVAL;
	struct sink k = { buf, cap, 0, 0 };
	piece(t, id, special, &k);
	return k.n > INT_MAX ? -EOVERFLOW : (int)k.n;
}

int nrv_tok_decode(const struct nrv_tok *t, const int32_t *ids, int n, bool special,
		   char *buf, size_t cap)
{
	if (!t || n < 0 || (!ids && n) || (!buf && cap))
		return -EINVAL;
	for (int i = 0; i < n; i++)
		if (ids[i] < 0 || ids[i] >= t->n_vocab)
			return -EINVAL;
	/* As llama.cpp's detokenize: with the space prefix, the first token
	 * loses one leading space (whatever that token is). */
	struct sink k = { buf, cap, 0, 0 };
	for (int i = 0; i < n; i++) {
		k.lstrip = i == 0 && t->add_space_prefix ? 1 : 0;
		piece(t, ids[i], special, &k);
		k.lstrip = 0;
		if (k.n > INT_MAX)
			return -EOVERFLOW;
	}
	return (int)k.n;
}

/* ---- accessors --------------------------------------------------------- */

int nrv_tok_n_vocab(const struct nrv_tok *t)
{
	return t->n_vocab;
}

enum nrv_tok_kind nrv_tok_kind(const struct nrv_tok *t)
{
	return t->kind;
}

int32_t nrv_tok_bos(const struct nrv_tok *t)
{
	return t->bos;
}

int32_t nrv_tok_eos(const struct nrv_tok *t)
{
	return t->eos;
}

bool nrv_tok_is_eog(const struct nrv_tok *t, int32_t id)
{
	return id >= 0 && id < t->n_vocab && (t->attr[id] & A_EOG);
}

bool nrv_tok_is_control(const struct nrv_tok *t, int32_t id)
{
	return id >= 0 && id < t->n_vocab && (t->attr[id] & A_CONTROL);
}

int32_t nrv_tok_find(const struct nrv_tok *t, const char *text, size_t len)
{
	if (!text)
		return -1;
	int32_t id = str_find(t, text, len);
	return id < t->n_vocab ? id : -1;
}

const char *nrv_tok_text(const struct nrv_tok *t, int32_t id, size_t *len)
{
	if (id < 0 || id >= t->n_vocab)
		return NULL;
	if (len)
		*len = t->str_len[id];
	return str_ptr(t, id);
}

const char *nrv_tok_pre_name(const struct nrv_tok *t)
{
	return t->pre_name;
}

bool nrv_tok_add_bos(const struct nrv_tok *t)
{
	return t->add_bos;
}
