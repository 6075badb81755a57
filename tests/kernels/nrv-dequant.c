/*
 * tests/kernels/nrv-dequant.c - dequantize raw blocks with the reference
 * kernels, for tests/py/test_dequant.py to compare with the gguf package.
 *
 *   nrv-dequant TYPE IN OUT
 *
 * TYPE is a type name as llama.cpp prints it ("Q4_1") or its ggml id. IN
 * holds whole blocks of that type and nothing else; OUT receives the
 * elements as little-endian float32. Exit 0 on success, 1 on bad usage or
 * input, 2 on an I/O error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/kernels.h"

static int parse_type(const char *s)
{
	for (int t = 0; t < NRV_TYPE_COUNT; t++) {
		const char *name = nrv_type_name(t);
		if (name && strcmp(name, s) == 0)
			return t;
	}
	char *end;
	long v = strtol(s, &end, 10);
	if (*s && !*end && v >= 0 && v < NRV_TYPE_COUNT && nrv_type_name((int)v))
		return (int)v;
	return -1;
}

static int read_all(const char *path, unsigned char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	size_t cap = 1 << 16, n = 0;
	unsigned char *buf = malloc(cap);
	int err = 0;
	while (buf) {
		n += fread(buf + n, 1, cap - n, f);
		if (n < cap)
			break;
		unsigned char *nb = realloc(buf, cap * 2);
		if (!nb) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		cap *= 2;
	}
	if (!buf)
		err = -ENOMEM;
	else if (ferror(f))
		err = -EIO;
	fclose(f);
	if (err) {
		free(buf);
		return err;
	}
	*out = buf;
	*len = n;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s TYPE IN OUT\n", argv[0]);
		return 1;
	}
	int type = parse_type(argv[1]);
	int blck, size;
	nrv_type_geom(type, &blck, &size);
	if (type < 0 || !nrv_cpu_kernels_ref()->dequant[type]) {
		fprintf(stderr, "nrv-dequant: no dequantizer for type '%s'\n", argv[1]);
		return 1;
	}
	unsigned char *in = NULL;
	size_t len = 0;
	int err = read_all(argv[2], &in, &len);
	if (err) {
		fprintf(stderr, "nrv-dequant: %s: %s\n", argv[2], strerror(-err));
		return 2;
	}
	if (len % (size_t)size != 0 || len / (size_t)size * (size_t)blck > (size_t)1 << 30) {
		fprintf(stderr, "nrv-dequant: %s: %zu bytes is not a whole number of %s blocks (%d bytes)\n",
			argv[2], len, argv[1], size);
		free(in);
		return 1;
	}
	size_t n = len / (size_t)size * (size_t)blck;
	float *y = malloc(n ? n * sizeof(float) : 1);
	if (!y) {
		fprintf(stderr, "nrv-dequant: out of memory\n");
		free(in);
		return 2;
	}
	nrv_dequant_row_ref(type, in, y, (int)n);
	free(in);

	FILE *f = fopen(argv[3], "wb");
	int rc = 0;
	if (!f || fwrite(y, sizeof(float), n, f) != n) {
		fprintf(stderr, "nrv-dequant: %s: %s\n", argv[3], strerror(errno));
		rc = 2;
	}
	if (f && fclose(f) != 0 && rc == 0) {
		fprintf(stderr, "nrv-dequant: %s: %s\n", argv[3], strerror(errno));
		rc = 2;
	}
	free(y);
	return rc;
}
