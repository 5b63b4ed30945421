#!/usr/bin/env bash
# Rule sync benchmark (issue 3): time from a services-file change to the
# rules being applied, for 1k and 10k Services and for one changed Service
# out of 10k.  Runs kuproxy in a private network namespace (root); nothing
# touches the root namespace.  Prints one line per case.
#
# The time is measured from the rename of the new file to the end of the
# iptables-restore that applied it, read from kuproxy's own log lines
# "sync: N service ports (changed), ..." then "IPv4 rules applied in X ms".
# A large file's rules are streamed into iptables-restore while it is
# still parsed ("rules applied in X ms (streamed while parsing ...)"),
# and may be in before the sync that serves the new ports: the time is
# then the later of the two lines.
# An incremental update with both new and stale rules runs in two phases
# (new rules in, then stale ones deleted): "rules applied in" ends phase
# 1, when the new rules are in effect; the case line then also shows
# "stale rules removed in Y ms" (Y since the start of phase 1).
# KUPROXY_ARGS adds arguments, e.g. "--iptables-path
# /usr/sbin/iptables-legacy" to measure the legacy backend.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
KUPROXY=${KUPROXY:-$here/../kuproxy}
[ "$(id -u)" -eq 0 ] || { echo "rulesync: needs root" >&2; exit 1; }
ns=kpb-$$
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	# KEEPLOG=FILE keeps kuproxy's log.
	[ -n "${KEEPLOG:-}" ] && cp "$tmp/log" "$KEEPLOG"
	ip netns del "$ns" 2>/dev/null || true
	ip netns del "$ns-gw" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns"
ip netns add "$ns-gw"
ip -n "$ns" link set lo up
ip link add kpb0 netns "$ns" type veth peer name kpb1 netns "$ns-gw"
ip -n "$ns" addr add 198.18.5.1/24 dev kpb0
ip -n "$ns" link set kpb0 up
ip -n "$ns-gw" link set kpb1 up
ip -n "$ns" route add default via 198.18.5.2

now() { date +%s.%N; }
# Seconds since midnight of a log line's "HH:MM:SS.micro" field.
logsecs() { awk '{ split($2, t, ":"); printf "%.6f\n", t[1]*3600 + t[2]*60 + t[3] }'; }
daysecs() { date -d "@$1" +%H:%M:%S.%N | awk '{ split($1, t, ":"); printf "%.6f\n", t[1]*3600 + t[2]*60 + t[3] }'; }

# wait_sync N: wait for the next changed sync with N ports; print its secs.
# The times come from the log's timestamps, so polling late costs no
# accuracy; polling often would: each poll greps a log of 10k+ lines and
# forks, taking CPU from kuproxy and its iptables-restore on this 2-vCPU
# machine.  So: every 0.25 s.
wait_sync() {
	local n=$1 start=$2 i line
	for i in $(seq 1 240); do
		line=$(grep "sync: $n service ports (changed)" "$tmp/log" | tail -1 || true)
		if [ -n "$line" ]; then
			t=$(echo "$line" | logsecs)
			if awk -v a="$t" -v b="$start" 'BEGIN { exit !(a >= b) }'; then
				# The restore runs in the background: wait for it.
				applied=$(grep "rules applied in" "$tmp/log" | tail -1 || true)
				ta=$(echo "$applied" | logsecs)
				# Rules streamed while the file was parsed may
				# be in before the sync that serves them.
				from=$t
				case $applied in
				*"streamed while parsing"*) from=$start ;;
				esac
				if [ -n "$applied" ] && awk -v a="$ta" -v b="$from" 'BEGIN { exit !(a >= b) }'; then
					echo "$applied | $line"
					return 0
				fi
			fi
		fi
		sleep 0.25
	done
	echo "timeout waiting for sync of $n ports" >&2
	return 1
}

# wait_stale T: wait for the "stale rules removed in" line at or after
# log time T (phase 2); print it.
wait_stale() {
	local t=$1 i line ts
	for i in $(seq 1 240); do
		line=$(grep "stale rules removed in\|stale rules not removed" "$tmp/log" | tail -1 || true)
		if [ -n "$line" ]; then
			ts=$(echo "$line" | logsecs)
			if awk -v a="$ts" -v b="$t" 'BEGIN { exit !(a >= b) }'; then
				echo "$line"
				return 0
			fi
		fi
		sleep 0.25
	done
	echo "timeout waiting for the stale rules' removal" >&2
	return 1
}

run_case() {
	local label=$1 n=$2 file=$3 t0 s0 line t1 stale=
	sleep 1.5			# past --iptables-min-sync-period
	t0=$(now)
	s0=$(daysecs "$t0")
	mv "$file" "$tmp/services.yaml"
	line=$(wait_sync "$n" "$s0")
	# Done when the rules are in and the sync serves the ports.
	t1=$(echo "${line%% | *}" | logsecs)
	ts=$(echo "${line#* | }" | logsecs)
	t1=$(awk -v a="$t1" -v b="$ts" 'BEGIN { printf "%.6f\n", (a > b ? a : b) }')
	case ${line%% | *} in
	*"; removing "*)
		stale=$(wait_stale "$t1" | sed 's/.*\] IPv4 //')
		stale=", then $stale" ;;
	esac
	parse=$(grep "services file .*parsed in" "$tmp/log" | tail -1 |
	    sed 's/.*parsed in //')
	printf '%-26s %6.0f ms total: parse %s, %s, restore %s%s\n' "$label" \
	    "$(awk -v a="$t1" -v b="$s0" 'BEGIN { print (a - b) * 1000 }')" \
	    "$parse" "$(echo "${line#* | }" | sed 's/.*(changed), //')" \
	    "$(echo "${line%% | *}" | sed 's/.*applied in //')" "$stale"
}

python3 "$here/gen-services.py" 0 "$tmp/services.yaml"
ip netns exec "$ns" "$KUPROXY" --services-file "$tmp/services.yaml" \
    --state-dir "$tmp/state" --metrics-bind-address 127.0.0.1:10249 \
    --healthz-bind-address "" -v 2 ${KUPROXY_ARGS:-} 2>"$tmp/log" &
pid=$!
sleep 1
# Each size from none, so that every Service is new.
python3 "$here/gen-services.py" 1000 "$tmp/new.yaml"
run_case "full sync, 1000 services" 1000 "$tmp/new.yaml"
python3 "$here/gen-services.py" 0 "$tmp/new.yaml"
run_case "remove all 1000" 0 "$tmp/new.yaml"
python3 "$here/gen-services.py" 10000 "$tmp/new.yaml"
run_case "full sync, 10000 services" 10000 "$tmp/new.yaml"
python3 "$here/gen-services.py" 10000 "$tmp/new.yaml" --change 4242
run_case "1 changed of 10000" 10000 "$tmp/new.yaml"
python3 "$here/gen-services.py" 0 "$tmp/new.yaml"
run_case "remove all 10000" 0 "$tmp/new.yaml"
echo "rules in the namespace at the end: $(ip netns exec "$ns" iptables-save | grep -c 'bench/' || true)"
echo "kuproxy memory: peak $(awk '/^VmHWM/ { print $2 / 1024 }' "/proc/$pid/status") MB," \
    "now $(awk '/^VmRSS/ { print $2 / 1024 }' "/proc/$pid/status") MB"

# Baseline in the same run: kube-proxy 1.20's pattern, one iptables exec
# per rule with a check first (-C, then -A), for 1000 Services (2000
# rules), in a fresh namespace of its own.
if [ "${BASELINE:-1}" = 1 ]; then
	ip netns add "$ns-kp"
	base_cleanup() { ip netns del "$ns-kp" 2>/dev/null || true; }
	trap 'base_cleanup; cleanup' EXIT
	ip netns exec "$ns-kp" iptables -w -t nat -N KUBE-PORTALS-CONTAINER
	ip netns exec "$ns-kp" iptables -w -t nat -N KUBE-PORTALS-HOST
	t0=$(now)
	# One shell inside the namespace, so only iptables' own cost counts.
	ip netns exec "$ns-kp" bash -c '
	for i in $(seq 0 999); do
		ip="198.19.$((i / 250)).$((i % 250 + 1))"
		for chain in KUBE-PORTALS-CONTAINER KUBE-PORTALS-HOST; do
			if [ $chain = KUBE-PORTALS-CONTAINER ]; then
				tgt=(-j REDIRECT --to-ports $((40000 + i)))
			else
				tgt=(-j DNAT --to-destination 198.18.5.1:$((40000 + i)))
			fi
			spec=(-m comment --comment "bench/svc-$i:http" -p tcp -m tcp --dport 80 -d "$ip/32" "${tgt[@]}")
			iptables -w -t nat -C $chain "${spec[@]}" 2>/dev/null ||
			    iptables -w -t nat -A $chain "${spec[@]}"
		done
	done'
	t1=$(now)
	printf '%-26s %6.0f ms (kube-proxy 1.20 pattern: -C then -A per rule, 2000 rules)\n' \
	    "per-rule execs, 1000 svcs" "$(awk -v a="$t1" -v b="$t0" 'BEGIN { print (a - b) * 1000 }')"
fi
