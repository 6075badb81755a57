/*
 * src/api_req.c - OpenAI request bodies to engine requests (see api_req.h).
 *
 * The body is parsed once with cJSON; every field is then checked for its
 * type and range before anything is copied, so a bad field is reported by
 * name and nothing half-built escapes.
 */
#include "api_req.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"

int nrv_api_err_set(struct nrv_api_err *e, int status, const char *param, const char *fmt, ...)
{
	e->status = status;
	snprintf(e->param, sizeof(e->param), "%s", param ? param : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static const char *type_name(const cJSON *v)
{
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsArray(v))
		return "an array";
	if (cJSON_IsObject(v))
		return "an object";
	return "null";
}

/* The field, or NULL when absent or null (both mean "not given"). */
static const cJSON *field(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	return v && !cJSON_IsNull(v) ? v : NULL;
}

/* 1 when given (value in *out), 0 when not, -EINVAL with *e set. */
static int get_num(const cJSON *obj, const char *name, double lo, double hi, double *out,
		   struct nrv_api_err *e)
{
	const cJSON *v = field(obj, name);
	if (!v)
		return 0;
	if (!cJSON_IsNumber(v))
		return nrv_api_err_set(e, 400, name, "'%s' must be a number, not %s", name, type_name(v));
	if (!isfinite(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
		return nrv_api_err_set(e, 400, name, "'%s' must be between %g and %g (got %g)", name, lo,
				       hi, v->valuedouble);
	*out = v->valuedouble;
	return 1;
}

static int get_int(const cJSON *obj, const char *name, double lo, double hi, int64_t *out,
		   struct nrv_api_err *e)
{
	const cJSON *v = field(obj, name);
	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
		return nrv_api_err_set(e, 400, name, "'%s' must be an integer, not %s", name,
				       cJSON_IsNumber(v) ? "a fraction" : type_name(v));
	if (v->valuedouble < lo || v->valuedouble > hi)
		return nrv_api_err_set(e, 400, name, "'%s' must be between %.0f and %.0f (got %.0f)", name,
				       lo, hi, v->valuedouble);
	*out = (int64_t)v->valuedouble;
	return 1;
}

static int get_bool(const cJSON *obj, const char *name, bool *out, struct nrv_api_err *e)
{
	const cJSON *v = field(obj, name);
	if (!v)
		return 0;
	if (!cJSON_IsBool(v))
		return nrv_api_err_set(e, 400, name, "'%s' must be true or false, not %s", name,
				       type_name(v));
	*out = cJSON_IsTrue(v);
	return 1;
}

static int parse_stop(struct nrv_api_req *r, const cJSON *obj, struct nrv_api_err *e)
{
	const cJSON *v = field(obj, "stop");
	if (!v)
		return 0;
	const cJSON *items[NRV_API_MAX_STOP];
	int n = 0;
	if (cJSON_IsString(v)) {
		items[n++] = v;
	} else if (cJSON_IsArray(v)) {
		int size = cJSON_GetArraySize(v);
		if (size > NRV_API_MAX_STOP)
			return nrv_api_err_set(e, 400, "stop", "'stop' takes at most %d strings (got %d)",
					       NRV_API_MAX_STOP, size);
		const cJSON *s;
		cJSON_ArrayForEach(s, v) {
			if (!cJSON_IsString(s))
				return nrv_api_err_set(e, 400, "stop",
						       "'stop' must hold strings, not %s", type_name(s));
			items[n++] = s;
		}
	} else {
		return nrv_api_err_set(e, 400, "stop", "'stop' must be a string or an array of strings, not %s",
				       type_name(v));
	}
	for (int i = 0; i < n; i++) {
		size_t l = strlen(items[i]->valuestring);
		if (l >= NRV_API_STOP_BYTES)
			return nrv_api_err_set(e, 400, "stop", "a stop string may be at most %d bytes (got %zu)",
					       NRV_API_STOP_BYTES - 1, l);
		if (!l)
			continue;
		memcpy(r->stop[r->n_stop], items[i]->valuestring, l + 1);
		r->stop_len[r->n_stop++] = l;
	}
	return 0;
}

static int parse_sampling(struct nrv_api_req *r, const cJSON *o, struct nrv_api_err *e)
{
	double d;
	int64_t i;
	int rc;
	if ((rc = get_num(o, "temperature", 0, 100, &d, e)) < 0)
		return rc;
	if (rc)
		r->sp.temperature = (float)d;
	if ((rc = get_num(o, "top_p", 0, 1, &d, e)) < 0)
		return rc;
	if (rc)
		r->sp.top_p = (float)d;
	if ((rc = get_int(o, "top_k", -1, 1 << 24, &i, e)) < 0)
		return rc;
	if (rc)
		r->sp.top_k = i < 0 ? 0 : (int)i;
	if ((rc = get_num(o, "min_p", 0, 1, &d, e)) < 0)
		return rc;
	if (rc)
		r->sp.min_p = (float)d;
	if ((rc = get_num(o, "presence_penalty", -2, 2, &d, e)) < 0)
		return rc;
	if (rc)
		r->sp.presence_penalty = (float)d;
	if ((rc = get_num(o, "frequency_penalty", -2, 2, &d, e)) < 0)
		return rc;
	if (rc)
		r->sp.frequency_penalty = (float)d;
	static const char *const rep[] = { "repeat_penalty", "repetition_penalty" };
	for (int k = 0; k < 2; k++) {
		if ((rc = get_num(o, rep[k], 0, 100, &d, e)) < 0)
			return rc;
		if (rc && d <= 0)
			return nrv_api_err_set(e, 400, rep[k], "'%s' must be above 0 (1 turns it off)", rep[k]);
		if (rc)
			r->sp.repeat_penalty = (float)d;
	}
	/* OpenAI seeds are 64-bit signed; any integer a double holds exactly */
	if ((rc = get_int(o, "seed", -9007199254740992.0, 9007199254740992.0, &i, e)) < 0)
		return rc;
	if (rc) {
		r->sp.seed = (uint64_t)i;
		r->has_seed = true;
	}
	return 0;
}

static int parse_common(struct nrv_api_req *r, const cJSON *o, struct nrv_api_err *e)
{
	const cJSON *v;
	int64_t i;
	int rc;
	if ((v = field(o, "model"))) {
		if (!cJSON_IsString(v))
			return nrv_api_err_set(e, 400, "model", "'model' must be a string, not %s", type_name(v));
		if (strlen(v->valuestring) >= sizeof(r->model))
			return nrv_api_err_set(e, 404, "model", "no model is named '%.60s...'", v->valuestring);
		snprintf(r->model, sizeof(r->model), "%s", v->valuestring);
	}
	if ((v = field(o, "n"))) {
		if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
			return nrv_api_err_set(e, 400, "n", "'n' must be an integer, not %s", type_name(v));
		if (v->valuedouble != 1)
			return nrv_api_err_set(e, 400, "n", "'n' must be 1: nirvana returns one choice per "
					       "request (got %g); send separate requests instead", v->valuedouble);
	}
	if ((v = field(o, "best_of")) &&
	    (!cJSON_IsNumber(v) || v->valuedouble != 1))
		return nrv_api_err_set(e, 400, "best_of", "'best_of' must be 1: nirvana returns the one "
				       "choice it generates");
	static const char *const mt[] = { "max_tokens", "max_completion_tokens" };
	for (int k = 0; k < 2; k++) {
		if ((rc = get_int(o, mt[k], -1e15, 1e15, &i, e)) < 0)
			return rc;
		if (rc && i < 1)
			return nrv_api_err_set(e, 400, mt[k], "'%s' must be at least 1 (got %lld)", mt[k],
					       (long long)i);
		if (rc)
			r->max_tokens = i > (1 << 30) ? 1 << 30 : (int)i;
	}
	if ((rc = parse_sampling(r, o, e)) < 0)
		return rc;
	if ((rc = parse_stop(r, o, e)) < 0)
		return rc;
	if ((rc = get_bool(o, "stream", &r->stream, e)) < 0)
		return rc;
	if ((v = field(o, "stream_options"))) {
		if (!cJSON_IsObject(v))
			return nrv_api_err_set(e, 400, "stream_options", "'stream_options' must be an object, not %s",
					       type_name(v));
		if ((rc = get_bool(v, "include_usage", &r->include_usage, e)) < 0) {
			snprintf(e->param, sizeof(e->param), "stream_options.include_usage");
			return rc;
		}
	}
	if ((v = field(o, "user")) && !cJSON_IsString(v))
		return nrv_api_err_set(e, 400, "user", "'user' must be a string, not %s", type_name(v));
	if ((rc = get_bool(o, "ignore_eos", &r->ignore_eos, e)) < 0)
		return rc;
	return 0;
}

/* Completions: "logprobs" is how many alternatives (0..20) to report. */
static int parse_completion(struct nrv_api_req *r, const cJSON *o, struct nrv_api_err *e)
{
	int64_t i;
	int rc = get_int(o, "logprobs", 0, NRV_API_MAX_TOP_LOGPROBS, &i, e);
	if (rc < 0)
		return rc;
	if (rc) {
		r->logprobs = true;
		r->top_logprobs = (int)i;
	}
	const cJSON *v;
	if ((v = field(o, "echo")) && cJSON_IsTrue(v))
		return nrv_api_err_set(e, 400, "echo", "'echo' is not supported: the prompt is not repeated "
				       "in the answer");
	v = field(o, "prompt");
	if (!v)
		return nrv_api_err_set(e, 400, "prompt", "'prompt' is required");
	if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 1 && cJSON_IsString(cJSON_GetArrayItem(v, 0)))
		v = cJSON_GetArrayItem(v, 0);
	if (cJSON_IsString(v)) {
		size_t l = strlen(v->valuestring);
		if (!l)
			return nrv_api_err_set(e, 400, "prompt", "'prompt' is empty");
		if (!(r->text = malloc(l + 1)))
			return -ENOMEM;
		memcpy(r->text, v->valuestring, l + 1);
		r->text_len = l;
		return 0;
	}
	if (!cJSON_IsArray(v))
		return nrv_api_err_set(e, 400, "prompt", "'prompt' must be a string or an array of token ids, "
				       "not %s", type_name(v));
	int n = cJSON_GetArraySize(v);
	if (n == 0)
		return nrv_api_err_set(e, 400, "prompt", "'prompt' is empty");
	const cJSON *t = cJSON_GetArrayItem(v, 0);
	if (cJSON_IsString(t) || cJSON_IsArray(t))
		return nrv_api_err_set(e, 400, "prompt", "one prompt per request: 'prompt' holds %d; send "
				       "separate requests instead", n);
	if (!(r->tokens = malloc((size_t)n * sizeof(int32_t))))
		return -ENOMEM;
	cJSON_ArrayForEach(t, v) {
		if (!cJSON_IsNumber(t) || t->valuedouble != floor(t->valuedouble) || t->valuedouble < 0 ||
		    t->valuedouble > INT32_MAX)
			return nrv_api_err_set(e, 400, "prompt", "'prompt' as an array must hold token ids "
					       "(non-negative integers)");
		r->tokens[r->n_tokens++] = (int32_t)t->valuedouble;
	}
	return 0;
}

static int role_of(const char *s)
{
	if (!strcmp(s, "system") || !strcmp(s, "developer"))
		return NRV_CHAT_SYSTEM;
	if (!strcmp(s, "user"))
		return NRV_CHAT_USER;
	if (!strcmp(s, "assistant"))
		return NRV_CHAT_ASSISTANT;
	return -1;
}

/* Text of a message's content: the string itself, or the text parts joined
 * by newlines into storage appended to *owned (freed by the caller). */
static int content_text(const cJSON *c, int idx, bool may_be_null, char **owned, const char **out,
			size_t *len, struct nrv_api_err *e)
{
	char param[48];
	snprintf(param, sizeof(param), "messages[%d].content", idx);
	if (!c || cJSON_IsNull(c)) {
		if (!may_be_null)
			return nrv_api_err_set(e, 400, param, "'%s' is required", param);
		*out = "";
		*len = 0;
		return 0;
	}
	if (cJSON_IsString(c)) {
		*out = c->valuestring;
		*len = strlen(c->valuestring);
		return 0;
	}
	if (!cJSON_IsArray(c))
		return nrv_api_err_set(e, 400, param, "'%s' must be a string or an array of text parts, not %s",
				       param, type_name(c));
	size_t total = 0;
	const cJSON *p;
	cJSON_ArrayForEach(p, c) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(p, "type");
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(p, "text");
		if (!cJSON_IsObject(p) || !cJSON_IsString(type))
			return nrv_api_err_set(e, 400, param, "each part of '%s' must be an object with a "
					       "\"type\"", param);
		if (strcmp(type->valuestring, "text"))
			return nrv_api_err_set(e, 400, param, "'%s' has a part of type '%.40s': only \"text\" "
					       "parts are supported", param, type->valuestring);
		if (!cJSON_IsString(text))
			return nrv_api_err_set(e, 400, param, "a text part of '%s' needs \"text\" as a string",
					       param);
		total += strlen(text->valuestring) + 1;
	}
	char *buf = malloc(total + 1);
	if (!buf)
		return -ENOMEM;
	*owned = buf;
	size_t n = 0;
	cJSON_ArrayForEach(p, c) {
		const char *t = cJSON_GetObjectItemCaseSensitive(p, "text")->valuestring;
		if (n)
			buf[n++] = '\n';
		size_t l = strlen(t);
		memcpy(buf + n, t, l);
		n += l;
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	return 0;
}

static int parse_chat(struct nrv_api_req *r, const cJSON *o, const struct nrv_chat_tmpl *tmpl,
		      struct nrv_api_err *e)
{
	const cJSON *v;
	int rc;
	if ((rc = get_bool(o, "logprobs", &r->logprobs, e)) < 0)
		return rc;
	int64_t i;
	if ((rc = get_int(o, "top_logprobs", 0, NRV_API_MAX_TOP_LOGPROBS, &i, e)) < 0)
		return rc;
	if (rc) {
		if (!r->logprobs && i > 0)
			return nrv_api_err_set(e, 400, "top_logprobs", "'top_logprobs' needs \"logprobs\": true");
		r->top_logprobs = (int)i;
	}
	v = field(o, "messages");
	if (!v)
		return nrv_api_err_set(e, 400, "messages", "'messages' is required");
	if (!cJSON_IsArray(v))
		return nrv_api_err_set(e, 400, "messages", "'messages' must be an array, not %s", type_name(v));
	int n = cJSON_GetArraySize(v);
	if (n == 0)
		return nrv_api_err_set(e, 400, "messages", "'messages' is empty");
	if (n > NRV_API_MAX_MESSAGES)
		return nrv_api_err_set(e, 400, "messages", "'messages' holds %d messages; at most %d", n,
				       NRV_API_MAX_MESSAGES);
	struct nrv_chat_msg *msgs = calloc((size_t)n, sizeof(*msgs));
	char **owned = calloc((size_t)n, sizeof(*owned));
	rc = -ENOMEM;
	if (!msgs || !owned)
		goto out;
	int k = 0;
	const cJSON *m;
	cJSON_ArrayForEach(m, v) {
		char param[48];
		snprintf(param, sizeof(param), "messages[%d]", k);
		if (!cJSON_IsObject(m)) {
			rc = nrv_api_err_set(e, 400, param, "'%s' must be an object, not %s", param, type_name(m));
			goto out;
		}
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
		snprintf(param, sizeof(param), "messages[%d].role", k);
		if (!cJSON_IsString(role)) {
			rc = nrv_api_err_set(e, 400, param, "'%s' must be a string (system, user or assistant)",
					     param);
			goto out;
		}
		int ro = role_of(role->valuestring);
		if (ro < 0) {
			rc = nrv_api_err_set(e, 400, param, "'%s' is '%.40s': nirvana takes system, developer, "
					     "user and assistant messages", param, role->valuestring);
			goto out;
		}
		msgs[k].role = ro;
		if ((rc = content_text(cJSON_GetObjectItemCaseSensitive(m, "content"), k,
				       ro == NRV_CHAT_ASSISTANT, &owned[k], &msgs[k].content, &msgs[k].len, e)))
			goto out;
		k++;
	}
	if (!tmpl) {
		rc = nrv_api_err_set(e, 400, "messages", "this model has no chat template nirvana can render: "
				     "use /v1/completions with a prompt you format yourself");
		goto out;
	}
	int need = nrv_chat_apply(tmpl, msgs, n, true, NULL, 0);
	if (need < 0) {
		rc = need == -ENOMEM ? -ENOMEM
				     : nrv_api_err_set(e, 400, "messages", "cannot render the conversation with "
						       "the model's chat template (%s)", strerror(-need));
		goto out;
	}
	rc = -ENOMEM;
	if (!(r->text = malloc((size_t)need + 1)))
		goto out;
	nrv_chat_apply(tmpl, msgs, n, true, r->text, (size_t)need + 1);
	r->text_len = (size_t)need;
	rc = 0;
out:
	if (owned)
		for (int j = 0; j < n; j++)
			free(owned[j]);
	free(owned);
	free(msgs);
	return rc;
}

int nrv_api_req_parse(struct nrv_api_req *r, int kind, const char *body, size_t len,
		      const struct nrv_chat_tmpl *tmpl, struct nrv_api_err *e)
{
	memset(r, 0, sizeof(*r));
	memset(e, 0, sizeof(*e));
	r->kind = kind;
	r->max_tokens = -1;
	r->sp = nrv_sampler_defaults();
	cJSON *root = cJSON_ParseWithLength(body, len);
	if (!root)
		return nrv_api_err_set(e, 400, NULL, "the body is not valid JSON");
	int rc;
	if (!cJSON_IsObject(root)) {
		rc = nrv_api_err_set(e, 400, NULL, "the body must be a JSON object, not %s", type_name(root));
		goto out;
	}
	if ((rc = parse_common(r, root, e)))
		goto out;
	if (kind == NRV_API_CHAT)
		rc = parse_chat(r, root, tmpl, e);
	else
		rc = parse_completion(r, root, e);
out:
	cJSON_Delete(root);
	if (rc == -ENOMEM)
		nrv_api_err_set(e, 500, NULL, "out of memory while reading the request");
	return rc;
}

void nrv_api_req_fini(struct nrv_api_req *r)
{
	if (!r)
		return;
	free(r->text);
	free(r->tokens);
	r->text = NULL;
	r->tokens = NULL;
}
