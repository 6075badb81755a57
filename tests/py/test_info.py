"""`nirvana info` end to end: the real model against the gguf package's reader,
files the gguf package writes, and broken inputs.

    NRV_BUILD=build /root/.cache/nirvana/venv/bin/pytest tests/py/test_info.py
"""
import json
import os
import pathlib
import subprocess

import pytest

gguf = pytest.importorskip("gguf")
np = pytest.importorskip("numpy")

DEFAULT_MODEL = pathlib.Path.home() / ".cache/nirvana/models/SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="session")
def model_path():
    """The default model if it is already here; never downloads."""
    path = pathlib.Path(os.environ.get("NRV_MODEL") or DEFAULT_MODEL)
    if not path.is_file():
        pytest.skip(f"default model not found at {path} (run tools/fetch-model.sh or set NRV_MODEL)")
    return path


def info(nirvana, *args):
    return subprocess.run([str(nirvana), "info", *map(str, args)], capture_output=True,
                          text=True, timeout=60)


def write_llama(path, head_count=4, n_vocab=16):
    """A small llama GGUF written by the gguf package (an implementation we did not write)."""
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("pytest llama")
    w.add_context_length(64)
    w.add_embedding_length(32)
    w.add_block_count(1)
    w.add_feed_forward_length(64)
    w.add_head_count(head_count)
    w.add_head_count_kv(2)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_freq_base(500000.0)
    w.add_tokenizer_model("gpt2")
    w.add_token_list([f"t{i}" for i in range(n_vocab)])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    f32 = np.float32
    w.add_tensor("token_embd.weight", np.ones((n_vocab, 32), dtype=np.float16))
    w.add_tensor("output_norm.weight", np.ones(32, dtype=f32))
    shapes = {"attn_norm": (32,), "attn_q": (32, 32), "attn_k": (16, 32), "attn_v": (16, 32),
              "attn_output": (32, 32), "ffn_norm": (32,), "ffn_gate": (64, 32),
              "ffn_up": (64, 32), "ffn_down": (32, 64)}
    for name, shape in shapes.items():
        w.add_tensor(f"blk.0.{name}.weight", np.zeros(shape, dtype=f32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_real_model_text(nirvana, model_path):
    r = info(nirvana, model_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for line in ("architecture     llama", "n_layer        30", "n_embd         576",
                 "n_head_kv      3", "n_vocab        49152", "rope_freq_base 100000",
                 "tied_output    yes", "pre            smollm", "merges         48900",
                 "tensors          272", "validation       ok", "alignment        32",
                 "weights held by  mmap"):
        assert line in out, f"{line!r} missing from:\n{out}"
    assert "(134.52 M)" in out
    assert r.stderr == ""


def test_real_model_json_matches_gguf_reader(nirvana, model_path):
    r = info(nirvana, model_path, "--json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    reader = gguf.GGUFReader(str(model_path))
    assert j["valid"] is True and j["error"] is None
    assert j["architecture"] == "llama"
    assert j["gguf_version"] == 3
    assert j["file_size"] == model_path.stat().st_size
    assert j["tensors"] == len(reader.tensors)
    # The reader lists the three header fields (version, counts) as fields too.
    assert j["metadata_keys"] == len([f for f in reader.fields if not f.startswith("GGUF.")])
    assert j["parameters"] == sum(int(t.n_elements) for t in reader.tensors)
    by_type = {}
    for t in reader.tensors:
        n, b = by_type.get(t.tensor_type.name, (0, 0))
        by_type[t.tensor_type.name] = (n + 1, b + int(t.n_bytes))
    assert {e["type"]: (e["tensors"], e["bytes"]) for e in j["types"]} == by_type
    assert j["data_offset"] == reader.data_offset
    hp = j["hyperparameters"]
    assert (hp["n_layer"], hp["n_embd"], hp["n_head"], hp["n_head_kv"], hp["n_ff"],
            hp["n_vocab"], hp["head_dim"]) == (30, 576, 9, 3, 1536, 49152, 64)
    assert hp["rope_freq_base"] == 100000 and hp["norm_eps"] == 1e-5
    assert hp["tied_output"] is True
    tok = j["tokenizer"]
    assert tok == {"model": "gpt2", "pre": "smollm", "tokens": 49152, "merges": 48900,
                   "bos_token_id": 1, "eos_token_id": 2}


def test_file_written_by_gguf_package(nirvana, workdir):
    path = write_llama(workdir / "ok.gguf")
    r = info(nirvana, path, "--json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["name"] == "pytest llama"
    hp = j["hyperparameters"]
    assert (hp["n_embd"], hp["n_head"], hp["n_head_kv"], hp["head_dim"], hp["n_vocab"]) == \
        (32, 4, 2, 8, 16)
    assert hp["rope_freq_base"] == 500000 and hp["norm_eps"] == 1e-6
    assert hp["n_rot"] == 8 and hp["file_type"] is None
    assert j["tokenizer"]["merges"] is None
    assert {e["type"] for e in j["types"]} == {"F16", "F32"}


def test_invalid_model_still_shows_metadata(nirvana, workdir):
    path = write_llama(workdir / "bad.gguf", head_count=3)
    r = info(nirvana, path)
    assert r.returncode == 1
    assert "hyperparameters (as stored, not validated)" in r.stdout
    assert "llama.attention.head_count = 3" in r.stdout
    assert "validation       FAILED" in r.stdout
    assert r.stderr.startswith("nirvana: ")
    assert "not divisible by llama.attention.head_count 3" in r.stderr
    r = info(nirvana, path, "--json")
    assert r.returncode == 1
    j = json.loads(r.stdout)
    assert j["valid"] is False and j["hyperparameters"] is None
    assert "head_count 3" in j["error"]
    assert j["metadata"]["llama.attention.head_count"] == 3


@pytest.mark.parametrize("kind", ["missing", "directory", "empty", "text", "truncated",
                                  "cut_data", "bad_version"])
def test_bad_input_is_one_line(nirvana, workdir, kind):
    good = write_llama(workdir / f"src_{kind}.gguf")
    data = good.read_bytes()
    path = workdir / f"bad_{kind}"
    if kind == "directory":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("hello, this is not a model\n")
    elif kind == "truncated":
        path.write_bytes(data[:100])
    elif kind == "cut_data":
        path.write_bytes(data[:-1])
    elif kind == "bad_version":
        path.write_bytes(data[:4] + (7).to_bytes(4, "little") + data[8:])
    for extra in ([], ["--json"]):
        r = info(nirvana, path, *extra)
        assert r.returncode == 1, (kind, r.stdout, r.stderr)
        assert r.stdout == ""
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("nirvana: "), r.stderr


def test_usage(nirvana):
    r = info(nirvana, "--help")
    assert r.returncode == 0 and r.stdout.startswith("usage: nirvana info")
    r = info(nirvana)
    assert r.returncode == 2 and "no model file given" in r.stderr
    r = info(nirvana, "--frobnicate", "x.gguf")
    assert r.returncode == 2 and "unknown option '--frobnicate'" in r.stderr
    r = info(nirvana, "a.gguf", "b.gguf")
    assert r.returncode == 2


def test_hostile_strings_are_escaped(nirvana, workdir):
    """A name with invalid UTF-8 and control bytes: text output stays printable,
    JSON stays valid (U+FFFD for the bad bytes)."""
    data = write_llama(workdir / "name.gguf").read_bytes()
    hostile = b"\xff\x1b[2Jt\xc0\xafm\x00a!"
    assert len(hostile) == len(b"pytest llama")
    path = workdir / "hostile.gguf"
    path.write_bytes(data.replace(b"pytest llama", hostile, 1))
    r = subprocess.run([str(nirvana), "info", str(path)], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert b"\x1b" not in r.stdout and b"\x00" not in r.stdout
    r = info(nirvana, path, "--json")
    assert r.returncode == 0, r.stderr
    name = json.loads(r.stdout)["name"]
    assert name == "\ufffd\x1b[2Jt\ufffd\ufffdm\ufffda!"
