#!/bin/bash
# test_handoff: restart and upgrade without refusals, and the graceful
# drain (issue 13), under steady.py's load (new connections at 250/s and
# 8 long streams checked byte for byte) on a ClusterIP, with a UDP Service
# beside it:
#  (1) hand-off: a second kuproxy started beside the first (same state
#      directory) takes the listeners over through handoff.sock; the
#      first drains (/healthz 503) and is then TERMed, and exits once its
#      streams are done.  Zero failed new connections, zero broken
#      streams, rules unchanged (iptables-save), the same proxy ports,
#      UDP answered;
#  (2) SIGUSR2: the second re-execs its binary; same checks;
#  (3) drain: SIGTERM with no successor: /healthz 503, the listeners keep
#      accepting (zero failed new connections during the drain), the
#      streams finish, and the process exits right after them; with
#      --shutdown-grace 2s and streams that do not end, it exits at the
#      grace bound and the streams are cut;
#  (4) a systemd-style restart through fdstore.py (a fake service manager
#      with a file descriptor store): kuproxy stores its listeners
#      (FDSTORE=1), the restart stops it (it drains its streams, still
#      accepting) and starts a new process that gets them back in
#      LISTEN_FDS; new connections queue in the stored sockets across the
#      gap: zero failed, zero broken streams, the same ports and rules;
#      a Service deleted leaves the store (FDSTOREREMOVE=1);
#  (5) SIGUSR2 after the binary was replaced by one that fails: the new
#      file is the one started, it exits, and the old process logs it and
#      goes on serving (healthy, no failed connection);
#  (6) a container's main process (PID 1, in its own PID namespace) whose
#      listeners a successor took does not exit after its drain (the
#      kubelet would restart the container and the restarted kuproxy
#      would take the sockets back): it stays idle, gives up the health
#      port (the successor binds it) and stops at once on SIGTERM.
. "$(dirname "$0")/lib.sh"
kp_init handoff
command -v iptables-save >/dev/null 2>&1 || { echo "SKIP: $KP_NAME (needs iptables)"; exit 77; }
# This test's own namespace names.
KP_NODE=kph-node-$KP_ID
KP_POD=kph-pod-$KP_ID
KP_CLI=kph-cli-$KP_ID
kp_topology
kp_backend hello b2@198.18.1.2:8080 b3@198.18.1.3:8080
kp_backend echo --no-tcp u2@198.18.1.2:5353

KP_SVCFILE=$KP_TMP/services.yaml
{
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.2 198.18.1.3
	kp_svc dns 198.19.0.53 53 UDP 5353
	kp_eps dns 5353 UDP 198.18.1.2
} >"$KP_SVCFILE"

GRACE=20s
STEADY_SECS=8
kp_start --shutdown-grace "$GRACE"
tport=$(kp_wait_svc default/web:p 2) || kp_die "service default/web:p never appeared"
uport=$(kp_wait_svc default/dns:p 1) || kp_die "service default/dns:p never appeared"
kp_wait_rules default/web:p 2 || kp_die "web: 2 rules expected"
kp_wait_rules default/dns:p 2 || kp_die "dns: 2 rules expected"
kp_log "proxy ports: web $tport, dns $uport"

# The rules, without counters and comments (iptables-save's dates).
rules() {
	kp_ipt_save | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'
}
rules_before=$(rules)

# kph_rules_same WHAT: the rules now are those of the start.
kph_rules_same() {
	local now
	now=$(rules)
	if [ "$now" = "$rules_before" ]; then
		kp_ok "$1: rules unchanged ($(echo "$now" | grep -c '^-A') rules)"
	else
		kp_fail "$1: rules changed: $(diff <(echo "$rules_before") <(echo "$now") | head -n 10)"
	fi
}

# A second process's metrics and health addresses (the first holds
# 10249/10256 until it exits).
M2=127.0.0.1:10349
H2=127.0.0.1:10356

# kph_start2: start the second kuproxy beside the first; sets K2_PID.
kph_start2() {
	ip netns exec "$KP_NODE" "${KP_CAPWRAP[@]}" "$KUPROXY" \
	    --services-file "$KP_SVCFILE" --bind-address 0.0.0.0 \
	    --metrics-bind-address "$M2" --healthz-bind-address "$H2" \
	    --state-dir "$KP_TMP/state" --shutdown-grace "$GRACE" -v 4 \
	    >>"$KP_TMP/kuproxy2.log" 2>&1 &
	K2_PID=$!
	KP_PIDS="$KP_PIDS $K2_PID"
}

# kph_steady NAME [ARGS...]: steady.py in the background for
# $STEADY_SECS; waits until its streams are open.  Sets STEADY_PID.
kph_steady() {
	local name=$1
	shift
	rm -f "$KP_TMP/$name.ready"
	timeout -k 5 $((STEADY_SECS + 30)) ip netns exec "$KP_CLI" "$KP_PY" \
	    "$KP_HERE/steady.py" --target 198.19.0.10:80 \
	    --duration "$STEADY_SECS" --rate 250 --streams 8 \
	    --ready-file "$KP_TMP/$name.ready" "$@" \
	    >"$KP_TMP/$name.json" 2>"$KP_TMP/$name.err" &
	STEADY_PID=$!
	KP_PIDS="$KP_PIDS $STEADY_PID"
	kp_wait_file "$KP_TMP/$name.ready" 100 || kp_die "steady.py did not start"
}

# kph_verdict NAME: judge steady.py's JSON: no failure of any kind.
kph_verdict() {
	local res
	res=$(cat "$KP_TMP/$1.json")
	kp_log "$1: $res"
	[ -n "$res" ] || { kp_fail "$1: steady.py printed nothing"; return; }
	kp_eq "$1: failed new connections" 0 "$(echo "$res" | kp_json 'd["new"]["failed"]')"
	kp_ge "$1: new connections per second" 200 \
	    "$(echo "$res" | kp_json 'int(d["new"]["rate"])')"
	kp_eq "$1: broken streams" 0 "$(echo "$res" | kp_json 'd["streams"]["broken"]')"
	kp_eq "$1: streams that ran to the end" 8 "$(echo "$res" | kp_json 'd["streams"]["ok"]')"
	kp_ge "$1: bytes checked end to end" 1000000 \
	    "$(echo "$res" | kp_json 'd["streams"]["bytes_checked"]')"
}

# kph_healthz ADDR: the HTTP status of /healthz at ADDR.
kph_healthz() {
	kp_node curl -s -m 1 -o /dev/null -w '%{http_code}' "http://$1/healthz"
}

# kph_ports URL: "web_port dns_port" from a /debug/services.
kph_ports() {
	local w d
	w=$(kp_client "$KP_NODE" debug --url "$1" --service default/web:p --field proxyPort 2>/dev/null)
	d=$(kp_client "$KP_NODE" debug --url "$1" --service default/dns:p --field proxyPort 2>/dev/null)
	echo "$w $d"
}

kph_udp() {
	kp_client "$KP_CLI" udp --target 198.19.0.53:53 --size 64 >/dev/null 2>&1
}

# ---- (1) hand-off to a process started beside -----------------------
old=$KP_PID
kph_steady handoff
sleep 1
kph_start2
kp_until 150 grep -q "hand-off: process $K2_PID serves every listener now" \
    "$KP_LOG" || kp_fail "(1) the old process never heard the new one serves"
kp_eq "(1) the old process's /healthz while draining" 503 "$(kph_healthz "$KP_HEALTHZ")"
kp_eq "(1) the new process's /healthz" 200 "$(kph_healthz "$H2")"
kp_eq "(1) the new process's proxy ports" "$tport $uport" "$(kph_ports "http://$M2/debug/services")"
kp_check "(1) the old process still runs (its streams)" kp_alive
kill -TERM "$old"
wait "$STEADY_PID"
t_end=$(date +%s%N)
kp_until 50 kp_exited "$old" || kp_fail "(1) the old process did not exit after its streams"
kp_log "(1) the old process exited $(kp_ms_since "$t_end") ms after the load ended"
wait "$old"
kp_eq "(1) the old process's exit status" 0 "$?"
kph_verdict handoff
kp_check "(1) the old process drained" grep -q "drained: no connection left" "$KP_LOG"
kph_rules_same "(1) after the hand-off"
kp_check "(1) UDP answered after the hand-off" kph_udp
kp_log "(1) new: $(grep -c 'taken over' "$KP_TMP/kuproxy2.log") listeners taken over"

# ---- (2) SIGUSR2: re-exec --------------------------------------------
KP_LOG=$KP_TMP/kuproxy2.log
kph_steady reexec
sleep 1
kill -USR2 "$K2_PID"
kp_until 150 grep -q "SIGUSR2: started process" "$KP_LOG" ||
    kp_fail "(2) no re-exec started"
child=$(sed -n 's/.*SIGUSR2: started process \([0-9]*\).*/\1/p' "$KP_LOG" | tail -n 1)
[ -n "$child" ] && KP_PIDS="$KP_PIDS $child"
kp_until 150 grep -q "hand-off: process $child serves every listener now" \
    "$KP_LOG" || kp_fail "(2) the old process never heard the new one serves"
kp_eq "(2) the old process's /healthz while draining" 503 "$(kph_healthz "$H2")"
wait "$STEADY_PID"
kp_until 50 kp_exited "$K2_PID" || kp_fail "(2) the old process did not exit after its streams"
wait "$K2_PID"
kp_eq "(2) the old process's exit status" 0 "$?"
kph_verdict reexec
kp_check "(2) the new process runs" kill -0 "$child"
# The new one binds the metrics address once the old one let it go (it
# retries every 5 s).
kp_until 80 kp_node curl -sf -m 1 -o /dev/null "http://$M2/debug/services" ||
    kp_fail "(2) the new process's /debug/services"
kp_eq "(2) the new process's proxy ports" "$tport $uport" "$(kph_ports "http://$M2/debug/services")"
kph_rules_same "(2) after the re-exec"
kp_check "(2) UDP answered after the re-exec" kph_udp

# ---- (3) drain on SIGTERM, no successor ------------------------------
STEADY_SECS=5
kph_steady drain
sleep 1
t0=$(date +%s%N)
kill -TERM "$child"
sleep 0.3
kp_eq "(3) /healthz while draining" 503 "$(kph_healthz "$H2")"
kp_check "(3) still running while the streams go on" kill -0 "$child"
wait "$STEADY_PID"
t_end=$(date +%s%N)
kp_until 50 kp_exited "$child" || kp_fail "(3) did not exit after the streams ended"
kp_log "(3) exited $(kp_ms_since "$t_end") ms after the load ended, $(kp_ms_since "$t0") ms after SIGTERM"
kph_verdict drain
kph_rules_same "(3) after the stop"

# Grace bound: streams that outlive --shutdown-grace 2s are cut at it.
KP_LOG=$KP_TMP/kuproxy.log
kp_start --shutdown-grace 2s
kp_wait_svc default/web:p 2 >/dev/null || kp_die "(3) service never appeared"
STEADY_SECS=10
kph_steady grace --rate 20
t0=$(date +%s%N)
kill -TERM "$KP_PID"
kp_until 80 kp_exited "$KP_PID" || kp_fail "(3) no exit within 8 s of SIGTERM"
ms=$(kp_ms_since "$t0")
wait "$KP_PID"
kp_log "(3) with streams open: exited $ms ms after SIGTERM (grace 2 s)"
kp_ge "(3) waited for the grace period (ms)" 1900 "$ms"
kp_le "(3) exited at the grace bound (ms)" 3500 "$ms"
kp_check "(3) the log says the grace is over" grep -q "shutdown grace of 2000 ms over" "$KP_LOG"
wait "$STEADY_PID"
kp_log "grace: $(cat "$KP_TMP/grace.json")"
kp_eq "(3) streams cut at the grace bound" 8 "$(kp_json 'd["streams"]["broken"]' <"$KP_TMP/grace.json")"

# ---- (4) systemd-style restart through a fake fd store ---------------
FAKE=$KP_HERE/fdstore.py
FD=$KP_TMP/fdstore
mkdir -p "$FD"
timeout -k 5 120 ip netns exec "$KP_NODE" "$KP_PY" "$FAKE" run --dir "$FD" \
    --stop-timeout 10 --lifetime 100 -- "${KP_CAPWRAP[@]}" "$KUPROXY" \
    --services-file "$KP_SVCFILE" --bind-address 0.0.0.0 \
    --metrics-bind-address "$KP_METRICS" --healthz-bind-address "$KP_HEALTHZ" \
    --state-dir "$KP_TMP/state" --shutdown-grace 8s -v 2 --workers 2 \
    >>"$KP_TMP/fdstore.out" 2>&1 &
fake=$!
KP_PIDS="$KP_PIDS $fake"
kp_wait_file "$FD/ready" 50 || kp_die "(4) the fake did not start"
"$KP_PY" "$FAKE" ctl --dir "$FD" wait-ready --timeout 15 >"$KP_TMP/st1" ||
    kp_die "(4) no READY=1 from kuproxy under the fake"
st() { kp_json "$1" <"$FD/state.json"; }
# Two workers: a listener each, the second named "#1" (its own entry).
want_store="[\"tcp/$tport/default/web/p\", \"tcp/$tport/default/web/p#1\", \"udp/$uport/default/dns/p\", \"udp/$uport/default/dns/p#1\"]"
kp_eq "(4) the listeners in the fd store" "$want_store" "$(st 'sorted(e["name"] for e in d["store"])')"
pid1=$(st 'd["pid"]')
# New connections for 8 s; streams for the first 3 s (the old process
# drains them, accepting meanwhile, then exits: the gap comes after).
STEADY_SECS=8
kph_steady fdnew --streams 0
new_pid=$STEADY_PID
STEADY_SECS=3
kph_steady fdstreams --rate 20
sleep 0.5
"$KP_PY" "$FAKE" ctl --dir "$FD" restart --wait ready --timeout 30 >"$KP_TMP/st2" ||
    kp_fail "(4) no READY=1 after the restart"
wait "$STEADY_PID"
wait "$new_pid"
pid2=$(st 'd["pid"]')
kp_check "(4) a new process ($pid1 -> $pid2)" [ "$pid2" != "$pid1" ]
kp_eq "(4) the old process's exit" '{"code": 0, "main": true, "pid": '"$pid1"'}' \
    "$(kp_json 'd["last_exit"]' <"$KP_TMP/st2")"
kp_log "(4) fake's events: $("$KP_PY" - "$FD/events.log" <<'EOT'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
ex = [e for e in ev if e["ev"] == "exit"]
st = [e for e in ev if e["ev"] == "start"]
if ex and len(st) > 1:
    print("exit->start %.0f ms, LISTEN_FDNAMES %s" %
          ((st[-1]["t"] - ex[-1]["t"]) * 1000, st[-1].get("names")))
EOT
)"
kp_check "(4) the new process got 4 sockets in LISTEN_FDS" \
    grep -q "4 listening sockets from the service manager" "$KP_TMP/fdstore.out"
kp_eq "(4) still 4 listeners in the store (no duplicate)" "$want_store" \
    "$(st 'sorted(e["name"] for e in d["store"])')"
res=$(cat "$KP_TMP/fdnew.json")
kp_log "(4) new connections: $res"
kp_eq "(4) failed new connections across the restart" 0 "$(echo "$res" | kp_json 'd["new"]["failed"]')"
kp_ge "(4) new connections per second" 200 "$(echo "$res" | kp_json 'int(d["new"]["rate"])')"
res=$(cat "$KP_TMP/fdstreams.json")
kp_log "(4) streams: $res"
kp_eq "(4) broken streams" 0 "$(echo "$res" | kp_json 'd["streams"]["broken"]')"
kp_eq "(4) streams that ran to the end" 8 "$(echo "$res" | kp_json 'd["streams"]["ok"]')"
kp_until 50 kp_node curl -sf -m 1 -o /dev/null "$KP_URL" || kp_fail "(4) /debug/services"
kp_eq "(4) the proxy ports after the restart" "$tport $uport" "$(kph_ports "$KP_URL")"
kph_rules_same "(4) after the restart"
kp_check "(4) UDP answered after the restart" kph_udp
# A Service deleted: its listener leaves the store (FDSTOREREMOVE=1).
{
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.2 198.18.1.3
} | kp_replace "$KP_SVCFILE"
if kp_until 100 eval '[ "$(st "sorted(e[\"name\"] for e in d[\"store\"])")" = "[\"tcp/$tport/default/web/p\", \"tcp/$tport/default/web/p#1\"]" ]'; then
	kp_ok "(4) the deleted Service's listener removed from the store"
else
	kp_fail "(4) the store after deleting dns: $(st '[e["name"] for e in d["store"]]')"
fi
"$KP_PY" "$FAKE" ctl --dir "$FD" quit >/dev/null 2>&1
kp_until 100 kp_exited "$fake" || kp_fail "(4) the fake did not quit"
wait "$fake" 2>/dev/null

# ---- (5) SIGUSR2 with a broken new binary -----------------------------
cp "$KUPROXY" "$KP_TMP/kuproxy-copy" || kp_die "(5) cannot copy kuproxy"
saved=$KUPROXY
KUPROXY=$KP_TMP/kuproxy-copy
kp_start --shutdown-grace 2s
KUPROXY=$saved
kp_wait_svc default/web:p 2 >/dev/null || kp_die "(5) service never appeared"
kp_until 50 eval '[ "$(kph_healthz "$KP_HEALTHZ")" = 200 ]' ||
    kp_fail "(5) not serving (its first rules applied)"
printf '#!/bin/sh\nexit 3\n' >"$KP_TMP/kuproxy-copy.new"
chmod +x "$KP_TMP/kuproxy-copy.new"
mv -f "$KP_TMP/kuproxy-copy.new" "$KP_TMP/kuproxy-copy"
STEADY_SECS=3
kph_steady broken
kill -USR2 "$KP_PID"
kp_until 50 grep -q "before serving; still serving" "$KP_LOG" ||
    kp_fail "(5) the failed re-exec was not noticed"
kp_check "(5) the failed child's exit status in the log" \
    grep -q "exited (status 3) before serving" "$KP_LOG"
wait "$STEADY_PID"
kph_verdict broken
kp_check "(5) the old process still runs" kp_alive
kp_eq "(5) /healthz" 200 "$(kph_healthz "$KP_HEALTHZ")"
# ---- (6) PID 1: idle after the hand-off, until SIGTERM ----------------
kp_stop
command -v unshare >/dev/null 2>&1 || kp_die "(6) needs unshare (util-linux)"
HA=127.0.0.1:10456
MA=127.0.0.1:10449
# kph_start_at LOG [ARGS...]: a kuproxy on health $HA and metrics $MA.
kph_start_at() {
	local log=$1
	shift
	ip netns exec "$KP_NODE" "$@" \
	    --services-file "$KP_SVCFILE" --bind-address 0.0.0.0 \
	    --metrics-bind-address "$MA" --healthz-bind-address "$HA" \
	    --state-dir "$KP_TMP/state" --shutdown-grace 2s -v 4 \
	    >>"$log" 2>&1 &
}
# kph_tcp4: four connections to web, all answered.
kph_tcp4() {
	local r
	r=$(kp_client "$KP_CLI" dist --target 198.19.0.10:80 --count 4) || return 1
	[ "$(echo "$r" | kp_json 'd["ok"]')" = 4 ]
}
kph_start_at "$KP_TMP/kuproxy-pid1.log" unshare --pid --fork --kill-child \
    "${KP_CAPWRAP[@]}" "$KUPROXY"
ushr=$!
KP_PIDS="$KP_PIDS $ushr"
kp_until 50 eval '[ "$(kph_healthz "$HA")" = 200 ]' ||
    kp_die "(6) the PID 1 kuproxy never served"
a=$(pgrep -P "$ushr" | head -n 1)
[ -n "$a" ] || kp_die "(6) no kuproxy under unshare"
kp_check "(6) the first kuproxy is PID 1 in its namespace" \
    grep -q '^NSpid:.*[[:space:]]1$' "/proc/$a/status"
kph_start_at "$KP_TMP/kuproxy-b.log" "${KP_CAPWRAP[@]}" "$KUPROXY"
b=$!
KP_PIDS="$KP_PIDS $b"
if kp_until 100 grep -q "idle until SIGTERM" "$KP_TMP/kuproxy-pid1.log"; then
	kp_ok "(6) PID 1 drained after the hand-off and stays idle"
else
	kp_fail "(6) PID 1 after the hand-off: $(tail -n 5 "$KP_TMP/kuproxy-pid1.log")"
fi
sleep 1
kp_check "(6) PID 1 still runs a second after its drain" kill -0 "$a"
# The successor binds the health port the idle one gave up (it retries
# every 5 s): a 200 there is the successor's.
kp_until 120 eval '[ "$(kph_healthz "$HA")" = 200 ]' ||
    kp_fail "(6) the successor never bound the health port"
kp_check "(6) the successor bound the health port" \
    grep -q "10456" "$KP_TMP/kuproxy-b.log"
kp_check "(6) the successor serves TCP" kph_tcp4
kp_check "(6) the successor serves UDP" kph_udp
kill -TERM "$a"
if kp_until 30 kp_exited "$a"; then
	kp_ok "(6) the idle PID 1 stopped at once on SIGTERM"
else
	kp_fail "(6) the idle PID 1 did not stop within 3 s of SIGTERM"
fi
wait "$ushr" 2>/dev/null
kp_check "(6) the successor still serves after that" kph_tcp4
kill -TERM "$b"
kp_until 50 kp_exited "$b" || kill -KILL "$b" 2>/dev/null
wait "$b" 2>/dev/null
kp_finish
