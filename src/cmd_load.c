/*
 * src/cmd_load.c - `nirvana load`: a serving benchmark for any server that
 * speaks the OpenAI HTTP API (nirvana serve, llama-server, vLLM, ...).
 *
 * It sends -n requests with at most -c in flight, each on its own kept-alive
 * connection slot, from one thread driving every socket through poll(). With
 * streaming on it timestamps every SSE chunk that carries text as the read
 * that brought it returns, and reports what `vllm bench serve` reports:
 * time to first token (TTFT), time per output token after the first (TPOT),
 * inter-token latency between chunks (ITL) and end-to-end latency (E2EL), as
 * mean / median / standard deviation / percentiles, plus throughputs.
 *
 * Token counts come from the response's "usage" (asked for in streams with
 * stream_options.include_usage); a response without one counts its text
 * chunks as output tokens and contributes no input tokens.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "httpc.h"
#include "sse.h"
#include "util.h"

#define MAX_ERR_KEPT 10		/* failed requests whose messages are kept */
#define MAX_ERR_PRINT 5		/* ... and printed */
#define MAX_ERR_BODY 2048	/* bytes of an error response kept for its message */
#define MAX_JSON_BODY ((size_t)16 << 20)	/* a whole non-streamed response */
#define MAX_PROMPTS_FILE ((size_t)1 << 30)

enum endpoint { EP_COMPLETIONS, EP_CHAT };

struct load_opts {
	const char *url;
	const char *model;		/* NULL: the first id of GET /v1/models */
	const char *prompts_file;	/* NULL: synthetic prompts */
	const char *api_key;
	int n;				/* measured requests */
	int c;				/* concurrency: connection slots */
	int max_tokens;
	int warmup;			/* unmeasured requests first */
	int prompt_words;		/* synthetic prompt length, words */
	enum endpoint endpoint;
	bool stream, ignore_eos, json, seed_given;
	uint64_t seed;
	float temperature;
	double timeout_s;		/* per request */
};

/* What one request did. Times are CLOCK_MONOTONIC ns; 0 = did not happen. */
struct req_result {
	bool ok;
	int status;			/* HTTP status, 0 when none arrived */
	int64_t t_start;		/* the request was handed to its connection */
	int64_t t_first;		/* the first chunk with text was read */
	int64_t t_last;			/* the last chunk with text was read */
	int64_t t_end;			/* the response was complete */
	int64_t chunks;			/* chunks that carried text */
	int64_t usage_out, usage_in;	/* from "usage"; -1 when absent */
	char *error;			/* malloc'd message, only for the first failures */
};

/* Growable arrays of the run (allocation amortized: after the first
 * requests nothing is allocated on the receive path). */
struct i64_vec {
	int64_t *v;
	size_t n, cap;
};

static int vec_push(struct i64_vec *a, int64_t x)
{
	if (a->n == a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 1024;
		int64_t *nv = realloc(a->v, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		a->v = nv;
		a->cap = nc;
	}
	a->v[a->n++] = x;
	return 0;
}

struct run;

struct slot {
	struct nrv_httpc http;
	struct nrv_sse sse;
	struct run *run;
	struct req_result *r;		/* NULL: idle */
	bool sse_mode;			/* the response is an event stream */
	bool failed;			/* an error was recorded mid-response */
	bool saw_done;			/* "data: [DONE]" arrived */
	int64_t t_read;			/* when the bytes being parsed were read */
	char *body;			/* non-streamed or error response body */
	size_t body_len, body_cap, body_max;
};

struct run {
	const struct load_opts *o;
	struct nrv_url url;
	const char *model;
	char *headers;			/* extra request header lines */
	char **prompts;			/* from --prompts; NULL for synthetic */
	size_t n_prompts;
	uint64_t word_seed;		/* seeds the synthetic prompts */
	struct i64_vec itl;		/* ns, every measured request's gaps */
	bool measuring;			/* not a warm-up request */
	int errors_kept;
};

/* ---- synthetic prompts ---- */

/* Common English words, most of them one token in BPE vocabularies. */
static const char *const words[] = {
	"time", "year", "people", "way", "day", "man", "thing", "woman", "life", "child", "world", "school",
	"state", "family", "student", "group", "country", "problem", "hand", "part", "place", "case", "week",
	"company", "system", "program", "question", "work", "government", "number", "night", "point", "home",
	"water", "room", "mother", "area", "money", "story", "fact", "month", "lot", "right", "study", "book",
	"eye", "job", "word", "business", "issue", "side", "kind", "head", "house", "service", "friend",
	"father", "power", "hour", "game", "line", "end", "member", "law", "car", "city", "community", "name",
	"president", "team", "minute", "idea", "kid", "body", "information", "back", "parent", "face",
	"others", "level", "office", "door", "health", "person", "art", "war", "history", "party", "result",
	"change", "morning", "reason", "research", "girl", "guy", "moment", "air", "teacher", "force",
	"education", "be", "have", "do", "say", "go", "can", "get", "would", "make", "know", "will", "think",
	"take", "see", "come", "could", "want", "look", "use", "find", "give", "tell", "work", "may", "should",
	"call", "try", "ask", "need", "feel", "become", "leave", "put", "mean", "keep", "let", "begin",
	"seem", "help", "talk", "turn", "start", "might", "show", "hear", "play", "run", "move", "like",
	"live", "believe", "hold", "bring", "happen", "must", "write", "provide", "sit", "stand", "lose",
	"pay", "meet", "include", "continue", "set", "learn", "lead", "understand", "watch", "follow",
	"stop", "create", "speak", "read", "allow", "add", "spend", "grow", "open", "walk", "win", "offer",
	"remember", "love", "consider", "appear", "buy", "wait", "serve", "die", "send", "expect", "build",
	"stay", "fall", "cut", "reach", "kill", "remain", "good", "new", "first", "last", "long", "great",
	"little", "own", "other", "old", "big", "high", "different", "small", "large", "next", "early",
	"young", "important", "few", "public", "bad", "same", "able", "red", "green", "blue", "river",
	"stone", "bread", "music", "garden", "window", "paper", "train", "table", "summer", "winter",
	"light", "sound", "field", "road", "horse", "ship", "clock", "market", "letter", "song",
};
#define N_WORDS (sizeof(words) / sizeof(words[0]))

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Request idx's prompt: about n_words words of varied text. Its first three
 * words spell idx (mixed with the run's seed) so no two prompts of a run
 * share even a short prefix a server-side cache could reuse. Returns a
 * malloc'd string or NULL. */
static char *synthetic_prompt(uint64_t seed, size_t idx, int n_words)
{
	size_t cap = (size_t)n_words * 16 + 64;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	uint64_t st = seed ^ (idx * 0xD6E8FEB86659FD93ull);
	uint64_t base = splitmix(&seed);
	size_t len = 0;
	int since_stop = 0, sentence_len = 8;
	for (int w = 0; w < n_words; w++) {
		size_t k;
		if (w < 3)
			k = ((base >> (8 * w)) + (idx >> (8 * w))) % N_WORDS;
		else
			k = splitmix(&st) % N_WORDS;
		const char *word = words[k];
		if (w)
			s[len++] = ' ';
		size_t wl = strlen(word);
		memcpy(s + len, word, wl);
		if (since_stop == 0)
			s[len] = (char)(s[len] - 'a' + 'A');
		len += wl;
		if (++since_stop == sentence_len) {
			s[len++] = '.';
			since_stop = 0;
			sentence_len = 6 + (int)(splitmix(&st) % 9);
		}
	}
	if (since_stop)
		s[len++] = '.';
	s[len] = '\0';
	return s;
}

/* ---- prompts from a file ---- */

static int load_prompts(struct run *run, const char *path)
{
	char err[256];
	char *text;
	size_t len;
	int rc = nrv_read_file(path, MAX_PROMPTS_FILE, &text, &len, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "nirvana load: --prompts: %s\n", err);
		return rc;
	}
	size_t cap = 0;
	size_t lineno = 0;
	for (char *p = text; p < text + len;) {
		char *nl = memchr(p, '\n', (size_t)(text + len - p));
		char *end = nl ? nl : text + len;
		lineno++;
		char *next = nl ? nl + 1 : text + len;
		if (end > p && end[-1] == '\r')
			end--;
		*end = '\0';
		char *prompt = NULL;
		if (end == p) {
			p = next;
			continue;
		}
		if (*p == '{' || *p == '"') {
			cJSON *j = cJSON_ParseWithLength(p, (size_t)(end - p));
			const cJSON *v = NULL;
			if (cJSON_IsString(j))
				v = j;
			else if (cJSON_IsObject(j)) {
				v = cJSON_GetObjectItemCaseSensitive(j, "prompt");
				if (!cJSON_IsString(v))
					v = cJSON_GetObjectItemCaseSensitive(j, "text");
			}
			if (!cJSON_IsString(v)) {
				fprintf(stderr, "nirvana load: %s:%zu: a JSON line must be a string or an object with a "
						"string \"prompt\" (or \"text\")\n", path, lineno);
				cJSON_Delete(j);
				free(text);
				return -EINVAL;
			}
			prompt = strdup(v->valuestring);
			cJSON_Delete(j);
		} else {
			prompt = strdup(p);
		}
		if (prompt && run->n_prompts == cap) {
			size_t nc = cap ? cap * 2 : 256;
			char **np = realloc(run->prompts, nc * sizeof(*np));
			if (np) {
				run->prompts = np;
				cap = nc;
			}
		}
		if (!prompt || run->n_prompts == cap) {
			free(prompt);
			free(text);
			return -ENOMEM;
		}
		run->prompts[run->n_prompts++] = prompt;
		p = next;
	}
	free(text);
	if (!run->n_prompts) {
		fprintf(stderr, "nirvana load: --prompts %s holds no prompts (one per line, or JSONL)\n", path);
		return -EINVAL;
	}
	return 0;
}

/* ---- request bodies ---- */

static char *request_body(const struct run *run, size_t idx)
{
	const struct load_opts *o = run->o;
	char *synth = NULL;
	const char *prompt;
	if (run->prompts) {
		prompt = run->prompts[idx % run->n_prompts];
	} else {
		synth = synthetic_prompt(run->word_seed, idx, o->prompt_words);
		if (!synth)
			return NULL;
		prompt = synth;
	}
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "model", run->model);
	if (o->endpoint == EP_CHAT) {
		cJSON *msgs = cJSON_AddArrayToObject(j, "messages");
		cJSON *m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "role", "user");
		cJSON_AddStringToObject(m, "content", prompt);
		cJSON_AddItemToArray(msgs, m);
	} else {
		cJSON_AddStringToObject(j, "prompt", prompt);
	}
	cJSON_AddNumberToObject(j, "max_tokens", o->max_tokens);
	cJSON_AddNumberToObject(j, "temperature", o->temperature);
	if (o->seed_given)
		cJSON_AddNumberToObject(j, "seed", (double)(o->seed & ((1ull << 53) - 1)));
	if (o->ignore_eos)
		cJSON_AddTrueToObject(j, "ignore_eos");
	if (o->stream) {
		cJSON_AddTrueToObject(j, "stream");
		cJSON *so = cJSON_AddObjectToObject(j, "stream_options");
		cJSON_AddTrueToObject(so, "include_usage");
	}
	char *s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	free(synth);
	return s;
}

/* ---- responses ---- */

static void record_error(struct slot *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void record_error(struct slot *s, const char *fmt, ...)
{
	struct req_result *r = s->r;
	s->failed = true;
	r->ok = false;
	if (r->error || s->run->errors_kept >= MAX_ERR_KEPT)
		return;
	char buf[MAX_ERR_BODY + 256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	r->error = strdup(buf);
	if (r->error)
		s->run->errors_kept++;
}

static int body_append(struct slot *s, const char *data, size_t n)
{
	if (s->body_len + n > s->body_max)
		n = s->body_max - s->body_len;
	if (s->body_len + n + 1 > s->body_cap) {
		size_t nc = s->body_cap ? s->body_cap : 4096;
		while (nc < s->body_len + n + 1)
			nc *= 2;
		char *nb = realloc(s->body, nc);
		if (!nb)
			return -ENOMEM;
		s->body = nb;
		s->body_cap = nc;
	}
	memcpy(s->body + s->body_len, data, n);
	s->body_len += n;
	s->body[s->body_len] = '\0';
	return 0;
}

/* The text a choice carries: "text" (completions) or the delta's / the
 * message's "content" or "reasoning_content" (chat). */
static const char *choice_text(const cJSON *choice)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(choice, "text");
	if (cJSON_IsString(t) && t->valuestring[0])
		return t->valuestring;
	static const char *const holders[] = { "delta", "message" };
	for (size_t i = 0; i < 2; i++) {
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(choice, holders[i]);
		if (!cJSON_IsObject(d))
			continue;
		t = cJSON_GetObjectItemCaseSensitive(d, "content");
		if (cJSON_IsString(t) && t->valuestring[0])
			return t->valuestring;
		t = cJSON_GetObjectItemCaseSensitive(d, "reasoning_content");
		if (cJSON_IsString(t) && t->valuestring[0])
			return t->valuestring;
	}
	return NULL;
}

static void take_usage(struct req_result *r, const cJSON *j)
{
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "usage");
	if (!cJSON_IsObject(u))
		return;
	const cJSON *ct = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens");
	const cJSON *pt = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens");
	if (cJSON_IsNumber(ct) && ct->valuedouble >= 0 && ct->valuedouble < 1e15)
		r->usage_out = (int64_t)ct->valuedouble;
	if (cJSON_IsNumber(pt) && pt->valuedouble >= 0 && pt->valuedouble < 1e15)
		r->usage_in = (int64_t)pt->valuedouble;
}

/* An "error" member (OpenAI's error shape, or a bare string). */
static bool take_error(struct slot *s, const cJSON *j, const char *where)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
	if (!e || cJSON_IsNull(e))
		return false;
	const cJSON *m = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "message") : e;
	record_error(s, "%s: %s", where, cJSON_IsString(m) ? m->valuestring : "error (no message)");
	return true;
}

static int on_event(void *ud, const char *event, const char *data, size_t len)
{
	struct slot *s = ud;
	struct req_result *r = s->r;
	if (!strcmp(event, "error")) {
		record_error(s, "HTTP %d, error event in the stream: %.*s", r->status, (int)(len < MAX_ERR_BODY ? len : MAX_ERR_BODY), data);
		return 1;
	}
	if (len == 6 && !memcmp(data, "[DONE]", 6)) {
		s->saw_done = true;
		return 0;
	}
	cJSON *j = cJSON_ParseWithLength(data, len);
	if (!j) {
		record_error(s, "HTTP %d, stream event is not JSON: %.*s", r->status, (int)(len < 200 ? len : 200), data);
		return 1;
	}
	if (take_error(s, j, "error in the stream")) {
		cJSON_Delete(j);
		return 1;
	}
	const cJSON *choices = cJSON_GetObjectItemCaseSensitive(j, "choices");
	const cJSON *c0 = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL;
	if (c0 && choice_text(c0)) {
		if (!r->t_first)
			r->t_first = s->t_read;
		else if (s->run->measuring && vec_push(&s->run->itl, s->t_read - r->t_last)) {
			cJSON_Delete(j);
			return -ENOMEM;
		}
		r->t_last = s->t_read;
		r->chunks++;
	}
	take_usage(r, j);
	cJSON_Delete(j);
	return 0;
}

static int on_head(void *ud, const struct nrv_http_head *h)
{
	struct slot *s = ud;
	s->r->status = h->status;
	s->sse_mode = h->status == 200 && !strncmp(h->content_type, "text/event-stream", 17);
	s->body_len = 0;
	s->body_max = h->status == 200 ? MAX_JSON_BODY : MAX_ERR_BODY;
	nrv_sse_reset(&s->sse);
	return 0;
}

static int on_body(void *ud, const char *data, size_t n)
{
	struct slot *s = ud;
	if (s->sse_mode) {
		s->t_read = nrv_httpc_now_ns();
		int rc = nrv_sse_feed(&s->sse, data, n, on_event, s);
		if (rc == -EMSGSIZE)
			record_error(s, "a stream event is larger than 1 MiB");
		else if (rc < 0)
			record_error(s, "parsing the stream: %s", strerror(-rc));
		return rc;
	}
	return body_append(s, data, n);
}

/* The response is complete (HTTP-wise): judge it. */
static void finish_response(struct slot *s)
{
	struct req_result *r = s->r;
	r->t_end = nrv_httpc_now_ns();
	if (r->status != 200) {
		record_error(s, "HTTP %d: %s", r->status, s->body_len ? s->body : "(empty body)");
		return;
	}
	if (s->sse_mode) {
		s->t_read = r->t_end;
		int rc = nrv_sse_finish(&s->sse, on_event, s);
		if (rc && !s->failed)
			record_error(s, "parsing the end of the stream: %s", rc < 0 ? strerror(-rc) : "stopped");
	} else {
		cJSON *j = cJSON_ParseWithLength(s->body ? s->body : "", s->body_len);
		if (!j) {
			record_error(s, "HTTP 200 but the body is not JSON: %.200s", s->body_len ? s->body : "(empty)");
			return;
		}
		if (!take_error(s, j, "HTTP 200 with an error")) {
			const cJSON *choices = cJSON_GetObjectItemCaseSensitive(j, "choices");
			const cJSON *c0 = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL;
			if (!c0)
				record_error(s, "HTTP 200 but the response has no choices: %.200s", s->body);
			else if (choice_text(c0))
				r->chunks = 1;
			take_usage(r, j);
		}
		cJSON_Delete(j);
	}
	if (!s->failed)
		r->ok = true;
}

/* ---- the run ---- */

static int start_request(struct run *run, struct slot *s, struct req_result *r, size_t idx)
{
	memset(r, 0, sizeof(*r));
	r->usage_in = r->usage_out = -1;
	s->r = r;
	s->failed = s->saw_done = s->sse_mode = false;
	s->body_len = 0;
	char *body = request_body(run, idx);
	if (!body) {
		record_error(s, "out of memory building request %zu", idx);
		return -ENOMEM;
	}
	const char *path = run->o->endpoint == EP_CHAT ? "/v1/chat/completions" : "/v1/completions";
	r->t_start = nrv_httpc_now_ns();
	int rc = nrv_httpc_start(&s->http, "POST", path, run->headers, body, strlen(body),
				 r->t_start + (int64_t)(run->o->timeout_s * 1e9));
	free(body);
	if (rc)
		record_error(s, "%s", s->http.err);
	return rc;
}

/* Send count requests numbered first.. with at most c in flight; results go
 * to res[0..count). Returns the wall time in ns, or -errno for a failure of
 * the client itself (not of requests). */
static int64_t run_phase(struct run *run, struct slot *slots, int c, size_t first, size_t count,
			 struct req_result *res)
{
	static const struct nrv_httpc_cb cb = { .on_head = on_head, .on_body = on_body };
	struct pollfd *pfd = calloc((size_t)c, sizeof(*pfd));
	int *who = calloc((size_t)c, sizeof(*who));
	if (!pfd || !who) {
		free(pfd);
		free(who);
		return -ENOMEM;
	}
	size_t next = 0, finished = 0;
	int64_t t0 = nrv_httpc_now_ns();
	while (finished < count) {
		for (int i = 0; i < c && next < count; i++) {
			if (slots[i].r)
				continue;
			size_t k = next++;
			if (start_request(run, &slots[i], &res[k], first + k)) {
				res[k].t_end = nrv_httpc_now_ns();
				slots[i].r = NULL;
				finished++;
			}
		}
		int np = 0;
		int64_t now = nrv_httpc_now_ns(), wait = INT64_MAX;
		for (int i = 0; i < c; i++) {
			if (!slots[i].r)
				continue;
			pfd[np] = (struct pollfd){ .fd = nrv_httpc_fd(&slots[i].http),
						    .events = nrv_httpc_events(&slots[i].http) };
			who[np++] = i;
			int64_t left = slots[i].http.deadline_ns - now;
			if (left < wait)
				wait = left;
		}
		if (np == 0)
			continue;
		int ms = wait <= 0 ? 0 : (int)((wait + 999999) / 1000000);
		if (poll(pfd, (nfds_t)np, ms) < 0 && errno != EINTR) {
			free(pfd);
			free(who);
			return -errno;
		}
		now = nrv_httpc_now_ns();
		for (int k = 0; k < np; k++) {
			struct slot *s = &slots[who[k]];
			int rc = 0;
			if (pfd[k].revents)
				rc = nrv_httpc_step(&s->http, pfd[k].revents, &cb, s);
			if (rc == 0 && s->http.state != NRV_HTTPC_IDLE && now >= s->http.deadline_ns)
				rc = nrv_httpc_timeout(&s->http);
			if (rc == 0)
				continue;
			if (rc > 0) {
				finish_response(s);
			} else {
				s->r->t_end = nrv_httpc_now_ns();
				if (!s->failed)
					record_error(s, "%s", s->http.err);
			}
			s->r = NULL;
			finished++;
		}
	}
	free(pfd);
	free(who);
	return nrv_httpc_now_ns() - t0;
}

/* ---- statistics ---- */

struct dist {
	size_t n;
	double mean, median, std, p50, p95, p99;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Percentile with linear interpolation between closest ranks (numpy's
 * default), of sorted v[0..n). */
static double pct(const double *v, size_t n, double p)
{
	double rank = p / 100.0 * (double)(n - 1);
	size_t lo = (size_t)rank;
	if (lo + 1 >= n)
		return v[n - 1];
	double f = rank - (double)lo;
	return v[lo] + (v[lo + 1] - v[lo]) * f;
}

/* Sorts v in place. */
static struct dist summarize(double *v, size_t n)
{
	struct dist d = { .n = n };
	if (!n)
		return d;
	qsort(v, n, sizeof(*v), cmp_double);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	d.mean = sum / (double)n;
	double ss = 0;
	for (size_t i = 0; i < n; i++)
		ss += (v[i] - d.mean) * (v[i] - d.mean);
	d.std = sqrt(ss / (double)n);
	d.median = d.p50 = pct(v, n, 50);
	d.p95 = pct(v, n, 95);
	d.p99 = pct(v, n, 99);
	return d;
}

struct summary {
	size_t completed, failed, no_usage;
	double duration_s;
	int64_t in_tokens, out_tokens;
	struct dist ttft, tpot, itl, e2el;	/* ms */
};

static int summarize_run(const struct run *run, const struct req_result *res, size_t n, int64_t wall_ns,
			 struct summary *sm)
{
	memset(sm, 0, sizeof(*sm));
	sm->duration_s = (double)wall_ns / 1e9;
	double *ttft = malloc((n + 1) * sizeof(double)), *tpot = malloc((n + 1) * sizeof(double));
	double *e2el = malloc((n + 1) * sizeof(double)), *itl = malloc((run->itl.n + 1) * sizeof(double));
	if (!ttft || !tpot || !e2el || !itl) {
		free(ttft);
		free(tpot);
		free(e2el);
		free(itl);
		return -ENOMEM;
	}
	size_t nt = 0, np = 0, ne = 0;
	for (size_t i = 0; i < n; i++) {
		const struct req_result *r = &res[i];
		if (!r->ok) {
			sm->failed++;
			continue;
		}
		sm->completed++;
		int64_t out = r->usage_out >= 0 ? r->usage_out : r->chunks;
		if (r->usage_out < 0)
			sm->no_usage++;
		sm->out_tokens += out;
		sm->in_tokens += r->usage_in > 0 ? r->usage_in : 0;
		e2el[ne++] = (double)(r->t_end - r->t_start) / 1e6;
		if (run->o->stream && r->t_first) {
			ttft[nt++] = (double)(r->t_first - r->t_start) / 1e6;
			if (out > 1)
				tpot[np++] = (double)(r->t_last - r->t_first) / 1e6 / (double)(out - 1);
		}
	}
	for (size_t i = 0; i < run->itl.n; i++)
		itl[i] = (double)run->itl.v[i] / 1e6;
	sm->ttft = summarize(ttft, nt);
	sm->tpot = summarize(tpot, np);
	sm->itl = summarize(itl, run->itl.n);
	sm->e2el = summarize(e2el, ne);
	free(ttft);
	free(tpot);
	free(e2el);
	free(itl);
	return 0;
}

static void print_rule(const char *title, char fill)
{
	int width = 50, tl = (int)strlen(title);
	int left = (width - tl) / 2, right = width - tl - left;
	for (int i = 0; i < left; i++)
		putchar(fill);
	fputs(title, stdout);
	for (int i = 0; i < right; i++)
		putchar(fill);
	putchar('\n');
}

static void print_row(const char *label, double v, int prec)
{
	printf("%-40s %-10.*f\n", label, prec, v);
}

static void print_dist(const char *title, const char *abbr, const struct dist *d)
{
	char label[64];
	print_rule(title, '-');
	if (!d->n) {
		printf("%-40s %s\n", "(not measured)", "n/a");
		return;
	}
	static const char *const names[] = { "Mean", "Median", "P95", "P99" };
	double vals[] = { d->mean, d->median, d->p95, d->p99 };
	for (int i = 0; i < 4; i++) {
		snprintf(label, sizeof(label), "%s %s (ms):", names[i], abbr);
		print_row(label, vals[i], 2);
	}
}

static void print_table(const struct run *run, const struct summary *sm)
{
	const struct load_opts *o = run->o;
	print_rule(" Serving Benchmark Result ", '=');
	printf("%-40s %-10zu\n", "Successful requests:", sm->completed);
	printf("%-40s %-10zu\n", "Failed requests:", sm->failed);
	printf("%-40s %-10d\n", "Maximum request concurrency:", o->c);
	print_row("Benchmark duration (s):", sm->duration_s, 2);
	printf("%-40s %-10lld\n", "Total input tokens:", (long long)sm->in_tokens);
	printf("%-40s %-10lld\n", "Total generated tokens:", (long long)sm->out_tokens);
	double d = sm->duration_s > 0 ? sm->duration_s : 1e-9;
	print_row("Request throughput (req/s):", (double)sm->completed / d, 2);
	print_row("Output token throughput (tok/s):", (double)sm->out_tokens / d, 2);
	print_row("Total Token throughput (tok/s):", (double)(sm->in_tokens + sm->out_tokens) / d, 2);
	if (o->stream) {
		print_dist("Time to First Token", "TTFT", &sm->ttft);
		print_dist("Time per Output Token (excl. 1st token)", "TPOT", &sm->tpot);
		print_dist("Inter-token Latency", "ITL", &sm->itl);
	}
	print_dist("End-to-end Latency", "E2EL", &sm->e2el);
	print_rule("", '=');
}

static void json_dist(cJSON *j, const char *key, const struct dist *d)
{
	static const char *const stats[] = { "mean", "median", "std", "p50", "p95", "p99" };
	double vals[] = { d->mean, d->median, d->std, d->p50, d->p95, d->p99 };
	char k[48];
	for (int i = 0; i < 6; i++) {
		snprintf(k, sizeof(k), "%s_%s_ms", stats[i], key);
		if (d->n)
			cJSON_AddNumberToObject(j, k, vals[i]);
		else
			cJSON_AddNullToObject(j, k);
	}
}

static int print_json(const struct run *run, const struct summary *sm, const struct req_result *res, size_t n)
{
	const struct load_opts *o = run->o;
	cJSON *j = cJSON_CreateObject();
	if (!j)
		return -ENOMEM;
	cJSON_AddStringToObject(j, "backend", "openai");
	cJSON_AddStringToObject(j, "model_id", run->model);
	cJSON_AddStringToObject(j, "base_url", o->url);
	cJSON_AddStringToObject(j, "endpoint", o->endpoint == EP_CHAT ? "/v1/chat/completions" : "/v1/completions");
	cJSON_AddNumberToObject(j, "num_prompts", o->n);
	cJSON_AddNumberToObject(j, "max_concurrency", o->c);
	cJSON_AddNumberToObject(j, "max_tokens", o->max_tokens);
	cJSON_AddNumberToObject(j, "warmup", o->warmup);
	cJSON_AddBoolToObject(j, "stream", o->stream);
	cJSON_AddBoolToObject(j, "ignore_eos", o->ignore_eos);
	char seed[24];
	snprintf(seed, sizeof(seed), "%llu", (unsigned long long)o->seed);
	cJSON_AddStringToObject(j, "seed", seed);
	cJSON_AddNumberToObject(j, "completed", (double)sm->completed);
	cJSON_AddNumberToObject(j, "failed", (double)sm->failed);
	cJSON_AddNumberToObject(j, "duration", sm->duration_s);
	cJSON_AddNumberToObject(j, "total_input_tokens", (double)sm->in_tokens);
	cJSON_AddNumberToObject(j, "total_output_tokens", (double)sm->out_tokens);
	cJSON_AddNumberToObject(j, "requests_without_usage", (double)sm->no_usage);
	double d = sm->duration_s > 0 ? sm->duration_s : 1e-9;
	cJSON_AddNumberToObject(j, "request_throughput", (double)sm->completed / d);
	cJSON_AddNumberToObject(j, "output_throughput", (double)sm->out_tokens / d);
	cJSON_AddNumberToObject(j, "total_token_throughput", (double)(sm->in_tokens + sm->out_tokens) / d);
	json_dist(j, "ttft", &sm->ttft);
	json_dist(j, "tpot", &sm->tpot);
	json_dist(j, "itl", &sm->itl);
	json_dist(j, "e2el", &sm->e2el);
	cJSON *errs = cJSON_AddArrayToObject(j, "errors");
	for (size_t i = 0; i < n; i++)
		if (res[i].error)
			cJSON_AddItemToArray(errs, cJSON_CreateString(res[i].error));
	char *s = cJSON_Print(j);
	cJSON_Delete(j);
	if (!s)
		return -ENOMEM;
	puts(s);
	free(s);
	return 0;
}

/* ---- set-up ---- */

static int discover_model(struct run *run, char **out)
{
	char err[300];
	int status = 0;
	char *body = NULL;
	double t = run->o->timeout_s < 30 ? run->o->timeout_s : 30;
	int rc = nrv_httpc_fetch(&run->url, "GET", "/v1/models", run->headers, NULL, t, 1 << 20, &status, &body,
				 err, sizeof(err));
	if (rc) {
		fprintf(stderr, "nirvana load: GET %s/v1/models: %s\n", run->o->url, err);
		return rc;
	}
	cJSON *j = status == 200 ? cJSON_Parse(body) : NULL;
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(data, 0), "id");
	if (!cJSON_IsString(id)) {
		fprintf(stderr, "nirvana load: GET %s/v1/models gave HTTP %d without a model id (%.200s); "
				"name the model with --model\n", run->o->url, status, body);
		cJSON_Delete(j);
		free(body);
		return -EPROTO;
	}
	*out = strdup(id->valuestring);
	cJSON_Delete(j);
	free(body);
	return *out ? 0 : -ENOMEM;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nirvana load [options]\n\n"
		"Serving benchmark: send requests to an OpenAI-compatible HTTP server\n"
		"(nirvana serve, llama-server, vLLM, ...) and report throughput and\n"
		"latency as `vllm bench serve` does.\n\n"
		"options:\n"
		"      --url URL          server base URL (default http://127.0.0.1:8080)\n"
		"      --model NAME       model to ask for (default: the first id of GET /v1/models)\n"
		"  -n, --num-prompts N    measured requests (default 100)\n"
		"  -c, --concurrency N    requests in flight at once, one connection each (default 1)\n"
		"      --max-tokens N     output tokens asked per request (default 64)\n"
		"      --endpoint E       completions (POST /v1/completions, default) or chat\n"
		"                         (POST /v1/chat/completions)\n"
		"      --prompts FILE     prompts, one per line; a line that starts with '{' or '\"'\n"
		"                         is JSON: a string, or an object with \"prompt\" or \"text\".\n"
		"                         Requests cycle through them\n"
		"      --prompt-len L     synthetic prompts of about L tokens: short (32), medium (128,\n"
		"                         default), long (512) or a number; every request's prompt\n"
		"                         is different from its first words on\n"
		"      --stream           stream the responses (SSE; default: needed for TTFT, TPOT, ITL)\n"
		"      --no-stream        ask for whole responses (only E2EL is measured)\n"
		"      --warmup N         unmeasured requests sent first (default 0)\n"
		"      --seed N           seeds the synthetic prompts and is sent with each request\n"
		"                         (default: a random seed, so reruns cannot hit a cache)\n"
		"      --temperature T    sampling temperature sent (default 0)\n"
		"      --ignore-eos       send ignore_eos: true so every request makes max-tokens tokens\n"
		"      --timeout S        seconds a request may take, connecting included (default 300)\n"
		"      --api-key KEY      send Authorization: Bearer KEY (default: $OPENAI_API_KEY if set)\n"
		"      --json             print the results as JSON (vllm bench serve's key names)\n"
		"  -h, --help             this help\n\n"
		"Exit status: 0 when every request succeeded, 1 when any failed (the first\n"
		"errors are printed on stderr with their HTTP status and body), 2 for usage errors.\n");
}

static int parse_prompt_len(const char *s, int *out)
{
	if (!strcmp(s, "short"))
		*out = 32;
	else if (!strcmp(s, "medium"))
		*out = 128;
	else if (!strcmp(s, "long"))
		*out = 512;
	else
		return nrv_parse_int(s, 1, 1 << 20, out);
	return 0;
}

/* Synthetic prompt words for about `tokens` tokens: the word list averages
 * a little over one token per word once capitals and full stops count. */
static int words_for_tokens(int tokens)
{
	int w = (int)((double)tokens / 1.12 + 0.5);
	return w < 1 ? 1 : w;
}

int nrv_cmd_load(int argc, char **argv)
{
	enum {
		OPT_URL = 256, OPT_MODEL, OPT_MAX_TOKENS, OPT_ENDPOINT, OPT_PROMPTS, OPT_PROMPT_LEN, OPT_STREAM,
		OPT_NO_STREAM, OPT_WARMUP, OPT_SEED, OPT_TEMP, OPT_IGNORE_EOS, OPT_TIMEOUT, OPT_API_KEY, OPT_JSON,
	};
	static const struct option opts[] = {
		{ "url", required_argument, NULL, OPT_URL },
		{ "base-url", required_argument, NULL, OPT_URL },
		{ "model", required_argument, NULL, OPT_MODEL },
		{ "num-prompts", required_argument, NULL, 'n' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "max-concurrency", required_argument, NULL, 'c' },
		{ "max-tokens", required_argument, NULL, OPT_MAX_TOKENS },
		{ "endpoint", required_argument, NULL, OPT_ENDPOINT },
		{ "prompts", required_argument, NULL, OPT_PROMPTS },
		{ "prompt-len", required_argument, NULL, OPT_PROMPT_LEN },
		{ "stream", no_argument, NULL, OPT_STREAM },
		{ "no-stream", no_argument, NULL, OPT_NO_STREAM },
		{ "warmup", required_argument, NULL, OPT_WARMUP },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "temperature", required_argument, NULL, OPT_TEMP },
		{ "temp", required_argument, NULL, OPT_TEMP },
		{ "ignore-eos", no_argument, NULL, OPT_IGNORE_EOS },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "api-key", required_argument, NULL, OPT_API_KEY },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct load_opts o = {
		.url = "http://127.0.0.1:8080",
		.n = 100,
		.c = 1,
		.max_tokens = 64,
		.prompt_words = 0,
		.stream = true,
		.timeout_s = 300,
		.api_key = getenv("OPENAI_API_KEY"),
	};
	int prompt_tokens = 128;
	float f;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "n:c:h", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_URL: o.url = optarg; break;
		case OPT_MODEL: o.model = optarg; break;
		case 'n':
			if (nrv_parse_int(optarg, 1, 100000000, &o.n)) {
				fprintf(stderr, "nirvana load: -n '%s': give a request count from 1 to 10^8\n", optarg);
				return 2;
			}
			break;
		case 'c':
			if (nrv_parse_int(optarg, 1, 4096, &o.c)) {
				fprintf(stderr, "nirvana load: -c '%s': give a concurrency from 1 to 4096\n", optarg);
				return 2;
			}
			break;
		case OPT_MAX_TOKENS:
			if (nrv_parse_int(optarg, 1, 1 << 20, &o.max_tokens)) {
				fprintf(stderr, "nirvana load: --max-tokens '%s': give a number from 1 to 1048576\n", optarg);
				return 2;
			}
			break;
		case OPT_ENDPOINT:
			if (!strcmp(optarg, "completions"))
				o.endpoint = EP_COMPLETIONS;
			else if (!strcmp(optarg, "chat"))
				o.endpoint = EP_CHAT;
			else {
				fprintf(stderr, "nirvana load: --endpoint '%s': use completions or chat\n", optarg);
				return 2;
			}
			break;
		case OPT_PROMPTS: o.prompts_file = optarg; break;
		case OPT_PROMPT_LEN:
			if (parse_prompt_len(optarg, &prompt_tokens)) {
				fprintf(stderr, "nirvana load: --prompt-len '%s': use short, medium, long or a token count\n",
					optarg);
				return 2;
			}
			break;
		case OPT_STREAM: o.stream = true; break;
		case OPT_NO_STREAM: o.stream = false; break;
		case OPT_WARMUP:
			if (nrv_parse_int(optarg, 0, 1000000, &o.warmup)) {
				fprintf(stderr, "nirvana load: --warmup '%s': give a count from 0 to 10^6\n", optarg);
				return 2;
			}
			break;
		case OPT_SEED:
			if (nrv_parse_u64(optarg, &o.seed)) {
				fprintf(stderr, "nirvana load: --seed '%s' is not a non-negative integer\n", optarg);
				return 2;
			}
			o.seed_given = true;
			break;
		case OPT_TEMP:
			if (nrv_parse_float(optarg, 0, 100, &o.temperature)) {
				fprintf(stderr, "nirvana load: --temperature '%s': give a number from 0 to 100\n", optarg);
				return 2;
			}
			break;
		case OPT_IGNORE_EOS: o.ignore_eos = true; break;
		case OPT_TIMEOUT:
			if (nrv_parse_float(optarg, 0.001f, 86400, &f)) {
				fprintf(stderr, "nirvana load: --timeout '%s': give seconds from 0.001 to 86400\n", optarg);
				return 2;
			}
			o.timeout_s = f;
			break;
		case OPT_API_KEY: o.api_key = optarg; break;
		case OPT_JSON: o.json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "nirvana load: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	o.prompt_words = words_for_tokens(prompt_tokens);
	if (!o.seed_given)
		o.seed = nrv_random_seed();
	if (o.api_key && (!*o.api_key || strpbrk(o.api_key, "\r\n"))) {
		fprintf(stderr, "nirvana load: the API key is empty or holds a line break\n");
		return 2;
	}

	struct run run = { .o = &o, .word_seed = o.seed };
	char err[300];
	if (nrv_url_parse(o.url, &run.url, err, sizeof(err))) {
		fprintf(stderr, "nirvana load: --url %s\n", err);
		return 2;
	}
	int status = 1;
	char *model = NULL;
	struct slot *slots = NULL;
	struct req_result *res = NULL, *wres = NULL;
	int c = o.c;
	size_t hl = 256 + (o.api_key ? strlen(o.api_key) : 0);
	run.headers = malloc(hl);
	if (!run.headers)
		goto out;
	snprintf(run.headers, hl, "Content-Type: application/json\r\nAccept: %s\r\n%s%s%s",
		 o.stream ? "text/event-stream" : "application/json", o.api_key ? "Authorization: Bearer " : "",
		 o.api_key ? o.api_key : "", o.api_key ? "\r\n" : "");
	if (nrv_url_resolve(&run.url, err, sizeof(err))) {
		fprintf(stderr, "nirvana load: --url %s: %s\n", o.url, err);
		goto out;
	}
	if (o.prompts_file && load_prompts(&run, o.prompts_file))
		goto out;
	if (o.model) {
		model = strdup(o.model);
	} else if (discover_model(&run, &model)) {
		goto out;
	}
	if (!model)
		goto out;
	run.model = model;

	slots = calloc((size_t)c, sizeof(*slots));
	res = calloc((size_t)o.n, sizeof(*res));
	wres = calloc((size_t)o.warmup + 1, sizeof(*wres));
	if (!slots || !res || !wres) {
		fprintf(stderr, "nirvana load: out of memory\n");
		goto out;
	}
	for (int i = 0; i < c; i++) {
		slots[i].run = &run;
		nrv_sse_init(&slots[i].sse, 0);
		if (nrv_httpc_init(&slots[i].http, &run.url)) {
			fprintf(stderr, "nirvana load: out of memory\n");
			goto out;
		}
	}
	if (!o.json)
		fprintf(stderr, "nirvana load: %s %s, model %s, %d requests (%d warm-up), concurrency %d, %s prompts, "
				"max_tokens %d, seed %llu\n", o.url, o.endpoint == EP_CHAT ? "chat" : "completions", model,
			o.n, o.warmup, c, o.prompts_file ? "file" : "synthetic", o.max_tokens,
			(unsigned long long)o.seed);
	if (o.warmup) {
		/* Warm-up requests use prompt numbers after the measured ones, so
		 * they cannot prime a cache for them. */
		run.measuring = false;
		int64_t w = run_phase(&run, slots, c < o.warmup ? c : o.warmup, (size_t)o.n, (size_t)o.warmup, wres);
		if (w < 0) {
			fprintf(stderr, "nirvana load: %s\n", strerror((int)-w));
			goto out;
		}
		size_t wf = 0;
		const char *first_err = NULL;
		for (int i = 0; i < o.warmup; i++) {
			wf += !wres[i].ok;
			if (!first_err && wres[i].error)
				first_err = wres[i].error;
		}
		if (wf)
			fprintf(stderr, "nirvana load: %zu of %d warm-up requests failed (first: %s)\n", wf, o.warmup,
				first_err ? first_err : "no message");
	}
	run.measuring = true;
	run.errors_kept = 0;
	int64_t wall = run_phase(&run, slots, c < o.n ? c : o.n, 0, (size_t)o.n, res);
	if (wall < 0) {
		fprintf(stderr, "nirvana load: %s\n", strerror((int)-wall));
		goto out;
	}
	struct summary sm;
	if (summarize_run(&run, res, (size_t)o.n, wall, &sm)) {
		fprintf(stderr, "nirvana load: out of memory\n");
		goto out;
	}
	if (o.json ? print_json(&run, &sm, res, (size_t)o.n) : (print_table(&run, &sm), 0))
		goto out;
	fflush(stdout);
	if (sm.no_usage)
		fprintf(stderr, "nirvana load: %zu responses carried no usage: their output tokens are counted as text "
				"chunks and their input tokens as 0\n", sm.no_usage);
	if (sm.failed) {
		int shown = 0;
		for (int i = 0; i < o.n && shown < MAX_ERR_PRINT; i++) {
			if (res[i].error) {
				fprintf(stderr, "nirvana load: request %d failed: %s\n", i, res[i].error);
				shown++;
			}
		}
		fprintf(stderr, "nirvana load: %zu of %d requests failed\n", sm.failed, o.n);
		status = 1;
	} else {
		status = 0;
	}
out:
	if (slots) {
		for (int i = 0; i < c; i++) {
			nrv_httpc_fini(&slots[i].http);
			nrv_sse_fini(&slots[i].sse);
			free(slots[i].body);
		}
	}
	if (res)
		for (int i = 0; i < o.n; i++)
			free(res[i].error);
	if (wres)
		for (int i = 0; i < o.warmup; i++)
			free(wres[i].error);
	for (size_t i = 0; i < run.n_prompts; i++)
		free(run.prompts[i]);
	free(run.prompts);
	free(run.itl.v);
	free(run.headers);
	free(model);
	free(slots);
	free(res);
	free(wres);
	return status;
}
