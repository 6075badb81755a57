"""Greedy generation and next-token argmax on the default model: nirvana vs llama.cpp.

Prompts are tokenized by llama.cpp (plain text: no chat template, no BOS).

What two correct engines can be expected to agree on: with Q4_1 weights
every matmul quantizes its activations to 8 bits, so logits carry rounding
noise of about 0.18 (RMS) at a logit std of 7, whoever computes them, and any
difference in rounding (even the KV cache precision) reshuffles that noise.
Measured with llama.cpp 0.3.36 on this model:
  * llama.cpp (F16 KV) vs llama.cpp (F32 KV): next-token argmax agrees at
    95.1% of 512 positions of data/english.txt; the greedy 16-token
    continuations of PROMPTS agree on all 16 tokens for 4 of 10 prompts.
  * llama.cpp vs the exact float64 numpy reference: 94.7%; 5 of 10.
  * every argmax disagreement was at a near-tie (top-2 gap <= 0.33).
So an all-or-nothing "8 of 10 continuations identical" or "98% of argmaxes"
bound would fail a correct engine that rounds slightly differently from
llama.cpp.  The tests instead demand agreement wherever llama.cpp's choice is
decisive (top-2 gap >= NEAR_TIE = 1.0 logit, > 5x the noise), and a floor on
the raw agreement just under the measured llama.cpp-vs-llama.cpp figures.
"""
import os
import pathlib

import numpy as np
import pytest

from nrv_logits import have_tool, nirvana_greedy, nirvana_logits, tool_path

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("NRV_BUILD", ROOT / "build"))

# A missing tool is a broken build, not a reason to skip: fail loudly.
if not have_tool(BUILD):
    raise RuntimeError(f"{tool_path(BUILD)} is missing: the build has no tests "
                       f"(install Criterion and configure again: tools/test.sh does both)")

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
NEAR_TIE = 1.0          # logits; a top-2 gap below this may flip between correct engines
MIN_FULL_AGREE = 3      # prompts identical on all 16 tokens (llama.cpp vs itself: 4/10)
N_TEXT = 512
MIN_ARGMAX = 0.93       # all positions (llama.cpp vs itself: 0.951, vs numpy 0.947)
MIN_ARGMAX_DECISIVE = 0.99  # positions where llama.cpp's top-2 gap >= NEAR_TIE


@pytest.fixture(scope="module")
def llm(default_model):
    m = llama_peer.open_model(default_model, n_ctx=1024)
    yield m
    m.close()


def test_greedy_continuations(default_model, llm):
    agree = 0
    bad = []
    for p in PROMPTS:
        toks = llama_peer.tokenize(llm, p)
        want, gaps = llama_peer.llama_greedy(llm, toks, N_GEN, margins=True)
        got = nirvana_greedy(BUILD, default_model, toks, N_GEN)
        assert len(got) == N_GEN, f"{p!r}: nirvana generated {len(got)} tokens, not {N_GEN}"
        if got == want:
            agree += 1
            continue
        i = next(j for j in range(N_GEN) if got[j] != want[j])
        # Past the first difference the two continue from different texts; only the
        # step where they part is comparable.
        if gaps[i] >= NEAR_TIE:
            bad.append(f"{p!r}: step {i}: llama.cpp {want[i]} (top-2 gap {gaps[i]:.2f}) vs nirvana {got[i]}; "
                       f"llama.cpp {want} nirvana {got}")
    print(f"greedy: {agree}/{len(PROMPTS)} prompts agree on all {N_GEN} tokens")
    assert not bad, "nirvana departs from llama.cpp where llama.cpp was decisive:\n" + "\n".join(bad)
    assert agree >= MIN_FULL_AGREE


def test_next_token_argmax_on_text(default_model, llm):
    toks = llama_peer.tokenize(llm, llama_peer.english_text())
    assert len(toks) >= N_TEXT, f"data/english.txt gives only {len(toks)} tokens"
    toks = toks[:N_TEXT]
    peer = llama_peer.llama_logits(default_model, toks, llm=llm)
    got = nirvana_logits(BUILD, default_model, toks, n_vocab=peer.shape[1])
    same = np.argmax(got, axis=1) == np.argmax(peer, axis=1)
    decisive = llama_peer.top2_margin(peer) >= NEAR_TIE
    agree = float(np.mean(same))
    agree_decisive = float(np.mean(same[decisive]))
    print(f"next-token argmax agreement over {N_TEXT} positions: {agree:.4f}; "
          f"over the {int(decisive.sum())} decisive ones: {agree_decisive:.4f}")
    assert decisive.sum() > N_TEXT // 4  # 192 of 512 in llama.cpp
    assert agree_decisive >= MIN_ARGMAX_DECISIVE
    assert agree >= MIN_ARGMAX
