/*
 * tests/api/test_api_req.c - OpenAI request bodies: what is accepted, how
 * it maps onto the engine's parameters, and many bad bodies, each refused
 * with a 400 that names the field.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api_req.h"
#include "chat.h"

static int parse(struct nrv_api_req *r, int kind, const char *body, struct nrv_api_err *e)
{
	static struct nrv_chat_tmpl t;
	nrv_chat_tmpl_init(&t, "chatml", 6);
	return nrv_api_req_parse(r, kind, body, strlen(body), &t, e);
}

Test(api_req, completion_defaults_and_fields)
{
	struct nrv_api_req r;
	struct nrv_api_err e;
	cr_assert_eq(parse(&r, NRV_API_COMPLETION, "{\"prompt\": \"Hello\"}", &e), 0, "%s", e.message);
	cr_assert_str_eq(r.text, "Hello");
	cr_assert_eq(r.max_tokens, -1);
	cr_assert_not(r.stream);
	cr_assert_not(r.has_seed);
	struct nrv_sampler_params d = nrv_sampler_defaults();
	cr_assert_float_eq(r.sp.temperature, d.temperature, 1e-6);
	nrv_api_req_fini(&r);

	cr_assert_eq(parse(&r, NRV_API_COMPLETION,
			   "{\"model\": \"smol\", \"prompt\": [\"Hi\"], \"max_tokens\": 7, \"temperature\": 0,"
			   " \"top_p\": 0.5, \"top_k\": 3, \"min_p\": 0.1, \"seed\": 42, \"stop\": [\"\\n\", \"END\", \"\"],"
			   " \"presence_penalty\": 0.5, \"frequency_penalty\": -0.5, \"repetition_penalty\": 1.1,"
			   " \"logprobs\": 2, \"n\": 1, \"stream\": true, \"stream_options\": {\"include_usage\": true},"
			   " \"user\": \"u\", \"ignore_eos\": true, \"unknown_field\": {\"x\": 1}, \"suffix\": null}",
			   &e), 0, "%s", e.message);
	cr_assert_str_eq(r.model, "smol");
	cr_assert_str_eq(r.text, "Hi");
	cr_assert_eq(r.max_tokens, 7);
	cr_assert_float_eq(r.sp.temperature, 0, 1e-6);
	cr_assert_float_eq(r.sp.top_p, 0.5, 1e-6);
	cr_assert_eq(r.sp.top_k, 3);
	cr_assert_float_eq(r.sp.min_p, 0.1, 1e-6);
	cr_assert(r.has_seed);
	cr_assert_eq(r.sp.seed, 42);
	cr_assert_eq(r.n_stop, 2, "empty stop strings are dropped");
	cr_assert_str_eq(r.stop[1], "END");
	cr_assert_eq(r.stop_len[0], 1);
	cr_assert_float_eq(r.sp.presence_penalty, 0.5, 1e-6);
	cr_assert_float_eq(r.sp.frequency_penalty, -0.5, 1e-6);
	cr_assert_float_eq(r.sp.repeat_penalty, 1.1, 1e-6);
	cr_assert(r.logprobs);
	cr_assert_eq(r.top_logprobs, 2);
	cr_assert(r.stream);
	cr_assert(r.include_usage);
	cr_assert(r.ignore_eos);
	nrv_api_req_fini(&r);

	cr_assert_eq(parse(&r, NRV_API_COMPLETION, "{\"prompt\": [1, 2, 3], \"stop\": \"x\","
			   " \"max_completion_tokens\": 3, \"max_tokens\": null}", &e), 0, "%s", e.message);
	cr_assert_null(r.text);
	cr_assert_eq(r.n_tokens, 3);
	cr_assert_eq(r.tokens[2], 3);
	cr_assert_eq(r.n_stop, 1);
	cr_assert_eq(r.max_tokens, 3);
	nrv_api_req_fini(&r);
}

Test(api_req, chat_renders_with_template)
{
	struct nrv_api_req r;
	struct nrv_api_err e;
	cr_assert_eq(parse(&r, NRV_API_CHAT,
			   "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"},"
			   " {\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"Hi\"},"
			   "                                  {\"type\": \"text\", \"text\": \"there\"}]},"
			   " {\"role\": \"assistant\", \"content\": null},"
			   " {\"role\": \"user\", \"content\": \"Go\"}], \"logprobs\": true, \"top_logprobs\": 3}",
			   &e), 0, "%s", e.message);
	cr_assert_str_eq(r.text, "<|im_start|>system\nBe brief.<|im_end|>\n"
				 "<|im_start|>user\nHi\nthere<|im_end|>\n"
				 "<|im_start|>assistant\n<|im_end|>\n"
				 "<|im_start|>user\nGo<|im_end|>\n"
				 "<|im_start|>assistant\n");
	cr_assert_eq(r.text_len, strlen(r.text));
	cr_assert(r.logprobs);
	cr_assert_eq(r.top_logprobs, 3);
	nrv_api_req_fini(&r);

	/* no template: chat is refused with a message that says what to do */
	cr_assert_eq(nrv_api_req_parse(&r, NRV_API_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}",
				       60, NULL, &e), -EINVAL);
	cr_assert(strstr(e.message, "/v1/completions"), "%s", e.message);
	nrv_api_req_fini(&r);
}

struct bad {
	int kind;
	const char *body;
	const char *param;   /* expected e.param */
	const char *needle;  /* expected in e.message */
};

Test(api_req, bad_bodies_name_the_field)
{
	static const struct bad cases[] = {
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\"", "", "not valid JSON" },
		{ NRV_API_COMPLETION, "", "", "not valid JSON" },
		{ NRV_API_COMPLETION, "[1]", "", "must be a JSON object" },
		{ NRV_API_COMPLETION, "\"x\"", "", "must be a JSON object" },
		{ NRV_API_COMPLETION, "{}", "prompt", "required" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"\"}", "prompt", "empty" },
		{ NRV_API_COMPLETION, "{\"prompt\": 5}", "prompt", "must be a string" },
		{ NRV_API_COMPLETION, "{\"prompt\": [\"a\", \"b\"]}", "prompt", "one prompt per request" },
		{ NRV_API_COMPLETION, "{\"prompt\": [[1], [2]]}", "prompt", "one prompt per request" },
		{ NRV_API_COMPLETION, "{\"prompt\": [1, -2]}", "prompt", "token ids" },
		{ NRV_API_COMPLETION, "{\"prompt\": [1, 2.5]}", "prompt", "token ids" },
		{ NRV_API_COMPLETION, "{\"prompt\": []}", "prompt", "empty" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"model\": 3}", "model", "must be a string" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"n\": 2}", "n", "'n' must be 1" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"n\": 0}", "n", "'n' must be 1" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"n\": \"1\"}", "n", "integer" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"best_of\": 3}", "best_of", "must be 1" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"max_tokens\": -1}", "max_tokens", "at least 1" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"max_tokens\": 0}", "max_tokens", "at least 1" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"max_tokens\": 1.5}", "max_tokens", "integer" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"max_tokens\": \"10\"}", "max_tokens", "integer" },
		{ NRV_API_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_completion_tokens\": -5}",
		  "max_completion_tokens", "at least 1" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"temperature\": \"hot\"}", "temperature", "must be a number" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"temperature\": -1}", "temperature", "between" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"top_p\": 1.5}", "top_p", "between" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"top_k\": 2.5}", "top_k", "integer" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"min_p\": true}", "min_p", "must be a number" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"presence_penalty\": 3}", "presence_penalty", "between" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"frequency_penalty\": []}", "frequency_penalty", "number" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"repetition_penalty\": 0}", "repetition_penalty", "above 0" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"seed\": \"1\"}", "seed", "integer" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"seed\": 0.5}", "seed", "integer" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"stop\": 1}", "stop", "string or an array" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"stop\": [\"a\", 1]}", "stop", "strings" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"stop\": [\"a\",\"b\",\"c\",\"d\",\"e\"]}", "stop", "at most 4" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"stream\": \"yes\"}", "stream", "true or false" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"stream\": 1}", "stream", "true or false" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"stream_options\": true}", "stream_options", "object" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"stream_options\": {\"include_usage\": 1}}",
		  "stream_options.include_usage", "true or false" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"user\": 5}", "user", "string" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"ignore_eos\": \"no\"}", "ignore_eos", "true or false" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"logprobs\": 50}", "logprobs", "between" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"logprobs\": true}", "logprobs", "integer" },
		{ NRV_API_COMPLETION, "{\"prompt\": \"x\", \"echo\": true}", "echo", "not supported" },
		{ NRV_API_CHAT, "{}", "messages", "required" },
		{ NRV_API_CHAT, "{\"messages\": {}}", "messages", "must be an array" },
		{ NRV_API_CHAT, "{\"messages\": []}", "messages", "empty" },
		{ NRV_API_CHAT, "{\"messages\": [1]}", "messages[0]", "must be an object" },
		{ NRV_API_CHAT, "{\"messages\": [{\"content\": \"x\"}]}", "messages[0].role", "must be a string" },
		{ NRV_API_CHAT, "{\"messages\": [{\"role\": \"tool\", \"content\": \"x\"}]}", "messages[0].role", "'tool'" },
		{ NRV_API_CHAT, "{\"messages\": [{\"role\": \"user\"}]}", "messages[0].content", "required" },
		{ NRV_API_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": 7}]}", "messages[0].content", "string or an array" },
		{ NRV_API_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}",
		  "messages[0].content", "only \"text\" parts" },
		{ NRV_API_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": 1}]}]}",
		  "messages[0].content", "\"text\" as a string" },
		{ NRV_API_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": [\"hi\"]}]}",
		  "messages[0].content", "with a \"type\"" },
		{ NRV_API_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"logprobs\": 1}", "logprobs", "true or false" },
		{ NRV_API_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"top_logprobs\": 2}",
		  "top_logprobs", "needs \"logprobs\": true" },
		{ NRV_API_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"logprobs\": true, \"top_logprobs\": 21}",
		  "top_logprobs", "between" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nrv_api_req r;
		struct nrv_api_err e;
		int rc = parse(&r, cases[i].kind, cases[i].body, &e);
		cr_expect_eq(rc, -EINVAL, "accepted: %s", cases[i].body);
		cr_expect_eq(e.status, 400, "%s: status %d", cases[i].body, e.status);
		cr_expect_str_eq(e.param, cases[i].param, "%s: param '%s'", cases[i].body, e.param);
		cr_expect(strstr(e.message, cases[i].needle), "%s: message '%s' lacks '%s'", cases[i].body,
			  e.message, cases[i].needle);
		nrv_api_req_fini(&r);
	}
}

Test(api_req, long_stop_string_refused)
{
	char body[1024];
	char stop[300];
	memset(stop, 'a', sizeof(stop) - 1);
	stop[sizeof(stop) - 1] = 0;
	snprintf(body, sizeof(body), "{\"prompt\": \"x\", \"stop\": \"%s\"}", stop);
	struct nrv_api_req r;
	struct nrv_api_err e;
	cr_assert_eq(parse(&r, NRV_API_COMPLETION, body, &e), -EINVAL);
	cr_assert_str_eq(e.param, "stop");
	nrv_api_req_fini(&r);
}
