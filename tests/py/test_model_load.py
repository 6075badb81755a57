"""How weights are loaded, end to end: every `--load` mode generates the same
tokens, the model digest is the same from `info` and from a load and changes
with the content, `--mlock` works or says why not, and broken files end in a
clean error."""
import json
import re
import shutil
import subprocess

import pytest

DIGEST = re.compile(rb"xxh3-128:([0-9a-f]{32})")


def nrv(nirvana, *args, timeout=300):
    return subprocess.run([str(nirvana), *map(str, args)], stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=timeout)


def greedy(nirvana, model, mode, *extra):
    return nrv(nirvana, "run", "-m", model, "-p", "The capital of France is", "-n", 16,
               "--temp", 0, "--ignore-eos", "-t", 2, "--load", mode, *extra)


def test_every_load_mode_gives_the_same_tokens(nirvana, default_model):
    runs = {mode: greedy(nirvana, default_model, mode) for mode in ("uring", "read", "mmap")}
    for mode, r in runs.items():
        assert r.returncode == 0, (mode, r.stderr.decode())
        assert f"weights: {mode},".encode() in r.stderr, r.stderr.decode()
    assert runs["uring"].stdout == runs["read"].stdout == runs["mmap"].stdout
    assert len(runs["uring"].stdout.strip()) > 0
    # the same file, the same digest, whichever way it was loaded
    digests = {DIGEST.search(r.stderr).group(1) for r in runs.values()}
    assert len(digests) == 1, digests


def test_default_mode_is_uring(nirvana, default_model):
    r = nrv(nirvana, "run", "-m", default_model, "-p", "Hi", "-n", 1, "--temp", 0)
    assert r.returncode == 0, r.stderr.decode()
    assert b"weights: uring," in r.stderr, r.stderr.decode()


def test_info_prints_the_digest_that_a_load_computes(nirvana, default_model):
    info = nrv(nirvana, "info", default_model)
    assert info.returncode == 0, info.stderr.decode()
    d_info = DIGEST.search(info.stdout).group(1)
    js = json.loads(nrv(nirvana, "info", default_model, "--json").stdout)
    assert js["digest"].encode() == d_info
    r = greedy(nirvana, default_model, "uring")
    assert DIGEST.search(r.stderr).group(1) == d_info


def test_digest_changes_with_the_content(nirvana, default_model, workdir):
    copy = workdir / "changed.gguf"
    shutil.copyfile(default_model, copy)
    size = copy.stat().st_size
    with open(copy, "r+b") as f:  # one byte near the end: tensor data
        f.seek(size - 100)
        b = f.read(1)
        f.seek(size - 100)
        f.write(bytes([b[0] ^ 1]))
    a = DIGEST.search(nrv(nirvana, "info", default_model).stdout).group(1)
    c = DIGEST.search(nrv(nirvana, "info", copy).stdout).group(1)
    assert a != c


def test_mlock_locks_or_says_why(nirvana, default_model):
    r = greedy(nirvana, default_model, "uring", "--mlock")
    assert r.returncode == 0, r.stderr.decode()
    err = r.stderr.decode()
    assert ", locked" in err or ("mlock" in err and "ulimit -l" in err), err


@pytest.mark.parametrize("mode", ["uring", "read"])
def test_truncated_model_is_a_clean_error(nirvana, default_model, workdir, mode):
    cut = workdir / f"cut-{mode}.gguf"
    with open(default_model, "rb") as src, open(cut, "wb") as dst:
        dst.write(src.read(default_model.stat().st_size - 4096))
    r = greedy(nirvana, cut, mode)
    assert r.returncode == 1, r.stderr.decode()
    err = r.stderr.decode().strip()
    assert str(cut) in err and len(err.splitlines()) == 1, err


def test_directory_as_model_is_a_clean_error(nirvana, workdir):
    r = greedy(nirvana, workdir, "uring")
    assert r.returncode == 1
    assert b"directory" in r.stderr, r.stderr.decode()
