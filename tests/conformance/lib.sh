# shellcheck shell=bash disable=SC2034 # (variables read through eval or by run.sh)
# lib.sh: the conformance suite's world (root only): one etcd and
# kube-apiserver 1.20 (tests/e2e/lib.sh), the real kube-proxy 1.20 in
# --proxy-mode=userspace and kuproxy, each in its own node namespace
# with its own iptables, both watching the same apiserver.
#
#                        kpcfID-cli
#     198.18.10.2, .3  (from: table 10)   198.18.20.2, .3 (from: table 20)
#             | veth                                   | veth
#     198.18.10.1  kpcfID-kp                  198.18.20.1  kpcfID-ku
#     kube-proxy 1.20 userspace               kuproxy
#     198.18.11.1                             198.18.21.1
#             | veth                                   | veth
#     198.18.11.2 ------------- kpcfID-pod ------------ 198.18.21.2
#          backends on 198.18.1.2-.6 (lo), 198.18.1.7 black-holed,
#          etcd, kube-apiserver on 198.18.1.100:6443
#
# The client namespace reaches a node by its source address: a probe
# bound to 198.18.10.x goes to kube-proxy's node, one bound to
# 198.18.20.x to kuproxy's (policy routing), so ClusterIPs
# (198.19.0.0/16), externalIPs and LoadBalancer IPs are the same for
# both.  Both nodes route the backends' 198.18.1.0/24 to the pod
# namespace; each node's default route points at the client namespace
# (kube-proxy takes its host IP from it; the apiserver's namespace needs
# one too).  Everything goes away in the EXIT trap.

CF_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../e2e/lib.sh
. "$CF_HERE/../e2e/lib.sh"

CF_ID=$$
CF_CLI=kpcf$CF_ID-cli
CF_POD=kpcf$CF_ID-pod
CF_NS_kp=kpcf$CF_ID-kp
CF_NS_ku=kpcf$CF_ID-ku
CF_NODEIP_kp=198.18.10.1
CF_NODEIP_ku=198.18.20.1
CF_SRC_kp=198.18.10.2
CF_SRC_ku=198.18.20.2
CF_SRC2_kp=198.18.10.3
CF_SRC2_ku=198.18.20.3
CF_API_IP=198.18.1.100
CF_PROBE=$CF_HERE/probe.py
CF_OBJ=$CF_HERE/objects.py
CF_SIDES="kp ku"
CF_KUBE_PROXY=

cf_log() { printf '%s\n' "$*" >&2; }

# cf_link NS1 DEV1 IP1 NS2 DEV2 IP2: a veth pair between two of our
# namespaces, created inside the first (never in the root namespace).
cf_link() {
	ip -n "$1" link add "$2" type veth peer name "$5" netns "$4" ||
	    kp_die "veth $1/$2 <-> $4/$5"
	ip -n "$1" addr add "$3/24" dev "$2"
	ip -n "$4" addr add "$6/24" dev "$5"
	ip -n "$1" link set "$2" up
	ip -n "$4" link set "$5" up
	kp_until 30 kp_carrier "$1" "$2" || kp_die "no carrier on $1/$2"
	kp_until 30 kp_carrier "$4" "$5" || kp_die "no carrier on $4/$5"
}

cf_topology() {
	local ns ip

	for ns in "$CF_POD" "$CF_NS_kp" "$CF_NS_ku" "$CF_CLI"; do
		kp_netns_add "$ns" || {
			echo "SKIP: conformance (cannot create network namespaces)"
			exit 77
		}
	done
	cf_link "$CF_NS_kp" cli 198.18.10.1 "$CF_CLI" tokp 198.18.10.2
	cf_link "$CF_NS_ku" cli 198.18.20.1 "$CF_CLI" toku 198.18.20.2
	cf_link "$CF_NS_kp" pod 198.18.11.1 "$CF_POD" kp 198.18.11.2
	cf_link "$CF_NS_ku" pod 198.18.21.1 "$CF_POD" ku 198.18.21.2
	ip -n "$CF_CLI" addr add 198.18.10.3/24 dev tokp
	ip -n "$CF_CLI" addr add 198.18.20.3/24 dev toku
	# Source-based routing in the client namespace.
	ip -n "$CF_CLI" route add 198.18.10.0/24 dev tokp table 10
	ip -n "$CF_CLI" route add default via 198.18.10.1 dev tokp table 10
	ip -n "$CF_CLI" rule add from 198.18.10.0/24 table 10 pref 100
	ip -n "$CF_CLI" route add 198.18.20.0/24 dev toku table 20
	ip -n "$CF_CLI" route add default via 198.18.20.1 dev toku table 20
	ip -n "$CF_CLI" rule add from 198.18.20.0/24 table 20 pref 100
	# The nodes.
	ip -n "$CF_NS_kp" route add default via 198.18.10.2
	ip -n "$CF_NS_kp" route add 198.18.1.0/24 via 198.18.11.2
	ip -n "$CF_NS_ku" route add default via 198.18.20.2
	ip -n "$CF_NS_ku" route add 198.18.1.0/24 via 198.18.21.2
	ip netns exec "$CF_NS_kp" sysctl -qw net.ipv4.ip_forward=1
	ip netns exec "$CF_NS_ku" sysctl -qw net.ipv4.ip_forward=1
	# The pods: backends on loopback addresses, one black-holed address.
	for ip in 198.18.1.2 198.18.1.3 198.18.1.4 198.18.1.5 198.18.1.6 \
	    "$CF_API_IP"; do
		ip -n "$CF_POD" addr add "$ip/32" dev lo
	done
	ip -n "$CF_POD" route add blackhole 198.18.1.7/32
	ip -n "$CF_POD" route add default via 198.18.11.1
}

# cf_in SIDE CMD...: run CMD in SIDE's node namespace (kp or ku).
cf_in() {
	local ns

	eval "ns=\$CF_NS_$1"
	shift
	ip netns exec "$ns" "$@"
}

# cf_probe SIDE KIND ARGS...: probe.py KIND from the client namespace
# towards SIDE's node (bound to SIDE's first client address unless ARGS
# has --bind).  cf_hprobe: the same from inside SIDE's node namespace.
cf_probe() {
	local side=$1 kind=$2 src

	shift 2
	eval "src=\$CF_SRC_$side"
	case " $* " in
	*" --bind "*) src= ;;
	esac
	timeout -k 5 120 ip netns exec "$CF_CLI" "$KP_PY" "$CF_PROBE" \
	    "$kind" ${src:+--bind "$src"} "$@" 2>>"$KP_TMP/probe.err"
}
cf_hprobe() {
	local ns

	eval "ns=\$CF_NS_$1"
	shift
	timeout -k 5 120 ip netns exec "$ns" "$KP_PY" "$CF_PROBE" "$@" \
	    2>>"$KP_TMP/probe.err"
}

# --- objects ---------------------------------------------------------

cf_coll() {
	case $1 in
	endpointslices) echo "$KE_DISC/$KE_NS/endpointslices" ;;
	*) echo "$KE_CORE/$KE_NS/$1" ;;
	esac
}

# cf_svc NAME ARGS...: create Service NAME (objects.py svc); an existing
# one of that name is deleted first.
cf_svc() {
	local name=$1

	ke_api DELETE "$(cf_coll services)/$name" >/dev/null
	ke_must POST "$(cf_coll services)" \
	    "$("$KP_PY" "$CF_OBJ" svc "$@")" >/dev/null
}

# cf_lb NAME IP...: set Service NAME's LoadBalancer ingress IPs.
cf_lb() {
	local name=$1 args=() ip

	shift
	for ip; do
		args+=(--lb "$ip")
	done
	ke_must GET "$(cf_coll services)/$name" >/dev/null
	ke_must PUT "$(cf_coll services)/$name/status" \
	    "$(printf '%s' "$KE_LAST" | "$KP_PY" "$CF_OBJ" status "$name" "${args[@]}")" \
	    >/dev/null
}

# cf_eps NAME [SUBSET...]: Endpoints NAME and its EndpointSlices (one
# per subset, see objects.py), created or replaced; slices of a subset
# no longer there are deleted.  kube-proxy 1.20 (EndpointSliceProxying
# off, as userspace needs) reads the Endpoints, kuproxy the slices.
cf_eps() {
	local name=$1 args=() s i=0 n line

	shift
	for s; do
		args+=(--subset "$s")
	done
	ke_put_or_post "$(cf_coll endpoints)" "$name" \
	    "$("$KP_PY" "$CF_OBJ" eps "$name" "${args[@]}")" ||
	    kp_die "endpoints $name: HTTP $KE_CODE: $(printf '%s' "$KE_LAST" | head -c 300)"
	while read -r line; do
		ke_put_or_post "$(cf_coll endpointslices)" "$name-cf$i" "$line" ||
		    kp_die "endpointslice $name-cf$i: HTTP $KE_CODE: $(printf '%s' "$KE_LAST" | head -c 300)"
		i=$((i + 1))
	done < <("$KP_PY" "$CF_OBJ" slices "$name" "${args[@]}")
	# The slices of subsets no longer there (as many as last time).
	n=$(cat "$KP_TMP/slices-$name" 2>/dev/null || echo 0)
	echo "$i" >"$KP_TMP/slices-$name"
	while [ "$i" -lt "$n" ]; do
		ke_api DELETE "$(cf_coll endpointslices)/$name-cf$i" >/dev/null
		i=$((i + 1))
	done
}

# cf_del NAME: delete Service NAME, its Endpoints and slices (whichever
# exist).
cf_del() {
	ke_api DELETE "$(cf_coll services)/$1" >/dev/null
	ke_api DELETE "$(cf_coll endpoints)/$1" >/dev/null
	ke_api DELETE "$(cf_coll endpointslices)?labelSelector=kubernetes.io/service-name=$1" \
	    >/dev/null
	rm -f "$KP_TMP/slices-$1"
}

# --- rules and ports --------------------------------------------------

# cf_rules SIDE COMMENT: SIDE's nat rules carrying that comment.
cf_rules() {
	cf_in "$1" iptables-save -t nat 2>/dev/null |
	    grep -E -- "--comment \"?$2\"? " || true
}
cf_nrules() { cf_rules "$1" "$2" | grep -c . || true; }

# cf_pport SIDE COMMENT: the proxy port SIDE's rules for COMMENT point to
# (REDIRECT --to-ports N or DNAT to IP:N), empty when none.
cf_pport() {
	cf_rules "$1" "$2" |
	    sed -n 's/.*--to-ports \([0-9]*\).*/\1/p; s/.*--to-destination [0-9.]*:\([0-9]*\).*/\1/p' |
	    sort -u | head -n 1
}

# --- proxies ----------------------------------------------------------

cf_kubeconfig() {
	ke_kubeconfig "$KP_TMP/kubeconfig" token "https://$CF_API_IP:$KE_API_PORT"
}

cf_node() {
	ke_must POST /api/v1/nodes "{\"apiVersion\": \"v1\", \"kind\": \"Node\",
	    \"metadata\": {\"name\": \"cf-$1\"},
	    \"status\": {\"addresses\": [{\"type\": \"InternalIP\", \"address\": \"$2\"},
	    {\"type\": \"Hostname\", \"address\": \"cf-$1\"}]}}" >/dev/null
}

# cf_start SIDE: start kube-proxy 1.20 (kp) or kuproxy (ku) in its node
# namespace, as a DaemonSet would run it; no wait.
cf_start() {
	local log=$KP_TMP/$1.log pid

	echo "=== start $(date +%T)" >>"$log"
	case $1 in
	kp)
		ip netns exec "$CF_NS_kp" "$CF_KUBE_PROXY" --proxy-mode=userspace \
		    --feature-gates=EndpointSliceProxying=false \
		    --kubeconfig "$KP_TMP/kubeconfig" --hostname-override cf-kp \
		    --bind-address 0.0.0.0 \
		    --healthz-bind-address 127.0.0.1:10256 \
		    --metrics-bind-address 127.0.0.1:10249 \
		    --conntrack-max-per-core 0 --iptables-sync-period 10s \
		    -v 2 >>"$log" 2>&1 &
		pid=$!
		;;
	ku)
		mkdir -p "$KP_TMP/state"
		ip netns exec "$CF_NS_ku" "$KUPROXY" \
		    --kubeconfig "$KP_TMP/kubeconfig" --hostname-override cf-ku \
		    --bind-address 0.0.0.0 \
		    --healthz-bind-address 127.0.0.1:10256 \
		    --metrics-bind-address 127.0.0.1:10249 \
		    --conntrack-max-per-core 0 --iptables-sync-period 10s \
		    --state-dir "$KP_TMP/state" -v 2 >>"$log" 2>&1 &
		pid=$!
		;;
	esac
	# In a file: a case (a subshell) may restart a proxy.
	echo "$pid" >"$KP_TMP/$1.pid"
}

# cf_pid SIDE: the proxy's pid, empty when stopped.
cf_pid() { cat "$KP_TMP/$1.pid" 2>/dev/null; }

# cf_stop SIDE: SIGTERM the proxy, wait (10 s, then SIGKILL).
cf_stop() {
	local pid

	pid=$(cf_pid "$1")
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	kp_until 100 kp_exited "$pid" || kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	kp_until 20 kp_exited "$pid"
	rm -f "$KP_TMP/$1.pid"
}

cf_alive() {
	local pid

	pid=$(cf_pid "$1")
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && ! kp_exited "$pid"
}

# cf_find: the binaries; on a miss sets CF_SKIP to the reason, returns 1.
cf_find() {
	local t

	CF_SKIP=
	: "${CF_KUBE_PROXY:=${KUBE_PROXY:-${KP_KUBE_PROXY:-}}}"
	if [ -z "$CF_KUBE_PROXY" ]; then
		CF_KUBE_PROXY=$(ls -t "$KP_E2E_CACHE"/*/kube-proxy 2>/dev/null |
		    head -n 1)
	fi
	if [ -z "$CF_KUBE_PROXY" ] || [ ! -x "$CF_KUBE_PROXY" ]; then
		CF_SKIP="no kube-proxy 1.20 binary: run bench/build-kube-proxy.sh or set KUBE_PROXY"
		return 1
	fi
	if [ ! -x "$KUPROXY" ]; then
		CF_SKIP="no kuproxy binary '$KUPROXY': build it or set KUPROXY"
		return 1
	fi
	for t in openssl iptables-save ip curl "$KP_PY"; do
		command -v "$t" >/dev/null 2>&1 || { CF_SKIP="needs $t"; return 1; }
	done
	: "${KP_ETCD:=$(command -v etcd)}"
	if [ -z "$KP_ETCD" ] || [ ! -x "$KP_ETCD" ]; then
		CF_SKIP="no etcd: run tests/e2e/build-apiserver.sh"
		return 1
	fi
	if [ -z "${KP_APISERVER:-}" ]; then
		KP_APISERVER=$(ls -t "$KP_E2E_CACHE"/*/kube-apiserver 2>/dev/null |
		    head -n 1)
	fi
	if [ -z "$KP_APISERVER" ] || [ ! -x "$KP_APISERVER" ]; then
		CF_SKIP="no kube-apiserver: run tests/e2e/build-apiserver.sh"
		return 1
	fi
}

# cf_up: the world and both proxies, serving the canary Service (call
# cf_find first).
cf_up() {
	kp_init conformance
	rm -rf "$KP_TMP"
	KP_TMP=$(mktemp -d "/tmp/kpcf$CF_ID.XXXXXX") || exit 1
	trap cf_cleanup EXIT
	# e2e/lib.sh runs etcd and the apiserver in $KP_NODE.
	KP_NODE=$CF_POD
	KE_API_IP=$CF_API_IP
	cf_topology
	ke_pki
	ke_etcd_start
	ke_apiserver_start
	cf_node kp "$CF_NODEIP_kp"
	cf_node ku "$CF_NODEIP_ku"
	cf_kubeconfig
	cf_backends
	cf_svc canary --cip 198.19.0.2 --port p/80/TCP
	cf_eps canary p/8080/TCP=198.18.1.2
	cf_start kp
	cf_start ku
	local s
	for s in $CF_SIDES; do
		ke_wait 60 cf_canary "$s" ||
		    kp_die "$s: the canary Service not served within 60 s (log: $KP_TMP/$s.log)"
	done
	cf_del canary
}

cf_canary() {
	cf_alive "$1" || kp_die "$1 exited (see $KP_TMP/$1.log)"
	[ "$(cf_probe "$1" tcp --target 198.19.0.2:80 --timeout 1)" = b2 ]
}

# The backends (backend.py, one process per mode, all in the pod ns):
#   id --udp  b2 b3 b4 @198.18.1.2-.4:8080 (TCP "<id>\n" and UDP echo),
#             a2 a3 @198.18.1.2-.3:8081, q0..q99 @198.18.1.5:9000-9099
#   halfclose h2 @198.18.1.2:8082   echo e2 @198.18.1.2:8083
# Nothing listens on 198.18.1.6 (refused); 198.18.1.7 is black-holed.
cf_backends() {
	local q=() i

	for i in $(seq 0 99); do
		q+=("q$i@198.18.1.5:$((9000 + i))")
	done
	KP_POD=$CF_POD
	kp_backend id --udp b2@198.18.1.2:8080 b3@198.18.1.3:8080 \
	    b4@198.18.1.4:8080 a2@198.18.1.2:8081 a3@198.18.1.3:8081 "${q[@]}"
	kp_backend halfclose h2@198.18.1.2:8082
	kp_backend echo e2@198.18.1.2:8083
}

cf_cleanup() {
	local rc=$?

	trap - EXIT
	cf_stop kp
	cf_stop ku
	(exit "$rc")
	ke_cleanup
}

# --- assertions (inside a case) ----------------------------------------

CF_CASE_FAILS=0

cf_fail() {
	CF_CASE_FAILS=$((CF_CASE_FAILS + 1))
	printf '  FAIL: %s\n' "$*"
}
cf_ok() { printf '  ok: %s\n' "$*"; }

# cf_expect WHAT SIDE WANT GOT: one side's result.
cf_expect() {
	local who=kube-proxy

	[ "$2" = ku ] && who=kuproxy
	if [ "$3" = "$4" ]; then
		cf_ok "$who: $1: $4"
	else
		cf_fail "$who: $1: expected '$3', got '$4'"
	fi
}

# cf_both CMD ARGS...: run CMD kp ARGS and CMD ku ARGS at once (the
# two worlds share only the backends); their outputs go to
# $KP_TMP/both-kp and both-ku.
cf_both() {
	local s pids=''

	for s in $CF_SIDES; do
		"$1" "$s" "${@:2}" >"$KP_TMP/both-$s" &
		pids="$pids $!"
	done
	# shellcheck disable=SC2086
	wait $pids
}

# cf_same WHAT WANT CMD...: CMD (a function taking SIDE as its first
# argument) gives WANT for kube-proxy and for kuproxy.
cf_same() {
	local what=$1 want=$2 s
	shift 2

	cf_both "$@"
	for s in $CF_SIDES; do
		cf_expect "$what" "$s" "$want" "$(cat "$KP_TMP/both-$s")"
	done
}

# cf_differ WHAT OLD NEW CMD...: kube-proxy gives OLD (its documented
# behaviour), kuproxy NEW (the documented improvement).
cf_differ() {
	local what=$1 old=$2 new=$3
	shift 3

	cf_both "$@"
	cf_expect "$what (kube-proxy 1.20's behaviour)" kp "$old" \
	    "$(cat "$KP_TMP/both-kp")"
	cf_expect "$what (kuproxy's improvement)" ku "$new" \
	    "$(cat "$KP_TMP/both-ku")"
}

# cf_await SECONDS WANT CMD...: for each side, wait until CMD SIDE ARGS
# prints WANT (the convergence after an API change); no assertion.
cf_await() {
	local secs=$1 want=$2 s end got
	shift 2

	for s in $CF_SIDES; do
		end=$(($(date +%s) + secs))
		while :; do
			got=$("$1" "$s" "${@:2}")
			[ "$got" = "$want" ] && break
			if [ "$(date +%s)" -ge "$end" ]; then
				cf_log "  ($s: still '$got' after ${secs} s, wanted '$want')"
				break
			fi
			sleep 0.2
		done
	done
}
