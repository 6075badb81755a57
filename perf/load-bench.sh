#!/usr/bin/env bash
# Load-time benchmark of perf/RESULTS.md: every load mode, cold and warm, on
# the default model and on a ~1 GiB random-weight model, plus the disk's
# sequential O_DIRECT read rate. Root for --drop-caches only.
#   perf/load-bench.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
bench=$build/perf/nrv-load-bench
M=${NRV_MODEL:-$HOME/.cache/nirvana/models/SmolLM2-135M-Instruct.Q4_1.gguf}
B=${NRV_BIG_MODEL:-$HOME/.cache/nirvana/perf/smollm2-60l-f32.gguf}
if [ ! -f "$B" ]; then
	mkdir -p "$(dirname "$B")"
	"${NRV_PYTHON:-$HOME/.cache/nirvana/venv/bin/python}" "$root/tools/make-test-model.py" \
		--out "$B" --shape smollm2 --type f32 --layers 60
fi
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
nice "$bench" -r 7 -m read,uring,read-nd,uring-nd,raw,mmap "$M"
nice "$bench" --warm -r 7 -m read,uring,read-nd,uring-nd,memcpy,mmap "$M"
if [ "$(id -u)" = 0 ]; then nice "$bench" --drop-caches -r 3 -m read,uring "$M"; fi
nice "$bench" -r 5 -m read,uring,uring-nd,raw,mmap "$B"
nice "$bench" --warm -r 5 -m read,uring,read-nd,uring-nd,memcpy "$B"
for _ in 1 2 3; do
	python3 -c "import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)" "$B"
	dd if="$B" of=/dev/null bs=8M iflag=direct 2>&1 | tail -1
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
