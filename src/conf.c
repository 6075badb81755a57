/*
 * src/conf.c - the server's JSON configuration (see conf.h).
 *
 * Each group is a table of keys with a type, a range and where the value
 * goes, so that checking a key, naming it in an error and documenting it
 * stay one line each.
 */
#include "conf.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum key_type { K_INT, K_BOOL, K_STR, K_CORES };

struct key {
	const char *name;
	int type;          /* enum key_type */
	size_t off;        /* offsetof in struct nrv_conf */
	int lo, hi;        /* K_INT range; K_STR: hi = buffer size */
};

#define INT_KEY(n, f, l, h) { n, K_INT, offsetof(struct nrv_conf, f), l, h }
#define BOOL_KEY(n, f) { n, K_BOOL, offsetof(struct nrv_conf, f), 0, 0 }
#define STR_KEY(n, f) { n, K_STR, offsetof(struct nrv_conf, f), 0, \
			(int)sizeof(((struct nrv_conf *)0)->f) }

static const struct key listen_keys[] = {
	STR_KEY("host", host),
	INT_KEY("port", port, 0, 65535),
	STR_KEY("api_key", api_key),
	{ 0 },
};

static const struct key engine_keys[] = {
	INT_KEY("threads", threads, 0, 1024),
	{ "cores", K_CORES, 0, 0, 0 },
	INT_KEY("context", context, 0, 1 << 24),
	INT_KEY("kv_blocks", kv_blocks, 0, 1 << 24),
	INT_KEY("block_tokens", block_tokens, 0, 4096),
	INT_KEY("step_tokens", step_tokens, 0, 1 << 20),
	{ 0 },
};

static const struct key limits_keys[] = {
	INT_KEY("max_running", max_running, 1, 1 << 16),
	INT_KEY("queue", queue, 1, 1000000),
	INT_KEY("timeout_ms", timeout_ms, -1, INT_MAX),
	INT_KEY("max_tokens", max_tokens, 1, 1 << 24),
	INT_KEY("header_timeout_ms", header_timeout_ms, 1, INT_MAX),
	INT_KEY("body_timeout_ms", body_timeout_ms, 1, INT_MAX),
	INT_KEY("idle_timeout_ms", idle_timeout_ms, 1, INT_MAX),
	INT_KEY("max_connections", max_connections, 1, 1 << 20),
	INT_KEY("max_body_bytes", max_body_bytes, 1024, 1 << 30),
	INT_KEY("max_header_bytes", max_header_bytes, 1024, 1 << 20),
	{ 0 },
};

static const struct key metrics_keys[] = {
	BOOL_KEY("enabled", metrics_enabled),
	{ 0 },
};

void nrv_conf_defaults(struct nrv_conf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->host, sizeof(c->host), "127.0.0.1");
	c->port = 8080;
	c->max_running = 64;
	c->queue = 1000;
	c->timeout_ms = 30000;
	c->max_tokens = 4096;
	c->header_timeout_ms = 10000;
	c->body_timeout_ms = 30000;
	c->idle_timeout_ms = 60000;
	c->max_connections = 4096;
	c->max_body_bytes = 1 << 20;
	c->max_header_bytes = 8 << 10;
	c->metrics_enabled = true;
}

/* A short rendering of a JSON value for error messages. */
static void describe(const cJSON *v, char *out, size_t cap)
{
	if (cJSON_IsString(v)) {
		snprintf(out, cap, "the string \"%.40s%s\"", v->valuestring,
			 strlen(v->valuestring) > 40 ? "..." : "");
	} else if (cJSON_IsNumber(v)) {
		snprintf(out, cap, "%g", v->valuedouble);
	} else if (cJSON_IsBool(v)) {
		snprintf(out, cap, "%s", cJSON_IsTrue(v) ? "true" : "false");
	} else if (cJSON_IsNull(v)) {
		snprintf(out, cap, "null");
	} else if (cJSON_IsArray(v)) {
		snprintf(out, cap, "an array");
	} else {
		snprintf(out, cap, "an object");
	}
}

static int fail(char *err, size_t errlen, const char *src, const char *path, const char *what,
		const cJSON *got)
{
	char g[80] = "";
	if (got)
		describe(got, g, sizeof(g));
	snprintf(err, errlen, "%s: %s: %s%s%s", src, path, what, got ? ", got " : "", g);
	return -EINVAL;
}

static int get_int(const cJSON *v, int lo, int hi, int *out)
{
	if (!cJSON_IsNumber(v))
		return -1;
	double d = v->valuedouble;
	if (!isfinite(d) || d != floor(d) || d < lo || d > hi)
		return -1;
	*out = (int)d;
	return 0;
}

static int copy_str(const cJSON *v, char *dst, size_t cap)
{
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= cap)
		return -1;
	memcpy(dst, v->valuestring, strlen(v->valuestring) + 1);
	return 0;
}

static int parse_cores(struct nrv_conf *c, const cJSON *v)
{
	/* "0,2-3" as on the command line, or [0, 2, 3] */
	if (cJSON_IsString(v)) {
		int n = nrv_parse_cpu_list(v->valuestring, c->cores, NRV_CONF_MAX_CORES);
		if (n <= 0)
			return -1;
		c->n_cores = n;
		return 0;
	}
	if (!cJSON_IsArray(v))
		return -1;
	int n = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, v) {
		if (n >= NRV_CONF_MAX_CORES || get_int(e, 0, 4095, &c->cores[n]))
			return -1;
		n++;
	}
	c->n_cores = n;
	return 0;
}

static int parse_group(struct nrv_conf *c, const cJSON *obj, const char *group,
		       const struct key *keys, const char *src, char *err, size_t errlen)
{
	if (!cJSON_IsObject(obj))
		return fail(err, errlen, src, group, "expected an object", obj);
	const cJSON *v;
	cJSON_ArrayForEach(v, obj) {
		char path[160];
		snprintf(path, sizeof(path), "%s.%s", group, v->string);
		const struct key *k = keys;
		while (k->name && strcmp(k->name, v->string))
			k++;
		if (!k->name) {
			char known[256] = "";
			for (const struct key *q = keys; q->name; q++) {
				size_t l = strlen(known);
				snprintf(known + l, sizeof(known) - l, "%s%s", q == keys ? "" : ", ", q->name);
			}
			char what[320];
			snprintf(what, sizeof(what), "unknown key (the %s group has: %s)", group, known);
			return fail(err, errlen, src, path, what, NULL);
		}
		char *dst = (char *)c + k->off;
		char what[96];
		switch (k->type) {
		case K_INT:
			if (get_int(v, k->lo, k->hi, (int *)dst)) {
				snprintf(what, sizeof(what), "expected an integer in [%d, %d]", k->lo, k->hi);
				return fail(err, errlen, src, path, what, v);
			}
			break;
		case K_BOOL:
			if (!cJSON_IsBool(v))
				return fail(err, errlen, src, path, "expected true or false", v);
			*(bool *)dst = cJSON_IsTrue(v);
			break;
		case K_STR:
			if (copy_str(v, dst, (size_t)k->hi)) {
				snprintf(what, sizeof(what), "expected a string of at most %d bytes", k->hi - 1);
				return fail(err, errlen, src, path, what, v);
			}
			break;
		case K_CORES:
			if (parse_cores(c, v))
				return fail(err, errlen, src, path,
					    "expected a core list such as \"0,2-3\" or [0, 2, 3]", v);
			break;
		}
	}
	return 0;
}

static int parse_model(struct nrv_conf_model *m, const cJSON *obj, const char *path,
		       const char *src, char *err, size_t errlen)
{
	if (!cJSON_IsObject(obj))
		return fail(err, errlen, src, path, "expected an object with name, path, aliases, preload",
			    obj);
	memset(m, 0, sizeof(*m));
	m->preload = true;
	const cJSON *v;
	cJSON_ArrayForEach(v, obj) {
		char kp[192];
		snprintf(kp, sizeof(kp), "%s.%s", path, v->string);
		if (!strcmp(v->string, "name")) {
			if (copy_str(v, m->name, sizeof(m->name)) || !m->name[0])
				return fail(err, errlen, src, kp, "expected a non-empty string of at most 127 bytes", v);
		} else if (!strcmp(v->string, "path")) {
			if (copy_str(v, m->path, sizeof(m->path)) || !m->path[0])
				return fail(err, errlen, src, kp, "expected a file name", v);
		} else if (!strcmp(v->string, "preload")) {
			if (!cJSON_IsBool(v))
				return fail(err, errlen, src, kp, "expected true or false", v);
			m->preload = cJSON_IsTrue(v);
		} else if (!strcmp(v->string, "aliases")) {
			if (!cJSON_IsArray(v))
				return fail(err, errlen, src, kp, "expected an array of strings", v);
			const cJSON *a;
			cJSON_ArrayForEach(a, v) {
				if (m->n_aliases >= NRV_CONF_MAX_ALIASES)
					return fail(err, errlen, src, kp, "more than 8 aliases", NULL);
				if (copy_str(a, m->aliases[m->n_aliases], NRV_CONF_NAME_MAX) ||
				    !m->aliases[m->n_aliases][0])
					return fail(err, errlen, src, kp,
						    "expected non-empty strings of at most 127 bytes", a);
				m->n_aliases++;
			}
		} else {
			return fail(err, errlen, src, kp,
				    "unknown key (a model has: name, path, aliases, preload)", NULL);
		}
	}
	if (!m->path[0])
		return fail(err, errlen, src, path, "a model needs a \"path\" (its GGUF file)", NULL);
	return 0;
}

int nrv_conf_parse(struct nrv_conf *c, const char *json, size_t len, const char *src,
		   char *err, size_t errlen)
{
	if (!c || !json || !src)
		return -EINVAL;
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, false);
	if (!root) {
		/* say where: line and column of the first byte cJSON could not take */
		size_t at = end && end >= json && end <= json + len ? (size_t)(end - json) : 0;
		int line = 1, col = 1;
		for (size_t i = 0; i < at; i++) {
			if (json[i] == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
		snprintf(err, errlen, "%s: not valid JSON (line %d, column %d)", src, line, col);
		return -EINVAL;
	}
	int rc = 0;
	if (!cJSON_IsObject(root)) {
		rc = fail(err, errlen, src, "(top level)", "expected an object of groups", root);
		goto out;
	}
	const cJSON *g;
	cJSON_ArrayForEach(g, root) {
		const char *name = g->string;
		if (!strcmp(name, "listen"))
			rc = parse_group(c, g, name, listen_keys, src, err, errlen);
		else if (!strcmp(name, "engine"))
			rc = parse_group(c, g, name, engine_keys, src, err, errlen);
		else if (!strcmp(name, "limits"))
			rc = parse_group(c, g, name, limits_keys, src, err, errlen);
		else if (!strcmp(name, "metrics"))
			rc = parse_group(c, g, name, metrics_keys, src, err, errlen);
		else if (!strcmp(name, "models")) {
			if (!cJSON_IsArray(g)) {
				rc = fail(err, errlen, src, name, "expected an array of models", g);
				goto out;
			}
			int n = cJSON_GetArraySize(g);
			if (n > NRV_CONF_MAX_MODELS) {
				rc = fail(err, errlen, src, name, "more than 16 models", NULL);
				goto out;
			}
			c->n_models = 0;
			const cJSON *m;
			cJSON_ArrayForEach(m, g) {
				char path[32];
				snprintf(path, sizeof(path), "models[%d]", c->n_models);
				if ((rc = parse_model(&c->models[c->n_models], m, path, src, err, errlen)))
					goto out;
				c->n_models++;
			}
		} else {
			rc = fail(err, errlen, src, name,
				  "unknown group (known: listen, models, engine, limits, metrics)", NULL);
		}
		if (rc)
			goto out;
	}
out:
	cJSON_Delete(root);
	return rc;
}

int nrv_conf_load(struct nrv_conf *c, const char *path, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = nrv_read_file(path, 1 << 20, &buf, &len, err, errlen);
	if (rc)
		return rc;
	rc = nrv_conf_parse(c, buf, len, path, err, errlen);
	free(buf);
	return rc;
}

void nrv_conf_model_id(const struct nrv_conf_model *m, char *out, size_t cap)
{
	if (!cap)
		return;
	if (m->name[0]) {
		snprintf(out, cap, "%s", m->name);
		return;
	}
	const char *base = strrchr(m->path, '/');
	base = base ? base + 1 : m->path;
	size_t n = strlen(base);
	if (n > 5 && !strcmp(base + n - 5, ".gguf"))
		n -= 5;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, base, n);
	out[n] = 0;
}
