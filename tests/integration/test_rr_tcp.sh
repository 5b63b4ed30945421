#!/bin/bash
# test_rr_tcp: a TCP Service with 3 endpoints; 30 sequential connections
# are spread exactly 10/10/10 (round-robin), and the accepted counter in
# /debug/services matches.
. "$(dirname "$0")/lib.sh"
kp_init rr_tcp
kp_topology
kp_backend id b2@198.18.1.2:8080 b3@198.18.1.3:8080 b4@198.18.1.4:8080

KP_SVCFILE=$KP_TMP/services.yaml
{
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.2 198.18.1.3 198.18.1.4
} >"$KP_SVCFILE"
kp_start
port=$(kp_wait_svc default/web:p 3) || kp_die "service default/web:p never appeared"
kp_ok "default/web:p on proxy port $port"

res=$(kp_client "$KP_CLI" dist --target "$KP_NODE_IP:$port" --count 30)
kp_log "dist: $res"
kp_eq "30 connections, no errors" 30 "$(echo "$res" | kp_json 'd["ok"]')"
kp_eq "round-robin distribution" '{"b2": 10, "b3": 10, "b4": 10}' \
    "$(echo "$res" | kp_json 'd["counts"]')"
# Strict rotation: no backend twice in any window of three.
kp_eq "strict rotation" True "$(echo "$res" | kp_json \
    'all(len(set(d["seq"][i:i+3])) == 3 for i in range(28))')"
kp_eq "accepted counter" 30 "$(kp_debug default/web:p accepted)"
kp_check "kuproxy still running" kp_alive
kp_finish
