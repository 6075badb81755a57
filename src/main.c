/*
 * src/main.c - `nirvana VERB ...`: dispatch to the verbs in cmd_*.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "config.h"
#include "log.h"

struct verb {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct verb verbs[] = {
	/* verbs are listed here as they land */
	{ "serve", nrv_cmd_serve, "an OpenAI-compatible HTTP server (nirvana serve -m MODEL)" },
	{ "run", nrv_cmd_run, "generate text from a prompt, or chat interactively" },
	{ "bench", nrv_cmd_bench, "prompt and generation throughput, as llama-bench prints it" },
	{ "info", nrv_cmd_info, "what a GGUF model file holds (--json for machines)" },
	{ "tokenize", nrv_cmd_tokenize, "text to token ids with a model's vocabulary" },
	{ "load", nrv_cmd_load, "serving benchmark against an OpenAI-compatible server" },
	{ NULL, NULL, NULL },
};

static void usage(FILE *f)
{
	fprintf(f, "nirvana %s - LLM inference appliance\n\n"
		   "usage: nirvana VERB [options]   (nirvana VERB --help for a verb's options)\n\n"
		   "verbs:\n", NRV_VERSION);
	for (size_t i = 0; verbs[i].name; i++)
		fprintf(f, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(f, "\nenvironment:\n"
		   "  NRV_LOG=debug|info|warn|error   log level on stderr (default warn)\n"
		   "  NRV_CPU=ref|avx2|avx512         force a CPU kernel path\n");
}

int main(int argc, char **argv)
{
	const char *lvl = getenv("NRV_LOG");
	if (lvl) {
		int l = nrv_log_parse_level(lvl);
		if (l < 0)
			fprintf(stderr, "nirvana: NRV_LOG='%s' is not one of debug, info, warn, error, off; ignored\n", lvl);
		else
			nrv_log_set_level((enum nrv_log_level)l);
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("nirvana %s\n", NRV_VERSION);
		return 0;
	}
	for (size_t i = 0; verbs[i].name; i++)
		if (!strcmp(argv[1], verbs[i].name))
			return verbs[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "nirvana: unknown verb '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
