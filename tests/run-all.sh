#!/usr/bin/env bash
# The README's test command: build from scratch with -Werror, run the
# CUnit unit tests, the same under ASan/UBSan, then the root-only
# integration suite (real namespaces, iptables, backends).  Exits non-zero
# if anything failed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)

echo "== build (-Werror) and unit tests"
./autogen.sh >/dev/null 2>&1
./configure --enable-werror --quiet
make -s clean >/dev/null 2>&1 || true
make -s -j"$jobs"
if ! make -s -j"$jobs" check; then
	cat tests/*.log 2>/dev/null | tail -100
	exit 1
fi

echo "== unit tests under ASan/UBSan"
asan="$top/build-asan"
rm -rf "$asan"
mkdir -p "$asan"
# A VPATH build needs a clean source tree.
make -s distclean >/dev/null 2>&1 || true
(cd "$asan" && "$top/configure" --enable-werror --enable-asan --quiet &&
	make -s -j"$jobs" &&
	ASAN_OPTIONS=detect_leaks=1 make -s -j"$jobs" check) || {
	cat "$asan"/tests/*.log 2>/dev/null | tail -100
	exit 1
}

echo "== integration tests (root, network namespaces)"
./configure --enable-werror --quiet
make -s -j"$jobs"
make -s check-integration

echo "== e2e tests (root, real kube-apiserver 1.20 + etcd)"
KUPROXY="$top/kuproxy" tests/e2e/run.sh
