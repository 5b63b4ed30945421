#!/bin/bash
# test_redaction: no secret of the kubeconfig ever leaves kuproxy.  The
# fake API server (TLS, a client certificate required, a bearer token
# required) is reached through a kubeconfig holding a known test token
# and client key; kuproxy runs at -v 9 (with only KP_CAPS), goes
# through a 401, a token the server stops accepting and a bad kubeconfig
# at -n; then ALL its output (stderr of every run, /configz, /metrics,
# /debug/services, /healthz, /proxyMode, --write-config-to) is searched
# for the token, "Bearer", every line of the client key's PEM body and
# pieces of its base64 client-key-data: nothing may match.  A positive
# control first proves the search finds the same strings where they are.
. "$(dirname "$0")/lib.sh"
kp_init redaction
kp_topology
kp_backend id b2@198.18.1.2:8080

D=$KP_SRCDIR/tests/data
FA=$KP_SRCDIR/tests/fakeapi/fakeapi.py
TOKEN=kplp-test-token-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
OUT=$KP_TMP/out		# everything kuproxy printed or served
mkdir -p "$OUT"

cat >"$KP_TMP/state.json" <<EOF
{"services": [{"metadata": {"name": "web", "namespace": "default"},
  "spec": {"type": "ClusterIP", "clusterIP": "198.19.0.10",
   "ports": [{"name": "p", "port": 80, "protocol": "TCP",
     "targetPort": 8080}]}}],
 "endpointslices": [{"metadata": {"name": "web-1", "namespace": "default",
   "labels": {"kubernetes.io/service-name": "web"}},
   "addressType": "IPv4", "endpoints": [{"addresses": ["198.18.1.2"],
   "conditions": {"ready": true}}],
   "ports": [{"name": "p", "port": 8080, "protocol": "TCP"}]}],
 "nodes": [{"metadata": {"name": "node-1"}, "status": {"addresses":
   [{"type": "InternalIP", "address": "$KP_NODE_IP"}]}}]}
EOF
kp_node "$KP_PY" "$FA" --port-file "$KP_TMP/fa.port" \
    --state "$KP_TMP/state.json" --lifetime 300 \
    --tls-cert "$D/k8s_watch-server.pem" \
    --tls-key "$D/k8s_watch-server-key.pem" \
    --tls-client-ca "$D/k8s_watch-ca.pem" --token "$TOKEN" \
    >>"$KP_TMP/fakeapi.log" 2>&1 &
KP_PIDS="$KP_PIDS $!"
kp_wait_file "$KP_TMP/fa.port" 100 || kp_die "fakeapi.py did not start"
FA_PORT=$(cat "$KP_TMP/fa.port")
fa_ctl() {
	kp_node curl -sf -m 5 -o /dev/null -X POST -d "$1" \
	    --cacert "$D/k8s_watch-ca.pem" --cert "$D/k8s_watch-client.pem" \
	    --key "$D/k8s_watch-client-key.pem" \
	    "https://127.0.0.1:$FA_PORT/control"
}

b64() { base64 -w0 <"$1"; }
KEYDATA=$(b64 "$D/k8s_watch-client-key.pem")
KC=$KP_TMP/kubeconfig
cat >"$KC" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: https://127.0.0.1:$FA_PORT
    certificate-authority-data: $(b64 "$D/k8s_watch-ca.pem")
users:
- name: kube-proxy
  user:
    client-certificate-data: $(b64 "$D/k8s_watch-client.pem")
    client-key-data: $KEYDATA
    token: $TOKEN
contexts:
- name: default
  context:
    cluster: fake
    user: kube-proxy
current-context: default
EOF
chmod 600 "$KC"

# The secrets searched for, one fixed string per line.
{
	echo "$TOKEN"
	echo "Bearer"
	grep -v '^-----' "$D/k8s_watch-client-key.pem"
	# Pieces of the base64 form, at three offsets (no alignment luck).
	for off in 0 101 1001; do
		echo "${KEYDATA:$off:40}"
	done
} | grep -v '^$' >"$KP_TMP/secrets"
kp_ge "secret patterns to search for" 6 "$(wc -l <"$KP_TMP/secrets")"
# Positive control: the search finds them where they are (the token: and
# client-key-data: lines of the kubeconfig, the key's PEM body).
kp_eq "the search finds the token and key data in the kubeconfig" 2 \
    "$(grep -c -F -f "$KP_TMP/secrets" "$KC")"
kp_ge "the search finds the key's PEM body" 1 \
    "$(grep -c -F -f "$KP_TMP/secrets" "$D/k8s_watch-client-key.pem")"

# The first Services list is refused with 401: its error path is logged.
fa_ctl '{"op":"fault","verb":"list","kind":"services","count":1,
    "action":{"status":401}}' || kp_die "fakeapi control"

KP_LOG=$OUT/kuproxy.stderr
mkdir -p -m 0700 "$KP_TMP/state"
ip netns exec "$KP_NODE" "${KP_CAPWRAP[@]}" "$KUPROXY" --kubeconfig "$KC" \
    --hostname-override node-1 --bind-address 0.0.0.0 \
    --metrics-bind-address "$KP_METRICS" \
    --healthz-bind-address "$KP_HEALTHZ" \
    --state-dir "$KP_TMP/state" -v 9 >>"$KP_LOG" 2>&1 &
KP_PID=$!
KP_PIDS="$KP_PIDS $KP_PID"
kp_until 100 kp_node curl -sf -m 1 -o /dev/null "$KP_URL" ||
    kp_die "kuproxy's /debug/services did not answer"
port=$(kp_wait_svc default/web:p 1) || kp_die "default/web:p never appeared"
kp_ok "default/web:p on proxy port $port, through TLS, client cert and token"
kp_eq "a connection through the Service" b2 \
    "$(kp_client "$KP_CLI" dist --target 198.18.2.1:"$port" --count 1 |
    kp_json 'list(d["counts"])[0]')"
auth=$(kp_node curl -s -m 5 --cacert "$D/k8s_watch-ca.pem" \
    --cert "$D/k8s_watch-client.pem" --key "$D/k8s_watch-client-key.pem" \
    "https://127.0.0.1:$FA_PORT/control/requests" |
    kp_json 'sorted(set(r["auth"] for r in d))')
kp_eq "every API request carried the token" '["ok"]' "$auth"

# The server stops accepting the token: 401s on the re-list, logged.
fa_ctl '{"op":"token","token":"another-token"}' || kp_die "fakeapi control"
fa_ctl '{"op":"close_watches"}' || kp_die "fakeapi control"
fa_ctl '{"op":"compact"}' || kp_die "fakeapi control"
kp_until 100 grep -q -i 'unauthorized\|401' "$KP_LOG" ||
    kp_fail "no 401 logged after the token was refused"
sleep 2
fa_ctl "{\"op\":\"token\",\"token\":\"$TOKEN\"}" || kp_die "fakeapi control"

for p in /configz /metrics /debug/services /proxyMode; do
	kp_node curl -s -m 5 "http://$KP_METRICS$p" \
	    >"$OUT/metrics${p//\//_}" 2>&1
done
kp_node curl -s -m 5 "http://$KP_HEALTHZ/healthz" >"$OUT/healthz" 2>&1
kp_ge "/configz answered" 100 "$(wc -c <"$OUT/metrics_configz")"
kp_check "/configz names the kubeconfig (by path)" \
    grep -q -F "$KC" "$OUT/metrics_configz"
kp_ge "/metrics answered" 1000 "$(wc -c <"$OUT/metrics_metrics")"
kp_stop
kp_eq "kuproxy exits 0 on SIGTERM" 0 "$KP_STOP_RC"
kp_ge "lines logged at -v 9" 30 "$(wc -l <"$KP_LOG")"

# -n and --write-config-to, also at -v 9.
kp_node "$KUPROXY" -n --kubeconfig "$KC" -v 9 >"$OUT/check.out" 2>&1
kp_node "$KUPROXY" --kubeconfig "$KC" -v 9 \
    --write-config-to "$OUT/written.yaml" >"$OUT/write.out" 2>&1
kp_check "--write-config-to wrote the configuration" test -s "$OUT/written.yaml"
# A kubeconfig the parser rejects next to the secrets (a field of the
# wrong type and an unsupported one): the errors name fields, not values.
sed -e "s|^    token: .*|    token: {value: $TOKEN}|" "$KC" >"$KP_TMP/bad1"
sed -e "s|^    client-key-data: .*|    client-key-data: !!$KEYDATA|" \
    "$KC" >"$KP_TMP/bad2"
sed -e "s|^    token: .*|    password: $TOKEN|" "$KC" >"$KP_TMP/bad3"
for i in 1 2 3; do
	if kp_node "$KUPROXY" -n --kubeconfig "$KP_TMP/bad$i" -v 9 \
	    >"$OUT/bad$i.out" 2>&1; then
		kp_fail "bad kubeconfig $i accepted"
	else
		kp_log "bad kubeconfig $i: $(head -n 1 "$OUT/bad$i.out")"
	fi
done

# The verdict: nothing kuproxy printed or served holds a secret.
n=0
for f in "$OUT"/*; do
	if grep -a -n -F -f "$KP_TMP/secrets" "$f" >"$KP_TMP/hits"; then
		kp_fail "$(basename "$f") leaks: $(head -c 300 "$KP_TMP/hits")"
	fi
	n=$((n + $(wc -c <"$f")))
done
kp_ok "searched $(find "$OUT" -type f | wc -l) outputs, $n bytes, for $(wc -l <"$KP_TMP/secrets") secret patterns"
kp_finish
