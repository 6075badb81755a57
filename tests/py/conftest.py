"""Shared fixtures for the Python-driven tests (peers: llama.cpp, gguf, numpy).

Run by tools/test.sh inside the virtualenv from tools/venv.sh:
    NRV_BUILD=build pytest tests/py
"""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("NRV_BUILD", ROOT / "build"))


@pytest.fixture(scope="session")
def nirvana():
    """Path of the built nirvana binary."""
    exe = BUILD / "nirvana"
    if not exe.exists():
        pytest.fail(f"{exe} not found: build first (meson setup build && ninja -C build)")
    return exe


@pytest.fixture(scope="session")
def default_model():
    """Path of the default model (SmolLM2-135M-Instruct Q4_1), fetched once."""
    path = os.environ.get("NRV_MODEL")
    if not path:
        out = subprocess.run([str(ROOT / "tools" / "fetch-model.sh")], check=True,
                             capture_output=True, text=True)
        path = out.stdout.strip().splitlines()[-1]
    return pathlib.Path(path)


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("nrv")
