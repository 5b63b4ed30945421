#!/bin/bash
# test_many_conns: kuproxy under the ambient RLIMIT_NOFILE hard limit
# (20000 here; it cannot be raised).
#  - hold 9000 idle relayed connections at once (each verified with a
#    1-byte echo), and measure kuproxy's fd count: about 2 per connection;
#  - flood 3000 more concurrent attempts, past the fd limit: they are
#    refused, reset, closed or left waiting, but kuproxy does not crash and
#    /debug/services still answers; the 9000 held connections still relay;
#  - release everything: a fresh connection works again within 5 s and
#    kuproxy's fds and activeConnections return to their baseline.
. "$(dirname "$0")/lib.sh"
kp_init many_conns
HOLD=${KP_MANY_HOLD:-9000}
FLOOD=${KP_MANY_FLOOD:-3000}
kp_log "RLIMIT_NOFILE: soft $(ulimit -Sn), hard $(ulimit -Hn)"
kp_topology
kp_backend echo b2@198.18.1.2:8080 b3@198.18.1.3:8080 b4@198.18.1.4:8080

KP_SVCFILE=$KP_TMP/services.yaml
{
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.2 198.18.1.3 198.18.1.4
} >"$KP_SVCFILE"
# -v 0: one log line per connection would only slow this test down.
kp_start -v 0
port=$(kp_wait_svc default/web:p 3) || kp_die "service default/web:p never appeared"
kp_log "kuproxy limits: $(grep 'open files' "/proc/$KP_PID/limits")"
fd0=$(kp_fds)
kp_log "kuproxy fds at rest: $fd0"

# Hold.
mkfifo "$KP_TMP/ctl"
KP_CLIENT_TIMEOUT=200 kp_client "$KP_CLI" hold --target "$KP_NODE_IP:$port" --count "$HOLD" \
    --batch 500 --deadline 60 --timeout 10 \
    <"$KP_TMP/ctl" >"$KP_TMP/hold.out" 2>&1 &
hold=$!
KP_PIDS="$KP_PIDS $hold"
exec 7>"$KP_TMP/ctl"
kp_until 900 grep -q '^HELD' "$KP_TMP/hold.out" ||
    kp_die "hold client did not report within 90 s: $(cat "$KP_TMP/hold.out")"
kp_log "$(grep '^HELD' "$KP_TMP/hold.out")"
kp_eq "$HOLD connections held and relayed" "HELD ok=$HOLD" \
    "$(grep -o '^HELD ok=[0-9]*' "$KP_TMP/hold.out")"
fd1=$(kp_fds)
act=$(kp_debug default/web:p activeConnections)
kp_log "kuproxy fds while holding $HOLD: $fd1 ($(awk -v a="$fd1" -v b="$fd0" \
    -v n="$HOLD" 'BEGIN { printf "%.3f", (a - b) / n }') per connection); activeConnections $act"
kp_ge "kuproxy fds while holding" $((2 * HOLD)) "$fd1"
kp_le "kuproxy fds while holding (about 2 per connection)" \
    $((2 * HOLD + fd0 + 100)) "$fd1"
kp_eq "activeConnections while holding" "$HOLD" "$act"

# Flood past the limit.
res=$(kp_client "$KP_CLI" flood --target "$KP_NODE_IP:$port" --count "$FLOOD" \
    --timeout 8)
kp_log "flood of $FLOOD: $res"
kp_eq "flood: every attempt accounted for" "$FLOOD" "$(echo "$res" |
    kp_json 'sum(v for k, v in d.items() if k not in ("attempted", "created", "secs"))')"
okf=$(echo "$res" | kp_json 'd.get("ok", 0)')
# Only meaningful when hold + flood at 2 fds each exceed kuproxy's limit.
lim=$(awk '/open files/ { print $4 }' "/proc/$KP_PID/limits")
if [ $((2 * (HOLD + FLOOD))) -gt "$lim" ]; then
	kp_le "flood: not all $FLOOD relayed (the fd limit $lim was reached)" \
	    $((FLOOD - 1)) "$okf"
else
	kp_log "note: $HOLD + $FLOOD connections stay below the fd limit $lim"
fi
kp_check "kuproxy survived the flood" kp_alive
if kp_until 50 kp_debug_has default/web:p proxyPort "$port"; then
	kp_ok "/debug/services answers after the flood"
else
	kp_fail "/debug/services does not answer after the flood"
fi
fd2=$(kp_fds)
kp_log "kuproxy fds after the flood: $fd2"
if [ $((2 * (HOLD + FLOOD))) -gt "$lim" ]; then
	# Running out of descriptors is worth one warning, not one per accept.
	nw=$(grep -ci 'descriptors\|too many open\|emfile' "$KP_LOG")
	kp_log "log lines about the fd limit: $nw: $(grep -i -m1 'descriptors\|too many open\|emfile' "$KP_LOG")"
	kp_ge "the fd limit is logged" 1 "$nw"
	kp_le "the fd limit is logged once per episode, not per attempt" 10 "$nw"
	kp_ge "kuproxy_accept_pauses_total counts the pause" 1 \
	    "$(kp_metric kuproxy_accept_pauses_total)"
fi

echo check >&7
kp_until 300 grep -q '^CHECK' "$KP_TMP/hold.out" ||
    kp_fail "hold client did not answer check"
kp_log "$(grep '^CHECK' "$KP_TMP/hold.out")"
kp_eq "held connections still relay after the flood" "CHECK ok=$HOLD" \
    "$(grep -o '^CHECK ok=[0-9]*' "$KP_TMP/hold.out")"

# Release and recover.
echo release >&7
exec 7>&-
kp_until 300 grep -q '^RELEASED' "$KP_TMP/hold.out" ||
    kp_fail "hold client did not release"
wait "$hold" 2>/dev/null
fresh() {
	kp_client "$KP_CLI" probe --target "$KP_NODE_IP:$port" --send x \
	    --timeout 1 2>/dev/null | grep -q '"result": "data"'
}
t0=$(date +%s%N)
if kp_until 50 fresh; then
	kp_ok "fresh connection works $((($(date +%s%N) - t0) / 1000000)) ms after release"
else
	kp_fail "no fresh connection within 5 s of release"
fi
if kp_until 100 kp_debug_has default/web:p activeConnections '^0$'; then
	kp_ok "activeConnections back to 0"
else
	kp_fail "activeConnections not back to 0 after 10 s: $(kp_debug default/web:p activeConnections)"
fi
fd3=$(kp_fds)
kp_log "kuproxy fds after release: $fd3 (at rest: $fd0)"
kp_le "kuproxy fds back to baseline" $((fd0 + 5)) "$fd3"
kp_check "kuproxy still running" kp_alive
kp_finish
