#!/bin/bash
# test_udp: a UDP Service with 3 endpoints, kuproxy run with
# --udp-timeout 500ms.
#  - a 61440-byte datagram goes through intact both ways (the backend
#    echoes it with an "<id>:" prefix; the client checks every byte);
#  - 3 fresh client source ports are spread over the 3 backends;
#  - a flow shows up as activeConnections 1 right after a datagram and
#    expires (0) within 3 s.
. "$(dirname "$0")/lib.sh"
kp_init udp
kp_topology
kp_backend echo --no-tcp u2@198.18.1.2:5353 u3@198.18.1.3:5353 u4@198.18.1.4:5353

KP_SVCFILE=$KP_TMP/services.yaml
{
	kp_svc dns 198.19.0.53 53 UDP 5353
	kp_eps dns 5353 UDP 198.18.1.2 198.18.1.3 198.18.1.4
} >"$KP_SVCFILE"
kp_start --udp-timeout 500ms
port=$(kp_wait_svc default/dns:p 3) || kp_die "service default/dns:p never appeared"
kp_eq "protocol" '"UDP"' "$(kp_debug default/dns:p protocol)"

res=$(kp_client "$KP_CLI" udp --target "$KP_NODE_IP:$port" --size 61440)
kp_log "61440-byte datagram: $res"
kp_eq "61440-byte datagram round-trips intact" True \
    "$(echo "$res" | kp_json 'd["ok"] and d["form"] == "echo"')"
kp_eq "reply size (prefix + payload)" 61443 \
    "$(echo "$res" | kp_json 'd["reply_len"]')"

res=$(kp_client "$KP_CLI" udp-dist --target "$KP_NODE_IP:$port" --count 3 \
    --size 16)
kp_log "3 source ports: $res"
kp_eq "3 source ports reach 3 distinct backends" '["u2", "u3", "u4"]' \
    "$(echo "$res" | kp_json 'sorted(d["seq"])')"

# Flow expiry.  Let earlier flows expire first, then measure from the node
# namespace, where /debug/services is reachable, in one process.
kp_until 30 kp_debug_has default/dns:p activeConnections '^0$' ||
    kp_fail "earlier flows did not expire within 3 s: $(kp_debug default/dns:p activeConnections)"
res=$(kp_client "$KP_NODE" udp-flow --target "127.0.0.1:$port" \
    --url "$KP_URL" --service default/dns:p --within 3)
kp_log "flow: $res"
kp_eq "datagram answered" True "$(echo "$res" | kp_json 'd["roundtrip"]["ok"]')"
kp_eq "activeConnections right after a datagram" 1 \
    "$(echo "$res" | kp_json 'd["active_after"]')"
exp=$(echo "$res" | kp_json 'd["expired_after"]')
if [ "$exp" != None ]; then
	kp_ok "flow expired after $exp s (--udp-timeout 500ms)"
else
	kp_fail "flow still active 3 s after the datagram (--udp-timeout 500ms)"
fi
kp_check "kuproxy still running" kp_alive
kp_finish
