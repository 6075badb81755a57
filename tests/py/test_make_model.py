"""tools/make-test-model.py writes the files it promises."""
import gguf
import numpy as np
import pytest

from testmodels import make_model

QT = gguf.GGMLQuantizationType
TYPES = {"f32": (QT.F32, 0), "f16": (QT.F16, 1), "bf16": (QT.BF16, 32), "q8_0": (QT.Q8_0, 7),
         "q4_0": (QT.Q4_0, 2), "q4_1": (QT.Q4_1, 3), "q5_0": (QT.Q5_0, 8), "q5_1": (QT.Q5_1, 9)}


@pytest.fixture(scope="module")
def outdir(tmp_path_factory):
    return tmp_path_factory.mktemp("gen")


def field(r, key):
    return r.get_field(key).contents()


@pytest.mark.parametrize("wtype", list(TYPES))
def test_tiny_types_and_metadata(outdir, wtype):
    r = gguf.GGUFReader(make_model(outdir, "--type", wtype))
    qt, ftype = TYPES[wtype]
    assert field(r, "GGUF.version") == 3
    assert field(r, "general.architecture") == "llama"
    assert field(r, "general.file_type") == ftype
    assert field(r, "general.quantization_version") == 2
    assert field(r, "llama.block_count") == 2
    assert field(r, "llama.embedding_length") == 64
    assert field(r, "llama.attention.head_count") == 4
    assert field(r, "llama.attention.head_count_kv") == 2
    assert field(r, "llama.rope.dimension_count") == 16
    assert field(r, "tokenizer.ggml.model") == "gpt2"
    assert field(r, "tokenizer.ggml.pre") == "smollm"
    assert field(r, "tokenizer.ggml.add_bos_token") is False
    assert len(field(r, "tokenizer.ggml.tokens")) == 512
    t = {x.name: x for x in r.tensors}
    assert "output.weight" not in t
    assert len(t) == 1 + 2 * 9 + 1
    for name, x in t.items():
        want = QT.F32 if name.endswith("norm.weight") else qt
        assert x.tensor_type == want, name
    assert list(t["blk.0.attn_k.weight"].shape) == [64, 32]       # ne = [n_in, n_out]
    assert list(t["blk.1.ffn_down.weight"].shape) == [128, 64]
    assert list(t["token_embd.weight"].shape) == [64, 512]


def test_deterministic_and_seeded(outdir):
    a = make_model(outdir, "--type", "q4_0", "--seed", "5").read_bytes()
    b = make_model(outdir / "..", "--type", "q4_0", "--seed", "5").read_bytes()
    c = make_model(outdir, "--type", "q4_0", "--seed", "6").read_bytes()
    assert a == b
    assert a != c


def test_weight_scales(outdir):
    r = gguf.GGUFReader(make_model(outdir, "--type", "f32", "--untied"))
    t = {x.name: np.asarray(x.data) for x in r.tensors}
    assert t["output.weight"].shape == (512, 64)
    assert abs(t["blk.0.attn_q.weight"].std() - 1 / 8) < 0.01          # 1/sqrt(n_embd)
    assert abs(t["blk.0.attn_norm.weight"].mean() - 1) < 0.05
    assert 0.03 < t["blk.0.attn_norm.weight"].std() < 0.2


def test_smollm2_shape_embd_q8_0(outdir, default_model):
    r = gguf.GGUFReader(make_model(outdir, "--shape", "smollm2", "--type", "q4_1", "--layers", "1",
                                   "--vocab-from", str(default_model)))
    t = {x.name: x for x in r.tensors}
    assert t["token_embd.weight"].tensor_type == QT.Q8_0
    assert t["blk.0.ffn_up.weight"].tensor_type == QT.Q4_1
    assert list(t["token_embd.weight"].shape) == [576, 49152]
    assert field(r, "llama.rope.freq_base") == 100000.0
    assert field(r, "llama.context_length") == 8192
    src = gguf.GGUFReader(default_model)
    assert field(r, "tokenizer.ggml.merges") == field(src, "tokenizer.ggml.merges")
    assert field(r, "tokenizer.ggml.tokens") == field(src, "tokenizer.ggml.tokens")


def test_tiny_vocab_tokenizes_in_llamacpp(outdir):
    llama_peer = pytest.importorskip("llama_peer")
    llm = llama_peer.open_model(make_model(outdir, "--type", "f32"), n_ctx=64)
    try:
        text = "the river freezes at the edges first"
        toks = llama_peer.tokenize(llm, text)
        assert len(toks) < len(text.encode())      # merges were learnt and used
        assert all(3 <= t < 512 for t in toks)
        assert llm.detokenize(toks).decode() == text
    finally:
        llm.close()


def test_k_quant(outdir):
    pytest.importorskip("llama_cpp")
    r = gguf.GGUFReader(make_model(outdir, "--n-embd", "256", "--n-ff", "512", "--to-k-quant", "q4_k_m"))
    kinds = {x.tensor_type for x in r.tensors}
    assert QT.Q4_K in kinds
    assert field(r, "general.file_type") == 15
