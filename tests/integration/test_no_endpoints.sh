#!/bin/bash
# test_no_endpoints: a Service whose Endpoints has no ready address, and
# one with no Endpoints object at all.  A TCP connection to either is
# closed at once (EOF or RST within 1 s), noEndpoints counts it, and
# another Service keeps working.
. "$(dirname "$0")/lib.sh"
kp_init no_endpoints
kp_topology
kp_backend id b2@198.18.1.2:8080

KP_SVCFILE=$KP_TMP/services.yaml
{
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.2
	kp_svc empty 198.19.0.12 80 TCP 8080
	kp_eps empty 8080 TCP
	kp_svc none 198.19.0.13 80 TCP 8080
} >"$KP_SVCFILE"
kp_start
pw=$(kp_wait_svc default/web:p 1) || kp_die "service default/web:p never appeared"

for svc in empty none; do
	name=default/$svc:p
	port=$(kp_wait_svc "$name" 0) || { kp_fail "$name not listed"; continue; }
	before=$(kp_debug "$name" noEndpoints)
	res=$(kp_client "$KP_CLI" probe --target "$KP_NODE_IP:$port" --timeout 2)
	kp_log "$name: $res"
	kp_eq "$name: connection closed by kuproxy" True "$(echo "$res" |
	    kp_json 'd["result"] in ("eof", "reset") and d["stage"] == "read"')"
	kp_eq "$name: closed within 1 s" True \
	    "$(echo "$res" | kp_json 'd["elapsed"] < 1.0')"
	kp_until 10 kp_debug_has "$name" noEndpoints "^$((before + 1))\$"
	kp_eq "$name: noEndpoints incremented" "$((before + 1))" \
	    "$(kp_debug "$name" noEndpoints)"
done

res=$(kp_client "$KP_CLI" dist --target "$KP_NODE_IP:$pw" --count 3)
kp_eq "other service still serves" '{"b2": 3}' \
    "$(echo "$res" | kp_json 'd["counts"]')"
kp_check "kuproxy still running" kp_alive
kp_finish
