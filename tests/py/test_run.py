"""`nirvana run` end to end on the default model: streamed text, greedy
agreement with the model's own logits, seeds, chat, interactive mode, and
bad input (one clear line, a non-zero exit, never a crash)."""
import os
import pathlib
import subprocess

import pytest

from nrv_logits import have_tool, nirvana_greedy

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("NRV_BUILD", ROOT / "build"))


def run(nirvana, *args, stdin=subprocess.DEVNULL, timeout=300):
    return subprocess.run([str(nirvana), "run", *map(str, args)], stdin=stdin,
                          capture_output=True, timeout=timeout)


def tokenize(nirvana, model, text):
    out = subprocess.run([str(nirvana), "tokenize", "-m", str(model), text],
                         capture_output=True, check=True, text=True).stdout
    return [int(t) for t in out.split()]


def detokenize(model, ids):
    """Text of ids through llama.cpp's vocabulary (an implementation we did not write)."""
    llama_cpp = pytest.importorskip("llama_cpp")
    llm = llama_cpp.Llama(model_path=str(model), vocab_only=True, verbose=False)
    return llm.detokenize(ids).decode("utf-8", errors="replace")


def test_greedy_text_is_the_argmax_continuation(nirvana, default_model):
    """The streamed text is exactly the detokenized greedy continuation."""
    assert have_tool(BUILD), "the nrv-logits test tool is missing: the build has no tests"
    prompt = "The three primary colors are"
    r = run(nirvana, "-m", default_model, "-p", prompt, "-n", 12, "--temp", 0, "-t", 2, "--ignore-eos")
    assert r.returncode == 0, r.stderr.decode()
    ids = nirvana_greedy(BUILD, default_model, tokenize(nirvana, default_model, prompt), 12)
    want = detokenize(default_model, ids)
    assert r.stdout.decode() == want + "\n"


def test_statistics_on_stderr(nirvana, default_model):
    r = run(nirvana, "-m", default_model, "-p", "Hello", "-n", 4, "--temp", 0)
    assert r.returncode == 0
    err = r.stderr.decode()
    for label in ("prefill", "decode", "tok/s", "time to first token", "peak memory"):
        assert label in err, err


def test_same_seed_same_text(nirvana, default_model):
    args = ("-m", default_model, "-p", "Once upon a time", "-n", 24, "--temp", 1.0, "--no-stats")
    a, b = run(nirvana, *args, "--seed", 1234), run(nirvana, *args, "--seed", 1234)
    c = run(nirvana, *args, "--seed", 99)
    assert a.returncode == b.returncode == c.returncode == 0
    assert a.stdout == b.stdout
    assert a.stdout != c.stdout, "different seeds should give different samples at temperature 1"


def test_output_is_valid_utf8_with_holdback(nirvana, default_model):
    """Emoji and CJK prompts make the model emit multi-byte characters split
    across tokens; the stream must still be valid UTF-8 at every point."""
    r = run(nirvana, "-m", default_model, "-p", "Translate to Japanese: good morning =", "-n", 24,
            "--temp", 0.9, "--seed", 7, "--no-stats")
    assert r.returncode == 0
    r.stdout.decode("utf-8")  # raises on a cut character


def test_chat_answers(nirvana, default_model):
    r = run(nirvana, "-m", default_model, "--chat", "-p", "What is 2 + 2? Answer with a number.",
            "-n", 16, "--temp", 0, "--no-stats")
    assert r.returncode == 0, r.stderr.decode()
    assert "4" in r.stdout.decode()


def test_interactive_turns_and_closed_stdin(nirvana, default_model):
    r = run(nirvana, "-m", default_model, "-n", 8, "--temp", 0, "--no-stats",
            stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and r.stdout == b""
    r = subprocess.run([str(nirvana), "run", "-m", str(default_model), "-n", "8", "--temp", "0",
                        "--no-stats"], input=b"Hi!\nWhat is your name?\n", capture_output=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr.decode()
    assert len(r.stdout.decode().strip().splitlines()) >= 2, "one reply per turn"


@pytest.mark.parametrize("args, words", [
    (["-m", "/nonexistent.gguf", "-p", "x"], "cannot open model"),
    (["-m", "/etc/passwd", "-p", "x"], "not a GGUF file"),
    (["-m", "/tmp", "-p", "x"], "directory"),
    (["-p", "x"], "no model given"),
    (["-m", "MODEL", "-p", "x", "-n", "abc"], "invalid value"),
    (["-m", "MODEL", "-p", "x", "--temp", "-1"], "invalid value"),
    (["-m", "MODEL", "-p", "x", "--load", "fast"], "invalid value"),
    (["-m", "MODEL", "-p", "word " * 300, "-c", "64"], "does not fit the 64-token context"),
    (["-m", "MODEL", "-c", "100000", "-p", "x"], "exceeds the model's trained context"),
])
def test_bad_input_one_clear_line(nirvana, default_model, args, words):
    args = [str(default_model) if a == "MODEL" else a for a in args]
    r = run(nirvana, *args)
    err = r.stderr.decode()
    assert r.returncode in (1, 2), err
    assert words in err, err
    assert r.returncode < 128, "killed by a signal"
    assert len([ln for ln in err.splitlines() if ln.strip()]) <= 2, err


def test_unsupported_architecture(nirvana, workdir):
    gguf = pytest.importorskip("gguf")
    import numpy as np
    path = workdir / "gpt2.gguf"
    w = gguf.GGUFWriter(str(path), "gpt2")
    w.add_tensor("token_embd.weight", np.zeros((8, 4), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    r = run(nirvana, "-m", path, "-p", "x")
    assert r.returncode == 1
    assert "unsupported architecture 'gpt2'" in r.stderr.decode()
