#!/bin/bash
# test_clusterip: kuproxy --kubeconfig (token auth, endpoints source
# "auto") against kube-apiserver 1.20.  A Service with Endpoints and an
# EndpointSlice for three backends: connections from the pod namespace
# to the ClusterIP go through kuproxy's REDIRECT rules in the node
# namespace and are spread 10/10/10; the cli namespace gets the same; the
# apiserver's own "kubernetes" Service is proxied to the apiserver.
. "$(dirname "$0")/lib.sh"
ke_init clusterip
kp_backend id b2@198.18.1.2:8080 b3@198.18.1.3:8080 b4@198.18.1.4:8080

ke_service web 198.19.0.10 80 TCP 8080
ke_backends web 8080 TCP 198.18.1.2 198.18.1.3 198.18.1.4
ke_kubeconfig "$KP_TMP/kubeconfig" token
ke_kuproxy "$KP_TMP/kubeconfig"

port=$(kp_wait_svc default/web:p 3) || kp_die "default/web:p never listed with 3 endpoints"
kp_ok "default/web:p on proxy port $port"
kp_check "portal rules installed in the node namespace" \
    ke_wait 10 eval '[ "$(ke_rules default/web:p)" -ge 1 ]'
kp_check "ClusterIP answers from the pod namespace" \
    ke_wait_ids 20 "$KP_POD" 198.19.0.10:80 6 "b2 b3 b4"

res=$(ke_dist "$KP_POD" 198.19.0.10:80 30)
kp_log "pod -> ClusterIP: $res"
kp_eq "30 connections, no errors" 30 "$(echo "$res" | kp_json 'd["ok"]')"
kp_eq "round-robin over the three endpoints" '{"b2": 10, "b3": 10, "b4": 10}' \
    "$(echo "$res" | kp_json 'd["counts"]')"
res=$(ke_dist "$KP_CLI" 198.19.0.10:80 9)
kp_eq "ClusterIP from the cli namespace" '{"b2": 3, "b3": 3, "b4": 3}' \
    "$(echo "$res" | kp_json 'd["counts"]')"

# The apiserver's own Service: 198.19.0.1:443 -> 198.18.2.1:6443.
code=$(kp_pod curl -sS -m 5 -o /dev/null -w '%{http_code}' \
    --cacert "$KE_PKI/ca.crt" -H "Authorization: Bearer $KE_PROXY_TOKEN" \
    https://198.19.0.1/readyz 2>>"$KP_TMP/curl.err")
kp_eq "kubernetes Service proxied to the apiserver" 200 "$code"

kp_check "no secret in kuproxy's log" eval '! grep -qF "$KE_PROXY_TOKEN" "$KP_LOG"'
# Issue 11: client-go's request counter against the real apiserver,
# /healthz 200 once the rules are in, no token in /configz.
kp_ge "rest_client_requests_total{code=\"200\"} (lists, watches, Node)" 3 \
    "$(kp_node curl -s -m 2 "http://$KP_METRICS/metrics" |
    awk '$1 ~ /^rest_client_requests_total\{code="200",host="[^"]+",method="GET"\}$/ { print $2; exit }')"
kp_eq "/healthz with the API source" 200 \
    "$(kp_node curl -s -m 2 -o /dev/null -w '%{http_code}' "http://$KP_HEALTHZ/healthz")"
kp_check "no secret in /configz" eval \
    '! kp_node curl -s -m 2 "http://$KP_METRICS/configz" | grep -qF "$KE_PROXY_TOKEN"'
kp_check "kuproxy still running" kp_alive
kp_finish
