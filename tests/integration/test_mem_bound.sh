#!/bin/bash
# test_mem_bound: 1,000 stalled connections at once (issue 14, resource
# bounds): 500 clients that send and never read past a backend that
# never reads, and 500 clients that never read from a backend that
# writes without end (tests/integration/stall.py).  Once every relay has
# stopped moving, kuproxy's RSS growth plus the bytes it holds in splice
# pipes (FIONREAD on each pipe of /proc/PID/fd) divided by the number of
# connections must stay under KP_MEM_BOUND bytes per connection; see
# docs/robustness.md ("Resource bounds") for the bound and why.  Then
# clients and backends go away (reset): every connection closed, fds
# back to the baseline, no byte left in a pipe.
. "$(dirname "$0")/lib.sh"
kp_init mem_bound
N=${KP_MEM_N:-500}		# per kind: 2 x N connections
# The bound, from src/proxy_tcp.c: 2 KiB of connection state (struct
# proxy_conn, four events, allocator overhead) plus, for the one
# direction that stalls, one read: a copy buffer of at most 64 KiB
# (PROXY_SCRATCH) or a pipe holding what the peer had room for, 16 KiB
# (PROXY_ROOM_MIN) once it is full.  Before issue 14 a stalled direction
# could hold a whole 1 MiB pipe: 167 kB per connection were measured.
BOUND=${KP_MEM_BOUND:-67584}	# bytes per connection, RSS + pipes
kp_topology
STALL=$KP_HERE/stall.py

ip netns exec "$KP_POD" "$KP_PY" "$STALL" server --mode sink \
    --listen 198.18.1.2:9001 >>"$KP_TMP/stall.log" 2>&1 &
sink=$!
ip netns exec "$KP_POD" "$KP_PY" "$STALL" server --mode source \
    --listen 198.18.1.3:9002 >>"$KP_TMP/stall.log" 2>&1 &
source=$!
KP_PIDS="$KP_PIDS $sink $source"

KP_SVCFILE=$KP_TMP/services.yaml
{
	kp_svc sink 198.19.0.20 80 TCP 9001
	kp_eps sink 9001 TCP 198.18.1.2
	kp_svc source 198.19.0.21 80 TCP 9002
	kp_eps source 9002 TCP 198.18.1.3
} >"$KP_SVCFILE"
kp_start -v 0
sport=$(kp_wait_svc default/sink:p 1) || kp_die "sink never appeared"
oport=$(kp_wait_svc default/source:p 1) || kp_die "source never appeared"

# kp_held: "RSS_KB PIPES PIPE_BYTES NONPIPE_FDS" of kuproxy now.
kp_held() {
	"$KP_PY" - "$KP_PID" <<'EOT'
import array, fcntl, os, sys, termios
pid = sys.argv[1]
d = "/proc/%s/fd" % pid
pipes, held, other, seen = 0, 0, 0, set()
for fd in os.listdir(d):
    try:
        t = os.readlink(os.path.join(d, fd))
    except OSError:
        continue
    if not t.startswith("pipe:"):
        other += 1
        continue
    pipes += 1
    if t in seen:
        continue
    seen.add(t)
    try:
        f = os.open(os.path.join(d, fd), os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        continue
    buf = array.array("i", [0])
    fcntl.ioctl(f, termios.FIONREAD, buf)
    os.close(f)
    held += buf[0]
rss = [l.split()[1] for l in open("/proc/%s/status" % pid)
       if l.startswith("VmRSS:")][0]
print(rss, pipes // 2, held, other)
EOT
}

read -r rss0 pipes0 held0 fd0 < <(kp_held)
kp_log "baseline: RSS $rss0 kB, $pipes0 pipes holding $held0 bytes, $fd0 other fds"

ip netns exec "$KP_CLI" "$KP_PY" "$STALL" client --mode send --count "$N" \
    --target "$KP_NODE_IP:$sport" --ready-file "$KP_TMP/send.ready" \
    >>"$KP_TMP/stall.log" 2>&1 &
send=$!
KP_PIDS="$KP_PIDS $send"
ip netns exec "$KP_CLI" "$KP_PY" "$STALL" client --mode noread --count "$N" \
    --target "$KP_NODE_IP:$oport" --ready-file "$KP_TMP/noread.ready" \
    --settle 10 >>"$KP_TMP/stall.log" 2>&1 &
noread=$!
KP_PIDS="$KP_PIDS $noread"
kp_wait_file "$KP_TMP/send.ready" 900 || kp_die "senders not ready: $(tail -3 "$KP_TMP/stall.log")"
kp_wait_file "$KP_TMP/noread.ready" 900 || kp_die "non-readers not ready: $(tail -3 "$KP_TMP/stall.log")"
kp_log "senders: $(cat "$KP_TMP/send.ready")"
# Settled: two readings 1 s apart agree.
prev=
for i in $(seq 1 30); do
	cur=$(kp_held)
	[ "$cur" = "$prev" ] && break
	prev=$cur
	sleep 1
done
read -r rss1 pipes1 held1 fd1 <<<"$cur"
conns=$(( $(kp_debug default/sink:p activeConnections) + \
    $(kp_debug default/source:p activeConnections) ))
kp_eq "every stalled connection relayed" $((2 * N)) "$conns"
kp_log "stalled: RSS $rss1 kB, $pipes1 pipes holding $held1 bytes, $fd1 other fds"
per=$(( ((rss1 - rss0) * 1024 + held1 - held0) / (2 * N) ))
kp_log "per connection: RSS $(( (rss1 - rss0) * 1024 / (2 * N) )) B +" \
    "pipes $(( (held1 - held0) / (2 * N) )) B = $per B (bound $BOUND B)"
kp_le "RSS growth + pipe bytes per stalled connection (bytes)" "$BOUND" "$per"
kp_check "kuproxy alive" kp_alive

# Release: the clients go, and the backends (a backend that never reads
# would keep its half-closed connections for ever, in kube-proxy too).
kill -KILL "$send" "$noread" "$sink" "$source"
kp_until 100 eval '[ "$(kp_debug default/sink:p activeConnections)" = 0 ] &&
    [ "$(kp_debug default/source:p activeConnections)" = 0 ]' ||
    kp_fail "connections still relayed 10 s after the clients left"
read -r rss2 pipes2 held2 fd2 < <(kp_held)
kp_log "released: RSS $rss2 kB, $pipes2 pipes holding $held2 bytes, $fd2 other fds"
kp_eq "non-pipe fds back to the baseline" "$fd0" "$fd2"
kp_eq "no byte left in a pipe" 0 "$held2"
kp_finish
