/*
 * tests/api/test_api_resp.c - response bodies parse as JSON and carry
 * OpenAI's fields; the JSON writer keeps any bytes valid UTF-8.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <string.h>

#include "api_req.h"
#include "api_resp.h"
#include "jbuf.h"

static struct nrv_api_ident ident(int kind)
{
	struct nrv_api_ident id = { .kind = kind, .created = 1700000000, .model = "smol" };
	nrv_api_make_id(id.id, sizeof(id.id), kind, 0x0123456789abcdefull, 7);
	return id;
}

Test(api_resp, ids)
{
	char a[64], b[64];
	nrv_api_make_id(a, sizeof(a), NRV_API_COMPLETION, 1, 1);
	nrv_api_make_id(b, sizeof(b), NRV_API_CHAT, 1, 2);
	cr_assert_str_eq(a, "cmpl-000000000000000100000001");
	cr_assert(!strncmp(b, "chatcmpl-", 9));
	cr_assert_str_neq(a + 5, b + 9);
}

Test(api_resp, json_strings_are_valid)
{
	struct nrv_jbuf b;
	nrv_jbuf_init(&b);
	nrv_jbuf_str(&b, "a\"b\\c\n\x01\xc3\xa9\xff\xe4\xb8", 12);
	cr_assert_str_eq(b.p, "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
	cJSON *j = cJSON_Parse(b.p);
	cr_assert_not_null(j);
	cJSON_Delete(j);
	nrv_jbuf_reset(&b);
	nrv_jbuf_num(&b, -1.0 / 0.0);
	cr_assert_str_eq(b.p, "-9999.0");
	nrv_jbuf_fini(&b);
	/* surrogates and overlong forms are not valid UTF-8 */
	cr_assert_eq(nrv_utf8_seq_len((const unsigned char *)"\xed\xa0\x80", 3), 0);
	cr_assert_eq(nrv_utf8_seq_len((const unsigned char *)"\xc0\x80", 2), 0);
	cr_assert_eq(nrv_utf8_seq_len((const unsigned char *)"\xf4\x90\x80\x80", 4), 0);
	cr_assert_eq(nrv_utf8_seq_len((const unsigned char *)"\xf0\x9f\x98\x80", 4), 4);
}

Test(api_resp, completion_shape)
{
	struct nrv_api_ident id = ident(NRV_API_COMPLETION);
	struct nrv_jbuf b;
	nrv_jbuf_init(&b);
	nrv_api_resp_full(&b, &id, NULL, "Paris.", 6, NULL, 0, "stop", 5, 2);
	cJSON *j = cJSON_Parse(b.p);
	cr_assert_not_null(j, "%s", b.p);
	cr_assert_str_eq(cJSON_GetObjectItem(j, "object")->valuestring, "text_completion");
	cr_assert(!strncmp(cJSON_GetObjectItem(j, "id")->valuestring, "cmpl-", 5));
	cr_assert_eq(cJSON_GetObjectItem(j, "created")->valuedouble, 1700000000);
	cr_assert_str_eq(cJSON_GetObjectItem(j, "model")->valuestring, "smol");
	cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
	cr_assert_str_eq(cJSON_GetObjectItem(c, "text")->valuestring, "Paris.");
	cr_assert_str_eq(cJSON_GetObjectItem(c, "finish_reason")->valuestring, "stop");
	cr_assert(cJSON_IsNull(cJSON_GetObjectItem(c, "logprobs")));
	cr_assert_eq(cJSON_GetObjectItem(c, "index")->valueint, 0);
	cJSON *u = cJSON_GetObjectItem(j, "usage");
	cr_assert_eq(cJSON_GetObjectItem(u, "prompt_tokens")->valueint, 5);
	cr_assert_eq(cJSON_GetObjectItem(u, "completion_tokens")->valueint, 2);
	cr_assert_eq(cJSON_GetObjectItem(u, "total_tokens")->valueint, 7);
	cJSON_Delete(j);
	nrv_jbuf_fini(&b);
}

Test(api_resp, chat_shape_with_logprobs)
{
	struct nrv_api_ident id = ident(NRV_API_CHAT);
	struct nrv_api_lp lp = { .token = 1, .logprob = -0.5f, .n_top = 2,
				 .top_token = { 1, 2 }, .top_logprob = { -0.5f, -1.5f } };
	struct nrv_jbuf b;
	nrv_jbuf_init(&b);
	nrv_api_resp_full(&b, &id, NULL, "Hi", 2, &lp, 1, "length", 3, 1);
	cJSON *j = cJSON_Parse(b.p);
	cr_assert_not_null(j, "%s", b.p);
	cr_assert_str_eq(cJSON_GetObjectItem(j, "object")->valuestring, "chat.completion");
	cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
	cJSON *m = cJSON_GetObjectItem(c, "message");
	cr_assert_str_eq(cJSON_GetObjectItem(m, "role")->valuestring, "assistant");
	cr_assert_str_eq(cJSON_GetObjectItem(m, "content")->valuestring, "Hi");
	cr_assert_str_eq(cJSON_GetObjectItem(c, "finish_reason")->valuestring, "length");
	cJSON *lc = cJSON_GetObjectItem(cJSON_GetObjectItem(c, "logprobs"), "content");
	cr_assert_eq(cJSON_GetArraySize(lc), 1);
	cJSON *e0 = cJSON_GetArrayItem(lc, 0);
	cr_assert_float_eq(cJSON_GetObjectItem(e0, "logprob")->valuedouble, -0.5, 1e-6);
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(e0, "top_logprobs")), 2);
	cr_assert(cJSON_IsArray(cJSON_GetObjectItem(e0, "bytes")));
	cJSON_Delete(j);
	nrv_jbuf_fini(&b);
}

static cJSON *sse(const char *s)
{
	cr_assert(!strncmp(s, "data: ", 6), "%s", s);
	size_t n = strlen(s);
	cr_assert(n > 8 && !strcmp(s + n - 2, "\n\n"), "chunk not ended by a blank line");
	cJSON *j = cJSON_ParseWithLength(s + 6, n - 8);
	cr_assert_not_null(j, "%s", s);
	return j;
}

Test(api_resp, stream_chunks)
{
	struct nrv_api_ident id = ident(NRV_API_CHAT);
	id.usage_null = true;
	struct nrv_jbuf b;
	nrv_jbuf_init(&b);
	nrv_api_resp_chunk(&b, &id, NULL, "", 0, NULL, 0, NULL, true);
	cJSON *j = sse(b.p);
	cr_assert_str_eq(cJSON_GetObjectItem(j, "object")->valuestring, "chat.completion.chunk");
	cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
	cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "delta"), "role")->valuestring, "assistant");
	cr_assert(cJSON_IsNull(cJSON_GetObjectItem(c, "finish_reason")));
	cr_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "usage")));
	cJSON_Delete(j);

	nrv_jbuf_reset(&b);
	nrv_api_resp_chunk(&b, &id, NULL, "", 0, NULL, 0, "stop", false);
	j = sse(b.p);
	c = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(c, "delta")), 0, "the last delta is empty");
	cr_assert_str_eq(cJSON_GetObjectItem(c, "finish_reason")->valuestring, "stop");
	cJSON_Delete(j);

	nrv_jbuf_reset(&b);
	nrv_api_resp_usage_chunk(&b, &id, 4, 9);
	j = sse(b.p);
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "choices")), 0);
	cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "usage"), "total_tokens")->valueint, 13);
	cJSON_Delete(j);

	nrv_jbuf_reset(&b);
	struct nrv_api_ident ic = ident(NRV_API_COMPLETION);
	struct nrv_api_lp lp = { .token = 3, .logprob = -0.25f, .n_top = 1, .top_token = { 3 },
				 .top_logprob = { -0.25f }, .text_offset = 4 };
	nrv_api_resp_chunk(&b, &ic, NULL, "ab", 2, &lp, 1, NULL, true);
	j = sse(b.p);
	c = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
	cr_assert_str_eq(cJSON_GetObjectItem(c, "text")->valuestring, "ab");
	cJSON *l = cJSON_GetObjectItem(c, "logprobs");
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(l, "tokens")), 1);
	cr_assert_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(l, "text_offset"), 0)->valueint, 4);
	cr_assert(cJSON_IsObject(cJSON_GetArrayItem(cJSON_GetObjectItem(l, "top_logprobs"), 0)));
	cJSON_Delete(j);

	nrv_jbuf_reset(&b);
	nrv_api_resp_done(&b);
	cr_assert_str_eq(b.p, "data: [DONE]\n\n");
	nrv_jbuf_fini(&b);
}

Test(api_resp, error_shape)
{
	struct nrv_jbuf b;
	nrv_jbuf_init(&b);
	nrv_api_resp_error(&b, 400, "max_tokens", NULL, "'max_tokens' must be at least 1");
	cJSON *j = cJSON_Parse(b.p);
	cJSON *e = cJSON_GetObjectItem(j, "error");
	cr_assert_str_eq(cJSON_GetObjectItem(e, "type")->valuestring, "invalid_request_error");
	cr_assert_str_eq(cJSON_GetObjectItem(e, "param")->valuestring, "max_tokens");
	cr_assert(cJSON_IsNull(cJSON_GetObjectItem(e, "code")));
	cr_assert(strstr(cJSON_GetObjectItem(e, "message")->valuestring, "at least 1"));
	cJSON_Delete(j);
	nrv_jbuf_reset(&b);
	nrv_api_resp_error(&b, 503, NULL, "overloaded", "busy");
	j = cJSON_Parse(b.p);
	e = cJSON_GetObjectItem(j, "error");
	cr_assert_str_eq(cJSON_GetObjectItem(e, "type")->valuestring, "server_error");
	cr_assert(cJSON_IsNull(cJSON_GetObjectItem(e, "param")));
	cJSON_Delete(j);
	nrv_jbuf_fini(&b);
}
