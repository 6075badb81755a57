"""Greedy generation and next-token argmax on the default model: nirvana vs llama.cpp.

Prompts are tokenized by llama.cpp (plain text: no chat template, no BOS).
"""
import os
import pathlib

import numpy as np
import pytest

from nrv_logits import have_tool, nirvana_greedy, nirvana_logits, tool_path

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("NRV_BUILD", ROOT / "build"))

if not have_tool(BUILD):
    pytest.skip(f"{tool_path(BUILD)} not built yet (the C logits tool; build with ninja -C {BUILD})",
                allow_module_level=True)

llama_peer = pytest.importorskip("llama_peer")

PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village by the sea,",
    "def fibonacci(n):\n    ",
    "The three primary colors are",
    "Water boils at a temperature of",
    "Here is a list of fruits: apple, banana,",
    "In 1969, the first humans landed on",
    "The quick brown fox",
    "To make a cup of tea, first",
    "Photosynthesis is the process by which plants",
]
N_GEN = 16
MIN_AGREE = 8
N_TEXT = 512
MIN_ARGMAX = 0.98


@pytest.fixture(scope="module")
def llm(default_model):
    m = llama_peer.open_model(default_model, n_ctx=1024)
    yield m
    m.close()


def test_greedy_continuations(default_model, llm):
    agree = 0
    report = []
    for p in PROMPTS:
        toks = llama_peer.tokenize(llm, p)
        want = llama_peer.llama_greedy(llm, toks, N_GEN)
        got = nirvana_greedy(BUILD, default_model, toks, N_GEN)
        same = got == want
        agree += same
        if not same:
            report.append(f"{p!r}: llama.cpp {want} nirvana {got}")
    print(f"greedy: {agree}/{len(PROMPTS)} prompts agree on all {N_GEN} tokens")
    assert agree >= MIN_AGREE, "\n".join(report)


def test_next_token_argmax_on_text(default_model, llm):
    toks = llama_peer.tokenize(llm, llama_peer.english_text())
    assert len(toks) >= N_TEXT, f"data/english.txt gives only {len(toks)} tokens"
    toks = toks[:N_TEXT]
    peer = llama_peer.llama_logits(default_model, toks, llm=llm)
    got = nirvana_logits(BUILD, default_model, toks, n_vocab=peer.shape[1])
    agree = float(np.mean(np.argmax(got, axis=1) == np.argmax(peer, axis=1)))
    print(f"next-token argmax agreement over {N_TEXT} positions: {agree:.4f}")
    assert agree >= MIN_ARGMAX
