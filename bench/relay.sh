#!/bin/bash
# relay.sh: data-plane benchmark of kuproxy's TCP and UDP relays against
# no proxy, the kernel's DNAT, HAProxy (mode tcp, with and without splice)
# and the real kube-proxy 1.20 --proxy-mode=userspace, all in the same
# run.  Root only; everything runs inside private network namespaces that
# the EXIT trap deletes.  Run by hand:
#
#   bench/relay.sh [--unpinned] [--shared] [--quick]
#                  [-r ROUNDS] [-p "PEERS"] [-w "WORKLOADS"] [-o CSV]
#                  [-b S] [-q S] [-c S] [-u S] [-l S] [-H N] [-s S]
#
#   --unpinned  the configuration a user runs: nothing pinned (proxies,
#       clients, backends), every proxy at its default threads (HAProxy
#       without nbthread or maxconn, kube-proxy without GOMAXPROCS), and
#       kuproxy twice, --workers 1 and --workers 2 (peers kuproxy-w1 and
#       kuproxy-w2; a binary without --workers runs as the one peer
#       "kuproxy", with a warning); -H 9900, peers "direct dnat
#       kuproxy-w1 kuproxy-w2 kube-proxy haproxy haproxy-splice",
#       workloads "W1 W2 W2L W3L W3 W5 W5L MEM" (the light probes
#       before W3, away from its connection churn)
#   --shared  also kuproxy-w2-shared: --workers 2 with the environment
#       KUPROXY_SHARED_LISTENER=1 (one listener shared by the workers)
#   --quick  a smoke run: 2 rounds of 1 s cells, -H 1000
#   -r  rounds (5); every cell runs once per round, peers interleaved and
#       their order rotated each round
#   -p  peers (direct kuproxy kube-proxy haproxy haproxy-splice); also
#       dnat, and kuproxy-wN[-shared] (--workers N [shared listener])
#   -w  workloads (W1 W2 W3 W5 W5L MEM); also W2L W3L
#   -o  CSV of every run (default /tmp/relay-bench-PID.csv, kept)
#   -b/-q/-c/-u/-l  seconds of W1 (5), W2 (3), W3 (3), W5 and W5L (4),
#       W2L, W3L and each MEM probe (3)
#   -H  connections held for MEM (2000; 9900 with --unpinned)
#   -s  set up only, print the namespaces and pids, and wait S seconds
#       (or until the stop file it names exists), for profiling by hand
#   Environment: RB_NS (namespace prefix, rb), RB_LOAD_CPUS (CPUs of the
#   clients and backends: 0; all with --unpinned), RB_PROXY_CPUS (CPUs of
#   the proxies: 1; all with --unpinned), KUPROXY, KUBE_PROXY.
#
# Topology (ID = this shell's PID):
#
#   rb-cli-ID 198.18.2.2 --- 198.18.2.1 rb-a-ID 198.18.1.1 --- 198.18.1.2
#     |       198.18.4.2 --- 198.18.4.1 rb-b-ID 198.18.3.1 --- 198.18.3.2
#     |       198.18.J.2 --- 198.18.J.1 rb-kI-ID 198.18.K.1 --- 198.18.K.2
#     | clients (CPU0)     kuproxy, HAProxy, DNAT (A)           rb-pod-ID
#     |                    kube-proxy, etcd, apiserver (B)      backends (CPU0)
#     |                    the I-th other kuproxy (kI, K = 8 + 2I, J = K + 1)
#
# The client always dials a ClusterIP in 198.19.0.0/16 and the proxy's
# iptables REDIRECT (PREROUTING, as for a pod's traffic) hands it to the
# proxy: the first kuproxy peer 198.19.0.10 (its own KUBE-PORTALS-CONTAINER
# rules, Service from a --services-file), the I-th further one 198.19.1.I
# in its own node namespace, kube-proxy 198.19.0.20 (its own rules;
# Service and Endpoints created in a real kube-apiserver 1.20 with curl),
# HAProxy 198.19.0.30 and splice HAProxy 198.19.0.31 (REDIRECT rules this
# script adds); "dnat" dials 198.19.0.40, which a DNAT rule in node A
# sends to the backend (as kube-proxy's iptables mode would).  "direct"
# dials the backend 198.18.1.2 through node A's routing.  Every kuproxy
# and kube-proxy gets a node namespace of its own because each owns the
# KUBE-PORTALS-* chains.  Ports: 5201 iperf3 (TCP and UDP), 8080 nginx
# `return 200`, 9000 an echo server (MEM).  Pinned (the default): proxies
# run with taskset -c 1 (HAProxy nbthread 1, GOMAXPROCS=1); clients and
# backends with -c 0.  etcd and kube-apiserver are stopped (SIGSTOP)
# while measuring so they take no CPU; kube-proxy keeps its synced state.
#
# Workloads: W1 iperf3 one TCP stream; W2 wrk -t1 -c50 keep-alive; W3 the
# same with "Connection: close" (both with wrk's p50/p99 latency, at
# saturation); W2L and W3L a light fixed load, one keep-alive request
# every ms and a new connection every 2 ms (relay-probe.py), for the
# p50/p99 latency a request sees on an idle proxy; W5 iperf3 -u -l 64
# -b 0 (no HAProxy: it has no UDP); W5L the same at 50,000 datagrams/s
# offered; MEM the proxy's RSS and fd growth with N idle connections (1
# KiB echoed on each first; measured once, first, on fresh proxies) and,
# while they are held, the W2L and W3L probes (rows MEM-W2L, MEM-W3L).
# A proxy is asked to hold no more connections than its file-descriptor
# limit allows (20,000 here, even for root): kube-proxy takes 6 fds per
# connection and panics on EMFILE, splice HAProxy reserves 2.5.  W5 and
# W5L also count the datagrams dropped at the proxy's socket and at the
# backend's.  Proxy CPU is utime+stime+cutime+cstime of /proc/PID/stat
# (all its threads) around each run, so CPU per request and per
# connection compare across thread counts.  Prints a Markdown summary
# (relay-summary.py); bench/relay-plot.sh CSV DIR draws it.  Needs
# iperf3, wrk, nginx and haproxy (installed with apt-get when missing)
# and, for the kube-proxy peer, bench/build-kube-proxy.sh and
# tests/e2e/build-apiserver.sh.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"

ROUNDS=5
PEERS="direct kuproxy kube-proxy haproxy haproxy-splice"
WORKLOADS="W1 W2 W3 W5 W5L MEM"
W5L_RATE=25600000		# 50,000 datagrams/s of 64 B
W2L_RATE=1000			# W2L keep-alive requests per second
W3L_RATE=500			# W3L new connections per second
CSV=/tmp/relay-bench-$$.csv
T_BULK=5
T_RR=3
T_CONN=3
T_UDP=4
T_LAT=3
HOLD=2000
SETUP_ONLY=
UNPINNED=0
SHARED=0
MODE=pinned
# Long options first; the short ones that follow override what they set.
rb_args=()
for a in "$@"; do
	case $a in
	--unpinned)
		UNPINNED=1
		MODE=unpinned
		PEERS="direct dnat kuproxy-w1 kuproxy-w2 kube-proxy haproxy haproxy-splice"
		WORKLOADS="W1 W2 W2L W3L W3 W5 W5L MEM"
		HOLD=9900
		;;
	--shared) SHARED=1 ;;
	--quick) QUICK=1 ;;
	--help) sed -n 2,39p "$0"; exit 0 ;;
	--*) echo "relay: unknown option $a" >&2; exit 2 ;;
	*) rb_args+=("$a") ;;
	esac
done
if [ -n "${QUICK:-}" ]; then
	ROUNDS=2 T_BULK=1 T_RR=1 T_CONN=1 T_UDP=1 T_LAT=1 HOLD=1000
	MODE="$MODE, quick"
fi
set -- "${rb_args[@]}"
while getopts r:p:w:o:b:q:c:u:l:H:s:h o; do
	case $o in
	r) ROUNDS=$OPTARG ;;
	p) PEERS=$OPTARG ;;
	w) WORKLOADS=$OPTARG ;;
	o) CSV=$OPTARG ;;
	b) T_BULK=$OPTARG ;;
	q) T_RR=$OPTARG ;;
	c) T_CONN=$OPTARG ;;
	u) T_UDP=$OPTARG ;;
	l) T_LAT=$OPTARG ;;
	H) HOLD=$OPTARG ;;
	s) SETUP_ONLY=$OPTARG ;;
	*) sed -n 2,39p "$0"; exit 2 ;;
	esac
done
[ "$SHARED" = 1 ] && PEERS="$PEERS kuproxy-w2-shared"
if [ "$UNPINNED" = 1 ]; then
	: "${RB_LOAD_CPUS=}" "${RB_PROXY_CPUS=}"
else
	: "${RB_LOAD_CPUS=0}" "${RB_PROXY_CPUS=1}"
fi
# The clients' and backends' pinning, as a command prefix.
RB_LOADSET=()
[ -n "$RB_LOAD_CPUS" ] && RB_LOADSET=(taskset -c "$RB_LOAD_CPUS")

RB_HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../tests/e2e/lib.sh
. "$RB_HERE/../tests/e2e/lib.sh"

# shellcheck disable=SC2034 # KP_*/KE_* are read by lib.sh
: "${RB_NS:=rb}"
NSA=$RB_NS-a-$$
KP_NODE=$RB_NS-b-$$		# lib.sh's etcd/apiserver helpers use KP_NODE
KP_POD=$RB_NS-pod-$$
KP_CLI=$RB_NS-cli-$$
# shellcheck disable=SC2034
KE_API_IP=198.18.4.1
POD_A=198.18.1.2
POD_B=198.18.3.2
VIP_KUPROXY=198.19.0.10
VIP_KUBEPROXY=198.19.0.20
VIP_HAPROXY=198.19.0.30
VIP_HAPROXY_SPLICE=198.19.0.31
VIP_DNAT=198.19.0.40
HZ=$(getconf CLK_TCK)
PID_KUBEPROXY=
# Per peer: the proxy's pid, the address the client dials and the node
# namespace it runs in.
declare -A RB_PIDOF RB_IPOF RB_NSOF
RB_NKUPROXY=0			# kuproxy peers started so far

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

# rb_bg NS CPUS LOG COMMAND...: start COMMAND in NS, pinned to CPUS
# unless CPUS is empty; sets RB_PID (ip netns exec and taskset exec, so
# it is COMMAND's pid).
rb_bg() {
	local ns=$1 cpu=$2 log=$3

	shift 3
	if [ -n "$cpu" ]; then
		ip netns exec "$ns" taskset -c "$cpu" "$@" >>"$log" 2>&1 &
	else
		ip netns exec "$ns" "$@" >>"$log" 2>&1 &
	fi
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
	rb_bg "$KP_POD" "$RB_LOAD_CPUS" "$d/stderr" nginx -c "$d/nginx.conf" -p "$d"
	rb_bg "$KP_POD" "$RB_LOAD_CPUS" "$KP_TMP/echo.log" "$KP_PY" \
	    "$RB_HERE/relay-hold.py" server 9000 3600
	kp_until 50 rb_listening "$KP_POD" t 8080 || kp_die "nginx did not start"
	kp_until 50 rb_listening "$KP_POD" t 9000 || kp_die "echo server did not start"
}

# rb_services_file VIP POD: the Service (iperf3 TCP+UDP, http, echo) at
# ClusterIP VIP with the endpoint POD, as kubectl would print it.
rb_services_file() {
	cat <<EOF
apiVersion: v1
kind: Service
metadata:
  name: bench
  namespace: default
spec:
  clusterIP: $1
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
  - ip: $2
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

# rb_ready VIP [PID]: an HTTP request to VIP:8080 from the client
# namespace answers "ok"; with PID, that process must be alive (kp_until
# gives up at once when it is not).
rb_ready() {
	if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then
		RB_DEAD=1
		return 0
	fi
	[ "$(kp_cli curl -s -m 1 "http://$1:8080/" 2>/dev/null)" = ok ]
}

# rb_wait_ready TENTHS VIP PID: wait until VIP answers; fails if PID
# exits first.
rb_wait_ready() {
	RB_DEAD=
	kp_until "$1" rb_ready "$2" "$3" && [ -z "$RB_DEAD" ]
}

# rb_kuproxy_node I: the I-th further kuproxy's node namespace
# $RB_NS-kI-ID, linked to the pod namespace (198.18.K.0/24, K = 8 + 2I)
# and to the client's (198.18.K+1.0/24, the route to its ClusterIP
# 198.19.1.I).  Sets RB_NODE_NS and RB_NODE_POD (the backend's address
# on that link).
rb_kuproxy_node() {
	local i=$1 k=$((8 + 2 * $1)) ns=$RB_NS-k$1-$$

	kp_netns_add "$ns" || kp_die "cannot create namespace $ns"
	kp_in "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1 \
	    net.ipv4.ip_local_port_range="1024 65535"
	rb_link "$ns" vpod "198.18.$k.1" "$KP_POD" "vk$i" "198.18.$k.2"
	rb_link "$ns" vcli "198.18.$((k + 1)).1" "$KP_CLI" "vk$i" \
	    "198.18.$((k + 1)).2"
	ip -n "$KP_CLI" route add "198.19.1.$i/32" via "198.18.$((k + 1)).1"
	# kuproxy takes the node IP from the default route.
	ip -n "$ns" route add default via "198.18.$((k + 1)).2"
	kp_until 30 kp_carrier "$ns" vpod || kp_die "no carrier in $ns"
	kp_until 30 kp_carrier "$ns" vcli || kp_die "no carrier in $ns"
	RB_NODE_NS=$ns
	RB_NODE_POD=198.18.$k.2
}

# rb_start_kuproxy PEER: kuproxy, kuproxy-wN or kuproxy-wN-shared
# (--workers N; -shared: KUPROXY_SHARED_LISTENER=1).  The first kuproxy
# peer runs in node A (198.19.0.10), each further one in a node
# namespace of its own (198.19.1.I).
rb_start_kuproxy() {
	local peer=$1 i=$RB_NKUPROXY ns=$NSA pod=$POD_A vip=$VIP_KUPROXY
	local args=() envs=() d=$KP_TMP/$1 n

	case $peer in
	kuproxy-w*)
		n=${peer#kuproxy-w}
		args=(--workers "${n%-shared}")
		;;
	esac
	case $peer in
	*-shared) envs=(KUPROXY_SHARED_LISTENER=1) ;;
	esac
	if [ "$i" -gt 0 ]; then
		rb_kuproxy_node "$i"
		ns=$RB_NODE_NS pod=$RB_NODE_POD vip=198.19.1.$i
	fi
	RB_NKUPROXY=$((i + 1))
	mkdir -p "$d/state"
	rb_services_file "$vip" "$pod" >"$d/services.yaml"
	rb_bg "$ns" "$RB_PROXY_CPUS" "$d/kuproxy.log" env "${envs[@]}" \
	    "$KUPROXY" "${args[@]}" --services-file "$d/services.yaml" \
	    --bind-address 0.0.0.0 --metrics-bind-address 127.0.0.1:10249 \
	    --healthz-bind-address 127.0.0.1:10256 --state-dir "$d/state"
	RB_PIDOF[$peer]=$RB_PID RB_IPOF[$peer]=$vip RB_NSOF[$peer]=$ns
	if [ "$i" -eq 0 ]; then
		# shellcheck disable=SC2034 # ke_cleanup stops it gracefully
		KP_PID=$RB_PID KP_LOG=$d/kuproxy.log
	fi
	rb_wait_ready 100 "$vip" "$RB_PID" ||
	    kp_die "no answer through $peer (log: $d/kuproxy.log: $(tail -n 1 "$d/kuproxy.log"))"
}

# rb_haproxy NAME PORTBASE VIP [splice]: an HAProxy of our own (never
# the system service) on PORTBASE+{5201,8080,9000}, reached through
# REDIRECT rules from VIP in chain RB-PORTALS; sets RB_PID.
rb_haproxy() {
	local name=$1 base=$2 vip=$3 cfg=$KP_TMP/$1.cfg port

	{
		echo global
		# Unpinned: HAProxy's defaults (a thread per CPU, maxconn from
		# the fd limit: 9,986 plain, 7,988 with splice at 20,000 fds).
		[ "$UNPINNED" = 1 ] || printf '\tnbthread 1\n\tmaxconn 6000\n'
		cat <<EOF
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
	rb_bg "$NSA" "$RB_PROXY_CPUS" "$KP_TMP/$name.log" haproxy -db -f "$cfg"
	RB_PIDOF[$name]=$RB_PID RB_IPOF[$name]=$vip RB_NSOF[$name]=$NSA
	for port in 5201 8080 9000; do
		kp_in "$NSA" iptables -w -t nat -A RB-PORTALS -d "$vip/32" -p tcp \
		    --dport "$port" -j REDIRECT --to-ports $((base + port)) ||
		    kp_die "iptables REDIRECT for $name"
	done
	rb_wait_ready 100 "$vip" "$RB_PID" || kp_die "no answer through $name"
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
	local envs=(GOMAXPROCS=1)

	[ "$UNPINNED" = 1 ] && envs=()
	rb_bg "$KP_NODE" "$RB_PROXY_CPUS" "$KP_TMP/kube-proxy.log" env \
	    "${envs[@]}" "$kpbin" \
	    --proxy-mode=userspace --feature-gates=EndpointSliceProxying=false \
	    --kubeconfig "$KP_TMP/kubeconfig" \
	    --hostname-override "$KE_NODE_NAME" --bind-address 0.0.0.0 \
	    --healthz-bind-address 127.0.0.1:10256 \
	    --metrics-bind-address 127.0.0.1:10249 \
	    --conntrack-max-per-core 0
	PID_KUBEPROXY=$RB_PID
	RB_PIDOF[kube-proxy]=$RB_PID RB_IPOF[kube-proxy]=$VIP_KUBEPROXY
	RB_NSOF[kube-proxy]=$KP_NODE
	rb_wait_ready 300 "$VIP_KUBEPROXY" "$RB_PID" ||
	    kp_die "no answer through kube-proxy (log: $KP_TMP/kube-proxy.log)"
}

# --- measuring ----------------------------------------------------------

rb_ticks() {
	[ -n "$1" ] || { echo 0; return; }
	awk '{ print $14 + $15 + $16 + $17 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
# rb_cpu1: "busy total" jiffies of CPU1 (pinned) or of all CPUs.
RB_CPULINE='cpu1 '
[ "$UNPINNED" = 1 ] && RB_CPULINE='cpu '
rb_cpu1() { awk -v l="^$RB_CPULINE" '$0 ~ l { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
rb_now() { date +%s.%N; }

rb_pid() { echo "${RB_PIDOF[$1]:-}"; }
rb_ip() { echo "${RB_IPOF[$1]:-}"; }

# rb_measure PEER OUTFILE COMMAND...: run COMMAND (stdout to OUTFILE) and
# set RB_CPU (proxy CPU seconds), RB_WALL, RB_CPU1 (CPU1 busy %, or all
# CPUs' when unpinned).
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

# rb_row WORKLOAD PEER ROUND RATE WORK EXTRA [X2 X3 [P50 P99]]: append
# to the CSV (latencies in ms).
rb_row() {
	echo "$1,$2,$3,$4,$5,$RB_CPU,$RB_WALL,$RB_CPU1,$6,${7:-},${8:-},${9:-},${10:-}" >>"$CSV"
	rb_log "$(printf '%-7s %-17s round %s: %s (work %s, proxy CPU %ss in %ss, CPU %s%%, extra %s %s %s, p50/p99 %s/%s ms)' \
	    "$1" "$2" "$3" "$4" "$5" "${RB_CPU:--}" "$RB_WALL" "$RB_CPU1" "$6" "${7:-}" "${8:-}" "${9:--}" "${10:--}")"
}

# A one-shot iperf3 server in the pod namespace.
rb_iperf_server() {
	rb_bg "$KP_POD" "$RB_LOAD_CPUS" "$KP_TMP/iperf3-server.log" timeout -k 2 60 \
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

# rb_json FILE EXPR...: evaluate Python expressions on the JSON as d,
# one line each (empty when one fails); one interpreter for them all.
rb_json() {
	"$KP_PY" -c 'import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception:
    d = None
for e in sys.argv[2:]:
    try:
        print(eval(e))
    except Exception:
        print("")' "$@"
}

rb_w1() {
	local peer=$1 r=$2 o=$KP_TMP/w1.json v

	rb_iperf_server
	rb_measure "$peer" "$o" kp_cli timeout -k 2 $((T_BULK + 20)) \
	    "${RB_LOADSET[@]}" iperf3 -c "$(rb_ip "$peer")" -p 5201 -t "$T_BULK" -J
	rb_iperf_server_done
	mapfile -t v < <(rb_json "$o" \
	    '"%.3f" % (d["end"]["sum_received"]["bits_per_second"] / 1e9)' \
	    'd["end"]["sum_received"]["bytes"]' \
	    'd["end"]["sum_sent"].get("retransmits", "")')
	rb_row W1 "$peer" "$r" "${v[0]}" "${v[1]}" "${v[2]}"
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
	local peer=$1 r=$2 rate=${3:-0} o=$KP_TMP/w5.json w=W5 ns
	local n0 n1 p0 p1 v

	[ "$rate" = 0 ] || w=W5L
	ns=${RB_NSOF[$peer]:-$NSA}
	rb_iperf_server
	n0=$(rb_udpstat "$ns")
	p0=$(rb_udpstat "$KP_POD")
	rb_measure "$peer" "$o" kp_cli timeout -k 2 $((T_UDP + 20)) \
	    "${RB_LOADSET[@]}" iperf3 -c "$(rb_ip "$peer")" -p 5201 -u -l 64 \
	    -b "$rate" -t "$T_UDP" -J
	n1=$(rb_udpstat "$ns")
	p1=$(rb_udpstat "$KP_POD")
	rb_iperf_server_done
	# sent, delivered/s, delivered, loss %
	mapfile -t v < <(rb_json "$o" 'd["end"]["sum"]["packets"]' \
	    '"%.0f" % ((d["end"]["sum"]["packets"] - d["end"]["sum"]["lost_packets"]) / d["end"]["sum"]["seconds"])' \
	    'd["end"]["sum"]["packets"] - d["end"]["sum"]["lost_packets"]' \
	    '"%.2f" % d["end"]["sum"]["lost_percent"]')
	rb_row "$w" "$peer" "$r" "${v[1]}" "${v[2]}" "${v[3]}" \
	    "$(echo "$n0 $n1" | awk -v s="${v[0]}" '{ printf "%.2f", s ? 100 * ($4 - $2) / s : 0 }')" \
	    "$(echo "$p0 $p1" | awk -v s="${v[0]}" '{ printf "%.2f", s ? 100 * ($4 - $2) / s : 0 }')"
}

# rb_wrk_pct FILE PCT: wrk --latency's percentile line ("99%  1.52ms")
# in ms.
rb_wrk_pct() {
	awk -v p="$2%" '$1 == p { v = $2; m = 1
	    if (v ~ /us$/) m = 0.001; else if (v ~ /ms$/) m = 1;
	    else if (v ~ /m$/) m = 60000; else if (v ~ /s$/) m = 1000
	    sub(/[a-z]+$/, "", v); printf "%.3f", v * m }' "$1"
}

# rb_wrk PEER ROUND WORKLOAD SECONDS [wrk args]: W2 and W3: requests/s,
# errors (socket errors and non-2xx answers) and wrk's p50/p99 latency.
rb_wrk() {
	local peer=$1 r=$2 w=$3 secs=$4 o=$KP_TMP/wrk.out reqs rate extra

	shift 4
	rb_measure "$peer" "$o" kp_cli timeout -k 2 $((secs + 20)) \
	    "${RB_LOADSET[@]}" wrk -t1 -c50 -d"${secs}s" --latency "$@" \
	    "http://$(rb_ip "$peer"):8080/"
	reqs=$(awk '/requests in/ { print $1 }' "$o")
	rate=$(awk '/^Requests\/sec:/ { print $2 }' "$o")
	extra=$(awk '/Socket errors/ { gsub(",", ""); n += $4 + $6 + $8 + $10 }
	    /Non-2xx/ { n += $NF } END { print n + 0 }' "$o")
	rb_row "$w" "$peer" "$r" "$rate" "$reqs" "$extra" "" "" \
	    "$(rb_wrk_pct "$o" 50)" "$(rb_wrk_pct "$o" 99)"
}

# rb_probe PEER ROUND WORKLOAD: W2L (keep-alive) or W3L (a new
# connection per request) at a light fixed rate, T_LAT seconds, with
# relay-probe.py; rows: achieved rate, answered, errors, late sends,
# the maximum, p50, p99 (ms).  WORKLOAD may be MEM-W2L or MEM-W3L (the same while MEM's
# connections are held).
rb_probe() {
	local peer=$1 r=$2 w=$3 o=$KP_TMP/probe.json mode=keepalive rate=$W2L_RATE v

	case $w in
	*W3L) mode=conn rate=$W3L_RATE ;;
	esac
	rb_measure "$peer" "$o" kp_cli timeout -k 2 $((T_LAT + 15)) \
	    "${RB_LOADSET[@]}" "$KP_PY" "$RB_HERE/relay-probe.py" "$mode" \
	    "$(rb_ip "$peer")" 8080 "$rate" "$T_LAT"
	mapfile -t v < <(rb_json "$o" 'd["rate"]' 'd["n"]' 'd["errors"]' \
	    'd["late"]' 'd["max_ms"]' 'd["p50_ms"]' 'd["p99_ms"]')
	rb_row "$w" "$peer" "$r" "${v[0]}" "${v[1]}" "${v[2]}" "${v[3]}" \
	    "${v[4]}" "${v[5]}" "${v[6]}"
}

rb_rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
rb_nfds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }
rb_nofile() { awk '/^Max open files/ { print $4 }' "/proc/$1/limits"; }

# rb_hold_max PEER PID FDS: how many idle connections PEER can hold with
# FDS fds open and its RLIMIT_NOFILE: kube-proxy takes 6 fds per
# connection and panics on EMFILE; HAProxy with splice reserves a pipe
# (2 fds) per 4 connections; the others take 2.  100 fds kept spare.
rb_hold_max() {
	local per=2 lim

	case $1 in
	kube-proxy) per=6 ;;
	haproxy-splice) per=2.5 ;;
	esac
	lim=$(rb_nofile "$2")
	awk -v l="${lim:-1024}" -v f="$3" -v p="$per" \
	    'BEGIN { n = int((l - f - 100) / p); print (n > 0 ? n : 0) }'
}

# MEM: RSS and fd growth of the proxy while HOLD connections (or as many
# as its fd limit allows) are open, then the W2L and W3L probes through
# it while they are held.
rb_mem() {
	local peer=$1 r=$2 pid ready=$KP_TMP/hold.ready rel=$KP_TMP/hold.release
	local rss0 fd0 rss1 fd1 n cpid want max

	pid=$(rb_pid "$peer")
	[ -n "$pid" ] || return 0
	rm -f "$ready" "$rel"
	sleep 1
	rss0=$(rb_rss "$pid")
	fd0=$(rb_nfds "$pid")
	want=$HOLD
	max=$(rb_hold_max "$peer" "$pid" "$fd0")
	if [ "$max" -lt "$want" ]; then
		rb_log "MEM $peer: $max connections, not $HOLD (its fd limit $(rb_nofile "$pid"))"
		want=$max
	fi
	ip netns exec "$KP_CLI" "${RB_LOADSET[@]}" timeout -k 2 150 "$KP_PY" \
	    "$RB_HERE/relay-hold.py" client "$(rb_ip "$peer"):9000" "$want" \
	    "$ready" "$rel" 120 100 >>"$KP_TMP/hold.log" 2>&1 &
	cpid=$!
	kp_until 900 test -e "$ready"
	sleep 1
	rss1=$(rb_rss "$pid")
	fd1=$(rb_nfds "$pid")
	n=$(cat "$ready" 2>/dev/null || echo 0)
	RB_CPU='' RB_WALL=0 RB_CPU1=''
	if [ "${n:-0}" -gt 0 ]; then
		rb_row MEM "$peer" "$r" \
		    "$(awk -v a="$rss0" -v b="$rss1" -v n="$n" 'BEGIN { printf "%.2f", (b - a) / n }')" \
		    "$n" "$(awk -v a="$fd0" -v b="$fd1" -v n="$n" 'BEGIN { printf "%.2f", (b - a) / n }')"
	else
		rb_row MEM "$peer" "$r" nan 0 nan
	fi
	case " $WORKLOADS " in
	*" W2L "* | *" W3L "*)
		if kill -0 "$cpid" 2>/dev/null; then
			rb_probe "$peer" "$r" MEM-W2L
			rb_probe "$peer" "$r" MEM-W3L
		fi
		;;
	esac
	touch "$rel"
	wait "$cpid"
	# Let the proxy close everything before the next cell.
	sleep 2
}

# rb_cell WORKLOAD PEER ROUND
rb_cell() {
	case $1 in
	W1) rb_w1 "$2" "$3" ;;
	W2) rb_wrk "$2" "$3" W2 "$T_RR" ;;
	W3) rb_wrk "$2" "$3" W3 "$T_CONN" -H "Connection: close" ;;
	W2L | W3L) rb_probe "$2" "$3" "$1" ;;
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

# rb_peers: PEERS as this kuproxy binary can run them: without
# --workers, the kuproxy-wN peers become the one peer "kuproxy".
rb_peers() {
	local out="" p

	"$KUPROXY" --help 2>&1 | grep -q -- --workers && return 0
	for p in $PEERS; do
		case $p in
		kuproxy-w*)
			rb_log "WARNING: $KUPROXY has no --workers: peer $p runs as \"kuproxy\" (one loop)"
			p=kuproxy
			;;
		esac
		case " $out " in *" $p "*) continue ;; esac
		out="$out $p"
	done
	PEERS=${out# }
}

# rb_threads PID: the number of threads of PID.
rb_threads() { find "/proc/$1/task" -mindepth 1 -maxdepth 1 | wc -l; }

RB_START=$(date +%s)
kp_init relay
trap rb_cleanup EXIT
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
rb_tools
for peer in $PEERS; do
	case $peer in
	direct | dnat | kube-proxy | haproxy | haproxy-splice) ;;
	kuproxy*)
		echo "$peer" | grep -Eq '^kuproxy(-w[0-9]+)?(-shared)?$' ||
		    kp_die "unknown peer $peer"
		;;
	*) kp_die "unknown peer $peer" ;;
	esac
done
rb_peers
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
	kuproxy*) rb_start_kuproxy "$peer" ;;
	kube-proxy) rb_start_kubeproxy "$KUBE_PROXY" ;;
	haproxy | haproxy-splice | dnat)
		if ! kp_in "$NSA" iptables -w -t nat -S RB-PORTALS >/dev/null 2>&1; then
			kp_in "$NSA" iptables -w -t nat -N RB-PORTALS
			kp_in "$NSA" iptables -w -t nat -A PREROUTING -j RB-PORTALS
		fi
		case $peer in
		haproxy) rb_haproxy haproxy 10000 "$VIP_HAPROXY" ;;
		haproxy-splice)
			rb_haproxy haproxy-splice 20000 "$VIP_HAPROXY_SPLICE" splice
			;;
		dnat)
			kp_in "$NSA" iptables -w -t nat -A RB-PORTALS \
			    -d "$VIP_DNAT/32" -j DNAT --to-destination "$POD_A" ||
			    kp_die "iptables DNAT"
			RB_IPOF[dnat]=$VIP_DNAT RB_NSOF[dnat]=$NSA
			kp_until 50 rb_ready "$VIP_DNAT" || kp_die "no answer through DNAT"
			;;
		esac
		;;
	direct)
		RB_IPOF[direct]=$POD_A RB_NSOF[direct]=$NSA
		kp_until 50 rb_ready "$POD_A" || kp_die "no answer from the backend"
		;;
	esac
done
# Proxies are up: the API server and etcd must not use CPU from now on.
[ -n "$KE_APISERVER_PID" ] && kill -STOP "$KE_APISERVER_PID"
[ -n "$KE_ETCD_PID" ] && kill -STOP "$KE_ETCD_PID"

if [ -n "$SETUP_ONLY" ]; then
	rb_log "namespaces: cli $KP_CLI, A $NSA, B $KP_NODE, pod $KP_POD"
	for peer in $PEERS; do
		rb_log "peer $peer: ${RB_IPOF[$peer]} in ${RB_NSOF[$peer]}, pid ${RB_PIDOF[$peer]:--}"
	done
	rb_log "waiting $SETUP_ONLY s or until $KP_TMP/stop exists"
	kp_until $((SETUP_ONLY * 10)) test -e "$KP_TMP/stop"
	exit 0
fi
{
	echo "# relay.sh $(date -u +%FT%TZ) $(uname -r) $(nproc) CPUs" \
	    "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "# mode $MODE; proxies on CPUs ${RB_PROXY_CPUS:-all}, clients and backends on ${RB_LOAD_CPUS:-all}; cpu1_pct is the busy % of ${RB_CPULINE% }"
	echo "# kuproxy $("$KUPROXY" --version 2>&1 | head -n 1) ($KUPROXY)"
	[ -n "$PID_KUBEPROXY" ] && echo "# kube-proxy $("$KUBE_PROXY" --version 2>&1)"
	echo "# $(haproxy -v 2>&1 | head -n 1)"
	echo "# $(iperf3 --version | head -n 1); $(wrk -v 2>&1 | head -n 1); $(nginx -v 2>&1)"
	echo "# peers $PEERS"
	echo "# workloads $WORKLOADS"
	echo "# rounds $ROUNDS; W1 ${T_BULK}s W2 ${T_RR}s W3 ${T_CONN}s W5/W5L ${T_UDP}s W2L/W3L ${T_LAT}s at $W2L_RATE/$W3L_RATE per s; MEM $HOLD conns, once"
	for peer in $PEERS; do
		pid=$(rb_pid "$peer")
		[ -n "$pid" ] && echo "# threads at start: $peer $(rb_threads "$pid")"
	done
	echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$CSV.info"
echo "workload,peer,round,rate,work,cpu_s,wall_s,cpu1_pct,extra,x2,x3,p50_ms,p99_ms" >"$CSV"
RB_T0=$(date +%s)
echo "# set-up took $((RB_T0 - RB_START)) s" >>"$CSV.info"

# MEM first, once, on proxies that have not relayed anything yet: after
# other workloads their allocators reuse freed memory and the growth
# would read as zero.
case " $WORKLOADS " in
*" MEM "*)
	for peer in $PEERS; do
		rb_mem "$peer" 1
	done
	echo "# MEM took $(($(date +%s) - RB_T0)) s" >>"$CSV.info"
	;;
esac
# Warm-up: a second of W2 through every peer.
for peer in $PEERS; do
	kp_cli timeout 20 "${RB_LOADSET[@]}" wrk -t1 -c50 -d1s \
	    "http://$(rb_ip "$peer"):8080/" >/dev/null 2>&1
done
set -- $PEERS
for r in $(seq 1 "$ROUNDS"); do
	t=$(date +%s)
	for w in $WORKLOADS; do
		[ "$w" = MEM ] && continue
		for peer in "$@"; do
			rb_cell "$w" "$peer" "$r"
		done
	done
	echo "# round $r took $(($(date +%s) - t)) s" >>"$CSV.info"
	rb_log "round $r of $ROUNDS took $(($(date +%s) - t)) s"
	# Rotate the peer order for the next round.
	first=$1
	shift
	set -- "$@" "$first"
done
for peer in $PEERS; do
	pid=$(rb_pid "$peer")
	[ -z "$pid" ] && continue
	if kill -0 "$pid" 2>/dev/null; then
		echo "# threads at end: $peer $(rb_threads "$pid")" >>"$CSV.info"
	else
		rb_log "WARNING: $peer died during the run"
		echo "# WARNING: $peer died during the run" >>"$CSV.info"
	fi
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg); measured for $(($(date +%s) - RB_T0)) s" >>"$CSV.info"
cat "$CSV.info"
"$KP_PY" "$RB_HERE/relay-summary.py" "$CSV"
rb_log "raw results: $CSV (and $CSV.info)"
