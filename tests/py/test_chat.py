"""nirvana's chat templates against llama.cpp's built-in ones.

llama-cpp-python exposes llama_chat_apply_template, which detects a
template's family (or takes a family name) and renders it in C++ without a
model. tests/chat/chat_render exposes nirvana's renderer. Both must give
the same bytes, except that nirvana adds a ChatML template's own default
system message (SmolLM2's), which llama.cpp's built-in renderer omits.

Run: NRV_BUILD=build pytest tests/py/test_chat.py (inside the venv).
"""
import ctypes
import os
import pathlib
import subprocess

import pytest

from conftest import BUILD

llama_cpp = pytest.importorskip("llama_cpp")

FAMILIES = [
    "chatml", "phi4", "llama2", "llama2-sys", "llama2-sys-bos", "llama2-sys-strip",
    "mistral-v1", "mistral-v3", "mistral-v3-tekken", "mistral-v7", "mistral-v7-tekken",
    "llama3", "gemma", "zephyr", "phi3",
]

CONVERSATIONS = {
    "one-user": [("user", "Hello")],
    "multi-turn": [("system", "You are terse."), ("user", "Hi"), ("assistant", "Hello!"),
                   ("user", "2+2?")],
    "whitespace": [("user", " padded \n"), ("assistant", "  reply  "), ("user", "next")],
    "system-then-assistant": [("system", " sys "), ("assistant", "first"),
                              ("user", "h\u00e9llo \u2713")],
    "two-systems": [("system", "a"), ("system", "b"), ("user", "c")],
}

# Templates as models ship them; the family each must land in.
TEMPLATES = {
    "chatml-generic": (
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
        "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
        "{{ '<|im_start|>assistant\\n' }}{% endif %}"),
    "llama2-chat": (
        "{% for message in loop_messages %}{% if loop.index0 == 0 and system_message != false %}"
        "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + "
        "message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + "
        "'[INST] ' + content.strip() + ' [/INST]' }}{% endif %}{% endfor %}"),
    "mistral-v0.1": (
        "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
        "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == "
        "'assistant' %}{{ message['content'] + eos_token}}{% endif %}{% endfor %}"),
    "llama3": (
        "{% for message in messages %}{% set content = '<|start_header_id|>' + message['role'] "
        "+ '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{{ content }}"
        "{% endfor %}{% if add_generation_prompt %}"
        "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"),
    "gemma": (
        "{{ bos_token }}{% for message in messages %}{{ '<start_of_turn>' + role + '\\n' + "
        "message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if "
        "add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}"),
    "zephyr": (
        "{% for message in messages %}{% if message['role'] == 'user' %}{{ '<|user|>\\n' + "
        "message['content'] + '<|endoftext|>' }}{% elif message['role'] == 'assistant' %}"
        "{{ '<|assistant|>\\n'  + message['content'] + '<|endoftext|>' }}{% endif %}"
        "{% endfor %}"),
    "phi3": (
        "{% for message in messages %}{% if (message['role'] == 'user') %}{{'<|user|>' + '\\n' "
        "+ message['content'] + '<|end|>' + '\\n' + '<|assistant|>' + '\\n'}}{% endif %}"
        "{% endfor %}"),
    "phi4": (
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '<|im_sep|>' + "
        "message['content'] + '<|im_end|>'}}{% endfor %}"),
    "mistral-v7": "{{ '[SYSTEM_PROMPT] ' + m + '[/SYSTEM_PROMPT]' }}{{ '[INST] ' }}",
}


@pytest.fixture(scope="module")
def renderer():
    exe = BUILD / "tests" / "chat" / "chat_render"
    if not exe.exists():
        pytest.skip(f"{exe} not built (meson setup with Criterion, then ninja)")
    return exe


def llama_render(tmpl: str, msgs, add_ass: bool) -> bytes:
    arr = (llama_cpp.llama_chat_message * len(msgs))()
    keep = []
    for i, (role, content) in enumerate(msgs):
        r, c = role.encode(), content.encode()
        keep += [r, c]
        arr[i].role = r
        arr[i].content = c
    size = 4096
    while True:
        buf = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_chat_apply_template(tmpl.encode(), arr, len(msgs), add_ass, buf, size)
        assert n >= 0, f"llama.cpp does not know template {tmpl[:40]!r}"
        if n < size:
            return buf.raw[:n]
        size = n + 1


def ours(renderer, workdir, tmpl: str, msgs, add_ass: bool) -> bytes:
    path = workdir / "tmpl.jinja"
    path.write_text(tmpl)
    stdin = b"".join(r.encode() + b"\0" + c.encode() + b"\0" for r, c in msgs)
    out = subprocess.run([str(renderer), "render", str(path), "1" if add_ass else "0"],
                         input=stdin, capture_output=True, check=True)
    return out.stdout


def family(renderer, workdir, tmpl: str) -> str:
    path = workdir / "tmpl.jinja"
    path.write_text(tmpl)
    out = subprocess.run([str(renderer), "detect", str(path)], capture_output=True, check=True,
                         text=True)
    return out.stdout.strip()


@pytest.mark.parametrize("add_ass", [True, False])
@pytest.mark.parametrize("conv", list(CONVERSATIONS))
@pytest.mark.parametrize("name", FAMILIES)
def test_builtin_family_matches_llama_cpp(renderer, workdir, name, conv, add_ass):
    msgs = CONVERSATIONS[conv]
    assert ours(renderer, workdir, name, msgs, add_ass) == llama_render(name, msgs, add_ass)


# Where nirvana detects deliberately differently: llama.cpp checks for
# <|user|> + <|assistant|> (Falcon 3 / GLM-Edge) before <|endoftext|>, so a
# Zephyr template that ends turns with a literal <|endoftext|> renders there
# without its terminators. nirvana calls it Zephyr, as its text says.
DIVERGES = {"zephyr": "zephyr"}


@pytest.mark.parametrize("add_ass", [True, False])
@pytest.mark.parametrize("key", list(TEMPLATES))
def test_detection_matches_llama_cpp(renderer, workdir, key, add_ass):
    tmpl = TEMPLATES[key]
    fam = family(renderer, workdir, tmpl)
    assert fam != "unknown"
    for msgs in CONVERSATIONS.values():
        peer = DIVERGES.get(key, tmpl)
        assert ours(renderer, workdir, tmpl, msgs, add_ass) == llama_render(peer, msgs, add_ass)
        if key in DIVERGES:
            assert b"<|endoftext|>" not in llama_render(tmpl, msgs, add_ass)


def test_smollm2_template_adds_its_default_system(renderer, workdir):
    gguf = pytest.importorskip("gguf")
    path = os.environ.get("NRV_MODEL",
                          "/root/.cache/nirvana/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    if not pathlib.Path(path).exists():
        pytest.skip(f"SmolLM2 GGUF not found at {path}: run tools/fetch-model.sh")
    field = gguf.GGUFReader(path).get_field("tokenizer.chat_template")
    tmpl = field.contents()
    assert family(renderer, workdir, tmpl) == "chatml"
    default = (b"<|im_start|>system\nYou are a helpful AI assistant named SmolLM, "
               b"trained by Hugging Face<|im_end|>\n")
    for key, msgs in CONVERSATIONS.items():
        want = llama_render(tmpl, msgs, True)
        if msgs[0][0] != "system":
            want = default + want
        assert ours(renderer, workdir, tmpl, msgs, True) == want, key
