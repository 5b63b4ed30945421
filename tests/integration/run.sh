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

. "$HERE/../runner.sh"
for t in "${tests[@]}"; do
	kp_run_one "$t"
done
kp_run_summary
