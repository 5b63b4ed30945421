#!/bin/bash
# test_metrics: kuproxy's HTTP servers as kube-proxy's.  The metrics port
# is taken when kuproxy starts: the healthz server serves regardless, one
# log line says the metrics address is retried, and the metrics server
# binds once the port is freed (kube-proxy retries every 5 s).  Then
# N TCP connections and M UDP datagrams go through one Service each and
# /metrics, read by a real parser of the exposition format
# (python3-prometheus-client), reports exactly that traffic, kube-proxy's
# families and the process collector; /configz shows the effective
# configuration under kube-proxy's group and field names.
. "$(dirname "$0")/lib.sh"
kp_init metrics
# Debian's python3-prometheus-client, whichever python3 runs the rest.
PROM_PY=
for py in "$KP_PY" /usr/bin/python3; do
	if "$py" -c 'import prometheus_client.parser' 2>/dev/null; then
		PROM_PY=$py
		break
	fi
done
[ -n "$PROM_PY" ] ||
    { echo "SKIP: $KP_NAME (needs python3-prometheus-client)"; exit 77; }
kp_topology
kp_backend echo --udp e2@198.18.1.2:8080

N=7
M=5
KP_SVCFILE=$KP_TMP/services.yaml
{
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.2
	kp_svc dns 198.19.0.11 53 UDP 8080
	kp_eps dns 8080 UDP 198.18.1.2
} >"$KP_SVCFILE"

# Take the metrics port first: a listener that never answers.
ip netns exec "$KP_NODE" "$KP_PY" -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
open(sys.argv[2], "w").close()
time.sleep(600)
' "${KP_METRICS##*:}" "$KP_TMP/blocker.ready" &
blocker=$!
KP_PIDS="$KP_PIDS $blocker"
kp_wait_file "$KP_TMP/blocker.ready" 50 || kp_die "port blocker did not start"

KP_LOG=$KP_TMP/kuproxy.log
mkdir -p "$KP_TMP/state"
t_start=$(date +%s)
ip netns exec "$KP_NODE" "${KP_CAPWRAP[@]}" "$KUPROXY" \
    --services-file "$KP_SVCFILE" --bind-address 0.0.0.0 \
    --metrics-bind-address "$KP_METRICS" \
    --healthz-bind-address "$KP_HEALTHZ" \
    --state-dir "$KP_TMP/state" -v 2 >>"$KP_LOG" 2>&1 &
KP_PID=$!
KP_PIDS="$KP_PIDS $KP_PID"
livez() { kp_node curl -sf -m 1 -o /dev/null "http://$KP_HEALTHZ/livez"; }
healthy() { kp_node curl -sf -m 1 -o /dev/null "http://$KP_HEALTHZ/healthz"; }
kp_check "healthz server serves while the metrics port is taken" \
    kp_until 100 livez
kp_check "healthz 200 once the rules are applied" kp_until 100 healthy
kp_check "kuproxy running" kp_alive
# Past one retry (5 s): still a single line about the metrics address.
sleep 6
kp_eq "log lines about the taken metrics address" 1 \
    "$(grep -c 'metricsBindAddress.*retrying every 5 s' "$KP_LOG")"

kill "$blocker"
t0=$(date +%s)
metrics_up() { kp_node curl -sf -m 1 -o /dev/null "http://$KP_METRICS/metrics"; }
kp_check "metrics server binds once the port is free" kp_until 200 metrics_up
kp_le "seconds until the metrics server bound" 10 "$(($(date +%s) - t0))"
kp_eq "log line when it binds" 1 \
    "$(grep -c 'metricsBindAddress.*serving now' "$KP_LOG")"
kp_wait_svc default/web:p 1 >/dev/null || kp_die "web never appeared"
kp_wait_svc default/dns:p 1 >/dev/null || kp_die "dns never appeared"

# N TCP connections of 1000 bytes each, echoed; M UDP datagrams of 100.
res=$(kp_cli timeout -k 5 60 "$KP_PY" - "$N" "$M" <<'EOF2'
import json, socket, sys
n, m = int(sys.argv[1]), int(sys.argv[2])
tcp_ok = udp_ok = 0
for i in range(n):
    s = socket.create_connection(("198.19.0.10", 80), timeout=5)
    s.sendall(b"x" * 1000)
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
    s.close()
    tcp_ok += got == b"x" * 1000
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(5)
for i in range(m):
    u.sendto(b"y" * 100, ("198.19.0.11", 53))
    d, _ = u.recvfrom(65536)
    udp_ok += d.endswith(b"y" * 100)
print(json.dumps({"tcp": tcp_ok, "udp": udp_ok, "udp_reply": len(d)}))
EOF2
)
kp_log "traffic: $res"
kp_eq "TCP connections echoed" "$N" "$(kp_json 'd["tcp"]' <<<"$res")"
kp_eq "UDP datagrams answered" "$M" "$(kp_json 'd["udp"]' <<<"$res")"
udp_reply=$(kp_json 'd["udp_reply"]' <<<"$res")

# parse: fetch /metrics and parse it with the real parser into
# $KP_TMP/samples.txt, "name{labels} value type" lines, one per sample.
# Fails on a parse error, a family twice or without HELP.
parse() {
	kp_node curl -s -m 2 "http://$KP_METRICS/metrics" >"$KP_TMP/metrics.txt"
	"$PROM_PY" - "$KP_TMP/metrics.txt" >"$KP_TMP/samples.txt" \
	    2>"$KP_TMP/parse.err" <<'EOF2'
import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
seen = set()
for fam in text_string_to_metric_families(text):
    if fam.name in seen:
        raise SystemExit("family %s twice" % fam.name)
    seen.add(fam.name)
    if not fam.documentation:
        raise SystemExit("family %s without HELP" % fam.name)
    for s in fam.samples:
        labels = ",".join('%s="%s"' % kv for kv in sorted(s.labels.items()))
        print("%s{%s} %r %s" % (s.name, labels, s.value, fam.type))
EOF2
}
fds=$(kp_fds)
if parse; then
	kp_ok "/metrics parsed ($(wc -l <"$KP_TMP/samples.txt") samples)"
else
	kp_fail "/metrics does not parse: $(cat "$KP_TMP/parse.err")"
fi
# val SAMPLE: the parsed value of one sample (labels sorted), as integer.
val() {
	awk -v s="$1" '$1 == s { v = $2; sub(/\.0$/, "", v); print v; exit }' \
	    "$KP_TMP/samples.txt"
}
# type SAMPLE: the type of the family holding it.
typ() { awk -v s="$1" '$1 == s { print $3; exit }' "$KP_TMP/samples.txt"; }
W='protocol="TCP",service="default/web:p"'
D='protocol="UDP",service="default/dns:p"'
kp_eq "kuproxy_service_connections_total (TCP)" "$N" \
    "$(val "kuproxy_service_connections_total{$W}")"
kp_eq "kuproxy_service_bytes_in_total (TCP)" "$((N * 1000))" \
    "$(val "kuproxy_service_bytes_in_total{$W}")"
kp_eq "kuproxy_service_bytes_out_total (TCP)" "$((N * 1000))" \
    "$(val "kuproxy_service_bytes_out_total{$W}")"
kp_eq "kuproxy_service_connect_errors_total (TCP)" 0 \
    "$(val "kuproxy_service_connect_errors_total{$W}")"
kp_eq "kuproxy_service_datagrams_in_total (UDP)" "$M" \
    "$(val "kuproxy_service_datagrams_in_total{$D}")"
kp_eq "kuproxy_service_datagrams_out_total (UDP)" "$M" \
    "$(val "kuproxy_service_datagrams_out_total{$D}")"
kp_eq "kuproxy_service_bytes_in_total (UDP)" "$((M * 100))" \
    "$(val "kuproxy_service_bytes_in_total{$D}")"
kp_eq "kuproxy_service_bytes_out_total (UDP)" "$((M * udp_reply))" \
    "$(val "kuproxy_service_bytes_out_total{$D}")"
kp_eq "kuproxy_service_connections_total (UDP flows)" 1 \
    "$(val "kuproxy_service_connections_total{$D}")"
kp_eq "connections_total is a counter" counter \
    "$(typ "kuproxy_service_connections_total{$W}")"
kp_eq "kuproxy_accept_pauses_total" 0 "$(val "kuproxy_accept_pauses_total{}")"
kp_ge "kubeproxy_sync_proxy_rules_duration_seconds_count" 1 \
    "$(val "kubeproxy_sync_proxy_rules_duration_seconds_count{}")"
kp_eq "sync histogram +Inf bucket = count" \
    "$(val "kubeproxy_sync_proxy_rules_duration_seconds_count{}")" \
    "$(val 'kubeproxy_sync_proxy_rules_duration_seconds_bucket{le="+Inf"}')"
kp_eq "sync histogram is a histogram" histogram \
    "$(typ "kubeproxy_sync_proxy_rules_duration_seconds_count{}")"
kp_eq "sync histogram: kube-proxy's first bucket" 1 \
    "$(grep -c '^kubeproxy_sync_proxy_rules_duration_seconds_bucket{le="0.001"}' "$KP_TMP/samples.txt")"
now=$(date +%s)
ts=$(val "kubeproxy_sync_proxy_rules_last_timestamp_seconds{}" | cut -d. -f1)
kp_ge "last sync timestamp recent" "$((now - 120))" "$ts"
kp_le "last sync timestamp not in the future" "$((now + 1))" "$ts"
kp_eq "network programming histogram exported" histogram \
    "$(typ "kubeproxy_network_programming_duration_seconds_count{}")"
kp_eq "no network programming observed yet" 0 \
    "$(val "kubeproxy_network_programming_duration_seconds_count{}")"
kp_eq "kubernetes_build_info" 1 "$(awk '$1 ~ /^kubernetes_build_info\{/ { print $2; exit }' "$KP_TMP/samples.txt" | sed 's/\.0$//')"
# kuproxy's descriptors, plus the connection of the request itself.
kp_ge "process_open_fds at least kuproxy's idle count" "$fds" \
    "$(val "process_open_fds{}")"
kp_le "process_open_fds at most that and the request's" "$((fds + 2))" \
    "$(val "process_open_fds{}")"
kp_ge "process_max_fds" 1024 "$(val "process_max_fds{}")"
kp_ge "process_resident_memory_bytes" 100000 \
    "$(val "process_resident_memory_bytes{}" | cut -d. -f1 | sed 's/e.*//')"
st=$(val "process_start_time_seconds{}" | cut -d. -f1)
kp_ge "process_start_time_seconds not before kuproxy was started" \
    "$t_start" "$((st + 1))"
kp_le "process_start_time_seconds not in the future" "$now" "$st"
kp_check "process_cpu_seconds_total exported" \
    grep -q '^process_cpu_seconds_total{} ' "$KP_TMP/samples.txt"
kp_check "process_virtual_memory_bytes exported" \
    grep -q '^process_virtual_memory_bytes{} ' "$KP_TMP/samples.txt"

# An Endpoints change whose controller stamped it 3 s ago: one
# observation of at least 3 s once the balancer has the new endpoint.
trig=$(date -u -d '-3 sec' +%Y-%m-%dT%H:%M:%SZ)
{
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.2 198.18.1.3 |
	    sed "s|^  labels:|  annotations:\n    endpoints.kubernetes.io/last-change-trigger-time: \"$trig\"\n  labels:|"
	kp_svc dns 198.19.0.11 53 UDP 8080
	kp_eps dns 8080 UDP 198.18.1.2
} | kp_replace "$KP_SVCFILE"
kp_wait_svc default/web:p 2 >/dev/null || kp_fail "web's second endpoint never appeared"
parse || kp_fail "/metrics does not parse: $(cat "$KP_TMP/parse.err")"
kp_eq "network programming observations" 1 \
    "$(val "kubeproxy_network_programming_duration_seconds_count{}")"
sum=$(val "kubeproxy_network_programming_duration_seconds_sum{}" | cut -d. -f1)
kp_ge "network programming latency (s) from the trigger time" 3 "$sum"
kp_le "network programming latency (s), bounded" 120 "$sum"
kp_eq "network programming: not in the 2 s bucket" 0 \
    "$(val 'kubeproxy_network_programming_duration_seconds_bucket{le="2"}')"

# /configz: kube-proxy's group and Go field names, effective values.
cz=$(kp_node curl -s -m 2 "http://$KP_METRICS/configz")
kp_log "configz: $cz"
kp_eq "configz MetricsBindAddress" "$KP_METRICS" \
    "$(kp_json 'd["kubeproxy.config.k8s.io"]["MetricsBindAddress"]' <<<"$cz")"
kp_eq "configz IPTables.SyncPeriod" 30s \
    "$(kp_json 'd["kubeproxy.config.k8s.io"]["IPTables"]["SyncPeriod"]' <<<"$cz")"
kp_eq "configz UDPIdleTimeout" 250ms \
    "$(kp_json 'd["kubeproxy.config.k8s.io"]["UDPIdleTimeout"]' <<<"$cz")"
kp_eq "configz metrics port /healthz" ok \
    "$(kp_node curl -s -m 2 "http://$KP_METRICS/healthz")"
kp_check "kuproxy still running" kp_alive
kp_finish
