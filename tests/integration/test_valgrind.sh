#!/bin/bash
# test_valgrind: kuproxy under valgrind relays TCP (round robin, a held
# connection, half-close) and UDP (a 60 KB datagram), survives a reload
# that removes a Service, and on SIGTERM exits 0 with no memory errors
# and no definite or indirect leaks.
. "$(dirname "$0")/lib.sh"
kp_init valgrind
command -v valgrind >/dev/null 2>&1 || {
	echo "SKIP: valgrind (valgrind not installed)"
	exit 77
}
kp_topology
kp_backend id w2@198.18.1.2:8080 w3@198.18.1.3:8080
kp_backend halfclose h2@198.18.1.2:8081
kp_backend echo --no-tcp u2@198.18.1.2:5353

KP_SVCFILE=$KP_TMP/services.yaml
services() {
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.2 198.18.1.3
	kp_svc half 198.19.0.11 81 TCP 8081
	kp_eps half 8081 TCP 198.18.1.2
	if [ "$1" = with-udp ]; then
		kp_svc dns 198.19.0.53 53 UDP 5353
		kp_eps dns 5353 UDP 198.18.1.2
	fi
}
services with-udp >"$KP_SVCFILE"

# kp_start with kuproxy wrapped in valgrind (slow start: wait longer).
KP_LOG=$KP_TMP/kuproxy.log
mkdir -p "$KP_TMP/state"
ip netns exec "$KP_NODE" valgrind --leak-check=full \
    --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --error-exitcode=9 \
    "$KUPROXY" --services-file "$KP_SVCFILE" \
    --metrics-bind-address "$KP_METRICS" --healthz-bind-address "$KP_HEALTHZ" \
    --state-dir "$KP_TMP/state" --shutdown-grace 2s -v 2 \
    >>"$KP_LOG" 2>&1 &
KP_PID=$!
KP_PIDS="$KP_PIDS $KP_PID"
kp_until 300 kp_node curl -sf -m 1 -o /dev/null "$KP_URL" ||
    kp_die "kuproxy under valgrind did not answer within 30 s"

port=$(kp_wait_svc default/web:p 2) || kp_die "default/web:p never appeared"
hport=$(kp_wait_svc default/half:p 1) || kp_die "default/half:p never appeared"
uport=$(kp_wait_svc default/dns:p 1) || kp_die "default/dns:p never appeared"

res=$(kp_client "$KP_CLI" dist --target "$KP_NODE_IP:$port" --count 10 \
    --timeout 10)
kp_eq "10 connections spread 5/5 under valgrind" '{"w2": 5, "w3": 5}' \
    "$(echo "$res" | kp_json 'dict(sorted(d["counts"].items()))')"
res=$(kp_client "$KP_CLI" halfclose --target "$KP_NODE_IP:$hport" \
    --bytes 100000 --timeout 10)
kp_eq "half-close reply" 'h2 got 100000 bytes' \
    "$(echo "$res" | kp_json 'd["reply"]')"
res=$(kp_client "$KP_CLI" udp --target "$KP_NODE_IP:$uport" --size 61440 \
    --timeout 10)
kp_eq "60 KB datagram intact" True "$(echo "$res" | kp_json 'd["ok"]')"
# Every HTTP endpoint once under valgrind (/healthz may still be 503).
for u in "$KP_METRICS/metrics" "$KP_METRICS/configz" "$KP_METRICS/healthz" \
    "$KP_HEALTHZ/healthz" "$KP_HEALTHZ/livez"; do
	code=$(kp_node curl -s -m 10 -o /dev/null -w '%{http_code}' "http://$u")
	case $code in
	200|503) kp_ok "GET $u under valgrind ($code)" ;;
	*) kp_fail "GET $u under valgrind: HTTP '$code'" ;;
	esac
done

# A connection left open at shutdown (closed at the 2 s grace bound of
# the drain), and a reload that removes the UDP
# Service (its relay and flows are torn down while the daemon runs).
mkfifo "$KP_TMP/ctl"
kp_client "$KP_CLI" hold --target "$KP_NODE_IP:$port" --count 3 \
    --timeout 10 <"$KP_TMP/ctl" >"$KP_TMP/hold" 2>&1 &
hold=$!
KP_PIDS="$KP_PIDS $hold"
exec 7>"$KP_TMP/ctl"
kp_until 200 grep -q '^HELD' "$KP_TMP/hold" || kp_fail "hold client did not report"
services >"$KP_TMP/new.yaml"
kp_replace "$KP_SVCFILE" <"$KP_TMP/new.yaml"
kp_until 100 sh -c "! ip netns exec $KP_NODE curl -sf -m 2 $KP_URL | grep -q default/dns:p" ||
    kp_fail "default/dns:p still present after the reload"

kill -TERM "$KP_PID"
(sleep 30; kill -KILL "$KP_PID" 2>/dev/null) &
killer=$!
wait "$KP_PID"
rc=$?
kill "$killer" 2>/dev/null
echo release >&7
exec 7>&-
kp_eq "valgrind exit status (9: errors or leaks)" 0 "$rc"
kp_eq "valgrind error summary" "ERROR SUMMARY: 0 errors" \
    "$(grep -o 'ERROR SUMMARY: [0-9]* errors' "$KP_LOG" | tail -1)"
if grep -qE 'definitely lost: [1-9]|indirectly lost: [1-9]' "$KP_LOG"; then
	kp_fail "leaks: $(grep -E 'definitely lost|indirectly lost' "$KP_LOG" | tr '\n' ' ')"
else
	kp_ok "no definite or indirect leaks"
fi
kp_finish
