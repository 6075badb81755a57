/*
 * tests/chat/test_chat.c - chat template detection and rendering: each
 * family from a realistic template, exact multi-turn renderings, the
 * snprintf-style size contract, ChatML default system messages, and
 * SmolLM2's real template read out of its GGUF file.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "gguf.h"
#include "mem/weights.h"

#define MSG(r, s) { .role = NRV_CHAT_##r, .content = (s), .len = sizeof(s) - 1 }

/* ---- templates as models ship them (Jinja source) ---- */

static const char smollm2_tmpl[] =
	"{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
	"{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
	"Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
	"message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
	"{{ '<|im_start|>assistant\n' }}{% endif %}";

/* Generic ChatML with no default system message; \n written as escapes. */
static const char chatml_tmpl[] =
	"{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
	"message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
	"{{ '<|im_start|>assistant\\n' }}{% endif %}";

/* Qwen2.5-style: a tools branch that opens a system turn with an
 * expression, then the default in an else branch, with escapes. */
static const char qwen_like_tmpl[] =
	"{%- if tools %}{{- '<|im_start|>system\\n' }}{%- if messages[0]['role'] == 'system' %}"
	"{{- messages[0]['content'] }}{%- endif %}{{- '<|im_end|>\\n' }}{%- else %}"
	"{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + "
	"messages[0]['content'] + '<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\n"
	"You\\'re Qwen, a \"helpful\"\\tassistant.<|im_end|>\\n' }}{%- endif %}{%- endif %}"
	"{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + "
	"message.content + '<|im_end|>' + '\\n' }}{%- endfor %}{%- if add_generation_prompt %}"
	"{{- '<|im_start|>assistant\\n' }}{%- endif %}";

static const char phi4_tmpl[] =
	"{% for message in messages %}{% if (message['role'] == 'system') %}"
	"{{'<|im_start|>system<|im_sep|>' + message['content'] + '<|im_end|>'}}"
	"{% elif (message['role'] == 'user') %}{{'<|im_start|>user<|im_sep|>' + "
	"message['content'] + '<|im_end|>'}}{% elif (message['role'] == 'assistant') %}"
	"{{'<|im_start|>assistant<|im_sep|>' + message['content'] + '<|im_end|>'}}{% endif %}"
	"{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant<|im_sep|>' }}"
	"{% endif %}";

static const char llama2_chat_tmpl[] =
	"{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
	"{% set system_message = messages[0]['content'] %}{% else %}"
	"{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
	"{% for message in loop_messages %}{% if loop.index0 == 0 and system_message != false %}"
	"{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + "
	"message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}"
	"{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + "
	"' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' "
	"+ eos_token }}{% endif %}{% endfor %}";

static const char llama2_sys_tmpl[] =
	"{% for message in messages %}{% if message['role'] == 'system' %}"
	"{{ '<<SYS>>\\n' + message['content'] + '\\n<</SYS>>\\n\\n' }}"
	"{% elif message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
	"{% else %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}";

static const char mistral_v01_tmpl[] =
	"{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != "
	"(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
	"user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}"
	"{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == "
	"'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only "
	"user and assistant roles are supported!') }}{% endif %}{% endfor %}";

static const char mistral_v3_tmpl[] =
	"{{- bos_token }}{%- for message in loop_messages %}{%- if message[\"role\"] == \"user\" "
	"%}{%- if tools is not none and (message == user_messages[-1]) %}{{- \"[AVAILABLE_TOOLS] "
	"[\" }}{%- endif %}{%- if loop.last and system_message is defined %}{{- \"[INST] \" + "
	"system_message + \"\\n\\n\" + message[\"content\"] + \"[/INST]\" }}{%- else %}"
	"{{- \"[INST] \" + message[\"content\"] + \"[/INST]\" }}{%- endif %}{%- endif %}"
	"{%- endfor %}";

/* v3-tekken writes "[INST]" with no space inside the quotes. */
static const char mistral_v3_tekken_tmpl[] =
	"{{- bos_token }}{%- for message in loop_messages %}{%- if message[\"role\"] == \"user\" "
	"%}{%- if tools is not none and (message == user_messages[-1]) %}{{- \"[AVAILABLE_TOOLS]"
	"[\" }}{%- endif %}{{- \"[INST]\" + message[\"content\"] + \"[/INST]\" }}{%- elif "
	"message[\"role\"] == \"assistant\" %}{{- message[\"content\"] + eos_token }}{%- endif %}"
	"{%- endfor %}";

static const char mistral_v7_tmpl[] =
	"{{- bos_token }}{%- for message in loop_messages %}{%- if message['role'] == 'user' %}"
	"{{- '[INST] ' + message['content'] + '[/INST]' }}{%- elif message['role'] == 'system' %}"
	"{{- '[SYSTEM_PROMPT] ' + message['content'] + '[/SYSTEM_PROMPT]' }}{%- elif "
	"message['role'] == 'assistant' %}{{- ' ' + message['content'] + eos_token }}{%- endif %}"
	"{%- endfor %}";

static const char llama3_tmpl[] =
	"{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
	"'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] "
	"| trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}"
	"{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
	"{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

static const char gemma_tmpl[] =
	"{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role "
	"not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == "
	"'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}"
	"{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + "
	"'<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}"
	"{{'<start_of_turn>model\\n'}}{% endif %}";

static const char zephyr_tmpl[] =
	"{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\\n' + "
	"message['content'] + '<|endoftext|>' }}\n{% elif message['role'] == 'system' %}\n"
	"{{ '<|system|>\\n' + message['content'] + '<|endoftext|>' }}\n{% elif message['role'] "
	"== 'assistant' %}\n{{ '<|assistant|>\\n'  + message['content'] + '<|endoftext|>' }}\n"
	"{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n"
	"{% endif %}\n{% endfor %}";

static const char phi3_tmpl[] =
	"{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') %}"
	"{{'<|user|>' + '\\n' + message['content'] + '<|end|>' + '\\n' + '<|assistant|>' + "
	"'\\n'}}{% elif (message['role'] == 'assistant') %}{{message['content'] + '<|end|>' + "
	"'\\n'}}{% endif %}{% endfor %}";

/* ---- helpers ---- */

static const struct nrv_chat_msg conv[] = {
	MSG(SYSTEM, "You are terse."),
	MSG(USER, "Hi"),
	MSG(ASSISTANT, "Hello!"),
	MSG(USER, "2+2?"),
};
#define N_CONV ((int)(sizeof(conv) / sizeof(conv[0])))

static struct nrv_chat_tmpl tmpl_of(const char *src)
{
	struct nrv_chat_tmpl t;
	int rc = nrv_chat_tmpl_init(&t, src, strlen(src));
	cr_assert_eq(rc, 0, "template not recognised (%d): %.60s...", rc, src);
	return t;
}

static void expect_render(const struct nrv_chat_tmpl *t, const struct nrv_chat_msg *m, int n,
			  bool gen, const char *want)
{
	char buf[2048];
	int rc = nrv_chat_apply(t, m, n, gen, buf, sizeof(buf));
	cr_assert_geq(rc, 0, "%s: apply failed: %d", nrv_chat_family_name(t->family), rc);
	cr_expect_eq((size_t)rc, strlen(buf));
	cr_expect_str_eq(buf, want, "%s rendering differs", nrv_chat_family_name(t->family));
}

/* ---- detection ---- */

Test(chat, detects_each_family)
{
	struct {
		const char *src;
		int family;
	} cases[] = {
		{ smollm2_tmpl, NRV_CHAT_CHATML },
		{ chatml_tmpl, NRV_CHAT_CHATML },
		{ qwen_like_tmpl, NRV_CHAT_CHATML },
		{ phi4_tmpl, NRV_CHAT_PHI4 },
		{ llama2_chat_tmpl, NRV_CHAT_LLAMA2_SYS_STRIP },
		{ llama2_sys_tmpl, NRV_CHAT_LLAMA2_SYS },
		{ mistral_v01_tmpl, NRV_CHAT_LLAMA2 },
		{ mistral_v3_tmpl, NRV_CHAT_MISTRAL_V3 },
		{ mistral_v3_tekken_tmpl, NRV_CHAT_MISTRAL_V3_TEKKEN },
		{ mistral_v7_tmpl, NRV_CHAT_MISTRAL_V7 },
		{ llama3_tmpl, NRV_CHAT_LLAMA3 },
		{ gemma_tmpl, NRV_CHAT_GEMMA },
		{ zephyr_tmpl, NRV_CHAT_ZEPHYR },
		{ phi3_tmpl, NRV_CHAT_PHI3 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int f = nrv_chat_detect(cases[i].src, strlen(cases[i].src));
		cr_expect_eq(f, cases[i].family, "case %zu: got %s, want %s", i,
			     nrv_chat_family_name(f), nrv_chat_family_name(cases[i].family));
	}
}

Test(chat, mistral_variants_by_their_markers)
{
	const char v1[] = "{{ bos_token }}{% for m in messages %}{{ ' [INST] ' + system_message"
			  " + '\\n\\n' + m['content'] + ' [/INST]' }}{% endfor %}";
	const char v3[] = "{% for m in messages %}{{ '[AVAILABLE_TOOLS]' }}{{ '[INST]' + "
			  "m['content'] + '[/INST]' }}{% endfor %}";
	cr_expect_eq(nrv_chat_detect(v1, strlen(v1)), NRV_CHAT_MISTRAL_V1);
	cr_expect_eq(nrv_chat_detect(v3, strlen(v3)), NRV_CHAT_MISTRAL_V3);
	/* A bare "mistral..." prefix with no markers is the llama-2 format. */
	const char bare[] = "mistral-something";
	cr_expect_eq(nrv_chat_detect(bare, strlen(bare)), NRV_CHAT_LLAMA2);
}

Test(chat, unknown_templates_are_reported)
{
	const char *unknown[] = {
		"",
		"{% for message in messages %}{{ message['content'] }}{% endfor %}",
		/* SmolVLM: <|im_start|> but not ChatML */
		"<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}: "
		"{{ message['content'] }}<end_of_utterance>\n{% endfor %}",
		/* Falcon 3 style: <|user|> / <|assistant|>, other terminators */
		"{% for m in messages %}{{ '<|user|>\\n' + m['content'] + '\\n<|assistant|>\\n' }}"
		"{% endfor %}",
		/* ChatGLM 4 */
		"[gMASK]<sop>{% for item in messages %}<|{{ item['role'] }}|>{% endfor %}",
	};
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		cr_expect_eq(nrv_chat_detect(unknown[i], strlen(unknown[i])), NRV_CHAT_UNKNOWN,
			     "case %zu", i);
		struct nrv_chat_tmpl t;
		cr_expect_eq(nrv_chat_tmpl_init(&t, unknown[i], strlen(unknown[i])), -ENOTSUP);
		cr_expect_eq(t.family, NRV_CHAT_UNKNOWN);
		char buf[16];
		cr_expect_eq(nrv_chat_apply(&t, conv, N_CONV, true, buf, sizeof(buf)), -ENOTSUP);
	}
	cr_expect_str_eq(nrv_chat_family_name(NRV_CHAT_UNKNOWN), "unknown");
	cr_expect_str_eq(nrv_chat_family_name(-1), "unknown");
	cr_expect_str_eq(nrv_chat_family_name(NRV_CHAT_FAMILY_COUNT), "unknown");
	cr_expect_eq(nrv_chat_detect(NULL, 0), NRV_CHAT_UNKNOWN);
}

Test(chat, family_names_select_families)
{
	for (int f = 1; f < NRV_CHAT_FAMILY_COUNT; f++) {
		const char *name = nrv_chat_family_name(f);
		cr_expect_neq(strcmp(name, "unknown"), 0, "family %d has no name", f);
		cr_expect_eq(nrv_chat_detect(name, strlen(name)), f, "name %s", name);
	}
	/* A name is matched whole, not as a prefix. */
	cr_expect_eq(nrv_chat_detect("chatml", 4), NRV_CHAT_UNKNOWN);
	/* By name, ChatML has no default system message. */
	struct nrv_chat_tmpl t;
	cr_assert_eq(nrv_chat_tmpl_init(&t, "chatml", 6), 0);
	cr_expect_null(t.default_system);
}

/* ---- renderings ---- */

Test(chat, chatml_without_default_system)
{
	struct nrv_chat_tmpl t = tmpl_of(chatml_tmpl);
	cr_expect_null(t.default_system);
	expect_render(&t, conv, N_CONV, true,
		      "<|im_start|>system\nYou are terse.<|im_end|>\n"
		      "<|im_start|>user\nHi<|im_end|>\n"
		      "<|im_start|>assistant\nHello!<|im_end|>\n"
		      "<|im_start|>user\n2+2?<|im_end|>\n"
		      "<|im_start|>assistant\n");
	/* No system message: none is invented. */
	expect_render(&t, conv + 1, N_CONV - 1, false,
		      "<|im_start|>user\nHi<|im_end|>\n"
		      "<|im_start|>assistant\nHello!<|im_end|>\n"
		      "<|im_start|>user\n2+2?<|im_end|>\n");
}

Test(chat, chatml_default_system_from_the_template)
{
	struct nrv_chat_tmpl t = tmpl_of(smollm2_tmpl);
	cr_assert_not_null(t.default_system);
	expect_render(&t, conv + 1, 1, true,
		      "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by "
		      "Hugging Face<|im_end|>\n"
		      "<|im_start|>user\nHi<|im_end|>\n"
		      "<|im_start|>assistant\n");
	/* A system message of the caller's replaces the default. */
	expect_render(&t, conv, 2, true,
		      "<|im_start|>system\nYou are terse.<|im_end|>\n"
		      "<|im_start|>user\nHi<|im_end|>\n"
		      "<|im_start|>assistant\n");
	/* Empty conversation: SmolLM2 writes its default inside the loop. */
	expect_render(&t, NULL, 0, true, "<|im_start|>assistant\n");

	/* The text comes from the template, escapes decoded; expression
	 * literals ('<|im_start|>system\n' + ...) are passed over. */
	struct nrv_chat_tmpl q = tmpl_of(qwen_like_tmpl);
	cr_assert_not_null(q.default_system);
	expect_render(&q, conv + 1, 1, false,
		      "<|im_start|>system\nYou're Qwen, a \"helpful\"\tassistant.<|im_end|>\n"
		      "<|im_start|>user\nHi<|im_end|>\n");
}

Test(chat, phi4)
{
	struct nrv_chat_tmpl t = tmpl_of(phi4_tmpl);
	expect_render(&t, conv, N_CONV, true,
		      "<|im_start|>system<|im_sep|>You are terse.<|im_end|>"
		      "<|im_start|>user<|im_sep|>Hi<|im_end|>"
		      "<|im_start|>assistant<|im_sep|>Hello!<|im_end|>"
		      "<|im_start|>user<|im_sep|>2+2?<|im_end|>"
		      "<|im_start|>assistant<|im_sep|>");
}

Test(chat, llama2_variants)
{
	const struct nrv_chat_msg padded[] = {
		MSG(SYSTEM, " You are terse. "),
		MSG(USER, "Hi "),
		MSG(ASSISTANT, " Hello!"),
		MSG(USER, "2+2?"),
	};
	struct nrv_chat_tmpl t = tmpl_of(llama2_chat_tmpl); /* sys-strip */
	expect_render(&t, padded, 4, true,
		      "[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi [/INST]Hello!</s>"
		      "[INST] 2+2? [/INST]");
	t = tmpl_of(llama2_sys_tmpl);
	expect_render(&t, conv, N_CONV, false,
		      "[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi [/INST]Hello!</s>"
		      "[INST] 2+2? [/INST]");
	t = tmpl_of(mistral_v01_tmpl); /* plain llama2: system as text */
	expect_render(&t, conv, N_CONV, true,
		      "[INST] You are terse.\nHi [/INST]Hello!</s>[INST] 2+2? [/INST]");
	t = tmpl_of("llama2-sys-bos");
	expect_render(&t, conv, N_CONV, true,
		      "[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi [/INST]Hello!</s>"
		      "<s>[INST] 2+2? [/INST]");
}

Test(chat, mistral_variants)
{
	struct nrv_chat_tmpl t = tmpl_of("mistral-v1");
	expect_render(&t, conv, N_CONV, true,
		      " [INST] You are terse.\n\nHi [/INST] Hello!</s> [INST] 2+2? [/INST]");
	const struct nrv_chat_msg padded[] = { MSG(USER, "Hi"), MSG(ASSISTANT, " Hello! ") };
	t = tmpl_of(mistral_v3_tmpl);
	expect_render(&t, conv, N_CONV, true,
		      "[INST] You are terse.\n\nHi[/INST] Hello!</s>[INST] 2+2?[/INST]");
	expect_render(&t, padded, 2, false, "[INST] Hi[/INST] Hello!</s>");
	t = tmpl_of(mistral_v3_tekken_tmpl);
	expect_render(&t, conv, N_CONV, true,
		      "[INST]You are terse.\n\nHi[/INST]Hello!</s>[INST]2+2?[/INST]");
	expect_render(&t, padded, 2, false, "[INST]Hi[/INST] Hello! </s>");
	t = tmpl_of(mistral_v7_tmpl);
	expect_render(&t, conv, N_CONV, true,
		      "[SYSTEM_PROMPT] You are terse.[/SYSTEM_PROMPT][INST] Hi[/INST] Hello!</s>"
		      "[INST] 2+2?[/INST]");
	t = tmpl_of("mistral-v7-tekken");
	expect_render(&t, conv, N_CONV, true,
		      "[SYSTEM_PROMPT]You are terse.[/SYSTEM_PROMPT][INST]Hi[/INST]Hello!</s>"
		      "[INST]2+2?[/INST]");
}

Test(chat, llama3)
{
	struct nrv_chat_tmpl t = tmpl_of(llama3_tmpl);
	const struct nrv_chat_msg m[] = {
		MSG(SYSTEM, "You are terse."),
		MSG(USER, "\n Hi \t"),
		MSG(ASSISTANT, "Hello!"),
		MSG(USER, "2+2?"),
	};
	expect_render(&t, m, 4, true,
		      "<|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
		      "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
		      "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
		      "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>"
		      "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

Test(chat, gemma_folds_system_into_the_first_user_turn)
{
	struct nrv_chat_tmpl t = tmpl_of(gemma_tmpl);
	expect_render(&t, conv, N_CONV, true,
		      "<start_of_turn>user\nYou are terse.\n\nHi<end_of_turn>\n"
		      "<start_of_turn>model\nHello!<end_of_turn>\n"
		      "<start_of_turn>user\n2+2?<end_of_turn>\n"
		      "<start_of_turn>model\n");
	/* No system message: no blank line; contents trimmed. */
	const struct nrv_chat_msg m[] = { MSG(USER, "  Hi\n") };
	expect_render(&t, m, 1, false, "<start_of_turn>user\nHi<end_of_turn>\n");
}

Test(chat, zephyr_and_phi3)
{
	struct nrv_chat_tmpl t = tmpl_of(zephyr_tmpl);
	expect_render(&t, conv, N_CONV, true,
		      "<|system|>\nYou are terse.<|endoftext|>\n"
		      "<|user|>\nHi<|endoftext|>\n"
		      "<|assistant|>\nHello!<|endoftext|>\n"
		      "<|user|>\n2+2?<|endoftext|>\n"
		      "<|assistant|>\n");
	t = tmpl_of(phi3_tmpl);
	expect_render(&t, conv, N_CONV, true,
		      "<|system|>\nYou are terse.<|end|>\n"
		      "<|user|>\nHi<|end|>\n"
		      "<|assistant|>\nHello!<|end|>\n"
		      "<|user|>\n2+2?<|end|>\n"
		      "<|assistant|>\n");
}

/* ---- the size contract and errors ---- */

Test(chat, small_buffer_returns_the_needed_size)
{
	struct nrv_chat_tmpl t = tmpl_of(smollm2_tmpl);
	char full[1024];
	int need = nrv_chat_apply(&t, conv + 1, 3, true, full, sizeof(full));
	cr_assert_gt(need, 0);
	cr_assert_lt(need, (int)sizeof(full));
	/* Measuring with no buffer at all. */
	cr_expect_eq(nrv_chat_apply(&t, conv + 1, 3, true, NULL, 0), need);
	/* Every shorter buffer: same return, a NUL-terminated prefix. */
	for (size_t cap = 1; cap <= (size_t)need; cap++) {
		char buf[1024];
		memset(buf, 'x', sizeof(buf));
		cr_assert_eq(nrv_chat_apply(&t, conv + 1, 3, true, buf, cap), need);
		cr_assert_eq(buf[cap - 1], '\0', "cap %zu not terminated", cap);
		cr_assert_eq(memcmp(buf, full, cap - 1), 0, "cap %zu: wrong prefix", cap);
		cr_assert_eq(buf[cap], 'x', "cap %zu: wrote past the buffer", cap);
	}
}

Test(chat, bad_arguments)
{
	struct nrv_chat_tmpl t = tmpl_of(chatml_tmpl);
	char buf[64];
	struct nrv_chat_msg bad_role[] = { { .role = 7, .content = "x", .len = 1 } };
	cr_expect_eq(nrv_chat_apply(&t, bad_role, 1, true, buf, sizeof(buf)), -EINVAL);
	struct nrv_chat_msg no_content[] = { { .role = NRV_CHAT_USER, .content = NULL, .len = 3 } };
	cr_expect_eq(nrv_chat_apply(&t, no_content, 1, true, buf, sizeof(buf)), -EINVAL);
	cr_expect_eq(nrv_chat_apply(&t, conv, -1, true, buf, sizeof(buf)), -EINVAL);
	cr_expect_eq(nrv_chat_apply(&t, NULL, 2, true, buf, sizeof(buf)), -EINVAL);
	cr_expect_eq(nrv_chat_apply(&t, conv, 1, true, NULL, 8), -EINVAL);
	cr_expect_eq(nrv_chat_apply(NULL, conv, 1, true, buf, sizeof(buf)), -EINVAL);
	cr_expect_eq(nrv_chat_tmpl_init(NULL, "chatml", 6), -EINVAL);
	/* Content is taken by length: embedded bytes past len are ignored. */
	struct nrv_chat_msg part[] = { { .role = NRV_CHAT_USER, .content = "Hi there", .len = 2 } };
	expect_render(&t, part, 1, false, "<|im_start|>user\nHi<|im_end|>\n");
	cr_expect_str_eq(nrv_chat_role_name(NRV_CHAT_ASSISTANT), "assistant");
	cr_expect_null(nrv_chat_role_name(3));
}

/* ---- SmolLM2's real template ---- */

Test(chat, smollm2_gguf_template_is_chatml_with_its_default)
{
	const char *path = getenv("NRV_MODEL");
	if (!path)
		path = "/root/.cache/nirvana/models/SmolLM2-135M-Instruct.Q4_1.gguf";
	char err[256] = "";
	struct nrv_weights *w;
	int rc = nrv_weights_open(path, NULL, &w, err, sizeof(err));
	if (rc) {
		cr_skip_test("SmolLM2 GGUF not available at %s (%s): run tools/fetch-model.sh",
			     path, err);
	}
	size_t hlen;
	const void *hdr = nrv_weights_header(w, &hlen);
	struct nrv_gguf *g;
	rc = nrv_gguf_parse(hdr, hlen, nrv_weights_file_size(w), &g, err, sizeof(err));
	cr_assert_eq(rc, 0, "parse: %s", err);
	struct nrv_gguf_str s;
	cr_assert_eq(nrv_gguf_get_str(g, "tokenizer.chat_template", &s), 0);

	struct nrv_chat_tmpl t;
	cr_assert_eq(nrv_chat_tmpl_init(&t, s.p, s.len), 0);
	cr_expect_eq(t.family, NRV_CHAT_CHATML, "got %s", nrv_chat_family_name(t.family));
	cr_assert_not_null(t.default_system);
	/* The facts sheet's rendering of a conversation with no system turn. */
	expect_render(&t, conv + 1, 3, true,
		      "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by "
		      "Hugging Face<|im_end|>\n"
		      "<|im_start|>user\nHi<|im_end|>\n"
		      "<|im_start|>assistant\nHello!<|im_end|>\n"
		      "<|im_start|>user\n2+2?<|im_end|>\n"
		      "<|im_start|>assistant\n");
	nrv_gguf_free(g);
	nrv_weights_close(w);
}
