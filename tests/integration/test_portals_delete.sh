#!/bin/bash
# test_portals_delete: Services deleted from the services file.
#  - a TCP NodePort Service: no rule with its comment remains (nat and
#    filter), its proxy port is closed (ss; a direct connection is
#    refused), its nodePort is released (no socket, nothing answers);
#    the other Services keep their rules and keep working;
#  - a UDP Service: its conntrack entries (original destination its
#    ClusterIP) are flushed: "conntrack -L -p udp --orig-dst IP" is empty
#    (checked non-empty before the deletion), its proxy port is closed;
#  - a changed ClusterIP: an incremental update in two phases, the new
#    rules first ("-I"), then the stale ones deleted (logged as such);
#    the new ClusterIP works, nothing of the old one remains.
# The conntrack checks are skipped (with a note) without the conntrack
# tool.  test_portals_ct_stream covers a deletion under traffic.
. "$(dirname "$0")/lib.sh"
kp_init portals_delete
command -v iptables-save >/dev/null 2>&1 || { echo "SKIP: $KP_NAME (needs iptables)"; exit 77; }
kp_topology
kp_backend id b2@198.18.1.2:8080 b3@198.18.1.3:8080
kp_backend echo --no-tcp u2@198.18.1.2:5353 u3@198.18.1.3:5353

KP_SVCFILE=$KP_TMP/services.yaml
web() {
	kp_svc_x web 198.19.0.10 80 TCP 8080 nodePort=30080
	kp_eps web 8080 TCP 198.18.1.2 198.18.1.3
}
keep() {
	kp_svc_x keep 198.19.0.11 80 TCP 8080 nodePort=30081
	kp_eps keep 8080 TCP 198.18.1.2
}
dns() {
	kp_svc dns 198.19.0.53 53 UDP 5353
	kp_eps dns 5353 UDP 198.18.1.2 198.18.1.3
}
{ web; keep; dns; } >"$KP_SVCFILE"
kp_start
wport=$(kp_wait_svc default/web:p 2) || kp_die "service default/web:p never appeared"
kp_wait_svc default/keep:p 1 >/dev/null || kp_die "service default/keep:p never appeared"
dport=$(kp_wait_svc default/dns:p 2) || kp_die "service default/dns:p never appeared"
for s in web:p:5 keep:p:5 dns:p:2; do
	kp_wait_rules "default/${s%:*}" "${s##*:}" ||
	    kp_die "default/${s%:*}: ${s##*:} rules expected, got $(kp_ipt_count "default/${s%:*}")"
done
res=$(kp_client "$KP_CLI" dist --target 198.19.0.10:80 --count 2)
kp_eq "web works before" 2 "$(echo "$res" | kp_json 'd["ok"]')"

# 1. Delete web.
{ keep; dns; } | kp_replace "$KP_SVCFILE"
kp_until 50 kp_ipt_has default/web:p 0 ||
    kp_fail "rules of the deleted web still there after 5 s: $(kp_ipt_save | grep -F 'default/web:p')"
kp_eq "no rule mentions web's proxy port" 0 "$(kp_ipt_save | grep -c -w -e "--to-ports $wport" -e "--dport $wport" -e ":$wport")"
kp_eq "web gone from /debug/services" True "$(kp_debug |
    kp_json 'all(s["name"] != "default/web:p" for s in d["services"])')"
kp_eq "no socket on web's proxy port" "" "$(kp_listening "$KP_NODE" tcp "$wport")"
res=$(KP_CLIENT_TIMEOUT=20 kp_client "$KP_CLI" probe --target "$KP_NODE_IP:$wport" --timeout 1)
kp_eq "web's proxy port refuses" refused "$(echo "$res" | kp_json 'd["result"]')"
free30080() { [ -z "$(kp_listening "$KP_NODE" tcp 30080)" ]; }
kp_until 30 free30080
kp_eq "nodePort 30080 released" "" "$(kp_listening "$KP_NODE" tcp 30080)"
res=$(KP_CLIENT_TIMEOUT=20 kp_client "$KP_CLI" probe --target "$KP_NODE_IP:30080" --timeout 1)
kp_eq "nodePort 30080 refuses" refused "$(echo "$res" | kp_json 'd["result"]')"
kp_check "release logged" grep -q -F "nodePort 30080/TCP released by default/web:p" "$KP_LOG"
kp_eq "keep's rules remain" 5 "$(kp_ipt_count default/keep:p)"
kp_eq "dns's rules remain" 2 "$(kp_ipt_count default/dns:p)"
res=$(kp_client "$KP_CLI" dist --target 198.19.0.11:80 --count 2)
kp_eq "keep's ClusterIP works" '{"b2": 2}' "$(echo "$res" | kp_json 'd["counts"]')"
res=$(kp_client "$KP_CLI" dist --target "$KP_NODE_IP:30081" --count 2)
kp_eq "keep's nodePort works" '{"b2": 2}' "$(echo "$res" | kp_json 'd["counts"]')"

# 2. UDP conntrack after deleting dns.
have_ct=1
if ! kp_node conntrack -L >/dev/null 2>&1; then
	have_ct=0
	kp_log "NOTE: conntrack tool missing or unusable: conntrack checks skipped"
fi
res=$(kp_client "$KP_CLI" udp-dist --target 198.19.0.53:53 --count 3 --size 16)
kp_eq "dns answers before" 3 "$(echo "$res" | kp_json 'len([x for x in d["seq"] if not x.startswith("!")])')"
if [ "$have_ct" = 1 ]; then
	kp_ge "conntrack entries for 198.19.0.53 before the deletion" 3 "$(kp_ct_count 198.19.0.53)"
	kp_log "$(kp_node conntrack -L -p udp --orig-dst 198.19.0.53 2>/dev/null)"
fi
keep | kp_replace "$KP_SVCFILE"
kp_until 50 kp_ipt_has default/dns:p 0 || kp_fail "rules of the deleted dns still there after 5 s"
kp_eq "no socket on dns's proxy port" "" "$(kp_listening "$KP_NODE" udp "$dport")"
if [ "$have_ct" = 1 ]; then
	no_ct() { [ "$(kp_ct_count 198.19.0.53)" = 0 ]; }
	kp_until 20 no_ct
	kp_eq "conntrack entries for 198.19.0.53 after the deletion" 0 "$(kp_ct_count 198.19.0.53)"
fi

# 3. keep's ClusterIP changed: new rules in, then the stale ones out.
keep12() {
	kp_svc_x keep 198.19.0.12 80 TCP 8080 nodePort=30081
	kp_eps keep 8080 TCP 198.18.1.2
}
keep12 | kp_replace "$KP_SVCFILE"
moved() {
	[ "$(kp_ipt_save | grep -F 'default/keep:p' | grep -c -F -- '-d 198.19.0.12/32')" = 2 ] &&
	    [ "$(kp_ipt_save | grep -F 'default/keep:p' | grep -c -F -- '-d 198.19.0.11/32')" = 0 ]
}
kp_until 50 moved || kp_fail "keep's rules did not move to 198.19.0.12: $(kp_ipt_save | grep -F 'default/keep:p')"
kp_eq "keep's rules after the change" 5 "$(kp_ipt_count default/keep:p)"
kp_check "phase 1 logged" grep -q -E "IPv4 rules applied in [0-9]+ ms \(incremental, 2 new rules; removing 2 stale\)" "$KP_LOG"
kp_check "phase 2 logged" grep -q -E "IPv4 stale rules removed in [0-9]+ ms \(2 rules\)" "$KP_LOG"
res=$(kp_client "$KP_CLI" dist --target 198.19.0.12:80 --count 2)
kp_eq "keep's new ClusterIP works" '{"b2": 2}' "$(echo "$res" | kp_json 'd["counts"]')"
res=$(kp_client "$KP_CLI" dist --target "$KP_NODE_IP:30081" --count 2)
kp_eq "keep's nodePort still works" '{"b2": 2}' "$(echo "$res" | kp_json 'd["counts"]')"

kp_check "kuproxy still running" kp_alive
kp_finish
