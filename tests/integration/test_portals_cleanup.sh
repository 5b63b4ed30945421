#!/bin/bash
# test_portals_cleanup: "kuproxy --cleanup" in the node namespace, after
# kuproxy ran with ClusterIP, NodePort, externalIP and LB Services and
# was stopped (SIGTERM leaves the rules, as kube-proxy does), with extra
# kube-proxy-style leftovers (a duplicate jump, a jump without comment):
#  - exits 0 and leaves no KUBE- chain, jump or rule in iptables-save
#    (nat and filter);
#  - leaves other rules and chains alone (a user chain, rules in
#    PREROUTING and INPUT);
#  - a second run exits 0 and changes nothing;
#  - a run in a namespace that never had any rule exits 0.
. "$(dirname "$0")/lib.sh"
kp_init portals_cleanup
command -v iptables-save >/dev/null 2>&1 || { echo "SKIP: $KP_NAME (needs iptables)"; exit 77; }
kp_topology
kp_backend id b2@198.18.1.2:8080

KP_SVCFILE=$KP_TMP/services.yaml
{
	kp_svc_x web 198.19.0.10 80 TCP 8080 nodePort=30080 externalIPs=198.18.5.5,198.18.2.1
	kp_eps web 8080 TCP 198.18.1.2
	kp_svc_x lb 198.19.0.21 53 UDP 8080 lb=198.18.6.6 nodePort=30053
	kp_eps lb 8080 UDP 198.18.1.2
} >"$KP_SVCFILE"
# Somebody else's rules, before and after kuproxy's.
kp_node iptables -w 5 -t nat -N USER-CHAIN
kp_node iptables -w 5 -t nat -A USER-CHAIN -p tcp --dport 9999 -j RETURN
kp_node iptables -w 5 -t nat -A PREROUTING -j USER-CHAIN
kp_node iptables -w 5 -A INPUT -p tcp --dport 9999 -j ACCEPT
kp_start
kp_wait_svc default/web:p 1 >/dev/null || kp_die "service default/web:p never appeared"
kp_wait_svc default/lb:p 1 >/dev/null || kp_die "service default/lb:p never appeared"
kp_wait_rules default/web:p 11 || kp_fail "web: 11 rules expected, got $(kp_ipt_count default/web:p)"
kp_wait_rules default/lb:p 7 || kp_fail "lb: 7 rules expected, got $(kp_ipt_count default/lb:p)"
res=$(kp_client "$KP_CLI" dist --target 198.19.0.10:80 --count 1)
kp_eq "ClusterIP works before" '{"b2": 1}' "$(echo "$res" | kp_json 'd["counts"]')"
kp_stop
kp_eq "kuproxy exit status" 0 "$KP_STOP_RC"

# saved: nat and filter as iptables-save prints them, without comments
# and chain counters.
saved() {
	kp_ipt_save | grep -v '^#' | sed 's/ \[[0-9]*:[0-9]*\]$//'
}

# Leftovers as an older kube-proxy or a crash may leave them.
kp_node iptables -w 5 -t nat -A OUTPUT -m comment --comment "handle ClusterIPs; NOTE: this must be before the NodePort rules" -j KUBE-PORTALS-HOST
kp_node iptables -w 5 -t nat -A PREROUTING -j KUBE-NODEPORT-CONTAINER
kp_node iptables -w 5 -A INPUT -j KUBE-NODEPORT-NON-LOCAL
before=$(saved)
n=$(grep -c 'KUBE-' <<<"$before")
kp_ge "KUBE- lines before the cleanup" 30 "$n"
kp_eq "user rules before the cleanup" 4 "$(grep -c -e USER-CHAIN -e 'dport 9999' <<<"$before")"

kp_node timeout 30 "$KUPROXY" --cleanup >"$KP_TMP/cleanup1.out" 2>&1
rc=$?
kp_eq "--cleanup exit status" 0 "$rc"
[ "$rc" = 0 ] || kp_log "cleanup said: $(cat "$KP_TMP/cleanup1.out")"
after=$(saved)
kp_eq "KUBE- lines after the cleanup" 0 "$(grep -c 'KUBE-' <<<"$after")"
grep 'KUBE-' <<<"$after" | head -n 5 | while read -r l; do kp_log "left: $l"; done
kp_eq "user rules and chain kept" 4 "$(grep -c -e USER-CHAIN -e 'dport 9999' <<<"$after")"
kp_eq "the rest is exactly what was there without kuproxy's lines" \
    "$(grep -v 'KUBE-' <<<"$before")" "$after"

kp_node timeout 30 "$KUPROXY" --cleanup >"$KP_TMP/cleanup2.out" 2>&1
rc=$?
kp_eq "second --cleanup exit status" 0 "$rc"
[ "$rc" = 0 ] || kp_log "cleanup said: $(cat "$KP_TMP/cleanup2.out")"
kp_eq "second --cleanup changes nothing" "$after" "$(saved)"

kp_cli timeout 30 "$KUPROXY" --cleanup >"$KP_TMP/cleanup3.out" 2>&1
rc=$?
kp_eq "--cleanup where there never were rules: exit status" 0 "$rc"
[ "$rc" = 0 ] || kp_log "cleanup said: $(cat "$KP_TMP/cleanup3.out")"
kp_eq "no KUBE- chain created there" 0 \
    "$(kp_cli iptables-save 2>/dev/null | grep -c 'KUBE-')"
kp_finish
