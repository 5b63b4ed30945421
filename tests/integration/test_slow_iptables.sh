#!/bin/bash
# test_slow_iptables: nothing blocks the event loop on a child process.
# An "iptables" whose "-S" takes 3 s (as "-w 5" does while another
# process holds the xtables lock) is put in front of the real one, with
# the periodic (forced) sync every second, so jump reads run all the
# time.  40 new TCP connections to a ClusterIP over about 8 s must each
# connect and get the backend's reply within 1 s.  Before the jump reads
# ran in the background, each forced sync stalled the daemon for 9 s and
# about half of the connections timed out.
. "$(dirname "$0")/lib.sh"
kp_init slow_iptables
command -v iptables-save >/dev/null 2>&1 || { echo "SKIP: $KP_NAME (needs iptables)"; exit 77; }
real=$(command -v iptables)
kp_topology
kp_backend id b2@198.18.1.2:8080

# The wrapper: slow "-S" once $KP_TMP/slow exists; restore and save next
# to it are the real ones.
wrap=$KP_TMP/wrap
mkdir -p "$wrap"
cat >"$wrap/iptables" <<EOF2
#!/bin/sh
if [ -e "$KP_TMP/slow" ]; then
	for a; do
		if [ "\$a" = -S ]; then
			echo "-S \$*" >>"$KP_TMP/slow.log"
			sleep 3
		fi
	done
fi
exec "$real" "\$@"
EOF2
chmod 755 "$wrap/iptables"
ln -s "$(command -v iptables-restore)" "$wrap/iptables-restore"
ln -s "$(command -v iptables-save)" "$wrap/iptables-save"

KP_SVCFILE=$KP_TMP/services.yaml
{
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.2
} >"$KP_SVCFILE"
kp_start --iptables-path "$wrap/iptables" --iptables-sync-period 1s
kp_wait_svc default/web:p 1 >/dev/null || kp_die "service default/web:p never appeared"
kp_wait_rules default/web:p 2 || kp_die "web: 2 rules expected, got $(kp_ipt_count default/web:p)"

touch "$KP_TMP/slow"
sleep 1.5
# 40 connections, one every 0.2 s; each must be answered within 1 s.
res=$(kp_cli timeout -k 5 60 "$KP_PY" - <<'EOF2'
import json, socket, time
ok, slow, fails, worst = 0, 0, {}, 0.0
for i in range(40):
    t0 = time.monotonic()
    try:
        s = socket.create_connection(("198.19.0.10", 80), timeout=1)
        s.settimeout(max(0.01, 1 - (time.monotonic() - t0)))
        line = b""
        while b"\n" not in line:
            d = s.recv(4096)
            if not d:
                break
            line += d
        s.close()
        dt = time.monotonic() - t0
        worst = max(worst, dt)
        if line.strip() and dt <= 1.0:
            ok += 1
        elif line.strip():
            slow += 1
        else:
            fails["empty"] = fails.get("empty", 0) + 1
    except OSError as e:
        k = type(e).__name__
        fails[k] = fails.get(k, 0) + 1
        worst = max(worst, time.monotonic() - t0)
    time.sleep(max(0, 0.2 - (time.monotonic() - t0)))
print(json.dumps({"ok": ok, "slow": slow, "fails": fails,
                  "worst_ms": int(worst * 1000)}))
EOF2
)
kp_log "result: $res"
kp_eq "connections answered within 1 s" 40 "$(kp_json 'd["ok"]' <<<"$res")"
kp_le "slowest connection (ms)" 1000 "$(kp_json 'd["worst_ms"]' <<<"$res")"
# The slow reads really ran meanwhile (3 s each: about 3 in 9.5 s).
kp_ge "slow -S reads during the probes" 2 "$(wc -l <"$KP_TMP/slow.log")"
rm -f "$KP_TMP/slow"
kp_check "kuproxy still running" kp_alive
kp_finish
