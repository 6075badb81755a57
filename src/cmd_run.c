/*
 * src/cmd_run.c - `nirvana run`: generate text from a prompt, or chat.
 *
 * The generated text (never the prompt) streams to stdout as it is
 * produced; a token's bytes are held back until they complete a UTF-8
 * character. Timing statistics go to stderr when generation ends, labelled
 * as llama.cpp users read them.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chat.h"
#include "cmd.h"
#include "gguf.h"
#include "log.h"
#include "mem/weights.h"
#include "model.h"
#include "sampler.h"
#include "tokenizer.h"
#include "util.h"

struct run_opts {
	const char *model;
	const char *prompt;
	const char *prompt_file;
	const char *system;
	const char *chat_template;
	int n_predict;
	int n_ctx;
	int n_batch;
	int n_threads;
	int cores[256];
	int n_cores;
	bool chat;
	bool ignore_eos;
	bool special;      /* parse special-token syntax in the prompt */
	bool no_stats;
	int load_mode;
	const char *device;  /* --device: cpu, cuda[:N], auto */
	bool mlock;
	struct nrv_sampler_params sp;
};

static void run_usage(FILE *f)
{
	fprintf(f,
		"usage: nirvana run -m MODEL [-p PROMPT | -f FILE] [options]\n"
		"\n"
		"Generates text from PROMPT (or from FILE), streaming it to stdout. Without\n"
		"-p or -f it runs interactively: each line read from stdin is a user turn\n"
		"(with the model's chat template); end of input exits.\n"
		"\n"
		"options:\n"
		"  -m, --model FILE        GGUF model file (required)\n"
		"  -p, --prompt TEXT       prompt\n"
		"  -f, --file FILE         read the prompt from FILE\n"
		"  -n, --n-predict N       tokens to generate (default 256; -1 = until end of text or context)\n"
		"  -c, --ctx-size N        context length (default min(4096, trained))\n"
		"  -b, --batch-size N      prompt tokens per step (default 512)\n"
		"  -t, --threads N         worker threads (default: online CPUs)\n"
		"      --cores LIST        pin workers to these cores, e.g. 0,1 or 2-5\n"
		"      --device DEV        cpu (default), cuda, cuda:N, or auto (a GPU when one is visible)\n"
		"      --chat              apply the model's chat template to the prompt\n"
		"      --system TEXT       system message for --chat and interactive mode\n"
		"      --chat-template NAME  use this chat format instead of the model's (chatml, llama3, ...)\n"
		"      --special           parse special-token text (<|im_start|>) in the prompt\n"
		"      --ignore-eos        keep generating past end-of-text tokens\n"
		"      --temp T            temperature (default 0.8; 0 = greedy)\n"
		"      --top-k K           top-k (default 40; 0 = off)\n"
		"      --top-p P           top-p (default 0.95; 1 = off)\n"
		"      --min-p P           min-p (default 0.05; 0 = off)\n"
		"      --repeat-penalty R  repetition penalty (default 1.0 = off)\n"
		"      --repeat-last-n N   tokens the penalties look back over (default 64)\n"
		"      --frequency-penalty F, --presence-penalty P   OpenAI-style penalties (default 0)\n"
		"  -s, --seed S            RNG seed (default: random)\n"
		"      --load MODE         how weights are held: uring (default: io_uring reads into a\n"
		"                          huge-page arena), read (pread into the arena) or mmap (the\n"
		"                          file mapped in place)\n"
		"      --mlock             lock the weights in memory (needs `ulimit -l` or CAP_IPC_LOCK)\n"
		"      --no-stats          do not print timing statistics\n"
		"  -h, --help              this text\n");
}

enum {
	OPT_TEMP = 256, OPT_TOPK, OPT_TOPP, OPT_MINP, OPT_REP, OPT_REPN, OPT_FREQ, OPT_PRES,
	OPT_CHAT, OPT_SYSTEM, OPT_TMPL, OPT_SPECIAL, OPT_IGNORE_EOS, OPT_CORES, OPT_NOSTATS, OPT_LOAD,
	OPT_MLOCK, OPT_DEVICE,
};

static int parse_run_opts(int argc, char **argv, struct run_opts *o)
{
	static const struct option lo[] = {
		{ "model", required_argument, 0, 'm' },
		{ "prompt", required_argument, 0, 'p' },
		{ "file", required_argument, 0, 'f' },
		{ "n-predict", required_argument, 0, 'n' },
		{ "ctx-size", required_argument, 0, 'c' },
		{ "batch-size", required_argument, 0, 'b' },
		{ "threads", required_argument, 0, 't' },
		{ "seed", required_argument, 0, 's' },
		{ "temp", required_argument, 0, OPT_TEMP },
		{ "top-k", required_argument, 0, OPT_TOPK },
		{ "top-p", required_argument, 0, OPT_TOPP },
		{ "min-p", required_argument, 0, OPT_MINP },
		{ "repeat-penalty", required_argument, 0, OPT_REP },
		{ "repeat-last-n", required_argument, 0, OPT_REPN },
		{ "frequency-penalty", required_argument, 0, OPT_FREQ },
		{ "presence-penalty", required_argument, 0, OPT_PRES },
		{ "chat", no_argument, 0, OPT_CHAT },
		{ "system", required_argument, 0, OPT_SYSTEM },
		{ "chat-template", required_argument, 0, OPT_TMPL },
		{ "special", no_argument, 0, OPT_SPECIAL },
		{ "ignore-eos", no_argument, 0, OPT_IGNORE_EOS },
		{ "cores", required_argument, 0, OPT_CORES },
		{ "no-stats", no_argument, 0, OPT_NOSTATS },
		{ "load", required_argument, 0, OPT_LOAD },
		{ "device", required_argument, 0, OPT_DEVICE },
		{ "mlock", no_argument, 0, OPT_MLOCK },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	o->n_predict = 256;
	o->n_threads = nrv_online_cpus();
	o->load_mode = NRV_LOAD_DEFAULT;
	o->sp = nrv_sampler_defaults();
	o->sp.seed = nrv_random_seed();
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "m:p:f:n:c:b:t:s:h", lo, NULL)) != -1) {
		const char *name = NULL;
		int bad = 0;
		switch (ch) {
		case 'm': o->model = optarg; break;
		case 'p': o->prompt = optarg; break;
		case 'f': o->prompt_file = optarg; break;
		case 'n': bad = nrv_parse_int(optarg, -1, 1 << 30, &o->n_predict); name = "-n"; break;
		case 'c': bad = nrv_parse_int(optarg, 1, 1 << 24, &o->n_ctx); name = "-c"; break;
		case 'b': bad = nrv_parse_int(optarg, 1, 1 << 16, &o->n_batch); name = "-b"; break;
		case 't': bad = nrv_parse_int(optarg, 1, 1024, &o->n_threads); name = "-t"; break;
		case 's': bad = nrv_parse_u64(optarg, &o->sp.seed); name = "--seed"; break;
		case OPT_TEMP: bad = nrv_parse_float(optarg, 0, 100, &o->sp.temperature); name = "--temp"; break;
		case OPT_TOPK: bad = nrv_parse_int(optarg, 0, 1 << 24, &o->sp.top_k); name = "--top-k"; break;
		case OPT_TOPP: bad = nrv_parse_float(optarg, 0, 1, &o->sp.top_p); name = "--top-p"; break;
		case OPT_MINP: bad = nrv_parse_float(optarg, 0, 1, &o->sp.min_p); name = "--min-p"; break;
		case OPT_REP: bad = nrv_parse_float(optarg, 0, 100, &o->sp.repeat_penalty); name = "--repeat-penalty"; break;
		case OPT_REPN: bad = nrv_parse_int(optarg, 0, 1 << 20, &o->sp.penalty_last_n); name = "--repeat-last-n"; break;
		case OPT_FREQ: bad = nrv_parse_float(optarg, -2, 2, &o->sp.frequency_penalty); name = "--frequency-penalty"; break;
		case OPT_PRES: bad = nrv_parse_float(optarg, -2, 2, &o->sp.presence_penalty); name = "--presence-penalty"; break;
		case OPT_CHAT: o->chat = true; break;
		case OPT_SYSTEM: o->system = optarg; break;
		case OPT_TMPL: o->chat_template = optarg; break;
		case OPT_SPECIAL: o->special = true; break;
		case OPT_IGNORE_EOS: o->ignore_eos = true; break;
		case OPT_NOSTATS: o->no_stats = true; break;
		case OPT_MLOCK: o->mlock = true; break;
		case OPT_DEVICE: o->device = optarg; break;
		case OPT_LOAD:
			o->load_mode = nrv_load_mode_parse(optarg);
			bad = o->load_mode < 0;
			name = "--load";
			break;
		case OPT_CORES:
			o->n_cores = nrv_parse_cpu_list(optarg, o->cores, 256);
			bad = o->n_cores <= 0;
			name = "--cores";
			break;
		case 'h': run_usage(stdout); return 1;
		default: run_usage(stderr); return 2;
		}
		if (bad) {
			fprintf(stderr, "nirvana run: invalid value '%s' for %s\n", optarg, name);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "nirvana run: unexpected argument '%s' (quote the prompt and pass it with -p)\n",
			argv[optind]);
		return 2;
	}
	if (!o->model) {
		fprintf(stderr, "nirvana run: no model given: use -m FILE.gguf\n");
		return 2;
	}
	if (o->prompt && o->prompt_file) {
		fprintf(stderr, "nirvana run: give either -p or -f, not both\n");
		return 2;
	}
	return 0;
}

/* ---- output with UTF-8 hold-back ---- */

struct out_stream {
	char buf[64];
	size_t n;
};

static void out_flush_complete(struct out_stream *s, bool all)
{
	size_t keep = all ? 0 : nrv_utf8_incomplete_tail(s->buf, s->n);
	size_t emit = s->n - keep;
	if (emit) {
		fwrite(s->buf, 1, emit, stdout);
		fflush(stdout);
		memmove(s->buf, s->buf + emit, keep);
		s->n = keep;
	}
}

static void out_piece(struct out_stream *s, const char *p, size_t len)
{
	while (len) {
		size_t room = sizeof(s->buf) - s->n;
		size_t take = len < room ? len : room;
		memcpy(s->buf + s->n, p, take);
		s->n += take;
		p += take;
		len -= take;
		/* a full buffer cannot be an incomplete character: emit it */
		out_flush_complete(s, s->n == sizeof(s->buf));
	}
}

/* ---- generation ---- */

struct stats {
	int n_prompt;
	int n_gen;
	double t_prefill;  /* seconds */
	double t_decode;   /* seconds, from the first generated token on */
	double t_first;    /* seconds to the first generated token */
};

struct session {
	struct nrv_model *m;
	struct nrv_ctx *ctx;
	struct nrv_sampler smp;
	int32_t *hist;   /* tokens in the KV cache, (n_ctx) */
	int n_hist;
	int32_t *buf;    /* prompt tokens, (n_ctx) */
	struct stats st;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Bring the KV cache to hold `toks` (reusing the common prefix with what
 * it holds), then generate up to n_predict tokens, streaming them.
 * Returns 0 or -errno with a message printed. */
static int generate(struct session *s, const struct run_opts *o, const int32_t *toks, int n,
		    char *reply, size_t reply_cap)
{
	int n_ctx = nrv_ctx_n_ctx(s->ctx);
	if (n >= n_ctx) {
		fprintf(stderr, "nirvana run: the prompt is %d tokens, which does not fit the %d-token context "
				"(raise -c up to %d, or shorten the prompt)\n",
			n, n_ctx, s->m->cfg.n_ctx_train);
		return -ENOSPC;
	}
	int common = 0;
	while (common < s->n_hist && common < n && s->hist[common] == toks[common])
		common++;
	if (common == n)
		common--; /* re-run the last token to get fresh logits */
	double t0 = now();
	int rc = nrv_ctx_eval(s->ctx, toks + common, n - common, common);
	if (rc) {
		fprintf(stderr, "nirvana run: evaluation failed: %s\n", strerror(-rc));
		return rc;
	}
	memcpy(s->hist, toks, (size_t)n * sizeof(*toks));
	s->n_hist = n;
	for (int i = 0; i < n; i++)
		nrv_sampler_accept(&s->smp, toks[i]);
	double t1 = now();
	s->st.n_prompt += n - common;
	s->st.t_prefill += t1 - t0;

	struct out_stream out = { .n = 0 };
	size_t reply_n = 0;
	int limit = o->n_predict < 0 ? n_ctx - n : o->n_predict;
	double tf = 0;
	for (int g = 0; g < limit; g++) {
		int32_t tok = nrv_sampler_sample(&s->smp, nrv_ctx_logits(s->ctx, -1));
		if (g == 0) {
			tf = now();
			s->st.t_first += tf - t0;
		}
		if (!o->ignore_eos && nrv_tok_is_eog(s->m->tok, tok))
			break;
		s->st.n_gen++;
		char piece[256];
		int pl = nrv_tok_piece(s->m->tok, tok, false, piece, sizeof(piece));
		if (pl > (int)sizeof(piece))
			pl = sizeof(piece);
		if (pl > 0) {
			out_piece(&out, piece, (size_t)pl);
			if (reply && reply_n + (size_t)pl < reply_cap) {
				memcpy(reply + reply_n, piece, (size_t)pl);
				reply_n += (size_t)pl;
			}
		}
		nrv_sampler_accept(&s->smp, tok);
		if (s->n_hist >= n_ctx)
			break; /* context full */
		s->hist[s->n_hist] = tok;
		if ((rc = nrv_ctx_eval(s->ctx, &tok, 1, s->n_hist))) {
			fprintf(stderr, "\nnirvana run: evaluation failed: %s\n", strerror(-rc));
			return rc;
		}
		s->n_hist++;
	}
	out_flush_complete(&out, true);
	if (reply)
		reply[reply_n < reply_cap ? reply_n : reply_cap - 1] = 0;
	if (tf > 0)
		s->st.t_decode += now() - tf;
	return 0;
}

static int tokenize_all(struct session *s, const char *text, size_t len, bool add_special,
			bool parse_special, int *n)
{
	int n_ctx = nrv_ctx_n_ctx(s->ctx);
	int got = nrv_tok_encode(s->m->tok, text, len, add_special, parse_special, s->buf, n_ctx);
	if (got < 0) {
		fprintf(stderr, "nirvana run: cannot tokenize the prompt: %s\n", strerror(-got));
		return got;
	}
	if (got > n_ctx) {
		fprintf(stderr, "nirvana run: the prompt is %d tokens, which does not fit the %d-token context "
				"(raise -c up to %d, or shorten the prompt)\n",
			got, n_ctx, s->m->cfg.n_ctx_train);
		return -ENOSPC;
	}
	*n = got;
	return 0;
}

static void print_stats(const struct stats *st)
{
	double pf = st->t_prefill > 0 ? st->n_prompt / st->t_prefill : 0;
	/* the first generated token comes from the prefill's logits, so decode
	 * speed counts the tokens after it */
	int dec = st->n_gen > 1 ? st->n_gen - 1 : 0;
	double dc = st->t_decode > 0 ? dec / st->t_decode : 0;
	fprintf(stderr,
		"\n"
		"prompt:  %6d tokens   prefill %8.2f tok/s  (%.1f ms)\n"
		"output:  %6d tokens   decode  %8.2f tok/s  (%.1f ms)\n"
		"time to first token: %.1f ms   peak memory: %.1f MiB\n",
		st->n_prompt, pf, st->t_prefill * 1e3, st->n_gen, dc, st->t_decode * 1e3,
		st->t_first * 1e3, nrv_peak_rss_bytes() / (1024.0 * 1024.0));
}

/* How the weights were loaded: mode, backing, lock, time and rate. */
static void print_weights(struct nrv_model *m)
{
	struct nrv_weights_stats ws;
	nrv_weights_stats(m->file, &ws);
	char dg[NRV_DIGEST_HEX] = "?";
	nrv_weights_digest(m->file, dg);
	fprintf(stderr, "weights: %s, %s pages, %.1f MiB", ws.mode, ws.backing,
		ws.data_bytes / (1024.0 * 1024.0));
	if (ws.arena_bytes)
		fprintf(stderr, " (%.1f MiB in huge pages)", ws.huge_bytes / (1024.0 * 1024.0));
	if (ws.locked_bytes)
		fprintf(stderr, ", locked");
	if (ws.load_s > 0)
		fprintf(stderr, ", loaded in %.1f ms (%.2f GB/s)", ws.load_s * 1e3,
			ws.data_bytes / ws.load_s * 1e-9);
	fprintf(stderr, "\nmodel digest: xxh3-128:%s\n", dg);
}

/* The model's chat format (or the one named by --chat-template); -1 with
 * a message when there is none nirvana can render. */
static int chat_tmpl(const struct nrv_model *m, const char *override, struct nrv_chat_tmpl *t)
{
	struct nrv_gguf_str src = { 0 };
	if (override) {
		src.p = override;
		src.len = strlen(override);
	} else if (nrv_gguf_get_str(m->gguf, "tokenizer.chat_template", &src) != 0) {
		fprintf(stderr, "nirvana run: the model has no chat template (tokenizer.chat_template); "
				"name one with --chat-template, or run with -p and no --chat\n");
		return -1;
	}
	if (nrv_chat_tmpl_init(t, src.p, (size_t)src.len) == 0)
		return 0;
	char known[512] = "";
	for (int f = 1; f < NRV_CHAT_FAMILY_COUNT; f++) {
		size_t l = strlen(known);
		snprintf(known + l, sizeof(known) - l, "%s%s", f > 1 ? ", " : "", nrv_chat_family_name(f));
	}
	if (override)
		fprintf(stderr, "nirvana run: unknown chat template '%s' (known: %s)\n", override, known);
	else
		fprintf(stderr, "nirvana run: the model's chat template is not one nirvana recognises; "
				"name its format with --chat-template (one of: %s), or run with -p and no --chat\n",
			known);
	return -1;
}

static int render_chat(const struct nrv_chat_tmpl *t, const struct nrv_chat_msg *msgs, int n_msgs,
		       char **text, size_t *len)
{
	int need = nrv_chat_apply(t, msgs, n_msgs, true, NULL, 0);
	if (need < 0)
		return need;
	char *b = realloc(*text, (size_t)need + 1);
	if (!b)
		return -ENOMEM;
	*text = b;
	nrv_chat_apply(t, msgs, n_msgs, true, b, (size_t)need + 1);
	*len = (size_t)need;
	return 0;
}

static struct nrv_chat_msg msg(int role, const char *text)
{
	return (struct nrv_chat_msg){ .role = role, .content = text, .len = strlen(text) };
}

static int interactive(struct session *s, const struct run_opts *o)
{
	struct nrv_chat_tmpl tmpl;
	if (chat_tmpl(s->m, o->chat_template, &tmpl))
		return 1;
	bool tty = isatty(STDIN_FILENO);
	enum { MAX_MSGS = 512 };
	struct nrv_chat_msg msgs[MAX_MSGS];
	char *owned[MAX_MSGS];
	int n_msgs = 0, n_owned = 0, status = 0;
	if (o->system)
		msgs[n_msgs++] = msg(NRV_CHAT_SYSTEM, o->system);
	char *line = NULL, *text = NULL;
	size_t cap = 0;
	if (tty)
		fprintf(stderr, "nirvana: chatting with %s; end input (Ctrl-D) to quit\n", s->m->cfg.name);
	for (;;) {
		if (tty)
			fprintf(stderr, "\n> ");
		ssize_t got = getline(&line, &cap, stdin);
		if (got < 0)
			break;
		while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
			line[--got] = 0;
		if (got == 0)
			continue;
		if (n_msgs + 2 > MAX_MSGS) {
			fprintf(stderr, "nirvana run: conversation too long; start a new one\n");
			break;
		}
		owned[n_owned] = strdup(line);
		msgs[n_msgs++] = msg(NRV_CHAT_USER, owned[n_owned++]);
		size_t len;
		int n;
		if (render_chat(&tmpl, msgs, n_msgs, &text, &len) ||
		    tokenize_all(s, text, len, false, true, &n)) {
			status = 1;
			break;
		}
		char *reply = malloc(1 << 16);
		if (!reply || generate(s, o, s->buf, n, reply, 1 << 16)) {
			free(reply);
			status = 1;
			break;
		}
		fputc('\n', stdout);
		fflush(stdout);
		owned[n_owned] = reply;
		msgs[n_msgs++] = msg(NRV_CHAT_ASSISTANT, owned[n_owned++]);
	}
	for (int i = 0; i < n_owned; i++)
		free(owned[i]);
	free(line);
	free(text);
	return status;
}

int nrv_cmd_run(int argc, char **argv)
{
	struct run_opts o = { 0 };
	int rc = parse_run_opts(argc, argv, &o);
	if (rc)
		return rc == 1 ? 0 : 2;

	char *file_prompt = NULL;
	size_t file_len = 0;
	if (o.prompt_file) {
		char err[512];
		if (nrv_read_file(o.prompt_file, 64 << 20, &file_prompt, &file_len, err, sizeof(err))) {
			fprintf(stderr, "nirvana run: %s\n", err);
			return 1;
		}
	}
	char err[1024];
	struct session s = { 0 };
	struct nrv_weights_opts wo = { .mode = o.load_mode, .lock = o.mlock };
	if ((rc = nrv_model_load_opts(o.model, &wo, &s.m, err, sizeof(err)))) {
		fprintf(stderr, "nirvana: %s\n", err);
		free(file_prompt);
		return 1;
	}
	struct nrv_ctx_params cp = {
		.n_ctx = o.n_ctx, .n_batch = o.n_batch, .n_threads = o.n_threads,
		.cores = o.n_cores ? o.cores : NULL, .n_cores = o.n_cores, .device = o.device,
	};
	int status = 1;
	if ((rc = nrv_ctx_create(s.m, &cp, &s.ctx, err, sizeof(err)))) {
		fprintf(stderr, "nirvana: %s\n", err);
		goto out;
	}
	if ((rc = nrv_sampler_init(&s.smp, &o.sp, s.m->cfg.n_vocab))) {
		fprintf(stderr, "nirvana run: invalid sampling parameters\n");
		goto out;
	}
	int n_ctx = nrv_ctx_n_ctx(s.ctx);
	s.hist = malloc((size_t)n_ctx * sizeof(int32_t));
	s.buf = malloc((size_t)n_ctx * sizeof(int32_t));
	if (!s.hist || !s.buf) {
		fprintf(stderr, "nirvana run: out of memory\n");
		goto out;
	}
	const char *text = o.prompt ? o.prompt : file_prompt;
	size_t len = o.prompt ? strlen(o.prompt) : file_len;
	if (!text) {
		status = interactive(&s, &o);
	} else {
		int n;
		char *rendered = NULL;
		if (o.chat) {
			struct nrv_chat_tmpl tmpl;
			if (chat_tmpl(s.m, o.chat_template, &tmpl))
				goto out;
			struct nrv_chat_msg msgs[2];
			int nm = 0;
			if (o.system)
				msgs[nm++] = msg(NRV_CHAT_SYSTEM, o.system);
			msgs[nm++] = (struct nrv_chat_msg){ .role = NRV_CHAT_USER, .content = text, .len = len };
			rc = render_chat(&tmpl, msgs, nm, &rendered, &len);
			if (rc) {
				fprintf(stderr, "nirvana run: cannot apply the chat template: %s\n", strerror(-rc));
				goto out;
			}
			text = rendered;
		}
		rc = tokenize_all(&s, text, len, !o.chat, o.chat || o.special, &n);
		free(rendered);
		if (rc)
			goto out;
		if (n == 0) {
			fprintf(stderr, "nirvana run: the prompt is empty\n");
			goto out;
		}
		if (generate(&s, &o, s.buf, n, NULL, 0))
			goto out;
		fputc('\n', stdout);
		status = 0;
	}
	if (!o.no_stats && status == 0 && s.st.n_prompt > 0) {
		print_stats(&s.st);
		print_weights(s.m);
	}
out:
	fflush(stdout);
	free(s.hist);
	free(s.buf);
	nrv_sampler_fini(&s.smp);
	nrv_ctx_destroy(s.ctx);
	nrv_model_free(s.m);
	free(file_prompt);
	return status;
}
