#!/bin/bash
# test_portals_external: externalIPs and load-balancer ingress IPs.
#  - an externalIP that is not the node's (198.18.5.5, routed to the node
#    by the client): served from the client namespace (the physdev
#    "! --physdev-is-in" REDIRECT in KUBE-PORTALS-CONTAINER);
#  - an externalIP that is the node's own address (198.18.2.1): served
#    from the client (addrtype LOCAL REDIRECT) and from the node itself
#    (KUBE-PORTALS-HOST addrtype LOCAL DNAT);
#  - an LB ingress IP (198.18.6.6): served from the client and from the
#    node (handled like the ClusterIP);
#  - the rule counts are kube-proxy's: 2 + 3 per externalIP, 2 per LB IP.
# Not asserted: a non-local externalIP from the node itself, for which
# kube-proxy's rules have no portal (the host rule needs addrtype LOCAL).
. "$(dirname "$0")/lib.sh"
kp_init portals_external
command -v iptables-save >/dev/null 2>&1 || { echo "SKIP: $KP_NAME (needs iptables)"; exit 77; }
kp_topology
kp_backend id b2@198.18.1.2:8080 b3@198.18.1.3:8080 b4@198.18.1.4:8443
kp_cli ip route add 198.18.5.0/24 via "$KP_NODE_IP" || kp_die "route to 198.18.5.0/24"
kp_cli ip route add 198.18.6.0/24 via "$KP_NODE_IP" || kp_die "route to 198.18.6.0/24"

KP_SVCFILE=$KP_TMP/services.yaml
{
	kp_svc_x ext 198.19.0.20 80 TCP 8080 externalIPs=198.18.5.5,198.18.2.1
	kp_eps ext 8080 TCP 198.18.1.2 198.18.1.3
	kp_svc_x lb 198.19.0.21 8443 TCP 8443 lb=198.18.6.6
	kp_eps lb 8443 TCP 198.18.1.4
} >"$KP_SVCFILE"
kp_start
eport=$(kp_wait_svc default/ext:p 2) || kp_die "service default/ext:p never appeared"
lport=$(kp_wait_svc default/lb:p 1) || kp_die "service default/lb:p never appeared"
kp_wait_rules default/ext:p 8 || kp_fail "ext: 8 rules expected, got $(kp_ipt_count default/ext:p)"
kp_wait_rules default/lb:p 4 || kp_fail "lb: 4 rules expected, got $(kp_ipt_count default/lb:p)"
kp_log "rules: $(kp_ipt_save | grep -F -e default/ext:p -e default/lb:p)"
kp_eq "non-local externalIP: physdev REDIRECT" 1 "$(kp_chain nat KUBE-PORTALS-CONTAINER |
    grep -F -- '-d 198.18.5.5/32' | grep -F -- '-m physdev ! --physdev-is-in' |
    grep -c -F -- "-j REDIRECT --to-ports $eport")"
kp_eq "node-local externalIP: host DNAT with addrtype LOCAL" 1 \
    "$(kp_chain nat KUBE-PORTALS-HOST | grep -F -- '-d 198.18.2.1/32' |
    grep -F -- '-m addrtype --dst-type LOCAL' |
    grep -c -F -- "-j DNAT --to-destination $KP_NODE_IP:$eport")"

# dist NS TARGET N: the id counts of N connections.
dist() {
	kp_client "$1" dist --target "$2" --count "$3" | kp_json 'd["counts"]'
}
kp_eq "client -> non-local externalIP 198.18.5.5:80" '{"b2": 2, "b3": 2}' \
    "$(dist "$KP_CLI" 198.18.5.5:80 4)"
kp_eq "client -> node-local externalIP 198.18.2.1:80" '{"b2": 2, "b3": 2}' \
    "$(dist "$KP_CLI" "$KP_NODE_IP:80" 4)"
kp_eq "node -> node-local externalIP 198.18.2.1:80" '{"b2": 2, "b3": 2}' \
    "$(dist "$KP_NODE" "$KP_NODE_IP:80" 4)"
kp_eq "client -> ClusterIP of the same Service" '{"b2": 1, "b3": 1}' \
    "$(dist "$KP_CLI" 198.19.0.20:80 2)"
kp_eq "client -> LB ingress IP 198.18.6.6:8443" '{"b4": 2}' \
    "$(dist "$KP_CLI" 198.18.6.6:8443 2)"
kp_eq "node -> LB ingress IP 198.18.6.6:8443" '{"b4": 2}' \
    "$(dist "$KP_NODE" 198.18.6.6:8443 2)"
kp_eq "accepted counter of ext" 14 "$(kp_debug default/ext:p accepted)"

# Dropping the externalIP from the Service removes its portal.
{
	kp_svc_x ext 198.19.0.20 80 TCP 8080 externalIPs=198.18.2.1
	kp_eps ext 8080 TCP 198.18.1.2 198.18.1.3
	kp_svc_x lb 198.19.0.21 8443 TCP 8443 lb=198.18.6.6
	kp_eps lb 8443 TCP 198.18.1.4
} | kp_replace "$KP_SVCFILE"
kp_wait_rules default/ext:p 5 || kp_fail "ext: 5 rules expected after dropping 198.18.5.5, got $(kp_ipt_count default/ext:p)"
kp_eq "no rule left for 198.18.5.5" 0 "$(kp_ipt_save | grep -c -F 198.18.5.5)"
res=$(KP_CLIENT_TIMEOUT=20 kp_client "$KP_CLI" probe --target 198.18.5.5:80 --timeout 1)
kp_eq "198.18.5.5:80 no longer served" no \
    "$(echo "$res" | kp_json '"yes" if d["result"] == "data" else "no"')"
kp_eq "node-local externalIP still served" '{"b2": 1, "b3": 1}' \
    "$(dist "$KP_CLI" "$KP_NODE_IP:80" 2)"
kp_check "kuproxy still running" kp_alive
kp_finish
