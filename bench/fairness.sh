#!/bin/bash
# fairness.sh: a second Service's latency while one Service of the same
# kuproxy (one loop) is flooded, TCP connections beyond the accept rate
# or UDP datagrams (issue 14, overload).  Root only; private namespaces
# (tests/integration/lib.sh's topology), every loop bounded, the EXIT
# trap removes everything.
#
#   bench/fairness.sh [-s SECONDS] [-n PROBES] [-f FLOODERS]
#
#   -s  seconds of each flood (15); -n probes per case (300, 20 ms apart)
#   -f  flooding processes (2)
#
# Services: "flood" (TCP and UDP, one backend.py on 198.18.1.2) and
# "quiet" (TCP, backend.py --mode hello on 198.18.1.3).  For each case
# (none, tcp, udp) the prober, in the client namespace, opens a new
# connection to quiet every 20 ms and times connect() to the backend's
# id line; meanwhile FLOODERS processes flood "flood": tcp, each keeping
# 500 non-blocking connects in flight and closing each once it has
# connected; udp, 64-byte datagrams as fast as a socket sends them, from
# 64 source ports.  Prints, per case, the probe latencies (p50, p99,
# max, ms), failed probes, and what kuproxy took of the flood (accepted
# connections, datagrams relayed and dropped, from /metrics).
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"

SECS=15
PROBES=300
FLOODERS=2
while getopts s:n:f:h o; do
	case $o in
	s) SECS=$OPTARG ;;
	n) PROBES=$OPTARG ;;
	f) FLOODERS=$OPTARG ;;
	*) sed -n '2,20p' "$0"; exit 2 ;;
	esac
done

. "$(cd "$(dirname "$0")/.." && pwd)/tests/integration/lib.sh"
kp_init fairness
kp_topology
kp_backend id --udp f@198.18.1.2:8080
kp_backend hello q@198.18.1.3:8080
KP_SVCFILE=$KP_TMP/services.yaml
{
	kp_svc flood 198.19.0.20 80 TCP 8080
	kp_eps flood 8080 TCP 198.18.1.2
	kp_svc floodu 198.19.0.21 53 UDP 8080
	kp_eps floodu 8080 UDP 198.18.1.2
	kp_svc quiet 198.19.0.22 80 TCP 8080
	kp_eps quiet 8080 TCP 198.18.1.3
} >"$KP_SVCFILE"
kp_start -v 0
fport=$(kp_wait_svc default/flood:p 1) || kp_die "flood never appeared"
uport=$(kp_wait_svc default/floodu:p 1) || kp_die "floodu never appeared"
qport=$(kp_wait_svc default/quiet:p 1) || kp_die "quiet never appeared"

cat >"$KP_TMP/flood.py" <<'EOT'
import errno, os, selectors, socket, sys, time
kind, ip, port, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
end = time.monotonic() + secs
n = 0
if kind == "udp":
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(64)]
    for s in socks:
        s.setblocking(False)
    msg = b"x" * 64
    while time.monotonic() < end:
        for s in socks:
            try:
                s.sendto(msg, (ip, port))
                n += 1
            except OSError:
                pass
else:
    sel = selectors.DefaultSelector()
    live = 0
    while time.monotonic() < end:
        while live < 500:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex((ip, port))
            sel.register(s, selectors.EVENT_WRITE)
            live += 1
            n += 1
        for key, _ in sel.select(timeout=0.1):
            sel.unregister(key.fileobj)
            key.fileobj.close()
            live -= 1
print(n)
EOT
cat >"$KP_TMP/probe.py" <<'EOT'
import json, socket, sys, time
ip, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lat, fail = [], 0
for i in range(n):
    t0 = time.monotonic()
    try:
        s = socket.create_connection((ip, port), timeout=3)
        s.settimeout(3)
        if not s.recv(64).strip():
            raise EOFError()
        s.close()
        lat.append((time.monotonic() - t0) * 1000)
    except Exception:
        fail += 1
    time.sleep(0.02)
lat.sort()
q = lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))], 2) if lat else None
print(json.dumps({"n": n, "failed": fail, "p50": q(0.5), "p99": q(0.99),
                  "max": round(lat[-1], 2) if lat else None}))
EOT

# counters: "accepted(flood) dgrams_in(floodu) dropped(floodu)" from /metrics.
counters() {
	kp_node curl -s -m 2 "http://$KP_METRICS/metrics" | awk '
	    /^kuproxy_service_connections_total\{.*default\/flood:p/ { a = $2 }
	    /^kuproxy_service_datagrams_in_total\{.*default\/floodu:p/ { i = $2 }
	    /^kuproxy_service_datagrams_dropped_total\{.*default\/floodu:p/ { d = $2 }
	    END { printf "%d %d %d\n", a, i, d }'
}

for case in none tcp udp; do
	pids=
	before=$(counters)
	if [ "$case" != none ]; then
		p=$fport
		[ "$case" = udp ] && p=$uport
		for i in $(seq 1 "$FLOODERS"); do
			timeout -k 2 $((SECS + 10)) ip netns exec "$KP_CLI" \
			    "$KP_PY" "$KP_TMP/flood.py" "$case" "$KP_NODE_IP" \
			    "$p" "$SECS" >"$KP_TMP/out.$i" 2>&1 &
			pids="$pids $!"
		done
		sleep 2
	fi
	res=$(timeout -k 2 $((PROBES + 60)) ip netns exec "$KP_CLI" "$KP_PY" \
	    "$KP_TMP/probe.py" "$KP_NODE_IP" "$qport" "$PROBES")
	for pid in $pids; do
		wait "$pid"
	done
	sent=$(cat "$KP_TMP"/out.* 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
	rm -f "$KP_TMP"/out.*
	echo "case $case: quiet's connect-to-answer ms $res;" \
	    "flood attempts $sent; flood's counters (connections accepted," \
	    "datagrams in, dropped) before: $before, after: $(counters)"
	kp_check "$case: kuproxy alive" kp_alive
	kp_eq "$case: every probe of the quiet Service answered" 0 \
	    "$(echo "$res" | kp_json 'd["failed"]')"
	sleep 2
done
kp_finish
