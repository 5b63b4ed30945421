#!/usr/bin/env bash
# The README's test command: build from scratch with -Werror, run the
# CUnit unit tests, the same under ASan/UBSan, then the root-only
# integration suite (real namespaces, iptables, backends), then the e2e
# suite against a real kube-apiserver, with the real kube-proxy 1.20
# built for the tests that compare with it, then the node test (kuproxy's
# image as the kube-proxy DaemonSet on a real kubelet + containerd).
# Exits non-zero if anything failed.
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

echo "== fuzz smoke (libFuzzer)"
# Every parser's libFuzzer target (tests/fuzz/), built by clang with
# ASan+UBSan in the VPATH build above: its seed corpus, then on to 20,000
# executions; any crash, leak or timeout fails.
make -s -C "$asan" fuzz >/dev/null
bash tests/fuzz/smoke.sh "$asan/tests/fuzz/bin"

echo "== worker loops under ThreadSanitizer"
# The relay layer's threads (test_relay: 2 worker loops with real
# sockets, a balancer they share) and the relays and balancer alone,
# built with -fsanitize=thread; any data race fails.
tsan="$top/build-tsan"
rm -rf "$tsan"
mkdir -p "$tsan"
(cd "$tsan" && "$top/configure" --enable-werror --enable-tsan --quiet &&
	make -s -j"$jobs" tests/test_relay tests/test_lb tests/test_proxy_tcp \
	    tests/test_proxy_udp &&
	for t in test_relay test_lb test_proxy_tcp test_proxy_udp; do
		TSAN_OPTIONS="halt_on_error=1 exitcode=66" ./tests/$t \
		    >"tests/$t.log" 2>&1 || { tail -80 "tests/$t.log"; exit 1; }
		echo "PASS: $t (TSan)"
	done)
# The whole daemon with 2 workers under TSan, through test_workers (its
# listeners, balancing, hand-offs 2 -> 3 -> 1 workers and /metrics read
# while the workers count): any race report fails.
make -s -C "$tsan" -j"$jobs" kuproxy
rm -rf "$tsan/races" && mkdir -p "$tsan/races"
TSAN_OPTIONS="log_path=$tsan/races/race" KP_MINCAPS=0 \
    KUPROXY="$tsan/kuproxy" bash tests/integration/run.sh test_workers
if ls "$tsan/races"/race* >/dev/null 2>&1; then
	cat "$tsan/races"/race* | head -100
	exit 1
fi

echo "== make distcheck"
# The tarball builds, passes make check out of tree, installs and uninstalls.
dc_log=$(mktemp)
./configure --quiet
make -s -j"$jobs" distcheck >"$dc_log" 2>&1 ||
	{ tail -60 "$dc_log"; rm -f "$dc_log"; exit 1; }
grep -A3 'archives ready' "$dc_log" || true
rm -f "$dc_log"

echo "== Kubernetes 1.20 binaries (one build of Debian's source, cached)"
# kube-apiserver, kube-proxy, kubelet, kube-controller-manager,
# kube-scheduler and kubectl come from one make (tests/e2e/build-apiserver.sh);
# about 12-20 min on a fresh 2-core machine, then cached.
# test_kubeadm_config hands kube-proxy kuproxy's --write-config-to output, and
# tests/e2e/test_migrate.sh runs it in iptables mode; both skip, saying
# so, when it could not be built.
kp_log=$(mktemp)
if timeout -k 10 2700 bash bench/build-kube-proxy.sh >"$kp_log.out" \
    2>"$kp_log"; then
	KUBE_PROXY=$(tail -n 1 "$kp_log.out")/kube-proxy
	KP_KUBE_PROXY=$KUBE_PROXY
	export KUBE_PROXY KP_KUBE_PROXY
	echo "kube-proxy: $("$KUBE_PROXY" --version)"
else
	echo "SKIP: kube-proxy 1.20 could not be built; its tests skip:"
	tail -n 20 "$kp_log" | sed 's/^/    | /'
fi
rm -f "$kp_log" "$kp_log.out"

echo "== integration tests (root, network namespaces)"
./configure --enable-werror --quiet
make -s -j"$jobs"
make -s check-integration

echo "== e2e tests (root, real kube-apiserver 1.20 + etcd)"
KUPROXY="$top/kuproxy" tests/e2e/run.sh

echo "== conformance vs kube-proxy 1.20"
# tests/conformance/: one apiserver, kuproxy and the real kube-proxy 1.20
# userspace each in its own node namespace, the same objects and probes
# to both; each case asserts "same" or kuproxy's documented improvement
# (README, "Differences from kube-proxy 1.20, tested").  Skips, saying
# so, without the kube-proxy binary.
KUPROXY="$top/kuproxy" KUBE_PROXY="${KUBE_PROXY:-}" \
    timeout -k 30 900 tests/conformance/run.sh

echo "== node test (real kubelet + containerd)"
# kuproxy's image as the kube-proxy DaemonSet on a real single-node
# cluster in the test's own namespaces (tests/node/); 77 is a SKIP.
t0=$(date +%s)
rc=0
KUPROXY="$top/kuproxy" timeout -k 30 1800 tests/node/test_daemonset.sh || rc=$?
echo "node test: $(($(date +%s) - t0)) s (exit $rc)"
[ "$rc" -eq 0 ] || [ "$rc" -eq 77 ]
