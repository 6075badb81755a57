/*
 * src/chat.c - chat template detection and rendering (see chat.h).
 *
 * Detection checks substrings in the order llama.cpp's
 * llm_chat_detect_template does, so both engines put a given template in
 * the same family; families llama.cpp knows and nirvana does not render
 * (SmolVLM, ChatGLM, GLM-Edge, Falcon 3, ...) are reported as unknown
 * rather than mistaken for a neighbour. One deliberate difference: a
 * template with <|user|> that ends turns with a literal <|endoftext|> is
 * Zephyr here even when it also names <|assistant|>; llama.cpp takes that
 * pair for GLM-Edge first and drops the terminators. Zephyr templates
 * that write eos_token instead of a literal are unknown: their terminator
 * depends on the tokenizer. tests/py/test_chat.py compares both engines.
 *
 * Rendering appends to a bounded writer that keeps counting past the end
 * of the buffer, so one pass both fills the buffer and measures the need.
 */
#include "chat.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

static const char *const family_names[NRV_CHAT_FAMILY_COUNT] = {
	[NRV_CHAT_UNKNOWN] = "unknown",
	[NRV_CHAT_CHATML] = "chatml",
	[NRV_CHAT_PHI4] = "phi4",
	[NRV_CHAT_LLAMA2] = "llama2",
	[NRV_CHAT_LLAMA2_SYS] = "llama2-sys",
	[NRV_CHAT_LLAMA2_SYS_BOS] = "llama2-sys-bos",
	[NRV_CHAT_LLAMA2_SYS_STRIP] = "llama2-sys-strip",
	[NRV_CHAT_MISTRAL_V1] = "mistral-v1",
	[NRV_CHAT_MISTRAL_V3] = "mistral-v3",
	[NRV_CHAT_MISTRAL_V3_TEKKEN] = "mistral-v3-tekken",
	[NRV_CHAT_MISTRAL_V7] = "mistral-v7",
	[NRV_CHAT_MISTRAL_V7_TEKKEN] = "mistral-v7-tekken",
	[NRV_CHAT_LLAMA3] = "llama3",
	[NRV_CHAT_GEMMA] = "gemma",
	[NRV_CHAT_ZEPHYR] = "zephyr",
	[NRV_CHAT_PHI3] = "phi3",
};

static const char *const role_names[] = { "system", "user", "assistant" };

const char *nrv_chat_family_name(int family)
{
	if (family < 0 || family >= NRV_CHAT_FAMILY_COUNT)
		return family_names[NRV_CHAT_UNKNOWN];
	return family_names[family];
}

const char *nrv_chat_role_name(int role)
{
	if (role < NRV_CHAT_SYSTEM || role > NRV_CHAT_ASSISTANT)
		return NULL;
	return role_names[role];
}

/* ---- detection ---- */

struct text {
	const char *p;
	size_t len;
};

static const char *find(struct text t, const char *needle)
{
	size_t n = strlen(needle);
	if (n == 0 || n > t.len)
		return NULL;
	return memmem(t.p, t.len, needle, n);
}

static bool has(struct text t, const char *needle)
{
	return find(t, needle) != NULL;
}

int nrv_chat_detect(const char *tmpl, size_t len)
{
	if (!tmpl)
		return NRV_CHAT_UNKNOWN;
	struct text t = { tmpl, len };

	/* A bare family name selects that family. */
	for (int f = 1; f < NRV_CHAT_FAMILY_COUNT; f++)
		if (strlen(family_names[f]) == len && memcmp(family_names[f], tmpl, len) == 0)
			return f;

	if (has(t, "<|im_start|>")) {
		if (has(t, "<|im_sep|>"))
			return NRV_CHAT_PHI4;
		/* SmolVLM opens with <|im_start|> but is not ChatML. */
		if (has(t, "<end_of_utterance>"))
			return NRV_CHAT_UNKNOWN;
		return NRV_CHAT_CHATML;
	}
	if ((len >= 7 && memcmp(tmpl, "mistral", 7) == 0) || has(t, "[INST]")) {
		if (has(t, "[SYSTEM_PROMPT]"))
			return NRV_CHAT_MISTRAL_V7;
		/* Mistral's official v1 template, and v3 / v3-tekken (tools). */
		if (has(t, "' [INST] ' + system_message") || has(t, "[AVAILABLE_TOOLS]")) {
			if (has(t, " [INST]"))
				return NRV_CHAT_MISTRAL_V1;
			if (has(t, "\"[INST]\""))
				return NRV_CHAT_MISTRAL_V3_TEKKEN;
			return NRV_CHAT_MISTRAL_V3;
		}
		if (has(t, "content.strip()"))
			return NRV_CHAT_LLAMA2_SYS_STRIP;
		if (has(t, "bos_token + '[INST]"))
			return NRV_CHAT_LLAMA2_SYS_BOS;
		if (has(t, "<<SYS>>"))
			return NRV_CHAT_LLAMA2_SYS;
		return NRV_CHAT_LLAMA2;
	}
	if (has(t, "<|assistant|>") && has(t, "<|end|>"))
		return NRV_CHAT_PHI3;
	/* ChatGLM 4 ([gMASK]<sop>), then Falcon 3 / GLM-Edge (<|user|> and
	 * <|assistant|> with other terminators): not rendered here. */
	if (has(t, "[gMASK]"))
		return NRV_CHAT_UNKNOWN;
	if (has(t, "<|user|>") && has(t, "<|endoftext|>"))
		return NRV_CHAT_ZEPHYR;
	if (has(t, "<|user|>"))
		return NRV_CHAT_UNKNOWN;
	if (has(t, "<start_of_turn>"))
		return NRV_CHAT_GEMMA;
	if (has(t, "<|start_header_id|>") && has(t, "<|end_header_id|>"))
		return NRV_CHAT_LLAMA3;
	return NRV_CHAT_UNKNOWN;
}

/*
 * Find a ChatML default system message: a string literal in the template
 * that opens with <|im_start|>system and a newline and carries fixed text
 * up to <|im_end|>, e.g. SmolLM2's
 *     '<|im_start|>system\nYou are a helpful AI assistant named SmolLM,
 *      trained by Hugging Face<|im_end|>\n'
 * Literals that continue with an expression (`'<|im_start|>system\n' +
 * message['content']`) end before <|im_end|> and are skipped.
 */
static void find_default_system(struct nrv_chat_tmpl *out, struct text t)
{
	static const char head[] = "<|im_start|>system";
	static const char tail[] = "<|im_end|>";
	const size_t hl = sizeof(head) - 1, tl = sizeof(tail) - 1;
	const char *end = t.p + t.len;
	const char *p = t.p;

	for (;;) {
		struct text rest = { p, (size_t)(end - p) };
		const char *h = find(rest, head);
		if (!h)
			return;
		p = h + hl;
		if (h == t.p || (h[-1] != '\'' && h[-1] != '"'))
			continue;
		char q = h[-1];
		const char *c = p;
		if (c < end && *c == '\n')
			c++;
		else if (end - c >= 2 && c[0] == '\\' && c[1] == 'n')
			c += 2;
		else
			continue;
		for (const char *s = c; s < end;) {
			if ((size_t)(end - s) >= tl && memcmp(s, tail, tl) == 0) {
				out->default_system = c;
				out->default_system_len = (size_t)(s - c);
				out->default_system_quote = q;
				return;
			}
			if (*s == q)
				break; /* the literal ends before <|im_end|> */
			s += (*s == '\\' && end - s >= 2) ? 2 : 1;
		}
	}
}

int nrv_chat_tmpl_init(struct nrv_chat_tmpl *out, const char *tmpl, size_t len)
{
	if (!out || !tmpl)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->family = nrv_chat_detect(tmpl, len);
	if (out->family == NRV_CHAT_UNKNOWN)
		return -ENOTSUP;
	if (out->family == NRV_CHAT_CHATML)
		find_default_system(out, (struct text){ tmpl, len });
	return 0;
}

/* ---- rendering ---- */

struct out {
	char *buf;
	size_t cap;
	size_t len; /* bytes the full rendering needs so far */
};

static void put(struct out *o, const char *s, size_t n)
{
	/* Room for bytes: cap - 1, keeping one for the NUL. */
	if (o->cap && o->len < o->cap - 1) {
		size_t room = o->cap - 1 - o->len;
		memcpy(o->buf + o->len, s, n < room ? n : room);
	}
	o->len = n <= SIZE_MAX - o->len ? o->len + n : SIZE_MAX;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void putc_(struct out *o, char c)
{
	put(o, &c, 1);
}

static bool space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Content with leading and trailing whitespace removed (Jinja's trim). */
static struct text trimmed(const struct nrv_chat_msg *m)
{
	const char *p = m->content;
	size_t n = m->len;
	while (n && space(*p)) {
		p++;
		n--;
	}
	while (n && space(p[n - 1]))
		n--;
	return (struct text){ p, n };
}

static void put_text(struct out *o, struct text t)
{
	put(o, t.p, t.len);
}

static void put_content(struct out *o, const struct nrv_chat_msg *m)
{
	put(o, m->content, m->len);
}

/* The body of a Jinja string literal, escapes decoded. */
static void put_literal(struct out *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\' || i + 1 == n) {
			putc_(o, s[i]);
			continue;
		}
		char e = s[++i];
		switch (e) {
		case 'n': putc_(o, '\n'); break;
		case 't': putc_(o, '\t'); break;
		case 'r': putc_(o, '\r'); break;
		case '\\': putc_(o, '\\'); break;
		case '\'': putc_(o, '\''); break;
		case '"': putc_(o, '"'); break;
		default: /* not an escape Python knows: kept as written */
			putc_(o, '\\');
			putc_(o, e);
			break;
		}
	}
}

static void render_chatml(struct out *o, const struct nrv_chat_tmpl *t,
			  const struct nrv_chat_msg *m, int n, bool gen)
{
	/* SmolLM2 writes its default inside the message loop: not for an
	 * empty conversation. */
	if (t->default_system && n > 0 && m[0].role != NRV_CHAT_SYSTEM) {
		puts_(o, "<|im_start|>system\n");
		put_literal(o, t->default_system, t->default_system_len);
		puts_(o, "<|im_end|>\n");
	}
	for (int i = 0; i < n; i++) {
		puts_(o, "<|im_start|>");
		puts_(o, role_names[m[i].role]);
		putc_(o, '\n');
		put_content(o, &m[i]);
		puts_(o, "<|im_end|>\n");
	}
	if (gen)
		puts_(o, "<|im_start|>assistant\n");
}

static void render_phi4(struct out *o, const struct nrv_chat_msg *m, int n, bool gen)
{
	for (int i = 0; i < n; i++) {
		puts_(o, "<|im_start|>");
		puts_(o, role_names[m[i].role]);
		puts_(o, "<|im_sep|>");
		put_content(o, &m[i]);
		puts_(o, "<|im_end|>");
	}
	if (gen)
		puts_(o, "<|im_start|>assistant<|im_sep|>");
}

/* <|role|>\n content terminator \n, as Phi-3 and Zephyr write turns. */
static void render_pipe_roles(struct out *o, const struct nrv_chat_msg *m, int n, bool gen,
			      const char *terminator)
{
	for (int i = 0; i < n; i++) {
		puts_(o, "<|");
		puts_(o, role_names[m[i].role]);
		puts_(o, "|>\n");
		put_content(o, &m[i]);
		puts_(o, terminator);
		putc_(o, '\n');
	}
	if (gen)
		puts_(o, "<|assistant|>\n");
}

static void render_llama3(struct out *o, const struct nrv_chat_msg *m, int n, bool gen)
{
	for (int i = 0; i < n; i++) {
		puts_(o, "<|start_header_id|>");
		puts_(o, role_names[m[i].role]);
		puts_(o, "<|end_header_id|>\n\n");
		put_text(o, trimmed(&m[i]));
		puts_(o, "<|eot_id|>");
	}
	if (gen)
		puts_(o, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

/*
 * Gemma has no system role: system messages are held back and written,
 * trimmed and followed by a blank line, at the start of the next user
 * turn. The assistant is "model".
 */
static void render_gemma(struct out *o, const struct nrv_chat_msg *m, int n, bool gen)
{
	int pending = -1; /* first system message not yet written */
	for (int i = 0; i < n; i++) {
		if (m[i].role == NRV_CHAT_SYSTEM) {
			if (pending < 0)
				pending = i;
			continue;
		}
		bool model = m[i].role == NRV_CHAT_ASSISTANT;
		puts_(o, "<start_of_turn>");
		puts_(o, model ? "model" : role_names[m[i].role]);
		putc_(o, '\n');
		if (pending >= 0 && !model) {
			size_t before = o->len;
			for (int j = pending; j < i; j++)
				if (m[j].role == NRV_CHAT_SYSTEM)
					put_text(o, trimmed(&m[j]));
			if (o->len != before)
				puts_(o, "\n\n");
			pending = -1;
		}
		put_text(o, trimmed(&m[i]));
		puts_(o, "<end_of_turn>\n");
	}
	if (gen)
		puts_(o, "<start_of_turn>model\n");
}

static void render_llama2(struct out *o, int family, const struct nrv_chat_msg *m, int n)
{
	bool sys_block = family != NRV_CHAT_LLAMA2;
	bool bos_inside = family == NRV_CHAT_LLAMA2_SYS_BOS;
	bool strip = family == NRV_CHAT_LLAMA2_SYS_STRIP;
	bool in_turn = true; /* the first [INST] is written up front */
	puts_(o, "[INST] ");
	for (int i = 0; i < n; i++) {
		struct text c = strip ? trimmed(&m[i]) : (struct text){ m[i].content, m[i].len };
		if (!in_turn) {
			in_turn = true;
			puts_(o, bos_inside ? "<s>[INST] " : "[INST] ");
		}
		if (m[i].role == NRV_CHAT_SYSTEM) {
			if (sys_block) {
				puts_(o, "<<SYS>>\n");
				put_text(o, c);
				puts_(o, "\n<</SYS>>\n\n");
			} else {
				put_text(o, c);
				putc_(o, '\n');
			}
		} else if (m[i].role == NRV_CHAT_USER) {
			put_text(o, c);
			puts_(o, " [/INST]");
		} else {
			put_text(o, c);
			puts_(o, "</s>");
			in_turn = false;
		}
	}
}

static void render_mistral(struct out *o, int family, const struct nrv_chat_msg *m, int n)
{
	const char *lead = family == NRV_CHAT_MISTRAL_V1 ? " " : "";
	const char *trail = family == NRV_CHAT_MISTRAL_V3_TEKKEN ? "" : " ";
	bool trim_assistant = family == NRV_CHAT_MISTRAL_V3;
	bool in_turn = false;
	for (int i = 0; i < n; i++) {
		if (!in_turn) {
			puts_(o, lead);
			puts_(o, "[INST]");
			puts_(o, trail);
			in_turn = true;
		}
		if (m[i].role == NRV_CHAT_SYSTEM) {
			put_content(o, &m[i]);
			puts_(o, "\n\n");
		} else if (m[i].role == NRV_CHAT_USER) {
			put_content(o, &m[i]);
			puts_(o, lead);
			puts_(o, "[/INST]");
		} else {
			puts_(o, trail);
			if (trim_assistant)
				put_text(o, trimmed(&m[i]));
			else
				put_content(o, &m[i]);
			puts_(o, "</s>");
			in_turn = false;
		}
	}
}

static void render_mistral_v7(struct out *o, int family, const struct nrv_chat_msg *m, int n)
{
	const char *sp = family == NRV_CHAT_MISTRAL_V7 ? " " : "";
	for (int i = 0; i < n; i++) {
		if (m[i].role == NRV_CHAT_SYSTEM) {
			puts_(o, "[SYSTEM_PROMPT]");
			puts_(o, sp);
			put_content(o, &m[i]);
			puts_(o, "[/SYSTEM_PROMPT]");
		} else if (m[i].role == NRV_CHAT_USER) {
			puts_(o, "[INST]");
			puts_(o, sp);
			put_content(o, &m[i]);
			puts_(o, "[/INST]");
		} else {
			puts_(o, sp);
			put_content(o, &m[i]);
			puts_(o, "</s>");
		}
	}
}

int nrv_chat_apply(const struct nrv_chat_tmpl *t, const struct nrv_chat_msg *msgs, int n,
		   bool add_generation_prompt, char *buf, size_t cap)
{
	if (!t || n < 0 || (n > 0 && !msgs) || (cap > 0 && !buf))
		return -EINVAL;
	for (int i = 0; i < n; i++) {
		if (!nrv_chat_role_name(msgs[i].role))
			return -EINVAL;
		if (!msgs[i].content && msgs[i].len)
			return -EINVAL;
	}
	struct out o = { buf, cap, 0 };
	bool gen = add_generation_prompt;
	switch (t->family) {
	case NRV_CHAT_CHATML:
		render_chatml(&o, t, msgs, n, gen);
		break;
	case NRV_CHAT_PHI4:
		render_phi4(&o, msgs, n, gen);
		break;
	case NRV_CHAT_LLAMA2:
	case NRV_CHAT_LLAMA2_SYS:
	case NRV_CHAT_LLAMA2_SYS_BOS:
	case NRV_CHAT_LLAMA2_SYS_STRIP:
		render_llama2(&o, t->family, msgs, n);
		break;
	case NRV_CHAT_MISTRAL_V1:
	case NRV_CHAT_MISTRAL_V3:
	case NRV_CHAT_MISTRAL_V3_TEKKEN:
		render_mistral(&o, t->family, msgs, n);
		break;
	case NRV_CHAT_MISTRAL_V7:
	case NRV_CHAT_MISTRAL_V7_TEKKEN:
		render_mistral_v7(&o, t->family, msgs, n);
		break;
	case NRV_CHAT_LLAMA3:
		render_llama3(&o, msgs, n, gen);
		break;
	case NRV_CHAT_GEMMA:
		render_gemma(&o, msgs, n, gen);
		break;
	case NRV_CHAT_ZEPHYR:
		render_pipe_roles(&o, msgs, n, gen, "<|endoftext|>");
		break;
	case NRV_CHAT_PHI3:
		render_pipe_roles(&o, msgs, n, gen, "<|end|>");
		break;
	default:
		return -ENOTSUP;
	}
	if (cap > 0)
		buf[o.len < cap ? o.len : cap - 1] = '\0';
	if (o.len > INT_MAX)
		return -EOVERFLOW;
	return (int)o.len;
}
