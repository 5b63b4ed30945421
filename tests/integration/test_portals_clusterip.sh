#!/bin/bash
# test_portals_clusterip: Services reached on their ClusterIP, through the
# iptables portals kuproxy installs in the node namespace.
#  - from a separate client pod namespace, which only routes the Service
#    range via the node (nat PREROUTING, KUBE-PORTALS-CONTAINER REDIRECT):
#    TCP round-robin exactly 10/10/10 with strict rotation; UDP from 3
#    source ports reaches 3 distinct backends, a 1400-byte datagram
#    round-trips intact;
#  - from the node namespace itself (nat OUTPUT, KUBE-PORTALS-HOST DNAT
#    to the node IP): the same for TCP (3/3/3) and UDP;
#  - the rules are exactly kube-proxy's: REDIRECT to the proxy port and
#    DNAT to 198.18.2.1:<proxy port>, one each per Service.
. "$(dirname "$0")/lib.sh"
kp_init portals_clusterip
command -v iptables-save >/dev/null 2>&1 || { echo "SKIP: $KP_NAME (needs iptables)"; exit 77; }
kp_topology
kp_podclient
kp_backend id b2@198.18.1.2:8080 b3@198.18.1.3:8080 b4@198.18.1.4:8080
kp_backend echo --no-tcp u2@198.18.1.2:5353 u3@198.18.1.3:5353 u4@198.18.1.4:5353

KP_SVCFILE=$KP_TMP/services.yaml
{
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.2 198.18.1.3 198.18.1.4
	kp_svc dns 198.19.0.53 53 UDP 5353
	kp_eps dns 5353 UDP 198.18.1.2 198.18.1.3 198.18.1.4
} >"$KP_SVCFILE"
kp_start
tport=$(kp_wait_svc default/web:p 3) || kp_die "service default/web:p never appeared"
uport=$(kp_wait_svc default/dns:p 3) || kp_die "service default/dns:p never appeared"
kp_wait_rules default/web:p 2 || kp_fail "web: 2 rules expected, got $(kp_ipt_count default/web:p)"
kp_wait_rules default/dns:p 2 || kp_fail "dns: 2 rules expected, got $(kp_ipt_count default/dns:p)"

kp_eq "container portal for web" \
    "-A KUBE-PORTALS-CONTAINER -d 198.19.0.10/32 -p tcp -m comment --comment \"default/web:p\" -m tcp --dport 80 -j REDIRECT --to-ports $tport" \
    "$(kp_chain nat KUBE-PORTALS-CONTAINER | grep -F default/web:p)"
kp_eq "host portal for web" \
    "-A KUBE-PORTALS-HOST -d 198.19.0.10/32 -p tcp -m comment --comment \"default/web:p\" -m tcp --dport 80 -j DNAT --to-destination $KP_NODE_IP:$tport" \
    "$(kp_chain nat KUBE-PORTALS-HOST | grep -F default/web:p)"
kp_eq "container portal for dns" \
    "-A KUBE-PORTALS-CONTAINER -d 198.19.0.53/32 -p udp -m comment --comment \"default/dns:p\" -m udp --dport 53 -j REDIRECT --to-ports $uport" \
    "$(kp_chain nat KUBE-PORTALS-CONTAINER | grep -F default/dns:p)"
kp_eq "PREROUTING jumps to the portals" 1 \
    "$(kp_chain nat PREROUTING | grep -c -- '-j KUBE-PORTALS-CONTAINER$')"
kp_eq "OUTPUT jumps to the portals" 1 \
    "$(kp_chain nat OUTPUT | grep -c -- '-j KUBE-PORTALS-HOST$')"

# The client pod has no route to the node's or the pods' own addresses:
# only the ClusterIP can work.
res=$(KP_CLIENT_TIMEOUT=20 kp_client "$KP_PODC" probe --target "$KP_NODE_IP:$tport" --timeout 1)
kp_eq "client pod cannot reach the node IP directly" unreachable \
    "$(echo "$res" | kp_json '"reachable" if d["result"] == "data" else "unreachable"')"

# From the client pod: TCP.
res=$(kp_client "$KP_PODC" dist --target 198.19.0.10:80 --count 30)
kp_log "pod -> clusterIP TCP: $res"
kp_eq "pod: 30 connections via the ClusterIP" 30 "$(echo "$res" | kp_json 'd["ok"]')"
kp_eq "pod: round-robin via the ClusterIP" '{"b2": 10, "b3": 10, "b4": 10}' \
    "$(echo "$res" | kp_json 'd["counts"]')"
kp_eq "pod: strict rotation" True "$(echo "$res" | kp_json \
    'all(len(set(d["seq"][i:i+3])) == 3 for i in range(28))')"
kp_eq "accepted counter" 30 "$(kp_debug default/web:p accepted)"

# From the client pod: UDP.
res=$(kp_client "$KP_PODC" udp-dist --target 198.19.0.53:53 --count 3 --size 16)
kp_log "pod -> clusterIP UDP, 3 source ports: $res"
kp_eq "pod: 3 UDP source ports reach 3 distinct backends" '["u2", "u3", "u4"]' \
    "$(echo "$res" | kp_json 'sorted(d["seq"])')"
res=$(kp_client "$KP_PODC" udp --target 198.19.0.53:53 --size 1400)
kp_eq "pod: 1400-byte datagram via the ClusterIP" True \
    "$(echo "$res" | kp_json 'd["ok"] and d["form"] == "echo"')"

# From the node namespace itself (OUTPUT, DNAT to the node IP).
res=$(kp_client "$KP_NODE" dist --target 198.19.0.10:80 --count 9)
kp_log "node -> clusterIP TCP: $res"
kp_eq "node: round-robin via the ClusterIP" '{"b2": 3, "b3": 3, "b4": 3}' \
    "$(echo "$res" | kp_json 'd["counts"]')"
res=$(kp_client "$KP_NODE" udp-dist --target 198.19.0.53:53 --count 3 --size 16)
kp_log "node -> clusterIP UDP: $res"
kp_eq "node: 3 UDP source ports reach 3 distinct backends" '["u2", "u3", "u4"]' \
    "$(echo "$res" | kp_json 'sorted(d["seq"])')"

# The other port of the ClusterIP is not redirected anywhere.
res=$(KP_CLIENT_TIMEOUT=20 kp_client "$KP_NODE" probe --target 198.19.0.10:81 --timeout 1)
kp_eq "node: an unexposed port of the ClusterIP gets nothing" no \
    "$(echo "$res" | kp_json '"yes" if d["result"] == "data" else "no"')"
kp_check "kuproxy still running" kp_alive
kp_finish
