#!/usr/bin/env bash
# apiscale.sh: kuproxy's start at 2k and 10k Services listed from a real
# kube-apiserver 1.20 + etcd (issue 15), beside the services-file path at
# the same sizes, and one Service changed at the largest size.  Run by
# hand, as root (the apiserver, etcd and kuproxy run in the e2e suite's
# private namespaces: tests/e2e/lib.sh; nothing touches the root
# namespace):
#
#   sudo bench/apiscale.sh [-r ROUNDS] [-e EPS] [-b LABEL=BINARY]... [SIZES]
#
# SIZES default to "2000 10000"; each Service has one TCP port and EPS
# (10) endpoints in one EndpointSlice, created with tests/e2e/bulk.py
# (parallel keep-alive POSTs).  -b adds a kuproxy binary (default: the
# tree's ./kuproxy as "new"); with several, each round runs every binary
# back to back, so before/after figures share the machine's conditions.
#
# "All rules in place" is kuproxy's own "ready: the first rules are
# applied" line: the proxier syncs only once the first full lists of
# Services and endpoints are in the model, and that line is printed when
# the iptables-restore of that sync has exited 0, so every listed Service
# has its portal rules and its endpoints in the balancer at that moment.
# The script checks it: iptables-save in the node namespace must then
# show 2 portal rules (KUBE-PORTALS-CONTAINER and -HOST) per Service.
# The time is from just before kuproxy is exec'd to that line's
# timestamp (the log's clock; polling late costs no accuracy).  One
# change: a PUT of one Service with another port, from just before the
# PUT is sent to the next "rules applied" line.  The file path: the same
# Services and endpoints in a --services-file, start to ready likewise.
# Memory: VmRSS, VmHWM and open fds of kuproxy once ready; the per-Service
# figure is (RSS at N - RSS with no Service) / N.  CPU: kuproxy's user +
# system time from start to ready (its children, iptables-restore, not
# counted), steadier than the wall time when other work shares the cores.
#
# Prints one line per run, then medians.  KP_KEEP=1 keeps the logs.
set -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
rounds=3
eps=10
bins=()
while getopts r:e:b: o; do
	case $o in
	r) rounds=$OPTARG ;;
	e) eps=$OPTARG ;;
	b) bins+=("$OPTARG") ;;
	*) echo "usage: $0 [-r ROUNDS] [-e EPS] [-b LABEL=BINARY]... [SIZES]" >&2
	   exit 2 ;;
	esac
done
shift $((OPTIND - 1))
sizes=${*:-2000 10000}
[ ${#bins[@]} -gt 0 ] || bins=("new=${KUPROXY:-$top/kuproxy}")
KUPROXY=${bins[0]#*=}
export KUPROXY
. "$top/tests/e2e/lib.sh"
ke_init apiscale
ke_kubeconfig "$KP_TMP/kubeconfig" token
results=$KP_TMP/results
: >"$results"

# Seconds since midnight of a klog line's "HH:MM:SS.micro" field.
logsecs() { awk '{ split($2, t, ":"); printf "%.6f\n", t[1]*3600 + t[2]*60 + t[3] }'; }
# Seconds since midnight of an epoch time.
daysecs() { date -d "@$1" +%H:%M:%S.%N | awk '{ split($1, t, ":"); printf "%.6f\n", t[1]*3600 + t[2]*60 + t[3] }'; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (a - b) * 1000 }'; }

bulk() {
	KP_BULK_TOKEN=$KE_ADMIN_TOKEN kp_node "$KP_PY" \
	    "$top/tests/e2e/bulk.py" --server "$KE_API" --ca "$KE_PKI/ca.crt" \
	    --eps "$eps" "$@"
}

# The first line of the log matching PATTERN at or after log time T.
line_after() {
	local pat=$1 t=$2

	grep -- "$pat" "$KP_LOG" | while IFS= read -r l; do
		if awk -v a="$(echo "$l" | logsecs)" -v b="$t" \
		    'BEGIN { exit !(a >= b) }'; then
			echo "$l"
			break
		fi
	done
}

# wait_line PATTERN T SECONDS: wait for line_after; print it.
wait_line() {
	local end=$(($(date +%s) + $3)) l

	while :; do
		l=$(line_after "$1" "$2")
		[ -n "$l" ] && { echo "$l"; return 0; }
		kp_alive || { kp_log "kuproxy exited (log $KP_LOG)"; return 1; }
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.5
	done
}

# start BINARY ARGS...: kuproxy in the node namespace, cold (its rules
# and state gone first); sets KP_PID, T0 (log clock).
start() {
	local bin=$1

	shift
	ip netns exec "$KP_NODE" "$bin" --cleanup >/dev/null 2>&1
	rm -rf "$KP_TMP/state"
	mkdir -p "$KP_TMP/state"
	KP_LOG=$KP_TMP/kuproxy-$((++nstart)).log
	T0=$(daysecs "$(date +%s.%N)")
	ip netns exec "$KP_NODE" "$bin" --bind-address 0.0.0.0 \
	    --metrics-bind-address "$KP_METRICS" --healthz-bind-address "" \
	    --hostname-override "$KE_NODE_NAME" --state-dir "$KP_TMP/state" \
	    -v 2 "$@" >>"$KP_LOG" 2>&1 &
	KP_PID=$!
	KP_PIDS="$KP_PIDS $KP_PID"
}

stop() {
	kill -TERM "$KP_PID" 2>/dev/null
	ke_wait 20 ke_gone "$KP_PID" || kill -KILL "$KP_PID" 2>/dev/null
	wait "$KP_PID" 2>/dev/null
	KP_PID=
}

# mem: "rss MB hwm MB fds N cpu MS" of kuproxy (cpu: user + system
# time so far, steadier than wall time on a loaded machine).
mem() {
	awk '/^VmRSS/ { r = $2 } /^VmHWM/ { h = $2 }
	    END { printf "rss %.1f MB hwm %.1f MB", r / 1024, h / 1024 }' \
	    "/proc/$KP_PID/status"
	printf ' fds %s' "$(find "/proc/$KP_PID/fd" -mindepth 1 -maxdepth 1 | wc -l)"
	printf ' cpu %s ms' "$(awk -v hz="$(getconf CLK_TCK)" \
	    '{ print ($14 + $15) * 1000 / hz }' "/proc/$KP_PID/stat")"
}

# run_start MODE LABEL BIN N: one cold start; appends to $results.
run_start() {
	local mode=$1 label=$2 bin=$3 n=$4 ready t rules want extra= l

	if [ "$mode" = api ]; then
		start "$bin" --kubeconfig "$KP_TMP/kubeconfig"
		want=$(((n + 1) * 2))	# and the "kubernetes" Service
	else
		start "$bin" --services-file "$KP_TMP/services-$n.yaml"
		want=$((n * 2))
	fi
	ready=$(wait_line "ready: the first rules" "$T0" 600) ||
	    kp_die "$mode $label $n: not ready within 600 s"
	t=$(ms "$(echo "$ready" | logsecs)" "$T0")
	m=$(mem)
	rules=$(kp_node iptables-save -t nat | grep -c -- '-A KUBE-PORTALS-' || true)
	[ "$rules" -eq "$want" ] ||
	    kp_die "$mode $label $n: $rules portal rules once ready, want $want"
	for l in "services: listed" "endpointslices: listed" \
	    "endpoints: listed" "services file .*parsed"; do
		l=$(grep -m1 -- "$l" "$KP_LOG") || continue
		extra="$extra, ${l#*] }: +$(ms "$(echo "$l" | logsecs)" "$T0") ms"
	done
	l=$(grep -m1 "sync: .* service ports (changed)" "$KP_LOG")
	extra="$extra, ${l#*] }"
	l=$(grep -m1 "rules applied in" "$KP_LOG")
	extra="$extra, ${l#*] }"
	if [ "$mode" = api ] && [ "$n" -eq "$last" ] && [ -z "$changed" ]; then
		run_change "$label" "$n"
	fi
	stop
	printf '%-4s %-8s %6d  ready %6d ms  %s  rules %d%s\n' "$mode" "$label" \
	    "$n" "$t" "$m" "$rules" "$extra" | tee -a "$results"
}

# run_change LABEL N: with kuproxy ready on N Services, 3 changes of one
# Service's port, each timed from the PUT to the rules applied.
run_change() {
	local label=$1 n=$2 i t0 s0 l port idx=$(($2 / 2 + 42))

	sleep 2			# past --iptables-min-sync-period
	for i in 1 2 3; do
		# Whatever the port is (another binary changed it): the other.
		t0=$(bulk port "$idx" 0) || kp_die "PUT svc-$idx"
		port=${t0#* }
		t0=${t0% *}
		s0=$(daysecs "$t0")
		l=$(wait_line "IPv4 rules applied in" "$s0" 60) ||
		    kp_die "change $i: no rules applied within 60 s"
		kp_node iptables-save -t nat | grep -F -- "svc-$idx:p" |
		    grep -qE -- "--dport $port( |$)" ||
		    kp_log "change $i: rule with port $port not seen by iptables-save"
		printf 'chg  %-8s %6d  one Service changed: %6d ms  %s\n' \
		    "$label" "$n" "$(ms "$(echo "$l" | logsecs)" "$s0")" \
		    "${l#*] }" | tee -a "$results"
		sleep 2
	done
}

# The baseline: kuproxy with no Service but "kubernetes".
nstart=0
last=${sizes##* }
changed=
for b in "${bins[@]}"; do
	start "${b#*=}" --kubeconfig "$KP_TMP/kubeconfig"
	wait_line "ready: the first rules" "$T0" 60 >/dev/null ||
	    kp_die "no Service: not ready"
	printf 'base %-8s %6d  %s\n' "${b%%=*}" 0 "$(mem)" | tee -a "$results"
	stop
done
have=0
for n in $sizes; do
	if [ "$n" -gt "$have" ]; then
		bulk create "$have" $((n - have)) || kp_die "creating objects"
		have=$n
	fi
	python3 "$here/gen-services.py" "$n" "$KP_TMP/services-$n.yaml" \
	    --eps "$eps"
	for r in $(seq 1 "$rounds"); do
		for b in "${bins[@]}"; do
			run_start api "${b%%=*}" "${b#*=}" "$n"
			run_start file "${b%%=*}" "${b#*=}" "$n"
		done
		[ "$n" -eq "$last" ] && changed=1
	done
done

# median FIELD: the median of the numbers in field FIELD of stdin.
median() {
	awk -v f="$1" '{ print $f }' | sort -n |
	    awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

echo "== medians of $rounds rounds"
for b in "${bins[@]}"; do
	label=${b%%=*}
	grep "^base $label " "$results"
	for n in $sizes; do
		for mode in api file; do
			sel=$(awk -v m="$mode" -v l="$label" -v n="$n" \
			    '$1 == m && $2 == l && $3 == n' "$results")
			[ -n "$sel" ] || continue
			printf '%-4s %-8s %6d  ready %6d ms  rss %s MB  fds %s  cpu %s ms\n' \
			    "$mode" "$label" "$n" "$(echo "$sel" | median 5)" \
			    "$(echo "$sel" | median 8)" "$(echo "$sel" | median 14)" \
			    "$(echo "$sel" | median 16)"
		done
	done
	sel=$(awk -v l="$label" '$1 == "chg" && $2 == l' "$results")
	[ -n "$sel" ] && printf 'chg  %-8s %6d  one Service changed: %d ms\n' \
	    "$label" "$last" "$(echo "$sel" | median 7)"
done
[ -n "${KP_KEEP:-}" ] && cp "$results" "/tmp/kpapi-$$-results.txt" &&
    echo "results kept in /tmp/kpapi-$$-results.txt"
exit 0
