#!/bin/bash
# test_sdnotify: kuproxy speaks systemd's notification protocol to a
# listener standing in for systemd (sdnotify_listener.py) on a
# NOTIFY_SOCKET in the test's directory.
#  - READY=1 does not come while the first sync cannot happen (no
#    services file yet) nor while its rules fail to apply (an
#    iptables-restore wrapper fails on demand); it comes once they are
#    applied (the wrapper is slow, so a READY=1 sent when the restore
#    starts would be caught), the rules already in place when it arrives,
#    sent by kuproxy's main process; STATUS= says what start-up waits
#    for, then what is served.
#  - WATCHDOG=1 arrives every WATCHDOG_USEC/2 (200 ms: >= 5 in 2 s), and
#    never when WATCHDOG_PID names another process.
#  - NOTIFY_SOCKET and WATCHDOG_* do not leak to iptables-restore.
#  - With only the unit's capabilities (setpriv, no_new_privs) kuproxy
#    gets ready with its rules in place.
#  - SIGHUP: RELOADING=1 (with MONOTONIC_USEC), then READY=1; SIGTERM:
#    STOPPING=1 and exit status 0.
. "$(dirname "$0")/lib.sh"
# This test's own names (kpn-): one node namespace, no pods needed.
KP_NODE=kpn-node-$KP_ID
kp_init sdnotify
command -v iptables-restore >/dev/null 2>&1 || { echo "SKIP: $KP_NAME (needs iptables)"; exit 77; }
command -v setpriv >/dev/null 2>&1 || { echo "SKIP: $KP_NAME (needs setpriv: util-linux)"; exit 77; }
if ! kp_netns_add "$KP_NODE"; then
	echo "SKIP: $KP_NAME (cannot create network namespaces)"
	exit 77
fi
# A node address and a default route, all inside the namespace (a veth
# pair with both ends there: no dummy module needed).
ip -n "$KP_NODE" link add vnode type veth peer name vpeer ||
    kp_die "veth in $KP_NODE"
ip -n "$KP_NODE" addr add "$KP_NODE_POD_IP/24" dev vnode
ip -n "$KP_NODE" link set vnode up
ip -n "$KP_NODE" link set vpeer up
ip -n "$KP_NODE" route add default via 198.18.1.254 dev vnode ||
    kp_die "default route in $KP_NODE"

# iptables-restore behind a wrapper: records its environment, fails
# while $KP_TMP/fail exists, else takes 0.5 s before the real restore.
wrap=$KP_TMP/wrap
mkdir -p "$wrap"
real_restore=$(command -v iptables-restore)
cat >"$wrap/iptables-restore" <<EOF
#!/bin/sh
echo run >>"$KP_TMP/restores"
env | grep -E '^(NOTIFY_SOCKET|WATCHDOG_USEC|WATCHDOG_PID)=' >>"$KP_TMP/leaks"
if [ -e "$KP_TMP/fail" ]; then
	cat >/dev/null
	echo "iptables-restore: fake failure" >&2
	exit 1
fi
sleep 0.5
exec "$real_restore" "\$@"
EOF
chmod 755 "$wrap/iptables-restore"
ln -s "$(command -v iptables)" "$wrap/iptables"
ln -s "$(command -v iptables-save)" "$wrap/iptables-save"
: >"$KP_TMP/leaks"

sock=$KP_TMP/notify.sock
nlog=$KP_TMP/notify.log
snap=$KP_TMP/ready-rules
# listen: (re)start the listener with an empty log.
listen() {
	rm -f "$sock" "$nlog" "$snap" "$KP_TMP/listener.ready"
	: >"$nlog"
	"$KP_PY" "$KP_HERE/sdnotify_listener.py" --socket "$sock" \
	    --log "$nlog" --ready-file "$KP_TMP/listener.ready" \
	    --ready-snapshot "$snap" \
	    --on-ready "ip netns exec $KP_NODE iptables-save -t nat" \
	    >>"$KP_TMP/listener.err" 2>&1 &
	KP_PIDS="$KP_PIDS $!"
	kp_wait_file "$KP_TMP/listener.ready" 50 || kp_die "listener did not start"
}
# got FIELD: has a notification carried FIELD (e.g. READY=1)?
got() { cut -d' ' -f3- "$nlog" | tr '|' '\n' | grep -qxF -- "$1"; }
# nget FIELD: how many notifications carried FIELD.
nget() { cut -d' ' -f3- "$nlog" | tr '|' '\n' | grep -cxF -- "$1"; }
# status_has TEXT: has a STATUS= line contained TEXT?
status_has() { cut -d' ' -f3- "$nlog" | tr '|' '\n' | grep '^STATUS=' | grep -qF -- "$1"; }
# start ENV...: start kuproxy with these variables set for it alone.
start() {
	local kv

	export NOTIFY_SOCKET=$sock
	for kv; do export "${kv?}"; done
	kp_start --iptables-path "$wrap/iptables" --iptables-sync-period 1s -v 2
	unset NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID
}

KP_SVCFILE=$KP_TMP/services.yaml
listen
start WATCHDOG_USEC=200000
kp_until 50 status_has "waiting for a valid services file" ||
    kp_fail "no STATUS= saying start-up waits for the services file"
kp_check "STATUS=starting first" status_has starting
sleep 1.5
kp_check "no READY=1 without a services file" eval '! got READY=1'

# A file, but every restore fails: still not ready.
touch "$KP_TMP/fail"
{
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.2
} | kp_replace "$KP_SVCFILE"
kp_until 100 status_has "first rules sync is failing" ||
    kp_fail "no STATUS= saying the first rules sync fails"
sleep 1
kp_check "no READY=1 while the first rules fail" eval '! got READY=1'

# Restores succeed (slowly): READY=1, the rules already in place.
rm -f "$KP_TMP/fail"
kp_until 150 got READY=1 || kp_die "no READY=1 within 15 s of restores working"
kp_wait_file "$snap" 50 || kp_die "the listener saved no rules at READY=1"
kp_log "at READY=1: $(grep -c . "$snap") lines of nat rules"
kp_check "the service's rule was in place when READY=1 arrived" \
    grep -q -- '-d 198.19.0.10/32 .*--dport 80' "$snap"
line=$(grep -m1 -F 'READY=1' "$nlog")
kp_log "READY datagram: $line"
kp_eq "READY=1 sent by kuproxy's main process" "$KP_PID" "$(echo "$line" | cut -d' ' -f2)"
kp_check "READY=1 says what is served" \
    eval "echo '$line' | grep -qF 'STATUS=serving 1 Services (1 ports), 1 endpoints'"
kp_eq "READY=1 sent once" 1 "$(nget READY=1)"

# The watchdog: every 100 ms; >= 5 in 2 s, loosely bounded above.
n0=$(nget WATCHDOG=1)
sleep 2
n1=$(nget WATCHDOG=1)
kp_log "WATCHDOG=1: $((n1 - n0)) in 2 s (every 100 ms: 20 expected)"
kp_ge "WATCHDOG=1 in 2 s" 5 $((n1 - n0))
kp_le "WATCHDOG=1 in 2 s" 40 $((n1 - n0))

kp_ge "iptables-restore runs" 2 "$(grep -c . "$KP_TMP/restores")"
kp_eq "NOTIFY_SOCKET, WATCHDOG_* seen by iptables-restore" "" "$(cat "$KP_TMP/leaks")"

# SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1 again.
kill -HUP "$KP_PID"
kp_until 50 eval '[ "$(nget READY=1)" -ge 2 ]' ||
    kp_fail "no READY=1 after SIGHUP's reload"
kp_check "RELOADING=1 on SIGHUP" got RELOADING=1
kp_check "RELOADING=1 with MONOTONIC_USEC" \
    eval "grep -F 'RELOADING=1' '$nlog' | grep -qE 'MONOTONIC_USEC=[0-9]+'"
# The order of the three: READY, RELOADING, READY.
order=$(grep -oE 'RELOADING=1|READY=1' "$nlog" | tr '\n' ' ')
kp_eq "READY=1, RELOADING=1, READY=1 in that order" \
    "READY=1 RELOADING=1 READY=1 " "$order"

# SIGTERM: STOPPING=1, exit 0.
kp_stop
kp_eq "exit status after SIGTERM" 0 "$KP_STOP_RC"
kp_check "STOPPING=1 on SIGTERM" got STOPPING=1
kp_check "STATUS says stopping" status_has "stopping (signal 15)"

# Restarted as the unit runs it: only the unit's capabilities (read
# from init/kuproxy.service.in), ambient, and no_new_privs, through
# setpriv (which execs kuproxy: same pid).  Ready all the same, with
# the rules in; WATCHDOG_PID names another process: no watchdog.
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$KP_SRCDIR/init/kuproxy.service.in")
[ -n "$caps" ] || kp_die "no CapabilityBoundingSet= in init/kuproxy.service.in"
capl=-all
for c in $caps; do
	c=${c#CAP_}
	capl="$capl,+${c,,}"
done
kp_log "the unit's capabilities: $capl"
real=$KUPROXY
KUPROXY=$KP_TMP/kuproxy-caps
printf '#!/bin/sh\nexec setpriv --inh-caps=%s --ambient-caps=%s --bounding-set=%s --no-new-privs -- "%s" "$@"\n' \
    "$capl" "$capl" "$capl" "$real" >"$KUPROXY"
chmod 755 "$KUPROXY"
listen
start WATCHDOG_USEC=200000 WATCHDOG_PID=1
kp_until 150 got READY=1 || kp_die "no READY=1 with only the unit's capabilities"
kp_check "rules in place at READY=1 with only the unit's capabilities" \
    grep -q -- '-d 198.19.0.10/32 .*--dport 80' "$snap"
kp_eq "kuproxy's bounding set: the unit's" \
    "$(setpriv --bounding-set="$capl" -- grep ^CapBnd /proc/self/status)" \
    "$(grep ^CapBnd "/proc/$KP_PID/status")"
kp_eq "kuproxy's NoNewPrivs" 1 "$(awk '/^NoNewPrivs/ { print $2 }' "/proc/$KP_PID/status")"
sleep 1
kp_eq "WATCHDOG=1 with WATCHDOG_PID another process's" 0 "$(nget WATCHDOG=1)"
kp_stop
kp_eq "exit status after SIGTERM" 0 "$KP_STOP_RC"
kp_finish
