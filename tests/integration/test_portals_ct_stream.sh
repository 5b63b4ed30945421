#!/bin/bash
# test_portals_ct_stream: a UDP Service deleted while a client keeps
# sending to its ClusterIP (4 sockets, one source port each as resolvers
# use, a datagram from each every ~1 ms).  Once the Service's rules are gone and the client
# has stopped, no dst-NATed (REDIRECTed) conntrack entry for the
# ClusterIP may be left: such an entry keeps redirecting that client's
# flow to the closed proxy port for as long as it keeps sending (and
# 30 s after), also after the Service is re-created.  kube-proxy
# userspace avoids it by deleting the portal rules first and flushing
# conntrack after.  Skipped without the conntrack tool.
. "$(dirname "$0")/lib.sh"
kp_init portals_ct_stream
command -v iptables-save >/dev/null 2>&1 || { echo "SKIP: $KP_NAME (needs iptables)"; exit 77; }
command -v conntrack >/dev/null 2>&1 || { echo "SKIP: $KP_NAME (needs conntrack)"; exit 77; }
kp_topology
kp_node conntrack -L >/dev/null 2>&1 || { echo "SKIP: $KP_NAME (conntrack -L fails)"; exit 77; }
kp_backend echo --no-tcp u2@198.18.1.2:5353 u3@198.18.1.3:5353

KP_SVCFILE=$KP_TMP/services.yaml
dns() {
	kp_svc dns 198.19.0.53 53 UDP 5353
	kp_eps dns 5353 UDP 198.18.1.2 198.18.1.3
}
keep() {
	kp_svc keep 198.19.0.11 53 UDP 5353
	kp_eps keep 5353 UDP 198.18.1.2
}
{ dns; keep; } >"$KP_SVCFILE"
kp_start
port=$(kp_wait_svc default/dns:p 2) || kp_die "service default/dns:p never appeared"
kp_wait_rules default/dns:p 2 || kp_die "dns: 2 rules expected, got $(kp_ipt_count default/dns:p)"

kp_udp_stream "$KP_CLI" 198.19.0.53:53 2.5 0.001 4 >"$KP_TMP/stream.out" &
stream=$!
KP_PIDS="$KP_PIDS $stream"
sleep 0.5
kp_ge "REDIRECTed entries for 198.19.0.53 while the client sends" 4 \
    "$(kp_ct_count 198.19.0.53 --dst-nat)"
t0=$(date +%s%N)
keep | kp_replace "$KP_SVCFILE"
kp_until 50 kp_ipt_has default/dns:p 0 || kp_fail "rules of the deleted dns still there after 5 s"
kp_log "dns's rules gone $(kp_ms_since "$t0") ms after the change"
wait "$stream"
kp_log "stream: $(cat "$KP_TMP/stream.out")"
kp_ge "stream answered before the deletion" 1 "$(kp_json 'd["answered"]' <"$KP_TMP/stream.out")"
left=$(kp_node conntrack -L -p udp --orig-dst 198.19.0.53 --dst-nat 2>/dev/null)
kp_eq "no REDIRECTed entry for 198.19.0.53 left after the deletion" 0 \
    "$(grep -c '^udp' <<<"$left")"
if [ -n "$left" ]; then
	kp_log "left (reply from the closed proxy port $port?): $left"
	grep -q "sport=$port " <<<"$left" &&
	    kp_log "the stale entry redirects to the deleted Service's proxy port $port"
fi
kp_check "kuproxy still running" kp_alive
kp_finish
