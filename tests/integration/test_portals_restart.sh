#!/bin/bash
# test_portals_restart: kuproxy restarted with the same --state-dir.
#  - a client connects to the ClusterIP every 20 ms from the client
#    namespace while kuproxy is SIGTERMed and started again;
#  - the new process has the same proxy ports (TCP and UDP Service) in
#    /debug/services and the same rules;
#  - the longest outage the client sees (last success before it to the
#    first success after) is under 1 s, and the service is back at the
#    end;
#  - the UDP Service answers on its ClusterIP after the restart.
. "$(dirname "$0")/lib.sh"
kp_init portals_restart
command -v iptables-save >/dev/null 2>&1 || { echo "SKIP: $KP_NAME (needs iptables)"; exit 77; }
kp_topology
kp_backend id b2@198.18.1.2:8080 b3@198.18.1.3:8080
kp_backend echo --no-tcp u2@198.18.1.2:5353

KP_SVCFILE=$KP_TMP/services.yaml
{
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.2 198.18.1.3
	kp_svc dns 198.19.0.53 53 UDP 5353
	kp_eps dns 5353 UDP 198.18.1.2
} >"$KP_SVCFILE"
kp_start
tport=$(kp_wait_svc default/web:p 2) || kp_die "service default/web:p never appeared"
uport=$(kp_wait_svc default/dns:p 1) || kp_die "service default/dns:p never appeared"
kp_wait_rules default/web:p 2 || kp_die "web: 2 rules expected, got $(kp_ipt_count default/web:p)"
kp_wait_rules default/dns:p 2 || kp_die "dns: 2 rules expected, got $(kp_ipt_count default/dns:p)"
rules_before=$(kp_ipt_save | grep -F -e default/web:p -e default/dns:p | sort)
kp_log "proxy ports: web $tport, dns $uport; state: $(ls "$KP_TMP/state")"

kp_outage "$KP_CLI" 198.19.0.10:80 4 0.02 >"$KP_TMP/outage.out" &
loop=$!
KP_PIDS="$KP_PIDS $loop"
sleep 1
old=$KP_PID
t0=$(date +%s%N)
kp_stop
kp_eq "old kuproxy exit status" 0 "$KP_STOP_RC"
kp_start
kp_log "restarted: pid $old -> $KP_PID, /debug/services up $(kp_ms_since "$t0") ms after SIGTERM"
wait "$loop"
res=$(cat "$KP_TMP/outage.out")
kp_log "client loop: $res"

kp_eq "web's proxy port after the restart" "$tport" "$(kp_wait_svc default/web:p 2)"
kp_eq "dns's proxy port after the restart" "$uport" "$(kp_wait_svc default/dns:p 1)"
kp_wait_rules default/web:p 2 || kp_fail "web: 2 rules expected after the restart"
kp_eq "same rules after the restart" "$rules_before" \
    "$(kp_ipt_save | grep -F -e default/web:p -e default/dns:p | sort)"
kp_ge "client: successes" 50 "$(echo "$res" | kp_json 'd["ok"]')"
kp_eq "client: service up at the end" False "$(echo "$res" | kp_json 'd["still_down"]')"
gap=$(echo "$res" | kp_json 'd["max_gap"]')
if echo "$res" | kp_json 'd["max_gap"] < 1.0 and not d["still_down"]' | grep -qx True; then
	kp_ok "longest outage seen by the client: $gap s (< 1 s)"
else
	kp_fail "longest outage seen by the client: $gap s (want < 1 s)"
fi
res=$(kp_client "$KP_CLI" udp --target 198.19.0.53:53 --size 64)
kp_eq "UDP ClusterIP answers after the restart" True \
    "$(echo "$res" | kp_json 'd["ok"] and d["id"] == "u2"')"
kp_check "kuproxy still running" kp_alive
kp_finish
