"""Random test models written at test time by tools/make-test-model.py (cached per session)."""
import hashlib
import pathlib
import subprocess
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "tools" / "make-test-model.py"

_made = {}


def make_model(outdir, *args):
    """Path of a model made with these generator arguments inside outdir (made once)."""
    key = (str(outdir), args)
    path = _made.get(key)
    if path is None:
        name = "m-" + hashlib.sha1("\0".join(args).encode()).hexdigest()[:12] + ".gguf"
        path = pathlib.Path(outdir) / name
        res = subprocess.run([sys.executable, str(GENERATOR), "--out", str(path), *args],
                             capture_output=True, text=True, timeout=300)
        if res.returncode != 0:
            raise RuntimeError(f"make-test-model.py {' '.join(args)} failed:\n{res.stderr[-3000:]}")
        _made[key] = path
    return path


def rel_max_err(got, ref):
    """max |got - ref| over all logits, in units of the reference logits' std."""
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    return float(np.max(np.abs(got - ref)) / np.std(ref))


def argmax_agreement(a, b):
    return float(np.mean(np.argmax(a, axis=-1) == np.argmax(b, axis=-1)))

