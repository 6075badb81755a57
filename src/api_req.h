/*
 * src/api_req.h - an OpenAI request body (/v1/completions,
 * /v1/chat/completions) checked and turned into what the engine needs.
 *
 * Parameters: model, prompt (a string, an array of one string, or token
 * ids), messages (system / developer / user / assistant; content a string
 * or an array of {"type": "text", "text": ...} parts), max_tokens /
 * max_completion_tokens, temperature, top_p, top_k, min_p, seed, stop (a
 * string or up to 4), presence_penalty, frequency_penalty,
 * repetition_penalty (or repeat_penalty), logprobs / top_logprobs, n (1
 * only), stream, stream_options.include_usage, user, and ignore_eos (an
 * extension llama-server also takes). Unknown fields are ignored; a known
 * field of the wrong type or out of range is an error naming it. null is
 * taken as "not given" for every optional field.
 *
 * Owns: the prompt text or token ids it produces (nrv_api_req_fini frees
 * them). Does not own: the chat template (borrowed during parse).
 */
#ifndef NRV_API_REQ_H
#define NRV_API_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sampler.h"

struct nrv_chat_tmpl;

enum nrv_api_kind {
	NRV_API_COMPLETION = 1,   /* /v1/completions */
	NRV_API_CHAT,             /* /v1/chat/completions */
};

#define NRV_API_MAX_STOP 4
#define NRV_API_STOP_BYTES 256     /* longest stop string accepted */
#define NRV_API_MAX_MESSAGES 4096
#define NRV_API_MAX_TOP_LOGPROBS 20

/* An error for the client: HTTP status, the offending field (or ""), and
 * a message that says what to fix. */
struct nrv_api_err {
	int status;
	char param[64];
	char message[512];
};

struct nrv_api_req {
	int kind;                      /* enum nrv_api_kind */
	char model[128];               /* as sent; "" when absent */
	char *text;                    /* prompt text (completions), or the rendered
					* conversation (chat); NULL when tokens are given */
	size_t text_len;
	int32_t *tokens;               /* (n_tokens) a prompt given as token ids, or NULL */
	int n_tokens;
	int max_tokens;                /* -1 when not given */
	struct nrv_sampler_params sp;  /* llama.cpp's defaults, overridden by the request */
	bool has_seed;                 /* false: the caller picks a random seed */
	char stop[NRV_API_MAX_STOP][NRV_API_STOP_BYTES];
	size_t stop_len[NRV_API_MAX_STOP];
	int n_stop;                    /* empty stop strings are dropped */
	bool logprobs;                 /* report the chosen tokens' log-probabilities */
	int top_logprobs;              /* 0..20 alternatives per token */
	bool stream;
	bool include_usage;            /* stream_options.include_usage */
	bool ignore_eos;
};

/*
 * Parse a request body of `kind`. For chat, `tmpl` renders the messages
 * (with the generation prompt); NULL when the model has no usable template
 * (a chat request is then refused with a message saying so). Returns 0, or
 * -EINVAL with *e filled (status 400), or -ENOMEM (status 500). *r is
 * always safe to pass to nrv_api_req_fini afterwards.
 */
int nrv_api_req_parse(struct nrv_api_req *r, int kind, const char *body, size_t len,
		      const struct nrv_chat_tmpl *tmpl, struct nrv_api_err *e);
void nrv_api_req_fini(struct nrv_api_req *r);

/* Fill *e (status, param may be NULL) and return -EINVAL. */
int nrv_api_err_set(struct nrv_api_err *e, int status, const char *param, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
