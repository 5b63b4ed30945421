#!/bin/bash
# test_scale: --endpoints-source endpoints.  Scaling the Endpoints of a
# Service up and down at the API server changes which backends answer
# the ClusterIP and the round-robin spread: 1 -> 3 -> 2 -> 0 -> 1.
. "$(dirname "$0")/lib.sh"
ke_init scale
kp_backend id b2@198.18.1.2:8080 b3@198.18.1.3:8080 b4@198.18.1.4:8080

ke_service web 198.19.0.10 80 TCP 8080
ke_endpoints web 8080 TCP 198.18.1.2
ke_kubeconfig "$KP_TMP/kubeconfig" token
ke_kuproxy "$KP_TMP/kubeconfig" --endpoints-source endpoints
VIP=198.19.0.10:80

kp_check "one endpoint: only b2" ke_wait_ids 20 "$KP_POD" $VIP 4 "b2"
kp_eq "all 6 to b2" '{"b2": 6}' "$(ke_counts "$KP_POD" $VIP 6)"

ke_endpoints web 8080 TCP 198.18.1.2 198.18.1.3 198.18.1.4
kp_check "scaled to three" ke_wait_ids 10 "$KP_POD" $VIP 6 "b2 b3 b4"
kp_eq "even spread over three" '{"b2": 4, "b3": 4, "b4": 4}' \
    "$(ke_counts "$KP_POD" $VIP 12)"

ke_endpoints web 8080 TCP 198.18.1.3 198.18.1.4
kp_check "scaled down to two" ke_wait_ids 10 "$KP_POD" $VIP 6 "b3 b4"
kp_eq "even spread over two" '{"b3": 5, "b4": 5}' \
    "$(ke_counts "$KP_POD" $VIP 10)"

ke_endpoints web 8080 TCP
kp_check "no endpoints: nothing answers" ke_wait_ids 10 "$KP_POD" $VIP 2 ""
kp_check "Service still listed with no endpoints" \
    eval 'kp_wait_svc default/web:p 0 >/dev/null'

ke_endpoints web 8080 TCP 198.18.1.4
kp_check "back to one endpoint" ke_wait_ids 10 "$KP_POD" $VIP 4 "b4"
kp_check "kuproxy still running" kp_alive
kp_finish
