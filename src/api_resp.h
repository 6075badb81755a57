/*
 * src/api_resp.h - response bodies in OpenAI's exact shapes: whole
 * completions and chat completions, streamed chunks (Server-Sent Events),
 * the usage chunk, log-probabilities, and errors.
 *
 * Everything is written into a caller's nrv_jbuf (appended), so a request
 * reuses one buffer for all its chunks.
 *
 * Shapes:
 *   completion  {"id":"cmpl-…","object":"text_completion","created":…,"model":…,
 *                "choices":[{"index":0,"text":…,"logprobs":…,"finish_reason":…}],"usage":{…}}
 *   chat        {"id":"chatcmpl-…","object":"chat.completion",…,"choices":[{"index":0,
 *                "message":{"role":"assistant","content":…},"logprobs":…,"finish_reason":…}],…}
 *   chunks      "data: {…}\n\n" with object "text_completion" / "chat.completion.chunk"
 *               (chat: "delta"; the first carries the role), ended by "data: [DONE]\n\n"
 *   errors      {"error":{"message":…,"type":…,"param":…,"code":…}}
 */
#ifndef NRV_API_RESP_H
#define NRV_API_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jbuf.h"

struct nrv_tok;

/* Who a response is: same in every chunk of a stream. */
struct nrv_api_ident {
	int kind;            /* enum nrv_api_kind */
	char id[64];         /* "cmpl-…" / "chatcmpl-…" */
	int64_t created;     /* Unix seconds */
	const char *model;   /* the id the client asked for (borrowed) */
	bool usage_null;     /* stream_options.include_usage: every chunk carries "usage": null */
};

/* One generated token's log-probability and its alternatives. */
struct nrv_api_lp {
	int32_t token;
	float logprob;
	int n_top;
	int32_t top_token[20];
	float top_logprob[20];
	uint32_t text_offset;   /* bytes of output text before this token (completions) */
};

/* "cmpl-" or "chatcmpl-" then 16 hex digits of `node` (random per process)
 * and 8 of `seq` (a per-process counter): unique per node. */
void nrv_api_make_id(char *out, size_t cap, int kind, uint64_t node, uint64_t seq);

/* OpenAI's error body for status (type chosen from it; code may be NULL). */
void nrv_api_resp_error(struct nrv_jbuf *b, int status, const char *param, const char *code,
			const char *message);

/* A whole (non-streamed) answer; finish is "stop" or "length". lps may be NULL when logprobs were not asked. */
void nrv_api_resp_full(struct nrv_jbuf *b, const struct nrv_api_ident *id,
		       const struct nrv_tok *tok, const char *text, size_t len,
		       const struct nrv_api_lp *lps, int n_lp, const char *finish, int n_prompt,
		       int n_gen);

/* One SSE chunk: text (may be empty), pending log-probabilities (lps NULL
 * when not asked), finish reason or NULL; `first` puts the role into a chat
 * delta. */
void nrv_api_resp_chunk(struct nrv_jbuf *b, const struct nrv_api_ident *id,
			const struct nrv_tok *tok, const char *text, size_t len,
			const struct nrv_api_lp *lps, int n_lp, const char *finish, bool first);

/* The include_usage chunk (empty choices) and the stream's end. */
void nrv_api_resp_usage_chunk(struct nrv_jbuf *b, const struct nrv_api_ident *id, int n_prompt,
			      int n_gen);
void nrv_api_resp_done(struct nrv_jbuf *b);

/* An error inside a stream that already began: "data: {"error":…}\n\n". */
void nrv_api_resp_stream_error(struct nrv_jbuf *b, int status, const char *message);

#endif
