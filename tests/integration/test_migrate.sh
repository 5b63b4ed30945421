#!/bin/bash
# test_migrate: kuproxy started on a node where kube-proxy 1.20 ran in
# iptables mode (the rules it really wrote, replayed from tests/data/
# migrate-kp120-iptables-save-*.txt: see tests/data/README-migrate.md;
# tests/e2e/test_migrate.sh does the same with kube-proxy running) and
# ipvs mode left its kube-ipvs0 link:
#  - before: the stale DNAT of the deleted Service "gone" still reaches
#    its old backend;
#  - after kuproxy's start: no chain of iptables mode (nat, filter,
#    mangle) and no jump into one is left, kube-ipvs0 is gone, one log
#    line names what went; kubelet's KUBE-MARK-* chains stay; web is
#    served by kuproxy, gone answers no more;
#  - a restart logs nothing of the kind and serves on;
#  - "kuproxy --cleanup" on the same leftovers plus kuproxy's own rules
#    leaves no KUBE- chain of any mode: only KUBE-MARK-MASQ and
#    KUBE-MARK-DROP.
# Where the ipset binary exists, ipvs mode's sets are there too (one
# referenced by a rule): they go, after the rules, and a foreign set
# stays.
. "$(dirname "$0")/lib.sh"
kp_init migrate
command -v iptables-restore >/dev/null 2>&1 || { echo "SKIP: $KP_NAME (needs iptables)"; exit 77; }
kp_topology
kp_backend id b2@198.18.1.2:8080 b3@198.18.1.3:8080
DATA=$KP_SRCDIR/tests/data
IPSET=$(command -v ipset || true)
[ -n "$IPSET" ] || kp_log "no ipset binary: ipsets not checked"

# leftovers: kube-proxy 1.20's iptables-mode rules and ipvs mode's link.
leftovers() {
	local t

	for t in nat filter mangle; do
		kp_node iptables-restore --noflush -w 5 \
		    <"$DATA/migrate-kp120-iptables-save-$t.txt" ||
		    kp_die "cannot replay kube-proxy's $t rules"
	done
	# ipvs mode's is a dummy link; a veth pair where the kernel has no
	# dummy driver (deleting one end deletes both).
	kp_node ip link add kube-ipvs0 type dummy 2>/dev/null ||
	    kp_node ip link add kube-ipvs0 type veth peer name kube-ipvs0p ||
	    kp_die "cannot create kube-ipvs0"
	kp_node ip addr add 198.19.0.99/32 dev kube-ipvs0
	[ -n "$IPSET" ] || return 0
	# ipvs mode's sets, one referenced by a rule of its KUBE-SERVICES
	# chain (so it can only go after the chains), and a foreign set.
	kp_node ipset create KUBE-CLUSTER-IP hash:ip,port ||
	    kp_die "ipset create"
	kp_node ipset create KUBE-NODE-PORT-TCP bitmap:port range 0-65535
	kp_node ipset -exist create user-set hash:ip
	kp_node iptables -w 5 -t nat -I KUBE-SERVICES -m set \
	    --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT ||
	    kp_die "cannot reference the ipset from a rule"
}
# sets: the ipsets of the node namespace, sorted, on one line.
sets() {
	kp_node ipset list -n 2>/dev/null | sort | tr '\n' ' '
}
# modes_chains: the KUBE- chains of nat, filter and mangle, sorted.
modes_chains() {
	local t

	for t in nat filter mangle; do
		kp_node iptables-save -t $t 2>/dev/null |
		    sed -n "s/^:\(KUBE-[^ ]*\) .*/$t \1/p"
	done | sort
}
# ids NS IP:PORT N: the ids that answered N connections, sorted.
ids() {
	kp_client "$1" dist --target "$2" --count "$3" --timeout 2 2>/dev/null |
	    kp_json '" ".join(sorted(d.get("counts", {})))' 2>/dev/null
}
# no_mode_chains: nothing of iptables mode left (chains or jumps).
no_mode_chains() {
	! modes_chains | grep -q -e KUBE-SVC- -e KUBE-SEP- -e KUBE-SERVICES \
	    -e KUBE-NODEPORTS -e KUBE-POSTROUTING -e KUBE-FORWARD \
	    -e KUBE-EXTERNAL-SERVICES -e KUBE-PROXY-CANARY &&
	    ! kp_ipt_save | grep -q -e '-j KUBE-SERVICES' \
	    -e '-j KUBE-POSTROUTING' -e '-j KUBE-FORWARD' \
	    -e '-j KUBE-EXTERNAL-SERVICES'
}
removed_lines() {
	grep -c "removed the leftovers of kube-proxy's other modes" "$KP_LOG"
}

leftovers
kp_ge "kube-proxy's KUBE-SVC chains replayed" 3 "$(modes_chains | grep -c KUBE-SVC-)"
kp_check "kube-ipvs0 there" kp_node ip link show kube-ipvs0
kp_eq "the stale rule of the deleted Service still DNATs" "b3" \
    "$(ids "$KP_POD" 198.19.0.11:80 1)"

KP_SVCFILE=$KP_TMP/services.yaml
{
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.2
} >"$KP_SVCFILE"
kp_start
kp_check "iptables mode's chains and jumps gone" kp_until 100 no_mode_chains
modes_chains | while read -r l; do kp_log "after start: $l"; done
kp_check "kube-ipvs0 gone" kp_until 50 eval '! kp_node ip link show kube-ipvs0 >/dev/null 2>&1'
kp_check "kubelet's KUBE-MARK-MASQ and KUBE-MARK-DROP kept" \
    eval '[ "$(modes_chains | grep -c "nat KUBE-MARK-")" = 2 ]'
kp_until 50 eval '[ "$(removed_lines)" -ge 1 ]'
kp_eq "one log line names what went" 1 "$(removed_lines)"
kp_log "$(grep "removed the leftovers" "$KP_LOG")"
want="IPv4: removed the leftovers of kube-proxy's other modes in [0-9]* ms: nat: KUBE-SERVICES KUBE-NODEPORTS KUBE-POSTROUTING KUBE-PROXY-CANARY KUBE-SVC-\* (3) KUBE-SEP-\* (3); filter: KUBE-SERVICES KUBE-EXTERNAL-SERVICES KUBE-FORWARD KUBE-PROXY-CANARY; mangle: KUBE-PROXY-CANARY; 8 jump rules; link kube-ipvs0"
[ -n "$IPSET" ] && want="$want; ipsets KUBE-CLUSTER-IP KUBE-NODE-PORT-TCP"
kp_check "it names the chains of each table, the jumps, the link (and sets)" \
    grep -q "$want\$" "$KP_LOG"
if [ -n "$IPSET" ]; then
	kp_eq "ipvs mode's sets gone, the foreign one kept" "user-set " "$(sets)"
fi
kp_wait_rules default/web:p 2 || kp_fail "web: kuproxy's 2 rules expected, got $(kp_ipt_count default/web:p)"
kp_check "web served by kuproxy" kp_until 100 eval '[ "$(ids "$KP_POD" 198.19.0.10:80 4)" = b2 ]'
kp_eq "gone answers no more" "" "$(ids "$KP_POD" 198.19.0.11:80 1)"

# Restart: nothing of another mode left, nothing logged; web served.
kp_stop
kp_start
kp_check "web served after a restart" kp_until 100 eval '[ "$(ids "$KP_POD" 198.19.0.10:80 2)" = b2 ]'
kp_eq "nothing removed at the restart" 1 "$(removed_lines)"
kp_stop

# --cleanup: the leftovers again, next to kuproxy's own rules.
leftovers
kp_ge "kuproxy's own chains there too" 1 "$(modes_chains | grep -c KUBE-PORTALS-)"
kp_check "kube-ipvs0 there again" kp_node ip link show kube-ipvs0
kp_node timeout 60 "$KUPROXY" --cleanup >"$KP_TMP/cleanup.out" 2>&1
kp_eq "--cleanup exit status" 0 "$?"
kp_eq "--cleanup leaves only kubelet's KUBE-MARK chains" \
    "nat KUBE-MARK-DROP
nat KUBE-MARK-MASQ" "$(modes_chains)"
kp_eq "no KUBE- rule left but KUBE-MARK-*'s own" 0 \
    "$(kp_ipt_save | grep '^-A' | grep -v '^-A KUBE-MARK-' | grep -c KUBE-)"
kp_check "kube-ipvs0 gone" eval '! kp_node ip link show kube-ipvs0 >/dev/null 2>&1'
if [ -n "$IPSET" ]; then
	kp_eq "--cleanup: ipvs mode's sets gone, the foreign one kept" \
	    "user-set " "$(sets)"
fi
kp_finish
