/*
 * tests/chat/chat_render.c - test-only driver that exposes the chat
 * renderer to tests/py/test_chat.py, which compares it with llama.cpp.
 *
 *   chat_render detect TEMPLATE_FILE
 *       prints the family name.
 *   chat_render render TEMPLATE_FILE ADD_GENERATION_PROMPT(0|1) < MESSAGES
 *       MESSAGES is role NUL content NUL, repeated; prints the rendering.
 *
 * A TEMPLATE_FILE holds the Jinja source or a family name. Exit status:
 * 0, 1 on usage or I/O errors, 2 when the template is not recognised.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"

static char *slurp(FILE *f, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		n += fread(buf + n, 1, cap - n, f);
		if (n < cap)
			break;
		char *nb = realloc(buf, cap * 2);
		if (!nb) {
			free(buf);
			return NULL;
		}
		buf = nb;
		cap *= 2;
	}
	*len = n;
	return buf;
}

static int role_of(const char *s)
{
	for (int r = NRV_CHAT_SYSTEM; r <= NRV_CHAT_ASSISTANT; r++)
		if (strcmp(s, nrv_chat_role_name(r)) == 0)
			return r;
	return -1;
}

int main(int argc, char **argv)
{
	if (argc < 3 || (strcmp(argv[1], "detect") && strcmp(argv[1], "render")) ||
	    (strcmp(argv[1], "render") == 0 && argc < 4)) {
		fprintf(stderr, "usage: chat_render detect|render TEMPLATE_FILE [0|1] < messages\n");
		return 1;
	}
	FILE *f = fopen(argv[2], "rb");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	size_t tlen;
	char *tmpl = slurp(f, &tlen);
	fclose(f);
	if (!tmpl)
		return 1;
	struct nrv_chat_tmpl t;
	int rc = nrv_chat_tmpl_init(&t, tmpl, tlen);
	if (strcmp(argv[1], "detect") == 0) {
		printf("%s\n", nrv_chat_family_name(t.family));
		return 0;
	}
	if (rc) {
		fprintf(stderr, "chat template not recognised (family %s)\n",
			nrv_chat_family_name(t.family));
		return 2;
	}

	size_t in_len;
	char *in = slurp(stdin, &in_len);
	if (!in)
		return 1;
	int n = 0, cap = 16;
	struct nrv_chat_msg *msgs = malloc((size_t)cap * sizeof(*msgs));
	for (size_t off = 0; msgs && off < in_len;) {
		const char *role = in + off;
		const char *nul = memchr(role, '\0', in_len - off);
		if (!nul || nul + 1 >= in + in_len)
			break;
		const char *content = nul + 1;
		const char *end = memchr(content, '\0', (size_t)(in + in_len - content));
		if (!end)
			break;
		if (n == cap) {
			cap *= 2;
			msgs = realloc(msgs, (size_t)cap * sizeof(*msgs));
			if (!msgs)
				return 1;
		}
		msgs[n].role = role_of(role);
		msgs[n].content = content;
		msgs[n].len = (size_t)(end - content);
		n++;
		off = (size_t)(end - in) + 1;
	}
	if (!msgs)
		return 1;
	int need = nrv_chat_apply(&t, msgs, n, atoi(argv[3]) != 0, NULL, 0);
	if (need < 0) {
		fprintf(stderr, "render: %s\n", strerror(-need));
		return 1;
	}
	char *out = malloc((size_t)need + 1);
	if (!out || nrv_chat_apply(&t, msgs, n, atoi(argv[3]) != 0, out, (size_t)need + 1) != need)
		return 1;
	fwrite(out, 1, (size_t)need, stdout);
	free(out);
	free(msgs);
	free(in);
	free(tmpl);
	return 0;
}
