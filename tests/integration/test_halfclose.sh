#!/bin/bash
# test_halfclose: the client sends 100000 bytes and shuts down its write
# side; the backend answers only after it saw EOF, so the reply proves
# kuproxy relayed the half-close and kept the other direction open.
. "$(dirname "$0")/lib.sh"
kp_init halfclose
kp_topology
kp_backend halfclose h2@198.18.1.2:8080

KP_SVCFILE=$KP_TMP/services.yaml
{
	kp_svc hc 198.19.0.11 80 TCP 8080
	kp_eps hc 8080 TCP 198.18.1.2
} >"$KP_SVCFILE"
kp_start
port=$(kp_wait_svc default/hc:p 1) || kp_die "service default/hc:p never appeared"

for n in 100000 1; do
	res=$(kp_client "$KP_CLI" halfclose --target "$KP_NODE_IP:$port" \
	    --bytes "$n" --timeout 5 2>&1)
	kp_log "halfclose $n: $res"
	kp_eq "reply after half-close ($n bytes)" "h2 got $n bytes" \
	    "$(echo "$res" | kp_json 'd["reply"]' 2>/dev/null)"
done
kp_check "kuproxy still running" kp_alive
kp_finish
