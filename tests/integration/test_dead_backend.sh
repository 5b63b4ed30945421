#!/bin/bash
# test_dead_backend: one of 3 endpoints refuses connections (address up,
# nothing listening); all 30 connections still succeed because kuproxy
# tries the next endpoint, and only the 2 live backends answer.  Then the
# dead endpoint is replaced by one that does not answer at all (no host:
# the SYN goes unanswered), which kuproxy must give up on after its dial
# timeout and retry elsewhere.
. "$(dirname "$0")/lib.sh"
kp_init dead_backend
kp_topology
kp_backend id b2@198.18.1.2:8080 b3@198.18.1.3:8080

KP_SVCFILE=$KP_TMP/services.yaml
{
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.2 198.18.1.3 198.18.1.4
} >"$KP_SVCFILE"
kp_start
port=$(kp_wait_svc default/web:p 3) || kp_die "service default/web:p never appeared"

res=$(kp_client "$KP_CLI" dist --target "$KP_NODE_IP:$port" --count 30)
kp_log "refusing endpoint: $res"
kp_eq "all 30 connections succeed" 30 "$(echo "$res" | kp_json 'd["ok"]')"
kp_eq "only live backends answer" '["b2", "b3"]' \
    "$(echo "$res" | kp_json 'sorted(d["counts"])')"
ce=$(kp_debug default/web:p connectErrors)
kp_log "connectErrors: $ce"
kp_ge "connectErrors counted" 1 "$ce"

# Phase 2: an endpoint nobody answers for (198.18.1.9 is not assigned:
# ARP fails, the SYN is never answered).
{
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.2 198.18.1.3 198.18.1.9
} | kp_replace "$KP_SVCFILE"
kp_until 30 kp_debug_has default/web:p endpoints 198.18.1.9
eps=$(kp_debug default/web:p endpoints)
case $eps in
*198.18.1.9*) kp_ok "endpoints updated: $eps" ;;
*) kp_fail "endpoints not updated to include 198.18.1.9: $eps" ;;
esac
t0=$(date +%s%N)
res=$(kp_client "$KP_CLI" dist --target "$KP_NODE_IP:$port" --count 12 \
    --timeout 8)
ms=$((($(date +%s%N) - t0) / 1000000))
kp_log "blackholed endpoint: $res ($ms ms)"
kp_eq "all 12 connections succeed" 12 "$(echo "$res" | kp_json 'd["ok"]')"
kp_eq "only live backends answer" '["b2", "b3"]' \
    "$(echo "$res" | kp_json 'sorted(d["counts"])')"
kp_check "kuproxy still running" kp_alive
kp_finish
