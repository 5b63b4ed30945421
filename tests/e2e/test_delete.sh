#!/bin/bash
# test_delete: deleting a Service at the API server removes its portal
# rules (iptables-save in the node namespace shows no rule with its
# comment) and its ClusterIP stops answering; another Service is
# untouched.
. "$(dirname "$0")/lib.sh"
ke_init delete
kp_backend id b2@198.18.1.2:8080 b3@198.18.1.3:8080

ke_service web 198.19.0.10 80 TCP 8080
ke_backends web 8080 TCP 198.18.1.2
ke_service keep 198.19.0.11 80 TCP 8080
ke_backends keep 8080 TCP 198.18.1.3
ke_kubeconfig "$KP_TMP/kubeconfig" token
ke_kuproxy "$KP_TMP/kubeconfig"

kp_check "web answers" ke_wait_ids 20 "$KP_POD" 198.19.0.10:80 2 "b2"
kp_check "keep answers" ke_wait_ids 20 "$KP_POD" 198.19.0.11:80 2 "b3"
kp_ge "rules for default/web:p" 1 "$(ke_rules default/web:p)"
kp_ge "rules for default/keep:p" 1 "$(ke_rules default/keep:p)"

ke_delete services web
# The apiserver deletes a Service's Endpoints with it (404 here is fine).
ke_api DELETE "$KE_CORE/default/endpoints/web" >/dev/null
ke_delete endpointslices web-e2e
kp_check "web's rules removed" ke_wait 10 eval '[ "$(ke_rules default/web:p)" = 0 ]'
kp_node iptables-save -t nat >"$KP_TMP/nat.rules" 2>&1
kp_check "no rule names web in iptables-save" \
    eval '! grep -q "default/web:p" "$KP_TMP/nat.rules"'
# client.py debug exits 3 when the service is not in /debug/services.
unlisted() {
	kp_debug >/dev/null || return 1
	kp_debug "$1" >/dev/null 2>&1
	[ $? -eq 3 ]
}
kp_check "web no longer listed by kuproxy" unlisted default/web:p
kp_check "keep still listed" eval '! unlisted default/keep:p'
kp_eq "web's ClusterIP no longer answers" "" "$(ke_ids "$KP_POD" 198.19.0.10:80 1)"
kp_ge "keep's rules still there" 1 "$(ke_rules default/keep:p)"
kp_eq "keep still answers" '{"b3": 4}' "$(ke_counts "$KP_POD" 198.19.0.11:80 4)"
kp_check "kuproxy still running" kp_alive
kp_finish
