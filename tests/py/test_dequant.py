"""Reference dequantization against the gguf package, bit for bit.

For every weight type nirvana dequantizes, random valid blocks go through
the built tool build/tests/kernels/nrv-dequant (nrv_dequant_row_ref) and
through gguf.quants.dequantize; the float32 results must be identical.
Then real tensors of the default model are compared the same way.

    NRV_BUILD=build python -m pytest tests/py/test_dequant.py
"""
import subprocess

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType as T  # noqa: E402
from gguf.quants import dequantize, quantize  # noqa: E402

from conftest import BUILD  # noqa: E402

N_BLOCKS = 512

# Byte offsets of the half-float scale fields of each block type, as in
# kernels/quant.h. Random bytes there could be NaN or inf; these are
# overwritten with finite random halves.
HALF_FIELDS = {
    T.Q4_0: [0],
    T.Q4_1: [0, 2],
    T.Q5_0: [0],
    T.Q5_1: [0, 2],
    T.Q8_0: [0],
    T.Q2_K: [80, 82],
    T.Q3_K: [108],
    T.Q4_K: [0, 2],
    T.Q5_K: [0, 2],
    T.Q6_K: [208],
}

# Types the gguf package can quantize (it does not quantize the K-quants).
GGUF_QUANTIZES = [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0]


@pytest.fixture(scope="session")
def tool():
    exe = BUILD / "tests" / "kernels" / "nrv-dequant"
    if not exe.exists():
        pytest.fail(f"{exe} not found: build first (meson setup build && ninja -C build)")
    return exe


def nrv_dequant(tool, tmp_path, qtype, raw):
    src, dst = tmp_path / f"{qtype.name}.in", tmp_path / f"{qtype.name}.out"
    np.ascontiguousarray(raw, dtype=np.uint8).tofile(src)
    subprocess.run([str(tool), qtype.name, str(src), str(dst)], check=True)
    return np.fromfile(dst, dtype=np.float32)


def random_halves(rng, n):
    """Finite halves over a wide range of magnitudes, both signs, with some
    subnormals and zeros (the hard cases of the conversion)."""
    mag = np.exp2(rng.uniform(-26, 15, size=n))
    h = (mag * rng.choice([-1.0, 1.0], size=n)).astype(np.float16)
    h[rng.random(n) < 0.02] = 0
    assert np.isfinite(h).all()
    return h.view(np.uint8).reshape(n, 2)


def random_blocks(rng, qtype, n_blocks):
    """Random bytes are valid blocks once the half scales are finite."""
    _, type_size = GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    for off in HALF_FIELDS[qtype]:
        raw[:, off:off + 2] = random_halves(rng, n_blocks)
    return raw


def assert_same(ours, theirs):
    theirs = np.asarray(theirs, dtype=np.float32).ravel()
    assert ours.shape == theirs.shape
    assert not np.isnan(theirs).any()
    diff = np.flatnonzero(ours.view(np.uint32) != theirs.view(np.uint32))
    assert diff.size == 0, (
        f"{diff.size} elements differ; first at {diff[0]}: "
        f"ours {ours[diff[0]]!r} gguf {theirs[diff[0]]!r}")


@pytest.mark.parametrize("qtype", list(HALF_FIELDS), ids=lambda t: t.name)
def test_random_blocks(tool, tmp_path, qtype):
    rng = np.random.default_rng(1000 + int(qtype))
    raw = random_blocks(rng, qtype, N_BLOCKS)
    assert_same(nrv_dequant(tool, tmp_path, qtype, raw), dequantize(raw, qtype))


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
@pytest.mark.parametrize("qtype", GGUF_QUANTIZES, ids=lambda t: t.name)
def test_gguf_quantized(tool, tmp_path, qtype):
    rng = np.random.default_rng(2000 + int(qtype))
    block_size, _ = GGML_QUANT_SIZES[qtype]
    x = rng.standard_normal((8, 64 * block_size)).astype(np.float32)
    x[:, ::17] *= 30  # outliers
    if qtype in (T.F16, T.BF16, T.F32):
        # the float types also get values that round, overflow (F16) and
        # fall into the subnormals
        x[0, :64] = np.exp2(rng.uniform(-30, 17, size=64)).astype(np.float32)
    q = quantize(x, qtype)
    raw = np.ascontiguousarray(q).view(np.uint8)
    theirs = dequantize(q, qtype)
    if qtype == T.F16:
        # the float16 overflow is deliberate; compare the infinities too
        ours = nrv_dequant(tool, tmp_path, qtype, raw)
        assert np.array_equal(ours, theirs.ravel())
        return
    assert_same(nrv_dequant(tool, tmp_path, qtype, raw), theirs)


def test_model_tensors(tool, tmp_path, default_model):
    reader = gguf.GGUFReader(default_model)
    picked = {}
    for t in reader.tensors:
        if t.tensor_type in (T.Q4_1, T.Q8_0) and len(picked.get(t.tensor_type, [])) < 3:
            picked.setdefault(t.tensor_type, []).append(t)
    assert set(picked) == {T.Q4_1, T.Q8_0}, "the default model has Q4_1 and Q8_0 tensors"
    for qtype, tensors in picked.items():
        for t in tensors:
            raw = np.asarray(t.data)[:2048]  # at most 2048 rows (token_embd is large)
            ours = nrv_dequant(tool, tmp_path, qtype, raw)
            theirs = dequantize(raw, qtype)
            assert_same(ours, theirs)
            assert np.isfinite(ours).all(), t.name


def test_rejects_partial_block(tool, tmp_path):
    src = tmp_path / "partial.in"
    src.write_bytes(b"\0" * 21)
    r = subprocess.run([str(tool), "Q4_1", str(src), str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "whole number" in r.stderr
