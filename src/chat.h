/*
 * src/chat.h - chat templates: a conversation to the prompt text a model
 * was trained on.
 *
 * GGUF files carry their template as Jinja source (tokenizer.chat_template).
 * nirvana does not run Jinja: like llama.cpp's built-in templates, it
 * recognises the template family by distinctive substrings and renders
 * that family's format in C. A template that matches no family is
 * NRV_CHAT_UNKNOWN; callers must say so plainly (naming
 * nrv_chat_family_name) and either refuse chat requests or fall back to a
 * family the operator chose by name.
 *
 * Renderings follow llama.cpp's built-in templates (src/llama-chat.cpp),
 * so prompts match what llama-server builds for the same model, with one
 * addition: a ChatML template that writes a default system message when
 * the conversation has none (SmolLM2, Qwen2.5) gets that message, its text
 * taken from the template itself.
 *
 * No BOS token is written: the tokenizer adds it when the model asks for
 * one (tokenizer.ggml.add_bos_token). Formats with no generation-prompt
 * marker (llama-2, mistral) end the last user turn with [/INST], which is
 * the generation prompt; add_generation_prompt changes nothing there.
 *
 * Owns: nothing. Renders into a buffer the caller owns; allocates nothing.
 */
#ifndef NRV_CHAT_H
#define NRV_CHAT_H

#include <stdbool.h>
#include <stddef.h>

enum nrv_chat_family {
	NRV_CHAT_UNKNOWN = 0,
	NRV_CHAT_CHATML,            /* <|im_start|>role\n...<|im_end|>\n */
	NRV_CHAT_PHI4,              /* ChatML with <|im_sep|> */
	NRV_CHAT_LLAMA2,            /* [INST] ... [/INST]; system as plain text */
	NRV_CHAT_LLAMA2_SYS,        /* ... with <<SYS>> blocks */
	NRV_CHAT_LLAMA2_SYS_BOS,    /* ... and <s> before later turns */
	NRV_CHAT_LLAMA2_SYS_STRIP,  /* ... and contents stripped */
	NRV_CHAT_MISTRAL_V1,
	NRV_CHAT_MISTRAL_V3,
	NRV_CHAT_MISTRAL_V3_TEKKEN,
	NRV_CHAT_MISTRAL_V7,
	NRV_CHAT_MISTRAL_V7_TEKKEN,
	NRV_CHAT_LLAMA3,            /* <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> */
	NRV_CHAT_GEMMA,             /* <start_of_turn>user|model\n...<end_of_turn>\n */
	NRV_CHAT_ZEPHYR,            /* <|role|>\n...<|endoftext|>\n */
	NRV_CHAT_PHI3,              /* <|role|>\n...<|end|>\n */
	NRV_CHAT_FAMILY_COUNT
};

enum nrv_chat_role {
	NRV_CHAT_SYSTEM,
	NRV_CHAT_USER,
	NRV_CHAT_ASSISTANT,
};

struct nrv_chat_msg {
	int role;            /* enum nrv_chat_role */
	const char *content; /* UTF-8; need not be NUL-terminated */
	size_t len;          /* bytes of content */
};

/* A model's chat format: its family plus what the template text supplies. */
struct nrv_chat_tmpl {
	int family; /* enum nrv_chat_family */
	/*
	 * ChatML only: the default system message, written when the
	 * conversation does not open with a system message. It is the body of
	 * a string literal in the template (Jinja escapes such as \n are
	 * decoded when rendering), so it points into the template text, which
	 * must outlive this struct. NULL when the template has none.
	 */
	const char *default_system;
	size_t default_system_len;     /* bytes of the raw literal body */
	char default_system_quote;     /* the literal's quote character */
};

/*
 * The family of a template: `tmpl` is the Jinja source (len bytes, no NUL
 * needed) or a family name as nrv_chat_family_name spells it ("chatml",
 * "llama3", ...), which lets an operator override detection.
 * Returns an enum nrv_chat_family, NRV_CHAT_UNKNOWN when nothing matches.
 */
int nrv_chat_detect(const char *tmpl, size_t len);

/*
 * Fill *out from a template (or a family name, as for nrv_chat_detect),
 * including a ChatML template's default system message. Returns 0, or
 * -ENOTSUP when the family is unknown (out->family is then
 * NRV_CHAT_UNKNOWN), -EINVAL for NULL arguments.
 */
int nrv_chat_tmpl_init(struct nrv_chat_tmpl *out, const char *tmpl, size_t len);

/*
 * Render `n` messages, then (where the family has one) the assistant's
 * generation prompt when add_generation_prompt. Writes at most cap bytes
 * into buf, NUL-terminated when cap > 0 (buf may be NULL when cap is 0).
 * Returns the length of the whole rendering without the NUL, like
 * snprintf: the output is complete only when the return is < cap.
 * Errors: -EINVAL (bad role, n < 0, NULL msgs or contents with n > 0),
 * -ENOTSUP (unknown family), -EOVERFLOW (longer than INT_MAX).
 */
int nrv_chat_apply(const struct nrv_chat_tmpl *t, const struct nrv_chat_msg *msgs, int n,
		   bool add_generation_prompt, char *buf, size_t cap);

/* "chatml", "llama3", ...; "unknown" for NRV_CHAT_UNKNOWN and bad values. */
const char *nrv_chat_family_name(int family);

/* "system", "user", "assistant"; NULL for bad values. */
const char *nrv_chat_role_name(int role);

#endif
