# tools/common.sh - shared paths and helpers for the setup scripts. Sourced.
#
# NRV_CACHE   where models and the Python virtualenv live (outside git);
#             default ${XDG_CACHE_HOME:-$HOME/.cache}/nirvana
# NRV_BUILD   the meson build directory; default <repo>/build

NRV_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NRV_CACHE="${NRV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nirvana}"
NRV_BUILD="${NRV_BUILD:-$NRV_ROOT/build}"
NRV_VENV="$NRV_CACHE/venv"
export NRV_ROOT NRV_CACHE NRV_BUILD NRV_VENV

nrv_say() { printf '== %s\n' "$*" >&2; }
nrv_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Install the Debian packages given that are not installed yet.
nrv_apt() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || nrv_die "need root to install: ${missing[*]} (run as root, or install them first)"
	nrv_say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# Refresh the package lists at most once an hour.
	local stamp=/var/lib/apt/periodic/nirvana-update-stamp
	if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +60 2>/dev/null)" ]; then
		apt-get update -qq || nrv_die "apt-get update failed: check the network and /etc/apt/sources.list"
		mkdir -p "$(dirname "$stamp")" && touch "$stamp"
	fi
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
		|| nrv_die "apt-get install ${missing[*]} failed"
}

# Packages to build and run nirvana.
NRV_BUILD_PKGS=(gcc libc6-dev meson ninja-build pkg-config ca-certificates
	libopenblas-dev libjemalloc-dev liburing-dev libxxhash-dev libcjson-dev
	python3 python3-pip)
# Packages the tests need on top.
NRV_TEST_PKGS=(libcriterion-dev python3-venv python3-dev g++ cmake make git binutils curl)

# Configure (once) and build. Extra meson options in NRV_MESON_OPTS.
# NRV_RECONFIGURE=1 re-runs meson's configuration on an existing build
# directory, so that dependencies installed since (Criterion for the tests)
# and the options given are taken into account.
nrv_build() {
	if [ -f "$NRV_BUILD/build.ninja" ] && [ -n "${NRV_RECONFIGURE:-}" ]; then
		nrv_say "reconfiguring $NRV_BUILD"
		meson setup --reconfigure "$NRV_BUILD" "$NRV_ROOT" ${NRV_MESON_OPTS:-} >/dev/null \
			|| { rm -rf "$NRV_BUILD"; nrv_say "reconfiguring failed: configuring from scratch"; }
	fi
	if [ ! -f "$NRV_BUILD/build.ninja" ]; then
		nrv_say "configuring $NRV_BUILD"
		local log
		log="$(mktemp)"
		meson setup "$NRV_BUILD" "$NRV_ROOT" ${NRV_MESON_OPTS:-} >"$log" 2>&1 \
			|| { cat "$log" >&2; rm -f "$log"; rm -rf "$NRV_BUILD"; nrv_die "meson setup failed (see above)"; }
		rm -f "$log"
	fi
	nrv_say "building"
	ninja -C "$NRV_BUILD" >/dev/null || { ninja -C "$NRV_BUILD"; nrv_die "build failed"; }
}
