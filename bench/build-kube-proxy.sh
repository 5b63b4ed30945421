#!/bin/bash
# build-kube-proxy.sh: provide the real kube-proxy 1.20 (the baseline of
# bench/relay.sh and of the tests that compare with it), root only,
# Debian 12:
#
#   bench/build-kube-proxy.sh [--force]
#
# kube-proxy is built by tests/e2e/build-apiserver.sh, in the same
# `make` as kube-apiserver, kubelet and the others, from Debian's
# `kubernetes` source package, and cached in
# $KP_E2E_CACHE/<source-version>/kube-proxy (about 15 min once, then
# instant).  That script also installs the Go toolchain and etcd.  Prints
# that directory on the last line of stdout; --force rebuilds.
#
# One source change to kube-proxy: the userspace proxier sets
# RLIMIT_NOFILE to 64000 (soft and hard) and exits when that fails.
# Where the hard limit is lower and cannot be raised (this VM: 20000, even
# for root) it would never start, so setRLimit
# (pkg/proxy/userspace/rlimit.go) caps the value at the current hard
# limit.  Nothing else in kube-proxy is changed.
# Exit codes: 0 ready, 1 failure, 77 skip (not root, or no apt-get).
set -eu
set -o pipefail

here=$(cd "$(dirname "$0")" && pwd)

say() { printf 'build-kube-proxy: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: build-kube-proxy (needs root for apt-get)"
	exit 77
fi
command -v apt-get >/dev/null || { echo "SKIP: build-kube-proxy (no apt-get)"; exit 77; }

rc=0
res=$(timeout 3600 "$here/../tests/e2e/build-apiserver.sh" "$@") || rc=$?
case $rc in
0) ;;
77) echo "$res" | grep '^SKIP' | sed 's/build-apiserver/build-kube-proxy/'; exit 77 ;;
*) die "tests/e2e/build-apiserver.sh failed (exit $rc)" ;;
esac
out=$(echo "$res" | tail -n 1)
[ -d "$out" ] || die "build-apiserver.sh printed no cache directory"
v=$(timeout 20 "$out/kube-proxy" --version 2>/dev/null) ||
    die "$out/kube-proxy does not run"
case $v in
*v1.20.*) ;;
*) die "$out/kube-proxy is $v, not v1.20" ;;
esac
say "using $out/kube-proxy ($v)"
echo "$out"
