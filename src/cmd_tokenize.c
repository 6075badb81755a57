/*
 * src/cmd_tokenize.c - `nirvana tokenize`: text to token ids with a model's
 * vocabulary. Parses the GGUF and builds only the tokenizer; the weights
 * are mapped (to read the index) but never touched.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "gguf.h"
#include "mem/weights.h"
#include "tokenizer.h"
#include "unicode.h"

#define MAX_INPUT ((size_t)256 << 20)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nirvana tokenize -m MODEL [options] TEXT\n"
		"       nirvana tokenize -m MODEL [options] -f FILE | --stdin\n"
		"       nirvana tokenize -m MODEL [options] --batch FILE\n\n"
		"Print the token ids of TEXT, separated by spaces, on one line.\n\n"
		"options:\n"
		"  -m, --model FILE  GGUF model whose vocabulary to use\n"
		"  -f, --file FILE   read the text from FILE (bytes as they are)\n"
		"      --stdin       read the text from standard input\n"
		"      --pieces      print one \"ID 'PIECE'\" per line instead; bytes that\n"
		"                    are not printable UTF-8 are shown as \\xHH\n"
		"      --special     parse special-token text such as <|im_start|> into\n"
		"                    its id (otherwise it is tokenized as plain text)\n"
		"      --no-bos      do not add the BOS/EOS tokens the model asks for\n"
		"      --batch FILE  tokenize many texts in one run ('-' = stdin): FILE\n"
		"                    holds records of a 4-byte little-endian length and\n"
		"                    that many bytes; one line of ids is printed per\n"
		"                    record (an empty line for no tokens)\n"
		"  -h, --help        this help\n");
}

static int read_stream(FILE *f, char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (n == cap) {
			if (cap >= MAX_INPUT) {
				free(buf);
				return -EFBIG;
			}
			cap *= 2;
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				free(buf);
				return -EIO;
			}
			break;
		}
	}
	*out = buf;
	*len = n;
	return 0;
}

static int read_path(const char *path, char **out, size_t *len)
{
	if (!strcmp(path, "-"))
		return read_stream(stdin, out, len);
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	int rc = read_stream(f, out, len);
	fclose(f);
	return rc;
}

/* A piece, quoted: printable UTF-8 as is, the rest escaped. */
static void print_piece(const char *p, size_t n)
{
	putchar('\'');
	for (size_t i = 0; i < n;) {
		uint8_t c = (uint8_t)p[i];
		size_t used;
		if (c == '\'' || c == '\\') {
			printf("\\%c", c);
			i++;
		} else if (c == '\n') {
			fputs("\\n", stdout);
			i++;
		} else if (c == '\t') {
			fputs("\\t", stdout);
			i++;
		} else if (c == '\r') {
			fputs("\\r", stdout);
			i++;
		} else if (c >= 0x20 && c < 0x7F) {
			putchar(c);
			i++;
		} else if (c >= 0x80 && nrv_utf8_decode((const uint8_t *)p + i, n - i, &used) != NRV_UCD_REPLACEMENT &&
			   used > 1) {
			fwrite(p + i, 1, used, stdout);
			i += used;
		} else {
			printf("\\x%02x", c);
			i++;
		}
	}
	putchar('\'');
}

/* Tokenize and print one text. Returns 0 or -errno. */
static int run_one(const struct nrv_tok *t, const char *text, size_t len, bool add_special,
		   bool parse_special, bool pieces, int32_t **ids, int *cap)
{
	int n = nrv_tok_encode(t, text, len, add_special, parse_special, *ids, *cap);
	if (n > *cap) {
		int32_t *ni = realloc(*ids, (size_t)n * sizeof(int32_t));
		if (!ni)
			return -ENOMEM;
		*ids = ni;
		*cap = n;
		n = nrv_tok_encode(t, text, len, add_special, parse_special, *ids, *cap);
	}
	if (n < 0)
		return n;
	if (!pieces) {
		for (int i = 0; i < n; i++)
			printf(i ? " %d" : "%d", (*ids)[i]);
		putchar('\n');
		return 0;
	}
	char buf[512];
	for (int i = 0; i < n; i++) {
		int pl = nrv_tok_piece(t, (*ids)[i], true, buf, sizeof(buf));
		if (pl < 0)
			return pl;
		printf("%d ", (*ids)[i]);
		if ((size_t)pl <= sizeof(buf)) {
			print_piece(buf, (size_t)pl);
		} else {
			char *big = malloc((size_t)pl);
			if (!big)
				return -ENOMEM;
			nrv_tok_piece(t, (*ids)[i], true, big, (size_t)pl);
			print_piece(big, (size_t)pl);
			free(big);
		}
		putchar('\n');
	}
	return 0;
}

static int run_batch(const struct nrv_tok *t, const char *data, size_t len, bool add_special,
		     bool parse_special, bool pieces, int32_t **ids, int *cap)
{
	size_t off = 0;
	while (off < len) {
		if (len - off < 4) {
			fprintf(stderr, "nirvana: --batch input ends inside a record header at byte %zu\n", off);
			return -EINVAL;
		}
		const uint8_t *h = (const uint8_t *)data + off;
		size_t n = (size_t)h[0] | (size_t)h[1] << 8 | (size_t)h[2] << 16 | (size_t)h[3] << 24;
		off += 4;
		if (n > len - off) {
			fprintf(stderr, "nirvana: --batch record at byte %zu claims %zu bytes, only %zu remain\n",
				off - 4, n, len - off);
			return -EINVAL;
		}
		int rc = run_one(t, data + off, n, add_special, parse_special, pieces, ids, cap);
		if (rc)
			return rc;
		off += n;
	}
	return 0;
}

int nrv_cmd_tokenize(int argc, char **argv)
{
	enum { OPT_STDIN = 256, OPT_PIECES, OPT_SPECIAL, OPT_NO_BOS, OPT_BATCH };
	static const struct option opts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "file", required_argument, NULL, 'f' },
		{ "stdin", no_argument, NULL, OPT_STDIN },
		{ "pieces", no_argument, NULL, OPT_PIECES },
		{ "special", no_argument, NULL, OPT_SPECIAL },
		{ "no-bos", no_argument, NULL, OPT_NO_BOS },
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *model = NULL, *file = NULL, *batch = NULL;
	bool from_stdin = false, pieces = false, special = false, add_special = true;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "m:f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case 'f': file = optarg; break;
		case OPT_STDIN: from_stdin = true; break;
		case OPT_PIECES: pieces = true; break;
		case OPT_SPECIAL: special = true; break;
		case OPT_NO_BOS: add_special = false; break;
		case OPT_BATCH: batch = optarg; break;
		case 'h': usage(stdout); return 0;
		default:
			fprintf(stderr, "nirvana: tokenize: unknown option or missing value: '%s' (see --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	int n_src = (file != NULL) + from_stdin + (batch != NULL) + (optind < argc);
	if (!model) {
		fprintf(stderr, "nirvana: tokenize: -m MODEL is required (see --help)\n");
		return 2;
	}
	if (n_src != 1 || argc - optind > 1) {
		fprintf(stderr, "nirvana: tokenize: give exactly one of TEXT, -f FILE, --stdin, --batch FILE\n");
		return 2;
	}

	char err[256] = "";
	struct nrv_weights *w = NULL;
	struct nrv_gguf *g = NULL;
	struct nrv_tok *t = NULL;
	char *text = NULL;
	size_t len = 0;
	int32_t *ids = NULL;
	int cap = 0, status = 1, rc;

	rc = nrv_weights_open(model, NULL, &w, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "nirvana: %s\n", err[0] ? err : strerror(-rc));
		goto out;
	}
	size_t hlen;
	const void *hdr = nrv_weights_header(w, &hlen);
	rc = nrv_gguf_parse(hdr, hlen, nrv_weights_file_size(w), &g, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "nirvana: %s: %s\n", model, err[0] ? err : strerror(-rc));
		goto out;
	}
	rc = nrv_tok_create(g, &t, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "nirvana: %s: %s\n", model, err[0] ? err : strerror(-rc));
		goto out;
	}

	if (file || batch || from_stdin) {
		const char *src = file ? file : batch ? batch : "-";
		rc = read_path(src, &text, &len);
		if (rc) {
			fprintf(stderr, "nirvana: cannot read %s: %s\n", !strcmp(src, "-") ? "standard input" : src,
				rc == -EFBIG ? "larger than 256 MiB" : strerror(-rc));
			goto out;
		}
	}
	if (batch) {
		rc = run_batch(t, text, len, add_special, special, pieces, &ids, &cap);
	} else if (text) {
		rc = run_one(t, text, len, add_special, special, pieces, &ids, &cap);
	} else {
		const char *arg = argv[optind];
		rc = run_one(t, arg, strlen(arg), add_special, special, pieces, &ids, &cap);
	}
	if (rc) {
		if (rc != -EINVAL || !batch)
			fprintf(stderr, "nirvana: tokenize failed: %s\n",
				rc == -E2BIG ? "text larger than the tokenizer accepts" : strerror(-rc));
		goto out;
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "nirvana: writing the output failed: %s\n", strerror(errno));
		goto out;
	}
	status = 0;
out:
	free(ids);
	free(text);
	nrv_tok_destroy(t);
	nrv_gguf_free(g);
	nrv_weights_close(w);
	return status;
}
