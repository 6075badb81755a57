#!/usr/bin/env bash
# perf/gpu-check.sh OUTDIR - build the CUDA backend, test it against the CPU
# path and benchmark it, on a GPU machine that has only nvcc, gcc, meson,
# ninja and python3 with numpy (no Debian -dev packages, no network).
#
# Every stage runs under a time limit, logs to OUTDIR/<stage>.log and
# records its exit status in OUTDIR/summary.txt; a failing stage never
# stops the later ones. Run from the repository root:
#
#     bash perf/gpu-check.sh "$OUT"
#
# On a machine without a GPU it still runs to the end: the build and the
# host checks pass, the GPU tests skip (77), the CUDA benchmarks fail
# cleanly with "no CUDA device". Environment: JOBS (build jobs, default
# nproc), BUILD (build directory, default build-gpu), KEEP_MODEL (reuse a
# model file at this path instead of generating one), QUICK (a token-sized
# CPU benchmark, for trying the script on a small machine).
set -u
OUT=${1:-${OUT:-}}
if [ -z "$OUT" ]; then
	echo "usage: perf/gpu-check.sh OUTDIR" >&2
	exit 2
fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 4)}
BUILD=${BUILD:-build-gpu}
TMP=$(mktemp -d /tmp/nrv-gpu-check.XXXXXX)
MODEL=${KEEP_MODEL:-$TMP/smollm2-random-q4_1.gguf}
SUMMARY=$OUT/summary.txt
T_START=$(date +%s)
: >"$SUMMARY"
exec > >(tee -a "$OUT/gpu-check.log") 2>&1

note() { printf '%s\n' "$*" | tee -a "$SUMMARY"; }

# stage NAME LIMIT_SECONDS CMD...: run CMD with a time limit, log it, record
# the status (0 ok, 77 skip, 124 timeout, else fail). Never exits.
stage() {
	local name=$1 limit=$2
	shift 2
	local t0 t1 rc
	t0=$(date +%s)
	echo "=== [$name] $* (limit ${limit}s)"
	timeout -k 10 "$limit" "$@" >"$OUT/$name.log" 2>&1
	rc=$?
	t1=$(date +%s)
	# The GPU test stages print their whole output (every FAIL line is in
	# gpu-check.log); the rest only their tail.
	case $name in
	gpu-ops | gpu-ops-memcheck | gpu-model) cat "$OUT/$name.log" ;;
	*) tail -n 60 "$OUT/$name.log" ;;
	esac
	local what=FAIL
	case $rc in
	0) what=ok ;;
	77) what=SKIP ;;
	124 | 137) what=TIMEOUT ;;
	esac
	note "$(printf '%-8s %-22s rc=%-3s %4ss  %s' "$what" "$name" "$rc" "$((t1 - t0))" "$*")"
	return 0
}

echo "nirvana GPU check: $(date -u) in $ROOT -> $OUT"
git -C "$ROOT" log --oneline -1 2>/dev/null | sed 's/^/commit: /' | tee -a "$SUMMARY"

# ---- environment ----
{
	set -x
	uname -a
	nproc
	free -g
	nvidia-smi
	nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.mem,driver_version --format=csv
	command -v nvcc && nvcc --version
	ls -d /usr/local/cuda* 2>/dev/null
	meson --version
	ninja --version
	gcc --version | head -1
	g++ --version | head -1
	python3 -c 'import numpy, sys; print(sys.version, "numpy", numpy.__version__)'
	set +x
} >"$OUT/env.log" 2>&1
cat "$OUT/env.log"

# The toolkit: nvcc on PATH wins, else /usr/local/cuda.
NVCC=$(command -v nvcc || true)
if [ -n "$NVCC" ]; then
	CUDA_ROOT=$(cd "$(dirname "$(readlink -f "$NVCC")")/.." && pwd)
else
	CUDA_ROOT=/usr/local/cuda
fi
export PATH="$CUDA_ROOT/bin:$PATH"
note "cuda toolkit: $CUDA_ROOT"

# ---- carried packages: liburing and xxHash (required by mem/ and net/) ----
# Debian .deb files placed (untracked) in gpu-debs/ are unpacked into a
# private root; the compiler finds them through CPATH / LIBRARY_PATH (the
# meson files fall back to the compiler's search paths when pkg-config does
# not know a package), the binaries through LD_LIBRARY_PATH.
if ls "$ROOT"/gpu-debs/*.deb >/dev/null 2>&1; then
	SYSROOT=$TMP/sysroot
	stage deps 60 python3 perf/unpack-debs.py "$SYSROOT" "$ROOT"/gpu-debs/*.deb
	LIBDIRS=$(grep -v '^unpacked' "$OUT/deps.log" | grep "^$SYSROOT" | paste -sd: -)
	export CPATH="$SYSROOT/usr/include${CPATH:+:$CPATH}"
	export LIBRARY_PATH="$LIBDIRS${LIBRARY_PATH:+:$LIBRARY_PATH}"
	export LD_LIBRARY_PATH="$LIBDIRS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	note "carried packages: $(cd "$ROOT/gpu-debs" && echo ./*.deb)"
	note "LIBRARY_PATH=$LIBRARY_PATH"
else
	note "no gpu-debs/*.deb: liburing and xxHash must be installed on this machine"
fi

# ---- build: CUDA on, every other optional part off ----
rm -rf "$BUILD"
stage setup 120 meson setup "$BUILD" --buildtype=release -Dauto_features=disabled \
	-Dcuda=enabled -Dcudatoolkit="$CUDA_ROOT" -Dtest_model="$MODEL"
stage build 400 ninja -C "$BUILD" -j"$JOBS"
[ -f "$BUILD/meson-logs/meson-log.txt" ] && cp "$BUILD/meson-logs/meson-log.txt" "$OUT/meson-log.txt"
NRV=$BUILD/nirvana
N_RUN=32
[ -n "${QUICK:-}" ] && N_RUN=4

# ---- host checks (no GPU needed) ----
stage host-geom 60 "$BUILD/tests/gpu/test_cuda_geom"
stage host-dequant 60 "$BUILD/tests/gpu/test_cuda_dequant"
stage host-fatbin 60 python3 tests/gpu/check_fatbin.py "$NRV"

# ---- GPU op tests ----
stage gpu-ops 240 "$BUILD/tests/gpu/test_cuda_ops"
if command -v compute-sanitizer >/dev/null 2>&1; then
	stage gpu-ops-memcheck 150 compute-sanitizer --tool memcheck --error-exitcode 3 \
		"$BUILD/tests/gpu/test_cuda_ops"
fi

# ---- model: SmolLM2-shaped, random Q4_1 weights ----
if [ -z "${KEEP_MODEL:-}" ]; then
	stage model 180 python3 perf/gpu-model.py --out "$MODEL"
fi
ls -la "$MODEL" 2>&1 | tee -a "$OUT/model.log"

stage gpu-model 300 "$BUILD/tests/gpu/test_cuda_model" "$MODEL"

# ---- generation, both paths ----
stage run-cuda 120 "$NRV" run -m "$MODEL" --device cuda -p "The quick brown fox" -n 32 --temp 0 --ignore-eos
stage run-cpu 120 "$NRV" run -m "$MODEL" --device cpu -t "$JOBS" -p "The quick brown fox" -n "$N_RUN" --temp 0 --ignore-eos

# ---- benchmarks (llama-bench style tables) ----
stage bench-cuda 240 "$NRV" bench -m "$MODEL" --device cuda -p 512 -n 128 -r 5
stage bench-cuda-graph 180 env NRV_CUDA_GRAPH=1 "$NRV" bench -m "$MODEL" --device cuda -p 0 -n 128 -r 5
stage run-cuda-graph 120 env NRV_CUDA_GRAPH=1 "$NRV" run -m "$MODEL" --device cuda -p "The quick brown fox" -n 32 --temp 0 --ignore-eos
stage bench-cuda-cublas 180 env NRV_CUDA_GEMM=cublas "$NRV" bench -m "$MODEL" --device cuda -p 512 -n 0 -r 5
# One sequence's step of 64 and 256 tokens: the matrix work of a batched
# decode step of that many sequences, without the per-sequence attention.
stage bench-cuda-batch 180 "$NRV" bench -m "$MODEL" --device cuda -p 64,256 -n 0 -r 5
stage bench-cuda-batch-cublas 180 env NRV_CUDA_GEMM=cublas NRV_CUDA_GEMM_MIN=16 "$NRV" bench -m "$MODEL" --device cuda -p 64,256 -n 0 -r 5
# Aggregate decode throughput of the engine (continuous batching over the
# paged KV pool) at 1, 64 and 256 concurrent sequences.
stage engine-cuda 240 "$BUILD/perf/engine-bench" -m "$MODEL" -d cuda -c 1,64,256 -p 32 -n 64
stage engine-cuda-graph 120 env NRV_CUDA_GRAPH=1 "$BUILD/perf/engine-bench" -m "$MODEL" -d cuda -c 1 -p 32 -n 64
if [ -n "${QUICK:-}" ]; then
	stage engine-cpu 120 "$BUILD/perf/engine-bench" -m "$MODEL" -t "$JOBS" -c 1 -p 4 -n 4
else
	stage engine-cpu 240 "$BUILD/perf/engine-bench" -m "$MODEL" -t "$JOBS" -c 1,64,256 -p 32 -n 64
fi
if [ -n "${QUICK:-}" ]; then
	stage bench-cpu 240 "$NRV" bench -m "$MODEL" --device cpu -t "$JOBS" -p 16 -n 4 -r 1
else
	stage bench-cpu 240 "$NRV" bench -m "$MODEL" --device cpu -t "$JOBS" -p 512,64 -n 128 -r 2
fi

# ---- the meson gpu suite, as CI would run it ----
stage meson-gpu-suite 300 meson test -C "$BUILD" --suite gpu --suite fast --print-errorlogs
[ -f "$BUILD/meson-logs/testlog.txt" ] && cp "$BUILD/meson-logs/testlog.txt" "$OUT/meson-testlog.txt"

# ---- results table ----
{
	echo
	echo "---- bench tables ----"
	for b in bench-cuda bench-cuda-graph bench-cuda-cublas bench-cuda-batch bench-cuda-batch-cublas bench-cpu; do
		echo "[$b]"
		grep -E '^\|' "$OUT/$b.log" 2>/dev/null | grep -v -- '---' || echo "(no table)"
	done
	for b in engine-cuda engine-cuda-graph engine-cpu; do
		echo "[$b]"
		grep -E '^\|' "$OUT/$b.log" 2>/dev/null | grep -v -- '---' || echo "(no table)"
	done
	echo
	echo "---- FAIL lines of the GPU tests ----"
	for b in gpu-ops gpu-model; do
		echo "[$b]"
		grep -E 'FAIL|passed, .* failed' "$OUT/$b.log" 2>/dev/null || echo "(none)"
	done
	echo
	echo "total $(($(date +%s) - T_START))s"
} | tee -a "$SUMMARY"
rm -rf "$TMP"
echo "summary: $SUMMARY"
# The device machine returns only a few files: every stage log goes into
# one archive; summary.txt and gpu-check.log stay beside it.
(
	cd "$OUT" || exit 0
	logs=$(ls -- *.log *.txt 2>/dev/null | grep -vx -e gpu-check.log -e summary.txt)
	if [ -n "$logs" ] && tar -czf logs.tar.gz $logs; then
		rm -f $logs
	fi
)
ls -la "$OUT"
exit 0
