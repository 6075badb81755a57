#!/usr/bin/env bash
# tools/run.sh - the README's first command: install what running needs,
# fetch the default model, build, and start `nirvana serve` on it in the
# foreground. Once it listens it prints a curl command to paste into another
# terminal; Ctrl-C stops it.
#
#   tools/run.sh [nirvana serve options...]     e.g. --port 9000, --host 0.0.0.0
#
# Set NRV_MODEL to serve another GGUF file.
set -euo pipefail
source "$(dirname "$0")/common.sh"

nrv_apt "${NRV_BUILD_PKGS[@]}"
nrv_build
model="${NRV_MODEL:-$("$NRV_ROOT/tools/fetch-model.sh")}"
nrv_say "model: $model"
exec "$NRV_BUILD/nirvana" serve -m "$model" "$@"
