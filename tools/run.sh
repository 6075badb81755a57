#!/usr/bin/env bash
# tools/run.sh - the README's first command: install what running needs,
# fetch the default model, build, and start nirvana on it.
#
#   tools/run.sh [nirvana run options...]
#
# With no options it starts an interactive chat with the default model.
# Set NRV_MODEL to use another GGUF file.
set -euo pipefail
source "$(dirname "$0")/common.sh"

nrv_apt "${NRV_BUILD_PKGS[@]}"
nrv_build
model="${NRV_MODEL:-$("$NRV_ROOT/tools/fetch-model.sh")}"
nrv_say "model: $model"
exec "$NRV_BUILD/nirvana" run -m "$model" "$@"
