/*
 * src/api.c - routes and requests in flight (see api.h).
 *
 * A generation request's life:
 *   on_request  parse + check (api_req), tokenize, take a slot, submit to
 *               the engine; a stream's headers (and a chat stream's role
 *               chunk) go out at once
 *   on_wake     drain engine events: TOKEN -> text streamer -> SSE chunk or
 *               the accumulated answer; a stop string cancels the engine
 *               request; DONE -> the last chunk / the whole answer, metrics,
 *               slot freed
 *   on_close    the client left: cancel; the slot waits for DONE
 */
#include "api.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api_req.h"
#include "api_resp.h"
#include "chat.h"
#include "engine.h"
#include "gguf.h"
#include "jbuf.h"
#include "log.h"
#include "metrics.h"
#include "mem/weights.h"
#include "model.h"
#include "net/uring/http.h"
#include "textstream.h"
#include "tokenizer.h"
#include "util.h"

#define RETRY_AFTER "Retry-After: 1\r\n"
#define JSON "application/json"

struct req {
	bool used;
	bool conn_alive;         /* the client is still there */
	bool stop_hit;           /* a stop string matched; waiting for DONE */
	bool stream;
	bool include_usage;
	bool logprobs;
	uint32_t gen;            /* bumped at every reuse: ids of old requests go stale */
	struct nrv_http_conn conn;
	struct nrv_api_ident ident;
	char stop[NRV_API_MAX_STOP][NRV_API_STOP_BYTES];   /* the streamer borrows these */
	struct nrv_textstream ts;
	struct nrv_jbuf text;    /* the answer so far (not streamed) */
	struct nrv_jbuf out;     /* scratch for chunks and bodies */
	struct nrv_api_lp *lps;  /* (lp_cap) log-probabilities, when asked */
	int n_lp, lp_cap, lp_sent;
	uint32_t text_bytes;     /* bytes of text released so far */
	int64_t t_arrive;        /* CLOCK_MONOTONIC ns when the request was read */
	int64_t t_last;          /* of the last token; 0 before the first */
};

struct nrv_api {
	struct nrv_api_params p;
	char model_id[NRV_CONF_NAME_MAX];
	char aliases[NRV_CONF_MAX_ALIASES][NRV_CONF_NAME_MAX];
	char api_key[256];
	struct nrv_http_server *srv;
	struct nrv_chat_tmpl tmpl;
	bool has_tmpl;
	int n_ctx;
	int n_vocab;
	struct req *reqs;        /* (n_slots) */
	int n_slots;
	int *free_list;          /* (n_slots) stack of free slot indexes */
	int n_free;
	int32_t *toks;           /* (n_ctx + 1) tokenizer output scratch */
	struct nrv_jbuf scratch; /* one-shot bodies */
	struct nrv_metrics metrics;
	uint64_t node;           /* random per process: ids are unique per node */
	uint64_t seq;
	uint64_t rng;            /* seeds for requests that give none */
	int64_t created;         /* Unix time at start, for /v1/models */
	struct nrv_weights_stats wstats; /* how the weights are held, read once at create */
	char digest[NRV_DIGEST_HEX];     /* XXH3-128 of the model file, "" if unknown */
};

static uint64_t next_rand(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* ---- answering ---- */

static void respond(struct nrv_api *a, struct nrv_http_conn c, int status, const char *type,
		    const char *extra, const struct nrv_jbuf *b)
{
	if (!nrv_jbuf_ok(b)) {
		static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\","
					  "\"param\":null,\"code\":null}}";
		nrv_http_respond(a->srv, c, 500, JSON, NULL, oom, sizeof(oom) - 1);
		return;
	}
	nrv_http_respond(a->srv, c, status, type, extra, b->p, b->len);
}

static void send_error(struct nrv_api *a, struct nrv_http_conn c, int status, const char *param,
		       const char *code, const char *extra, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

static void send_error(struct nrv_api *a, struct nrv_http_conn c, int status, const char *param,
		       const char *code, const char *extra, const char *fmt, ...)
{
	char msg[640];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	nrv_jbuf_reset(&a->scratch);
	nrv_api_resp_error(&a->scratch, status, param, code, msg);
	respond(a, c, status, JSON, extra, &a->scratch);
}

/* An error answer to a generation request, counted in the metrics. */
static void gen_error(struct nrv_api *a, struct nrv_http_conn c, int status, const char *param,
		      const char *code, const char *msg)
{
	int outcome = status == 429 || status == 503 ? NRV_OUT_REJECTED
		    : status >= 500		    ? NRV_OUT_ERROR
						    : NRV_OUT_INVALID;
	nrv_metrics_outcome(&a->metrics, outcome, nrv_now_ns());
	send_error(a, c, status, param, code, status == 503 || status == 429 ? RETRY_AFTER : NULL, "%s",
		   msg);
}

/* ---- the request table ---- */

static struct req *slot_take(struct nrv_api *a, int *idx)
{
	if (!a->n_free)
		return NULL;
	*idx = a->free_list[--a->n_free];
	struct req *r = &a->reqs[*idx];
	r->used = true;
	r->gen++;
	return r;
}

static void slot_free(struct nrv_api *a, struct req *r)
{
	r->used = false;
	r->conn_alive = false;
	a->free_list[a->n_free++] = (int)(r - a->reqs);
}

static uint64_t req_id(const struct nrv_api *a, const struct req *r)
{
	return ((uint64_t)r->gen << 32) | (uint64_t)(r - a->reqs);
}

static struct req *req_find(struct nrv_api *a, uint64_t id)
{
	uint32_t idx = (uint32_t)id;
	if (idx >= (uint32_t)a->n_slots)
		return NULL;
	struct req *r = &a->reqs[idx];
	return r->used && r->gen == (uint32_t)(id >> 32) ? r : NULL;
}

/* ---- generation ---- */

static bool model_known(const struct nrv_api *a, const char *name)
{
	if (!name[0] || !strcmp(name, a->model_id))
		return true;
	for (int i = 0; i < a->p.n_aliases; i++)
		if (!strcmp(name, a->aliases[i]))
			return true;
	return false;
}

/* Tokenize the request's prompt into a->toks; the count, or -1 after answering. */
static int prompt_tokens(struct nrv_api *a, struct nrv_http_conn c, const struct nrv_api_req *q)
{
	bool chat = q->kind == NRV_API_CHAT;
	int n = 0;
	if (q->tokens) {
		if (q->n_tokens > a->n_ctx - 1)
			goto too_long;
		for (int i = 0; i < q->n_tokens; i++) {
			if (q->tokens[i] >= a->n_vocab) {
				char m[160];
				snprintf(m, sizeof(m), "prompt[%d] = %d is not a token id of this model (its vocabulary "
					 "has %d)", i, q->tokens[i], a->n_vocab);
				gen_error(a, c, 400, "prompt", NULL, m);
				return -1;
			}
			a->toks[i] = q->tokens[i];
		}
		return q->n_tokens;
	}
	n = nrv_tok_encode(a->p.model->tok, q->text, q->text_len, !chat, true, a->toks, a->n_ctx + 1);
	if (n == -ENOMEM) {
		gen_error(a, c, 500, NULL, NULL, "out of memory while tokenizing the prompt");
		return -1;
	}
	if (n < 0) {
		gen_error(a, c, 400, chat ? "messages" : "prompt", NULL, "the prompt cannot be tokenized");
		return -1;
	}
	if (n == 0) {
		gen_error(a, c, 400, "prompt", NULL, "the prompt is empty after tokenization");
		return -1;
	}
	if (n > a->n_ctx - 1)
		goto too_long;
	return n;
too_long: {
	char m[200];
	snprintf(m, sizeof(m), "the prompt is %d tokens, but this server's context holds %d (and the "
		 "answer needs at least one more): shorten it", q->tokens ? q->n_tokens : n, a->n_ctx);
	gen_error(a, c, 400, chat ? "messages" : "prompt", "context_length_exceeded", m);
	return -1;
}
}

static int stream_out(struct nrv_api *a, struct req *r)
{
	int rc = nrv_http_stream_write(a->srv, r->conn, r->out.p, r->out.len);
	if (rc == -ENOENT)
		r->conn_alive = false;
	return rc;
}

static void handle_generate(struct nrv_api *a, struct nrv_http_conn c,
			    const struct nrv_http_request *hr, int kind)
{
	int64_t t0 = nrv_now_ns();
	struct nrv_api_req q;
	struct nrv_api_err e;
	int rc = nrv_api_req_parse(&q, kind, hr->body, hr->body_len, a->has_tmpl ? &a->tmpl : NULL, &e);
	if (rc) {
		gen_error(a, c, e.status ? e.status : 400, e.param, NULL, e.message);
		goto out;
	}
	if (!model_known(a, q.model)) {
		char m[400];
		snprintf(m, sizeof(m), "The model '%s' does not exist: this server serves '%s' (GET /v1/models "
			 "lists its names)", q.model, a->model_id);
		gen_error(a, c, 404, "model", "model_not_found", m);
		goto out;
	}
	if (q.max_tokens > a->p.max_tokens) {
		char m[200];
		snprintf(m, sizeof(m), "max_tokens is %d, above this server's limit of %d (limits.max_tokens)",
			 q.max_tokens, a->p.max_tokens);
		gen_error(a, c, 400, "max_tokens", NULL, m);
		goto out;
	}
	int n = prompt_tokens(a, c, &q);
	if (n < 0)
		goto out;
	int idx;
	struct req *r = slot_take(a, &idx);
	if (!r) {
		gen_error(a, c, 503, NULL, "overloaded", "the server is at its request limit; retry shortly");
		goto out;
	}
	struct nrv_engine_req er = {
		.id = req_id(a, r), .prompt = a->toks, .n_prompt = n,
		.max_tokens = q.max_tokens > 0 ? q.max_tokens : a->p.max_tokens,
		.sp = q.sp, .logprobs = q.logprobs, .top_logprobs = q.top_logprobs,
		.ignore_eos = q.ignore_eos,
	};
	if (!q.has_seed)
		er.sp.seed = next_rand(&a->rng);
	/* per-request state, sized now so that tokens allocate nothing */
	r->n_lp = r->lp_sent = 0;
	if (q.logprobs) {
		int cap = er.max_tokens < a->n_ctx ? er.max_tokens : a->n_ctx;
		if (cap > r->lp_cap) {
			struct nrv_api_lp *l = realloc(r->lps, (size_t)cap * sizeof(*l));
			if (!l) {
				slot_free(a, r);
				gen_error(a, c, 500, NULL, NULL, "out of memory");
				goto out;
			}
			r->lps = l;
			r->lp_cap = cap;
		}
	}
	rc = nrv_engine_submit(a->p.engine, &er);
	if (rc) {
		slot_free(a, r);
		if (rc == -EAGAIN)
			gen_error(a, c, 503, NULL, "overloaded", "the request queue is full; retry shortly");
		else if (rc == -EINVAL)
			gen_error(a, c, 400, NULL, NULL, "the engine refused the request's parameters");
		else if (rc == -E2BIG)
			gen_error(a, c, 400, "prompt", "context_length_exceeded",
				  "the prompt does not fit the context");
		else
			gen_error(a, c, 500, NULL, NULL, "the engine could not take the request");
		goto out;
	}
	r->conn = c;
	r->conn_alive = true;
	r->stop_hit = false;
	r->stream = q.stream;
	r->include_usage = q.stream && q.include_usage;
	r->logprobs = q.logprobs;
	r->text_bytes = 0;
	r->t_arrive = t0;
	r->t_last = 0;
	r->ident = (struct nrv_api_ident){ .kind = kind, .created = time(NULL),
					   .model = a->model_id, .usage_null = r->include_usage };
	nrv_api_make_id(r->ident.id, sizeof(r->ident.id), kind, a->node, ++a->seq);
	const char *stops[NRV_API_MAX_STOP];
	for (int i = 0; i < q.n_stop; i++) {
		memcpy(r->stop[i], q.stop[i], q.stop_len[i] + 1);
		stops[i] = r->stop[i];
	}
	nrv_textstream_init(&r->ts, a->p.model->tok, stops, q.stop_len, q.n_stop);
	nrv_jbuf_reset(&r->text);
	if (r->stream) {
		rc = nrv_http_stream_begin(a->srv, c, 200, "text/event-stream",
					   "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n");
		if (rc == 0 && kind == NRV_API_CHAT) {
			nrv_jbuf_reset(&r->out);
			nrv_api_resp_chunk(&r->out, &r->ident, NULL, "", 0, NULL, 0, NULL, true);
			rc = stream_out(a, r);
		}
		if (rc) {
			r->conn_alive = false;
			nrv_engine_cancel(a->p.engine, er.id);
		}
	}
out:
	nrv_api_req_fini(&q);
}

static void on_token(struct nrv_api *a, struct req *r, const struct nrv_engine_event *ev)
{
	if (r->t_last == 0)
		nrv_metrics_observe(&a->metrics.ttft, (double)(ev->t_ns - r->t_arrive) / 1e9);
	else
		nrv_metrics_observe(&a->metrics.itl, (double)(ev->t_ns - r->t_last) / 1e9);
	r->t_last = ev->t_ns;
	if (!r->conn_alive || r->stop_hit)
		return;
	if (r->logprobs && r->n_lp < r->lp_cap) {
		struct nrv_api_lp *l = &r->lps[r->n_lp++];
		l->token = ev->token;
		l->logprob = ev->logprob;
		l->n_top = ev->n_top < 20 ? ev->n_top : 20;
		memcpy(l->top_token, ev->top_token, (size_t)l->n_top * sizeof(int32_t));
		memcpy(l->top_logprob, ev->top_logprob, (size_t)l->n_top * sizeof(float));
		l->text_offset = r->text_bytes;
	}
	const char *t;
	size_t len;
	if (nrv_textstream_push(&r->ts, ev->token, &t, &len) == 1) {
		r->stop_hit = true;
		nrv_engine_cancel(a->p.engine, req_id(a, r));
	}
	r->text_bytes += (uint32_t)len;
	if (!r->stream) {
		nrv_jbuf_put(&r->text, t, len);
		return;
	}
	int pending = r->n_lp - r->lp_sent;
	if (!len && !pending)
		return;
	nrv_jbuf_reset(&r->out);
	nrv_api_resp_chunk(&r->out, &r->ident, a->p.model->tok, t, len,
			   r->logprobs ? r->lps + r->lp_sent : NULL, pending, NULL, false);
	r->lp_sent = r->n_lp;
	if (stream_out(a, r) == -ENOENT)
		nrv_engine_cancel(a->p.engine, req_id(a, r));
}

static void finish_ok(struct nrv_api *a, struct req *r, const char *finish, int n_prompt, int n_gen)
{
	const char *t = "";
	size_t len = 0;
	nrv_textstream_finish(&r->ts, &t, &len);
	nrv_jbuf_reset(&r->out);
	if (!r->stream) {
		nrv_jbuf_put(&r->text, t, len);
		nrv_api_resp_full(&r->out, &r->ident, a->p.model->tok, r->text.p ? r->text.p : "",
				  r->text.len, r->logprobs ? r->lps : NULL, r->n_lp, finish, n_prompt, n_gen);
		respond(a, r->conn, 200, JSON, NULL, &r->out);
		return;
	}
	nrv_api_resp_chunk(&r->out, &r->ident, a->p.model->tok, t, len,
			   r->logprobs ? r->lps + r->lp_sent : NULL, r->n_lp - r->lp_sent, finish, false);
	if (r->include_usage)
		nrv_api_resp_usage_chunk(&r->out, &r->ident, n_prompt, n_gen);
	nrv_api_resp_done(&r->out);
	if (stream_out(a, r) == 0)
		nrv_http_stream_end(a->srv, r->conn);
}

static void finish_err(struct nrv_api *a, struct req *r, int status, const char *msg)
{
	if (!r->stream) {
		send_error(a, r->conn, status, NULL, status == 408 ? "timeout" : NULL, NULL, "%s", msg);
		return;
	}
	nrv_jbuf_reset(&r->out);
	nrv_api_resp_stream_error(&r->out, status, msg);
	nrv_api_resp_done(&r->out);
	if (stream_out(a, r) == 0)
		nrv_http_stream_end(a->srv, r->conn);
}

static void on_done(struct nrv_api *a, struct req *r, const struct nrv_engine_event *ev)
{
	struct nrv_metrics *m = &a->metrics;
	m->prompt_tokens += (uint64_t)ev->n_prompt;
	m->gen_tokens += (uint64_t)ev->n_gen;
	nrv_metrics_observe(&m->queue, (double)ev->queue_ns / 1e9);
	int outcome;
	switch (ev->finish) {
	case NRV_FINISH_STOP: outcome = NRV_OUT_STOP; break;
	case NRV_FINISH_LENGTH: outcome = NRV_OUT_LENGTH; break;
	case NRV_FINISH_TIMEOUT: outcome = NRV_OUT_TIMEOUT; break;
	case NRV_FINISH_CANCELLED: outcome = r->stop_hit ? NRV_OUT_STOP : NRV_OUT_CANCELLED; break;
	default: outcome = NRV_OUT_ERROR; break;
	}
	if (outcome == NRV_OUT_STOP || outcome == NRV_OUT_LENGTH)
		nrv_metrics_observe(&m->e2e, (double)(ev->t_ns - r->t_arrive) / 1e9);
	nrv_metrics_outcome(m, outcome, nrv_now_ns());
	if (r->conn_alive) {
		if (outcome == NRV_OUT_STOP || outcome == NRV_OUT_LENGTH)
			finish_ok(a, r, outcome == NRV_OUT_STOP ? "stop" : "length", ev->n_prompt, ev->n_gen);
		else if (outcome == NRV_OUT_TIMEOUT)
			finish_err(a, r, 408, "the request took longer than this server's limit "
					      "(limits.timeout_ms)");
		else if (outcome == NRV_OUT_CANCELLED)
			finish_err(a, r, 500, "the request was cancelled by the server");
		else {
			NRV_WARN("request %s failed in the engine: %s", r->ident.id, strerror(-ev->err));
			finish_err(a, r, 500, "generation failed inside the server");
		}
	}
	slot_free(a, r);
}

static void on_wake(void *app)
{
	struct nrv_api *a = app;
	struct nrv_engine_event ev[32];
	int n;
	while ((n = nrv_engine_poll(a->p.engine, ev, 32)) > 0) {
		for (int i = 0; i < n; i++) {
			struct req *r = req_find(a, ev[i].id);
			if (!r)
				continue;
			if (ev[i].kind == NRV_EV_TOKEN)
				on_token(a, r, &ev[i]);
			else if (ev[i].kind == NRV_EV_DONE)
				on_done(a, r, &ev[i]);
		}
	}
}

static void on_close(void *app, struct nrv_http_conn c)
{
	struct nrv_api *a = app;
	for (int i = 0; i < a->n_slots; i++) {
		struct req *r = &a->reqs[i];
		if (r->used && r->conn_alive && r->conn.slot == c.slot && r->conn.gen == c.gen) {
			r->conn_alive = false;
			nrv_engine_cancel(a->p.engine, req_id(a, r));
		}
	}
}

/* ---- the other routes ---- */

static void gauges(struct nrv_api *a, struct nrv_metrics_gauges *g)
{
	struct nrv_engine_stats es;
	nrv_engine_stats(a->p.engine, &es);
	struct nrv_http_stats hs = { 0 };
	if (a->srv)
		nrv_http_stats(a->srv, &hs);
	*g = (struct nrv_metrics_gauges){
		.running = es.running, .waiting = es.waiting, .kv_total = es.kv_total,
		.kv_used = es.kv_used, .kv_cached = es.kv_cached, .kv_free = es.kv_free,
		.rss_bytes = nrv_rss_bytes(), .model_bytes = a->p.model->file_size,
		.model_id = a->model_id, .model_path = a->p.model->path, .http_open = hs.open,
		.http_accepted = hs.accepted, .http_refused = hs.refused,
		.http_timed_out = hs.timed_out,
		.load_mode = a->wstats.mode, .backing = a->wstats.backing,
		.huge_bytes = a->wstats.huge_bytes, .locked_bytes = a->wstats.locked_bytes,
		.load_s = a->wstats.load_s, .digest = a->digest,
	};
}

static void handle_health(struct nrv_api *a, struct nrv_http_conn c)
{
	struct nrv_metrics_gauges g;
	gauges(a, &g);
	nrv_jbuf_reset(&a->scratch);
	int status = nrv_metrics_health_json(&a->metrics, &g, nrv_now_ns(), &a->scratch);
	respond(a, c, status, JSON, "Cache-Control: no-store\r\n", &a->scratch);
}

static void handle_metrics(struct nrv_api *a, struct nrv_http_conn c)
{
	struct nrv_metrics_gauges g;
	gauges(a, &g);
	nrv_jbuf_reset(&a->scratch);
	nrv_metrics_render(&a->metrics, &g, nrv_now_ns(), &a->scratch);
	respond(a, c, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, &a->scratch);
}

static void handle_models(struct nrv_api *a, struct nrv_http_conn c)
{
	struct nrv_jbuf *b = &a->scratch;
	nrv_jbuf_reset(b);
	nrv_jbuf_puts(b, "{\"object\":\"list\",\"data\":[");
	for (int i = -1; i < a->p.n_aliases; i++) {
		nrv_jbuf_puts(b, i < 0 ? "{\"id\":" : ",{\"id\":");
		nrv_jbuf_cstr(b, i < 0 ? a->model_id : a->aliases[i]);
		nrv_jbuf_printf(b, ",\"object\":\"model\",\"created\":%lld,\"owned_by\":\"nirvana\","
				   "\"max_model_len\":%d,\"root\":", (long long)a->created, a->n_ctx);
		nrv_jbuf_cstr(b, a->model_id);
		nrv_jbuf_puts(b, "}");
	}
	nrv_jbuf_puts(b, "]}");
	respond(a, c, 200, JSON, NULL, b);
}

static cJSON *json_body(struct nrv_api *a, struct nrv_http_conn c, const struct nrv_http_request *hr)
{
	cJSON *j = cJSON_ParseWithLength(hr->body, hr->body_len);
	if (!j || !cJSON_IsObject(j)) {
		send_error(a, c, 400, NULL, NULL, NULL, "the body must be a JSON object");
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static bool opt_bool(struct nrv_api *a, struct nrv_http_conn c, const cJSON *j, const char *name,
		     bool *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
	if (!v || cJSON_IsNull(v))
		return true;
	if (!cJSON_IsBool(v)) {
		send_error(a, c, 400, name, NULL, NULL, "'%s' must be true or false", name);
		return false;
	}
	*out = cJSON_IsTrue(v);
	return true;
}

static void handle_tokenize(struct nrv_api *a, struct nrv_http_conn c,
			    const struct nrv_http_request *hr)
{
	cJSON *j = json_body(a, c, hr);
	if (!j)
		return;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "content");
	const char *name = "content";
	if (!v) {
		v = cJSON_GetObjectItemCaseSensitive(j, "prompt");
		name = "prompt";
	}
	bool add_special = false, with_pieces = false;
	int32_t *ids = NULL;
	if (!cJSON_IsString(v)) {
		send_error(a, c, 400, "content", NULL, NULL, v ? "'%s' must be a string"
							       : "'content' (the text to tokenize) is required",
			   name);
		goto out;
	}
	if (!opt_bool(a, c, j, "add_special", &add_special) ||
	    !opt_bool(a, c, j, "with_pieces", &with_pieces))
		goto out;
	size_t len = strlen(v->valuestring);
	int n = nrv_tok_encode(a->p.model->tok, v->valuestring, len, add_special, true, NULL, 0);
	if (n >= 0 && !(ids = malloc(((size_t)n + 1) * sizeof(*ids))))
		n = -ENOMEM;
	if (n >= 0)
		n = nrv_tok_encode(a->p.model->tok, v->valuestring, len, add_special, true, ids, n + 1);
	if (n < 0) {
		send_error(a, c, n == -ENOMEM ? 500 : 400, name, NULL, NULL, "cannot tokenize: %s",
			   strerror(-n));
		goto out;
	}
	struct nrv_jbuf *b = &a->scratch;
	nrv_jbuf_reset(b);
	nrv_jbuf_puts(b, "{\"tokens\":[");
	for (int i = 0; i < n; i++) {
		if (i)
			nrv_jbuf_puts(b, ",");
		if (!with_pieces) {
			nrv_jbuf_int(b, ids[i]);
			continue;
		}
		char p[512];
		int pl = nrv_tok_piece(a->p.model->tok, ids[i], true, p, sizeof(p));
		pl = pl < 0 ? 0 : pl > (int)sizeof(p) ? (int)sizeof(p) : pl;
		nrv_jbuf_printf(b, "{\"id\":%d,\"piece\":", ids[i]);
		nrv_jbuf_str(b, p, (size_t)pl);
		nrv_jbuf_puts(b, "}");
	}
	nrv_jbuf_puts(b, "]}");
	respond(a, c, 200, JSON, NULL, b);
out:
	free(ids);
	cJSON_Delete(j);
}

static void handle_detokenize(struct nrv_api *a, struct nrv_http_conn c,
			      const struct nrv_http_request *hr)
{
	cJSON *j = json_body(a, c, hr);
	if (!j)
		return;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "tokens");
	int32_t *ids = NULL;
	char *text = NULL;
	if (!cJSON_IsArray(v)) {
		send_error(a, c, 400, "tokens", NULL, NULL, "'tokens' must be an array of token ids");
		goto out;
	}
	int n = cJSON_GetArraySize(v), i = 0;
	if (!(ids = malloc(((size_t)n + 1) * sizeof(*ids)))) {
		send_error(a, c, 500, NULL, NULL, NULL, "out of memory");
		goto out;
	}
	const cJSON *t;
	cJSON_ArrayForEach(t, v) {
		if (!cJSON_IsNumber(t) || t->valuedouble < 0 || t->valuedouble >= a->n_vocab ||
		    t->valuedouble != (double)(int32_t)t->valuedouble) {
			send_error(a, c, 400, "tokens", NULL, NULL, "tokens[%d] is not a token id of this model "
				   "(integers 0 to %d)", i, a->n_vocab - 1);
			goto out;
		}
		ids[i++] = (int32_t)t->valuedouble;
	}
	int need = nrv_tok_decode(a->p.model->tok, ids, n, false, NULL, 0);
	if (need < 0 || !(text = malloc((size_t)need + 1))) {
		send_error(a, c, need < 0 ? 400 : 500, "tokens", NULL, NULL, "cannot detokenize");
		goto out;
	}
	nrv_tok_decode(a->p.model->tok, ids, n, false, text, (size_t)need + 1);
	nrv_jbuf_reset(&a->scratch);
	nrv_jbuf_puts(&a->scratch, "{\"content\":");
	nrv_jbuf_str(&a->scratch, text, (size_t)need);
	nrv_jbuf_puts(&a->scratch, "}");
	respond(a, c, 200, JSON, NULL, &a->scratch);
out:
	free(text);
	free(ids);
	cJSON_Delete(j);
}

/* ---- routing ---- */

static bool authorized(const struct nrv_api *a, const struct nrv_http_request *hr)
{
	if (!a->api_key[0])
		return true;
	const struct nrv_http_header *h = nrv_http_find_header(hr, "authorization");
	if (!h || h->value_len < 7 || strncasecmp(h->value, "Bearer ", 7))
		return false;
	const char *k = h->value + 7;
	size_t kl = h->value_len - 7, want = strlen(a->api_key);
	/* compare in time independent of where the first difference is */
	unsigned diff = kl != want;
	for (size_t i = 0; i < want; i++)
		diff |= (unsigned char)a->api_key[i] ^ (unsigned char)(i < kl ? k[i] : 0);
	return diff == 0;
}

enum route { R_HEALTH, R_METRICS, R_MODELS, R_COMPLETIONS, R_CHAT, R_TOKENIZE, R_DETOKENIZE };

static const struct {
	const char *path;
	const char *method;
	int route;
} routes[] = {
	{ "/health", "GET", R_HEALTH },
	{ "/metrics", "GET", R_METRICS },
	{ "/v1/models", "GET", R_MODELS },
	{ "/v1/completions", "POST", R_COMPLETIONS },
	{ "/v1/chat/completions", "POST", R_CHAT },
	{ "/tokenize", "POST", R_TOKENIZE },
	{ "/detokenize", "POST", R_DETOKENIZE },
};

static void on_request(void *app, struct nrv_http_conn c, const struct nrv_http_request *hr)
{
	struct nrv_api *a = app;
	size_t plen = hr->path_len;
	const char *q = memchr(hr->path, '?', plen);
	if (q)
		plen = (size_t)(q - hr->path);
	int found = -1;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strlen(routes[i].path) == plen && !memcmp(routes[i].path, hr->path, plen))
			found = (int)i;
	if (found < 0 || (routes[found].route == R_METRICS && !a->p.metrics_enabled)) {
		send_error(a, c, 404, NULL, "not_found", NULL, "no route %.*s (routes: /v1/completions, "
			   "/v1/chat/completions, /v1/models, /tokenize, /detokenize, /health, /metrics)",
			   (int)(plen > 200 ? 200 : plen), hr->path);
		return;
	}
	const char *want = routes[found].method;
	if (hr->method_len != strlen(want) || memcmp(hr->method, want, hr->method_len)) {
		char allow[32];
		snprintf(allow, sizeof(allow), "Allow: %s\r\n", want);
		send_error(a, c, 405, NULL, "method_not_allowed", allow, "%s takes %s, not %.*s",
			   routes[found].path, want, (int)(hr->method_len > 16 ? 16 : hr->method_len),
			   hr->method);
		return;
	}
	int route = routes[found].route;
	if (!strncmp(routes[found].path, "/v1/", 4) && !authorized(a, hr)) {
		send_error(a, c, 401, NULL, "invalid_api_key", "WWW-Authenticate: Bearer\r\n",
			   "a valid API key is required: send the header 'Authorization: Bearer KEY'");
		return;
	}
	switch (route) {
	case R_HEALTH: handle_health(a, c); break;
	case R_METRICS: handle_metrics(a, c); break;
	case R_MODELS: handle_models(a, c); break;
	case R_COMPLETIONS: handle_generate(a, c, hr, NRV_API_COMPLETION); break;
	case R_CHAT: handle_generate(a, c, hr, NRV_API_CHAT); break;
	case R_TOKENIZE: handle_tokenize(a, c, hr); break;
	case R_DETOKENIZE: handle_detokenize(a, c, hr); break;
	}
}

/* ---- life cycle ---- */

static void resolve_template(struct nrv_api *a)
{
	struct nrv_gguf_str src = { 0 };
	if (a->p.chat_template) {
		src.p = a->p.chat_template;
		src.len = strlen(a->p.chat_template);
	} else if (nrv_gguf_get_str(a->p.model->gguf, "tokenizer.chat_template", &src) != 0) {
		NRV_WARN("the model has no chat template: /v1/chat/completions will answer 400 "
			 "(name a format with --chat-template)");
		return;
	}
	if (nrv_chat_tmpl_init(&a->tmpl, src.p, (size_t)src.len) == 0) {
		a->has_tmpl = true;
		NRV_INFO("chat template: %s", nrv_chat_family_name(a->tmpl.family));
	} else {
		NRV_WARN("the model's chat template is not one nirvana recognises: /v1/chat/completions "
			 "will answer 400 (name a format with --chat-template)");
	}
}

int nrv_api_create(const struct nrv_api_params *p, struct nrv_api **out, char *err,
		   size_t errlen)
{
	*out = NULL;
	if (!p->model || !p->engine || !p->model_id || p->n_slots < 1 || p->max_tokens < 1 ||
	    p->n_aliases < 0 || p->n_aliases > NRV_CONF_MAX_ALIASES) {
		snprintf(err, errlen, "api: bad parameters");
		return -EINVAL;
	}
	struct nrv_api *a = calloc(1, sizeof(*a));
	if (!a)
		goto oom;
	a->p = *p;
	snprintf(a->model_id, sizeof(a->model_id), "%s", p->model_id);
	for (int i = 0; i < p->n_aliases; i++)
		snprintf(a->aliases[i], sizeof(a->aliases[i]), "%s", p->aliases[i]);
	snprintf(a->api_key, sizeof(a->api_key), "%s", p->api_key ? p->api_key : "");
	a->n_ctx = nrv_engine_params(p->engine)->n_ctx;
	a->n_vocab = nrv_tok_n_vocab(p->model->tok);
	a->n_slots = p->n_slots;
	a->reqs = calloc((size_t)p->n_slots, sizeof(*a->reqs));
	a->free_list = calloc((size_t)p->n_slots, sizeof(*a->free_list));
	a->toks = calloc((size_t)a->n_ctx + 1, sizeof(*a->toks));
	if (!a->reqs || !a->free_list || !a->toks)
		goto oom;
	for (int i = p->n_slots - 1; i >= 0; i--)
		a->free_list[a->n_free++] = i;
	nrv_jbuf_init(&a->scratch);
	nrv_metrics_init(&a->metrics, nrv_now_ns());
	a->node = nrv_random_seed();
	a->rng = nrv_random_seed();
	a->created = time(NULL);
	resolve_template(a);
	nrv_weights_stats(p->model->file, &a->wstats);
	if (nrv_weights_digest(p->model->file, a->digest))
		a->digest[0] = '\0';
	*out = a;
	return 0;
oom:
	nrv_api_destroy(a);
	snprintf(err, errlen, "api: out of memory for %d request slots", p->n_slots);
	return -ENOMEM;
}

void nrv_api_destroy(struct nrv_api *a)
{
	if (!a)
		return;
	if (a->reqs) {
		for (int i = 0; i < a->n_slots; i++) {
			nrv_jbuf_fini(&a->reqs[i].text);
			nrv_jbuf_fini(&a->reqs[i].out);
			free(a->reqs[i].lps);
		}
	}
	nrv_jbuf_fini(&a->scratch);
	free(a->reqs);
	free(a->free_list);
	free(a->toks);
	free(a);
}

void nrv_api_handlers(struct nrv_api *a, struct nrv_http_handlers *h)
{
	h->app = a;
	h->on_request = on_request;
	h->on_close = on_close;
	h->on_wake = on_wake;
}

void nrv_api_set_server(struct nrv_api *a, struct nrv_http_server *s)
{
	a->srv = s;
}
