/*
 * src/api_resp.c - OpenAI response shapes (see api_resp.h).
 *
 * Written by hand into a reused buffer rather than built as a cJSON tree:
 * a stream writes one small chunk per token, and this way a chunk costs a
 * few appends and no allocation once the buffer has grown.
 */
#include "api_resp.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api_req.h"
#include "tokenizer.h"

void nrv_api_make_id(char *out, size_t cap, int kind, uint64_t node, uint64_t seq)
{
	snprintf(out, cap, "%s-%016" PRIx64 "%08" PRIx64, kind == NRV_API_CHAT ? "chatcmpl" : "cmpl",
		 node, seq & 0xffffffffu);
}

static const char *error_type(int status)
{
	switch (status) {
	case 401: return "authentication_error";
	case 404: return "not_found_error";
	case 429: return "rate_limit_error";
	default: return status >= 500 ? "server_error" : "invalid_request_error";
	}
}

void nrv_api_resp_error(struct nrv_jbuf *b, int status, const char *param, const char *code,
			const char *message)
{
	nrv_jbuf_puts(b, "{\"error\":{\"message\":");
	nrv_jbuf_cstr(b, message);
	nrv_jbuf_puts(b, ",\"type\":");
	nrv_jbuf_cstr(b, error_type(status));
	nrv_jbuf_puts(b, ",\"param\":");
	if (param && *param)
		nrv_jbuf_cstr(b, param);
	else
		nrv_jbuf_puts(b, "null");
	nrv_jbuf_puts(b, ",\"code\":");
	if (code)
		nrv_jbuf_cstr(b, code);
	else
		nrv_jbuf_puts(b, "null");
	nrv_jbuf_puts(b, "}}");
}

static void head(struct nrv_jbuf *b, const struct nrv_api_ident *id, const char *object)
{
	nrv_jbuf_puts(b, "{\"id\":");
	nrv_jbuf_cstr(b, id->id);
	nrv_jbuf_puts(b, ",\"object\":\"");
	nrv_jbuf_puts(b, object);
	nrv_jbuf_puts(b, "\",\"created\":");
	nrv_jbuf_int(b, id->created);
	nrv_jbuf_puts(b, ",\"model\":");
	nrv_jbuf_cstr(b, id->model);
	nrv_jbuf_puts(b, ",\"system_fingerprint\":null,\"choices\":[");
}

static void usage(struct nrv_jbuf *b, int n_prompt, int n_gen)
{
	nrv_jbuf_printf(b, "{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}",
			n_prompt, n_gen, n_prompt + n_gen);
}

static int piece(const struct nrv_tok *tok, int32_t t, char *buf, size_t cap)
{
	int n = tok ? nrv_tok_piece(tok, t, true, buf, cap) : 0;
	if (n < 0)
		n = 0;
	return n > (int)cap ? (int)cap : n;
}

static void bytes_array(struct nrv_jbuf *b, const char *p, int n)
{
	nrv_jbuf_puts(b, "[");
	for (int i = 0; i < n; i++)
		nrv_jbuf_printf(b, "%s%u", i ? "," : "", (unsigned char)p[i]);
	nrv_jbuf_puts(b, "]");
}

/* Chat: {"content":[{"token","logprob","bytes","top_logprobs":[…]}],"refusal":null} */
static void chat_logprobs(struct nrv_jbuf *b, const struct nrv_tok *tok,
			  const struct nrv_api_lp *lps, int n)
{
	char p[256];
	nrv_jbuf_puts(b, "{\"content\":[");
	for (int i = 0; i < n; i++) {
		int l = piece(tok, lps[i].token, p, sizeof(p));
		nrv_jbuf_puts(b, i ? ",{\"token\":" : "{\"token\":");
		nrv_jbuf_str(b, p, (size_t)l);
		nrv_jbuf_puts(b, ",\"logprob\":");
		nrv_jbuf_num(b, lps[i].logprob);
		nrv_jbuf_puts(b, ",\"bytes\":");
		bytes_array(b, p, l);
		nrv_jbuf_puts(b, ",\"top_logprobs\":[");
		for (int k = 0; k < lps[i].n_top; k++) {
			int tl = piece(tok, lps[i].top_token[k], p, sizeof(p));
			nrv_jbuf_puts(b, k ? ",{\"token\":" : "{\"token\":");
			nrv_jbuf_str(b, p, (size_t)tl);
			nrv_jbuf_puts(b, ",\"logprob\":");
			nrv_jbuf_num(b, lps[i].top_logprob[k]);
			nrv_jbuf_puts(b, ",\"bytes\":");
			bytes_array(b, p, tl);
			nrv_jbuf_puts(b, "}");
		}
		nrv_jbuf_puts(b, "]}");
	}
	nrv_jbuf_puts(b, "],\"refusal\":null}");
}

/* Completions: {"tokens":[…],"token_logprobs":[…],"top_logprobs":[{…}],"text_offset":[…]} */
static void completion_logprobs(struct nrv_jbuf *b, const struct nrv_tok *tok,
				const struct nrv_api_lp *lps, int n)
{
	char p[256];
	nrv_jbuf_puts(b, "{\"tokens\":[");
	for (int i = 0; i < n; i++) {
		int l = piece(tok, lps[i].token, p, sizeof(p));
		if (i)
			nrv_jbuf_puts(b, ",");
		nrv_jbuf_str(b, p, (size_t)l);
	}
	nrv_jbuf_puts(b, "],\"token_logprobs\":[");
	for (int i = 0; i < n; i++) {
		if (i)
			nrv_jbuf_puts(b, ",");
		nrv_jbuf_num(b, lps[i].logprob);
	}
	nrv_jbuf_puts(b, "],\"top_logprobs\":[");
	for (int i = 0; i < n; i++) {
		nrv_jbuf_puts(b, i ? ",{" : "{");
		/* a JSON object keyed by token text: two alternatives with the
		 * same text (possible with byte tokens) keep the first */
		for (int k = 0; k < lps[i].n_top; k++) {
			int tl = piece(tok, lps[i].top_token[k], p, sizeof(p));
			if (k)
				nrv_jbuf_puts(b, ",");
			nrv_jbuf_str(b, p, (size_t)tl);
			nrv_jbuf_puts(b, ":");
			nrv_jbuf_num(b, lps[i].top_logprob[k]);
		}
		nrv_jbuf_puts(b, "}");
	}
	nrv_jbuf_puts(b, "],\"text_offset\":[");
	for (int i = 0; i < n; i++)
		nrv_jbuf_printf(b, "%s%u", i ? "," : "", lps[i].text_offset);
	nrv_jbuf_puts(b, "]}");
}

static void logprobs(struct nrv_jbuf *b, const struct nrv_api_ident *id, const struct nrv_tok *tok,
		     const struct nrv_api_lp *lps, int n)
{
	if (!lps)
		nrv_jbuf_puts(b, "null");
	else if (id->kind == NRV_API_CHAT)
		chat_logprobs(b, tok, lps, n);
	else
		completion_logprobs(b, tok, lps, n);
}

static void finish_reason(struct nrv_jbuf *b, const char *finish)
{
	nrv_jbuf_puts(b, ",\"finish_reason\":");
	if (finish)
		nrv_jbuf_cstr(b, finish);
	else
		nrv_jbuf_puts(b, "null");
}

void nrv_api_resp_full(struct nrv_jbuf *b, const struct nrv_api_ident *id,
		       const struct nrv_tok *tok, const char *text, size_t len,
		       const struct nrv_api_lp *lps, int n_lp, const char *finish, int n_prompt,
		       int n_gen)
{
	bool chat = id->kind == NRV_API_CHAT;
	head(b, id, chat ? "chat.completion" : "text_completion");
	if (chat) {
		nrv_jbuf_puts(b, "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
		nrv_jbuf_str(b, text, len);
		nrv_jbuf_puts(b, "}");
	} else {
		nrv_jbuf_puts(b, "{\"index\":0,\"text\":");
		nrv_jbuf_str(b, text, len);
	}
	nrv_jbuf_puts(b, ",\"logprobs\":");
	logprobs(b, id, tok, lps, n_lp);
	finish_reason(b, finish);
	nrv_jbuf_puts(b, "}],\"usage\":");
	usage(b, n_prompt, n_gen);
	nrv_jbuf_puts(b, "}");
}

void nrv_api_resp_chunk(struct nrv_jbuf *b, const struct nrv_api_ident *id,
			const struct nrv_tok *tok, const char *text, size_t len,
			const struct nrv_api_lp *lps, int n_lp, const char *finish, bool first)
{
	bool chat = id->kind == NRV_API_CHAT;
	nrv_jbuf_puts(b, "data: ");
	head(b, id, chat ? "chat.completion.chunk" : "text_completion");
	if (chat) {
		nrv_jbuf_puts(b, "{\"index\":0,\"delta\":{");
		if (first)
			nrv_jbuf_puts(b, "\"role\":\"assistant\",\"content\":");
		else if (len || !finish)
			nrv_jbuf_puts(b, "\"content\":");
		if (first || len || !finish)
			nrv_jbuf_str(b, text, len);
		nrv_jbuf_puts(b, "}");
	} else {
		nrv_jbuf_puts(b, "{\"index\":0,\"text\":");
		nrv_jbuf_str(b, text, len);
	}
	nrv_jbuf_puts(b, ",\"logprobs\":");
	logprobs(b, id, tok, lps && n_lp ? lps : NULL, n_lp);
	finish_reason(b, finish);
	nrv_jbuf_puts(b, "}]");
	if (id->usage_null)
		nrv_jbuf_puts(b, ",\"usage\":null");
	nrv_jbuf_puts(b, "}\n\n");
}

void nrv_api_resp_usage_chunk(struct nrv_jbuf *b, const struct nrv_api_ident *id, int n_prompt,
			      int n_gen)
{
	nrv_jbuf_puts(b, "data: ");
	head(b, id, id->kind == NRV_API_CHAT ? "chat.completion.chunk" : "text_completion");
	nrv_jbuf_puts(b, "],\"usage\":");
	usage(b, n_prompt, n_gen);
	nrv_jbuf_puts(b, "}\n\n");
}

void nrv_api_resp_done(struct nrv_jbuf *b)
{
	nrv_jbuf_puts(b, "data: [DONE]\n\n");
}

void nrv_api_resp_stream_error(struct nrv_jbuf *b, int status, const char *message)
{
	nrv_jbuf_puts(b, "data: ");
	nrv_api_resp_error(b, status, NULL, NULL, message);
	nrv_jbuf_puts(b, "\n\n");
}
