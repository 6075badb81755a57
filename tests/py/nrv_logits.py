"""Python side of nirvana's logits test tool, <build>/tests/tools/nrv-logits.

    nrv-logits MODEL --tokens 1,2,3
        writes n_tokens * n_vocab raw float32 little-endian logits to stdout,
        position-major (all of position 0's vocabulary, then position 1's, ...).
    nrv-logits MODEL --tokens 1,2,3 --greedy N
        evaluates the tokens, then generates N tokens greedily (argmax) and
        prints the generated ids, space-separated, on stdout.
"""
import pathlib
import subprocess

import numpy as np


def tool_path(build_dir):
    return pathlib.Path(build_dir) / "tests" / "tools" / "nrv-logits"


def have_tool(build_dir):
    p = tool_path(build_dir)
    return p.is_file() and p.stat().st_mode & 0o111


def _run(build_dir, model_path, tokens, extra, timeout):
    tokens = [int(t) for t in tokens]
    if not tokens:
        raise ValueError("need at least one token")
    cmd = [str(tool_path(build_dir)), str(model_path), "--tokens", ",".join(map(str, tokens)), *extra]
    res = subprocess.run(cmd, capture_output=True, timeout=timeout)
    if res.returncode != 0:
        err = res.stderr.decode(errors="replace")[-2000:]
        raise RuntimeError(f"{' '.join(cmd[:2])} ... exited with {res.returncode}:\n{err}")
    return res.stdout


def nirvana_logits(build_dir, model_path, tokens, n_vocab=None, timeout=600):
    """Logits of every position as a float32 array (n_tokens, n_vocab)."""
    out = _run(build_dir, model_path, tokens, [], timeout)
    n = len(tokens)
    if len(out) % 4 or len(out) // 4 % n:
        raise RuntimeError(f"nrv-logits wrote {len(out)} bytes, not a whole number of float32 rows for {n} tokens")
    lg = np.frombuffer(out, dtype="<f4").reshape(n, -1)
    if n_vocab is not None and lg.shape[1] != n_vocab:
        raise RuntimeError(f"nrv-logits wrote rows of {lg.shape[1]} logits, expected n_vocab = {n_vocab}")
    return lg


def nirvana_greedy(build_dir, model_path, tokens, n, timeout=600):
    """The n token ids nirvana generates greedily after the prompt tokens."""
    out = _run(build_dir, model_path, tokens, ["--greedy", str(int(n))], timeout)
    ids = [int(t) for t in out.decode().split()]
    if len(ids) > n:
        raise RuntimeError(f"nrv-logits --greedy {n} printed {len(ids)} ids")
    return ids
