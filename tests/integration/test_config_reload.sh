#!/bin/bash
# test_config_reload: the --config file changes under a running kuproxy,
# laid out as a ConfigMap volume (config.conf -> ..data/config.conf,
# ..data -> ..TIMESTAMP) and updated as the kubelet's atomic writer does,
# under a steady load (steady.py: new connections at 200/s and 6 long
# streams checked byte for byte) that must see no failure at all:
#  (a) a ..data swap changing udpIdleTimeout and iptables.syncPeriod:
#      applied (/configz, the log line), rules identical (iptables-save),
#      proxy port and process unchanged;
#  (b) an in-place write through the symlink: applied;
#  (c) a bad edit by a ..data swap: one error line with FILE:LINE, the
#      old values still in /configz, still serving; then a good edit is
#      applied;
#  (d) a restart-only field (hostnameOverride): logged once (also across
#      a later live edit), shown as pending in /configz, nothing else
#      disturbed; edited back: nothing pending;
#  (e) SIGHUP re-reads the config file and the services file;
#  (f) healthzBindAddress and metricsBindAddress changes rebind: the old
#      port stops answering, the new one answers; the same port on an
#      overlapping address; an address that cannot be bound keeps the
#      old one serving and the old value;
#  (g) conntrack.tcpCloseWaitTimeout (a per-namespace sysctl, set in the
#      node namespace) and oomScoreAdj are set again.
. "$(dirname "$0")/lib.sh"
kp_init config_reload
# This test's own names (kpr-...), so it never collides with another.
KP_NODE=kpr-node-$KP_ID
KP_POD=kpr-pod-$KP_ID
KP_CLI=kpr-cli-$KP_ID
rmdir "$KP_TMP"
KP_TMP=$(mktemp -d /tmp/kpr-config-reload.XXXXXX) || exit 1
kp_topology
kp_backend hello b2@198.18.1.2:8080 b3@198.18.1.3:8080

KP_SVCFILE=$KP_TMP/services.yaml
{
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.2 198.18.1.3
} >"$KP_SVCFILE"

CM=$KP_TMP/cm			# the ConfigMap volume
CONF=$CM/config.conf
HZ=127.0.0.1:10256
MX=127.0.0.1:10249
CW=1h				# conntrack.tcpCloseWaitTimeout
OOM=-999			# oomScoreAdj

# conf UDP SYNC [EXTRA-LINES]: the config file (udpIdleTimeout on line 3).
conf() {
	cat <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
udpIdleTimeout: $1
iptables:
  syncPeriod: $2
  minSyncPeriod: 1s
healthzBindAddress: $HZ
metricsBindAddress: $MX
conntrack:
  maxPerCore: 0
  tcpCloseWaitTimeout: $CW
oomScoreAdj: $OOM
${3:-}
EOF
}

# swap: stdin becomes the volume's new content, as the kubelet does it:
# a new ..TIMESTAMP dir, a ..data_tmp symlink to it renamed over ..data
# (rename(2)), then the old dir removed.  Runs in a pipeline's subshell.
swap() {
	local old ts

	old=$(readlink "$CM/..data" 2>/dev/null)
	ts=..$(date -u +%Y_%m_%d_%H_%M_%S).$(date +%N)
	mkdir "$CM/$ts" || kp_die "mkdir $CM/$ts"
	cat >"$CM/$ts/config.conf"
	ln -s "$ts" "$CM/..data_tmp"
	mv -T "$CM/..data_tmp" "$CM/..data" || kp_die "rename ..data_tmp"
	[ -n "$old" ] && rm -rf "${CM:?}/$old"
	return 0
}

mkdir -p "$CM" "$KP_TMP/state"
conf 250ms 30s | swap
ln -s ..data/config.conf "$CONF"

# kuproxy with the addresses from the file (kp_start's flags would
# override them), at -v 2 (a line per connection would be 200/s).
KP_LOG=$KP_TMP/kuproxy.log
ip netns exec "$KP_NODE" "${KP_CAPWRAP[@]}" "$KUPROXY" --config "$CONF" \
    --services-file "$KP_SVCFILE" --bind-address 0.0.0.0 \
    --state-dir "$KP_TMP/state" -v 2 >>"$KP_LOG" 2>&1 &
KP_PID=$!
KP_PIDS="$KP_PIDS $KP_PID"
KP_METRICS=$MX
KP_URL=http://$KP_METRICS/debug/services
port=$(kp_wait_svc default/web:p 2) || kp_die "service default/web:p never appeared"

# cz PYEXPR: evaluate on kuproxy's /configz (d), at the metrics address.
cz() {
	kp_node curl -s -m 2 "http://$MX/configz" | kp_json "$1" 2>/dev/null
}
G='d["kubeproxy.config.k8s.io"]'
# cz_is PYEXPR VALUE: does /configz say so (for kp_until)?
cz_is() { [ "$(cz "$1")" = "$2" ]; }
# nlog PATTERN: how many log lines match.
nlog() { grep -a -c -- "$1" "$KP_LOG"; }
# nlog_gt PATTERN N: more than N lines match (for kp_until).
nlog_gt() { [ "$(nlog "$1")" -gt "$2" ]; }
# rules: the node's iptables, without counters.
rules() {
	kp_node iptables-save | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'
}
# serving: does the service answer a new connection?
serving() {
	kp_client "$KP_CLI" dist --target "$KP_NODE_IP:$port" --count 2 |
	    kp_json 'sum(d["counts"].values())' 2>/dev/null | grep -qx 2
}

# has_rules: are the Service's rules in place (the first sync applied)?
has_rules() { rules | grep -q -- '-d 198.19.0.10/32 .*DNAT'; }
kp_until 100 has_rules || kp_die "the Service's rules never appeared"
kp_eq "UDPIdleTimeout at start" 250ms "$(cz "$G[\"UDPIdleTimeout\"]")"
kp_check "watching the config file" grep -aq "config $CONF: watching" "$KP_LOG"
rules >"$KP_TMP/rules.before"

# The load, for (a) to (e).
rm -f "$KP_TMP/steady.stop"
timeout -k 5 120 ip netns exec "$KP_CLI" "$KP_PY" "$KP_HERE/steady.py" \
    --target "$KP_NODE_IP:$port" --duration 90 --rate 200 --streams 6 \
    --stop-file "$KP_TMP/steady.stop" --ready-file "$KP_TMP/steady.ready" \
    >"$KP_TMP/steady.json" 2>"$KP_TMP/steady.err" &
STEADY=$!
KP_PIDS="$KP_PIDS $STEADY"
kp_wait_file "$KP_TMP/steady.ready" 100 || kp_die "steady.py did not start"
sleep 2

# (a) The kubelet's swap: udpIdleTimeout and syncPeriod.
t0=$(date +%s%N)
conf 5s 10s | swap
if kp_until 50 cz_is "$G[\"UDPIdleTimeout\"]" 5s; then
	kp_ok "(a) ..data swap applied in $((($(date +%s%N) - t0) / 1000000)) ms"
else
	kp_fail "(a) /configz UDPIdleTimeout not 5s within 5 s: $(cz "$G")"
fi
kp_eq "(a) IPTables.SyncPeriod" 10s "$(cz "$G[\"IPTables\"][\"SyncPeriod\"]")"
kp_eq "(a) the log line" 1 \
    "$(nlog "config reloaded from $CONF: changed iptables.syncPeriod, udpIdleTimeout$")"
sleep 2
rules >"$KP_TMP/rules.after"
kp_check "(a) iptables-save identical across the reload" \
    cmp -s "$KP_TMP/rules.before" "$KP_TMP/rules.after"
kp_eq "(a) proxy port unchanged" "$port" "$(kp_debug default/web:p proxyPort)"
kp_check "(a) same process" kp_alive

# (b) An in-place write through the symlink.
conf 7s 10s >"$CONF"
kp_check "(b) in-place write applied" \
    kp_until 50 cz_is "$G[\"UDPIdleTimeout\"]" 7s
kp_eq "(b) the log line" 1 \
    "$(nlog "config reloaded from $CONF: changed udpIdleTimeout$")"

# (c) A bad edit by a swap: line 3 is udpIdleTimeout.
bad0=$(nlog 'config reload from')
conf soon 10s | swap
kp_until 50 nlog_gt 'config reload from' "$bad0"
sleep 0.5
kp_eq "(c) one error line" 1 "$(($(nlog 'config reload from') - bad0))"
kp_eq "(c) with FILE:LINE" 1 \
    "$(nlog "config reload from $CONF rejected, running configuration kept: $CONF:3: udpIdleTimeout")"
kp_eq "(c) /configz still shows the running value" 7s \
    "$(cz "$G[\"UDPIdleTimeout\"]")"
kp_check "(c) still serving" serving
conf 9s 10s | swap
kp_check "(c) the next good edit is applied" \
    kp_until 50 cz_is "$G[\"UDPIdleTimeout\"]" 9s

# (d) A restart-only field, then a live edit with it still changed.
conf 9s 10s "hostnameOverride: kpr-other" | swap
kp_check "(d) pending in /configz" kp_until 50 cz_is \
    'd["pending"]["restartRequired"]["hostnameOverride"]' kpr-other
kp_eq "(d) running HostnameOverride unchanged" "" \
    "$(cz "$G[\"HostnameOverride\"]")"
conf 9s 20s "hostnameOverride: kpr-other" | swap
kp_check "(d) a live edit beside it applied" \
    kp_until 50 cz_is "$G[\"IPTables\"][\"SyncPeriod\"]" 20s
kp_eq "(d) needs a restart: logged once" 1 \
    "$(nlog "config $CONF: hostnameOverride changed: needs a restart")"
kp_eq "(d) still pending" kpr-other \
    "$(cz 'd["pending"]["restartRequired"]["hostnameOverride"]')"
conf 9s 20s | swap
kp_check "(d) edited back: nothing pending" \
    kp_until 50 cz_is '"pending" in d' False
kp_check "(d) logged" grep -aq "config $CONF: restart-only fields back" "$KP_LOG"

# (e) SIGHUP: both files re-read (the config one even though unchanged).
nc0=$(nlog "config reloaded from $CONF: no change")
ns0=$(nlog "services file $KP_SVCFILE: ")
kill -HUP "$KP_PID"
kp_check "(e) SIGHUP re-read the config file" \
    kp_until 30 nlog_gt "config reloaded from $CONF: no change" "$nc0"
kp_check "(e) SIGHUP re-read the services file" \
    kp_until 30 nlog_gt "services file $KP_SVCFILE: " "$ns0"

# The load's verdict, across (a) to (e).
sleep 1
touch "$KP_TMP/steady.stop"
wait "$STEADY"
res=$(cat "$KP_TMP/steady.json")
kp_log "steady: $res"
[ -n "$res" ] || kp_die "steady.py printed nothing ($(cat "$KP_TMP/steady.err"))"
kp_eq "no new connection failed" 0 "$(echo "$res" | kp_json 'd["new"]["failed"]')"
kp_ge "new connections ok" 1000 "$(echo "$res" | kp_json 'd["new"]["ok"]')"
kp_eq "streams opened" 6 "$(echo "$res" | kp_json 'd["streams"]["opened"]')"
kp_eq "no stream broken" 0 "$(echo "$res" | kp_json 'd["streams"]["broken"]')"
kp_ge "bytes checked end to end" 1000000 \
    "$(echo "$res" | kp_json 'd["streams"]["bytes_checked"]')"
rules >"$KP_TMP/rules.after"
kp_check "iptables-save identical after every reload" \
    cmp -s "$KP_TMP/rules.before" "$KP_TMP/rules.after"

# (f) Rebinds.  Old ports stop answering, new ones answer.
answers() { kp_node curl -s -o /dev/null -m 2 "http://$1"; }
refused() { ! answers "$1"; }
HZ=127.0.0.2:10266
MX=127.0.0.3:10259
conf 9s 20s | swap
kp_check "(f) new healthz address answers" kp_until 50 answers "$HZ/healthz"
kp_check "(f) new metrics address answers" kp_until 50 answers "$MX/configz"
kp_check "(f) old healthz address stopped" refused 127.0.0.1:10256/healthz
kp_check "(f) old metrics address stopped" refused 127.0.0.1:10249/metrics
kp_eq "(f) /configz shows the new metrics address" "$MX" \
    "$(cz "$G[\"MetricsBindAddress\"]")"
# The same port on an overlapping address (cannot be bound beside it).
MX=0.0.0.0:10259
conf 9s 20s | swap
kp_check "(f) 127.0.0.3:10259 -> 0.0.0.0:10259" kp_until 50 cz_is \
    "$G[\"MetricsBindAddress\"]" 0.0.0.0:10259
MX=127.0.0.5:10259
kp_check "(f) 0.0.0.0:10259 answers on another address" \
    answers "$MX/configz"
# An address that is not the node's: the old one keeps serving.
MX=198.18.77.7:10259
conf 9s 20s | swap
kp_until 50 grep -aq "metricsBindAddress: cannot move to $MX" "$KP_LOG"
kp_check "(f) unbindable address logged" \
    grep -aq "metricsBindAddress: cannot move to $MX" "$KP_LOG"
MX=127.0.0.1:10259
kp_check "(f) the old metrics server still serves" answers "$MX/metrics"
kp_eq "(f) /configz keeps the address served" 0.0.0.0:10259 \
    "$(cz "$G[\"MetricsBindAddress\"]")"

# (g) conntrack and oom score, set again as at start.
CW=2h
OOM=100				# raising it needs no CAP_SYS_RESOURCE
conf 9s 20s | swap
kp_check "(g) oomScoreAdj applied" kp_until 50 cz_is "$G[\"OOMScoreAdj\"]" 100
kp_eq "(g) the process's oom_score_adj" 100 "$(cat "/proc/$KP_PID/oom_score_adj")"
kp_eq "(g) Conntrack.TCPCloseWaitTimeout" 2h0m0s \
    "$(cz "$G[\"Conntrack\"][\"TCPCloseWaitTimeout\"]")"
cwfile=/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_close_wait
if kp_node test -e "$cwfile"; then
	kp_eq "(g) nf_conntrack_tcp_timeout_close_wait in the node namespace" \
	    7200 "$(kp_node cat "$cwfile")"
else
	kp_log "(g) no conntrack sysctls in the node namespace: not checked"
fi
kp_check "still serving after all" serving
kp_check "same process throughout" kp_alive
kp_finish
