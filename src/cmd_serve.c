/*
 * src/cmd_serve.c - `nirvana serve`: the OpenAI-compatible server.
 *
 * Start-up is linear and every step reports its own error: configuration
 * (file, then flags over it), model, engine (its own pinned threads), API
 * table, HTTP listener. The HTTP loop then runs on this thread until
 * SIGINT or SIGTERM; it never runs model code (see api.h).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "cmd.h"
#include "conf.h"
#include "engine.h"
#include "log.h"
#include "mem/weights.h"
#include "model.h"
#include "net/uring/http.h"
#include "util.h"

static void serve_usage(FILE *f)
{
	fprintf(f,
		"usage: nirvana serve -m MODEL [options]\n"
		"\n"
		"Serves MODEL over an OpenAI-compatible HTTP API (/v1/completions,\n"
		"/v1/chat/completions, /v1/models, /tokenize, /detokenize, /health, /metrics).\n"
		"Flags override the --config file; every key is in docs/operator-guide.md.\n"
		"\n"
		"options:\n"
		"  -m, --model FILE        GGUF model file (or models[0].path in the config)\n"
		"      --alias NAME        the model's id in the API (default: file name without .gguf);\n"
		"                          repeat to add names the API also accepts\n"
		"      --config FILE       JSON configuration (groups listen, models, engine, limits, metrics)\n"
		"      --host ADDR         listen address (default 127.0.0.1; 0.0.0.0 for every interface)\n"
		"      --port N            listen port (default 8080; 0 = any free port)\n"
		"      --api-key KEY       require 'Authorization: Bearer KEY' on /v1 routes\n"
		"  -t, --threads N         engine compute threads (default: online CPUs)\n"
		"      --cores LIST        pin the engine to these cores, e.g. 0,1 or 2-5\n"
		"  -c, --ctx-size N        positions per sequence (default min(4096, trained))\n"
		"      --kv-blocks N       KV cache blocks (default: sized for the running sequences)\n"
		"      --step-tokens N     tokens per engine step, decode + prefill chunks (default 512)\n"
		"      --max-running N     sequences in the batch at once (default 64)\n"
		"      --queue N           requests waiting for a place; past it 503 (default 1000)\n"
		"      --timeout-ms N      per-request limit (default 30000; -1 none)\n"
		"      --max-tokens N      largest max_tokens a request may ask, and the default (4096)\n"
		"      --max-connections N open connections at once (default 4096)\n"
		"      --chat-template NAME  chat format instead of the model's (chatml, llama3, ...)\n"
		"      --load MODE         how weights are held: uring (default), read or mmap\n"
		"      --no-mlock          do not lock the weights in memory (locked by default; a refused\n"
		"                          lock is a warning: raise `ulimit -l` or grant CAP_IPC_LOCK)\n"
		"      --no-metrics        answer 404 on /metrics\n"
		"  -h, --help              this text\n");
}

/* Flags, -1 / NULL when not given, applied over the config file. */
struct serve_opts {
	const char *model, *config, *host, *api_key, *chat_template;
	const char *aliases[NRV_CONF_MAX_ALIASES];
	int n_aliases;
	int port, threads, ctx, kv_blocks, step_tokens, max_running, queue, timeout_ms, max_tokens,
		max_connections, load_mode;
	int cores[NRV_CONF_MAX_CORES];
	int n_cores;
	bool no_metrics;
	bool mlock;
};

enum {
	OPT_ALIAS = 256, OPT_CONFIG, OPT_HOST, OPT_PORT, OPT_KEY, OPT_CORES, OPT_KV, OPT_STEP,
	OPT_RUNNING, OPT_QUEUE, OPT_TIMEOUT, OPT_MAXTOK, OPT_MAXCONN, OPT_TMPL, OPT_LOAD, OPT_NOMETRICS, OPT_MLOCK, OPT_NOMLOCK,
};

static int parse_opts(int argc, char **argv, struct serve_opts *o)
{
	static const struct option lo[] = {
		{ "model", required_argument, 0, 'm' },
		{ "threads", required_argument, 0, 't' },
		{ "ctx-size", required_argument, 0, 'c' },
		{ "alias", required_argument, 0, OPT_ALIAS },
		{ "config", required_argument, 0, OPT_CONFIG },
		{ "host", required_argument, 0, OPT_HOST },
		{ "port", required_argument, 0, OPT_PORT },
		{ "api-key", required_argument, 0, OPT_KEY },
		{ "cores", required_argument, 0, OPT_CORES },
		{ "kv-blocks", required_argument, 0, OPT_KV },
		{ "step-tokens", required_argument, 0, OPT_STEP },
		{ "max-running", required_argument, 0, OPT_RUNNING },
		{ "queue", required_argument, 0, OPT_QUEUE },
		{ "timeout-ms", required_argument, 0, OPT_TIMEOUT },
		{ "max-tokens", required_argument, 0, OPT_MAXTOK },
		{ "max-connections", required_argument, 0, OPT_MAXCONN },
		{ "chat-template", required_argument, 0, OPT_TMPL },
		{ "load", required_argument, 0, OPT_LOAD },
		{ "no-metrics", no_argument, 0, OPT_NOMETRICS },
		{ "mlock", no_argument, 0, OPT_MLOCK },
		{ "no-mlock", no_argument, 0, OPT_NOMLOCK },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	o->port = o->threads = o->ctx = o->kv_blocks = o->step_tokens = o->max_running = o->queue =
		o->max_tokens = o->max_connections = o->load_mode = -1;
	o->timeout_ms = -2;
	o->mlock = true; /* serve locks its weights unless told not to */
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "m:t:c:h", lo, NULL)) != -1) {
		const char *name = NULL;
		int bad = 0;
		switch (ch) {
		case 'm': o->model = optarg; break;
		case OPT_CONFIG: o->config = optarg; break;
		case OPT_HOST: o->host = optarg; break;
		case OPT_KEY: o->api_key = optarg; break;
		case OPT_TMPL: o->chat_template = optarg; break;
		case OPT_NOMETRICS: o->no_metrics = true; break;
		case OPT_MLOCK: o->mlock = true; break;
		case OPT_NOMLOCK: o->mlock = false; break;
		case OPT_ALIAS:
			name = "--alias";
			bad = o->n_aliases >= NRV_CONF_MAX_ALIASES || !*optarg ||
			      strlen(optarg) >= NRV_CONF_NAME_MAX;
			if (!bad)
				o->aliases[o->n_aliases++] = optarg;
			break;
		case 't': bad = nrv_parse_int(optarg, 1, 1024, &o->threads); name = "-t"; break;
		case 'c': bad = nrv_parse_int(optarg, 1, 1 << 24, &o->ctx); name = "-c"; break;
		case OPT_PORT: bad = nrv_parse_int(optarg, 0, 65535, &o->port); name = "--port"; break;
		case OPT_KV: bad = nrv_parse_int(optarg, 1, 1 << 24, &o->kv_blocks); name = "--kv-blocks"; break;
		case OPT_STEP: bad = nrv_parse_int(optarg, 1, 1 << 20, &o->step_tokens); name = "--step-tokens"; break;
		case OPT_RUNNING: bad = nrv_parse_int(optarg, 1, 1 << 16, &o->max_running); name = "--max-running"; break;
		case OPT_QUEUE: bad = nrv_parse_int(optarg, 1, 1000000, &o->queue); name = "--queue"; break;
		case OPT_TIMEOUT: bad = nrv_parse_int(optarg, -1, 1 << 30, &o->timeout_ms); name = "--timeout-ms"; break;
		case OPT_MAXTOK: bad = nrv_parse_int(optarg, 1, 1 << 24, &o->max_tokens); name = "--max-tokens"; break;
		case OPT_MAXCONN: bad = nrv_parse_int(optarg, 1, 1 << 20, &o->max_connections); name = "--max-connections"; break;
		case OPT_LOAD:
			o->load_mode = nrv_load_mode_parse(optarg);
			bad = o->load_mode < 0;
			name = "--load";
			break;
		case OPT_CORES:
			o->n_cores = nrv_parse_cpu_list(optarg, o->cores, NRV_CONF_MAX_CORES);
			bad = o->n_cores <= 0;
			name = "--cores";
			break;
		case 'h': serve_usage(stdout); return 1;
		default: serve_usage(stderr); return 2;
		}
		if (bad) {
			fprintf(stderr, "nirvana serve: invalid value '%s' for %s\n", optarg, name);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "nirvana serve: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	return 0;
}

/* Flags over the file. Returns 0, or 2 with a message. */
static int apply_opts(struct nrv_conf *c, const struct serve_opts *o)
{
#define SET(field, v) do { if ((v) >= 0) c->field = (v); } while (0)
	if (o->host)
		snprintf(c->host, sizeof(c->host), "%s", o->host);
	if (o->api_key)
		snprintf(c->api_key, sizeof(c->api_key), "%s", o->api_key);
	SET(port, o->port);
	SET(threads, o->threads);
	SET(context, o->ctx);
	SET(kv_blocks, o->kv_blocks);
	SET(step_tokens, o->step_tokens);
	SET(max_running, o->max_running);
	SET(queue, o->queue);
	SET(max_tokens, o->max_tokens);
	SET(max_connections, o->max_connections);
#undef SET
	if (o->timeout_ms >= -1)
		c->timeout_ms = o->timeout_ms;
	if (o->n_cores) {
		memcpy(c->cores, o->cores, sizeof(c->cores));
		c->n_cores = o->n_cores;
	}
	if (o->no_metrics)
		c->metrics_enabled = false;
	if (o->model) {
		if (!c->n_models)
			c->n_models = 1;
		struct nrv_conf_model *m = &c->models[0];
		if (strcmp(m->path, o->model))
			m->name[0] = 0; /* a name given for another file does not carry over */
		snprintf(m->path, sizeof(m->path), "%s", o->model);
	}
	if (o->n_aliases) {
		if (!c->n_models) {
			fprintf(stderr, "nirvana serve: --alias needs a model: use -m FILE.gguf\n");
			return 2;
		}
		struct nrv_conf_model *m = &c->models[0];
		snprintf(m->name, sizeof(m->name), "%s", o->aliases[0]);
		m->n_aliases = 0;
		for (int i = 1; i < o->n_aliases; i++)
			snprintf(m->aliases[m->n_aliases++], NRV_CONF_NAME_MAX, "%s", o->aliases[i]);
	}
	if (!c->n_models) {
		fprintf(stderr, "nirvana serve: no model given: use -m FILE.gguf (or \"models\" in --config)\n");
		return 2;
	}
	if (c->n_models > 1) {
		fprintf(stderr, "nirvana serve: the configuration lists %d models; one server process serves "
				"one model for now: keep one in \"models\"\n", c->n_models);
		return 2;
	}
	if (c->threads == 0)
		c->threads = nrv_online_cpus();
	return 0;
}

/* The signal handler's only way to the loop: nrv_http_stop is
 * async-signal-safe, and a handler takes no argument. */
static struct nrv_http_server *stop_target;

static void on_signal(int sig)
{
	(void)sig;
	if (stop_target)
		nrv_http_stop(stop_target);
}

static void print_banner(const struct nrv_conf *c, const char *id, int port,
			 const struct nrv_engine_params *ep)
{
	const char *h = c->host;
	if (!strcmp(h, "0.0.0.0") || !*h)
		h = "127.0.0.1";
	else if (!strcmp(h, "::"))
		h = "::1";
	char url[320];
	snprintf(url, sizeof(url), strchr(h, ':') ? "http://[%s]:%d" : "http://%s:%d", h, port);
	fprintf(stderr,
		"nirvana: serving '%s' on %s (%d threads, context %d, %d running + %d queued)\n"
		"nirvana: try it:\n\n"
		"curl %s/v1/chat/completions -H 'Content-Type: application/json' %s%s%s\\\n"
		"  -d '{\"model\": \"%s\", \"messages\": [{\"role\": \"user\", \"content\": \"Say hello in one "
		"sentence.\"}], \"max_tokens\": 64}'\n\n",
		id, url, ep->n_threads, ep->n_ctx, ep->max_running, ep->max_queued, url,
		c->api_key[0] ? "-H 'Authorization: Bearer " : "", c->api_key[0] ? c->api_key : "",
		c->api_key[0] ? "' " : "", id);
}

int nrv_cmd_serve(int argc, char **argv)
{
	struct serve_opts o = { 0 };
	int rc = parse_opts(argc, argv, &o);
	if (rc)
		return rc == 1 ? 0 : 2;
	static struct nrv_conf c; /* 80 KiB of fixed storage: off the stack */
	char err[1024];
	nrv_conf_defaults(&c);
	if (o.config && nrv_conf_load(&c, o.config, err, sizeof(err))) {
		fprintf(stderr, "nirvana serve: %s\n", err);
		return 2;
	}
	if ((rc = apply_opts(&c, &o)))
		return rc;
	char id[NRV_CONF_NAME_MAX];
	nrv_conf_model_id(&c.models[0], id, sizeof(id));

	struct nrv_model *m = NULL;
	struct nrv_engine *e = NULL;
	struct nrv_api *api = NULL;
	struct nrv_http_server *srv = NULL;
	int status = 1;
	struct nrv_weights_opts wo = { .mode = o.load_mode < 0 ? NRV_LOAD_DEFAULT : o.load_mode,
				       .lock = o.mlock };
	if (nrv_model_load_opts(c.models[0].path, &wo, &m, err, sizeof(err))) {
		fprintf(stderr, "nirvana: %s\n", err);
		goto out;
	}
	struct nrv_engine_params ep = {
		.n_threads = c.threads, .cores = c.n_cores ? c.cores : NULL, .n_cores = c.n_cores,
		.n_ctx = c.context, .block_tokens = c.block_tokens, .kv_blocks = c.kv_blocks,
		.step_tokens = c.step_tokens, .max_running = c.max_running, .max_queued = c.queue,
		.timeout_ms = c.timeout_ms < 0 ? -1 : c.timeout_ms,
	};
	if (nrv_engine_create(m, &ep, &e, err, sizeof(err))) {
		fprintf(stderr, "nirvana serve: cannot start the engine: %s\n", err);
		goto out;
	}
	const struct nrv_engine_params *eff = nrv_engine_params(e);
	struct nrv_api_params ap = {
		.model = m, .engine = e, .model_id = id,
		.aliases = (const char (*)[NRV_CONF_NAME_MAX])c.models[0].aliases,
		.n_aliases = c.models[0].n_aliases, .api_key = c.api_key,
		.chat_template = o.chat_template, .max_tokens = c.max_tokens,
		.metrics_enabled = c.metrics_enabled, .n_slots = eff->max_running + eff->max_queued,
	};
	if (nrv_api_create(&ap, &api, err, sizeof(err))) {
		fprintf(stderr, "nirvana serve: %s\n", err);
		goto out;
	}
	struct nrv_http_config hc = {
		.host = c.host, .port = c.port, .wake_fd = nrv_engine_eventfd(e),
		.limits = {
			.max_header_bytes = (size_t)c.max_header_bytes,
			.max_body_bytes = (size_t)c.max_body_bytes,
			.header_timeout_ms = c.header_timeout_ms, .body_timeout_ms = c.body_timeout_ms,
			.idle_timeout_ms = c.idle_timeout_ms, .max_connections = c.max_connections,
		},
	};
	struct nrv_http_handlers hh;
	nrv_api_handlers(api, &hh);
	if (nrv_http_create(&hc, &hh, &srv, err, sizeof(err))) {
		fprintf(stderr, "nirvana serve: cannot listen on %s:%d: %s\n", c.host, c.port, err);
		goto out;
	}
	nrv_api_set_server(api, srv);

	stop_target = srv;
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	print_banner(&c, id, nrv_http_port(srv), eff);
	rc = nrv_http_run(srv);
	if (rc) {
		fprintf(stderr, "nirvana serve: the HTTP loop failed: %s\n", strerror(-rc));
		goto out;
	}
	fprintf(stderr, "nirvana: stopped\n");
	status = 0;
out:
	stop_target = NULL;
	/* connections first (their on_close may still cancel engine requests),
	 * then the engine, then the request table its events addressed */
	nrv_http_destroy(srv);
	nrv_engine_destroy(e);
	nrv_api_destroy(api);
	nrv_model_free(m);
	return status;
}
