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

# Services file helpers: print v1 objects the way kubectl prints them.
# kp_svc NAME CLUSTERIP PORT PROTO [TARGETPORT [AFFINITY_TIMEOUT|-]]
# The port is named "p"; AFFINITY_TIMEOUT "-" means ClientIP affinity
# with the default timeout, a number sets timeoutSeconds; absent: None.
kp_svc() {
	local name=$1 cip=$2 port=$3 proto=$4 tport=${5:-$3} aff=$6

	cat <<EOF
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
  selector:
    app: $name
EOF
	if [ -z "$aff" ]; then
		echo "  sessionAffinity: None"
	else
		echo "  sessionAffinity: ClientIP"
		if [ "$aff" != "-" ]; then
			cat <<EOF
  sessionAffinityConfig:
    clientIP:
      timeoutSeconds: $aff
EOF
		fi
	fi
	cat <<EOF
  type: ClusterIP
status:
  loadBalancer: {}
EOF
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
# file $KP_SVCFILE; wait until /debug/services answers.
kp_start() {
	local i

	KP_LOG=$KP_TMP/kuproxy.log
	mkdir -p "$KP_TMP/state"
	ip netns exec "$KP_NODE" "$KUPROXY" \
	    --services-file "$KP_SVCFILE" --bind-address 0.0.0.0 \
	    --metrics-bind-address "$KP_METRICS" \
	    --healthz-bind-address "$KP_HEALTHZ" \
	    --state-dir "$KP_TMP/state" -v 2 "$@" >>"$KP_LOG" 2>&1 &
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

# kp_ge DESCRIPTION MIN GOT: a numeric lower bound.
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
