#!/bin/bash
# build-apiserver.sh: provide a real kube-apiserver 1.20 and etcd for the
# kuproxy e2e suite, and the rest of a node's Kubernetes binaries for
# the other suites (root only; Debian 12).
#
#   tests/e2e/build-apiserver.sh [--force]
#
# One `make` builds kube-apiserver, kube-proxy, kubelet,
# kube-controller-manager, kube-scheduler and kubectl from Debian's
# `kubernetes` source package (1.20.x, with its vendor/ tree) in GOPATH
# mode (about 15 min on 2 cores, 2.5 GB of disk while it runs); they are
# cached in $KP_E2E_CACHE/<source-version>/ (default
# /var/cache/kuproxy-testenv), so a later run only checks the cache.
# bench/build-kube-proxy.sh and tests/node/ use the same cache entry.
#
# Three source changes, none of which touches kube-apiserver:
#  - the vendored reflect2 1.0.1 is replaced by Debian's 1.0.2 (1.0.1
#    panics at run time when built with Go >= 1.18);
#  - kube-proxy's userspace proxier caps its RLIMIT_NOFILE request
#    (64000) at the hard limit, which cannot be raised on some machines
#    (20000 here, even for root) and would stop it from starting
#    (pkg/proxy/userspace/rlimit.go);
#  - kubelet only warns about kernel tunables it would otherwise write
#    (kernel.panic, kernel.panic_on_oops, vm.overcommit_memory, ...:
#    host-global sysctls a test must not change): setupNode uses
#    KernelTunableWarn instead of KernelTunableModify
#    (pkg/kubelet/cm/container_manager_linux.go).
# kubelet is linked statically (KUBE_STATIC_OVERRIDES=kubelet), like the
# others, so it runs in any mount namespace.  build/pause/linux/pause.c
# is kept next to them (tests/node/ builds its pause image from it).
#
# etcd comes from the etcd-server package; the package's own service is
# never left running (a temporary policy-rc.d forbids starting it, and a
# systemd unit, if any, is disabled).  The e2e tests run their own etcd inside a network namespace.
#
# Prints the cache directory on the last line of stdout.  Exit codes:
# 0 ready, 1 failure, 77 skip (not root, or no apt-get).
set -eu
set -o pipefail

: "${KP_E2E_CACHE:=/var/cache/kuproxy-testenv}"
SRCLIST=/etc/apt/sources.list.d/kuproxy-src.list
POLICY=/usr/sbin/policy-rc.d
force=0
[ "${1:-}" = "--force" ] && force=1

say() { printf 'build-apiserver: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: build-apiserver (needs root for apt-get)"
	exit 77
fi
command -v apt-get >/dev/null || { echo "SKIP: build-apiserver (no apt-get)"; exit 77; }

# Bump when the way the binaries are built changes: older cache entries
# are then rebuilt.  2: vendored reflect2 1.0.1 replaced by Debian's 1.0.2.
# 3: one make for all of BINS, kube-proxy's rlimit cap, kubelet static
# and without sysctl writes.
RECIPE=3
BINS="kube-apiserver kube-proxy kubelet kube-controller-manager kube-scheduler kubectl"

# A cache entry is usable when this recipe built it and each binary runs
# and says it is v1.20.
cache_ok() {
	local d=$1 v b

	[ "$(cat "$d/RECIPE" 2>/dev/null)" = "$RECIPE" ] || return 1
	[ -s "$d/pause.c" ] || return 1
	for b in $BINS; do
		[ -x "$d/$b" ] || return 1
		if [ "$b" = kubectl ]; then
			v=$(timeout 20 "$d/$b" version --client --short 2>/dev/null) ||
			    return 1
		else
			v=$(timeout 20 "$d/$b" --version 2>/dev/null) || return 1
		fi
		case $v in
		*v1.20.*) ;;
		*) return 1 ;;
		esac
	done
	return 0
}

# Tools the tests need at run time (cheap when already installed).
need_pkgs=""
command -v etcd >/dev/null || need_pkgs="$need_pkgs etcd-server"
command -v openssl >/dev/null || need_pkgs="$need_pkgs openssl"
command -v curl >/dev/null || need_pkgs="$need_pkgs curl"
command -v iptables-save >/dev/null || need_pkgs="$need_pkgs iptables"
command -v ip >/dev/null || need_pkgs="$need_pkgs iproute2"
command -v python3 >/dev/null || need_pkgs="$need_pkgs python3"

cached=
if [ "$force" -eq 0 ]; then
	for d in "$KP_E2E_CACHE"/*/; do
		d=${d%/}
		if cache_ok "$d"; then
			cached=$d
		fi
	done
fi

export DEBIAN_FRONTEND=noninteractive
updated=0
added_src=
apt_update() {
	[ "$updated" -eq 1 ] && return 0
	say "apt-get update"
	if ! timeout 600 apt-get -o DPkg::Lock::Timeout=600 update -qq; then
		# Never leave apt broken because of our deb-src entry.
		if [ -n "$added_src" ]; then
			rm -f "$SRCLIST"
			timeout 600 apt-get -o DPkg::Lock::Timeout=600 update -qq || true
		fi
		die "apt-get update failed"
	fi
	updated=1
}

# Install packages without letting any of them start a daemon.
apt_install() {
	local own_policy=0 rc=0

	if [ ! -e "$POLICY" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$POLICY"
		chmod 755 "$POLICY"
		own_policy=1
	fi
	say "apt-get install $*"
	timeout 1200 apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
	    --no-install-recommends "$@" \
	    >/dev/null || rc=$?
	[ "$own_policy" -eq 1 ] && rm -f "$POLICY"
	return "$rc"
}

if [ -n "$need_pkgs" ]; then
	apt_update
	# shellcheck disable=SC2086
	apt_install $need_pkgs || die "cannot install$need_pkgs"
fi
# Whatever started it, the packaged etcd service must not stay behind.
if [ "$(ps -p 1 -o comm= 2>/dev/null)" = systemd ] &&
    command -v systemctl >/dev/null; then
	if systemctl is-enabled etcd >/dev/null 2>&1 ||
	    systemctl is-active etcd >/dev/null 2>&1; then
		say "stopping and disabling the packaged etcd service"
		systemctl disable --now etcd >/dev/null 2>&1 || true
	fi
fi
command -v etcd >/dev/null || die "etcd not found after installing etcd-server"

if [ -n "$cached" ]; then
	say "using cached $cached ($BINS: $("$cached/kube-apiserver" --version))"
	echo "$cached"
	exit 0
fi

# deb-src for the mirror that is actually configured.
mirror=$(grep -rhoE '(URIs:|deb)[[:space:]]+https?://[^[:space:]]+/debian/?([[:space:]]|$)' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
    /etc/apt/sources.list.d/*.sources 2>/dev/null |
    awk '{print $2}' | grep -v -- '-security' | head -n 1) || true
mirror=${mirror%/}
: "${mirror:=http://deb.debian.org/debian}"
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
others=$(grep -rlsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list \
    /etc/apt/sources.list.d/ | grep -vx "$SRCLIST" || true)
if [ -z "$others" ]; then
	# apt insists on the same Signed-By for every entry of one mirror.
	keyring=$(awk -v m="$mirror" 'BEGIN { RS = ""; FS = "\n" }
	    { u = 0; k = ""
	      for (i = 1; i <= NF; i++) {
		if ($i ~ /^URIs:/ && index($i, m)) u = 1
		if ($i ~ /^Signed-By:/) { k = $i; sub(/^Signed-By:[ \t]*/, "", k) }
	      }
	      if (u && k != "" && k !~ /-----BEGIN/) { print k; exit } }' \
	    /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
	if [ -z "$keyring" ]; then
		keyring=$(grep -rhoE "^deb \[[^]]*signed-by=[^] ]+[^]]*\] $mirror/? " \
		    /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		    sed -E 's/.*signed-by=([^] ]+).*/\1/' | head -n 1) || true
	fi
	if [ -n "$keyring" ]; then
		line="deb-src [signed-by=$keyring] $mirror $codename main"
	else
		line="deb-src $mirror $codename main"
	fi
	if [ "$(cat "$SRCLIST" 2>/dev/null)" != "$line" ]; then
		say "adding $SRCLIST: $line"
		echo "$line" >"$SRCLIST"
		added_src=1
		updated=0
	fi
fi
apt_update
ver=$(apt-cache showsrc kubernetes 2>/dev/null | awk '/^Version:/ {print $2}' |
    sort -V | tail -n 1)
[ -n "$ver" ] || die "no source package 'kubernetes' (is $SRCLIST right?)"
case $ver in
1.20.*) ;;
*) die "Debian's kubernetes source is $ver, the suite wants 1.20.x" ;;
esac
out=$KP_E2E_CACHE/$ver
if [ "$force" -eq 0 ] && cache_ok "$out"; then
	echo "$out"
	exit 0
fi

R2=/usr/share/gocode/src/github.com/modern-go/reflect2
command -v go >/dev/null && command -v rsync >/dev/null &&
    command -v dpkg-source >/dev/null && [ -f "$R2/go_above_118.go" ] ||
    apt_install golang-go rsync dpkg-dev build-essential \
    golang-github-modern-go-reflect2-dev ||
    die "cannot install the Go toolchain"

work=$KP_E2E_CACHE/work
rm -rf "$work"
mkdir -p "$work"
cd "$work"
say "apt-get source kubernetes=$ver (in $work)"
timeout 900 apt-get source -qq "kubernetes=$ver" >/dev/null 2>&1 ||
    die "apt-get source kubernetes failed"
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-*' | head -n 1)
[ -n "$src" ] && [ -f "$src/Makefile" ] || die "no source tree in $work"
cd "$src"

# Kubernetes 1.20 vendors reflect2 1.0.1, which breaks at run time when
# built with Go >= 1.18 (bookworm has 1.19): kube-apiserver panics in
# json-iterator's map decoder (nil dereference in reflect2.Type2) on the
# first request that decodes a map.  1.0.2 is the same API made to work
# with Go 1.18 (Kubernetes itself moved to it in 1.23).
if grep -q '^# github.com/modern-go/reflect2 v1.0.1' vendor/modules.txt 2>/dev/null ||
    [ ! -f vendor/github.com/modern-go/reflect2/go_above_118.go ]; then
	[ -f "$R2/go_above_118.go" ] || die "no reflect2 >= 1.0.2 in $R2"
	say "replacing vendor/github.com/modern-go/reflect2 (1.0.1) with Debian's $(dpkg-query -W -f '${Version}' golang-github-modern-go-reflect2-dev)"
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
    "\t// kuproxy tests: never ask for more than the hard limit.\n"
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

# kubelet must not write host-global sysctls (see above).
cmf=pkg/kubelet/cm/container_manager_linux.go
[ "$(grep -c '^	b := KernelTunableModify$' "$cmf")" = 1 ] ||
    die "$cmf is not the expected 1.20 code: not patching blindly"
say "patching $cmf: kubelet warns about kernel tunables, never writes them"
sed -i 's/^	b := KernelTunableModify$/	b := KernelTunableWarn \/\/ kuproxy tests: no host sysctl writes/' "$cmf"
grep -q '^	b := KernelTunableWarn ' "$cmf" || die "patching $cmf failed"

upver=${ver%%-*}
upver=${upver#*:}
upver=${upver##*really}	# 1.20.5+really1.20.2: the code is 1.20.2
what=""
for b in $BINS; do
	what="$what cmd/$b"
done
what=${what# }
say "building $BINS $upver with $(go version)"
t0=$(date +%s)
# GOPATH mode with the vendored tree, as the 1.20 build scripts expect.
# The version stamp would come from git, which a source package lacks.
export GO111MODULE=off GOFLAGS="" GOPROXY=off GOCACHE=$work/gocache
export KUBE_GIT_VERSION=v$upver KUBE_GIT_TREE_STATE=clean
export KUBE_GIT_COMMIT=debian-$ver
timeout 3000 make KUBE_STATIC_OVERRIDES=kubelet WHAT="$what" \
    >"$work/build.log" 2>&1 || {
	tail -n 40 "$work/build.log" >&2
	die "make WHAT=\"$what\" failed (log: $work/build.log)"
}
mkdir -p "$out"
rm -f "$out/RECIPE"
for b in $BINS; do
	bin=$(find "$src/_output" -type f -name "$b" -perm -u+x | head -n 1)
	[ -n "$bin" ] || die "build produced no $b"
	install -m 755 "$bin" "$out/$b"
done
# The source of the pause image's binary, for tests/node/.
install -m 644 build/pause/linux/pause.c "$out/pause.c"
echo "$RECIPE" >"$out/RECIPE"
rm -f "$out/RECIPE.kube-proxy"	# recipe 2 built kube-proxy on its own
cache_ok "$out" || die "a binary in $out does not run or is not v1.20"
say "built in $(($(date +%s) - t0)) s: $("$out/kube-apiserver" --version)"
cd /
# The source tree and Go cache are about 2 GB; only the binaries are kept.
[ -n "${KP_E2E_KEEP_SRC:-}" ] || rm -rf "$work"
echo "$out"
