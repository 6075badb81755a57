#!/usr/bin/env python3
"""Write a random-weight llama-architecture GGUF v3 file for tests and benchmarks.

    make-test-model.py --out FILE [--shape tiny|smollm2] [--type TYPE] ...

Shapes
  tiny     2 layers, n_embd 64, 4 heads (head_dim 16), 2 KV heads, n_ff 128,
           context 512, rope base 10000, eps 1e-5, a 512-token byte-level BPE
           vocab built here (see below).  Every dimension can be overridden
           (--n-embd, --n-ff, --n-head, --n-head-kv, --layers, --vocab-size);
           for K-quants use e.g. --n-embd 256 --n-ff 512 so rows are multiples
           of 256.
  smollm2  SmolLM2-135M's shape: 30 layers, n_embd 576, 9 heads, 3 KV heads,
           n_ff 1536, vocab 49152, context 8192, rope base 100000, eps 1e-5,
           tied embeddings.  The tokenizer metadata is copied from a real
           SmolLM2 GGUF (--vocab-from; defaults to the cached default model)
           so that llama.cpp and nirvana load it like the real thing.

Weight types (--type) apply to the 2-D matmul weights; norm weights are always
F32.  f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 are produced with the gguf
package's own quantizers (gguf.quants.quantize).  token_embd gets --embd-type;
by default that is --type, except for the smollm2 shape with a quantized
--type, where it is q8_0 as in the real Q4_1 file.

K-quants (--to-k-quant q4_k_m|q5_k_m|q6_k|q4_0|q8_0|...): the model is written
as F16 first (--type is ignored) and then quantized by llama.cpp's own
quantizer (llama_cpp.llama_model_quantize), which picks per-tensor types and
falls back to other types for rows that are not a multiple of 256.

Weights are random normal, scaled so that activations stay O(1) through any
depth: the projections that read the residual stream (q, k, v, gate, up) have
std 1/sqrt(n_in), so their outputs have unit variance and attention scores
are not all flat; the projections that write back into it (attn_output,
ffn_down) have std 1/sqrt(n_in * 2 * n_layer) (GPT-2's residual scaling);
token_embd has std 3/sqrt(n_embd) so that tied logits have a std of about 3;
norm weights are 1 + N(0, 0.1^2).  Same seed, same options: same file.

The tiny vocab: 3 control tokens (0 <|endoftext|> = unk, 1 <|im_start|> = bos,
2 <|im_end|> = eos = pad, as in SmolLM2), the 256 byte tokens in GPT-2's
byte-to-unicode spelling, then tokens from byte-level BPE merges learnt here
from a short built-in English paragraph; tokenizer.ggml.model "gpt2", pre
"smollm", add_bos false.  llama.cpp loads and tokenizes with it.
"""
import argparse
import os
import pathlib
import sys
import tempfile
import time
from collections import Counter

import numpy as np

import gguf
from gguf import GGMLQuantizationType as QT
from gguf.quants import quantize

TYPES = {
    "f32": (QT.F32, gguf.LlamaFileType.ALL_F32),
    "f16": (QT.F16, gguf.LlamaFileType.MOSTLY_F16),
    "bf16": (QT.BF16, gguf.LlamaFileType.MOSTLY_BF16),
    "q8_0": (QT.Q8_0, gguf.LlamaFileType.MOSTLY_Q8_0),
    "q4_0": (QT.Q4_0, gguf.LlamaFileType.MOSTLY_Q4_0),
    "q4_1": (QT.Q4_1, gguf.LlamaFileType.MOSTLY_Q4_1),
    "q5_0": (QT.Q5_0, gguf.LlamaFileType.MOSTLY_Q5_0),
    "q5_1": (QT.Q5_1, gguf.LlamaFileType.MOSTLY_Q5_1),
}

# llama.cpp ftypes reachable through --to-k-quant (names as llama-quantize spells them).
K_QUANTS = ["q2_k", "q3_k_s", "q3_k_m", "q3_k_l", "q4_k_s", "q4_k_m", "q5_k_s",
            "q5_k_m", "q6_k", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0"]

SHAPES = {
    "tiny": dict(n_layer=2, n_embd=64, n_head=4, n_head_kv=2, n_ff=128, n_vocab=512,
                 n_ctx=512, rope_base=10000.0, eps=1e-5),
    "smollm2": dict(n_layer=30, n_embd=576, n_head=9, n_head_kv=3, n_ff=1536, n_vocab=49152,
                    n_ctx=8192, rope_base=100000.0, eps=1e-5),
}

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# Training text for the tiny vocab's merges (our own words).
TINY_CORPUS = """
The small model reads a line of text and guesses the next word. It is not
clever, but it is honest about what it has seen. When the weather turns cold
the river freezes at the edges first, and the children walk out on the ice
to see how far they can go before it starts to crack. Their parents call them
back from the shore. A good test should fail when the code is wrong and pass
when it is right; anything else is noise. There are three kinds of numbers in
this story: the ones we measure, the ones we guess, and the ones we remember
wrongly. In the morning the baker opens the door, lights the oven and sets out
the bread to cool on the long wooden table near the window.
"""


def gpt2_byte_chars():
    """GPT-2's byte -> printable unicode character map, as a list indexed by byte."""
    keep = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table = [None] * 256
    for b in keep:
        table[b] = chr(b)
    n = 0
    for b in range(256):
        if table[b] is None:
            table[b] = chr(0x100 + n)
            n += 1
    return table


def tiny_vocab(n_vocab):
    """Tokens, token types and merges of a small byte-level BPE vocab."""
    bc = gpt2_byte_chars()
    tokens = list(SPECIALS) + bc
    types = [gguf.TokenType.CONTROL] * len(SPECIALS) + [gguf.TokenType.NORMAL] * 256
    if n_vocab < len(tokens):
        raise SystemExit(f"--vocab-size must be at least {len(tokens)} for the byte-level vocab")
    words = Counter()
    for i, w in enumerate(TINY_CORPUS.split()):
        words[tuple(bc[b] for b in (" " + w).encode())] += 1
    words = dict(words)
    merges = []
    have = set(tokens)
    while len(tokens) < n_vocab:
        pairs = Counter()
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        # Most frequent pair; ties broken by the pair itself, so the result is fixed.
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(f"{best[0]} {best[1]}")
        joined = best[0] + best[1]
        if joined not in have:
            tokens.append(joined)
            types.append(gguf.TokenType.NORMAL)
            have.add(joined)
        new = {}
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(joined)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] = new.get(tuple(out), 0) + c
        words = new
    # If the corpus ran out of pairs, pad with unused placeholder tokens.
    while len(tokens) < n_vocab:
        tokens.append(f"<unused{len(tokens)}>")
        types.append(gguf.TokenType.UNUSED)
    return tokens, [int(t) for t in types], merges


def copy_vocab(path):
    """Tokenizer metadata of an existing gpt2-style GGUF file."""
    r = gguf.GGUFReader(path)

    def get(key, default=None):
        f = r.get_field(key)
        return default if f is None else f.contents()

    model = get("tokenizer.ggml.model")
    if model != "gpt2":
        raise SystemExit(f"{path}: tokenizer.ggml.model is {model!r}; only gpt2 (BPE) vocabularies are copied")
    return dict(
        tokens=get("tokenizer.ggml.tokens"),
        types=[int(t) for t in get("tokenizer.ggml.token_type")],
        merges=get("tokenizer.ggml.merges"),
        pre=get("tokenizer.ggml.pre", "smollm"),
        bos=get("tokenizer.ggml.bos_token_id", 1),
        eos=get("tokenizer.ggml.eos_token_id", 2),
        unk=get("tokenizer.ggml.unknown_token_id", 0),
        pad=get("tokenizer.ggml.padding_token_id", 2),
    )


def default_vocab_source():
    cache = os.environ.get("NRV_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "nirvana")
    return os.environ.get("NRV_MODEL") or os.path.join(cache, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")


def encode(w, qtype):
    """float32 (n_out, n_in) -> array for GGUFWriter.add_tensor plus raw_dtype."""
    if qtype == QT.F32:
        return w, None
    if qtype == QT.F16:
        return w.astype(np.float16), None
    return quantize(w, qtype), qtype


def write_model(out, cfg, wtype, etype, seed, tied, vocab, ftype):
    rng = np.random.default_rng(seed)
    n_layer, n_embd, n_ff = cfg["n_layer"], cfg["n_embd"], cfg["n_ff"]
    n_head, n_head_kv = cfg["n_head"], cfg["n_head_kv"]
    head_dim = n_embd // n_head
    n_vocab = len(vocab["tokens"])

    def normal(shape, std):
        return (rng.standard_normal(shape, dtype=np.float32) * np.float32(std))

    def norm_w():
        return (1.0 + 0.1 * rng.standard_normal(n_embd)).astype(np.float32)

    w = gguf.GGUFWriter(str(out), "llama")
    w.add_name(f"nirvana random test model ({cfg['shape']})")
    w.add_context_length(cfg["n_ctx"])
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head_kv)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(cfg["rope_base"])
    w.add_layer_norm_rms_eps(cfg["eps"])
    w.add_vocab_size(n_vocab)
    w.add_file_type(int(ftype))
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(vocab["pre"])
    w.add_token_list(vocab["tokens"])
    w.add_token_types(vocab["types"])
    w.add_token_merges(vocab["merges"])
    w.add_bos_token_id(vocab["bos"])
    w.add_eos_token_id(vocab["eos"])
    w.add_unk_token_id(vocab["unk"])
    w.add_pad_token_id(vocab["pad"])
    w.add_add_bos_token(False)
    w.add_add_space_prefix(False)

    def add(name, arr, qtype):
        data, raw = encode(arr, qtype)
        w.add_tensor(name, data, raw_dtype=raw)

    s_in = 1.0 / np.sqrt(n_embd)
    s_attn_out = 1.0 / np.sqrt(n_embd * 2 * n_layer)
    s_ff_down = 1.0 / np.sqrt(n_ff * 2 * n_layer)
    add("token_embd.weight", normal((n_vocab, n_embd), 3.0 / np.sqrt(n_embd)), etype)
    for i in range(n_layer):
        p = f"blk.{i}."
        add(p + "attn_norm.weight", norm_w(), QT.F32)
        add(p + "attn_q.weight", normal((n_head * head_dim, n_embd), s_in), wtype)
        add(p + "attn_k.weight", normal((n_head_kv * head_dim, n_embd), s_in), wtype)
        add(p + "attn_v.weight", normal((n_head_kv * head_dim, n_embd), s_in), wtype)
        add(p + "attn_output.weight", normal((n_embd, n_head * head_dim), s_attn_out), wtype)
        add(p + "ffn_norm.weight", norm_w(), QT.F32)
        add(p + "ffn_gate.weight", normal((n_ff, n_embd), s_in), wtype)
        add(p + "ffn_up.weight", normal((n_ff, n_embd), s_in), wtype)
        add(p + "ffn_down.weight", normal((n_embd, n_ff), s_ff_down), wtype)
    add("output_norm.weight", norm_w(), QT.F32)
    if not tied:
        add("output.weight", normal((n_vocab, n_embd), 3.0 / np.sqrt(n_embd)), wtype)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def k_quantize(src, dst, name, nthread):
    import ctypes
    import llama_cpp

    ftype = getattr(llama_cpp, "LLAMA_FTYPE_MOSTLY_" + name.upper(), None)
    if ftype is None:
        raise SystemExit(f"llama_cpp has no LLAMA_FTYPE_MOSTLY_{name.upper()}")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = nthread
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if rc != 0:
        raise SystemExit(f"llama_model_quantize({name}) failed with {rc}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--out", required=True, help="GGUF file to write")
    ap.add_argument("--shape", choices=sorted(SHAPES), default="tiny")
    ap.add_argument("--type", choices=list(TYPES), default="f32",
                    help="type of the matmul weights (default f32)")
    ap.add_argument("--embd-type", choices=list(TYPES),
                    help="type of token_embd (default: --type; q8_0 for smollm2 with a quantized --type)")
    ap.add_argument("--to-k-quant", metavar="TYPE", choices=K_QUANTS,
                    help="write F16, then quantize with llama.cpp to TYPE (" + ", ".join(K_QUANTS) + ")")
    ap.add_argument("--layers", type=int, help="override the layer count")
    ap.add_argument("--n-embd", type=int)
    ap.add_argument("--n-ff", type=int)
    ap.add_argument("--n-head", type=int)
    ap.add_argument("--n-head-kv", type=int)
    ap.add_argument("--vocab-size", type=int, help="tiny vocab size (built vocab only)")
    ap.add_argument("--ctx", type=int, help="context_length to record")
    ap.add_argument("--seed", type=int, default=1234)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--tied", dest="tied", action="store_true", default=True,
                   help="no output.weight: logits use token_embd (default, as SmolLM2)")
    g.add_argument("--untied", dest="tied", action="store_false", help="write output.weight")
    ap.add_argument("--vocab-from", metavar="FILE",
                    help="copy the gpt2 tokenizer metadata from this GGUF (smollm2 default: the cached default model)")
    ap.add_argument("--threads", type=int, default=2, help="threads for --to-k-quant")
    args = ap.parse_args(argv)

    cfg = dict(SHAPES[args.shape], shape=args.shape)
    for key, val in (("n_layer", args.layers), ("n_embd", args.n_embd), ("n_ff", args.n_ff),
                     ("n_head", args.n_head), ("n_head_kv", args.n_head_kv), ("n_ctx", args.ctx)):
        if val is not None:
            cfg[key] = val
    if cfg["n_embd"] % cfg["n_head"] or cfg["n_head"] % cfg["n_head_kv"] or (cfg["n_embd"] // cfg["n_head"]) % 2:
        ap.error("n_embd must split into n_head heads of even size, and n_head must be a multiple of n_head_kv")

    vocab_from = args.vocab_from
    if vocab_from is None and args.shape == "smollm2":
        vocab_from = default_vocab_source()
        if not os.path.exists(vocab_from):
            ap.error(f"the smollm2 shape needs --vocab-from FILE (no {vocab_from}; run tools/fetch-model.sh)")
    if vocab_from:
        vocab = copy_vocab(vocab_from)
    else:
        tokens, types, merges = tiny_vocab(args.vocab_size or cfg["n_vocab"])
        vocab = dict(tokens=tokens, types=types, merges=merges, pre="smollm", bos=1, eos=2, unk=0, pad=2)

    if args.to_k_quant:
        wtype = etype = QT.F16
        ftype = gguf.LlamaFileType.MOSTLY_F16
    else:
        wtype, ftype = TYPES[args.type]
        if args.embd_type:
            etype = TYPES[args.embd_type][0]
        elif args.shape == "smollm2" and args.type not in ("f32", "f16", "bf16"):
            etype = QT.Q8_0
        else:
            etype = wtype

    for d, what in ((cfg["n_embd"], "n_embd"), (cfg["n_ff"], "n_ff")):
        bs = max(gguf.GGML_QUANT_SIZES[wtype][0], gguf.GGML_QUANT_SIZES[etype][0])
        if d % bs:
            ap.error(f"{what} {d} is not a multiple of the block size {bs}")

    out = pathlib.Path(args.out)
    t0 = time.monotonic()
    if args.to_k_quant:
        with tempfile.TemporaryDirectory(dir=out.parent if out.parent.exists() else None) as td:
            f16 = pathlib.Path(td) / "f16.gguf"
            write_model(f16, cfg, wtype, etype, args.seed, args.tied, vocab, ftype)
            k_quantize(f16, out, args.to_k_quant, args.threads)
    else:
        write_model(out, cfg, wtype, etype, args.seed, args.tied, vocab, ftype)
    print(f"{out}: {args.shape} {args.to_k_quant or args.type}, {cfg['n_layer']} layers, "
          f"{len(vocab['tokens'])} tokens, {out.stat().st_size / 1e6:.1f} MB in {time.monotonic() - t0:.1f} s",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
