#!/bin/bash
# run.sh: kuproxy's end-to-end suite against a real kube-apiserver 1.20
# and etcd (root only).
#
#   KUPROXY=/path/to/kuproxy tests/e2e/run.sh [test_name...]
#
# First makes sure kube-apiserver and etcd are there (build-apiserver.sh:
# a cached binary, or a ~6 minute build from Debian's kubernetes source;
# KP_E2E_NO_BUILD=1 skips that step and uses $KP_APISERVER or the cache),
# then runs each test_*.sh, which exits 0 (pass), 77 (skip) or anything
# else (fail).  The last line is "N passed, N failed, N skipped"; the
# exit status is 1 when anything failed.  Without root everything is
# skipped.  Logs are kept in $KP_RESULTS (default: a fresh /tmp dir).
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"

HERE=$(cd "$(dirname "$0")" && pwd)
: "${KUPROXY:=$(cd "$HERE/../.." && pwd)/kuproxy}"
export KUPROXY
: "${KP_TEST_TIMEOUT:=300}"
: "${KP_BUILD_TIMEOUT:=3600}"
KP_RESULTS=${KP_RESULTS:-$(mktemp -d /tmp/kp-e2e.XXXXXX)}
mkdir -p "$KP_RESULTS"

if [ $# -gt 0 ]; then
	tests=()
	for t; do
		t=$(basename "$t" .sh)
		tests+=("$HERE/test_${t#test_}.sh")
	done
else
	tests=("$HERE"/test_*.sh)
fi

. "$HERE/../runner.sh"

# The environment: kube-apiserver binary and etcd.
if [ "$(id -u)" -ne 0 ]; then
	for t in "${tests[@]}"; do
		printf 'SKIP  %-22s    0s  SKIP: needs root\n' "$(basename "$t" .sh)"
	done
	echo "0 passed, 0 failed, ${#tests[@]} skipped"
	exit 0
fi
if [ -z "${KP_E2E_NO_BUILD:-}" ]; then
	t0=$(date +%s)
	log=$KP_RESULTS/build-apiserver.log
	timeout -k 10 "$KP_BUILD_TIMEOUT" bash "$HERE/build-apiserver.sh" \
	    >"$log.out" 2>"$log"
	rc=$?
	secs=$(($(date +%s) - t0))
	case $rc in
	0)
		KP_APISERVER=$(tail -n 1 "$log.out")/kube-apiserver
		export KP_APISERVER
		printf 'env   %-22s %4ds  %s\n' build-apiserver "$secs" \
		    "$("$KP_APISERVER" --version 2>/dev/null)"
		;;
	77)
		printf 'SKIP  %-22s %4ds  %s\n' build-apiserver "$secs" \
		    "$(grep -m1 '^SKIP' "$log.out")"
		;;
	*)
		printf 'FAIL  %-22s %4ds  (exit %d)\n' build-apiserver "$secs" "$rc"
		tail -n 40 "$log" | sed 's/^/    | /'
		echo "0 passed, 1 failed, ${#tests[@]} skipped"
		exit 1
		;;
	esac
fi

for t in "${tests[@]}"; do
	kp_run_one "$t"
done
kp_run_summary
