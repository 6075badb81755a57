/*
 * src/api.h - the OpenAI-compatible HTTP API: routes, the table of requests
 * in flight, and the glue between the HTTP server (net/uring/http.h) and
 * the engine (engine.h).
 *
 * Routes:
 *   GET  /health               JSON status for load balancers (200 / 503)
 *   GET  /metrics              Prometheus text (404 when metrics.enabled is false)
 *   GET  /v1/models            the served model (its id, then its aliases)
 *   POST /v1/completions       text completion, streamed (SSE) or not
 *   POST /v1/chat/completions  chat completion with the model's template
 *   POST /tokenize             {"content"|"prompt": text, "add_special", "with_pieces"}
 *   POST /detokenize           {"tokens": [ids]} -> {"content": text}
 * An unknown path is 404, a known path with the wrong method 405 (with
 * Allow). With an API key set, /v1 routes need "Authorization: Bearer KEY"
 * (else 401).
 *
 * Threads: every function here runs on the HTTP loop's thread (the
 * handlers are called by nrv_http_run); the engine is reached only through
 * its submit / cancel / poll rings, so this thread never runs model code.
 *
 * Requests in flight live in a table allocated at create (one slot per
 * running or queued request the engine admits): the engine request id is
 * the slot index plus a generation, so a late event for a reused slot is
 * recognised and dropped. A client that goes away cancels its request; the
 * slot is freed when the engine's DONE event arrives.
 *
 * Owns: the request table and its buffers, the metrics. Does not own: the
 * model, the engine, the HTTP server.
 */
#ifndef NRV_API_H
#define NRV_API_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

struct nrv_model;
struct nrv_engine;
struct nrv_http_server;
struct nrv_http_handlers;
struct nrv_api;

struct nrv_api_params {
	struct nrv_model *model;
	struct nrv_engine *engine;
	const char *model_id;                    /* the id clients use */
	const char (*aliases)[NRV_CONF_NAME_MAX];  /* (n_aliases) other accepted names */
	int n_aliases;
	const char *api_key;                     /* NULL or "": no key needed */
	const char *chat_template;               /* a family name overriding the model's, or NULL */
	int max_tokens;                          /* cap on a request's max_tokens, and its default */
	bool metrics_enabled;
	int n_slots;                             /* requests in flight at most (running + queued) */
};

/* Returns 0 or -errno with err set. The chat template is resolved here: a
 * model without a usable one is served, but chat requests get a 400 that
 * says so (and a warning is logged once). */
int nrv_api_create(const struct nrv_api_params *p, struct nrv_api **out, char *err,
		   size_t errlen);
/* Frees the table. The engine must be destroyed (or idle) first or after;
 * no event is read here. Accepts NULL. */
void nrv_api_destroy(struct nrv_api *a);

/* The handlers to give nrv_http_create (app = a). */
void nrv_api_handlers(struct nrv_api *a, struct nrv_http_handlers *h);
/* The server to answer through, once created. */
void nrv_api_set_server(struct nrv_api *a, struct nrv_http_server *s);

#endif
