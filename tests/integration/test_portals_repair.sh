#!/bin/bash
# test_portals_repair: what someone else breaks in the node's iptables is
# repaired at the next periodic sync (--iptables-sync-period 2s), each
# within 3 s, and the ClusterIP works again:
#  - "iptables -t nat -F KUBE-PORTALS-CONTAINER": the same rules are back;
#  - the PREROUTING jump deleted: back, once, before the NodePort jump;
#  - a duplicate of the jump and a foreign jump to our chain added: both
#    removed, the jump exists exactly once;
#  - KUBE-NODEPORT-HOST's jump and the chain itself deleted: recreated,
#    the nodePort works from the node again;
#  - filter KUBE-NODEPORT-NON-LOCAL flushed: its ACCEPT rules are back.
# Other rules in the same built-in chains are left alone.
. "$(dirname "$0")/lib.sh"
kp_init portals_repair
command -v iptables-save >/dev/null 2>&1 || { echo "SKIP: $KP_NAME (needs iptables)"; exit 77; }
kp_topology
kp_backend id b2@198.18.1.2:8080 b3@198.18.1.3:8080

KP_SVCFILE=$KP_TMP/services.yaml
{
	kp_svc_x web 198.19.0.10 80 TCP 8080 nodePort=30080
	kp_eps web 8080 TCP 198.18.1.2 198.18.1.3
	kp_svc web2 198.19.0.11 80 TCP 8080
	kp_eps web2 8080 TCP 198.18.1.2
} >"$KP_SVCFILE"
kp_start --iptables-sync-period 2s
port=$(kp_wait_svc default/web:p 2) || kp_die "service default/web:p never appeared"
kp_wait_svc default/web2:p 1 >/dev/null || kp_die "service default/web2:p never appeared"
kp_wait_rules default/web:p 5 || kp_die "web: 5 rules expected, got $(kp_ipt_count default/web:p)"
kp_wait_rules default/web2:p 2 || kp_die "web2: 2 rules expected, got $(kp_ipt_count default/web2:p)"
# A rule of somebody else's in PREROUTING and INPUT, to be left alone.
kp_node iptables -w 5 -t nat -A PREROUTING -p tcp --dport 9999 -j RETURN
kp_node iptables -w 5 -A INPUT -p tcp --dport 9999 -j ACCEPT

JUMP_PORTALS=(-m comment --comment "handle ClusterIPs; NOTE: this must be before the NodePort rules" -j KUBE-PORTALS-CONTAINER)
JUMP_NP_HOST=(-m addrtype --dst-type LOCAL -m comment --comment "handle service NodePorts; NOTE: this must be the last rule in the chain" -j KUBE-NODEPORT-HOST)
portals_before=$(kp_chain nat KUBE-PORTALS-CONTAINER)
nonlocal_before=$(kp_chain filter KUBE-NODEPORT-NON-LOCAL)
nphost_before=$(kp_chain nat KUBE-NODEPORT-HOST)
kp_eq "portal rules before (web, web2)" 2 "$(grep -c '^-A' <<<"$portals_before")"

# works NS TARGET: do 4 connections all succeed?
works() {
	kp_client "$1" dist --target "$2" --count 4 --timeout 1 |
	    kp_json 'd["ok"]' | grep -qx 4
}
# repaired WHAT TEST...: wait (at most 4 s) until TEST passes, then check
# that it took no more than 3 s.
repaired() {
	local what=$1 t0 ms
	shift

	t0=$(date +%s%N)
	if kp_until 40 "$@"; then
		ms=$(kp_ms_since "$t0")
		if [ "$ms" -le 3000 ]; then
			kp_ok "$what repaired after $ms ms"
		else
			kp_fail "$what repaired only after $ms ms (> 3 s)"
		fi
	else
		kp_fail "$what not repaired within 4 s"
	fi
}
same() { [ "$(kp_chain "$1" "$2")" = "$3" ]; }
# jumps TABLE CHAIN TARGET: how many rules of CHAIN jump to TARGET.
jumps() { kp_chain "$1" "$2" | grep -c -- "-j $3\$"; }
jump_once() { [ "$(jumps nat PREROUTING KUBE-PORTALS-CONTAINER)" = 1 ]; }

# 1. Flush the portal chain.
kp_node iptables -w 5 -t nat -F KUBE-PORTALS-CONTAINER
kp_eq "flushed" 0 "$(kp_chain nat KUBE-PORTALS-CONTAINER | grep -c '^-A')"
repaired "flushed KUBE-PORTALS-CONTAINER" same nat KUBE-PORTALS-CONTAINER "$portals_before"
kp_check "ClusterIP works after the flush" works "$KP_CLI" 198.19.0.10:80

# 2. Delete the PREROUTING jump.
kp_node iptables -w 5 -t nat -D PREROUTING "${JUMP_PORTALS[@]}" || kp_fail "could not delete the jump"
kp_eq "jump deleted" 0 "$(jumps nat PREROUTING KUBE-PORTALS-CONTAINER)"
repaired "deleted PREROUTING jump" jump_once
kp_check "ClusterIP works after the jump's deletion" works "$KP_CLI" 198.19.0.10:80
order=$(kp_node iptables -w 5 -t nat -S PREROUTING | grep -o -- '-j KUBE-[A-Z-]*$' |
    sed 's/^-j //' | tr '\n' ' ')
kp_eq "portal jump before the NodePort jump" "KUBE-PORTALS-CONTAINER KUBE-NODEPORT-CONTAINER " "$order"

# 3. A duplicate and a foreign jump to our chain.
kp_node iptables -w 5 -t nat -I PREROUTING 1 "${JUMP_PORTALS[@]}"
kp_node iptables -w 5 -t nat -A PREROUTING -s 198.18.0.0/15 -j KUBE-PORTALS-CONTAINER
kp_eq "3 jumps before the repair" 3 "$(jumps nat PREROUTING KUBE-PORTALS-CONTAINER)"
repaired "duplicate and foreign jumps" jump_once
kp_eq "the remaining jump is kuproxy's" 1 "$(kp_node iptables -w 5 -t nat -S PREROUTING |
    grep -F -- '-j KUBE-PORTALS-CONTAINER' | grep -c -F 'handle ClusterIPs')"
kp_check "ClusterIP works after the duplicates" works "$KP_CLI" 198.19.0.10:80

# 4. KUBE-NODEPORT-HOST's jump and the chain itself.
kp_node iptables -w 5 -t nat -D OUTPUT "${JUMP_NP_HOST[@]}" || kp_fail "could not delete the OUTPUT jump"
kp_node iptables -w 5 -t nat -F KUBE-NODEPORT-HOST
kp_node iptables -w 5 -t nat -X KUBE-NODEPORT-HOST || kp_fail "could not delete KUBE-NODEPORT-HOST"
nphost_ok() {
	same nat KUBE-NODEPORT-HOST "$nphost_before" &&
	    [ "$(jumps nat OUTPUT KUBE-NODEPORT-HOST)" = 1 ]
}
repaired "deleted KUBE-NODEPORT-HOST chain and jump" nphost_ok
kp_check "nodePort works from the node again" works "$KP_NODE" "$KP_NODE_IP:30080"

# 5. The filter chain.
kp_node iptables -w 5 -F KUBE-NODEPORT-NON-LOCAL
repaired "flushed filter KUBE-NODEPORT-NON-LOCAL" same filter KUBE-NODEPORT-NON-LOCAL "$nonlocal_before"

kp_eq "foreign nat PREROUTING rule untouched" 1 \
    "$(kp_node iptables -w 5 -t nat -S PREROUTING | grep -c -F -- '--dport 9999 -j RETURN')"
kp_eq "foreign filter INPUT rule untouched" 1 \
    "$(kp_node iptables -w 5 -S INPUT | grep -c -F -- '--dport 9999 -j ACCEPT')"
kp_eq "web2's rules intact" 2 "$(kp_ipt_count default/web2:p)"
kp_check "ClusterIP of web2 works" works "$KP_CLI" 198.19.0.11:80
kp_eq "no failed rule sync logged" 0 "$(grep -c 'rules not applied' "$KP_LOG")"
kp_check "kuproxy still running" kp_alive
kp_finish
