#!/bin/bash
# test_sigterm: SIGTERM (and SIGINT) stop kuproxy with exit status 0 within
# 2 s, even with relayed connections open that never end: the drain
# (--shutdown-grace 1s here) ends at its bound and closes them.
. "$(dirname "$0")/lib.sh"
kp_init sigterm
kp_topology
kp_backend echo b2@198.18.1.2:8080

KP_SVCFILE=$KP_TMP/services.yaml
{
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.2
} >"$KP_SVCFILE"

# kp_stop_with SIGNAL: signal kuproxy, wait at most 2 s, check status 0.
kp_stop_with() {
	local sig=$1 t0 t1 rc ms killer

	t0=$(date +%s%N)
	kill -"$sig" "$KP_PID"
	# The watchdog turns a hang into status 137 instead of a stuck test.
	(sleep 2; kill -KILL "$KP_PID" 2>/dev/null) &
	killer=$!
	wait "$KP_PID"
	rc=$?
	t1=$(date +%s%N)
	kill "$killer" 2>/dev/null
	wait "$killer" 2>/dev/null
	ms=$(((t1 - t0) / 1000000))
	kp_log "SIG$sig: exit status $rc after $ms ms"
	kp_eq "exit status after SIG$sig" 0 "$rc"
	if [ "$ms" -le 2000 ] && [ "$rc" -ne 137 ]; then
		kp_ok "stopped within 2 s after SIG$sig ($ms ms)"
	else
		kp_fail "did not stop within 2 s after SIG$sig ($ms ms)"
	fi
}

for sig in TERM INT; do
	kp_start --shutdown-grace 1s
	port=$(kp_wait_svc default/web:p 1) || kp_die "service default/web:p never appeared"
	mkfifo "$KP_TMP/ctl.$sig"
	kp_client "$KP_CLI" hold --target "$KP_NODE_IP:$port" --count 5 \
	    <"$KP_TMP/ctl.$sig" >"$KP_TMP/hold.$sig" 2>&1 &
	hold=$!
	KP_PIDS="$KP_PIDS $hold"
	exec 7>"$KP_TMP/ctl.$sig"
	kp_until 100 grep -q '^HELD' "$KP_TMP/hold.$sig" ||
	    kp_die "hold client did not report"
	kp_eq "connections relayed before SIG$sig" "HELD ok=5" \
	    "$(grep -o '^HELD ok=[0-9]*' "$KP_TMP/hold.$sig")"
	kp_stop_with "$sig"
	echo release >&7
	exec 7>&-
	wait "$hold" 2>/dev/null
done
kp_finish
