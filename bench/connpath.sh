#!/bin/bash
# connpath.sh: profile kuproxy's new-connection and keep-alive request
# paths (issue 15).  Root only; everything runs in one private network
# namespace that the EXIT trap deletes.  Run by hand:
#
#   bench/connpath.sh [-k KUPROXY] [-m MODE] [-w close|keep] [-t S]
#                     [-c CONNS] [-o DIR] [-- KUPROXY-ARGS...]
#
#   -k  the kuproxy binary (./kuproxy)
#   -m  plain: wrk only, with the context switches of kuproxy
#       callgrind: kuproxy under valgrind --tool=callgrind, counters
#         zeroed after start-up and dumped after the load, so the
#         instructions divide by what wrk completed
#       strace: strace -c -f attached for the load only
#       perf: perf record -g attached for the load only
#   -w  close: wrk -H 'Connection: close' (new connections);
#       keep: keep-alive requests (wrk's default);
#       bulk: keep-alive GETs of a 64 MiB file (-c 1 unless -c)
#   -t  seconds of load (5; 20 under callgrind)
#   -c  wrk connections (16)
#   -o  a new folder for the outputs (/tmp/kppt-PID, kept)
#   -i  after the load, S seconds of no traffic: kuproxy's CPU then
#
# Topology: namespace kppt-PID whose lo also holds the backend address
# 198.18.1.2; nginx `return 200` (one worker, CPU 0)
# listens on 198.18.1.2:8080; kuproxy (CPU 1) serves a Service from a
# --services-file whose endpoint is that address; wrk (CPU 0) dials
# kuproxy's proxy port on 127.0.0.1 directly (no NAT on the way, so the
# profile is the relay's).  Prints one line: requests, req/s, and the
# mode's figure per request (instructions, syscalls, context switches).
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"

KUPROXY=./kuproxy
MODE=plain
WL=close
SECS=
CONNS=16
OUT=/tmp/kppt-$$
IDLE=0
while getopts k:m:w:t:c:o:i:h o; do
	case $o in
	k) KUPROXY=$OPTARG ;;
	m) MODE=$OPTARG ;;
	w) WL=$OPTARG ;;
	t) SECS=$OPTARG ;;
	c) CONNS=$OPTARG ;;
	o) OUT=$OPTARG ;;
	i) IDLE=$OPTARG ;;
	*) sed -n 2,28p "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ "$(id -u)" -eq 0 ] || { echo "connpath: needs root" >&2; exit 77; }
[ -n "$SECS" ] || { [ "$MODE" = callgrind ] && SECS=20 || SECS=5; }
KUPROXY=$(readlink -f "$KUPROXY")
NS=kppt-$$
PID_KP=
PID_NGINX=
[ -e "$OUT" ] && { echo "connpath: $OUT exists" >&2; exit 2; }
mkdir -p "$OUT"

cp_log() { printf 'connpath: %s\n' "$*" >&2; }
cp_die() { cp_log "$*"; exit 1; }
cp_in() { ip netns exec "$NS" "$@"; }

cp_cleanup() {
	local p

	for p in $PID_KP $PID_NGINX; do
		kill "$p" 2>/dev/null
	done
	for p in $PID_KP $PID_NGINX; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	ip netns del "$NS" 2>/dev/null
}
trap cp_cleanup EXIT

ip netns add "$NS" || cp_die "cannot create $NS"
ip -n "$NS" link set lo up
ip -n "$NS" addr add 198.18.1.2/32 dev lo
# kuproxy picks its node IP from the default route (not through lo).
ip -n "$NS" link add kppa type veth peer name kppb
ip -n "$NS" addr add 198.18.0.1/24 dev kppa
ip -n "$NS" link set kppa up
ip -n "$NS" link set kppb up
ip -n "$NS" route add default via 198.18.0.2 dev kppa
cp_in sysctl -qw net.ipv4.tcp_tw_reuse=1 \
    net.ipv4.ip_local_port_range="1024 65535"

mkdir -p "$OUT/nginx" "$OUT/www"
truncate -s 64M "$OUT/www/big"
cat >"$OUT/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
worker_rlimit_nofile 16384;
pid $OUT/nginx/nginx.pid;
error_log $OUT/nginx/error.log warn;
events { worker_connections 8192; }
http {
	access_log off;
	client_body_temp_path $OUT/nginx/body;
	proxy_temp_path $OUT/nginx/proxy;
	fastcgi_temp_path $OUT/nginx/fcgi;
	uwsgi_temp_path $OUT/nginx/uwsgi;
	scgi_temp_path $OUT/nginx/scgi;
	keepalive_requests 10000000;
	keepalive_timeout 120s;
	server {
		listen 198.18.1.2:8080 backlog=4096;
		location / { return 200 "ok\n"; }
		location /big { root $OUT/www; }
	}
}
EOF
ip netns exec "$NS" taskset -c 0 nginx -c "$OUT/nginx/nginx.conf" -p "$OUT/nginx" \
    >"$OUT/nginx/stderr" 2>&1 &
PID_NGINX=$!

cat >"$OUT/services.yaml" <<EOF
apiVersion: v1
kind: Service
metadata:
  name: bench
  namespace: default
spec:
  clusterIP: 198.19.0.10
  ports:
  - name: http
    port: 8080
    protocol: TCP
  sessionAffinity: None
  type: ClusterIP
---
apiVersion: v1
kind: Endpoints
metadata:
  name: bench
  namespace: default
subsets:
- addresses:
  - ip: 198.18.1.2
  ports:
  - name: http
    port: 8080
    protocol: TCP
EOF
mkdir -p "$OUT/state"
PRE=()
[ "$MODE" = callgrind ] && PRE=(valgrind --tool=callgrind
    --callgrind-out-file="$OUT/callgrind.out" --dump-instr=no)
ip netns exec "$NS" taskset -c 1 "${PRE[@]}" "$KUPROXY" --services-file "$OUT/services.yaml" \
    --bind-address 0.0.0.0 --metrics-bind-address 127.0.0.1:10249 \
    --healthz-bind-address 127.0.0.1:10256 --state-dir "$OUT/state" "$@" \
    >"$OUT/kuproxy.log" 2>&1 &
PID_KP=$!

# The proxy port, as kuproxy logs it.
PORT=
for _ in $(seq 300); do
	PORT=$(sed -n 's/.*: proxy port \([0-9]*\),.*/\1/p' "$OUT/kuproxy.log" |
	    tail -1)
	[ -n "$PORT" ] &&
	    [ "$(cp_in curl -s -m 2 "http://127.0.0.1:$PORT/")" = ok ] && break
	PORT=
	sleep 0.2
done
[ -n "$PORT" ] || { cp_in curl -sv -m 2 "http://127.0.0.1:$(sed -n "s/.*: proxy port \([0-9]*\),.*/\1/p" "$OUT/kuproxy.log" | tail -1)/"; cp_in cat /proc/net/tcp /proc/net/tcp6 | head; cp_in sysctl net.ipv6.bindv6only net.ipv6.conf.all.disable_ipv6; cp_die "no answer through kuproxy (log: $OUT/kuproxy.log)"; }

HDR=()
URLPATH=/
[ "$WL" = close ] && HDR=(-H 'Connection: close')
if [ "$WL" = bulk ]; then
	URLPATH=/big
	[ "$CONNS" = 16 ] && CONNS=1
fi
# Warm up (pipes pooled, pages touched) before anything is counted.
cp_in taskset -c 0 wrk -t1 -c"$CONNS" -d1 "${HDR[@]}" \
    "http://127.0.0.1:$PORT$URLPATH" >/dev/null 2>&1

ctx() { awk '/^voluntary_ctxt_switches/ { v = $2 }
    /^nonvoluntary_ctxt_switches/ { n = $2 } END { print v, n }' \
    "/proc/$PID_KP/status"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$PID_KP/stat"; }

case $MODE in
callgrind)
	callgrind_control -z "$PID_KP" >/dev/null || cp_die "callgrind_control -z"
	;;
strace)
	strace -c -f -p "$PID_KP" -o "$OUT/strace.txt" &
	PID_TR=$!
	sleep 1
	;;
perf)
	perf record -g -o "$OUT/perf.data" -p "$PID_KP" >/dev/null 2>&1 &
	PID_TR=$!
	sleep 1
	;;
esac
C0=$(ctx)
T0=$(ticks)
cp_in taskset -c 0 wrk -t1 -c"$CONNS" -d"$SECS" "${HDR[@]}" \
    "http://127.0.0.1:$PORT$URLPATH" >"$OUT/wrk.txt" 2>&1
C1=$(ctx)
T1=$(ticks)
REQS=$(awk '/requests in/ { print $1 }' "$OUT/wrk.txt")
RPS=$(awk '/^Requests\/sec/ { print $2 }' "$OUT/wrk.txt")
[ -n "$REQS" ] && [ "$REQS" -gt 0 ] || cp_die "wrk failed: $(cat "$OUT/wrk.txt")"
EXTRA=
case $MODE in
callgrind)
	callgrind_control -d "$PID_KP" >/dev/null || cp_die "callgrind_control -d"
	sleep 1
	F=$(ls -t "$OUT"/callgrind.out* | head -1)
	IR=$(awk '/^summary:|^totals:/ { print $2; exit }' "$F")
	EXTRA="Ir $IR, Ir/req $(awk -v a="$IR" -v b="$REQS" \
	    'BEGIN { printf "%.0f", a / b }') ($F)"
	;;
strace)
	kill -INT "$PID_TR"
	wait "$PID_TR"
	CALLS=$(awk '/^100.00|total$/ { print $(NF-2) }' "$OUT/strace.txt" | tail -1)
	EXTRA="syscalls $CALLS, per req $(awk -v a="$CALLS" -v b="$REQS" \
	    'BEGIN { printf "%.2f", a / b }') ($OUT/strace.txt)"
	;;
perf)
	kill -INT "$PID_TR"
	wait "$PID_TR"
	EXTRA="($OUT/perf.data)"
	;;
esac
HZ=$(getconf CLK_TCK)
printf '%s %s: %s requests, %s req/s, ctxsw/req %s, CPU us/req %s %s\n' \
    "$WL" "$MODE" "$REQS" "$RPS" \
    "$(awk -v a="$C0" -v b="$C1" -v r="$REQS" 'BEGIN { split(a, x, " ");
    split(b, y, " "); printf "%.3f (voluntary %.3f)",
    (y[1] + y[2] - x[1] - x[2]) / r, (y[1] - x[1]) / r }')" \
    "$(awk -v a="$T0" -v b="$T1" -v r="$REQS" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) / hz / r * 1e6 }')" \
    "$EXTRA"
if [ "$IDLE" -gt 0 ]; then
	T2=$(ticks)
	sleep "$IDLE"
	T3=$(ticks)
	printf 'idle %s s: kuproxy CPU %s ms\n' "$IDLE" \
	    "$(awk -v a="$T2" -v b="$T3" -v hz="$HZ" 'BEGIN { printf "%.0f", (b - a) * 1000 / hz }')"
fi
