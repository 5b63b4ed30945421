#!/usr/bin/env bash
# Long fuzzing runs, one target at a time, at the lowest CPU priority:
#
#	long.sh BINDIR OUTDIR SECONDS [TARGET...]
#
# Each target (all of BINDIR's fuzz_* by default) runs for SECONDS from
# its seed corpus, with its dictionary, under nice -n 19.  OUTDIR keeps,
# per target, the grown corpus (OUTDIR/<target>/corpus, reused by the
# next run), the log and any crashing, leaking or slow input
# (OUTDIR/<target>/crash-*, leak-*, timeout-*, oom-*).  Prints the
# executions each target survived; exits 1 if any target failed.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
usage="usage: long.sh BINDIR OUTDIR SECONDS [TARGET...]"
bindir=${1:?$usage}
out=${2:?$usage}
secs=${3:?$usage}
shift 3
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for b in "$bindir"/fuzz_*; do
		[ -x "$b" ] && targets+=("$(basename "$b" | sed 's/^fuzz_//')")
	done
fi

failed=0
for t in "${targets[@]}"; do
	bin="$bindir/fuzz_$t"
	dir="$out/$t"
	mkdir -p "$dir/corpus"
	dict=()
	[ -f "$here/dict/$t.dict" ] && dict=(-dict="$here/dict/$t.dict")
	rc=0
	timeout -k 10 $((secs + 300)) nice -n 19 "$bin" \
	    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$dir/" "${dict[@]}" \
	    "$dir/corpus" "$here/corpus/$t" >"$dir/log" 2>&1 || rc=$?
	n=$(grep -E '^stat::number_of_executed_units:' "$dir/log" |
	    awk '{ print $2 }')
	cov=$(grep -E '^#[0-9]+.*cov:' "$dir/log" | tail -n 1 |
	    sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\).*/cov \1, ft \2/p')
	if [ "$rc" -ne 0 ]; then
		failed=1
		echo "FAIL fuzz_$t: exit $rc after ${n:-?} executions;" \
		    "inputs: $(ls "$dir" | grep -E '^(crash|leak|timeout|oom)-' |
		    tr '\n' ' ')"
		grep -E 'ERROR|SUMMARY|runtime error' "$dir/log" | head -n 5 |
		    sed 's/^/    | /'
	else
		echo "ok   fuzz_$t: ${n:-?} executions in $secs s ($cov," \
		    "corpus $(ls "$dir/corpus" | wc -l))"
	fi
done
exit "$failed"
