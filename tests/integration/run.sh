#!/bin/bash
# run.sh: run kuproxy's integration tests (root only) one after another.
#
#   KUPROXY=/path/to/kuproxy tests/integration/run.sh [test_name...]
#
# Each test_*.sh exits 0 (pass), 77 (skip) or anything else (fail).  The
# last line is "N passed, N failed, N skipped"; the exit status is 1 when
# any test failed.  A failed test's output is shown; all output is kept
# in $KP_RESULTS (default: a fresh /tmp directory).
# make runs this with $(SHELL), often dash: carry on in bash.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"

HERE=$(cd "$(dirname "$0")" && pwd)
: "${KUPROXY:=$(cd "$HERE/../.." && pwd)/kuproxy}"
export KUPROXY
: "${KP_TEST_TIMEOUT:=240}"
KP_RESULTS=${KP_RESULTS:-$(mktemp -d /tmp/kp-integration.XXXXXX)}
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

pass=0 fail=0 skip=0
failed=
start=$(date +%s)
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	log=$KP_RESULTS/$name.log
	t0=$(date +%s)
	if [ ! -f "$t" ]; then
		echo "no such test: $t" >"$log"
		rc=1
	else
		timeout -k 10 "$KP_TEST_TIMEOUT" bash "$t" >"$log" 2>&1
		rc=$?
	fi
	secs=$(($(date +%s) - t0))
	case $rc in
	0)
		pass=$((pass + 1))
		printf 'PASS  %-24s %4ds\n' "$name" "$secs"
		;;
	77)
		skip=$((skip + 1))
		printf 'SKIP  %-24s %4ds  %s\n' "$name" "$secs" \
		    "$(grep -m1 '^SKIP' "$log")"
		;;
	*)
		fail=$((fail + 1))
		failed="$failed $name"
		[ "$rc" -eq 124 ] && echo "(timed out after $KP_TEST_TIMEOUT s)" >>"$log"
		printf 'FAIL  %-24s %4ds  (exit %d)\n' "$name" "$secs" "$rc"
		sed 's/^/    | /' "$log"
		;;
	esac
done
echo "kuproxy: $KUPROXY; logs in $KP_RESULTS; $(($(date +%s) - start)) s"
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
