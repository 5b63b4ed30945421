#!/bin/bash
# build-kube-proxy.sh: build the real kube-proxy 1.20 (the baseline of
# bench/relay.sh) from Debian's `kubernetes` source package, the same way
# tests/e2e/build-apiserver.sh builds kube-apiserver (root only, Debian 12):
#
#   bench/build-kube-proxy.sh [--force]
#
# It first runs tests/e2e/build-apiserver.sh, which installs the Go
# toolchain, etcd and Debian's reflect2 1.0.2, adds the deb-src entry and
# provides kube-apiserver (kube-proxy needs an API server to run).  Then
# it fetches the same source version, replaces the vendored reflect2 1.0.1
# (it breaks at run time with Go >= 1.18), runs `make WHAT=cmd/kube-proxy`
# in GOPATH mode and caches the binary as
# $KP_E2E_CACHE/<source-version>/kube-proxy (about 5-10 min once, then
# instant).  Prints that directory on the last line of stdout.
#
# One source change: the userspace proxier sets RLIMIT_NOFILE to 64000
# (soft and hard) and exits when that fails.  Where the hard limit is
# lower and cannot be raised (this VM: 20000, even for root) it would
# never start, so setRLimit (pkg/proxy/userspace/rlimit.go) is patched to
# cap the value at the current hard limit.  Nothing else is changed.
# Exit codes: 0 ready, 1 failure, 77 skip (not root, or no apt-get).
set -eu
set -o pipefail

: "${KP_E2E_CACHE:=/var/cache/kuproxy-testenv}"
here=$(cd "$(dirname "$0")" && pwd)
force=0
[ "${1:-}" = "--force" ] && force=1
# Bump when the way the binary is built changes.  2: rlimit patch.
RECIPE=2

say() { printf 'build-kube-proxy: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: build-kube-proxy (needs root for apt-get)"
	exit 77
fi
command -v apt-get >/dev/null || { echo "SKIP: build-kube-proxy (no apt-get)"; exit 77; }

# The binary runs and says it is v1.20, and this recipe built it.
cache_ok() {
	local d=$1 v

	[ -x "$d/kube-proxy" ] || return 1
	[ "$(cat "$d/RECIPE.kube-proxy" 2>/dev/null)" = "$RECIPE" ] || return 1
	v=$(timeout 20 "$d/kube-proxy" --version 2>/dev/null) || return 1
	case $v in
	*v1.20.*) return 0 ;;
	esac
	return 1
}

# Toolchain, etcd, deb-src entry and kube-apiserver (cheap when cached).
apidir=$(timeout 3600 "$here/../tests/e2e/build-apiserver.sh" | tail -n 1) ||
    die "tests/e2e/build-apiserver.sh failed"
[ -d "$apidir" ] || die "build-apiserver.sh printed no cache directory"
ver=$(basename "$apidir")
out=$KP_E2E_CACHE/$ver
if [ "$force" -eq 0 ] && cache_ok "$out"; then
	say "using cached $out/kube-proxy ($("$out/kube-proxy" --version))"
	echo "$out"
	exit 0
fi

R2=/usr/share/gocode/src/github.com/modern-go/reflect2
[ -f "$R2/go_above_118.go" ] || die "no reflect2 >= 1.0.2 in $R2"
command -v go >/dev/null || die "no go (build-apiserver.sh installs golang-go)"

work=$KP_E2E_CACHE/work-kube-proxy
rm -rf "$work"
mkdir -p "$work"
cd "$work"
say "apt-get source kubernetes=$ver (in $work)"
timeout 900 apt-get source -qq "kubernetes=$ver" >/dev/null 2>&1 ||
    die "apt-get source kubernetes=$ver failed (deb-src entry missing? run tests/e2e/build-apiserver.sh --force)"
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-*' | head -n 1)
[ -n "$src" ] && [ -f "$src/Makefile" ] || die "no source tree in $work"
cd "$src"

# Same swap as build-apiserver.sh: client-go decodes with json-iterator,
# which panics with reflect2 1.0.1 under Go >= 1.18.
if [ ! -f vendor/github.com/modern-go/reflect2/go_above_118.go ]; then
	say "replacing vendor/github.com/modern-go/reflect2 with Debian's $(dpkg-query -W -f '${Version}' golang-github-modern-go-reflect2-dev)"
	rm -rf vendor/github.com/modern-go/reflect2
	cp -r "$R2" vendor/github.com/modern-go/reflect2
fi

# Cap kube-proxy's RLIMIT_NOFILE request at the hard limit (see above).
rl=pkg/proxy/userspace/rlimit.go
grep -q 'return unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Max: limit, Cur: limit})' "$rl" ||
    die "$rl is not the expected 1.20 code: not patching blindly"
say "patching $rl: cap RLIMIT_NOFILE at the hard limit"
python3 - "$rl" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
s = s.replace(
    "\treturn unix.Setrlimit(unix.RLIMIT_NOFILE, "
    "&unix.Rlimit{Max: limit, Cur: limit})",
    "\t// kuproxy bench: never ask for more than the hard limit.\n"
    "\tvar old unix.Rlimit\n"
    "\tif err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err == nil "
    "&& old.Max < limit {\n"
    "\t\tlimit = old.Max\n"
    "\t}\n"
    "\treturn unix.Setrlimit(unix.RLIMIT_NOFILE, "
    "&unix.Rlimit{Max: limit, Cur: limit})")
open(p, "w").write(s)
PY
grep -q 'old.Max < limit' "$rl" || die "patching $rl failed"

upver=${ver%%-*}
upver=${upver#*:}
upver=${upver##*really}	# 1.20.5+really1.20.2: the code is 1.20.2
say "building kube-proxy $upver with $(go version)"
t0=$(date +%s)
export GO111MODULE=off GOFLAGS="" GOPROXY=off GOCACHE=$work/gocache
export KUBE_GIT_VERSION=v$upver KUBE_GIT_TREE_STATE=clean
export KUBE_GIT_COMMIT=debian-$ver
timeout 3000 make WHAT=cmd/kube-proxy >"$work/build.log" 2>&1 || {
	tail -n 40 "$work/build.log" >&2
	die "make WHAT=cmd/kube-proxy failed (log: $work/build.log)"
}
bin=$(find "$src/_output" -type f -name kube-proxy -perm -u+x | head -n 1)
[ -n "$bin" ] || die "build produced no kube-proxy"
mkdir -p "$out"
install -m 755 "$bin" "$out/kube-proxy"
echo "$RECIPE" >"$out/RECIPE.kube-proxy"
cache_ok "$out" || die "$out/kube-proxy does not run or is not v1.20"
say "built in $(($(date +%s) - t0)) s: $("$out/kube-proxy" --version)"
cd /
[ -n "${KP_E2E_KEEP_SRC:-}" ] || rm -rf "$work"
echo "$out"
