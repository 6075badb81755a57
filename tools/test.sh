#!/usr/bin/env bash
# tools/test.sh - the README's second command: install what the tests need
# (Debian packages, the default model, the Python peers in a virtualenv),
# build, and run every test suite. Prints how long each stage took and
# ends with one "N passed, N failed, N skipped" line.
#
#   tools/test.sh            everything (fast + slow suites, Python tests)
#   NRV_TEST_QUICK=1 ...     skip the sanitizer build
set -uo pipefail
source "$(dirname "$0")/common.sh"

passed=0 failed=0 skipped=0
t_start=$SECONDS
stage_t=$SECONDS
stage() { # name
	printf '== [%4ds] %s\n' $((SECONDS - t_start)) "$*"
	stage_t=$SECONDS
}
stage_done() {
	printf '   (%ds)\n' $((SECONDS - stage_t))
}

stage "system packages"
nrv_apt "${NRV_BUILD_PKGS[@]}" "${NRV_TEST_PKGS[@]}"
stage_done

stage "default model"
NRV_MODEL="${NRV_MODEL:-$("$NRV_ROOT/tools/fetch-model.sh")}" || nrv_die "cannot fetch the default model"
export NRV_MODEL
stage_done

stage "python peers (virtualenv)"
"$NRV_ROOT/tools/venv.sh" >/dev/null || nrv_die "cannot set up the test virtualenv"
stage_done

stage "build (release, warnings are errors)"
# A build directory configured before Criterion was installed (by
# tools/run.sh) has no tests: configure it again from scratch.
if [ -f "$NRV_BUILD/build.ninja" ] && [ "$(meson introspect "$NRV_BUILD" --tests 2>/dev/null)" = "[]" ]; then
	nrv_say "the build directory has no tests (configured without Criterion): configuring again"
	rm -rf "$NRV_BUILD"
fi
NRV_MESON_OPTS="-Dwerror=true" NRV_RECONFIGURE=1 nrv_build
stage_done

# Individual test counts (Criterion binaries hold many tests each) from
# meson's JSON log of the last run in a build directory.
count_meson() { # builddir
	local c dir="$1"
	c=$(python3 "$NRV_ROOT/tools/count-tests.py" "$dir/meson-logs/testlog.json") || { failed=$((failed + 1)); return; }
	set -- $c
	passed=$((passed + $1))
	failed=$((failed + $2))
	skipped=$((skipped + $3))
	echo "   $1 passed, $2 failed, $3 skipped"
	# the reason of every skipped test, so a skip is never silent
	grep -hoE '(\[SKIP\] |SKIP test_)[^"]*' "$dir/meson-logs/testlog.txt" 2>/dev/null | sed 's/\\n.*//' | sort -u | sed 's/^/   /'
}

log="$(mktemp)"
stage "unit tests (meson: fast, slow, gpu)"
meson test -C "$NRV_BUILD" --suite fast --suite slow --suite gpu --print-errorlogs 2>&1 | tee "$log" | grep -E '^ *[0-9]+/[0-9]+ |^(Ok|Fail|Skipped|Timeout):' || true
count_meson "$NRV_BUILD"
stage_done

if [ -z "${NRV_TEST_QUICK:-}" ]; then
	stage "unit tests under ASan + UBSan (fast suite)"
	asan="$NRV_BUILD-asan"
	if [ ! -f "$asan/build.ninja" ]; then
		meson setup "$asan" "$NRV_ROOT" -Dbuildtype=debug -Db_sanitize=address,undefined \
			-Db_lundef=false -Dwerror=true >/dev/null || { rm -rf "$asan"; nrv_die "meson setup (sanitizers) failed"; }
	fi
	ninja -C "$asan" >/dev/null || { ninja -C "$asan"; nrv_die "sanitizer build failed"; }
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C "$asan" --suite fast --print-errorlogs 2>&1 | tee "$log" | grep -E '^ *[0-9]+/[0-9]+ |^(Ok|Fail|Skipped|Timeout):' || true
	count_meson "$asan"
	stage_done
fi

stage "python tests (references: llama.cpp, gguf, numpy)"
NRV_BUILD="$NRV_BUILD" "$NRV_VENV/bin/python" -m pytest -q -rs "$NRV_ROOT/tests/py" 2>&1 | tee "$log"
pyline=$(grep -E '^[=]* *[0-9]+ (passed|failed|skipped|error)' "$log" | tail -1)
for kind in passed failed skipped error errors; do
	n=$(printf '%s' "$pyline" | grep -oE "[0-9]+ $kind\b" | grep -oE '^[0-9]+')
	case $kind in
	passed) passed=$((passed + ${n:-0})) ;;
	failed | error | errors) failed=$((failed + ${n:-0})) ;;
	skipped) skipped=$((skipped + ${n:-0})) ;;
	esac
done
[ -n "$pyline" ] || { echo "pytest printed no summary"; failed=$((failed + 1)); }
stage_done
rm -f "$log"

printf '== total %ds\n' $((SECONDS - t_start))
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
