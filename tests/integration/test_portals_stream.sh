#!/bin/bash
# test_portals_stream: a large services file (1,200 new Services) has its
# new ports bound and its rules streamed into iptables-restore while it is
# still being parsed (nf_tables only: SKIP with legacy iptables).
#  - taken: the log says "streamed while parsing"; every new Service has
#    exactly its two rules (none twice: the sync that adopts the staged
#    ports adds nothing), and still exactly two after a forced periodic
#    sync; a NodePort Service of the batch gets its NodePort rules from
#    that sync; the first, a middle and the last Service and the NodePort
#    work; the proxy ports are persisted;
#  - legacy iptables (KP_IPTABLES=iptables-legacy, as
#    test_portals_stream_legacy runs it): the stream is one nat
#    transaction, committed at its end; the rest is the same;
#  - rejected (a bad port in the file's last document): the ports staged
#    from it are closed ("staged but not taken"), none of its rules
#    remain, and everything of the previous file keeps working, including
#    a Service whose ClusterIP:port the rejected file gave to a new
#    Service first in the file (streamed rules are appended: they never
#    take over a live destination).
. "$(dirname "$0")/lib.sh"
if [ -n "${KP_IPTABLES:-}" ]; then
	kp_init portals_stream_legacy
	IPT=$(command -v "$KP_IPTABLES" 2>/dev/null) ||
	    { echo "SKIP: $KP_NAME (no $KP_IPTABLES)"; exit 77; }
	ARGS="--iptables-path $IPT"
else
	kp_init portals_stream
	IPT=iptables
	ARGS=
fi
command -v "$IPT-save" >/dev/null 2>&1 || { echo "SKIP: $KP_NAME (needs $IPT-save)"; exit 77; }
kp_topology
"$IPT" -V 2>/dev/null | grep -q nf_tables || kp_node "$IPT" -w 5 -t nat -S >/dev/null 2>&1 ||
    { echo "SKIP: $KP_NAME ($IPT does not work in a namespace here)"; exit 77; }

kp_backend id b2@198.18.1.2:8080 b3@198.18.1.3:8080

KP_SVCFILE=$KP_TMP/services.yaml
N=1200
keep() {
	kp_svc keep 198.19.200.1 80 TCP 8080
	kp_eps keep 8080 TCP 198.18.1.2
}
# many PREFIX OCTET: N Services PREFIX-i on 198.19.(OCTET + i/250).x:80,
# each with one endpoint, 198.18.1.3:8080.
many() {
	python3 - "$1" "$2" "$N" <<'EOF'
import sys
prefix, base, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = []
for i in range(n):
    ip = "198.19.%d.%d" % (base + i // 250, i % 250 + 1)
    out.append("""---
apiVersion: v1
kind: Service
metadata:
  name: %s-%d
  namespace: default
spec:
  clusterIP: %s
  ports:
  - name: p
    port: 80
    protocol: TCP
    targetPort: 8080
---
apiVersion: v1
kind: Endpoints
metadata:
  name: %s-%d
  namespace: default
subsets:
- addresses:
  - ip: 198.18.1.3
  ports:
  - name: p
    port: 8080
""" % (prefix, i, ip, prefix, i))
sys.stdout.write("".join(out))
EOF
}
np() {
	kp_svc_x np 198.19.201.1 80 TCP 8080 nodePort=30090
	kp_eps np 8080 TCP 198.18.1.2
}
keep >"$KP_SVCFILE"
# Written before kuproxy starts: generating it takes seconds under load.
{ keep; many svc 0; np; } >"$KP_TMP/big.yaml"
kp_start --iptables-sync-period 4s $ARGS
kp_wait_svc default/keep:p 1 >/dev/null || kp_die "service default/keep:p never appeared"
kp_wait_rules default/keep:p 2 || kp_die "keep: 2 rules expected, got $(kp_ipt_count default/keep:p)"
# The big file goes in right after the first periodic (forced) sync has
# re-asserted the rules: a periodic sync 4 s after start could otherwise
# land while the file is parsed and take np's NodePort rules into its
# full restore, or hold the stream back while its restore runs.
kp_until 100 grep -q 'rules re-asserted in' "$KP_LOG" ||
    kp_die "no periodic sync within 10 s"

# 1. A large file, taken.
kp_replace "$KP_SVCFILE" <"$KP_TMP/big.yaml"
count_svc() { kp_ipt_save | grep -c -F -- '--comment "default/svc-' || true; }
all_in() { [ "$(count_svc)" = $((2 * N)) ] && kp_ipt_has default/np:p 5; }
kp_until 200 all_in || kp_fail "after 20 s: $(count_svc) svc rules (want $((2 * N))), np has $(kp_ipt_count default/np:p) (want 5)"
# The N Services and np's ClusterIP; np's NodePort rules wait.
kp_check "rules streamed while parsing" grep -q "IPv4 rules applied in .* (streamed while parsing, $((2 * N + 2)) rules)" "$KP_LOG"
kp_check "np's NodePort rules added by the adopting sync" grep -q "IPv4 rules applied in .* (incremental, 3 rules)" "$KP_LOG"
for i in 0 600 $((N - 1)); do
	kp_eq "svc-$i has exactly 2 rules" 2 "$(kp_ipt_count "default/svc-$i:p")"
	res=$(kp_client "$KP_CLI" dist --target "198.19.$((i / 250)).$((i % 250 + 1)):80" --count 2)
	kp_eq "svc-$i works" '{"b3": 2}' "$(echo "$res" | kp_json 'd["counts"]')"
done
res=$(kp_client "$KP_CLI" dist --target "$KP_NODE_IP:30090" --count 2)
kp_eq "np's nodePort works" '{"b2": 2}' "$(echo "$res" | kp_json 'd["counts"]')"
kp_eq "proxy ports persisted" $((N + 2)) "$(grep -c 'default/' "$KP_TMP/state/proxy-ports")"
metric() { kp_node curl -s -m 2 "http://$KP_METRICS/metrics" | grep "^$1" || true; }
kp_eq "kuproxy_service_ports counts them all" "kuproxy_service_ports $((N + 2))" "$(metric 'kuproxy_service_ports ')"
kp_eq "svc-600 in the per-service metrics" 1 "$(metric 'kuproxy_service_connections_total{service="default/svc-600:p"' | wc -l)"
before=$(kp_ipt_save | grep -c -F -- '--comment "default/')
sleep 4.5	# one forced periodic sync (--iptables-sync-period 4s)
kp_check "a periodic sync ran" grep -q "sync: $((N + 2)) service ports, listeners" "$KP_LOG"
kp_eq "the same rules after a periodic sync" "$before" "$(kp_ipt_save | grep -c -F -- '--comment "default/')"
kp_eq "svc-600 still has exactly 2 rules" 2 "$(kp_ipt_count default/svc-600:p)"

# 2. A large file rejected at its very end; its first new Service takes
# keep's ClusterIP:port.
{
	keep
	kp_svc hijack 198.19.200.1 80 TCP 8080
	kp_eps hijack 8080 TCP 198.18.1.3
	many svc 0
	np
	many other 10
	kp_svc bad 198.19.202.1 70000 TCP 8080
} | kp_replace "$KP_SVCFILE"
kp_until 100 grep -q "services file rejected" "$KP_LOG" || kp_die "the bad file was not rejected"
kp_check "the rejection names the bad port" grep -q "services file rejected.*70000" "$KP_LOG"
# Staged in batches of 512 (SVCFILE_STAGE_BATCH): the batch that the bad
# document ends is never handed out.
want=$(((N + 1) / 512 * 512))
dropped() { [ "$(grep -c 'staged but not taken' "$KP_LOG")" = "$want" ]; }
kp_until 100 dropped || kp_fail "staged ports dropped: $(grep -c 'staged but not taken' "$KP_LOG") (want $want)"
kp_check "hijack was staged and dropped" grep -q "default/hijack:p/TCP: staged but not taken" "$KP_LOG"
no_other() { [ "$(kp_ipt_save | grep -c -F -e 'default/other-' -e 'default/hijack')" = 0 ]; }
kp_until 100 no_other || kp_fail "rules of the rejected file remain: $(kp_ipt_save | grep -c -F -e 'default/other-' -e 'default/hijack')"
kp_eq "the previous file's rules are all there" "$before" "$(kp_ipt_save | grep -c -F -- '--comment "default/')"
res=$(kp_client "$KP_CLI" dist --target 198.19.200.1:80 --count 2)
kp_eq "keep's ClusterIP still goes to keep" '{"b2": 2}' "$(echo "$res" | kp_json 'd["counts"]')"
res=$(kp_client "$KP_CLI" dist --target 198.19.4.200:80 --count 2)
kp_eq "svc-1199 still works" '{"b3": 2}' "$(echo "$res" | kp_json 'd["counts"]')"
kp_eq "no other- proxy port persisted" 0 "$(grep -c 'default/other-' "$KP_TMP/state/proxy-ports")"
kp_eq "kuproxy_service_ports unchanged" "kuproxy_service_ports $((N + 2))" "$(metric 'kuproxy_service_ports ')"
kp_eq "no other- in the metrics" 0 "$(metric 'kuproxy_service_connections_total{service="default/other-' | wc -l)"
kp_check "kuproxy alive" kp_alive
kp_finish
