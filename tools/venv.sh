#!/usr/bin/env bash
# tools/venv.sh - the Python virtualenv the tests use for reference peers:
# llama.cpp (llama-cpp-python, built from source by pip), the gguf package,
# numpy, sentencepiece, pytest, and the clients the server tests use
# (openai, prometheus-client). Pinned; rebuilt only when the pins change.
set -euo pipefail
source "$(dirname "$0")/common.sh"

PINS=(
	"llama-cpp-python==0.3.36"
	"gguf==0.19.0"
	"numpy==2.4.6"
	"sentencepiece==0.2.3"
	"pytest==9.2.0"
	"openai==3.57.0"
	"prometheus-client==0.26.0"
)
stamp="$NRV_VENV/.nirvana-pins"
want="$(printf '%s\n' "${PINS[@]}")"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
	echo "$NRV_VENV"
	exit 0
fi
nrv_say "creating the test virtualenv in $NRV_VENV (llama-cpp-python compiles llama.cpp: several minutes)"
/usr/bin/python3 -m venv "$NRV_VENV" || nrv_die "python3 -m venv failed (apt-get install python3-venv)"
"$NRV_VENV/bin/pip" install --quiet --disable-pip-version-check --upgrade pip >/dev/null
CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "$NRV_VENV/bin/pip" install --quiet \
	--disable-pip-version-check "${PINS[@]}" || nrv_die "installing the Python peers failed"
echo "$want" >"$stamp"
echo "$NRV_VENV"
