# shellcheck shell=bash
# lib.sh: helpers for kuproxy's end-to-end tests against a real
# kube-apiserver 1.20 and etcd (root only).
#
# Builds on tests/integration/lib.sh (namespaces, backends, client,
# assertions, cleanup).  A test sources this file, calls ke_init NAME,
# which builds the integration topology, then starts etcd and
# kube-apiserver inside the node namespace:
#
#   kp-cli-ID   198.18.2.2 (the node's default route points here)
#       | veth
#   kp-node-ID  198.18.2.1 / 198.18.1.1   etcd 127.0.0.1:2379,
#       |                                 kube-apiserver :6443, kuproxy
#       | veth
#   kp-pod-ID   198.18.1.2-.4             backend.py, clients
#
# kube-apiserver 1.20 has no insecure port and refuses to start without a
# default route, hence the namespace.  Everything (processes, namespaces,
# the temporary directory with the PKI and etcd's data) goes away in the
# integration lib's EXIT trap.  Every wait is bounded.
#
# Environment: KP_APISERVER (binary; default: newest under
# $KP_E2E_CACHE, see build-apiserver.sh), KP_ETCD (default: etcd on PATH),
# KUPROXY (default: ./kuproxy at the top of the tree).

KE_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../integration/lib.sh
. "$KE_HERE/../integration/lib.sh"

: "${KP_E2E_CACHE:=/var/cache/kuproxy-testenv}"
KE_API_IP=$KP_NODE_IP		# --advertise-address
KE_API_PORT=6443
KE_API=https://127.0.0.1:$KE_API_PORT	# as seen from the node namespace
KE_ETCD_URL=http://127.0.0.1:2379
KE_ADMIN_TOKEN=
KE_PROXY_TOKEN=
KE_APISERVER_PID=
KE_ETCD_PID=
KE_PKI=
KE_APILOG=
KE_LAST=		# body of the last ke_api answer
KE_CODE=		# its HTTP status
KE_NS=default

# ke_init NAME: root check, topology, PKI, etcd, kube-apiserver.
ke_init() {
	local t

	kp_init "$1"
	for t in openssl iptables-save; do
		command -v "$t" >/dev/null 2>&1 ||
		    { echo "SKIP: $KP_NAME (needs $t)"; exit 77; }
	done
	: "${KP_ETCD:=$(command -v etcd)}"
	if [ -z "$KP_ETCD" ] || [ ! -x "$KP_ETCD" ]; then
		echo "SKIP: $KP_NAME (no etcd: run tests/e2e/build-apiserver.sh)"
		exit 77
	fi
	if [ -z "${KP_APISERVER:-}" ]; then
		KP_APISERVER=$(ls -t "$KP_E2E_CACHE"/*/kube-apiserver 2>/dev/null |
		    head -n 1)
	fi
	if [ -z "$KP_APISERVER" ] || [ ! -x "$KP_APISERVER" ]; then
		echo "SKIP: $KP_NAME (no kube-apiserver: run tests/e2e/build-apiserver.sh)"
		exit 77
	fi
	trap ke_cleanup EXIT
	kp_topology
	ke_pki
	ke_etcd_start
	ke_apiserver_start
	ke_node_create
}

# The Node object kuproxy (--hostname-override $KE_NODE_NAME) looks up
# for its own address; there is no kubelet to register it.
KE_NODE_NAME=e2e-node
ke_node_create() {
	ke_must POST /api/v1/nodes "{\"apiVersion\": \"v1\", \"kind\": \"Node\",
	    \"metadata\": {\"name\": \"$KE_NODE_NAME\"},
	    \"status\": {\"addresses\": [{\"type\": \"InternalIP\", \"address\": \"$KE_API_IP\"},
	    {\"type\": \"Hostname\", \"address\": \"$KE_NODE_NAME\"}]}}" >/dev/null
}

# ke_wait SECONDS COMMAND...: run COMMAND every 0.1 s until it succeeds
# or SECONDS (wall clock) have passed.
ke_wait() {
	local end=$(($(date +%s) + $1))

	shift
	while :; do
		"$@" && return 0
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.1
	done
}

# EXIT trap: stop kuproxy, kube-apiserver and etcd in that order and
# gracefully (bounded), then the integration lib's cleanup removes
# everything else (and SIGKILLs whatever is left in the namespaces).
ke_cleanup() {
	local rc=$? pid

	trap - EXIT
	for pid in "$KP_PID" "$KE_APISERVER_PID" "$KE_ETCD_PID"; do
		[ -n "$pid" ] || continue
		kill -TERM "$pid" 2>/dev/null || continue
		ke_wait 10 ke_gone "$pid" || kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	(exit "$rc")
	kp_cleanup
}

# Quiet openssl wrapper: show its output only when it fails.
ke_ssl() {
	local out

	out=$(openssl "$@" 2>&1) || { echo "$out" >&2; return 1; }
}

# ke_cert NAME CA SUBJ [SAN]: an EC P-256 key and a certificate signed by
# CA (a basename in $KE_PKI), valid one day.
ke_cert() {
	local n=$1 ca=$2 subj=$3 san=$4 ext=$KE_PKI/$1.ext

	ke_ssl ecparam -name prime256v1 -genkey -noout -out "$KE_PKI/$n.key" || return 1
	ke_ssl req -new -key "$KE_PKI/$n.key" -subj "$subj" -out "$KE_PKI/$n.csr" || return 1
	{
		echo "basicConstraints=CA:FALSE"
		echo "keyUsage=critical,digitalSignature,keyEncipherment"
		if [ -n "$san" ]; then
			echo "extendedKeyUsage=serverAuth"
			echo "subjectAltName=$san"
		else
			echo "extendedKeyUsage=clientAuth"
		fi
	} >"$ext"
	ke_ssl x509 -req -in "$KE_PKI/$n.csr" -CA "$KE_PKI/$ca.crt" \
	    -CAkey "$KE_PKI/$ca.key" -CAcreateserial -days 1 -sha256 \
	    -extfile "$ext" -out "$KE_PKI/$n.crt"
}

# ke_ca NAME CN: a self-signed CA.
ke_ca() {
	ke_ssl ecparam -name prime256v1 -genkey -noout -out "$KE_PKI/$1.key" &&
	    ke_ssl req -x509 -new -key "$KE_PKI/$1.key" -subj "/CN=$2" -days 1 \
	    -sha256 -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$KE_PKI/$1.crt"
}

# The test's PKI: a CA, the apiserver's serving certificate, client
# certificates, a second (wrong) CA, service-account keys, static tokens.
ke_pki() {
	KE_PKI=$KP_TMP/pki
	mkdir -p "$KE_PKI" && chmod 700 "$KE_PKI"
	ke_ca ca "kuproxy-e2e-ca" || kp_die "openssl: CA"
	ke_ca wrong-ca "kuproxy-e2e-wrong-ca" || kp_die "openssl: wrong CA"
	ke_cert apiserver ca "/CN=kube-apiserver" \
	    "IP:127.0.0.1,IP:$KE_API_IP,IP:198.19.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc" ||
	    kp_die "openssl: serving certificate"
	ke_cert kube-proxy ca "/O=system:node-proxier/CN=system:kube-proxy" ||
	    kp_die "openssl: client certificate"
	ke_cert admin ca "/O=system:masters/CN=e2e-admin" ||
	    kp_die "openssl: admin certificate"
	# A client certificate from a CA the apiserver does not trust.
	ke_cert stranger wrong-ca "/O=system:masters/CN=stranger" ||
	    kp_die "openssl: stranger certificate"
	ke_ssl genrsa -out "$KE_PKI/sa.key" 2048 || kp_die "openssl: sa key"
	ke_ssl rsa -in "$KE_PKI/sa.key" -pubout -out "$KE_PKI/sa.pub" ||
	    kp_die "openssl: sa pub"
	KE_ADMIN_TOKEN=admin-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
	KE_PROXY_TOKEN=proxy-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
	cat >"$KE_PKI/tokens.csv" <<EOF
$KE_ADMIN_TOKEN,e2e-admin,uid-admin,"system:masters"
$KE_PROXY_TOKEN,system:kube-proxy,uid-kube-proxy,"system:node-proxier"
EOF
}

# Start etcd in the node namespace on loopback with a temporary data dir.
ke_etcd_start() {
	local log=$KP_TMP/etcd.log

	ip netns exec "$KP_NODE" "$KP_ETCD" --name e2e \
	    --data-dir "$KP_TMP/etcd" \
	    --listen-client-urls "$KE_ETCD_URL" \
	    --advertise-client-urls "$KE_ETCD_URL" \
	    --listen-peer-urls http://127.0.0.1:2380 \
	    --initial-advertise-peer-urls http://127.0.0.1:2380 \
	    --initial-cluster e2e=http://127.0.0.1:2380 \
	    --initial-cluster-state new \
	    --listen-metrics-urls http://127.0.0.1:2381 \
	    --logger zap --log-level warn >>"$log" 2>&1 &
	KE_ETCD_PID=$!
	disown "$KE_ETCD_PID"
	KP_PIDS="$KP_PIDS $KE_ETCD_PID"
	ke_wait 20 ke_etcd_healthy || {
		tail -n 20 "$log" >&2
		kp_die "etcd not healthy within 20 s (log: $log)"
	}
}

ke_etcd_healthy() {
	kill -0 "$KE_ETCD_PID" 2>/dev/null || kp_die "etcd exited (see $KP_TMP/etcd.log)"
	kp_node curl -sf -m 1 "$KE_ETCD_URL/health" 2>/dev/null | grep -q '"true"'
}

# ke_apiserver_start: start kube-apiserver in the node namespace and wait
# (60 s) until /readyz says ok.  Can be called again after ke_apiserver_stop.
ke_apiserver_start() {
	local t0

	KE_APILOG=$KP_TMP/apiserver.log
	echo "=== start $(date +%T)" >>"$KE_APILOG"
	t0=$(date +%s)
	ip netns exec "$KP_NODE" "$KP_APISERVER" \
	    --advertise-address "$KE_API_IP" \
	    --bind-address 0.0.0.0 --secure-port "$KE_API_PORT" \
	    --etcd-servers "$KE_ETCD_URL" \
	    --service-cluster-ip-range 198.19.0.0/16 \
	    --tls-cert-file "$KE_PKI/apiserver.crt" \
	    --tls-private-key-file "$KE_PKI/apiserver.key" \
	    --client-ca-file "$KE_PKI/ca.crt" \
	    --token-auth-file "$KE_PKI/tokens.csv" \
	    --service-account-key-file "$KE_PKI/sa.pub" \
	    --service-account-signing-key-file "$KE_PKI/sa.key" \
	    --service-account-issuer https://kubernetes.default.svc \
	    --authorization-mode AlwaysAllow \
	    --anonymous-auth=false \
	    --enable-priority-and-fairness=false \
	    --profiling=false \
	    --cert-dir "$KP_TMP/apiserver-certs" \
	    --v 1 >>"$KE_APILOG" 2>&1 &
	KE_APISERVER_PID=$!
	# No "Killed" job notice when a test kills it on purpose.
	disown "$KE_APISERVER_PID"
	KP_PIDS="$KP_PIDS $KE_APISERVER_PID"
	ke_wait 60 ke_apiserver_ready || {
		tail -n 30 "$KE_APILOG" >&2
		kp_die "kube-apiserver not ready within 60 s (log: $KE_APILOG)"
	}
	kp_log "kube-apiserver ready in $(($(date +%s) - t0)) s"
	# The bootstrap controller creates the namespace and the "kubernetes"
	# Service right after /readyz; objects in "default" need the namespace.
	ke_wait 30 ke_api_ok GET "/api/v1/namespaces/$KE_NS" ||
	    kp_die "namespace $KE_NS never appeared"
}

ke_apiserver_ready() {
	kill -0 "$KE_APISERVER_PID" 2>/dev/null ||
	    kp_die "kube-apiserver exited (see $KE_APILOG)"
	[ "$(ke_curl_admin -m 2 -o /dev/null -w '%{http_code}' \
	    "$KE_API/readyz" 2>/dev/null)" = 200 ]
}

# ke_apiserver_stop [SIGNAL [SECONDS]]: signal kube-apiserver (TERM),
# wait SECONDS (15) for it to exit, then SIGKILL it.  On SIGTERM, 1.20
# stops its controllers and listeners at once but lets open watch
# streams (kuproxy's) run for up to its 60 s shutdown timeout.
ke_apiserver_stop() {
	local pid=$KE_APISERVER_PID

	[ -n "$pid" ] || return 0
	kill -"${1:-TERM}" "$pid" 2>/dev/null
	ke_wait "${2:-15}" ke_gone "$pid" || {
		kp_log "kube-apiserver still running ${2:-15} s after SIG${1:-TERM}: SIGKILL"
		kill -KILL "$pid" 2>/dev/null
		ke_wait 5 ke_gone "$pid"
	}
	KE_APISERVER_PID=
}

ke_gone() { ! kill -0 "$1" 2>/dev/null; }

# curl from the node namespace with the test CA and the admin token.
ke_curl_admin() {
	kp_node curl -sS --cacert "$KE_PKI/ca.crt" \
	    -H "Authorization: Bearer $KE_ADMIN_TOKEN" "$@"
}

# ke_api METHOD PATH [JSON]: call the API as admin; the body goes to
# $KE_LAST and stdout, the status to $KE_CODE.  Returns 0 on 2xx.
ke_api() {
	local m=$1 path=$2 body=$3 out
	local args=(-m 10 -X "$m")

	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	out=$(ke_curl_admin "${args[@]}" -w '\n%{http_code}' "$KE_API$path")
	KE_CODE=${out##*$'\n'}
	KE_LAST=${out%$'\n'*}
	[ "$KE_LAST" = "$out" ] && KE_LAST=
	case $KE_CODE in
	2??) return 0 ;;
	esac
	return 1
}

# ke_api_ok METHOD PATH [JSON]: ke_api, output discarded (for kp_until).
ke_api_ok() { ke_api "$@" >/dev/null; }

# ke_must METHOD PATH [JSON]: ke_api, or the test dies with the answer.
ke_must() {
	ke_api "$@" ||
	    kp_die "$1 $2: HTTP $KE_CODE: $(printf '%s' "$KE_LAST" | head -c 400)"
}

# ke_json EXPR: kp_json on $KE_LAST.
ke_json() { printf '%s' "$KE_LAST" | kp_json "$1"; }

# --- object writers (JSON) -------------------------------------------

# ke_svc_json NAME CLUSTERIP PORT PROTO [TARGETPORT]
ke_svc_json() {
	cat <<EOF
{"apiVersion": "v1", "kind": "Service",
 "metadata": {"name": "$1", "namespace": "$KE_NS", "labels": {"e2e": "kuproxy"}},
 "spec": {"type": "ClusterIP", "clusterIP": "$2",
  "ports": [{"name": "p", "port": $3, "protocol": "$4", "targetPort": ${5:-$3}}],
  "selector": {"app": "$1"}, "sessionAffinity": "None"}}
EOF
}

# ke_eps_json NAME PORT PROTO [IP...]: Endpoints (no IPs: no subsets).
ke_eps_json() {
	local name=$1 port=$2 proto=$3 ip sep=

	shift 3
	printf '{"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "%s", "namespace": "%s", "labels": {"app": "%s"}}, "subsets": [' \
	    "$name" "$KE_NS" "$name"
	if [ $# -gt 0 ]; then
		printf '{"addresses": ['
		for ip; do
			printf '%s{"ip": "%s"}' "$sep" "$ip"
			sep=", "
		done
		printf '], "ports": [{"name": "p", "port": %s, "protocol": "%s"}]}' \
		    "$port" "$proto"
	fi
	printf ']}\n'
}

# ke_slice_json SLICE SERVICE PORT PROTO [IP[=notready]...]: a
# discovery.k8s.io/v1beta1 EndpointSlice of SERVICE.
ke_slice_json() {
	local name=$1 svc=$2 port=$3 proto=$4 ip ready sep=

	shift 4
	printf '{"apiVersion": "discovery.k8s.io/v1beta1", "kind": "EndpointSlice", "metadata": {"name": "%s", "namespace": "%s", "labels": {"kubernetes.io/service-name": "%s", "endpointslice.kubernetes.io/managed-by": "e2e.kuproxy"}}, "addressType": "IPv4", "endpoints": [' \
	    "$name" "$KE_NS" "$svc"
	for ip; do
		ready=true
		case $ip in
		*=notready) ip=${ip%=notready}; ready=false ;;
		esac
		printf '%s{"addresses": ["%s"], "conditions": {"ready": %s}}' \
		    "$sep" "$ip" "$ready"
		sep=", "
	done
	printf '], "ports": [{"name": "p", "port": %s, "protocol": "%s"}]}\n' \
	    "$port" "$proto"
}

KE_CORE=/api/v1/namespaces
KE_DISC=/apis/discovery.k8s.io/v1beta1/namespaces

# ke_put_or_post COLLECTION NAME JSON: replace the object, or create it.
ke_put_or_post() {
	if ke_api PUT "$1/$2" "$3" >/dev/null; then
		return 0
	fi
	[ "$KE_CODE" = 404 ] || return 1
	ke_api POST "$1" "$3" >/dev/null
}

# ke_service NAME CLUSTERIP PORT PROTO [TARGETPORT]: create a Service.
ke_service() {
	ke_must POST "$KE_CORE/$KE_NS/services" "$(ke_svc_json "$@")" >/dev/null
}

# ke_endpoints NAME PORT PROTO [IP...]: create or replace Endpoints.
ke_endpoints() {
	ke_put_or_post "$KE_CORE/$KE_NS/endpoints" "$1" "$(ke_eps_json "$@")" ||
	    kp_die "endpoints $1: HTTP $KE_CODE: $(printf '%s' "$KE_LAST" | head -c 400)"
}

# ke_slice SLICE SERVICE PORT PROTO [IP...]: create or replace a slice.
ke_slice() {
	ke_put_or_post "$KE_DISC/$KE_NS/endpointslices" "$1" \
	    "$(ke_slice_json "$@")" ||
	    kp_die "endpointslice $1: HTTP $KE_CODE: $(printf '%s' "$KE_LAST" | head -c 400)"
}

# ke_backends NAME PORT PROTO [IP...]: Endpoints and an EndpointSlice
# (NAME-e2e) with the same addresses, so any endpoints source sees them.
ke_backends() {
	local name=$1 port=$2 proto=$3

	shift 3
	ke_endpoints "$name" "$port" "$proto" "$@"
	ke_slice "$name-e2e" "$name" "$port" "$proto" "$@"
}

# ke_delete KIND NAME: kind is services, endpoints or endpointslices.
ke_delete() {
	local coll=$KE_CORE

	[ "$1" = endpointslices ] && coll=$KE_DISC
	ke_must DELETE "$coll/$KE_NS/$1/$2" >/dev/null
}

# --- kubeconfig and kuproxy -------------------------------------------

# ke_kubeconfig FILE AUTH [SERVER]: write a kubeconfig.  AUTH is token,
# tokenfile, cert (file paths), certdata (inline base64), wrongca (token
# auth, but the cluster's CA is the wrong one), badtoken or stranger (a
# client certificate from an untrusted CA).
ke_kubeconfig() {
	local f=$1 auth=$2 server=${3:-$KE_API} ca=$KE_PKI/ca.crt user

	[ "$auth" = wrongca ] && ca=$KE_PKI/wrong-ca.crt
	case $auth in
	token | wrongca) user="    token: $KE_PROXY_TOKEN" ;;
	badtoken) user="    token: not-a-valid-token" ;;
	tokenfile)
		printf '%s\n' "$KE_PROXY_TOKEN" >"$KP_TMP/proxy.token"
		user="    tokenFile: $KP_TMP/proxy.token"
		;;
	cert) user="    client-certificate: $KE_PKI/kube-proxy.crt
    client-key: $KE_PKI/kube-proxy.key" ;;
	stranger) user="    client-certificate: $KE_PKI/stranger.crt
    client-key: $KE_PKI/stranger.key" ;;
	certdata) user="    client-certificate-data: $(base64 -w0 <"$KE_PKI/kube-proxy.crt")
    client-key-data: $(base64 -w0 <"$KE_PKI/kube-proxy.key")" ;;
	*) kp_die "ke_kubeconfig: unknown auth '$auth'" ;;
	esac
	if [ "$auth" = certdata ]; then
		ca="certificate-authority-data: $(base64 -w0 <"$ca")"
	else
		ca="certificate-authority: $ca"
	fi
	cat >"$f" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: $server
    $ca
users:
- name: kube-proxy
  user:
$user
contexts:
- name: e2e
  context:
    cluster: e2e
    user: kube-proxy
current-context: e2e
EOF
	chmod 600 "$f"
}

# Is kuproxy's API source built?  (Before it is, kuproxy --kubeconfig
# exits with "no source of Services".)
ke_no_api_source() {
	grep -q "no source of Services" "$KP_LOG" 2>/dev/null
}

# ke_kuproxy KUBECONFIG [ARGS...]: start kuproxy in the node namespace
# against the API server; wait until /debug/services answers.  Skips the
# test (77) while kuproxy has no API source yet.  If it exits early: the
# test dies, or with KE_MAY_EXIT set, returns 1.
ke_kuproxy() {
	local kc=$1 i

	shift
	KP_LOG=$KP_TMP/kuproxy.log
	mkdir -p "$KP_TMP/state"
	echo "=== start $(date +%T) $*" >>"$KP_LOG"
	ip netns exec "$KP_NODE" "$KUPROXY" --kubeconfig "$kc" \
	    --bind-address 0.0.0.0 --metrics-bind-address "$KP_METRICS" \
	    --healthz-bind-address "$KP_HEALTHZ" \
	    --hostname-override "$KE_NODE_NAME" \
	    --state-dir "$KP_TMP/state" -v 2 "$@" >>"$KP_LOG" 2>&1 &
	KP_PID=$!
	KP_PIDS="$KP_PIDS $KP_PID"
	for i in $(seq 1 100); do
		if ! kp_alive; then
			if ke_no_api_source; then
				echo "SKIP: $KP_NAME (kuproxy has no API source yet: \"$(grep -m1 'no source' "$KP_LOG")\")"
				exit 77
			fi
			[ -n "${KE_MAY_EXIT:-}" ] && return 1
			kp_die "kuproxy exited during start-up (see $KP_LOG)"
		fi
		if kp_node curl -sf -m 1 -o /dev/null "$KP_URL"; then
			return 0
		fi
		sleep 0.1
	done
	kp_die "kuproxy's /debug/services did not answer within 10 s"
}

# ke_kuproxy_stop: SIGTERM kuproxy, wait (5 s).
ke_kuproxy_stop() {
	[ -n "$KP_PID" ] || return 0
	kill -TERM "$KP_PID" 2>/dev/null
	kp_until 50 ke_gone "$KP_PID" || kill -KILL "$KP_PID" 2>/dev/null
	kp_until 20 ke_gone "$KP_PID"
	KP_PID=
}

# --- traffic and rules -----------------------------------------------

# ke_dist NS IP:PORT COUNT: COUNT sequential connections; prints the
# client's JSON ({"ok": N, "counts": {id: n}, ...}).
ke_dist() {
	KP_CLIENT_TIMEOUT=60 kp_client "$1" dist --target "$2" \
	    --count "$3" --timeout 2
}

# ke_counts NS IP:PORT COUNT: just the sorted counts, e.g.
# {"b2": 5, "b3": 5}, or {} when nothing answered.
ke_counts() {
	ke_dist "$@" 2>/dev/null | kp_json 'd.get("counts", {})' 2>/dev/null ||
	    echo '{}'
}

# ke_ids NS IP:PORT COUNT: the sorted set of ids that answered, joined by
# spaces ("b2 b3"), empty when none.
ke_ids() {
	ke_dist "$@" 2>/dev/null |
	    kp_json '" ".join(sorted(d.get("counts", {})))' 2>/dev/null
}

# ke_wait_ids SECONDS NS IP:PORT COUNT WANT: wait until exactly the ids
# WANT ("b2 b3", or "" for none) answer COUNT connections in a row.
ke_wait_ids() {
	local secs=$1 ns=$2 target=$3 n=$4 want=$5 got end

	end=$(($(date +%s) + secs))
	while :; do
		got=$(ke_ids "$ns" "$target" "$n")
		[ "$got" = "$want" ] && return 0
		if [ "$(date +%s)" -ge "$end" ]; then
			kp_log "wanted ids '$want' at $target, last saw '$got'"
			return 1
		fi
		sleep 0.2
	done
}

# ke_rules COMMENT: number of nat rules in the node namespace carrying
# that comment (iptables-save quotes it only when needed).
ke_rules() {
	kp_node iptables-save -t nat 2>/dev/null |
	    grep -cE -- "--comment \"?$1\"? " || true
}
