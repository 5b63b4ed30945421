#!/bin/bash
# relay.sh: data-plane benchmark of kuproxy's TCP and UDP relays against
# no proxy, HAProxy (mode tcp, with and without splice) and the real
# kube-proxy 1.20 --proxy-mode=userspace, all in the same run.  Root only;
# everything runs inside private network namespaces that the EXIT trap
# deletes.  Run by hand:
#
#   bench/relay.sh [-r ROUNDS] [-p "PEERS"] [-w "WORKLOADS"] [-o CSV]
#                  [-b S] [-q S] [-c S] [-u S] [-H N] [-s S]
#
#   -r  rounds (5); every cell runs once per round, peers interleaved and
#       their order rotated each round
#   -p  peers (direct kuproxy kube-proxy haproxy haproxy-splice)
#   -w  workloads (W1 W2 W3 W5 W5L MEM)
#   -o  CSV of every run (default /tmp/relay-bench-PID.csv, kept)
#   -b/-q/-c/-u  seconds of W1 (5), W2 (3), W3 (3), W5 and W5L (4)
#   -H  connections held for MEM (2000)
#   -s  set up only, print the namespaces and pids, and wait S seconds
#       (or until the stop file it names exists), for profiling by hand
#
# Topology (ID = this shell's PID):
#
#   rb-cli-ID 198.18.2.2 --- 198.18.2.1 rb-a-ID 198.18.1.1 --- 198.18.1.2
#     |       198.18.4.2 --- 198.18.4.1 rb-b-ID 198.18.3.1 --- 198.18.3.2
#     | clients (CPU0)        kuproxy, HAProxy (A)            rb-pod-ID
#     |                       kube-proxy, etcd, apiserver (B)  backends (CPU0)
#
# The client always dials a ClusterIP in 198.19.0.0/16 and the proxy's
# iptables REDIRECT (PREROUTING, as for a pod's traffic) hands it to the
# proxy: kuproxy 198.19.0.10 (its own KUBE-PORTALS-CONTAINER rules, Service
# from a --services-file), kube-proxy 198.19.0.20 (its own rules; Service
# and Endpoints created in a real kube-apiserver 1.20 with curl), HAProxy
# 198.19.0.30 and splice HAProxy 198.19.0.31 (REDIRECT rules this script
# adds).  "direct" dials the backend 198.18.1.2 through node A's routing.
# kuproxy and kube-proxy get a node namespace each because both own the
# KUBE-PORTALS-* chains.  Ports: 5201 iperf3 (TCP and UDP), 8080 nginx
# `return 200`, 9000 an echo server (MEM).  Proxies run with taskset -c 1
# (HAProxy nbthread 1, GOMAXPROCS=1); clients and backends with -c 0.
# etcd and kube-apiserver are stopped (SIGSTOP) while measuring so they
# take no CPU; kube-proxy keeps its synced state.
#
# Workloads: W1 iperf3 one TCP stream; W2 wrk -t1 -c50 keep-alive; W3 the
# same with "Connection: close"; W5 iperf3 -u -l 64 -b 0 (no HAProxy: it
# has no UDP); W5L the same at 50,000 datagrams/s offered; MEM the proxy's
# RSS and fd growth with N idle connections (1 KiB echoed on each first;
# measured once, first, on fresh proxies).  W5 and W5L also count the
# datagrams dropped at the proxy's socket and at the backend's.  Proxy
# CPU is utime+stime+cutime+cstime from /proc/PID/stat around each run.
# Prints a Markdown summary (relay-summary.py).  Needs iperf3, wrk, nginx and
# haproxy (installed with apt-get when missing) and, for the kube-proxy
# peer, bench/build-kube-proxy.sh and tests/e2e/build-apiserver.sh.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"

ROUNDS=5
PEERS="direct kuproxy kube-proxy haproxy haproxy-splice"
WORKLOADS="W1 W2 W3 W5 W5L MEM"
W5L_RATE=25600000		# 50,000 datagrams/s of 64 B
CSV=/tmp/relay-bench-$$.csv
T_BULK=5
T_RR=3
T_CONN=3
T_UDP=4
HOLD=2000
SETUP_ONLY=
while getopts r:p:w:o:b:q:c:u:H:s:h o; do
	case $o in
	r) ROUNDS=$OPTARG ;;
	p) PEERS=$OPTARG ;;
	w) WORKLOADS=$OPTARG ;;
	o) CSV=$OPTARG ;;
	b) T_BULK=$OPTARG ;;
	q) T_RR=$OPTARG ;;
	c) T_CONN=$OPTARG ;;
	u) T_UDP=$OPTARG ;;
	H) HOLD=$OPTARG ;;
	s) SETUP_ONLY=$OPTARG ;;
	*) sed -n 2,22p "$0"; exit 2 ;;
	esac
done

RB_HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../tests/e2e/lib.sh
. "$RB_HERE/../tests/e2e/lib.sh"

# shellcheck disable=SC2034 # KP_*/KE_* are read by lib.sh
NSA=rb-a-$$
KP_NODE=rb-b-$$			# lib.sh's etcd/apiserver helpers use KP_NODE
KP_POD=rb-pod-$$
KP_CLI=rb-cli-$$
# shellcheck disable=SC2034
KE_API_IP=198.18.4.1
POD_A=198.18.1.2
POD_B=198.18.3.2
VIP_KUPROXY=198.19.0.10
VIP_KUBEPROXY=198.19.0.20
VIP_HAPROXY=198.19.0.30
VIP_HAPROXY_SPLICE=198.19.0.31
HZ=$(getconf CLK_TCK)
PID_KUPROXY=
PID_KUBEPROXY=
PID_HAPROXY=
PID_HAPROXY_SPLICE=

rb_log() { printf 'relay: %s\n' "$*" >&2; }

# --- set-up -----------------------------------------------------------

# Install the load tools if missing, never starting their services.
rb_tools() {
	local need="" own=0 t

	for t in iperf3 wrk nginx haproxy; do
		command -v "$t" >/dev/null || need="$need $t"
	done
	need=${need/nginx/nginx-light}
	[ -z "$need" ] && return 0
	rb_log "apt-get install$need"
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		own=1
	fi
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq \
	    --no-install-recommends $need >/dev/null
	t=$?
	[ "$own" -eq 1 ] && rm -f /usr/sbin/policy-rc.d
	[ "$t" -eq 0 ] || kp_die "apt-get install$need failed"
}

# rb_link NS1 DEV1 IP1 NS2 DEV2 IP2: a veth pair born in NS1, /24s.
rb_link() {
	ip -n "$1" link add "$2" type veth peer name "$5" netns "$4" ||
	    kp_die "veth $1/$2 <-> $4/$5"
	ip -n "$1" addr add "$3/24" dev "$2"
	ip -n "$4" addr add "$6/24" dev "$5"
	ip -n "$1" link set "$2" up
	ip -n "$4" link set "$5" up
}

rb_topology() {
	local ns

	for ns in "$NSA" "$KP_NODE" "$KP_POD" "$KP_CLI"; do
		kp_netns_add "$ns" || kp_die "cannot create namespace $ns"
		kp_in "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1 \
		    net.ipv4.ip_local_port_range="1024 65535"
	done
	rb_link "$NSA" vpod 198.18.1.1 "$KP_POD" va "$POD_A"
	rb_link "$NSA" vcli 198.18.2.1 "$KP_CLI" va 198.18.2.2
	rb_link "$KP_NODE" vpod 198.18.3.1 "$KP_POD" vb "$POD_B"
	rb_link "$KP_NODE" vcli 198.18.4.1 "$KP_CLI" vb 198.18.4.2
	kp_in "$NSA" sysctl -qw net.ipv4.ip_forward=1
	kp_in "$KP_NODE" sysctl -qw net.ipv4.ip_forward=1
	# kube-apiserver 1.20 will not start without a default route.
	ip -n "$NSA" route add default via 198.18.2.2
	ip -n "$KP_NODE" route add default via 198.18.4.2
	ip -n "$KP_POD" route add default via 198.18.1.1
	ip -n "$KP_CLI" route add 198.18.1.0/24 via 198.18.2.1
	ip -n "$KP_CLI" route add 198.19.0.0/16 via 198.18.2.1
	ip -n "$KP_CLI" route add 198.18.3.0/24 via 198.18.4.1
	ip -n "$KP_CLI" route add "$VIP_KUBEPROXY/32" via 198.18.4.1
	for ns in "$NSA" "$KP_NODE"; do
		kp_until 30 kp_carrier "$ns" vpod || kp_die "no carrier in $ns"
		kp_until 30 kp_carrier "$ns" vcli || kp_die "no carrier in $ns"
	done
}

# rb_bg NS CPU LOG COMMAND...: start COMMAND pinned to CPU in NS; sets
# RB_PID (ip netns exec and taskset exec, so it is COMMAND's pid).
rb_bg() {
	local ns=$1 cpu=$2 log=$3

	shift 3
	ip netns exec "$ns" taskset -c "$cpu" "$@" >>"$log" 2>&1 &
	RB_PID=$!
	KP_PIDS="$KP_PIDS $RB_PID"
}

# rb_listening NS PROTO PORT: is something bound to PORT?
rb_listening() {
	kp_in "$1" ss -Hln"$2" "sport = :$3" 2>/dev/null | grep -q .
}

# Backends in the pod namespace on CPU0: nginx `return 200` on 8080 and
# the echo server on 9000 (iperf3 servers are started per run).  nginx
# keeps its master process: a single-process nginx that gets SIGHUP (its
# launching terminal going away) reloads into a state where every accept
# fails with "worker_connections are not enough".
rb_backends() {
	local d=$KP_TMP/nginx

	mkdir -p "$d"
	cat >"$d/nginx.conf" <<EOF
worker_processes 1;
daemon off;
worker_rlimit_nofile 16384;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 8192; }
http {
	access_log off;
	client_body_temp_path $d/body;
	proxy_temp_path $d/proxy;
	fastcgi_temp_path $d/fcgi;
	uwsgi_temp_path $d/uwsgi;
	scgi_temp_path $d/scgi;
	keepalive_requests 1000000;
	keepalive_timeout 120s;
	server {
		listen 8080 backlog=4096;
		location / { return 200 "ok\n"; }
	}
}
EOF
	rb_bg "$KP_POD" 0 "$d/stderr" nginx -c "$d/nginx.conf" -p "$d"
	rb_bg "$KP_POD" 0 "$KP_TMP/echo.log" "$KP_PY" \
	    "$RB_HERE/relay-hold.py" server 9000 3600
	kp_until 50 rb_listening "$KP_POD" t 8080 || kp_die "nginx did not start"
	kp_until 50 rb_listening "$KP_POD" t 9000 || kp_die "echo server did not start"
}

# The Service (iperf3 TCP+UDP, http, echo) as kubectl would print it.
rb_services_file() {
	cat <<EOF
apiVersion: v1
kind: Service
metadata:
  name: bench
  namespace: default
spec:
  clusterIP: $VIP_KUPROXY
  ports:
  - name: iperf
    port: 5201
    protocol: TCP
  - name: iperfu
    port: 5201
    protocol: UDP
  - name: http
    port: 8080
    protocol: TCP
  - name: echo
    port: 9000
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
  - ip: $POD_A
  ports:
  - name: iperf
    port: 5201
    protocol: TCP
  - name: iperfu
    port: 5201
    protocol: UDP
  - name: http
    port: 8080
    protocol: TCP
  - name: echo
    port: 9000
    protocol: TCP
EOF
}

# rb_ready VIP: an HTTP request to VIP:8080 from the client namespace
# answers "ok".
rb_ready() {
	[ "$(kp_cli curl -s -m 1 "http://$1:8080/" 2>/dev/null)" = ok ]
}

rb_start_kuproxy() {
	KP_SVCFILE=$KP_TMP/services.yaml
	KP_LOG=$KP_TMP/kuproxy.log
	rb_services_file >"$KP_SVCFILE"
	mkdir -p "$KP_TMP/state"
	rb_bg "$NSA" 1 "$KP_LOG" "$KUPROXY" --services-file "$KP_SVCFILE" \
	    --bind-address 0.0.0.0 --metrics-bind-address 127.0.0.1:10249 \
	    --healthz-bind-address 127.0.0.1:10256 --state-dir "$KP_TMP/state"
	PID_KUPROXY=$RB_PID
	# shellcheck disable=SC2034 # ke_cleanup stops it gracefully
	KP_PID=$RB_PID
	kp_until 100 rb_ready "$VIP_KUPROXY" ||
	    kp_die "no answer through kuproxy (log: $KP_LOG)"
}

# rb_haproxy NAME PORTBASE VIP [splice]: an HAProxy of our own (never
# the system service) on PORTBASE+{5201,8080,9000}, reached through
# REDIRECT rules from VIP in chain RB-PORTALS; sets RB_PID.
rb_haproxy() {
	local name=$1 base=$2 vip=$3 cfg=$KP_TMP/$1.cfg port

	{
		cat <<EOF
global
	nbthread 1
	maxconn 6000
defaults
	mode tcp
	timeout connect 5s
	timeout client 120s
	timeout server 120s
EOF
		if [ "${4:-}" = splice ]; then
			printf '\toption splice-request\n\toption splice-response\n'
		fi
		for port in 5201 8080 9000; do
			printf 'listen p%s\n\tbind 0.0.0.0:%s\n\tserver b %s:%s\n' \
			    "$port" $((base + port)) "$POD_A" "$port"
		done
	} >"$cfg"
	haproxy -c -q -f "$cfg" || kp_die "haproxy -c $cfg"
	rb_bg "$NSA" 1 "$KP_TMP/$name.log" haproxy -db -f "$cfg"
	for port in 5201 8080 9000; do
		kp_in "$NSA" iptables -w -t nat -A RB-PORTALS -d "$vip/32" -p tcp \
		    --dport "$port" -j REDIRECT --to-ports $((base + port)) ||
		    kp_die "iptables REDIRECT for $name"
	done
	kp_until 100 rb_ready "$vip" || kp_die "no answer through $name"
}

# kube-proxy 1.20 and its API server in node namespace B.
rb_start_kubeproxy() {
	local kpbin=$1 ports='[{"name": "iperf", "port": 5201, "protocol": "TCP"}, {"name": "iperfu", "port": 5201, "protocol": "UDP"}, {"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "echo", "port": 9000, "protocol": "TCP"}]'

	: "${KP_ETCD:=$(command -v etcd)}"
	[ -x "$KP_ETCD" ] || kp_die "no etcd (run tests/e2e/build-apiserver.sh)"
	: "${KP_APISERVER:=$(dirname "$kpbin")/kube-apiserver}"
	[ -x "$KP_APISERVER" ] || kp_die "no kube-apiserver next to $kpbin"
	ke_pki
	ke_etcd_start
	ke_apiserver_start
	ke_node_create
	ke_must POST "$KE_CORE/$KE_NS/services" "{\"apiVersion\": \"v1\",
	    \"kind\": \"Service\", \"metadata\": {\"name\": \"bench\"},
	    \"spec\": {\"type\": \"ClusterIP\", \"clusterIP\": \"$VIP_KUBEPROXY\",
	    \"ports\": $ports, \"sessionAffinity\": \"None\"}}" >/dev/null
	ke_must POST "$KE_CORE/$KE_NS/endpoints" "{\"apiVersion\": \"v1\",
	    \"kind\": \"Endpoints\", \"metadata\": {\"name\": \"bench\"},
	    \"subsets\": [{\"addresses\": [{\"ip\": \"$POD_B\"}],
	    \"ports\": $ports}]}" >/dev/null
	ke_kubeconfig "$KP_TMP/kubeconfig" token
	rb_bg "$KP_NODE" 1 "$KP_TMP/kube-proxy.log" env GOMAXPROCS=1 "$kpbin" \
	    --proxy-mode=userspace --feature-gates=EndpointSliceProxying=false \
	    --kubeconfig "$KP_TMP/kubeconfig" \
	    --hostname-override "$KE_NODE_NAME" --bind-address 0.0.0.0 \
	    --healthz-bind-address 127.0.0.1:10256 \
	    --metrics-bind-address 127.0.0.1:10249 \
	    --conntrack-max-per-core 0
	PID_KUBEPROXY=$RB_PID
	kp_until 300 rb_ready "$VIP_KUBEPROXY" ||
	    kp_die "no answer through kube-proxy (log: $KP_TMP/kube-proxy.log)"
}

# --- measuring ----------------------------------------------------------

rb_ticks() {
	[ -n "$1" ] || { echo 0; return; }
	awk '{ print $14 + $15 + $16 + $17 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
rb_cpu1() { awk '/^cpu1 / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
rb_now() { date +%s.%N; }

rb_pid() {
	case $1 in
	kuproxy) echo "$PID_KUPROXY" ;;
	kube-proxy) echo "$PID_KUBEPROXY" ;;
	haproxy) echo "$PID_HAPROXY" ;;
	haproxy-splice) echo "$PID_HAPROXY_SPLICE" ;;
	esac
}
rb_ip() {
	case $1 in
	direct) echo "$POD_A" ;;
	kuproxy) echo "$VIP_KUPROXY" ;;
	kube-proxy) echo "$VIP_KUBEPROXY" ;;
	haproxy) echo "$VIP_HAPROXY" ;;
	haproxy-splice) echo "$VIP_HAPROXY_SPLICE" ;;
	esac
}

# rb_measure PEER OUTFILE COMMAND...: run COMMAND (stdout to OUTFILE) and
# set RB_CPU (proxy CPU seconds), RB_WALL, RB_CPU1 (CPU1 busy %).
rb_measure() {
	local pid out=$2 c0 c1 t0 t1 a0 a1

	pid=$(rb_pid "$1")
	shift 2
	c0=$(rb_ticks "$pid")
	a0=$(rb_cpu1)
	t0=$(rb_now)
	"$@" >"$out" 2>>"$KP_TMP/gen.err"
	t1=$(rb_now)
	a1=$(rb_cpu1)
	c1=$(rb_ticks "$pid")
	RB_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	if [ -n "$pid" ]; then
		RB_CPU=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" \
		    'BEGIN { printf "%.3f", (b - a) / hz }')
	else
		RB_CPU=
	fi
	RB_CPU1=$(awk -v a="$a0" -v b="$a1" 'BEGIN { split(a, x, " ");
	    split(b, y, " "); d = y[2] - x[2]; if (d <= 0) d = 1;
	    printf "%.0f", 100 * (y[1] - x[1]) / d }')
}

# rb_row WORKLOAD PEER ROUND RATE WORK EXTRA [X2 X3]: append to the CSV.
rb_row() {
	echo "$1,$2,$3,$4,$5,$RB_CPU,$RB_WALL,$RB_CPU1,$6,${7:-},${8:-}" >>"$CSV"
	rb_log "$(printf '%-4s %-15s round %s: %s (work %s, proxy CPU %ss in %ss, CPU1 %s%%, extra %s %s %s)' \
	    "$1" "$2" "$3" "$4" "$5" "${RB_CPU:--}" "$RB_WALL" "$RB_CPU1" "$6" "${7:-}" "${8:-}")"
}

# A one-shot iperf3 server in the pod namespace.
rb_iperf_server() {
	rb_bg "$KP_POD" 0 "$KP_TMP/iperf3-server.log" timeout -k 2 60 \
	    iperf3 -s -1 -p 5201
	kp_until 50 rb_listening "$KP_POD" t 5201 ||
	    kp_die "iperf3 server did not start"
	RB_SRV=$RB_PID
}
rb_iperf_server_done() {
	kill "$RB_SRV" 2>/dev/null
	wait "$RB_SRV" 2>/dev/null
	kp_until 50 rb_not_listening
}
rb_not_listening() { ! rb_listening "$KP_POD" t 5201; }

# rb_json FILE EXPR: evaluate a Python expression on the JSON as d.
rb_json() {
	"$KP_PY" -c 'import json, sys
try:
    d = json.load(open(sys.argv[1]))
    print(eval(sys.argv[2]))
except Exception:
    print("")' "$1" "$2"
}

rb_w1() {
	local peer=$1 r=$2 o=$KP_TMP/w1.json

	rb_iperf_server
	rb_measure "$peer" "$o" kp_cli timeout -k 2 $((T_BULK + 20)) \
	    taskset -c 0 iperf3 -c "$(rb_ip "$peer")" -p 5201 -t "$T_BULK" -J
	rb_iperf_server_done
	rb_row W1 "$peer" "$r" \
	    "$(rb_json "$o" '"%.3f" % (d["end"]["sum_received"]["bits_per_second"] / 1e9)')" \
	    "$(rb_json "$o" 'd["end"]["sum_received"]["bytes"]')" \
	    "$(rb_json "$o" 'd["end"]["sum_sent"].get("retransmits", "")')"
}

# rb_udpstat NS: "OutDatagrams RcvbufErrors" of UDP in namespace NS.
rb_udpstat() {
	kp_in "$1" awk '/^Udp:/ { if (h) print $5, $6; h = 1 }' /proc/net/snmp
}

# rb_w5 PEER ROUND [BITS/S]: W5 (iperf3 -b 0) or, with a rate, W5L.  The
# extra columns split the loss: datagrams dropped at the proxy's own
# socket (RcvbufErrors in its node namespace) and at the backend's
# socket (in the pod namespace), in % of what the client sent.
rb_w5() {
	local peer=$1 r=$2 rate=${3:-0} o=$KP_TMP/w5.json w=W5 ns=$NSA
	local n0 n1 p0 p1 sent

	[ "$rate" = 0 ] || w=W5L
	[ "$peer" = kube-proxy ] && ns=$KP_NODE
	rb_iperf_server
	n0=$(rb_udpstat "$ns")
	p0=$(rb_udpstat "$KP_POD")
	rb_measure "$peer" "$o" kp_cli timeout -k 2 $((T_UDP + 20)) \
	    taskset -c 0 iperf3 -c "$(rb_ip "$peer")" -p 5201 -u -l 64 \
	    -b "$rate" -t "$T_UDP" -J
	n1=$(rb_udpstat "$ns")
	p1=$(rb_udpstat "$KP_POD")
	rb_iperf_server_done
	sent=$(rb_json "$o" 'd["end"]["sum"]["packets"]')
	rb_row "$w" "$peer" "$r" \
	    "$(rb_json "$o" '"%.0f" % ((d["end"]["sum"]["packets"] - d["end"]["sum"]["lost_packets"]) / d["end"]["sum"]["seconds"])')" \
	    "$(rb_json "$o" 'd["end"]["sum"]["packets"] - d["end"]["sum"]["lost_packets"]')" \
	    "$(rb_json "$o" '"%.2f" % d["end"]["sum"]["lost_percent"]')" \
	    "$(echo "$n0 $n1" | awk -v s="$sent" '{ printf "%.2f", s ? 100 * ($4 - $2) / s : 0 }')" \
	    "$(echo "$p0 $p1" | awk -v s="$sent" '{ printf "%.2f", s ? 100 * ($4 - $2) / s : 0 }')"
}

# rb_wrk PEER ROUND WORKLOAD SECONDS [wrk args]: W2 and W3.
rb_wrk() {
	local peer=$1 r=$2 w=$3 secs=$4 o=$KP_TMP/wrk.out reqs rate extra

	shift 4
	rb_measure "$peer" "$o" kp_cli timeout -k 2 $((secs + 20)) \
	    taskset -c 0 wrk -t1 -c50 -d"${secs}s" --latency "$@" \
	    "http://$(rb_ip "$peer"):8080/"
	reqs=$(awk '/requests in/ { print $1 }' "$o")
	rate=$(awk '/^Requests\/sec:/ { print $2 }' "$o")
	if [ "$w" = W2 ]; then
		# "50%  512.00us": in ms.
		extra=$(awk '$1 == "50%" { v = $2; m = 1
		    if (v ~ /us$/) m = 0.001; else if (v ~ /ms$/) m = 1;
		    else if (v ~ /s$/) m = 1000
		    sub(/[a-z]+$/, "", v); printf "%.3f", v * m }' "$o")
	else
		extra=$(awk '/Socket errors/ { gsub(",", ""); n += $4 + $6 + $8 + $10 }
		    /Non-2xx/ { n += $NF } END { print n + 0 }' "$o")
	fi
	rb_row "$w" "$peer" "$r" "$rate" "$reqs" "$extra"
}

rb_rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
rb_nfds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }

# MEM: RSS and fd growth of the proxy while HOLD connections are open.
rb_mem() {
	local peer=$1 r=$2 pid ready=$KP_TMP/hold.ready rel=$KP_TMP/hold.release
	local rss0 fd0 rss1 fd1 n cpid

	pid=$(rb_pid "$peer")
	[ -n "$pid" ] || return 0
	rm -f "$ready" "$rel"
	sleep 1
	rss0=$(rb_rss "$pid")
	fd0=$(rb_nfds "$pid")
	ip netns exec "$KP_CLI" taskset -c 0 timeout -k 2 120 "$KP_PY" \
	    "$RB_HERE/relay-hold.py" client "$(rb_ip "$peer"):9000" "$HOLD" \
	    "$ready" "$rel" 90 >>"$KP_TMP/hold.log" 2>&1 &
	cpid=$!
	kp_until 900 test -e "$ready"
	sleep 1
	rss1=$(rb_rss "$pid")
	fd1=$(rb_nfds "$pid")
	n=$(cat "$ready" 2>/dev/null || echo 0)
	touch "$rel"
	wait "$cpid"
	RB_CPU='' RB_WALL=0 RB_CPU1=''
	if [ "${n:-0}" -gt 0 ]; then
		rb_row MEM "$peer" "$r" \
		    "$(awk -v a="$rss0" -v b="$rss1" -v n="$n" 'BEGIN { printf "%.2f", (b - a) / n }')" \
		    "$n" "$(awk -v a="$fd0" -v b="$fd1" -v n="$n" 'BEGIN { printf "%.2f", (b - a) / n }')"
	else
		rb_row MEM "$peer" "$r" nan 0 nan
	fi
	# Let the proxy close everything before the next cell.
	sleep 2
}

# rb_cell WORKLOAD PEER ROUND
rb_cell() {
	case $1 in
	W1) rb_w1 "$2" "$3" ;;
	W2) rb_wrk "$2" "$3" W2 "$T_RR" ;;
	W3) rb_wrk "$2" "$3" W3 "$T_CONN" -H "Connection: close" ;;
	W5) case $2 in haproxy*) return 0 ;; esac
	    rb_w5 "$2" "$3" ;;
	W5L) case $2 in haproxy*) return 0 ;; esac
	    rb_w5 "$2" "$3" "$W5L_RATE" ;;
	esac
}

# --- main -----------------------------------------------------------------

rb_cleanup() {
	local rc=$?

	# Stopped processes cannot act on SIGTERM.
	[ -n "$KE_APISERVER_PID" ] && kill -CONT "$KE_APISERVER_PID" 2>/dev/null
	[ -n "$KE_ETCD_PID" ] && kill -CONT "$KE_ETCD_PID" 2>/dev/null
	(exit "$rc")
	ke_cleanup
}

kp_init relay
trap rb_cleanup EXIT
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
rb_tools
case " $PEERS " in
*" kube-proxy "*)
	KUBE_PROXY=${KUBE_PROXY:-$(ls -t "$KP_E2E_CACHE"/*/kube-proxy 2>/dev/null | head -n 1)}
	if [ -z "$KUBE_PROXY" ] || [ ! -x "$KUBE_PROXY" ]; then
		rb_log "no kube-proxy binary (run bench/build-kube-proxy.sh): peer dropped"
		PEERS=$(echo " $PEERS " | sed 's/ kube-proxy / /')
	fi
	;;
esac
rb_topology
rb_backends
for peer in $PEERS; do
	case $peer in
	kuproxy) rb_start_kuproxy ;;
	kube-proxy) rb_start_kubeproxy "$KUBE_PROXY" ;;
	haproxy | haproxy-splice)
		if ! kp_in "$NSA" iptables -w -t nat -S RB-PORTALS >/dev/null 2>&1; then
			kp_in "$NSA" iptables -w -t nat -N RB-PORTALS
			kp_in "$NSA" iptables -w -t nat -A PREROUTING -j RB-PORTALS
		fi
		if [ "$peer" = haproxy ]; then
			rb_haproxy haproxy 10000 "$VIP_HAPROXY"
			PID_HAPROXY=$RB_PID
		else
			rb_haproxy haproxy-splice 20000 "$VIP_HAPROXY_SPLICE" splice
			PID_HAPROXY_SPLICE=$RB_PID
		fi
		;;
	direct) kp_until 50 rb_ready "$POD_A" || kp_die "no answer from the backend" ;;
	*) kp_die "unknown peer $peer" ;;
	esac
done
# Proxies are up: the API server and etcd must not use CPU from now on.
[ -n "$KE_APISERVER_PID" ] && kill -STOP "$KE_APISERVER_PID"
[ -n "$KE_ETCD_PID" ] && kill -STOP "$KE_ETCD_PID"

if [ -n "$SETUP_ONLY" ]; then
	rb_log "namespaces: cli $KP_CLI, A $NSA, B $KP_NODE, pod $KP_POD"
	rb_log "pids: kuproxy $PID_KUPROXY kube-proxy $PID_KUBEPROXY haproxy $PID_HAPROXY haproxy-splice $PID_HAPROXY_SPLICE"
	rb_log "waiting $SETUP_ONLY s or until $KP_TMP/stop exists"
	kp_until $((SETUP_ONLY * 10)) test -e "$KP_TMP/stop"
	exit 0
fi
{
	echo "# relay.sh $(date -u +%FT%TZ) $(uname -r) $(nproc) CPUs" \
	    "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "# kuproxy $("$KUPROXY" --version 2>&1 | head -n 1)"
	[ -n "$PID_KUBEPROXY" ] && echo "# kube-proxy $("$KUBE_PROXY" --version 2>&1)"
	echo "# $(haproxy -v 2>&1 | head -n 1)"
	echo "# $(iperf3 --version | head -n 1); $(wrk -v 2>&1 | head -n 1); $(nginx -v 2>&1)"
	echo "# rounds $ROUNDS; W1 ${T_BULK}s W2 ${T_RR}s W3 ${T_CONN}s W5/W5L ${T_UDP}s; MEM $HOLD conns, once"
	echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$CSV.info"
echo "workload,peer,round,rate,work,cpu_s,wall_s,cpu1_pct,extra,x2,x3" >"$CSV"

# MEM first, once, on proxies that have not relayed anything yet: after
# other workloads their allocators reuse freed memory and the growth
# would read as zero.
case " $WORKLOADS " in
*" MEM "*)
	for peer in $PEERS; do
		rb_mem "$peer" 1
	done
	;;
esac
# Warm-up: a second of W2 through every peer.
for peer in $PEERS; do
	kp_cli timeout 20 taskset -c 0 wrk -t1 -c50 -d1s \
	    "http://$(rb_ip "$peer"):8080/" >/dev/null 2>&1
done
set -- $PEERS
for r in $(seq 1 "$ROUNDS"); do
	for w in $WORKLOADS; do
		[ "$w" = MEM ] && continue
		for peer in "$@"; do
			rb_cell "$w" "$peer" "$r"
		done
	done
	# Rotate the peer order for the next round.
	first=$1
	shift
	set -- "$@" "$first"
done
for peer in $PEERS; do
	pid=$(rb_pid "$peer")
	[ -z "$pid" ] || kill -0 "$pid" 2>/dev/null || rb_log "WARNING: $peer died during the run"
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$CSV.info"
cat "$CSV.info"
"$KP_PY" "$RB_HERE/relay-summary.py" "$CSV"
rb_log "raw results: $CSV (and $CSV.info)"
