# lib.sh: shared helpers for kuproxy's root-only integration tests.
#
# A test sources this file, calls kp_init <name>, then kp_topology, starts
# backends and kuproxy, and asserts.  Everything it creates (network
# namespaces, processes, a temporary directory) is removed by an EXIT
# trap, also on failure.  Nothing is added to the root namespace: veth
# pairs are created directly inside the test's own namespaces.
#
# Topology (ID = this shell's PID, so parallel runs do not collide):
#
#   kp-cli-ID  198.18.2.2, .3 --veth-- 198.18.2.1  kp-node-ID  198.18.1.1
#                                                      |veth
#                                  kp-pod-ID  198.18.1.2, .3, .4
#
# Exit codes: 0 pass, 1 fail, 77 skip.

KP_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KP_SRCDIR=$(cd "$KP_HERE/../.." && pwd)
: "${KUPROXY:=$KP_SRCDIR/kuproxy}"

KP_ID=$$
KP_NODE=kp-node-$KP_ID
KP_POD=kp-pod-$KP_ID
KP_CLI=kp-cli-$KP_ID
KP_NODE_IP=198.18.2.1		# the node's address as the client sees it
KP_NODE_POD_IP=198.18.1.1	# the node's address on the pod side
KP_CLI_IP=198.18.2.2
KP_CLI_IP2=198.18.2.3
KP_POD_IPS="198.18.1.2 198.18.1.3 198.18.1.4"
KP_METRICS=127.0.0.1:10249	# inside the node namespace
KP_HEALTHZ=127.0.0.1:10256
KP_URL=http://$KP_METRICS/debug/services

KP_NAME=
KP_TMP=
KP_NSES=
KP_PIDS=
KP_PID=			# kuproxy's pid
KP_LOG=			# kuproxy's stderr
KP_SVCFILE=
KP_FAILS=0

# KP_MINCAPS=1 (the default): kuproxy runs with only the capabilities it
# needs, CAP_NET_ADMIN, CAP_NET_RAW and CAP_NET_BIND_SERVICE, in its
# effective, permitted, inheritable, ambient and bounding sets (still uid
# 0, as a DaemonSet container is), so every test that starts it through
# kp_start or "${KP_CAPWRAP[@]}" also proves it needs no more; its
# iptables and conntrack children inherit the same three.  KP_MINCAPS=0
# runs it with all of root's.
: "${KP_MINCAPS:=1}"
KP_CAPS=+net_admin,+net_raw,+net_bind_service
KP_CAPWRAP=()
if [ "$KP_MINCAPS" = 1 ]; then
	KP_CAPWRAP=(setpriv "--inh-caps=-all,$KP_CAPS"
	    "--ambient-caps=-all,$KP_CAPS" "--bounding-set=-all,$KP_CAPS" --)
fi

# Python without the pyenv shim's start-up cost on every call.
KP_PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || echo python3)

kp_log() { printf '%s: %s\n' "$KP_NAME" "$*" >&2; }

# Record a failed assertion; the test goes on and kp_finish reports it.
kp_fail() {
	KP_FAILS=$((KP_FAILS + 1))
	printf 'FAIL: %s: %s\n' "$KP_NAME" "$*" >&2
}

# Stop right now with a failure (setup problems, dead daemon).
kp_die() {
	kp_fail "$*"
	exit 1
}

kp_ok() { printf 'ok: %s: %s\n' "$KP_NAME" "$*" >&2; }

# kp_check DESCRIPTION COMMAND...: run a test command, record the result.
kp_check() {
	local what=$1
	shift
	if "$@"; then
		kp_ok "$what"
	else
		kp_fail "$what"
	fi
}

# kp_eq DESCRIPTION EXPECTED GOT
kp_eq() {
	if [ "$2" = "$3" ]; then
		kp_ok "$1 ($3)"
	else
		kp_fail "$1: expected '$2', got '$3'"
	fi
}

# Exit with the test's verdict.
kp_finish() {
	if [ "$KP_FAILS" -ne 0 ]; then
		printf 'FAIL: %s (%d failed checks)\n' "$KP_NAME" "$KP_FAILS"
		exit 1
	fi
	printf 'PASS: %s\n' "$KP_NAME"
	exit 0
}

# Remove everything this test created.  Runs from the EXIT trap.
kp_cleanup() {
	local rc=$? pid ns i

	trap - EXIT INT TERM HUP
	for pid in $KP_PIDS; do
		kill -TERM "$pid" 2>/dev/null
	done
	for i in 1 2 3 4 5 6 7 8 9 10; do
		for pid in $KP_PIDS; do
			kill -0 "$pid" 2>/dev/null && break
			pid=
		done
		[ -z "$pid" ] && break
		sleep 0.1
	done
	for pid in $KP_PIDS; do
		kill -KILL "$pid" 2>/dev/null
	done
	# Anything else still running inside our own namespaces.
	for ns in $KP_NSES; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
	done
	for ns in $KP_NSES; do
		ip netns del "$ns" 2>/dev/null
	done
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -n "$KP_LOG" ] &&
	    [ -s "$KP_LOG" ]; then
		echo "--- last lines of kuproxy's log ($KP_LOG) ---" >&2
		tail -n 25 "$KP_LOG" >&2
	fi
	[ -n "$KP_TMP" ] && [ -z "$KP_KEEP" ] && rm -rf "$KP_TMP"
	exit "$rc"
}

# kp_init NAME: skip unless root, set up the trap and a temporary dir.
kp_init() {
	KP_NAME=$1
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: $KP_NAME (needs root)"
		exit 77
	fi
	if [ ! -x "$KUPROXY" ]; then
		echo "FAIL: $KP_NAME: kuproxy binary '$KUPROXY' not found"
		exit 1
	fi
	if [ "$KP_MINCAPS" = 1 ] && ! command -v setpriv >/dev/null 2>&1; then
		echo "FAIL: $KP_NAME: KP_MINCAPS=1 needs setpriv (util-linux)"
		exit 1
	fi
	for tool in ip "$KP_PY" curl timeout; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			echo "SKIP: $KP_NAME (needs $tool)"
			exit 77
		fi
	done
	KP_TMP=$(mktemp -d "/tmp/kp-$KP_NAME.XXXXXX") || exit 1
	trap kp_cleanup EXIT
	trap 'exit 1' INT TERM HUP
}

# Run a command in a namespace.
kp_in() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}
kp_node() { kp_in "$KP_NODE" "$@"; }
kp_pod() { kp_in "$KP_POD" "$@"; }
kp_cli() { kp_in "$KP_CLI" "$@"; }

# Run client.py in a namespace: kp_client NS SUBCOMMAND ARGS...
# Killed after $KP_CLIENT_TIMEOUT seconds (default 120) whatever happens.
kp_client() {
	local ns=$1
	shift
	timeout -k 5 "${KP_CLIENT_TIMEOUT:-120}" \
	    ip netns exec "$ns" "$KP_PY" "$KP_HERE/client.py" "$@"
}

# Create a namespace and remember it for cleanup.
kp_netns_add() {
	ip netns add "$1" || return 1
	KP_NSES="$KP_NSES $1"
	ip -n "$1" link set lo up
}

# Build the three namespaces and their veth links.
kp_topology() {
	local ip

	if ! kp_netns_add "$KP_NODE"; then
		echo "SKIP: $KP_NAME (cannot create network namespaces)"
		exit 77
	fi
	kp_netns_add "$KP_POD" || kp_die "ip netns add $KP_POD"
	kp_netns_add "$KP_CLI" || kp_die "ip netns add $KP_CLI"

	# veth pairs are born inside the node namespace, the far end moved
	# straight into its own namespace: the root namespace never sees them.
	ip -n "$KP_NODE" link add vpod type veth peer name vnode \
	    netns "$KP_POD" || kp_die "veth node<->pod"
	ip -n "$KP_NODE" link add vcli type veth peer name vnode \
	    netns "$KP_CLI" || kp_die "veth node<->cli"

	ip -n "$KP_NODE" addr add "$KP_NODE_POD_IP/24" dev vpod
	ip -n "$KP_NODE" addr add "$KP_NODE_IP/24" dev vcli
	ip -n "$KP_NODE" link set vpod up
	ip -n "$KP_NODE" link set vcli up
	ip -n "$KP_NODE" route add default via "$KP_CLI_IP"
	kp_node sysctl -qw net.ipv4.ip_forward=1

	for ip in $KP_POD_IPS; do
		ip -n "$KP_POD" addr add "$ip/24" dev vnode
	done
	ip -n "$KP_POD" link set vnode up
	ip -n "$KP_POD" route add default via "$KP_NODE_POD_IP"

	ip -n "$KP_CLI" addr add "$KP_CLI_IP/24" dev vnode
	ip -n "$KP_CLI" addr add "$KP_CLI_IP2/24" dev vnode
	ip -n "$KP_CLI" link set vnode up
	ip -n "$KP_CLI" route add 198.18.1.0/24 via "$KP_NODE_IP"
	ip -n "$KP_CLI" route add 198.19.0.0/16 via "$KP_NODE_IP"

	# Wait for carrier on both ends of both links (there is no ping here;
	# the first backend round trip proves reachability).
	kp_until 30 kp_carrier "$KP_NODE" vpod || kp_die "no carrier on vpod"
	kp_until 30 kp_carrier "$KP_NODE" vcli || kp_die "no carrier on vcli"
	kp_until 30 kp_carrier "$KP_POD" vnode || kp_die "no carrier in pod ns"
	kp_until 30 kp_carrier "$KP_CLI" vnode || kp_die "no carrier in cli ns"
}

# kp_carrier NS DEV: is the link up with carrier?
kp_carrier() {
	local l

	l=$(ip -n "$1" -o link show dev "$2" 2>/dev/null) || return 1
	case $l in
	*NO-CARRIER*) return 1 ;;
	*LOWER_UP*) return 0 ;;
	esac
	return 1
}

# Wait (bounded) until a file exists.
kp_wait_file() {
	local f=$1 tries=${2:-50}

	while [ "$tries" -gt 0 ]; do
		[ -e "$f" ] && return 0
		sleep 0.1
		tries=$((tries - 1))
	done
	return 1
}

# kp_backend MODE [--udp|--no-tcp] ID@IP:PORT...: start backend.py in the
# pod namespace and wait until it listens.  Sets KP_BACKEND_PID.
kp_backend() {
	local mode=$1 ready
	shift
	local args=()

	while [ $# -gt 0 ]; do
		case $1 in
		--*) args+=("$1") ;;
		*) args+=(--listen "$1") ;;
		esac
		shift
	done
	ready=$(mktemp -u "$KP_TMP/backend-ready.XXXXXX")
	ip netns exec "$KP_POD" "$KP_PY" "$KP_HERE/backend.py" \
	    --mode "$mode" --ready-file "$ready" "${args[@]}" \
	    >>"$KP_TMP/backend.log" 2>&1 &
	KP_BACKEND_PID=$!
	KP_PIDS="$KP_PIDS $KP_BACKEND_PID"
	kp_wait_file "$ready" 50 || kp_die "backend ($mode ${args[*]}) did not start"
}

# kp_gone PID: has the process exited (and been reaped)?
kp_gone() { ! kill -0 "$1" 2>/dev/null; }

# kp_backend_stop PID: stop one backend.py started by kp_backend the way a
# draining pod stops (SIGUSR2: new SYNs dropped, the handshakes in flight
# accepted, the listeners closed so new connects are refused, the
# accepted connections served to their end), wait until it has exited
# (12 s at most, then SIGKILL) and forget its pid.  No connection the
# backend's kernel already accepted is reset, so a client failure seen
# around the stop is the proxy's.  Not in $(...): the backend must be a
# child of this shell.
kp_backend_stop() {
	local pid=$1

	kill -USR2 "$pid" 2>/dev/null
	if ! kp_until 120 kp_gone "$pid"; then
		kp_log "backend $pid did not drain within 12 s: killed"
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	KP_PIDS=$(echo " $KP_PIDS " | sed "s/ $pid / /")
}

# Services file helpers: print v1 objects the way kubectl prints them.
# kp_svc NAME CLUSTERIP PORT PROTO [TARGETPORT [AFFINITY_TIMEOUT|-]]
# The port is named "p"; AFFINITY_TIMEOUT "-" means ClientIP affinity
# with the default timeout, a number sets timeoutSeconds; absent: None.
kp_svc() {
	kp_svc_x "$1" "$2" "$3" "$4" "${5:-$3}" ${6:+"affinity=$6"}
}

# kp_eps NAME PORT PROTO [IP...]: an Endpoints object (no IPs: no subsets).
kp_eps() {
	local name=$1 port=$2 proto=$3 ip
	shift 3

	cat <<EOF
---
apiVersion: v1
kind: Endpoints
metadata:
  name: $name
  namespace: default
  labels:
    app: $name
EOF
	if [ $# -eq 0 ]; then
		return
	fi
	echo "subsets:"
	echo "- addresses:"
	for ip; do
		echo "  - ip: $ip"
	done
	cat <<EOF
  ports:
  - name: p
    port: $port
    protocol: $proto
EOF
}

# Atomically replace FILE with stdin (write a new file, mv it over).
kp_replace() {
	local f=$1

	cat >"$f.new.$$" && mv -f "$f.new.$$" "$f"
}

# kp_start [ARGS...]: start kuproxy in the node namespace with the services
# file $KP_SVCFILE (and only KP_CAPS if KP_MINCAPS=1, the default); wait
# until /debug/services answers.  At -v 4, so that
# the log has a line per connection and per failed connect for the test's
# own diagnostics (kp_close_reasons); ARGS may lower it (-v 0).
kp_start() {
	local i

	KP_LOG=$KP_TMP/kuproxy.log
	mkdir -p -m 0700 "$KP_TMP/state"
	ip netns exec "$KP_NODE" "${KP_CAPWRAP[@]}" "$KUPROXY" \
	    --services-file "$KP_SVCFILE" --bind-address 0.0.0.0 \
	    --metrics-bind-address "$KP_METRICS" \
	    --healthz-bind-address "$KP_HEALTHZ" \
	    --state-dir "$KP_TMP/state" -v 4 "$@" >>"$KP_LOG" 2>&1 &
	KP_PID=$!
	KP_PIDS="$KP_PIDS $KP_PID"
	for i in $(seq 1 50); do
		kill -0 "$KP_PID" 2>/dev/null ||
		    kp_die "kuproxy exited during start-up (see $KP_LOG)"
		if kp_node curl -sf -m 1 -o /dev/null "$KP_URL"; then
			return 0
		fi
		sleep 0.1
	done
	kp_die "kuproxy's /debug/services did not answer within 5 s"
}

# kuproxy's open descriptor count.
kp_fds() { find "/proc/$KP_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# Is kuproxy still running?
kp_alive() { kill -0 "$KP_PID" 2>/dev/null; }

# kp_debug [SERVICE [FIELD]]: query /debug/services from the node namespace.
kp_debug() {
	local args=(debug --url "$KP_URL")

	[ -n "$1" ] && args+=(--service "$1")
	[ -n "$2" ] && args+=(--field "$2")
	kp_client "$KP_NODE" "${args[@]}"
}

# kp_wait_svc SERVICE [NENDPOINTS]: wait (5 s) until SERVICE is listed with
# that many endpoints; print its proxy port.  Runs in $(...), so it cannot
# record a failure itself: the caller checks the status.
kp_wait_svc() {
	local svc=$1 want=$2 i n port

	for i in $(seq 1 50); do
		port=$(kp_debug "$svc" proxyPort 2>/dev/null)
		if [ -n "$port" ] && [ "$port" != null ] && [ "$port" != 0 ]; then
			if [ -z "$want" ]; then
				echo "$port"
				return 0
			fi
			n=$(kp_debug "$svc" endpoints | kp_json 'len(d)')
			if [ "$n" = "$want" ]; then
				echo "$port"
				return 0
			fi
		fi
		sleep 0.1
	done
	echo "service $svc (with ${want:-any} endpoints) not in /debug/services:" >&2
	kp_debug >&2
	return 1
}

# kp_json EXPR: evaluate a Python expression on the JSON document on stdin
# (bound to d) and print the result (JSON for lists and dicts).
kp_json() {
	"$KP_PY" -c '
import json, sys
d = json.load(sys.stdin)
r = eval(sys.argv[1])
print(json.dumps(r, sort_keys=True) if isinstance(r, (list, dict)) else r)
' "$1"
}

# kp_debug_has SERVICE FIELD PATTERN: does the field's JSON match PATTERN?
kp_debug_has() {
	kp_debug "$1" "$2" 2>/dev/null | grep -q -- "$3"
}

# kp_burst NS ARGS...: run burst.py ARGS in namespace NS (see burst.py:
# bursts of concurrent connections, one JSON line of results).  Killed
# after $KP_BURST_TIMEOUT seconds (default 90) whatever happens.
kp_burst() {
	local ns=$1
	shift
	timeout -k 5 "${KP_BURST_TIMEOUT:-90}" \
	    ip netns exec "$ns" "$KP_PY" "$KP_HERE/burst.py" "$@"
}

# kp_burst_verdict RESULT TOTAL LIVE...: log burst.py's RESULT (its JSON
# line) and its latencies; assert TOTAL connections started, none reset
# or unanswered, and every answer from one of the LIVE backend ids.
kp_burst_verdict() {
	local res=$1 total=$2 live
	shift 2
	live=$(printf '"%s", ' "$@")
	kp_log "bursts: $res"
	[ -n "$res" ] || kp_die "burst.py printed nothing"
	kp_log "connect-to-answer ms: p50 $(echo "$res" | kp_json 'd["p50_ms"]')" \
	    "p90 $(echo "$res" | kp_json 'd["p90_ms"]')" \
	    "p99 $(echo "$res" | kp_json 'd["p99_ms"]')" \
	    "max $(echo "$res" | kp_json 'd["max_ms"]')"
	kp_eq "$total connections started" "$total" \
	    "$(echo "$res" | kp_json 'd["total"]')"
	kp_eq "no connection reset or unanswered" 0 \
	    "$(echo "$res" | kp_json 'd["resets"]')"
	kp_eq "every answer from a live backend" '[]' \
	    "$(echo "$res" | kp_json "sorted(set(d['backends']) - {${live%, }})")"
}

# kp_close_reasons: how kuproxy's relayed TCP connections ended, from its
# -v 3 log ("proxy_conn_close" lines), counted by reason; for test logs.
kp_close_reasons() {
	grep -a 'proxy_conn_close: ' "$KP_LOG" 2>/dev/null |
	    sed -n 's/.*proxy_conn_close: .* -> [^ ]*: \(.*\), [0-9]* bytes in, .*/\1/p' |
	    sort | uniq -c | sort -rn
}

# kp_check_ejections SERVICE [MIN]: log SERVICE's kuproxy_endpoint_*
# series (issue 10's passive outlier ejection) and assert
# kuproxy_endpoint_ejections_total >= MIN (default 1).
kp_check_ejections() {
	local svc=$1 min=${2:-1} series

	series="kuproxy_endpoint_ejections_total{service=\"$svc\",protocol=\"TCP\"}"
	kp_node curl -s -m 2 "http://$KP_METRICS/metrics" |
	    grep -F "service=\"$svc\"" | grep '^kuproxy_endpoint' |
	    while read -r line; do kp_log "metric: $line"; done
	kp_ge "endpoints ejected ($series)" "$min" "$(kp_metric "$series")"
}

# kp_ge DESCRIPTION MIN GOT: a numeric lower bound.
# kp_metric SERIES: the value of one /metrics series, given by its exact
# name and labels; empty if kuproxy does not export it.
kp_metric() {
	kp_node curl -s -m 2 "http://$KP_METRICS/metrics" |
	    awk -v s="$1" '$1 == s { print $2; exit }'
}

kp_ge() {
	if [ -n "$3" ] && [ "$3" -eq "$3" ] 2>/dev/null && [ "$3" -ge "$2" ]; then
		kp_ok "$1 ($3 >= $2)"
	else
		kp_fail "$1: expected >= $2, got '$3'"
	fi
}

# kp_le DESCRIPTION MAX GOT: a numeric upper bound.
kp_le() {
	if [ -n "$3" ] && [ "$3" -eq "$3" ] 2>/dev/null && [ "$3" -le "$2" ]; then
		kp_ok "$1 ($3 <= $2)"
	else
		kp_fail "$1: expected <= $2, got '$3'"
	fi
}

# Wait (bounded, in tenths of a second) until a command succeeds.
kp_until() {
	local tenths=$1
	shift

	while [ "$tenths" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		tenths=$((tenths - 1))
	done
	return 1
}

# ---------------------------------------------------------------------------
# Helpers for the iptables portal tests (test_portals_*).

KP_PODC=kp-pc-$KP_ID		# a client pod: its own namespace, own veth
KP_PODC_IP=198.18.3.2
KP_NODE_PODC_IP=198.18.3.1	# the node's address on that link
KP_SVC_RANGE=198.19.0.0/16

# kp_podclient: add a separate client pod namespace kp-pc-ID linked to the
# node (198.18.3.2 --veth-- 198.18.3.1), routing only the Service range
# via the node, as a pod's traffic to a ClusterIP would go.  Call after
# kp_topology.
kp_podclient() {
	kp_netns_add "$KP_PODC" || kp_die "ip netns add $KP_PODC"
	ip -n "$KP_NODE" link add vpc type veth peer name vnode \
	    netns "$KP_PODC" || kp_die "veth node<->client pod"
	ip -n "$KP_NODE" addr add "$KP_NODE_PODC_IP/24" dev vpc
	ip -n "$KP_NODE" link set vpc up
	ip -n "$KP_PODC" addr add "$KP_PODC_IP/24" dev vnode
	ip -n "$KP_PODC" link set vnode up
	ip -n "$KP_PODC" route add "$KP_SVC_RANGE" via "$KP_NODE_PODC_IP" ||
	    kp_die "route to the Service range in $KP_PODC"
	kp_until 30 kp_carrier "$KP_NODE" vpc || kp_die "no carrier on vpc"
	kp_until 30 kp_carrier "$KP_PODC" vnode ||
	    kp_die "no carrier in the client pod ns"
}

# kp_svc_x NAME CLUSTERIP PORT PROTO TARGETPORT [nodePort=N]
#     [externalIPs=IP,IP] [lb=IP,IP] [affinity=-|SECONDS]: a Service of
# type ClusterIP, NodePort (nodePort=) or LoadBalancer (lb=, ingress IPs
# in its status); affinity as for kp_svc.
kp_svc_x() {
	local name=$1 cip=$2 port=$3 proto=$4 tport=$5 np= ext= lb= aff=
	local type ip
	shift 5

	for kv; do
		case $kv in
		affinity=*) aff=${kv#*=} ;;
		nodePort=*) np=${kv#*=} ;;
		externalIPs=*) ext=${kv#*=} ;;
		lb=*) lb=${kv#*=} ;;
		*) kp_die "kp_svc_x: bad option '$kv'" ;;
		esac
	done
	type=ClusterIP
	[ -n "$np" ] && type=NodePort
	[ -n "$lb" ] && type=LoadBalancer
	cat <<EOT
---
apiVersion: v1
kind: Service
metadata:
  name: $name
  namespace: default
  resourceVersion: "1"
spec:
  clusterIP: $cip
  clusterIPs:
  - $cip
  ports:
  - name: p
    port: $port
    protocol: $proto
    targetPort: $tport
EOT
	[ -n "$np" ] && echo "    nodePort: $np"
	if [ -n "$ext" ]; then
		echo "  externalIPs:"
		for ip in ${ext//,/ }; do
			echo "  - $ip"
		done
	fi
	echo "  selector:"
	echo "    app: $name"
	if [ -z "$aff" ]; then
		echo "  sessionAffinity: None"
	else
		echo "  sessionAffinity: ClientIP"
		if [ "$aff" != "-" ]; then
			echo "  sessionAffinityConfig:"
			echo "    clientIP:"
			echo "      timeoutSeconds: $aff"
		fi
	fi
	echo "  type: $type"
	echo "status:"
	if [ -z "$lb" ]; then
		echo "  loadBalancer: {}"
		return
	fi
	echo "  loadBalancer:"
	echo "    ingress:"
	for ip in ${lb//,/ }; do
		echo "    - ip: $ip"
	done
}

# kp_ipt_save: iptables-save of the node namespace's nat and filter tables
# ($KP_IPTABLES-save: set KP_IPTABLES=iptables-legacy for the legacy one).
kp_ipt_save() {
	kp_node "${KP_IPTABLES:-iptables}-save" -t nat 2>/dev/null
	kp_node "${KP_IPTABLES:-iptables}-save" -t filter 2>/dev/null
}

# kp_ipt_count SERVICE: how many rules carry SERVICE's comment ("ns/n:p").
kp_ipt_count() {
	kp_ipt_save | grep -c -F -- "--comment \"$1\""
}

# kp_ipt_has SERVICE N: are there exactly N rules for SERVICE?
kp_ipt_has() {
	[ "$(kp_ipt_count "$1")" = "$2" ]
}

# kp_wait_rules SERVICE N [TENTHS]: wait (default 5 s) until the node has
# exactly N rules for SERVICE (the restore runs in the background, after
# /debug/services already lists the service).
kp_wait_rules() {
	kp_until "${3:-50}" kp_ipt_has "$1" "$2"
}

# kp_chain TABLE CHAIN: the chain's rules ("iptables -S"), sorted.
kp_chain() {
	kp_node "${KP_IPTABLES:-iptables}" -w 5 -t "$1" -S "$2" 2>/dev/null | sort
}

# kp_ms_since T0: milliseconds since T0 (a "date +%s%N" value).
kp_ms_since() {
	echo $((($(date +%s%N) - $1) / 1000000))
}

# kp_exited PID: has the process exited (gone, or a zombie not reaped)?
kp_exited() {
	local s

	s=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)
	[ -z "$s" ] || [ "$s" = Z ]
}

# kp_stop: SIGTERM kuproxy and wait for it (at most 5 s, then SIGKILL).
# Sets KP_STOP_RC to its exit status.  Not in $(...): kuproxy must be a
# child of this shell.
#
# No "(sleep 5; kill) &" watchdog: a subshell that receives its SIGTERM
# before bash has reset the inherited traps runs this shell's EXIT trap
# (kp_cleanup) and deletes the test's namespaces under it.
kp_stop() {
	local i

	kill -TERM "$KP_PID" 2>/dev/null
	for i in $(seq 1 50); do
		kp_exited "$KP_PID" && break
		sleep 0.1
	done
	kill -KILL "$KP_PID" 2>/dev/null
	wait "$KP_PID"
	KP_STOP_RC=$?
	return 0
}

# kp_listening NS PROTO PORT: print the ss line of a socket bound to PORT
# (tcp: listening, udp: bound) in namespace NS, with its process.
kp_listening() {
	local opt=-ltnpH

	[ "$2" = udp ] && opt=-lunpH
	kp_in "$1" ss "$opt" "sport = :$3" 2>/dev/null
}

# kp_outage NS TARGET SECONDS [INTERVAL]: connect to TARGET (TCP, "<id>\n"
# backends) every INTERVAL s (default 0.02) for SECONDS, in namespace NS.
# Prints JSON: ok, fail, outages (runs of failures), max_gap (s, the
# longest time from the end of the last success before an outage to the
# end of the first success after it), still_down (the run ended with
# failures), errors by kind.
kp_outage() {
	timeout -k 2 $((${3%.*} + 20)) \
	    ip netns exec "$1" "$KP_PY" - "$2" "$3" "${4:-0.02}" <<'EOT'
import json, socket, sys, time
target, dur, interval = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
ip, _, port = target.rpartition(":")
ok = fail = outages = 0
errors = {}
max_gap = 0.0
last_ok = None
down_since = None
t0 = time.monotonic()
n = 0
while time.monotonic() - t0 < dur and n < 100000:
    n += 1
    start = time.monotonic()
    good = False
    try:
        s = socket.create_connection((ip, int(port)), timeout=0.5)
        try:
            s.settimeout(0.5)
            good = s.recv(64).strip() != b""
            if not good:
                errors["empty"] = errors.get("empty", 0) + 1
        finally:
            s.close()
    except OSError as e:
        k = "timeout" if isinstance(e, socket.timeout) else \
            (e.__class__.__name__ if e.errno is None else str(e.errno))
        errors[k] = errors.get(k, 0) + 1
    end = time.monotonic()
    if good:
        ok += 1
        if down_since is not None:
            outages += 1
            max_gap = max(max_gap, end - down_since)
            down_since = None
        last_ok = end
    else:
        fail += 1
        if down_since is None:
            down_since = last_ok if last_ok is not None else start
    time.sleep(interval)
print(json.dumps({"ok": ok, "fail": fail, "outages": outages,
                  "max_gap": round(max_gap, 3),
                  "still_down": down_since is not None,
                  "errors": errors}, sort_keys=True))
EOT
}

# kp_udp_stream NS TARGET SECONDS [INTERVAL [SOCKETS]]: send a small
# datagram to TARGET every INTERVAL s (default 0.01) from each of SOCKETS
# sockets (default 1; one source port each, like resolvers) for SECONDS;
# print how many were sent and answered.
kp_udp_stream() {
	timeout -k 2 $((${3%.*} + 20)) ip netns exec "$1" "$KP_PY" - "$2" "$3" \
	    "${4:-0.01}" "${5:-1}" <<'EOT'
import json, socket, sys, time
target, dur, interval = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
ip, _, port = target.rpartition(":")
socks = []
for _ in range(int(sys.argv[4])):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    socks.append(s)
sent = answered = 0
t0 = time.monotonic()
while time.monotonic() - t0 < dur and sent < 1000000:
    for s in socks:
        try:
            s.sendto(b"ping", (ip, int(port)))
            sent += 1
        except OSError:
            pass
    time.sleep(interval)
    for s in socks:
        while True:
            try:
                s.recv(2048)
                answered += 1
            except OSError:
                break
print(json.dumps({"sent": sent, "answered": answered}))
EOT
}

# kp_ct_count IP [ARGS...]: UDP conntrack entries in the node namespace
# whose original destination is IP (extra conntrack filters in ARGS,
# e.g. --dst-nat).
kp_ct_count() {
	local ip=$1
	shift
	kp_node conntrack -L -p udp --orig-dst "$ip" "$@" 2>/dev/null |
	    grep -c '^udp'
}
