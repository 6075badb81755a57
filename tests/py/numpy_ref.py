"""Independent numpy reference forward pass for llama-architecture GGUF files.

Reads the file with gguf.GGUFReader, dequantizes every weight with
gguf.quants.dequantize (once, cached as float64) and computes the logits of
every position of a token sequence entirely in float64:

    h = token_embd[tokens]
    per layer:
        x = rmsnorm(h) * attn_norm
        q, k, v = Wq x, Wk x, Wv x            (per head; GQA: head h reads kv head h // (n_head/n_head_kv))
        q, k = rope_norm(q), rope_norm(k)     (llama.cpp NORM mode: adjacent pairs (2i, 2i+1)
                                               rotated by pos * base^(-2i/n_rot); GGUF Q/K rows are
                                               already permuted for this by the converter)
        a = softmax(q k^T / sqrt(head_dim) + causal mask) v
        h = h + Wo a
        x = rmsnorm(h) * ffn_norm
        h = h + Wdown (silu(Wgate x) * Wup x)
    logits = Wout (rmsnorm(h) * output_norm)  (Wout = token_embd when output.weight is absent)

A GGUF tensor with ne = [n_in, n_out] comes out of GGUFReader as a numpy array
of shape (n_out, n_in), so a projection is y = W @ x (here X @ W.T for the
(n_tokens, n_in) activation matrix).

Nothing is quantized on the activation side: this is the "exact" answer for
the stored weights, against which both llama.cpp and nirvana (which quantize
activations to Q8 blocks for quantized weights) are measured.

CLI, for debugging:  python numpy_ref.py MODEL.gguf --tokens 1,2,3 [--top 5]
"""
import argparse
import sys

import numpy as np

import gguf
from gguf.quants import dequantize


class LlamaRef:
    def __init__(self, path):
        self.path = str(path)
        self.reader = gguf.GGUFReader(self.path)
        arch = self._field("general.architecture")
        if arch != "llama":
            raise ValueError(f"{path}: architecture {arch!r}, only llama is supported")
        k = lambda s: f"{arch}.{s}"  # noqa: E731
        self.n_layer = int(self._field(k("block_count")))
        self.n_embd = int(self._field(k("embedding_length")))
        self.n_head = int(self._field(k("attention.head_count")))
        self.n_head_kv = int(self._field(k("attention.head_count_kv"), self.n_head))
        self.head_dim = self.n_embd // self.n_head
        self.n_rot = int(self._field(k("rope.dimension_count"), self.head_dim))
        self.rope_base = float(self._field(k("rope.freq_base"), 10000.0))
        self.eps = float(self._field(k("attention.layer_norm_rms_epsilon")))
        self.tensors = {t.name: t for t in self.reader.tensors}
        self.n_vocab = int(self.tensors["token_embd.weight"].shape[1])
        self._cache = {}

    def _field(self, key, default=None):
        f = self.reader.get_field(key)
        if f is None:
            if default is None:
                raise KeyError(f"{self.path}: missing {key}")
            return default
        return f.contents()

    def weight(self, name):
        """Dequantized tensor as float64, numpy shape (n_out, n_in) for matrices."""
        w = self._cache.get(name)
        if w is None:
            t = self.tensors[name]
            w = np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float64)
            expect = tuple(int(x) for x in reversed(t.shape))
            w = w.reshape(expect)
            self._cache[name] = w
        return w

    def _rmsnorm(self, x, name):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * self.weight(name)

    def _rope(self, x, pos):
        """x: (n, heads, head_dim); NORM mode on the first n_rot dims of each head."""
        half = self.n_rot // 2
        inv = self.rope_base ** (-2.0 * np.arange(half, dtype=np.float64) / self.n_rot)
        ang = pos[:, None].astype(np.float64) * inv[None, :]      # (n, half)
        c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]   # (n, 1, half)
        out = x.copy()
        x0 = x[..., 0:self.n_rot:2]
        x1 = x[..., 1:self.n_rot:2]
        out[..., 0:self.n_rot:2] = x0 * c - x1 * s
        out[..., 1:self.n_rot:2] = x0 * s + x1 * c
        return out

    def hidden(self, tokens):
        """Final hidden states before the output norm, shape (n_tokens, n_embd)."""
        tokens = np.asarray(tokens, dtype=np.int64)
        if tokens.ndim != 1 or tokens.size == 0:
            raise ValueError("tokens must be a non-empty 1-D sequence")
        if tokens.min() < 0 or tokens.max() >= self.n_vocab:
            raise ValueError(f"token id out of range [0, {self.n_vocab})")
        n = tokens.size
        pos = np.arange(n)
        hd, nh, nkv = self.head_dim, self.n_head, self.n_head_kv
        group = nh // nkv
        mask = np.triu(np.full((n, n), -np.inf), k=1)
        h = self.weight("token_embd.weight")[tokens].copy()
        for i in range(self.n_layer):
            p = f"blk.{i}."
            x = self._rmsnorm(h, p + "attn_norm.weight")
            q = (x @ self.weight(p + "attn_q.weight").T).reshape(n, nh, hd)
            k = (x @ self.weight(p + "attn_k.weight").T).reshape(n, nkv, hd)
            v = (x @ self.weight(p + "attn_v.weight").T).reshape(n, nkv, hd)
            q = self._rope(q, pos)
            k = self._rope(k, pos)
            kh = np.repeat(k, group, axis=1)                      # (n, nh, hd): head h -> kv h // group
            vh = np.repeat(v, group, axis=1)
            sc = np.einsum("qhd,khd->hqk", q, kh) / np.sqrt(hd) + mask
            sc -= sc.max(axis=-1, keepdims=True)
            pr = np.exp(sc)
            pr /= pr.sum(axis=-1, keepdims=True)
            a = np.einsum("hqk,khd->qhd", pr, vh).reshape(n, nh * hd)
            h = h + a @ self.weight(p + "attn_output.weight").T
            x = self._rmsnorm(h, p + "ffn_norm.weight")
            g = x @ self.weight(p + "ffn_gate.weight").T
            u = x @ self.weight(p + "ffn_up.weight").T
            h = h + ((g / (1.0 + np.exp(-g))) * u) @ self.weight(p + "ffn_down.weight").T
        return h

    def logits(self, tokens):
        """Logits of every position, float64 array (n_tokens, n_vocab)."""
        h = self._rmsnorm(self.hidden(tokens), "output_norm.weight")
        out = "output.weight" if "output.weight" in self.tensors else "token_embd.weight"
        return h @ self.weight(out).T


_models = {}


def load(path):
    """Cached LlamaRef for a path (dequantized weights are kept)."""
    m = _models.get(str(path))
    if m is None:
        m = _models[str(path)] = LlamaRef(path)
    return m


def reference_logits(model_path, tokens):
    return load(model_path).logits(tokens)


def main(argv=None):
    ap = argparse.ArgumentParser(description="numpy reference logits of a llama GGUF")
    ap.add_argument("model")
    ap.add_argument("--tokens", required=True, help="comma-separated token ids")
    ap.add_argument("--top", type=int, default=5)
    args = ap.parse_args(argv)
    toks = [int(t) for t in args.tokens.split(",")]
    lg = reference_logits(args.model, toks)
    for i, row in enumerate(lg):
        top = np.argsort(-row)[:args.top]
        print(i, toks[i], " ".join(f"{t}:{row[t]:.4f}" for t in top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
