/*
 * src/conf.h - the server's configuration: one JSON file (`--config FILE`)
 * plus command-line flags that override it.
 *
 * (The module is `conf`, not `config`: src/config.h is the build's
 * generated feature header.)
 *
 * Groups and keys (every default is in nrv_conf_defaults and in the table
 * of docs/operator-guide.md):
 *   listen  { host, port, api_key }
 *   models  [ { name, path, aliases, preload } ]
 *   engine  { threads, cores, context, kv_blocks, block_tokens, step_tokens }
 *   limits  { max_running, queue, timeout_ms, max_tokens, header_timeout_ms,
 *             body_timeout_ms, idle_timeout_ms, max_connections,
 *             max_body_bytes, max_header_bytes }
 *   metrics { enabled }
 * An unknown group or key, a value of the wrong type or out of range is an
 * error whose message names the file and the key ("serve.json: limits.queue:
 * expected an integer in [1, 1000000], got \"a lot\"").
 *
 * Owns: everything in struct nrv_conf (fixed-size storage, no heap).
 */
#ifndef NRV_CONF_H
#define NRV_CONF_H

#include <stdbool.h>
#include <stddef.h>

#define NRV_CONF_MAX_MODELS 16
#define NRV_CONF_MAX_ALIASES 8
#define NRV_CONF_MAX_CORES 256
#define NRV_CONF_NAME_MAX 128      /* bytes of a model id or alias, NUL included */
#define NRV_CONF_PATH_MAX 4096

struct nrv_conf_model {
	char name[NRV_CONF_NAME_MAX];    /* the id clients send as "model"; "" = from the path */
	char path[NRV_CONF_PATH_MAX];    /* GGUF file */
	char aliases[NRV_CONF_MAX_ALIASES][NRV_CONF_NAME_MAX];
	int n_aliases;
	bool preload;                    /* load at start-up (default true) */
};

struct nrv_conf {
	/* listen */
	char host[256];                  /* default "127.0.0.1" */
	int port;                        /* default 8080; 0 = any free port */
	char api_key[256];               /* "" = no key required */
	/* models */
	struct nrv_conf_model models[NRV_CONF_MAX_MODELS];
	int n_models;
	/* engine */
	int threads;                     /* compute threads; 0 = online CPUs */
	int cores[NRV_CONF_MAX_CORES];   /* pin the engine here; n_cores 0 = unpinned */
	int n_cores;
	int context;                     /* positions per sequence; 0 = min(4096, trained) */
	int kv_blocks;                   /* KV pool size in blocks; 0 = engine's sizing */
	int block_tokens;                /* positions per KV block; 0 = 16 */
	int step_tokens;                 /* per-step token budget; 0 = 512 */
	/* limits */
	int max_running;                 /* sequences in the batch; default 64 */
	int queue;                       /* requests waiting for admission; default 1000 */
	int timeout_ms;                  /* per request, submit to last token; default 30000; -1 none */
	int max_tokens;                  /* cap on a request's max_tokens (and default); default 4096 */
	int header_timeout_ms;           /* default 10000 */
	int body_timeout_ms;             /* default 30000 */
	int idle_timeout_ms;             /* keep-alive idle; default 60000 */
	int max_connections;             /* default 4096 */
	int max_body_bytes;              /* default 1 MiB */
	int max_header_bytes;            /* default 8 KiB */
	/* metrics */
	bool metrics_enabled;            /* default true: GET /metrics answers */
};

/* Fill every key with its default (no models). */
void nrv_conf_defaults(struct nrv_conf *c);

/*
 * Apply a JSON document (len bytes, need not be NUL-terminated) on top of
 * *c: keys present replace values, absent keys are left alone. `src` names
 * the document in messages (the file name). Returns 0, or -EINVAL with err
 * naming the file, the key and what was expected; *c may then be partly
 * updated.
 */
int nrv_conf_parse(struct nrv_conf *c, const char *json, size_t len, const char *src,
		   char *err, size_t errlen);

/* Read FILE (at most 1 MiB) and nrv_conf_parse it. -errno with err set. */
int nrv_conf_load(struct nrv_conf *c, const char *path, char *err, size_t errlen);

/*
 * The id a model is served under: its name, else the file name of its
 * path without a ".gguf" suffix. Writes at most cap bytes (NUL-terminated).
 */
void nrv_conf_model_id(const struct nrv_conf_model *m, char *out, size_t cap);

#endif
