"""Tokenization token for token against llama.cpp (llama-cpp-python, vocab_only).

Two vocabularies:
  * byte-level BPE: the default model (SmolLM2-135M-Instruct, pre-tokenizer
    "smollm"), on a few hundred varied strings, with special-token parsing
    off and on;
  * SentencePiece BPE: a tiny model trained here with the sentencepiece
    package (byte fallback on), written into a GGUF with the gguf package,
    compared with llama.cpp and, where llama.cpp agrees, with sentencepiece.

nirvana runs once per comparison through `nirvana tokenize --batch`.

Strings llama.cpp cannot take are left out on purpose: four-byte UTF-8
forms above U+10FFFF (lead bytes F4 90.. to F7) make it throw from
unicode_cpt_to_utf8 through the C API, which aborts the process.
"""
import os
import random
import struct
import subprocess

import pytest

llama_cpp = pytest.importorskip("llama_cpp")


def batch_file(path, texts):
    with open(path, "wb") as f:
        for t in texts:
            f.write(struct.pack("<I", len(t)))
            f.write(t)
    return path


def nirvana_batch(exe, model, texts, workdir, special, add_bos=False, name="batch"):
    path = batch_file(workdir / f"{name}.bin", texts)
    cmd = [str(exe), "tokenize", "-m", str(model), "--batch", str(path)]
    if special:
        cmd.append("--special")
    if not add_bos:
        cmd.append("--no-bos")
    out = subprocess.run(cmd, check=True, capture_output=True, timeout=120).stdout.decode()
    lines = out.split("\n")
    assert lines[-1] == ""
    lines = lines[:-1]
    assert len(lines) == len(texts)
    return [[int(x) for x in line.split()] for line in lines]


def compare(llm, ours, texts, special, add_bos=False):
    bad = []
    for t, got in zip(texts, ours):
        want = llm.tokenize(t, add_bos=add_bos, special=special)
        if got != want:
            bad.append((t, want, got))
    return bad


def report(label, texts, bad):
    print(f"\n{label}: {len(texts) - len(bad)}/{len(texts)} agree with llama.cpp")
    for t, want, got in bad[:10]:
        print(f"  {t!r}\n    llama.cpp {want}\n    nirvana   {got}")


# ---- the strings --------------------------------------------------------

BASE = [
    "", " ", "  ", "   ", "\n", "\n\n", "\t", "\r\n", " \n", "\n ", " \t\n\r ",
    "a", "Hello", "Hello world", "Hello, world!", " Hello", "  Hello", "Hello  world",
    "Hello   world   ", "hello\nworld", "hello\n\nworld", "hello \n world", "a\tb\tc",
    "I'm here", "you're", "they've", "we'll", "he'd", "it's", "IT'S", "don't", "'s", "'",
    "''", "'''s", "O'Neil's", "rock'n'roll", "l'homme", "aujourd'hui",
    "0", "1", "12", "123", "1234", "12345", "3.14159", "1,000,000", "2024-01-01",
    "v1.2.3", "0x1F", "1e-10", "-42", "+7", "100%", "$99.99", "€12,50", "10:30pm",
    "12345678901234567890", "0" * 40, "3" * 100, "٣٤٥", "१२३", "½ ¼ ¾", "Ⅻ", "²³",
    "!", "!!", "!!!", "...", "?!", "---", "***", "<>", "()", "[]{}", "@#$%^&*",
    "a.b,c;d:e", "end.", "(a)", "\"quoted\"", "«guillemets»", "—em dash—", "…",
    "def f(x):\n    return x * 2\n", "int main(void) { return 0; }",
    "for (int i = 0; i < n; i++) {\n\tsum += a[i];\n}", "x = [1, 2, 3]",
    "#include <stdio.h>", "if x == 1:\n\tpass", "SELECT * FROM t WHERE id = 42;",
    "<html><body>Hi</body></html>", "https://example.com/a?b=c&d=e", "user@example.com",
    "    indented", "\t\tindented", "trailing   ", "line1\r\nline2\r\n",
    "café", "naïve", "résumé", "Ångström", "Straße", "ñandú", "Crème brûlée", "Zürich",
    "Ελληνικά", "Привет, мир!", "שלום עולם", "مرحبا بالعالم", "السلام عليكم",
    "你好，世界", "日本語のテキスト", "한국어 텍스트", "ภาษาไทย", "हिन्दी", "Tiếng Việt",
    "😀", "😀😃😄", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "I ❤️ NY", "★☆", "→←↑↓", "∑∫∂√∞",
    "\u00a0", "a\u00a0b", "\u2003em space", "a\u200bb", "\u3000全角", "\u2028", "\ufeffBOM",
    "e\u0301", "\u0300", "ﬁ ligature", "ＡＢＣ", "\x00", "a\x00b", "\x07\x1b[0m", "\x7f",
    "<|im_start|>", "<|im_end|>", "<|im_start|>user\nHi<|im_end|>\n",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|>", "text<|endoftext|>more", "<|im_start|><|im_end|>", "<|im_start",
    "<|im_start|x", "<<|im_end|>>", "<reponame>repo<file_sep>", "<filename>a.py",
    "<jupyter_code>x=1<jupyter_output>", "< |im_start| >", "<|IM_START|>",
]

INVALID = [
    b"\xff", b"\xfe\xff", b"\x80", b"\x80\x80", b"abc\x80def", b"\xc3", b"\xc3(", b"\xe2\x82",
    b"\xe2\x82(", b"\xf0\x9f\x98", b"\xf0\x9f\x98 ", b"\xc0\xaf", b"\xc1\x81", b"\xe0\x80\xaf",
    b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf8\x88\x80\x80\x80", b"\xfc\x84\x80\x80\x80\x80",
    b"Hello \xff world", b"\xff\xff\xff", b"caf\xe9", b"\xa0\xa1", b" \x80 \x81 ",
    b"12\xff34", b"'\xffs", b"\xef\xbf\xbd", b"\xf0\x90\x80\x80", b"\xf4\x8f\xbf\xbf",
    b"<|im_start|>\xff<|im_end|>", b"\xe4\xbd\xa0\xe5", b"a\xc3\xa9\xc3",
]

POOL = [
    "the", " quick", " brown", " fox", " jumps", " over", " lazy", " dog", "Hello", " world",
    "123", "4567", " 89", "!", "?", ",", ".", " ", "  ", "\n", "\t", "\r\n", "'s", "'ll",
    "é", "中文", "😀", "—", "(", ")", "{", "}", ";", "=", "==", "->", "//", "#", "<|im_start|>",
    "<|im_end|>", "Ω", "ß", "ق", "\u00a0", "x", "y2", "_", "__init__", "０", "Ⅷ",
]


def varied_strings():
    texts = [s.encode() for s in BASE] + INVALID
    rng = random.Random(1234)
    for _ in range(160):
        n = rng.randint(1, 12)
        texts.append("".join(rng.choice(POOL) for _ in range(n)).encode())
    # Random bytes, minus what llama.cpp aborts on (see the module doc).
    for _ in range(40):
        b = bytes(rng.randrange(256) for _ in range(rng.randint(1, 24)))
        texts.append(bytes(x for x in b if x < 0xF4))
    # Long inputs: prose, a digit run, a whitespace run.
    texts.append((" ".join(rng.choice(POOL) for _ in range(3000))).encode())
    texts.append(("9" * 5000).encode())
    texts.append((" \t\n" * 700).encode())
    return texts


@pytest.fixture(scope="module")
def llm(default_model):
    if not default_model.exists():
        pytest.skip(f"{default_model} not found")
    return llama_cpp.Llama(model_path=str(default_model), vocab_only=True, verbose=False)


@pytest.mark.parametrize("special", [False, True])
def test_bpe_matches_llama_cpp(nirvana, default_model, llm, workdir, special):
    texts = varied_strings()
    assert len(texts) >= 200
    ours = nirvana_batch(nirvana, default_model, texts, workdir, special, name=f"bpe{int(special)}")
    bad = compare(llm, ours, texts, special)
    report(f"BPE (smollm), special={special}", texts, bad)
    assert not bad


def test_bpe_add_bos_matches_llama_cpp(nirvana, default_model, llm, workdir):
    texts = [b"", b"Hello", b"<|im_start|>user"]
    ours = nirvana_batch(nirvana, default_model, texts, workdir, True, add_bos=True, name="bos")
    assert not compare(llm, ours, texts, True, add_bos=True)


# ---- SentencePiece ------------------------------------------------------

WORDS = ("the of and to in is was for on that with as by at from his her an were are which "
         "this be or has had not but first one their its new after who they have two been "
         "time during year other into all when can would there more some only may most these "
         "city state world people music school house water light night river mountain").split()


def spm_training_text(rng):
    lines = []
    for _ in range(2000):
        n = rng.randint(3, 14)
        words = [rng.choice(WORDS) for _ in range(n)]
        if rng.random() < 0.3:
            words.append(str(rng.randint(0, 9999)))
        if rng.random() < 0.2:
            words.insert(0, rng.choice(["Hello", "Über", "café", "naïve", "Привет", "東京"]))
        line = " ".join(words)
        lines.append(line[0].upper() + line[1:] + rng.choice([".", "!", "?", ",", ""]))
    return "\n".join(lines)


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory):
    spm = pytest.importorskip("sentencepiece")
    gguf = pytest.importorskip("gguf")
    d = tmp_path_factory.mktemp("spm")
    rng = random.Random(7)
    (d / "train.txt").write_text(spm_training_text(rng), encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(d / "train.txt"), model_prefix=str(d / "m"), model_type="bpe",
        vocab_size=600, byte_fallback=True, character_coverage=1.0,
        normalization_rule_name="identity", remove_extra_whitespaces=False,
        split_digits=True, minloglevel=2)
    sp = spm.SentencePieceProcessor(model_file=str(d / "m.model"))

    tokens, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        tokens.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        if sp.is_unknown(i):
            types.append(gguf.TokenType.UNKNOWN)
        elif sp.is_control(i):
            types.append(gguf.TokenType.CONTROL)
        elif sp.is_byte(i):
            types.append(gguf.TokenType.BYTE)
        elif sp.is_unused(i):
            types.append(gguf.TokenType.UNUSED)
        else:
            types.append(gguf.TokenType.NORMAL)

    path = d / "spm.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    # The llama hyperparameters llama.cpp reads even for vocab_only.
    w.add_context_length(256)
    w.add_embedding_length(64)
    w.add_block_count(1)
    w.add_feed_forward_length(128)
    w.add_head_count(2)
    w.add_head_count_kv(2)
    w.add_rope_dimension_count(32)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(sp.bos_id())
    w.add_eos_token_id(sp.eos_id())
    w.add_unk_token_id(sp.unk_id())
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path, sp


def spm_strings():
    rng = random.Random(99)
    texts = ["", " ", "  ", "Hello", "Hello world", " Hello", "Hello  world", "the city of light",
             "The river, the mountain.", "1234", "in 1999 and 2024", "a  b   c", "trailing ",
             "\n", "line\nbreak", "tab\there", "café naïve", "Über", "Привет мир", "東京",
             "東京タワー", "😀", "zzzz qqqq", "ÀÉÎÕÜ", "<s>", "</s>", "<unk>", "x<s>y",
             "<0x41>", "▁", "a▁b", "\u00a0", "\x00", "mixed 😀 emoji and 中文"]
    for _ in range(70):
        n = rng.randint(1, 10)
        parts = [rng.choice(WORDS + ["Hello", "42", "7", "!", "é", "中", "😀", "  ", "\t"])
                 for _ in range(n)]
        texts.append(rng.choice([" ", "", "  "]).join(parts))
    return [t.encode() for t in texts] + [b"\xff", b"ab\x80cd", b"\xc3", b"caf\xe9"]


def test_spm_matches_llama_cpp_and_sentencepiece(nirvana, spm_model, workdir):
    path, sp = spm_model
    llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    texts = spm_strings()
    assert len(texts) >= 100
    for special in (False, True):
        ours = nirvana_batch(nirvana, path, texts, workdir, special, name=f"spm{int(special)}")
        bad = compare(llm, ours, texts, special)
        report(f"SPM, special={special}", texts, bad)
        assert not bad

    # sentencepiece itself, on the valid UTF-8 texts where llama.cpp agrees
    # with it (llama.cpp does not normalize and treats <s> as text).
    ours = nirvana_batch(nirvana, path, texts, workdir, False, name="spm-sp")
    n_cmp = n_ok = 0
    for t, got in zip(texts, ours):
        try:
            s = t.decode()
        except UnicodeDecodeError:
            continue
        ref = sp.encode(s)
        if llm.tokenize(t, add_bos=False, special=False) != ref:
            continue
        n_cmp += 1
        n_ok += got == ref
    print(f"\nSPM vs sentencepiece: {n_ok}/{n_cmp} agree (texts where llama.cpp agrees with it)")
    assert n_cmp >= len(texts) // 2
    assert n_ok == n_cmp

    # BOS as the vocabulary asks for it (SPM default: add BOS).
    ours = nirvana_batch(nirvana, path, texts[:20], workdir, False, add_bos=True, name="spm-bos")
    assert not compare(llm, ours, texts[:20], False, add_bos=True)
