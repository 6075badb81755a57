/*
 * src/cmd_info.c - `nirvana info MODEL [--json]`: what a model file holds.
 *
 * Prints the GGUF header facts, the validated llama config, the tokenizer
 * summary and the weight bytes per type. A file whose structure parses but
 * whose model does not validate still gets its raw hyperparameters printed,
 * followed by the validation error, and exit status 1: that is the case an
 * operator runs `info` for.
 */
#include "config.h"

#if NRV_HAVE_CJSON
#include <cjson/cJSON.h>
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "gguf.h"
#include "kernels/quant.h"
#include "mem/weights.h"
#include "model.h"
#include "util.h"

struct info {
	const char *path;
	struct nrv_weights *w;
	struct nrv_gguf *g;
	struct nrv_model_config cfg;
	bool valid;
	char verr[512];
	char digest[NRV_DIGEST_HEX]; /* XXH3-128 of the file, hex; "" when not computed */
	uint64_t n_params;
	uint64_t n_bytes;
	uint64_t type_tensors[NRV_TYPE_COUNT];
	uint64_t type_bytes[NRV_TYPE_COUNT];
};

static void usage(FILE *f)
{
	fprintf(f, "usage: nirvana info [-m] MODEL [--json]\n\n"
		   "Print what a GGUF model file holds: architecture, hyperparameters, tokenizer,\n"
		   "tensor and parameter counts, bytes per weight type, GGUF version and alignment,\n"
		   "and the file's XXH3-128 digest (reads the whole file once).\n"
		   "Exits 1 when the file is not a valid GGUF model (the error says why).\n\n"
		   "options:\n"
		   "  -m, --model PATH   the model file (or give it as the first argument)\n"
		   "  --json             print one JSON object instead of text\n"
		   "  -h, --help         print this help\n");
}

/* A file string for the terminal: control bytes become '?', long strings
 * are cut (a chat template can be kilobytes). */
static void print_gstr(FILE *f, const struct nrv_gguf_str *s, size_t max)
{
	size_t n = s->len < max ? (size_t)s->len : max;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s->p[i];
		fputc(ch < 0x20 || ch == 0x7f ? '?' : ch, f);
	}
	if (s->len > max)
		fputs("...", f);
}

#if NRV_HAVE_CJSON
/* A file string as valid UTF-8 for JSON: NUL bytes and invalid sequences
 * become U+FFFD. Returns a malloc'd string or NULL. */
static char *utf8_clean(const struct nrv_gguf_str *s)
{
	const unsigned char *p = (const unsigned char *)s->p;
	size_t n = (size_t)s->len;
	char *out = malloc(n * 3 + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		size_t k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 :
			   (c & 0xf8) == 0xf0 ? 4 : 0;
		bool ok = c != 0 && k != 0 && i + k <= n;
		for (size_t j = 1; ok && j < k; j++)
			ok = (p[i + j] & 0xc0) == 0x80;
		if (ok && k > 1) {
			/* Reject overlong forms, surrogates and code points past U+10FFFF. */
			uint32_t cp = c & (0x7f >> k);
			for (size_t j = 1; j < k; j++)
				cp = cp << 6 | (p[i + j] & 0x3f);
			static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
			ok = cp >= min[k] && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);
		}
		if (ok) {
			memcpy(out + o, p + i, k);
			o += k;
			i += k;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	out[o] = 0;
	return out;
}

static cJSON *json_gstr(const struct nrv_gguf_str *s)
{
	char *z = utf8_clean(s);
	cJSON *j = z ? cJSON_CreateString(z) : NULL;
	free(z);
	return j;
}

#endif

static void gather(struct info *in)
{
	const struct nrv_gguf *g = in->g;
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const struct nrv_gguf_tensor *t = &g->tensors[i];
		in->n_params += t->n_elements;
		in->n_bytes += t->nbytes;
		if (t->type >= 0 && t->type < NRV_TYPE_COUNT) {
			in->type_tensors[t->type]++;
			in->type_bytes[t->type] += t->nbytes;
		}
	}
	in->valid = nrv_model_config_read(g, &in->cfg, in->verr, sizeof(in->verr)) == 0;
}

/* The architecture string, or an empty one. */
static struct nrv_gguf_str arch_of(const struct nrv_gguf *g)
{
	struct nrv_gguf_str s = { "", 0 };
	if (nrv_gguf_get_str(g, "general.architecture", &s) != 0)
		s = (struct nrv_gguf_str){ "", 0 };
	return s;
}

/* The model's name: general.name, else the file's base name. */
static struct nrv_gguf_str name_of(const struct info *in)
{
	struct nrv_gguf_str s;
	if (nrv_gguf_get_str(in->g, "general.name", &s) == 0)
		return s;
	const char *b = strrchr(in->path, '/');
	b = b ? b + 1 : in->path;
	return (struct nrv_gguf_str){ b, strlen(b) };
}

static bool key_in_arch(const struct nrv_gguf_kv *kv, const struct nrv_gguf_str *arch)
{
	return arch->len && kv->key.len > arch->len + 1 &&
	       memcmp(kv->key.p, arch->p, arch->len) == 0 && kv->key.p[arch->len] == '.';
}

static void print_scalar(FILE *f, const struct nrv_gguf_kv *kv)
{
	switch (kv->type) {
	case NRV_GGUF_U8: case NRV_GGUF_U16: case NRV_GGUF_U32: case NRV_GGUF_U64:
		fprintf(f, "%llu", (unsigned long long)kv->v.u);
		break;
	case NRV_GGUF_I8: case NRV_GGUF_I16: case NRV_GGUF_I32: case NRV_GGUF_I64:
		fprintf(f, "%lld", (long long)kv->v.i);
		break;
	case NRV_GGUF_F32: case NRV_GGUF_F64:
		fprintf(f, "%g", kv->v.f);
		break;
	case NRV_GGUF_BOOL:
		fputs(kv->v.b ? "true" : "false", f);
		break;
	case NRV_GGUF_STRING:
		print_gstr(f, &kv->str, 200);
		break;
	case NRV_GGUF_ARRAY:
		fprintf(f, "[%llu x %s]", (unsigned long long)kv->arr_n,
			nrv_gguf_vtype_name(kv->arr_type));
		break;
	default:
		break;
	}
}

static void print_opt_u32(FILE *f, const struct nrv_gguf *g, const char *label, const char *key)
{
	uint32_t v;
	if (nrv_gguf_get_u32(g, key, &v) == 0)
		fprintf(f, "  %-14s %u\n", label, v);
	else
		fprintf(f, "  %-14s -\n", label);
}

static void print_opt_str(FILE *f, const struct nrv_gguf *g, const char *label, const char *key)
{
	struct nrv_gguf_str s;
	fprintf(f, "  %-14s ", label);
	if (nrv_gguf_get_str(g, key, &s) == 0)
		print_gstr(f, &s, 200);
	else
		fputc('-', f);
	fputc('\n', f);
}

static void print_arr_count(FILE *f, const struct nrv_gguf *g, const char *label, const char *key)
{
	const struct nrv_gguf_kv *kv;
	if (nrv_gguf_get_arr(g, key, -1, &kv) == 0)
		fprintf(f, "  %-14s %llu\n", label, (unsigned long long)kv->arr_n);
	else
		fprintf(f, "  %-14s -\n", label);
}

static void print_text(FILE *f, const struct info *in)
{
	const struct nrv_gguf *g = in->g;
	const struct nrv_model_config *c = &in->cfg;
	struct nrv_gguf_str arch = arch_of(g), name = name_of(in);
	char h1[32], h2[32];

	fprintf(f, "%-16s %s\n", "file", in->path);
	nrv_fmt_bytes(h1, sizeof(h1), g->file_size);
	fprintf(f, "%-16s %llu bytes (%s)\n", "file size", (unsigned long long)g->file_size, h1);
	fprintf(f, "%-16s %u\n", "gguf version", g->version);
	fprintf(f, "%-16s %u\n", "alignment", g->alignment);
	fprintf(f, "%-16s %s\n", "weights held by", nrv_weights_mode(in->w));
	if (in->digest[0])
		fprintf(f, "%-16s xxh3-128:%s\n", "digest", in->digest);
	fprintf(f, "%-16s ", "architecture");
	if (arch.len)
		print_gstr(f, &arch, 64);
	else
		fputs("(missing)", f);
	fprintf(f, "\n%-16s ", "name");
	print_gstr(f, &name, 128);
	fputc('\n', f);

	if (in->valid) {
		fprintf(f, "hyperparameters:\n");
		fprintf(f, "  %-14s %d\n", "n_vocab", c->n_vocab);
		fprintf(f, "  %-14s %d\n", "n_ctx_train", c->n_ctx_train);
		fprintf(f, "  %-14s %d\n", "n_embd", c->n_embd);
		fprintf(f, "  %-14s %d\n", "n_layer", c->n_layer);
		fprintf(f, "  %-14s %d\n", "n_head", c->n_head);
		fprintf(f, "  %-14s %d\n", "n_head_kv", c->n_head_kv);
		fprintf(f, "  %-14s %d\n", "head_dim", c->head_dim);
		fprintf(f, "  %-14s %d\n", "n_ff", c->n_ff);
		fprintf(f, "  %-14s %d\n", "n_rot", c->n_rot);
		fprintf(f, "  %-14s %s\n", "rope_type", c->rope_mode == 2 ? "neox" : "norm");
		fprintf(f, "  %-14s %g\n", "rope_freq_base", (double)c->rope_freq_base);
		fprintf(f, "  %-14s %g\n", "norm_eps", (double)c->norm_eps);
		fprintf(f, "  %-14s %s\n", "tied_output", c->tied_output ? "yes" : "no");
		if (c->file_type >= 0)
			fprintf(f, "  %-14s %d\n", "file_type", c->file_type);
	} else {
		fprintf(f, "hyperparameters (as stored, not validated):\n");
		for (uint64_t i = 0; i < g->n_kv; i++) {
			const struct nrv_gguf_kv *kv = &g->kv[i];
			if (!key_in_arch(kv, &arch))
				continue;
			fputs("  ", f);
			print_gstr(f, &kv->key, 64);
			fputs(" = ", f);
			print_scalar(f, kv);
			fputc('\n', f);
		}
	}

	fprintf(f, "tokenizer:\n");
	print_opt_str(f, g, "model", "tokenizer.ggml.model");
	print_opt_str(f, g, "pre", "tokenizer.ggml.pre");
	print_arr_count(f, g, "tokens", "tokenizer.ggml.tokens");
	print_arr_count(f, g, "merges", "tokenizer.ggml.merges");
	print_opt_u32(f, g, "bos_token_id", "tokenizer.ggml.bos_token_id");
	print_opt_u32(f, g, "eos_token_id", "tokenizer.ggml.eos_token_id");

	fprintf(f, "%-16s %llu\n", "metadata keys", (unsigned long long)g->n_kv);
	fprintf(f, "%-16s %llu\n", "tensors", (unsigned long long)g->n_tensors);
	nrv_fmt_count(h1, sizeof(h1), in->n_params);
	fprintf(f, "%-16s %llu (%s)\n", "parameters", (unsigned long long)in->n_params, h1);
	if (in->n_params)
		fprintf(f, "%-16s %.2f\n", "bits per weight",
			(double)in->n_bytes * 8.0 / (double)in->n_params);
	fprintf(f, "%-6s %8s %14s\n", "type", "tensors", "bytes");
	for (int t = 0; t < NRV_TYPE_COUNT; t++) {
		if (!in->type_tensors[t])
			continue;
		const char *tn = nrv_type_name(t);
		nrv_fmt_bytes(h2, sizeof(h2), in->type_bytes[t]);
		fprintf(f, "%-6s %8llu %14llu %12s\n", tn ? tn : "?",
			(unsigned long long)in->type_tensors[t],
			(unsigned long long)in->type_bytes[t], h2);
	}
	nrv_fmt_bytes(h2, sizeof(h2), in->n_bytes);
	fprintf(f, "%-6s %8llu %14llu %12s\n", "total", (unsigned long long)g->n_tensors,
		(unsigned long long)in->n_bytes, h2);
	if (in->valid)
		fprintf(f, "%-16s ok\n", "validation");
	else
		fprintf(f, "%-16s FAILED: %s\n", "validation", in->verr);
}

#if NRV_HAVE_CJSON
/* A float32 as the shortest decimal that reads back to it (1e-05, not
 * 9.99999974737875e-06). */
static double f32_decimal(float v)
{
	char b[32];
	snprintf(b, sizeof(b), "%.9g", (double)v);
	for (int p = 1; p < 9; p++) {
		snprintf(b, sizeof(b), "%.*g", p, (double)v);
		if (strtof(b, NULL) == v)
			break;
	}
	return strtod(b, NULL);
}

static cJSON *json_scalar(const struct nrv_gguf_kv *kv)
{
	switch (kv->type) {
	case NRV_GGUF_U8: case NRV_GGUF_U16: case NRV_GGUF_U32: case NRV_GGUF_U64:
		return cJSON_CreateNumber((double)kv->v.u);
	case NRV_GGUF_I8: case NRV_GGUF_I16: case NRV_GGUF_I32: case NRV_GGUF_I64:
		return cJSON_CreateNumber((double)kv->v.i);
	case NRV_GGUF_F32:
		/* JSON has no NaN or infinity: cJSON prints those as null. */
		return cJSON_CreateNumber(f32_decimal((float)kv->v.f));
	case NRV_GGUF_F64:
		return cJSON_CreateNumber(kv->v.f);
	case NRV_GGUF_BOOL:
		return cJSON_CreateBool(kv->v.b);
	case NRV_GGUF_STRING:
		return json_gstr(&kv->str);
	default:
		return NULL;
	}
}

/* Adds item under a key that may hold any bytes; frees item on failure. */
static void json_add(cJSON *obj, const struct nrv_gguf_str *key, cJSON *item)
{
	char *k = utf8_clean(key);
	if (!k || !item || !cJSON_AddItemToObject(obj, k, item))
		cJSON_Delete(item);
	free(k);
}

static void json_opt_u32(cJSON *o, const struct nrv_gguf *g, const char *name, const char *key)
{
	uint32_t v;
	if (nrv_gguf_get_u32(g, key, &v) == 0)
		cJSON_AddNumberToObject(o, name, v);
	else
		cJSON_AddNullToObject(o, name);
}

static void json_opt_str(cJSON *o, const struct nrv_gguf *g, const char *name, const char *key)
{
	struct nrv_gguf_str s;
	cJSON *j = nrv_gguf_get_str(g, key, &s) == 0 ? json_gstr(&s) : cJSON_CreateNull();
	if (!j || !cJSON_AddItemToObject(o, name, j))
		cJSON_Delete(j);
}

static void json_arr_count(cJSON *o, const struct nrv_gguf *g, const char *name, const char *key)
{
	const struct nrv_gguf_kv *kv;
	if (nrv_gguf_get_arr(g, key, -1, &kv) == 0)
		cJSON_AddNumberToObject(o, name, (double)kv->arr_n);
	else
		cJSON_AddNullToObject(o, name);
}

static cJSON *build_json(const struct info *in)
{
	const struct nrv_gguf *g = in->g;
	const struct nrv_model_config *c = &in->cfg;
	struct nrv_gguf_str arch = arch_of(g), name = name_of(in);
	char h[32];
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "file", in->path);
	cJSON_AddNumberToObject(o, "file_size", (double)g->file_size);
	cJSON_AddNumberToObject(o, "gguf_version", g->version);
	cJSON_AddNumberToObject(o, "alignment", g->alignment);
	cJSON_AddNumberToObject(o, "data_offset", (double)g->data_offset);
	cJSON_AddStringToObject(o, "weights_mode", nrv_weights_mode(in->w));
	if (in->digest[0])
		cJSON_AddStringToObject(o, "digest", in->digest);
	if (arch.len)
		json_add(o, &(struct nrv_gguf_str){ "architecture", 12 }, json_gstr(&arch));
	else
		cJSON_AddNullToObject(o, "architecture");
	json_add(o, &(struct nrv_gguf_str){ "name", 4 }, json_gstr(&name));
	cJSON_AddBoolToObject(o, "valid", in->valid);
	if (in->valid)
		cJSON_AddNullToObject(o, "error");
	else
		cJSON_AddStringToObject(o, "error", in->verr);

	if (in->valid) {
		cJSON *hp = cJSON_AddObjectToObject(o, "hyperparameters");
		cJSON_AddNumberToObject(hp, "n_vocab", c->n_vocab);
		cJSON_AddNumberToObject(hp, "n_ctx_train", c->n_ctx_train);
		cJSON_AddNumberToObject(hp, "n_embd", c->n_embd);
		cJSON_AddNumberToObject(hp, "n_layer", c->n_layer);
		cJSON_AddNumberToObject(hp, "n_head", c->n_head);
		cJSON_AddNumberToObject(hp, "n_head_kv", c->n_head_kv);
		cJSON_AddNumberToObject(hp, "head_dim", c->head_dim);
		cJSON_AddNumberToObject(hp, "n_ff", c->n_ff);
		cJSON_AddNumberToObject(hp, "n_rot", c->n_rot);
		cJSON_AddStringToObject(hp, "rope_type", c->rope_mode == 2 ? "neox" : "norm");
		cJSON_AddNumberToObject(hp, "rope_freq_base", f32_decimal(c->rope_freq_base));
		cJSON_AddNumberToObject(hp, "norm_eps", f32_decimal(c->norm_eps));
		cJSON_AddBoolToObject(hp, "tied_output", c->tied_output);
		if (c->file_type >= 0)
			cJSON_AddNumberToObject(hp, "file_type", c->file_type);
		else
			cJSON_AddNullToObject(hp, "file_type");
	} else {
		cJSON_AddNullToObject(o, "hyperparameters");
	}
	/* The architecture's keys as stored, valid or not, with the prefix. */
	cJSON *raw = cJSON_AddObjectToObject(o, "metadata");
	for (uint64_t i = 0; raw && i < g->n_kv; i++) {
		const struct nrv_gguf_kv *kv = &g->kv[i];
		if (key_in_arch(kv, &arch) && kv->type != NRV_GGUF_ARRAY)
			json_add(raw, &kv->key, json_scalar(kv));
	}

	cJSON *tok = cJSON_AddObjectToObject(o, "tokenizer");
	json_opt_str(tok, g, "model", "tokenizer.ggml.model");
	json_opt_str(tok, g, "pre", "tokenizer.ggml.pre");
	json_arr_count(tok, g, "tokens", "tokenizer.ggml.tokens");
	json_arr_count(tok, g, "merges", "tokenizer.ggml.merges");
	json_opt_u32(tok, g, "bos_token_id", "tokenizer.ggml.bos_token_id");
	json_opt_u32(tok, g, "eos_token_id", "tokenizer.ggml.eos_token_id");

	cJSON_AddNumberToObject(o, "metadata_keys", (double)g->n_kv);
	cJSON_AddNumberToObject(o, "tensors", (double)g->n_tensors);
	cJSON_AddNumberToObject(o, "parameters", (double)in->n_params);
	nrv_fmt_count(h, sizeof(h), in->n_params);
	cJSON_AddStringToObject(o, "parameters_human", h);
	cJSON_AddNumberToObject(o, "tensor_bytes", (double)in->n_bytes);
	cJSON *types = cJSON_AddArrayToObject(o, "types");
	for (int t = 0; types && t < NRV_TYPE_COUNT; t++) {
		if (!in->type_tensors[t])
			continue;
		cJSON *e = cJSON_CreateObject();
		const char *tn = nrv_type_name(t);
		cJSON_AddStringToObject(e, "type", tn ? tn : "?");
		cJSON_AddNumberToObject(e, "tensors", (double)in->type_tensors[t]);
		cJSON_AddNumberToObject(e, "bytes", (double)in->type_bytes[t]);
		if (!cJSON_AddItemToArray(types, e))
			cJSON_Delete(e);
	}
	return o;
}

#endif

int nrv_cmd_info(int argc, char **argv)
{
	const char *path = NULL;
	bool json = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "nirvana: info: %s needs a path\n", a);
				return 2;
			}
			if (path) {
				fprintf(stderr, "nirvana: info: only one model file can be given\n");
				return 2;
			}
			path = argv[++i];
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "nirvana: info: unknown option '%s'\n", a);
			usage(stderr);
			return 2;
		} else if (path) {
			fprintf(stderr, "nirvana: info: only one model file can be given ('%s' and '%s')\n",
				path, a);
			return 2;
		} else {
			path = a;
		}
	}
	if (!path) {
		fprintf(stderr, "nirvana: info: no model file given\n");
		usage(stderr);
		return 2;
	}

	struct info *in = calloc(1, sizeof(*in));
	if (!in) {
		fprintf(stderr, "nirvana: out of memory\n");
		return 1;
	}
	in->path = path;
	char err[512];
	int status = 1;
	/* info reads only the index: the file is mapped, never copied */
	struct nrv_weights_opts wo = { .mode = NRV_LOAD_MMAP };
	int rc = nrv_weights_open(path, &wo, &in->w, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "nirvana: %s\n", err);
		goto out;
	}
	size_t hlen;
	const void *hdr = nrv_weights_header(in->w, &hlen);
	rc = nrv_gguf_parse(hdr, hlen, nrv_weights_file_size(in->w), &in->g, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "nirvana: %s: %s\n", path,
			rc == -ENOMEM ? "out of memory while reading the GGUF index" : err);
		goto out;
	}
	gather(in);
	/* The digest reads the whole file once (the only part of info that
	 * touches the tensor data); cache keys and logs carry it. */
	if (nrv_weights_digest(in->w, in->digest))
		in->digest[0] = 0;
	if (json) {
#if NRV_HAVE_CJSON
		cJSON *o = build_json(in);
		char *s = o ? cJSON_Print(o) : NULL;
		cJSON_Delete(o);
		if (!s) {
			fprintf(stderr, "nirvana: out of memory while printing JSON\n");
			goto out;
		}
		puts(s);
		cJSON_free(s);
#else
		fprintf(stderr, "nirvana: info: --json is not available: this build has no cJSON "
				"(install libcjson-dev and reconfigure)\n");
		goto out;
#endif
	} else {
		print_text(stdout, in);
	}
	if (!in->valid)
		fprintf(stderr, "nirvana: %s: not a usable model: %s\n", path, in->verr);
	status = in->valid ? 0 : 1;
out:
	if (fflush(stdout) != 0 && status == 0) {
		fprintf(stderr, "nirvana: cannot write to stdout\n");
		status = 1;
	}
	nrv_gguf_free(in->g);
	nrv_weights_close(in->w);
	free(in);
	return status;
}
