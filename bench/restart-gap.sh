#!/bin/bash
# restart-gap.sh: what a delete-then-create restart of the proxy costs the
# clients of a ClusterIP Service, for kuproxy and for the real kube-proxy
# 1.20 --proxy-mode=userspace, in the same run (issue 13's baseline: the
# restart a DaemonSet rolled with maxUnavailable: 1 on Kubernetes 1.20
# does).  Root only; everything runs in private network namespaces that
# the EXIT trap deletes; every wait is bounded.  Run by hand:
#
#   bench/restart-gap.sh [-r ROUNDS] [-p "PEERS"] [-d SECONDS] [-b SECONDS]
#                        [-R RATE] [-s STREAMS] [-g GRACE] [-o CSV]
#
#   -r  rounds per proxy (3)
#   -p  proxies (kuproxy kube-proxy); kube-proxy needs the binary of
#       bench/build-kube-proxy.sh (or $KUBE_PROXY), else it is dropped
#   -d  seconds of load per round (10); the restart comes -b seconds (2)
#       after the load has started
#   -R  new connections per second (250); -s long streams (8)
#   -g  kuproxy's --shutdown-grace (5s): after SIGTERM it drains, still
#       accepting, for up to this long before it exits (the DaemonSet's
#       default is 30s; the gap after the exit does not depend on it)
#   -o  CSV of every round (default /tmp/kpm-restart-gap-PID.csv, kept)
#
# Topology (tests/e2e/lib.sh's, with this script's own names, ID = PID):
#
#   kpm-cli-ID 198.18.2.2 --veth-- 198.18.2.1 kpm-node-ID 198.18.1.1
#     steady.py                   etcd, kube-apiserver 1.20    |veth
#                                 the proxy            kpm-pod-ID
#                                                 198.18.1.2, .3 backend.py
#
# One Service `web` (ClusterIP 198.19.0.10:80 -> two backend.py --mode
# hello pods on 8080), its Endpoints and EndpointSlice, in a real
# kube-apiserver; both proxies read it from there (--kubeconfig, as in a
# DaemonSet), one after the other in the same node namespace
# (`kuproxy --cleanup` between them).  A round: tests/integration/steady.py
# in the client namespace (RATE new connections a second, each reading
# the backend's hello and echoing a line, plus STREAMS long streams checked
# byte for byte) against the ClusterIP; after -b seconds the proxy gets
# SIGTERM, the script waits for its exit (pidfd) and starts a new one at
# once with the same flags (and, for kuproxy, the same --state-dir, as the
# DaemonSet's hostPath); the load goes on to the end.  Reported per round
# and as medians (min-max) over the rounds: failed new connections by
# kind, broken streams, SIGTERM-to-exit, the gap (from the old process's
# exit to the end of the first new connection opened after it that
# succeeded) and the span of failures (bench/restart-gap.py).
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"

ROUNDS=3
PEERS="kuproxy kube-proxy"
DUR=10
BEFORE=2
RATE=250
STREAMS=8
GRACE=5s
CSV=/tmp/kpm-restart-gap-$$.csv
while getopts r:p:d:b:R:s:g:o:h o; do
	case $o in
	r) ROUNDS=$OPTARG ;;
	p) PEERS=$OPTARG ;;
	d) DUR=$OPTARG ;;
	b) BEFORE=$OPTARG ;;
	R) RATE=$OPTARG ;;
	s) STREAMS=$OPTARG ;;
	g) GRACE=$OPTARG ;;
	o) CSV=$OPTARG ;;
	*) sed -n 2,20p "$0"; exit 2 ;;
	esac
done
[ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 20 ] || { echo "restart-gap: -r 1..20" >&2; exit 2; }
[ "$DUR" -ge 4 ] && [ "$DUR" -le 120 ] || { echo "restart-gap: -d 4..120" >&2; exit 2; }

RG_HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../tests/e2e/lib.sh
. "$RG_HERE/../tests/e2e/lib.sh"
# This script's own names (kpm-).
KP_NODE=kpm-node-$KP_ID
# shellcheck disable=SC2034 # read by lib.sh
KP_POD=kpm-pod-$KP_ID
KP_CLI=kpm-cli-$KP_ID
VIP=198.19.0.10
STEADY=$KP_HERE/steady.py
GAP=$RG_HERE/restart-gap.py
PID=			# the running proxy
PEER_ARGS=()

rg_log() { printf 'restart-gap: %s\n' "$*" >&2; }

# rg_serving: a new connection to the ClusterIP gets a backend's hello.
rg_serving() {
	kp_cli "$KP_PY" -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 80), 1)
s.settimeout(1)
sys.exit(0 if s.recv(64).strip() else 1)' "$VIP" 2>/dev/null
}

# rg_spawn PEER: start the proxy in the node namespace (ip netns exec
# execs it: $! is its pid); sets PID and RG_SPAWN ($EPOCHREALTIME just
# before the fork).
rg_spawn() {
	local log=$KP_TMP/$1.log

	echo "=== start $(date +%T.%N)" >>"$log"
	RG_SPAWN=$EPOCHREALTIME
	ip netns exec "$KP_NODE" "${PEER_ARGS[@]}" >>"$log" 2>&1 &
	PID=$!
	KP_PIDS="$KP_PIDS $PID"
}

# rg_args PEER: the command line of PEER, as its DaemonSet would run it.
rg_args() {
	case $1 in
	kuproxy)
		PEER_ARGS=("$KUPROXY" --kubeconfig "$KP_TMP/kubeconfig"
		    --bind-address 0.0.0.0
		    --metrics-bind-address 127.0.0.1:10249
		    --healthz-bind-address 127.0.0.1:10256
		    --hostname-override "$KE_NODE_NAME"
		    --state-dir "$KP_TMP/state" --shutdown-grace "$GRACE" -v 2)
		;;
	kube-proxy)
		PEER_ARGS=("$KUBE_PROXY" --proxy-mode=userspace
		    --feature-gates=EndpointSliceProxying=false
		    --kubeconfig "$KP_TMP/kubeconfig"
		    --hostname-override "$KE_NODE_NAME" --bind-address 0.0.0.0
		    --healthz-bind-address 127.0.0.1:10256
		    --metrics-bind-address 127.0.0.1:10249
		    --conntrack-max-per-core 0)
		;;
	esac
}

# rg_stop: SIGTERM the proxy, wait (60 s, then SIGKILL) and reap it.
rg_stop() {
	[ -n "$PID" ] || return 0
	"$KP_PY" "$GAP" term "$PID" 60 >/dev/null || kill -KILL "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
	KP_PIDS=$(echo " $KP_PIDS " | sed "s/ $PID / /")
	PID=
}

# rg_round PEER ROUND: one restart under load; appends a CSV row.
rg_round() {
	local peer=$1 r=$2 base=$KP_TMP/$1-$2 load old times

	rm -f "$base.ready"
	timeout -k 5 $((DUR + 30)) ip netns exec "$KP_CLI" "$KP_PY" "$STEADY" \
	    --target "$VIP:80" --duration "$DUR" --rate "$RATE" \
	    --streams "$STREAMS" --ready-file "$base.ready" \
	    --events "$base.events" >"$base.json" 2>"$base.err" &
	load=$!
	kp_until 100 test -e "$base.ready" || kp_die "steady.py not ready (see $base.err)"
	sleep "$BEFORE"
	old=$PID
	times=$("$KP_PY" "$GAP" term "$old" 60) || {
		kill -KILL "$old" 2>/dev/null
		kp_die "$peer (pid $old) still running 60 s after SIGTERM"
	}
	rg_spawn "$peer"
	wait "$old" 2>/dev/null
	KP_PIDS=$(echo " $KP_PIDS " | sed "s/ $old / /")
	wait "$load"
	[ -s "$base.json" ] || kp_die "steady.py printed nothing (see $base.err)"
	# shellcheck disable=SC2086 # times: three numbers
	"$KP_PY" "$GAP" round "$peer" "$r" "$base.json" "$base.events" \
	    $times "$RG_SPAWN" >>"$CSV" || kp_die "restart-gap.py round failed"
	rg_log "$peer round $r: $(tail -n 1 "$CSV")"
	kill -0 "$PID" 2>/dev/null || kp_die "the new $peer exited (see $KP_TMP/$peer.log)"
	kp_until 300 rg_serving || kp_die "$peer not serving 30 s after its restart"
}

kp_init restart-gap
rm -rf "$KP_TMP"
KP_TMP=$(mktemp -d /tmp/kpm-restart-gap.XXXXXX) || exit 1
for t in openssl iptables-save; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: restart-gap (needs $t)"; exit 77; }
done
: "${KP_ETCD:=$(command -v etcd)}"
KP_APISERVER=${KP_APISERVER:-$(ls -t "$KP_E2E_CACHE"/*/kube-apiserver 2>/dev/null | head -n 1)}
[ -x "$KP_ETCD" ] && [ -x "$KP_APISERVER" ] ||
    { echo "SKIP: restart-gap (no etcd or kube-apiserver: tests/e2e/build-apiserver.sh)"; exit 77; }
case " $PEERS " in
*" kube-proxy "*)
	KUBE_PROXY=${KUBE_PROXY:-$(ls -t "$KP_E2E_CACHE"/*/kube-proxy 2>/dev/null | head -n 1)}
	if [ -z "$KUBE_PROXY" ] || [ ! -x "$KUBE_PROXY" ]; then
		rg_log "no kube-proxy binary (bench/build-kube-proxy.sh): dropped"
		PEERS=$(echo " $PEERS " | sed 's/ kube-proxy / /')
	fi
	;;
esac
trap ke_cleanup EXIT
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
kp_topology
ke_pki
ke_etcd_start
ke_apiserver_start
ke_node_create
kp_backend hello b2@198.18.1.2:8080 b3@198.18.1.3:8080
ke_service web "$VIP" 80 TCP 8080
ke_backends web 8080 TCP 198.18.1.2 198.18.1.3
ke_kubeconfig "$KP_TMP/kubeconfig" token
mkdir -p "$KP_TMP/state"

{
	echo "# restart-gap.sh $(date -u +%FT%TZ) $(uname -r) $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# kuproxy $("$KUPROXY" --version 2>&1 | head -n 1)"
	case " $PEERS " in *" kube-proxy "*) echo "# kube-proxy $("$KUBE_PROXY" --version 2>&1)" ;; esac
	echo "# rounds $ROUNDS; ${DUR} s of load, restart after ${BEFORE} s; $RATE new connections/s; $STREAMS streams"
} >"$CSV.info"
echo "peer,round,started,ok,failed,kinds,rate,streams,broken,term_exit,exit_spawn,gap,spawn_gap,failed_gap,failed_other,fail_first,fail_last,fail_span" >"$CSV"

for peer in $PEERS; do
	rg_args "$peer"
	# Rules of the previous proxy (and its persisted ports) gone.
	kp_node "$KUPROXY" --cleanup >>"$KP_TMP/cleanup.log" 2>&1
	rm -rf "$KP_TMP/state" && mkdir -p "$KP_TMP/state"
	rg_spawn "$peer"
	kp_until 600 rg_serving || kp_die "no answer through $peer within 60 s (log: $KP_TMP/$peer.log)"
	for r in $(seq 1 "$ROUNDS"); do
		rg_round "$peer" "$r"
		sleep 1
	done
	rg_stop
done
echo "# load at end $(cut -d' ' -f1-3 /proc/loadavg)" >>"$CSV.info"
cat "$CSV.info"
"$KP_PY" "$GAP" summary "$CSV"
rg_log "rounds: $CSV (and $CSV.info); logs in $KP_TMP (kept with KP_KEEP=1)"
