#!/usr/bin/env bash
# filestart.sh: kuproxy's cold start on a services file of N Services
# (EPS endpoints each), exec to "ready: the first rules are applied",
# for one or more binaries alternating round by round; no apiserver (the
# file half of bench/apiscale.sh, quicker to repeat).  Root; kuproxy runs
# in a private network namespace (nothing touches the root namespace).
#
#   sudo bench/filestart.sh [-r ROUNDS] [-n N] [-e EPS] LABEL=BINARY...
#
# Prints one line per start: ready ms, kuproxy's CPU (user + system) ms,
# RSS, the parse and the first sync's figures.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rounds=3
n=10000
eps=10
while getopts r:n:e: o; do
	case $o in
	r) rounds=$OPTARG ;;
	n) n=$OPTARG ;;
	e) eps=$OPTARG ;;
	*) echo "usage: $0 [-r ROUNDS] [-n N] [-e EPS] LABEL=BINARY..." >&2
	   exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- "new=$here/../kuproxy"
[ "$(id -u)" -eq 0 ] || { echo "filestart: needs root" >&2; exit 1; }
ns=kpfs-$$
tmp=$(mktemp -d "/tmp/kpfs-$$.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null || true
	ip netns del "$ns-gw" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns"
ip netns add "$ns-gw"
ip -n "$ns" link set lo up
ip link add kpfs0 netns "$ns" type veth peer name kpfs1 netns "$ns-gw"
ip -n "$ns" addr add 198.18.6.1/24 dev kpfs0
ip -n "$ns" link set kpfs0 up
ip -n "$ns-gw" link set kpfs1 up
ip -n "$ns" route add default via 198.18.6.2

# Seconds since midnight of an epoch time, and of a klog line.
daysecs() { date -d "@$1" +%H:%M:%S.%N | awk '{ split($1, t, ":"); printf "%.6f\n", t[1]*3600 + t[2]*60 + t[3] }'; }
logms() { awk -v s="$1" '{ split($2, t, ":"); printf "%.0f", (t[1]*3600 + t[2]*60 + t[3] - s) * 1000 }'; }

python3 "$here/gen-services.py" "$n" "$tmp/services.yaml" --eps "$eps"
for r in $(seq 1 "$rounds"); do
	for b in "$@"; do
		bin=${b#*=}
		ip netns exec "$ns" "$bin" --cleanup >/dev/null 2>&1 || true
		rm -rf "$tmp/state"
		mkdir "$tmp/state"
		s0=$(daysecs "$(date +%s.%N)")
		ip netns exec "$ns" "$bin" --services-file "$tmp/services.yaml" \
		    --state-dir "$tmp/state" \
		    --metrics-bind-address 127.0.0.1:10249 \
		    --healthz-bind-address "" -v 2 >"$tmp/log" 2>&1 &
		pid=$!
		for i in $(seq 1 480); do
			grep -q 'ready: the first' "$tmp/log" && break
			kill -0 "$pid" 2>/dev/null ||
			    { tail -5 "$tmp/log" >&2; exit 1; }
			sleep 0.25
		done
		printf '%-8s %6d  ready %6s ms  cpu %5s ms  rss %s MB  parse %s  %s\n' \
		    "${b%%=*}" "$n" \
		    "$(grep 'ready: the first' "$tmp/log" | logms "$s0")" \
		    "$(awk -v hz="$(getconf CLK_TCK)" \
		    '{ print ($14 + $15) * 1000 / hz }' "/proc/$pid/stat")" \
		    "$(awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' \
		    "/proc/$pid/status")" \
		    "$(grep -m1 'parsed in' "$tmp/log" | sed 's/.*parsed in //')" \
		    "$(grep -m1 'sync: [0-9]' "$tmp/log" | sed 's/.*(changed), //')"
		kill "$pid"
		wait "$pid" 2>/dev/null || true
		pid=
		sleep 1
	done
done
