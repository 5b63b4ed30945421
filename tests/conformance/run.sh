#!/bin/bash
# run.sh: kuproxy side by side with the real kube-proxy 1.20 userspace
# (root only; see lib.sh for the world, cases.sh for the cases).
#
#   KUPROXY=$PWD/kuproxy KUBE_PROXY=/path/kube-proxy tests/conformance/run.sh [case...]
#
# One etcd + kube-apiserver and both proxies are started once and shared
# by every case (each case makes and deletes its own Services).  Prints
# "ok"/"FAIL"/"SKIP" per case (a failing case's checks below it), then
# "N passed, N failed, N skipped"; exits 1 when a case failed, 0
# otherwise.  Without root, or without the kube-proxy binary (the cache
# of bench/build-kube-proxy.sh, or $KUBE_PROXY), kube-apiserver or etcd,
# every case is skipped, saying why.  KP_KEEP=1 keeps the temp dir,
# CF_VERBOSE=1 shows every check of every case.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"

HERE=$(cd "$(dirname "$0")" && pwd)
: "${KUPROXY:=$(cd "$HERE/../.." && pwd)/kuproxy}"
export KUPROXY
. "$HERE/lib.sh"
. "$HERE/cases.sh"

if [ $# -gt 0 ]; then
	CASES="$*"
fi
for c in $CASES; do
	declare -F "case_$c" >/dev/null || { echo "no such case: $c"; exit 2; }
done
ncases=$(echo $CASES | wc -w)

t0=$(date +%s)
skip_all() {
	local c

	echo "SKIP: conformance ($1)"
	for c in $CASES; do
		printf 'SKIP  %s\n' "$c"
	done
	echo "0 passed, 0 failed, $ncases skipped ($1)"
	exit 0
}
if [ "$(id -u)" -ne 0 ]; then
	skip_all "needs root"
fi
cf_find || skip_all "$CF_SKIP"

cf_up
echo "conformance: world up in $(($(date +%s) - t0)) s; kube-proxy: $("$CF_KUBE_PROXY" --version 2>&1), kuproxy: $("$KUPROXY" --version 2>&1 | head -n 1)"

pass=0
fail=0
skip=0
failed=
for c in $CASES; do
	log=$KP_TMP/case-$c.log
	c0=$(date +%s)
	(
		trap - EXIT
		CF_CASE_FAILS=0
		"case_$c"
		rc=$?
		[ "$rc" -eq 77 ] && exit 77
		[ "$CF_CASE_FAILS" -eq 0 ] && [ "$KP_FAILS" -eq 0 ] && exit 0
		exit 1
	) >"$log" 2>&1 &
	# In the background: a SIGTERM (run-all's timeout) runs the cleanup
	# at once, which stops the case too.
	cpid=$!
	KP_PIDS="$KP_PIDS $cpid"
	wait "$cpid"
	rc=$?
	KP_PIDS=$(echo " $KP_PIDS " | sed "s/ $cpid / /")
	secs=$(($(date +%s) - c0))
	case $rc in
	0)
		pass=$((pass + 1))
		printf 'ok    %-22s %3ds\n' "$c" "$secs"
		;;
	77)
		skip=$((skip + 1))
		printf 'SKIP  %-22s %3ds  %s\n' "$c" "$secs" "$(grep -m1 SKIP "$log")"
		;;
	*)
		fail=$((fail + 1))
		failed="$failed $c"
		printf 'FAIL  %-22s %3ds\n' "$c" "$secs"
		sed 's/^/    | /' "$log"
		;;
	esac
	[ -n "${CF_VERBOSE:-}" ] && sed 's/^/    . /' "$log"
	# A proxy that died fails the case that killed it; restart it so the
	# next cases still compare.
	for s in $CF_SIDES; do
		if ! cf_alive "$s"; then
			echo "    | $s exited during $c (log: $KP_TMP/$s.log); restarted"
			tail -n 20 "$KP_TMP/$s.log" | sed 's/^/    | /'
			[ "$rc" -eq 0 ] && { pass=$((pass - 1)); fail=$((fail + 1)); failed="$failed $c"; }
			cf_start "$s"
			ke_wait 60 eval "[ \"\$(cf_nrules $s default/kubernetes:https)\" -ge 1 ]"
		fi
	done
done
# What the cases left at the apiserver (a failed case may leave its own).
left=$(for k in services endpoints endpointslices; do
	ke_api GET "$(cf_coll "$k")" >/dev/null &&
	    ke_json '" ".join(i["metadata"]["name"] for i in d["items"])'
done | tr '\n' ' ')
echo "conformance: objects left in default: ${left:-none}"
echo "conformance: $(($(date +%s) - t0)) s; logs in $KP_TMP${KP_KEEP:+ (kept)}"
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
