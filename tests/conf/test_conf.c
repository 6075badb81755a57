/*
 * tests/conf/test_conf.c - the server's JSON configuration: defaults, every
 * group, flags-style overrides on top, and errors that name file and key.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"

static int parse(struct nrv_conf *c, const char *json, char *err)
{
	return nrv_conf_parse(c, json, strlen(json), "serve.json", err, 512);
}

Test(conf, defaults)
{
	struct nrv_conf c;
	nrv_conf_defaults(&c);
	cr_assert_str_eq(c.host, "127.0.0.1");
	cr_assert_eq(c.port, 8080);
	cr_assert_eq(c.max_running, 64);
	cr_assert_eq(c.queue, 1000);
	cr_assert_eq(c.timeout_ms, 30000);
	cr_assert_eq(c.header_timeout_ms, 10000);
	cr_assert_eq(c.body_timeout_ms, 30000);
	cr_assert_eq(c.max_body_bytes, 1 << 20);
	cr_assert_eq(c.max_header_bytes, 8192);
	cr_assert(c.metrics_enabled);
	cr_assert_eq(c.n_models, 0);
	cr_assert_str_eq(c.api_key, "");
}

Test(conf, every_group)
{
	struct nrv_conf c;
	char err[512] = "";
	nrv_conf_defaults(&c);
	int rc = parse(&c,
		"{\"listen\": {\"host\": \"0.0.0.0\", \"port\": 9000, \"api_key\": \"sk-1\"},"
		" \"models\": [{\"name\": \"smol\", \"path\": \"/m/a.gguf\", \"aliases\": [\"x\", \"y\"],"
		"              \"preload\": false}, {\"path\": \"/m/b.gguf\"}],"
		" \"engine\": {\"threads\": 2, \"cores\": \"0-1\", \"context\": 2048, \"kv_blocks\": 64,"
		"              \"step_tokens\": 256, \"block_tokens\": 32},"
		" \"limits\": {\"max_running\": 8, \"queue\": 10, \"timeout_ms\": -1, \"max_tokens\": 100,"
		"              \"header_timeout_ms\": 500, \"body_timeout_ms\": 600, \"max_connections\": 50},"
		" \"metrics\": {\"enabled\": false}}", err);
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_str_eq(c.host, "0.0.0.0");
	cr_assert_eq(c.port, 9000);
	cr_assert_str_eq(c.api_key, "sk-1");
	cr_assert_eq(c.n_models, 2);
	cr_assert_str_eq(c.models[0].name, "smol");
	cr_assert_eq(c.models[0].n_aliases, 2);
	cr_assert_str_eq(c.models[0].aliases[1], "y");
	cr_assert_not(c.models[0].preload);
	cr_assert(c.models[1].preload, "preload defaults to true");
	cr_assert_eq(c.threads, 2);
	cr_assert_eq(c.n_cores, 2);
	cr_assert_eq(c.cores[1], 1);
	cr_assert_eq(c.context, 2048);
	cr_assert_eq(c.kv_blocks, 64);
	cr_assert_eq(c.step_tokens, 256);
	cr_assert_eq(c.block_tokens, 32);
	cr_assert_eq(c.max_running, 8);
	cr_assert_eq(c.queue, 10);
	cr_assert_eq(c.timeout_ms, -1);
	cr_assert_eq(c.max_tokens, 100);
	cr_assert_eq(c.header_timeout_ms, 500);
	cr_assert_eq(c.body_timeout_ms, 600);
	cr_assert_eq(c.max_connections, 50);
	cr_assert_not(c.metrics_enabled);
	/* absent keys keep their values: a later document overrides only what it names */
	cr_assert_eq(parse(&c, "{\"limits\": {\"queue\": 7}}", err), 0, "%s", err);
	cr_assert_eq(c.queue, 7);
	cr_assert_eq(c.max_running, 8);
	cr_assert_eq(parse(&c, "{\"engine\": {\"cores\": [3, 5]}}", err), 0, "%s", err);
	cr_assert_eq(c.n_cores, 2);
	cr_assert_eq(c.cores[0], 3);
}

struct bad {
	const char *json;
	const char *needle; /* must appear in the message */
};

Test(conf, errors_name_file_and_key)
{
	static const struct bad cases[] = {
		{ "{\"listen\": {\"prot\": 80}}", "listen.prot: unknown key" },
		{ "{\"listn\": {}}", "listn: unknown group" },
		{ "{\"listen\": {\"port\": \"80\"}}", "listen.port: expected an integer" },
		{ "{\"listen\": {\"port\": 70000}}", "listen.port" },
		{ "{\"listen\": {\"port\": 80.5}}", "listen.port" },
		{ "{\"listen\": []}", "listen: expected an object" },
		{ "{\"listen\": {\"host\": 5}}", "listen.host: expected a string" },
		{ "{\"limits\": {\"queue\": 0}}", "limits.queue" },
		{ "{\"limits\": {\"max_running\": true}}", "limits.max_running" },
		{ "{\"limits\": {\"timeout_ms\": -5}}", "limits.timeout_ms" },
		{ "{\"metrics\": {\"enabled\": 1}}", "metrics.enabled: expected true or false" },
		{ "{\"engine\": {\"cores\": \"x\"}}", "engine.cores" },
		{ "{\"engine\": {\"cores\": [1, -1]}}", "engine.cores" },
		{ "{\"engine\": {\"threds\": 2}}", "engine.threds: unknown key" },
		{ "{\"models\": {}}", "models: expected an array" },
		{ "{\"models\": [{\"name\": \"a\"}]}", "models[0]: a model needs a \"path\"" },
		{ "{\"models\": [{\"path\": \"a\", \"alias\": []}]}", "models[0].alias: unknown key" },
		{ "{\"models\": [{\"path\": \"a\", \"aliases\": [1]}]}", "models[0].aliases" },
		{ "{\"models\": [{\"path\": \"a\", \"preload\": \"yes\"}]}", "models[0].preload" },
		{ "[1, 2]", "expected an object of groups" },
		{ "{\"listen\": {\"port\": 80,}}", "not valid JSON (line 1" },
		{ "{\n\n  \"listen\": {\"port\": }}", "line 3" },
		{ "", "not valid JSON" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nrv_conf c;
		char err[512] = "";
		nrv_conf_defaults(&c);
		cr_assert_eq(parse(&c, cases[i].json, err), -EINVAL, "accepted: %s", cases[i].json);
		cr_assert(strstr(err, "serve.json: "), "no file name in '%s'", err);
		cr_assert(strstr(err, cases[i].needle), "'%s' does not say '%s'", err, cases[i].needle);
	}
}

Test(conf, load_missing_file)
{
	struct nrv_conf c;
	char err[512] = "";
	nrv_conf_defaults(&c);
	cr_assert_lt(nrv_conf_load(&c, "/nonexistent/serve.json", err, sizeof(err)), 0);
	cr_assert(strstr(err, "/nonexistent/serve.json"), "%s", err);
}

Test(conf, model_ids)
{
	struct nrv_conf_model m = { 0 };
	char id[NRV_CONF_NAME_MAX];
	snprintf(m.path, sizeof(m.path), "/x/y/SmolLM2-135M-Instruct.Q4_1.gguf");
	nrv_conf_model_id(&m, id, sizeof(id));
	cr_assert_str_eq(id, "SmolLM2-135M-Instruct.Q4_1");
	snprintf(m.path, sizeof(m.path), "model.bin");
	nrv_conf_model_id(&m, id, sizeof(id));
	cr_assert_str_eq(id, "model.bin");
	snprintf(m.name, sizeof(m.name), "smol");
	nrv_conf_model_id(&m, id, sizeof(id));
	cr_assert_str_eq(id, "smol");
}
