#!/bin/bash
# test_migrate: from the real kube-proxy 1.20 in iptables mode to kuproxy
# on the same node (namespace):
#  - kube-proxy --proxy-mode=iptables serves two Services (web, gone)
#    through its KUBE-SERVICES/KUBE-SVC-*/KUBE-SEP-* DNAT rules; it is
#    stopped and leaves them, as it does;
#  - "gone" is deleted at the API server: its stale DNAT rule still
#    reaches the old backend while nobody removes it;
#  - kuproxy starts: every chain of iptables mode and every jump into
#    them is gone, with one log line naming them; web is served by
#    kuproxy, gone answers no more;
#  - a restart of kuproxy finds nothing to remove (no such log line) and
#    keeps serving;
#  - "kuproxy --cleanup" leaves no KUBE- chain of any mode: the chains
#    the real "kube-proxy --cleanup" leaves on the same rules, but for
#    its empty KUBE-PROXY-CANARY chains, which kuproxy removes too: only
#    KUBE-MARK-MASQ and KUBE-MARK-DROP stay (kubelet owns them too).
# KP_MIGRATE_CAPTURE=DIR keeps kube-proxy's iptables-save there (nat and
# filter, mangle): the fixture of tests/integration/test_migrate.sh.
# Needs bench/build-kube-proxy.sh's kube-proxy (cached), else SKIP.
. "$(dirname "$0")/lib.sh"
: "${KP_KUBE_PROXY:=$(ls -t "$KP_E2E_CACHE"/*/kube-proxy 2>/dev/null | head -n 1)}"
if [ -z "$KP_KUBE_PROXY" ] || [ ! -x "$KP_KUBE_PROXY" ]; then
	echo "SKIP: migrate (no kube-proxy: run bench/build-kube-proxy.sh)"
	exit 77
fi
ke_init migrate
kp_backend id b2@198.18.1.2:8080 b3@198.18.1.3:8080
ke_service web 198.19.0.10 80 TCP 8080
ke_backends web 8080 TCP 198.18.1.2
ke_service gone 198.19.0.11 80 TCP 8080
ke_backends gone 8080 TCP 198.18.1.3
ke_kubeconfig "$KP_TMP/kubeconfig" token

# --- kube-proxy 1.20, iptables mode ------------------------------------
KPX_LOG=$KP_TMP/kube-proxy.log
ip netns exec "$KP_NODE" "$KP_KUBE_PROXY" --proxy-mode=iptables \
    --kubeconfig "$KP_TMP/kubeconfig" --hostname-override "$KE_NODE_NAME" \
    --cluster-cidr 10.244.0.0/16 \
    --healthz-bind-address 127.0.0.1:10266 \
    --metrics-bind-address 127.0.0.1:10259 \
    --conntrack-max-per-core 0 -v 2 >"$KPX_LOG" 2>&1 &
KPX_PID=$!
KP_PIDS="$KP_PIDS $KPX_PID"

# nat: the number of rules that kube-proxy's mode writes for a Service.
svc_rules() {
	kp_node iptables-save -t nat 2>/dev/null | grep -c -F -- "$1" || true
}
kp_check "kube-proxy wrote KUBE-SVC chains for web and gone" \
    ke_wait 60 eval '[ "$(svc_rules "default/web:p cluster IP")" -ge 1 ] &&
    [ "$(svc_rules "default/gone:p cluster IP")" -ge 1 ]'
kp_check "web answers through kube-proxy's DNAT" \
    ke_wait_ids 30 "$KP_POD" 198.19.0.10:80 2 "b2"
kp_check "gone answers through kube-proxy's DNAT" \
    ke_wait_ids 30 "$KP_POD" 198.19.0.11:80 2 "b3"
kill -TERM "$KPX_PID"
kp_until 100 ke_gone "$KPX_PID" || kill -KILL "$KPX_PID" 2>/dev/null
wait "$KPX_PID" 2>/dev/null

kp_node iptables-save -t nat >"$KP_TMP/kp-nat.save"
kp_node iptables-save -t filter >"$KP_TMP/kp-filter.save"
kp_node iptables-save -t mangle >"$KP_TMP/kp-mangle.save"
if [ -n "${KP_MIGRATE_CAPTURE:-}" ]; then
	mkdir -p "$KP_MIGRATE_CAPTURE"
	cp "$KP_TMP"/kp-*.save "$KP_MIGRATE_CAPTURE/"
	"$KP_KUBE_PROXY" --version >"$KP_MIGRATE_CAPTURE/kube-proxy.version"
	kp_node iptables -V >"$KP_MIGRATE_CAPTURE/iptables.version"
fi
kp_ge "kube-proxy's KUBE-SEP chains left after it stopped" 2 \
    "$(grep -c '^:KUBE-SEP-' "$KP_TMP/kp-nat.save")"
kp_ge "kube-proxy's filter chains left" 2 \
    "$(grep -c -e '^:KUBE-SERVICES' -e '^:KUBE-FORWARD' "$KP_TMP/kp-filter.save")"

# The stale rule: a deleted Service still DNATed by kube-proxy's rules.
ke_delete services gone
ke_api DELETE "$KE_CORE/default/endpoints/gone" >/dev/null
kp_eq "gone, deleted, still answers through the stale rule" "b3" \
    "$(ke_ids "$KP_POD" 198.19.0.11:80 1)"

# --- kuproxy ------------------------------------------------------------
# modes_chains: the KUBE- chains of nat, filter and mangle now, sorted.
modes_chains() {
	local t

	for t in nat filter mangle; do
		kp_node iptables-save -t $t 2>/dev/null |
		    sed -n "s/^:\(KUBE-[^ ]*\) .*/$t \1/p"
	done | sort
}
ke_kuproxy "$KP_TMP/kubeconfig"
kp_check "iptables mode's chains gone after kuproxy's start" ke_wait 20 eval \
    '! modes_chains | grep -q -e "KUBE-SVC-" -e "KUBE-SEP-" -e "KUBE-SERVICES" -e "KUBE-NODEPORTS" -e "KUBE-POSTROUTING" -e "KUBE-FORWARD" -e "KUBE-EXTERNAL-SERVICES" -e "KUBE-PROXY-CANARY"'
modes_chains | while read -r l; do kp_log "after start: $l"; done
kp_eq "no jump to iptables mode's chains left" 0 \
    "$(kp_ipt_save | grep -c -e '-j KUBE-SERVICES' -e '-j KUBE-POSTROUTING' -e '-j KUBE-FORWARD' -e '-j KUBE-EXTERNAL-SERVICES')"
kp_eq "one log line names what went" 1 \
    "$(grep -c "removed the leftovers of kube-proxy's other modes" "$KP_LOG")"
kp_log "$(grep "removed the leftovers" "$KP_LOG")"
# web, gone and the apiserver's own "kubernetes" Service: 3 of each.
kp_check "it names KUBE-SERVICES and the KUBE-SVC-/KUBE-SEP- chains" \
    grep -q "IPv4: removed the leftovers of kube-proxy's other modes in [0-9]* ms: nat: KUBE-SERVICES .*KUBE-SVC-\* (3) KUBE-SEP-\* (3); filter: KUBE-SERVICES .*; mangle: KUBE-PROXY-CANARY; [0-9]* jump rules$" "$KP_LOG"
kp_check "web served by kuproxy" ke_wait_ids 30 "$KP_POD" 198.19.0.10:80 4 "b2"
kp_ge "kuproxy's rules for web" 1 "$(ke_rules default/web:p)"
kp_eq "gone answers no more" "" "$(ke_ids "$KP_POD" 198.19.0.11:80 1)"

# Restart: nothing of another mode left, nothing logged; still served.
ke_kuproxy_stop
ke_kuproxy "$KP_TMP/kubeconfig"
kp_check "web served after a restart" ke_wait_ids 30 "$KP_POD" 198.19.0.10:80 2 "b2"
kp_eq "nothing removed at the restart" 1 \
    "$(grep -c "removed the leftovers of kube-proxy's other modes" "$KP_LOG")"
ke_kuproxy_stop

# --cleanup: the chains kube-proxy's own --cleanup leaves, no more.
kp_node timeout 60 "$KUPROXY" --cleanup >"$KP_TMP/cleanup.out" 2>&1
kp_eq "kuproxy --cleanup exit status" 0 "$?"
ours=$(modes_chains)
kp_eq "kuproxy --cleanup leaves only kubelet's KUBE-MARK chains" \
    "nat KUBE-MARK-DROP
nat KUBE-MARK-MASQ" "$ours"
kp_eq "no KUBE- rule left but KUBE-MARK-*'s own" 0 \
    "$(kp_ipt_save | grep '^-A' | grep -v '^-A KUBE-MARK-' | grep -c KUBE-)"
# The same rules again, cleaned by the real kube-proxy.
kp_node iptables-restore --noflush <"$KP_TMP/kp-nat.save"
kp_node iptables-restore --noflush <"$KP_TMP/kp-filter.save"
kp_node iptables-restore --noflush <"$KP_TMP/kp-mangle.save"
kp_node timeout 60 "$KP_KUBE_PROXY" --cleanup >"$KP_TMP/kp-cleanup.out" 2>&1
theirs=$(modes_chains)
kp_eq "kube-proxy --cleanup leaves the same chains, and its canaries" \
    "$theirs" "$(printf '%s\n' "$ours" "filter KUBE-PROXY-CANARY" \
    "mangle KUBE-PROXY-CANARY" "nat KUBE-PROXY-CANARY" | sort)"
kp_finish
