#!/bin/bash
# test_fakeapi: kuproxy --master against tests/fakeapi/fakeapi.py, both in
# the node namespace.  A Service and its EndpointSlices from the API reach
# the relays; a slice added through the API is followed; a watch cut
# mid-event and a 410 Gone re-list are survived; once the API server is
# gone, kuproxy keeps serving its last state.
. "$(dirname "$0")/lib.sh"
kp_init fakeapi
kp_topology
kp_backend id b2@198.18.1.2:8080 b3@198.18.1.3:8080 b4@198.18.1.4:8080

FA=$KP_SRCDIR/tests/fakeapi/fakeapi.py
FA_PORT=

# fa_slice NAME IP...: an EndpointSlice of Service web, port p 8080.
fa_slice() {
	local name=$1 ip sep=
	shift
	printf '{"metadata":{"name":"%s","namespace":"default","labels":' "$name"
	printf '{"kubernetes.io/service-name":"web"}},"addressType":"IPv4",'
	printf '"endpoints":['
	for ip; do
		printf '%s{"addresses":["%s"],"conditions":{"ready":true}}' \
		    "$sep" "$ip"
		sep=,
	done
	printf '],"ports":[{"name":"p","port":8080,"protocol":"TCP"}]}'
}

# fa_ctl JSON: a control command to the fake API server.
fa_ctl() {
	kp_node curl -sf -m 5 -o /dev/null -X POST -d "$1" \
	    "http://127.0.0.1:$FA_PORT/control"
}

# Distribution of N connections to the Service, as {"b2": n, ...}.
dist() {
	kp_client "$KP_CLI" dist --target "$KP_NODE_IP:$1" --count "$2" |
	    kp_json 'd["counts"]'
}

cat >"$KP_TMP/state.json" <<EOF
{"services": [{"metadata": {"name": "web", "namespace": "default"},
  "spec": {"type": "ClusterIP", "clusterIP": "198.19.0.10",
   "ports": [{"name": "p", "port": 80, "protocol": "TCP",
     "targetPort": 8080}]}}],
 "endpointslices": [$(fa_slice web-1 198.18.1.2 198.18.1.3)],
 "nodes": [{"metadata": {"name": "node-1"}, "status": {"addresses":
   [{"type": "InternalIP", "address": "$KP_NODE_IP"}]}}]}
EOF
kp_node "$KP_PY" "$FA" --port-file "$KP_TMP/fa.port" \
    --state "$KP_TMP/state.json" --lifetime 300 >>"$KP_TMP/fakeapi.log" 2>&1 &
FA_PID=$!
KP_PIDS="$KP_PIDS $FA_PID"
kp_wait_file "$KP_TMP/fa.port" 100 || kp_die "fakeapi.py did not start"
FA_PORT=$(cat "$KP_TMP/fa.port")
# The first Services list fails twice: kuproxy must retry.
fa_ctl '{"op":"fault","verb":"list","kind":"services","count":2,
    "action":{"status":500}}' || kp_die "fakeapi control"

KP_LOG=$KP_TMP/kuproxy.log
mkdir -p "$KP_TMP/state"
kp_node "${KP_CAPWRAP[@]}" "$KUPROXY" --master "http://127.0.0.1:$FA_PORT" \
    --hostname-override node-1 --bind-address 0.0.0.0 \
    --metrics-bind-address "$KP_METRICS" \
    --healthz-bind-address "$KP_HEALTHZ" \
    --state-dir "$KP_TMP/state" -v 2 >>"$KP_LOG" 2>&1 &
KP_PID=$!
KP_PIDS="$KP_PIDS $KP_PID"
kp_until 100 kp_node curl -sf -m 1 -o /dev/null "$KP_URL" ||
    kp_die "kuproxy's /debug/services did not answer"

port=$(kp_wait_svc default/web:p 2) || kp_die "default/web:p never appeared"
kp_ok "default/web:p on proxy port $port, from the API"
kp_ge "kuproxy_api_lists_total counts the Services list" 1 \
    "$(kp_metric 'kuproxy_api_lists_total{resource="services"}')"
kp_ge "kuproxy_api_errors_total counts the two failed lists" 2 \
    "$(kp_metric kuproxy_api_errors_total)"
# client-go's request counter, by code, method and host.
rc="rest_client_requests_total{code=\"%s\",host=\"127.0.0.1:$FA_PORT\",method=\"GET\"}"
kp_eq "rest_client_requests_total counts the two 500s" 2 \
    "$(kp_metric "$(printf "$rc" 500)")"
kp_ge "rest_client_requests_total counts the 200s (lists, watches)" 3 \
    "$(kp_metric "$(printf "$rc" 200)")"
kp_eq "two endpoints from slice web-1" '{"b2": 10, "b3": 10}' "$(dist "$port" 20)"

# A second slice of the same Service: merged.
fa_ctl "{\"op\":\"put\",\"kind\":\"endpointslices\",\"obj\":$(fa_slice web-2 198.18.1.4)}"
kp_wait_svc default/web:p 3 >/dev/null || kp_fail "slice web-2 not merged"
kp_eq "three endpoints over two slices" '{"b2": 10, "b3": 10, "b4": 10}' \
    "$(dist "$port" 30)"

# The next slices watch is cut mid-event; the event is not lost.
fa_ctl '{"op":"fault","verb":"watch","kind":"endpointslices",
    "action":{"drop_mid_event":true}}'
fa_ctl '{"op":"close_watches"}'
sleep 0.5
fa_ctl '{"op":"delete","kind":"endpointslices","ns":"default","name":"web-1"}'
kp_wait_svc default/web:p 1 >/dev/null || kp_fail "delete of web-1 lost"
kp_eq "only web-2 after the cut watch" '{"b4": 10}' "$(dist "$port" 10)"

# 410 Gone: a re-list that changes nothing keeps serving.
fa_ctl '{"op":"compact"}'
fa_ctl '{"op":"close_watches"}'
kp_until 100 grep -q "too old (410 Gone): re-listing" "$KP_LOG" ||
    kp_fail "no 410 re-list logged"
kp_eq "still served after the re-list" '{"b4": 10}' "$(dist "$port" 10)"
kp_check "node IP learned from the Node object" \
    grep -q "node node-1: IP $KP_NODE_IP" "$KP_LOG"
kp_check "injected 500 on list logged" \
    grep -q "list services from http://127.0.0.1:$FA_PORT: HTTP 500" "$KP_LOG"

# The API server goes away: errors are logged, the last state serves.
kill -TERM "$FA_PID"
wait "$FA_PID" 2>/dev/null
kp_until 100 grep -q "Couldn't connect\|Connection refused\|Failed to connect" \
    "$KP_LOG" || kp_fail "no connection error logged"
kp_eq "served without the API server" '{"b4": 10}' "$(dist "$port" 10)"
kp_until 100 eval '[ -n "$(kp_metric "$(printf "$rc" "<error>")")" ]' ||
    kp_fail "no rest_client_requests_total{code=\"<error>\"} once the API server is gone"
kp_check "kuproxy still running" kp_alive
kp_finish
