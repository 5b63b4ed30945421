#!/bin/bash
# test_portals_nodeport: NodePort Services.
#  - TCP and UDP nodePorts answer on the node's IP from the client
#    namespace (KUBE-NODEPORT-CONTAINER REDIRECT), TCP also from the node
#    itself (KUBE-NODEPORT-HOST DNAT), round-robin;
#  - kuproxy holds each nodePort open (ss in the node namespace shows the
#    socket owned by kuproxy's pid);
#  - with the node's filter INPUT policy DROP (plus ESTABLISHED accepted),
#    the nodePort still works thanks to KUBE-NODEPORT-NON-LOCAL's ACCEPT
#    (control: the proxy port of a Service without nodePort is blocked);
#  - a second Service with the same nodePort logs the conflict naming the
#    holder, gets no NodePort rule, and does not disturb the first, whose
#    nodePort keeps reaching only its own backends; its ClusterIP works;
#  - once the holder is deleted, the nodePort passes to the other Service
#    within one sync period (--iptables-sync-period 2s).
. "$(dirname "$0")/lib.sh"
kp_init portals_nodeport
command -v iptables-save >/dev/null 2>&1 || { echo "SKIP: $KP_NAME (needs iptables)"; exit 77; }
command -v ss >/dev/null 2>&1 || { echo "SKIP: $KP_NAME (needs ss)"; exit 77; }
kp_topology
kp_backend id b2@198.18.1.2:8080 b3@198.18.1.3:8080 b4@198.18.1.4:8080
kp_backend echo --no-tcp u2@198.18.1.2:5353 u3@198.18.1.3:5353

KP_SVCFILE=$KP_TMP/services.yaml
web() {
	kp_svc_x web 198.19.0.10 80 TCP 8080 nodePort=30080
	kp_eps web 8080 TCP 198.18.1.2 198.18.1.3
}
dns() {
	kp_svc_x dns 198.19.0.53 53 UDP 5353 nodePort=30053
	kp_eps dns 5353 UDP 198.18.1.2 198.18.1.3
}
rival() {
	kp_svc_x rival 198.19.0.11 80 TCP 8080 nodePort=30080
	kp_eps rival 8080 TCP 198.18.1.4
}
plain() {
	kp_svc plain 198.19.0.12 80 TCP 8080
	kp_eps plain 8080 TCP 198.18.1.4
}
{ web; dns; plain; } >"$KP_SVCFILE"
kp_start --iptables-sync-period 2s
tport=$(kp_wait_svc default/web:p 2) || kp_die "service default/web:p never appeared"
uport=$(kp_wait_svc default/dns:p 2) || kp_die "service default/dns:p never appeared"
pport=$(kp_wait_svc default/plain:p 1) || kp_die "service default/plain:p never appeared"
kp_eq "nodePort in /debug/services" 30080 "$(kp_debug default/web:p nodePort)"
# clusterIP: 2, nodePort: 3 (container, host, filter).
kp_wait_rules default/web:p 5 || kp_fail "web: 5 rules expected, got $(kp_ipt_count default/web:p)"
kp_wait_rules default/dns:p 5 || kp_fail "dns: 5 rules expected, got $(kp_ipt_count default/dns:p)"
kp_eq "NodePort redirect rule" \
    "-A KUBE-NODEPORT-CONTAINER -p tcp -m comment --comment \"default/web:p\" -m tcp --dport 30080 -j REDIRECT --to-ports $tport" \
    "$(kp_chain nat KUBE-NODEPORT-CONTAINER | grep -F default/web:p)"
kp_eq "NodePort filter rule" \
    "-A KUBE-NODEPORT-NON-LOCAL -p tcp -m comment --comment \"default/web:p\" -m tcp --dport $tport -m state --state NEW -j ACCEPT" \
    "$(kp_chain filter KUBE-NODEPORT-NON-LOCAL | grep -F default/web:p)"

# kuproxy holds the nodePorts.
l=$(kp_listening "$KP_NODE" tcp 30080)
kp_log "ss tcp 30080: $l"
kp_check "TCP nodePort 30080 held by kuproxy (pid $KP_PID)" \
    grep -q "\"kuproxy\",pid=$KP_PID," <<<"$l"
l=$(kp_listening "$KP_NODE" udp 30053)
kp_log "ss udp 30053: $l"
kp_check "UDP nodePort 30053 held by kuproxy (pid $KP_PID)" \
    grep -q "\"kuproxy\",pid=$KP_PID," <<<"$l"

# Traffic.
res=$(kp_client "$KP_CLI" dist --target "$KP_NODE_IP:30080" --count 10)
kp_log "client -> nodePort: $res"
kp_eq "client: nodePort round-robin" '{"b2": 5, "b3": 5}' "$(echo "$res" | kp_json 'd["counts"]')"
res=$(kp_client "$KP_NODE" dist --target "$KP_NODE_IP:30080" --count 4)
kp_eq "node: nodePort on its own IP" '{"b2": 2, "b3": 2}' "$(echo "$res" | kp_json 'd["counts"]')"
res=$(kp_client "$KP_CLI" udp-dist --target "$KP_NODE_IP:30053" --count 2 --size 16)
kp_log "client -> UDP nodePort: $res"
kp_eq "client: UDP nodePort reaches both backends" '["u2", "u3"]' \
    "$(echo "$res" | kp_json 'sorted(d["seq"])')"

res=$(kp_client "$KP_CLI" dist --target "$KP_NODE_IP:$pport" --count 1)
kp_eq "control: plain's proxy port reachable directly (policy ACCEPT)" \
    '{"b4": 1}' "$(echo "$res" | kp_json 'd["counts"]')"

# Filter INPUT policy DROP: only the NON-LOCAL ACCEPT lets new connections
# to the proxy port in (ESTABLISHED and loopback accepted, as on a node).
kp_node iptables -w 5 -A INPUT -m state --state ESTABLISHED,RELATED -j ACCEPT
kp_node iptables -w 5 -A INPUT -i lo -j ACCEPT
kp_node iptables -w 5 -P INPUT DROP
res=$(kp_client "$KP_CLI" dist --target "$KP_NODE_IP:30080" --count 4 --timeout 2)
kp_eq "INPUT policy DROP: nodePort still served" '{"b2": 2, "b3": 2}' \
    "$(echo "$res" | kp_json 'd["counts"]')"
# The control: a proxy port without a NodePort (no ACCEPT rule) is
# reachable directly before the DROP policy, and not under it.
res=$(KP_CLIENT_TIMEOUT=20 kp_client "$KP_CLI" probe --target "$KP_NODE_IP:$pport" --timeout 1)
kp_eq "INPUT policy DROP: a proxy port without ACCEPT rule is blocked" timeout \
    "$(echo "$res" | kp_json 'd["result"]')"
kp_node iptables -w 5 -P INPUT ACCEPT

# A rival Service with the same nodePort.
{ web; dns; plain; rival; } | kp_replace "$KP_SVCFILE"
rport=$(kp_wait_svc default/rival:p 1) || kp_die "service default/rival:p never appeared"
want="default/rival:p: nodePort 30080/TCP conflicts with default/web:p, which holds it"
if kp_until 30 grep -q -F "$want" "$KP_LOG"; then
	kp_ok "conflict logged: $(grep -F "$want" "$KP_LOG" | head -n1)"
else
	kp_fail "no conflict warning '$want' in the log"
fi
kp_wait_rules default/rival:p 2 ||
    kp_fail "rival: only its 2 ClusterIP rules expected, got $(kp_ipt_count default/rival:p)"
kp_eq "web keeps its 5 rules" 5 "$(kp_ipt_count default/web:p)"
kp_eq "conflict logged once" 1 "$(grep -c -F "$want" "$KP_LOG")"
l=$(kp_listening "$KP_NODE" tcp 30080)
kp_check "nodePort 30080 still held by kuproxy" grep -q "\"kuproxy\",pid=$KP_PID," <<<"$l"
res=$(kp_client "$KP_CLI" dist --target "$KP_NODE_IP:30080" --count 6)
kp_eq "nodePort still reaches only web's backends" '{"b2": 3, "b3": 3}' \
    "$(echo "$res" | kp_json 'd["counts"]')"
res=$(kp_client "$KP_CLI" dist --target 198.19.0.11:80 --count 2)
kp_eq "rival's ClusterIP works" '{"b4": 2}' "$(echo "$res" | kp_json 'd["counts"]')"
sleep 2.5	# a periodic sync: still no second warning, no change
kp_eq "conflict still logged once after a periodic sync" 1 "$(grep -c -F "$want" "$KP_LOG")"
kp_eq "web still holds the nodePort's rules" 5 "$(kp_ipt_count default/web:p)"

# The holder goes away: the rival takes the nodePort over.
t0=$(date +%s%N)
{ dns; plain; rival; } | kp_replace "$KP_SVCFILE"
if kp_until 40 kp_ipt_has default/rival:p 5; then
	kp_ok "rival has its NodePort rules $(kp_ms_since "$t0") ms after web's removal"
else
	kp_fail "rival did not get the nodePort within 4 s: $(kp_ipt_count default/rival:p) rules"
fi
res=$(kp_client "$KP_CLI" dist --target "$KP_NODE_IP:30080" --count 2)
kp_eq "nodePort now reaches the rival's backend" '{"b4": 2}' "$(echo "$res" | kp_json 'd["counts"]')"
kp_check "kuproxy still running" kp_alive
kp_finish
