#!/usr/bin/env bash
# perf/compare-serve.sh - serving benchmark, side by side: `nirvana serve`
# against llama.cpp's `llama-server` on the same model, measured by
# `nirvana load` (unique synthetic prompts, 64 output tokens with ignore_eos).
#
# Both servers are started once and stay up; for every repetition and every
# concurrency (1, 8, 64) the two are loaded alternately, the first of the pair
# swapping each repetition, so drift in the machine's speed hits both alike.
# The script prints each server's median of every repetition's figures and the
# ratio nirvana / llama-server. It builds nothing: give it both binaries.
#
#   perf/compare-serve.sh --nirvana build/nirvana --llama-server /path/to/llama-server [-m MODEL]
#
# Options (or the environment variable in brackets):
#   --nirvana PATH        nirvana binary (NIRVANA; default build/nirvana)
#   --llama-server PATH   llama-server binary (LLAMA_SERVER; required)
#   -m, --model FILE      GGUF model (MODEL; default the SmolLM2-135M-Instruct Q4_1 in ~/.cache/nirvana/models)
#   -t, --threads N       threads of each server (THREADS; default: online CPUs)
#   -r, --reps N          repetitions (REPS; default 3)
#   --conc LIST           concurrencies (CONC; default "1 8 64")
#   --max-tokens N        output tokens per request (MAX_TOKENS; default 64)
#   --prompt-len L        synthetic prompt length (PROMPT_LEN; default short, about 32 tokens)
#   --per-slot N          requests per concurrency slot, at least 16 in all (PER_SLOT; default 4)
#   --out DIR             where the JSON of every run goes (OUT_DIR; default a new directory under /tmp)
# Server flags: NRV_SERVE_ARGS replaces nirvana's arguments after `serve`
# (default "-m MODEL --host 127.0.0.1 --port NRV_PORT -t THREADS"); NRV_SERVE_EXTRA
# and LLAMA_SERVER_EXTRA are appended to the two command lines. NRV_PORT
# (default 8090) and LLAMA_PORT (8091) pick the ports, which must be free.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NIRVANA=${NIRVANA:-$ROOT/build/nirvana}
LLAMA_SERVER=${LLAMA_SERVER:-}
MODEL=${MODEL:-$HOME/.cache/nirvana/models/SmolLM2-135M-Instruct.Q4_1.gguf}
THREADS=${THREADS:-$(nproc)}
REPS=${REPS:-3}
CONC=${CONC:-"1 8 64"}
MAX_TOKENS=${MAX_TOKENS:-64}
PROMPT_LEN=${PROMPT_LEN:-short}
PER_SLOT=${PER_SLOT:-4}
OUT_DIR=${OUT_DIR:-}
NRV_PORT=${NRV_PORT:-8090}
LLAMA_PORT=${LLAMA_PORT:-8091}

usage() { sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
	case "$1" in
	--nirvana) NIRVANA=$2; shift 2 ;;
	--llama-server) LLAMA_SERVER=$2; shift 2 ;;
	-m|--model) MODEL=$2; shift 2 ;;
	-t|--threads) THREADS=$2; shift 2 ;;
	-r|--reps) REPS=$2; shift 2 ;;
	--conc) CONC=$2; shift 2 ;;
	--max-tokens) MAX_TOKENS=$2; shift 2 ;;
	--prompt-len) PROMPT_LEN=$2; shift 2 ;;
	--per-slot) PER_SLOT=$2; shift 2 ;;
	--out) OUT_DIR=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "compare-serve: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
done

die() { echo "compare-serve: $*" >&2; exit 1; }
[ -x "$NIRVANA" ] || die "nirvana binary '$NIRVANA' not found: build it, or pass --nirvana PATH"
[ -n "$LLAMA_SERVER" ] || die "give the llama-server binary with --llama-server PATH (or LLAMA_SERVER=...)"
[ -x "$LLAMA_SERVER" ] || die "llama-server binary '$LLAMA_SERVER' is not executable"
[ -f "$MODEL" ] || die "model '$MODEL' not found (tools/fetch-model.sh fetches the default one)"
OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/compare-serve.XXXXXX)}
mkdir -p "$OUT_DIR"

max_c=1
for c in $CONC; do [ "$c" -gt "$max_c" ] && max_c=$c; done
# Each llama-server slot needs room for one prompt and its output.
case "$PROMPT_LEN" in short) plen=32 ;; medium) plen=128 ;; long) plen=512 ;; *) plen=$PROMPT_LEN ;; esac
per_slot_ctx=$(( (plen * 3 / 2 + MAX_TOKENS + 64 + 255) / 256 * 256 ))

if [ -n "${NRV_SERVE_ARGS:-}" ]; then
	# shellcheck disable=SC2206
	nrv_args=($NRV_SERVE_ARGS)
else
	nrv_args=(-m "$MODEL" --host 127.0.0.1 --port "$NRV_PORT" -t "$THREADS")
fi
# shellcheck disable=SC2206
nrv_cmd=("$NIRVANA" serve "${nrv_args[@]}" ${NRV_SERVE_EXTRA:-})
# shellcheck disable=SC2206
llama_cmd=("$LLAMA_SERVER" -m "$MODEL" --host 127.0.0.1 --port "$LLAMA_PORT" -t "$THREADS"
	-np "$max_c" -c $((max_c * per_slot_ctx)) ${LLAMA_SERVER_EXTRA:-})

for port in "$NRV_PORT" "$LLAMA_PORT"; do
	if curl -sS -m 2 -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then
		die "something already answers on port $port; stop it or pick NRV_PORT / LLAMA_PORT"
	fi
done

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

wait_healthy() {	# name url pid
	for _ in $(seq 1 240); do
		kill -0 "$3" 2>/dev/null || die "$1 exited during start-up; see $OUT_DIR/$1.log"
		if curl -fsS -m 2 "$2/health" >/dev/null 2>&1; then return 0; fi
		sleep 0.5
	done
	die "$1 did not report healthy at $2/health within 120 s; see $OUT_DIR/$1.log"
}

echo "compare-serve: results in $OUT_DIR"
echo "nirvana:      ${nrv_cmd[*]}" | tee "$OUT_DIR/commands.txt"
echo "llama-server: ${llama_cmd[*]}" | tee -a "$OUT_DIR/commands.txt"
"${nrv_cmd[@]}" >"$OUT_DIR/nirvana.log" 2>&1 &
pids+=($!)
wait_healthy nirvana "http://127.0.0.1:$NRV_PORT" "${pids[-1]}"
"${llama_cmd[@]}" >"$OUT_DIR/llama.log" 2>&1 &
pids+=($!)
wait_healthy llama "http://127.0.0.1:$LLAMA_PORT" "${pids[-1]}"

run_load() {	# name port c rep
	local n=$(( $3 * PER_SLOT )); [ "$n" -lt 16 ] && n=16
	local out="$OUT_DIR/$1-c$3-r$4.json"
	local cmd=("$NIRVANA" load --url "http://127.0.0.1:$2" -n "$n" -c "$3" --warmup "$3"
		--max-tokens "$MAX_TOKENS" --ignore-eos --prompt-len "$PROMPT_LEN" --json)
	echo "${cmd[*]}" >>"$OUT_DIR/commands.txt"
	if ! "${cmd[@]}" >"$out" 2>"$out.err"; then
		echo "compare-serve: $1 at -c $3 had failures (see $out.err):" >&2
		head -5 "$out.err" >&2
	fi
}

for rep in $(seq 1 "$REPS"); do
	for c in $CONC; do
		if [ $(( rep % 2 )) -eq 1 ]; then order="nirvana llama"; else order="llama nirvana"; fi
		for who in $order; do
			if [ "$who" = nirvana ]; then port=$NRV_PORT; else port=$LLAMA_PORT; fi
			echo "compare-serve: rep $rep/$REPS, -c $c, $who"
			run_load "$who" "$port" "$c" "$rep"
		done
	done
done

# shellcheck disable=SC2086  # CONC is a list
python3 - "$OUT_DIR" "$REPS" $CONC <<'EOF'
import json, pathlib, statistics, sys
out, reps, conc = pathlib.Path(sys.argv[1]), int(sys.argv[2]), [int(c) for c in sys.argv[3:]]
keys = [("output_throughput", "out tok/s", True), ("request_throughput", "req/s", True),
        ("median_ttft_ms", "TTFT ms", False), ("median_tpot_ms", "TPOT ms", False),
        ("median_itl_ms", "ITL ms", False), ("median_e2el_ms", "E2EL ms", False),
        ("p99_e2el_ms", "p99 E2EL ms", False)]

def med(name, c, key):
    vals = []
    for r in range(1, reps + 1):
        f = out / f"{name}-c{c}-r{r}.json"
        try:
            j = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if j.get("failed") == 0 and j.get(key) is not None:
            vals.append(j[key])
    return (statistics.median(vals), len(vals)) if vals else (None, 0)

print(f"\nmedians of {reps} repetitions (runs with failures left out); ratio = nirvana / llama-server")
print(f"| {'c':>3} | {'metric':<12} | {'nirvana':>10} | {'llama-server':>12} | {'ratio':>6} | better  |")
print(f"|{'-'*5}|{'-'*14}|{'-'*12}|{'-'*14}|{'-'*8}|---------|")
for c in conc:
    for key, label, higher in keys:
        a, na = med("nirvana", c, key)
        b, nb = med("llama", c, key)
        fa = f"{a:10.2f}" if a is not None else f"{'n/a':>10}"
        fb = f"{b:12.2f}" if b is not None else f"{'n/a':>12}"
        ratio = f"{a / b:6.2f}" if a is not None and b else f"{'n/a':>6}"
        better = ""
        if a is not None and b is not None and a != b:
            better = "nirvana" if (a > b) == higher else "llama"
        print(f"| {c:>3} | {label:<12} | {fa} | {fb} | {ratio} | {better:<7} |")
EOF
