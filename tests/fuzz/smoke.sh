#!/usr/bin/env bash
# CI smoke of the libFuzzer targets (build them first: make fuzz):
#
#	smoke.sh BINDIR [RUNS]
#
# Each target in BINDIR runs once over its seed corpus (tests/fuzz/corpus/
# <target>/, regression inputs included), then on for RUNS executions in
# all (default 20000), with its dictionary, bounded in time
# (FUZZ_SMOKE_TIME seconds per target, default 60), per input (-timeout
# 10 s) and in memory (-rss_limit_mb 2048).  Any crash, sanitizer report,
# leak or timeout fails the smoke, and so does a target that did not
# reach RUNS executions in its time.  Prints the executions per target.
# New inputs go to a scratch copy of the corpus, never into the tree.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bindir=${1:?usage: smoke.sh BINDIR [RUNS]}
runs=${2:-20000}
maxt=${FUZZ_SMOKE_TIME:-60}

shopt -s nullglob
bins=("$bindir"/fuzz_*)
if [ ${#bins[@]} -eq 0 ]; then
	echo "smoke.sh: no fuzz_* in $bindir (make fuzz)" >&2
	exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/kpfz$$-smoke.XXXXXX")
trap 'rm -rf "$work"' EXIT

failed=0
total_t0=$(date +%s)
for bin in "${bins[@]}"; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	t=${name#fuzz_}
	seeds="$here/corpus/$t"
	corpus="$work/$t"
	mkdir -p "$corpus"
	[ -d "$seeds" ] && cp "$seeds"/* "$corpus"/ 2>/dev/null
	nseeds=$(ls "$corpus" | wc -l)
	dict=()
	[ -f "$here/dict/$t.dict" ] && dict=(-dict="$here/dict/$t.dict")
	log="$work/$t.log"
	rc=0
	timeout -k 10 $((maxt + 120)) "$bin" -runs="$runs" \
	    -max_total_time="$maxt" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$work/$t-" \
	    "${dict[@]}" "$corpus" >"$log" 2>&1 || rc=$?
	done_line=$(grep -E '^Done [0-9]+ runs' "$log" | tail -n 1)
	n=$(printf '%s\n' "$done_line" | awk '{ print $2 }')
	secs=$(printf '%s\n' "$done_line" | awk '{ print $5 }')
	n=${n:-0}
	if [ "$rc" -ne 0 ] || [ "$n" -lt "$runs" ]; then
		failed=$((failed + 1))
		echo "FAIL $name: exit $rc, $n executions (want $runs)"
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written|^==' \
		    "$log" | head -n 20 | sed 's/^/    | /'
		for a in "$work/$t"-*; do
			echo "    | input $(basename "$a"), $(wc -c <"$a") bytes:"
			head -c 2000 "$a" | od -c | head -n 20 | sed 's/^/    | /'
		done
		tail -n 40 "$log" | sed 's/^/    | /'
	else
		echo "ok   $name: $n executions in ${secs:-?} s" \
		    "($nseeds seeds, corpus now $(ls "$corpus" | wc -l))"
	fi
done
echo "fuzz smoke: ${#bins[@]} targets, $failed failed," \
    "$(($(date +%s) - total_t0)) s"
[ "$failed" -eq 0 ]
