#!/usr/bin/env python3
"""Write a random-weight, SmolLM2-135M-shaped llama GGUF with numpy alone.

    gpu-model.py --out FILE [--type q4_1|q4_0|q8_0|f16] [--layers N] [--seed S]

For machines that have numpy but not the gguf package (the GPU check runs on
one): the GGUF v3 writer and the Q4_0 / Q4_1 / Q8_0 quantizers below follow
the format's specification (docs/models.md) directly. The shape is SmolLM2's
(30 layers, n_embd 576, 9 heads / 3 KV heads, n_ff 1536, vocab 49152,
context 8192, rope base 100000, tied embeddings, token_embd in Q8_0 as in
the real Q4_1 file), with weights scaled as tools/make-test-model.py scales
them so activations stay O(1) through the depth. The vocabulary is byte
level: 3 control tokens as SmolLM2 has them, the 256 byte tokens, a few
letter-pair merges, then unused placeholders up to 49152 rows.
"""
import argparse
import struct
import sys

import numpy as np

ALIGN = 32
F32, F16, Q4_0, Q4_1, Q8_0 = 0, 1, 2, 3, 8
TYPES = {"f16": F16, "q4_0": Q4_0, "q4_1": Q4_1, "q8_0": Q8_0}
FILE_TYPE = {F16: 1, Q4_0: 2, Q4_1: 3, Q8_0: 7}
# GGUF metadata value types
U32, I32, F32V, BOOL, STR, ARR = 4, 5, 6, 7, 8, 9


def gstr(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, value, etype=None):
    out = gstr(key) + struct.pack("<I", vtype)
    if vtype == U32:
        out += struct.pack("<I", value)
    elif vtype == F32V:
        out += struct.pack("<f", value)
    elif vtype == BOOL:
        out += struct.pack("<B", 1 if value else 0)
    elif vtype == STR:
        out += gstr(value)
    elif vtype == ARR:
        out += struct.pack("<IQ", etype, len(value))
        if etype == STR:
            out += b"".join(gstr(v) for v in value)
        elif etype == I32:
            out += np.asarray(value, dtype="<i4").tobytes()
        elif etype == F32V:
            out += np.asarray(value, dtype="<f4").tobytes()
        else:
            raise ValueError(etype)
    else:
        raise ValueError(vtype)
    return out


def quant_q8_0(x):
    b = x.reshape(-1, 32)
    amax = np.abs(b).max(axis=1)
    d = amax / 127.0
    inv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1), 0.0)
    q = np.clip(np.rint(b * inv[:, None]), -127, 127).astype(np.int8)
    out = np.empty((b.shape[0], 34), dtype=np.uint8)
    out[:, 0:2] = d.astype("<f2").view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.tobytes()


def quant_q4(x, with_min):
    b = x.reshape(-1, 32)
    if with_min:
        mn, mx = b.min(axis=1), b.max(axis=1)
        d = (mx - mn) / 15.0
        inv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1), 0.0)
        q = np.clip(np.floor((b - mn[:, None]) * inv[:, None] + 0.5), 0, 15).astype(np.uint8)
    else:
        idx = np.abs(b).argmax(axis=1)
        mx = b[np.arange(b.shape[0]), idx]
        d = mx / -8.0
        inv = np.where(d != 0, 1.0 / np.where(d != 0, d, 1), 0.0)
        q = np.clip(np.floor(b * inv[:, None] + 8.5), 0, 15).astype(np.uint8)
    qs = q[:, :16] | (q[:, 16:] << 4)
    hdr = 4 if with_min else 2
    out = np.empty((b.shape[0], hdr + 16), dtype=np.uint8)
    out[:, 0:2] = d.astype("<f2").view(np.uint8).reshape(-1, 2)
    if with_min:
        out[:, 2:4] = mn.astype("<f2").view(np.uint8).reshape(-1, 2)
    out[:, hdr:] = qs
    return out.tobytes()


def encode(arr, t):
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if t == F32:
        return arr.astype("<f4").tobytes()
    if t == F16:
        return arr.astype("<f2").tobytes()
    if t == Q8_0:
        return quant_q8_0(arr)
    if t == Q4_0:
        return quant_q4(arr, False)
    if t == Q4_1:
        return quant_q4(arr, True)
    raise ValueError(t)


def byte_chars():
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


def vocab(n_vocab):
    tokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + byte_chars()
    types = [3, 3, 3] + [1] * 256
    merges = []
    for a in "etaoinshr":
        for b in "etaoinshrdlu":
            merges.append(f"{a} {b}")
            tokens.append(a + b)
            types.append(1)
    while len(tokens) < n_vocab:
        tokens.append(f"<unused{len(tokens)}>")
        types.append(5)
    return tokens, types, merges


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--type", default="q4_1", choices=sorted(TYPES))
    ap.add_argument("--layers", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    wt = TYPES[a.type]
    et = Q8_0 if wt != F16 else F16
    n_layer, E, F, H, HKV, V, CTX = a.layers, 576, 1536, 9, 3, 49152, 8192
    hd = E // H
    rng = np.random.default_rng(a.seed)

    def normal(shape, std):
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(std)

    def norm_w():
        return (1.0 + 0.1 * rng.standard_normal(E)).astype(np.float32)

    tokens, types, merges = vocab(V)
    kvs = [
        kv("general.architecture", STR, "llama"),
        kv("general.name", STR, "nirvana random SmolLM2-shaped model"),
        kv("general.alignment", U32, ALIGN),
        kv("general.file_type", U32, FILE_TYPE[wt]),
        kv("general.quantization_version", U32, 2),
        kv("llama.context_length", U32, CTX),
        kv("llama.embedding_length", U32, E),
        kv("llama.block_count", U32, n_layer),
        kv("llama.feed_forward_length", U32, F),
        kv("llama.attention.head_count", U32, H),
        kv("llama.attention.head_count_kv", U32, HKV),
        kv("llama.rope.dimension_count", U32, hd),
        kv("llama.rope.freq_base", F32V, 100000.0),
        kv("llama.attention.layer_norm_rms_epsilon", F32V, 1e-5),
        kv("llama.vocab_size", U32, V),
        kv("tokenizer.ggml.model", STR, "gpt2"),
        kv("tokenizer.ggml.pre", STR, "smollm"),
        kv("tokenizer.ggml.tokens", ARR, tokens, STR),
        kv("tokenizer.ggml.token_type", ARR, types, I32),
        kv("tokenizer.ggml.merges", ARR, merges, STR),
        kv("tokenizer.ggml.bos_token_id", U32, 1),
        kv("tokenizer.ggml.eos_token_id", U32, 2),
        kv("tokenizer.ggml.unknown_token_id", U32, 0),
        kv("tokenizer.ggml.padding_token_id", U32, 2),
        kv("tokenizer.ggml.add_bos_token", BOOL, False),
        kv("tokenizer.ggml.add_space_prefix", BOOL, False),
    ]

    tensors = []  # (name, ne list, type, bytes)

    def add(name, arr, t):
        ne = list(reversed(arr.shape))
        tensors.append((name, ne, t, encode(arr, t)))

    s_in = 1.0 / np.sqrt(E)
    add("token_embd.weight", normal((V, E), 3.0 / np.sqrt(E)), et)
    for i in range(n_layer):
        p = f"blk.{i}."
        add(p + "attn_norm.weight", norm_w(), F32)
        add(p + "attn_q.weight", normal((H * hd, E), s_in), wt)
        add(p + "attn_k.weight", normal((HKV * hd, E), s_in), wt)
        add(p + "attn_v.weight", normal((HKV * hd, E), s_in), wt)
        add(p + "attn_output.weight", normal((E, H * hd), 1.0 / np.sqrt(E * 2 * n_layer)), wt)
        add(p + "ffn_norm.weight", norm_w(), F32)
        add(p + "ffn_gate.weight", normal((F, E), s_in), wt)
        add(p + "ffn_up.weight", normal((F, E), s_in), wt)
        add(p + "ffn_down.weight", normal((E, F), 1.0 / np.sqrt(F * 2 * n_layer)), wt)
    add("output_norm.weight", norm_w(), F32)

    def pad(n):
        return (ALIGN - n % ALIGN) % ALIGN

    infos, off = [], 0
    for name, ne, t, data in tensors:
        infos.append(gstr(name) + struct.pack("<I", len(ne)) +
                     struct.pack("<%dQ" % len(ne), *ne) + struct.pack("<IQ", t, off))
        off += len(data) + pad(len(data))
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)) + b"".join(kvs) + b"".join(infos)
    with open(a.out, "wb") as f:
        f.write(head)
        f.write(b"\0" * pad(len(head)))
        for _, _, _, data in tensors:
            f.write(data)
            f.write(b"\0" * pad(len(data)))
    print(f"wrote {a.out}: {len(tensors)} tensors, {n_layer} layers, type {a.type}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
