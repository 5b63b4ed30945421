# runner.sh: the shared test loop of tests/integration/run.sh and
# tests/e2e/run.sh.  Source it, set KP_RESULTS (a log directory) and
# KP_TEST_TIMEOUT (seconds), call kp_run_one for each test script, then
# kp_run_summary, which prints "N passed, N failed, N skipped" and
# returns non-zero if anything failed.  A test exits 0 (pass), 77 (skip,
# its first "SKIP" line says why) or anything else (fail: its log is
# shown).

KP_PASS=0
KP_FAIL=0
KP_SKIP=0
KP_FAILED=
KP_RUN_START=$(date +%s)

# kp_run_one TEST.sh: run one test with a timeout and record the result.
# A test that needs longer than $KP_TEST_TIMEOUT says so in a line
# "# kp-timeout: SECONDS" (the longer of the two applies).
kp_run_one() {
	local t=$1 name log t0 rc secs limit

	name=$(basename "$t" .sh)
	log=$KP_RESULTS/$name.log
	t0=$(date +%s)
	if [ ! -f "$t" ]; then
		echo "no such test: $t" >"$log"
		rc=1
	else
		limit=$(sed -n 's/^# kp-timeout: \([0-9][0-9]*\)$/\1/p' "$t" |
		    head -n 1)
		[ -n "$limit" ] && [ "$limit" -gt "$KP_TEST_TIMEOUT" ] ||
		    limit=$KP_TEST_TIMEOUT
		timeout -k 10 "$limit" bash "$t" >"$log" 2>&1
		rc=$?
	fi
	secs=$(($(date +%s) - t0))
	case $rc in
	0)
		KP_PASS=$((KP_PASS + 1))
		printf 'PASS  %-24s %4ds\n' "$name" "$secs"
		;;
	77)
		KP_SKIP=$((KP_SKIP + 1))
		printf 'SKIP  %-24s %4ds  %s\n' "$name" "$secs" \
		    "$(grep -m1 '^SKIP' "$log")"
		;;
	*)
		KP_FAIL=$((KP_FAIL + 1))
		KP_FAILED="$KP_FAILED $name"
		[ "$rc" -eq 124 ] &&
		    echo "(timed out after $limit s)" >>"$log"
		printf 'FAIL  %-24s %4ds  (exit %d)\n' "$name" "$secs" "$rc"
		sed 's/^/    | /' "$log"
		;;
	esac
}

# kp_run_summary: the closing lines; non-zero status if a test failed.
kp_run_summary() {
	echo "kuproxy: $KUPROXY; logs in $KP_RESULTS;" \
	    "$(($(date +%s) - KP_RUN_START)) s"
	[ -n "$KP_FAILED" ] && echo "failed:$KP_FAILED"
	echo "$KP_PASS passed, $KP_FAIL failed, $KP_SKIP skipped"
	[ "$KP_FAIL" -eq 0 ]
}
