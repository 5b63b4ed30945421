#!/bin/bash
# test_least_privilege: kuproxy serves with only CAP_NET_ADMIN, CAP_NET_RAW
# and CAP_NET_BIND_SERVICE, and hands no more to its children.
#  - started as every integration test starts it (KP_MINCAPS=1 forced
#    here): /proc/PID/status shows CapEff = CapPrm = CapBnd = those three
#    (0x3400) and nothing else;
#  - what needs more is skipped with one warning (oom_score_adj), and the
#    Services still work: TCP through a ClusterIP, a UDP one deleted (its
#    conntrack entries flushed);
#  - its iptables, iptables-restore and conntrack children (wrappers that
#    record their own /proc/self/status and environment, then exec the
#    real tool) have the same three capabilities, and an environment of
#    PATH alone: a variable kuproxy was given (a token) never reaches them;
#  - the state directory is 0700 and the port file and handoff.sock 0600;
#  - started with no --metrics-bind-address, /metrics listens on
#    127.0.0.1:10249 only (kube-proxy 1.20's default), /healthz on
#    0.0.0.0:10256.
. "$(dirname "$0")/lib.sh"
KP_MINCAPS=1
KP_CAPWRAP=(setpriv "--inh-caps=-all,$KP_CAPS" "--ambient-caps=-all,$KP_CAPS"
    "--bounding-set=-all,$KP_CAPS" --)
kp_init least_privilege
for tool in iptables iptables-restore iptables-save conntrack; do
	command -v "$tool" >/dev/null 2>&1 ||
	    { echo "SKIP: $KP_NAME (needs $tool)"; exit 77; }
done
kp_topology
kp_backend id b2@198.18.1.2:8080
kp_backend echo --no-tcp u2@198.18.1.2:5353
WANT=0000000000003400	# CAP_NET_BIND_SERVICE (10), NET_ADMIN (12), NET_RAW (13)

# Wrappers: record who ran, with which capabilities and environment.
wrap=$KP_TMP/wrap
CALLS=$KP_TMP/calls
mkdir -p "$wrap"
for tool in iptables iptables-restore iptables-save conntrack; do
	cat >"$wrap/$tool" <<EOF
#!/bin/sh
{
	echo "== $tool \$\$"
	grep '^Cap' /proc/\$\$/status
	env | sed 's/^/env /'
} >>"$CALLS"
exec "$(command -v "$tool")" "\$@"
EOF
	chmod 755 "$wrap/$tool"
done

KP_SVCFILE=$KP_TMP/services.yaml
web() {
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.2
}
{
	web
	kp_svc dns 198.19.0.53 53 UDP 5353
	kp_eps dns 5353 UDP 198.18.1.2
} >"$KP_SVCFILE"

export KPLP_SECRET_TOKEN=kplp-not-for-children-$$
kp_start --iptables-path "$wrap/iptables" --conntrack-path "$wrap/conntrack"
unset KPLP_SECRET_TOKEN

# 1. kuproxy's own sets.
kp_eq "kuproxy is the process started" "$(readlink -f "$KUPROXY")" \
    "$(readlink -f "/proc/$KP_PID/exe")"
for set in CapEff CapPrm CapBnd CapInh CapAmb; do
	kp_eq "kuproxy $set" "$WANT" \
	    "$(awk -v s="$set:" '$1 == s { print $2 }' "/proc/$KP_PID/status")"
done
kp_check "kuproxy was given the token variable (the children's check means something)" \
    grep -q -a KPLP_SECRET_TOKEN "/proc/$KP_PID/environ"

# 2. It serves; what it could not do is one warning each.
port=$(kp_wait_svc default/web:p 1) || kp_die "default/web:p never appeared"
kp_wait_rules default/web:p 2 || kp_fail "web: 2 rules expected"
kp_eq "TCP through the ClusterIP" '{"b2": 1}' \
    "$(kp_client "$KP_CLI" dist --target 198.19.0.10:80 --count 1 |
    kp_json 'd["counts"]')"
kp_eq "UDP through the ClusterIP" 2 \
    "$(kp_client "$KP_CLI" udp-dist --target 198.19.0.53:53 --count 2 \
    --size 16 | kp_json 'len([x for x in d["seq"] if not x.startswith("!")])')"
kp_eq "one warning for oom_score_adj (needs CAP_SYS_RESOURCE)" 1 \
    "$(grep -c 'cannot set oom_score_adj.*CAP_SYS_RESOURCE' "$KP_LOG")"
kp_ge "UDP conntrack entries for 198.19.0.53" 1 "$(kp_ct_count 198.19.0.53)"
# Deleting dns has kuproxy run conntrack -D.
web | kp_replace "$KP_SVCFILE"
no_ct() { [ "$(kp_ct_count 198.19.0.53)" = 0 ]; }
kp_until 50 no_ct || kp_fail "dns's conntrack entries not flushed in 5 s"
kp_check "conntrack ran" kp_until 50 grep -q '^== conntrack' "$CALLS"
kp_check "kuproxy still alive" kp_alive

# 3. The children: same three capabilities, environment PATH only.
for tool in iptables iptables-restore conntrack; do
	kp_ge "$tool calls recorded" 1 "$(grep -c "^== $tool " "$CALLS")"
done
for set in CapEff CapPrm CapBnd; do
	kp_eq "every child's $set" "$WANT" \
	    "$(awk -v s="$set:" '$1 == s { print $2 }' "$CALLS" | sort -u |
	    tr '\n' ' ' | sed 's/ $//')"
done
# The shell running the wrapper adds PWD itself; anything else is given.
kp_eq "the children's environment: PATH only" \
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    "$(sed -n 's/^env //p' "$CALLS" | grep -v '^PWD=' | sort -u |
    tr '\n' ' ' | sed 's/ $//')"
kp_eq "no child saw the token variable" 0 \
    "$(grep -c KPLP_SECRET_TOKEN "$CALLS")"

# 4. The state directory and its files.
st=$KP_TMP/state
kp_eq "state directory mode" 700 "$(stat -c %a "$st")"
kp_until 50 test -s "$st/proxy-ports" || kp_fail "no $st/proxy-ports"
kp_eq "proxy-ports mode" 600 "$(stat -c %a "$st/proxy-ports")"
kp_until 50 test -S "$st/handoff.sock" || kp_fail "no $st/handoff.sock"
kp_eq "handoff.sock mode" 600 "$(stat -c %a "$st/handoff.sock")"
kp_eq "nothing else in the state directory" "handoff.sock proxy-ports" \
    "$(ls "$st" | sort | tr '\n' ' ' | sed 's/ $//')"
kp_stop
kp_eq "kuproxy exits 0 on SIGTERM" 0 "$KP_STOP_RC"

# 5. Default addresses: metrics on localhost only, healthz everywhere.
KP_LOG=$KP_TMP/kuproxy-defaults.log
ip netns exec "$KP_NODE" "${KP_CAPWRAP[@]}" "$KUPROXY" \
    --services-file "$KP_SVCFILE" --bind-address 0.0.0.0 \
    --state-dir "$st" -v 2 >>"$KP_LOG" 2>&1 &
KP_PID=$!
KP_PIDS="$KP_PIDS $KP_PID"
listens() { kp_node ss -ltnH "sport = :$1" | awk '{ print $4 }' | sort | tr '\n' ' ' | sed 's/ $//'; }
kp_until 50 kp_node curl -sf -m 1 -o /dev/null http://127.0.0.1:10249/metrics ||
    kp_fail "no /metrics on 127.0.0.1:10249 with the default address"
kp_eq "/metrics listens on 127.0.0.1:10249 only" 127.0.0.1:10249 "$(listens 10249)"
kp_eq "/healthz listens on 0.0.0.0:10256" 0.0.0.0:10256 "$(listens 10256)"
kp_eq "/metrics not on the node's address" 000 \
    "$(kp_cli curl -s -m 2 -o /dev/null -w '%{http_code}' "http://$KP_NODE_IP:10249/metrics")"
kp_stop
kp_eq "kuproxy exits 0 on SIGTERM" 0 "$KP_STOP_RC"
kp_finish
