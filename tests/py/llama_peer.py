"""llama.cpp (through llama-cpp-python) as a peer: logits, greedy generation, tokenization.

Only the plain CPU path is used: no flash attention, no GPU offload, 2 threads.
`kv_f32=True` keeps the KV cache in F32 instead of llama.cpp's default F16, for
the tightest comparison with a float reference.
"""
import pathlib

import numpy as np

import pytest

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (tools/venv.sh)")

ROOT = pathlib.Path(__file__).resolve().parents[2]
ENGLISH = ROOT / "tests" / "py" / "data" / "english.txt"


def open_model(path, n_ctx=1024, kv_f32=False, threads=2):
    kw = dict(n_ctx=n_ctx, n_batch=512, n_ubatch=512, logits_all=True, verbose=False,
              n_threads=threads, n_threads_batch=threads, flash_attn=False, n_gpu_layers=0)
    if kv_f32:
        kw.update(type_k=llama_cpp.GGML_TYPE_F32, type_v=llama_cpp.GGML_TYPE_F32)
    return llama_cpp.Llama(model_path=str(path), **kw)


def llama_logits(path, tokens, kv_f32=False, llm=None):
    """llama.cpp's logits for every position, float32 array (n_tokens, n_vocab)."""
    own = llm is None
    if own:
        llm = open_model(path, n_ctx=max(64, len(tokens)), kv_f32=kv_f32)
    try:
        llm.reset()
        llm.eval(list(map(int, tokens)))
        return np.array(llm.scores[:len(tokens)], dtype=np.float32)
    finally:
        if own:
            llm.close()


def llama_greedy(llm, tokens, n, margins=False):
    """n tokens generated greedily (argmax of the logits) after the prompt.

    With margins=True also returns, per step, the gap between the best and
    the second-best logit (how decisive llama.cpp's choice was)."""
    llm.reset()
    llm.eval(list(map(int, tokens)))
    out, gaps = [], []
    for _ in range(n):
        row = llm.scores[llm.n_tokens - 1]
        t = int(np.argmax(row))
        top2 = np.partition(row, -2)[-2:]
        out.append(t)
        gaps.append(float(top2[1] - top2[0]))
        llm.eval([t])
    return (out, gaps) if margins else out


def top2_margin(logits):
    """Per row: best logit minus second-best logit."""
    top2 = np.partition(np.asarray(logits), -2, axis=-1)[..., -2:]
    return top2[..., 1] - top2[..., 0]


def tokenize(llm, text):
    """llama.cpp's tokenization of plain text (no BOS, no special-token parsing)."""
    return llm.tokenize(text.encode(), add_bos=False, special=False)


def english_text():
    return ENGLISH.read_text()
