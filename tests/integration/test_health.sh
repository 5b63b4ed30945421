#!/bin/bash
# test_health: /healthz tells the truth about the rules, as kube-proxy's
# proxier health server does.  An iptables-restore that fails (a wrapper
# in front of the real one, failing while $KP_TMP/fail exists) keeps
# /healthz at 503 from the start, with Go's zero time as lastUpdated;
# once restores succeed it is 200 with lastUpdated the time of that
# success (not "now" at each request); when restores fail again it goes
# back to 503 within the health timeout (2 x iptables.syncPeriod = 2 s
# here) with lastUpdated still that success; then 200 again.  /livez is
# 200 all along, and the metrics port's /healthz answers "ok".
. "$(dirname "$0")/lib.sh"
kp_init health
command -v iptables-restore >/dev/null 2>&1 || { echo "SKIP: $KP_NAME (needs iptables)"; exit 77; }
kp_topology
kp_backend id b2@198.18.1.2:8080

wrap=$KP_TMP/wrap
mkdir -p "$wrap"
real_restore=$(command -v iptables-restore)
cat >"$wrap/iptables-restore" <<EOF2
#!/bin/sh
if [ -e "$KP_TMP/fail" ]; then
	cat >/dev/null
	echo "iptables-restore: fake failure" >&2
	exit 1
fi
exec "$real_restore" "\$@"
EOF2
chmod 755 "$wrap/iptables-restore"
ln -s "$(command -v iptables)" "$wrap/iptables"
ln -s "$(command -v iptables-save)" "$wrap/iptables-save"

KP_SVCFILE=$KP_TMP/services.yaml
{
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.2
} >"$KP_SVCFILE"

# hz PATH [HOST:PORT]: "CODE BODY" of a GET from the node namespace.
hz() {
	local out code
	out=$(kp_node curl -s -m 2 -w '\n%{http_code}' "http://${2:-$KP_HEALTHZ}$1")
	code=${out##*$'\n'}
	printf '%s %s\n' "$code" "${out%$'\n'*}"
}
# field NAME: a field of the JSON body read from "CODE BODY" on stdin.
field() { sed 's/^[0-9]* //' | kp_json "d[\"$1\"]"; }
is_code() { [ "$(hz /healthz | cut -d' ' -f1)" = "$1" ]; }

touch "$KP_TMP/fail"
kp_start --iptables-path "$wrap/iptables" --iptables-sync-period 1s
kp_wait_svc default/web:p 1 >/dev/null || kp_die "service default/web:p never appeared"
# Restores fail from the start: never healthy, for 3 periodic syncs.
for i in 1 2 3; do
	r=$(hz /healthz)
	kp_eq "healthz while every restore fails ($i)" 503 "${r%% *}"
	sleep 1
done
kp_eq "lastUpdated before any successful sync" \
    "0001-01-01 00:00:00 +0000 UTC" "$(hz /healthz | field lastUpdated)"
kp_eq "livez while restores fail" 200 "$(hz /livez | cut -d' ' -f1)"
kp_ge "kuproxy_sync_errors_total while restores fail" 2 \
    "$(kp_metric kuproxy_sync_errors_total)"
kp_ge "kubeproxy_sync_proxy_rules_iptables_restore_failures_total" 2 \
    "$(kp_metric kubeproxy_sync_proxy_rules_iptables_restore_failures_total)"
kp_eq "kubeproxy_sync_proxy_rules_last_timestamp_seconds before success" 0 \
    "$(kp_metric kubeproxy_sync_proxy_rules_last_timestamp_seconds)"
kp_ge "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds" \
    "$(($(date +%s) - 60))" \
    "$(kp_metric kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds | cut -d. -f1)"

# Recover: 200, lastUpdated the time of the success.
t0=$(date -u +%s)
rm -f "$KP_TMP/fail"
kp_check "healthz 200 once a restore succeeds" kp_until 100 is_code 200
kp_wait_rules default/web:p 2 || kp_fail "web: rules not installed after recovery"
r=$(hz /healthz)
kp_log "healthz: $r"
upd=$(field lastUpdated <<<"$r")
cur=$(field currentTime <<<"$r")
# Go's time.String(): "2006-01-02 15:04:05.999999999 +0000 UTC m=+1.5".
re='^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)? \+0000 UTC m=\+[0-9]+\.[0-9]{9}$'
kp_check "lastUpdated in Go's time format ($upd)" eval '[[ $upd =~ $re ]]'
kp_check "currentTime in Go's time format ($cur)" eval '[[ $cur =~ $re ]]'
tu=$(date -u -d "${upd% +0000 UTC*}" +%s)
kp_ge "lastUpdated not before the recovery" "$t0" "$tu"
kp_le "lastUpdated not after currentTime" "$(date -u -d "${cur% +0000 UTC*}" +%s)" "$tu"
kp_ge "kuproxy_sync_proxy_rules_last_timestamp_seconds at the recovery" "$t0" \
    "$(kp_metric kubeproxy_sync_proxy_rules_last_timestamp_seconds | cut -d. -f1)"

# Fail again: 503 within the health timeout (2 s) plus a sync period
# (bounded at 10 s: a loaded machine delays timers),
# lastUpdated still the last success (the periodic syncs succeeded until
# now, so it is the last of those: not older than the first).
touch "$KP_TMP/fail"
t1=$(date -u +%s)
kp_check "healthz 503 once restores keep failing" kp_until 100 is_code 503
tf=$(date -u +%s)
kp_le "seconds from the first failure to 503 (2 s timeout, 1 s period)" \
    10 "$((tf - t1))"
r=$(hz /healthz)
kp_log "healthz: $r"
upd2=$(field lastUpdated <<<"$r")
tu2=$(date -u -d "${upd2% +0000 UTC*}" +%s)
kp_ge "lastUpdated kept: not before the recovery" "$tu" "$tu2"
kp_le "lastUpdated kept: not after the failures began (a restore may end then)" \
    "$((t1 + 1))" "$tu2"
sleep 1.5
kp_eq "lastUpdated unchanged while restores fail" "$upd2" \
    "$(hz /healthz | field lastUpdated)"
kp_eq "livez still 200" 200 "$(hz /livez | cut -d' ' -f1)"

rm -f "$KP_TMP/fail"
kp_check "healthz 200 after the second recovery" kp_until 100 is_code 200
kp_eq "metrics port /healthz" "200 ok" "$(hz /healthz "$KP_METRICS")"
kp_check "kuproxy still running" kp_alive
kp_finish
