#!/bin/bash
# soak.sh: kuproxy under steady load while faults are injected, then the
# conditions of issue 14 checked (root only; private network namespaces,
# tests/integration/lib.sh's topology; every loop bounded in count and
# time; the EXIT trap removes everything).
#
#   bench/soak.sh [-d SECONDS] [-o RESULT.json] [-r RATE] [-H HELD]
#
#   -d  length of the soak (120); two thirds with the API source, one
#       third with the services file (kuproxy takes one source at a time)
#   -o  the figures as JSON (default /tmp/kpsk-soak-PID.json, kept)
#   -r  new connections a second (50); -H held idle connections (200)
#
# Load (bench/soak_load.py, client namespace): new connections at a
# steady rate to the node IP and proxy port (each reads the backend's id,
# echoes a line), HELD idle connections and 4 streams checked byte for
# byte, and 8 UDP flows, all to the node IP and proxy port: flushing the
# nat chains from outside stalls every established connection NATed
# through the portal (the kernel drops their NAT bindings; shown with
# kuproxy's repair off, see docs/robustness.md), so a new connection to
# the ClusterIP is probed after each repair instead.
# Backends (tests/integration/backend.py --mode hello): b2, b3 (TCP and
# UDP) live throughout; b4 (TCP) is SIGKILLed or drained and restarted
# every 10 s.
#
# Phase "api": kuproxy --master on tests/fakeapi/fakeapi.py; the Service's
# EndpointSlice rewritten every second (b2 or b3 always listed), the API
# server restarted every 30 s, kuproxy's nat chains flushed from outside
# every 15 s (repair timed), and once, an fd-exhaustion window: the soft
# RLIMIT_NOFILE of the running kuproxy lowered (prlimit) to 40 above its
# open fds, 400 concurrent connections flooded, the limit restored.
# Phase "file": kuproxy --services-file, the file rewritten every second,
# the same kills and flushes.
#
# Checked per phase (kp_fail: exit 1): no failure of a connection or
# datagram except on b4 across one of its SIGKILLs or inside the fd
# window; no stream corrupted; kuproxy alive; the fd window paused accepts
# (kuproxy_accept_pauses_total) and service came back; after the load,
# kuproxy's fds other than pipes and API server connections equal the
# baseline and its pipe fds are at most the pool (2 x 256); RSS within 10% of the baseline; every rule equal to
# what the model gives (checked after each repair and at the end).  The
# baseline is taken once a 10 s warm-up of the same load (and a flood)
# has ended, so that heap the allocator keeps is not counted as growth.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"

DUR=120
OUT=
RATE=50
HELD=200
while getopts d:o:r:H:h o; do
	case $o in
	d) DUR=$OPTARG ;;
	o) OUT=$OPTARG ;;
	r) RATE=$OPTARG ;;
	H) HELD=$OPTARG ;;
	*) sed -n '2,12p' "$0"; exit 2 ;;
	esac
done
: "${OUT:=/tmp/kpsk-soak-$$.json}"

. "$(cd "$(dirname "$0")/.." && pwd)/tests/integration/lib.sh"
kp_init soak
for tool in iptables-save prlimit; do
	command -v "$tool" >/dev/null || { echo "SKIP: soak (needs $tool)"; exit 77; }
done
kp_topology

LOAD=$KP_SRCDIR/bench/soak_load.py
FA=$KP_SRCDIR/tests/fakeapi/fakeapi.py
FA_PORT=
FA_PID=
B4_PID=
STOPS=		# b4's stops, "start:end:kill|drain" (wall clock)
WINDOWS=	# fd-exhaustion windows, "start:end"
RESULTS="$KP_TMP/results"
: >"$RESULTS"
WEB_IP=198.19.0.10
DNS_IP=198.19.0.53

now() { date +%s.%N; }
# ev WHAT: a timed line in the event log, to place failures in time.
ev() { echo "$(now) $PHASE $*" >>"$KP_TMP/events"; }

# Stable backends: b2, b3 (TCP and UDP).  b4: TCP, killed and restarted.
kp_backend hello --udp b2@198.18.1.2:8080 b3@198.18.1.3:8080
b4_start() {
	kp_backend hello b4@198.18.1.4:8080
	B4_PID=$KP_BACKEND_PID
}
b4_start

# soak_eps_set: a random endpoint set of web, b2 or b3 always in it.
soak_eps_set() {
	local set=
	case $((RANDOM % 3)) in
	0) set="198.18.1.2" ;;
	1) set="198.18.1.3" ;;
	2) set="198.18.1.2 198.18.1.3" ;;
	esac
	[ $((RANDOM % 2)) = 0 ] && set="$set 198.18.1.4"
	echo "$set"
}

# ---------------------------------------------------------------- sources
fa_slice() {	# fa_slice NAME SERVICE PROTO IP...
	local name=$1 svc=$2 proto=$3 ip sep=
	shift 3
	printf '{"metadata":{"name":"%s","namespace":"default","labels":' "$name"
	printf '{"kubernetes.io/service-name":"%s"}},"addressType":"IPv4",' "$svc"
	printf '"endpoints":['
	for ip; do
		printf '%s{"addresses":["%s"],"conditions":{"ready":true}}' \
		    "$sep" "$ip"
		sep=,
	done
	printf '],"ports":[{"name":"p","port":8080,"protocol":"%s"}]}' "$proto"
}
fa_svc() {	# fa_svc NAME IP PORT PROTO
	printf '{"metadata":{"name":"%s","namespace":"default"},' "$1"
	printf '"spec":{"type":"ClusterIP","clusterIP":"%s","ports":' "$2"
	printf '[{"name":"p","port":%s,"protocol":"%s","targetPort":8080}]}}' \
	    "$3" "$4"
}
fa_state() {	# fa_state WEB_IPS...: the whole API state
	cat <<EOF
{"services": [$(fa_svc web $WEB_IP 80 TCP), $(fa_svc dns $DNS_IP 53 UDP)],
 "endpointslices": [$(fa_slice web-1 web TCP "$@"),
   $(fa_slice dns-1 dns UDP 198.18.1.2 198.18.1.3)],
 "nodes": [{"metadata": {"name": "node-1"}, "status": {"addresses":
   [{"type": "InternalIP", "address": "$KP_NODE_IP"}]}}]}
EOF
}
fa_ctl() {
	kp_node curl -sf -m 5 -o /dev/null -X POST -d "$1" \
	    "http://127.0.0.1:$FA_PORT/control"
}
# fa_start: (re)start the fake API server with the current web set.
fa_start() {
	fa_state $CUR_SET >"$KP_TMP/state.json"
	rm -f "$KP_TMP/fa.port"
	ip netns exec "$KP_NODE" "$KP_PY" "$FA" --port-file "$KP_TMP/fa.port" \
	    ${FA_PORT:+--port "$FA_PORT"} --state "$KP_TMP/state.json" \
	    --lifetime $((DUR + 600)) --max-watch 300 \
	    >>"$KP_TMP/fakeapi.log" 2>&1 &
	FA_PID=$!
	KP_PIDS="$KP_PIDS $FA_PID"
	kp_wait_file "$KP_TMP/fa.port" 100 || kp_die "fakeapi.py did not start"
	FA_PORT=$(cat "$KP_TMP/fa.port")
}
fa_stop() {
	kill -TERM "$FA_PID" 2>/dev/null
	kp_until 50 kp_gone "$FA_PID" || kill -KILL "$FA_PID" 2>/dev/null
	wait "$FA_PID" 2>/dev/null
	KP_PIDS=$(echo " $KP_PIDS " | sed "s/ $FA_PID / /")
}
file_write() {	# file_write WEB_IPS...
	{
		kp_svc web $WEB_IP 80 TCP 8080
		kp_eps web 8080 TCP "$@"
		kp_svc dns $DNS_IP 53 UDP 8080
		kp_eps dns 8080 UDP 198.18.1.2 198.18.1.3
	} | kp_replace "$KP_SVCFILE"
}
# churn: a new endpoint set for web, through the phase's source.
churn() {
	CUR_SET=$(soak_eps_set)
	if [ "$PHASE" = api ]; then
		fa_ctl "{\"op\":\"put\",\"kind\":\"endpointslices\",\"obj\":$(fa_slice web-1 web TCP $CUR_SET)}" ||
		    kp_log "churn: API put failed (server restarting?)"
	else
		file_write $CUR_SET
	fi
	CHURNS=$((CHURNS + 1))
}

# ------------------------------------------------------------- measures
kp_rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$KP_PID/status"; }
# kp_fds_split: "NONPIPE PIPE" descriptors of kuproxy.
kp_fds_split() {
	local f np=0 p=0
	for f in /proc/"$KP_PID"/fd/*; do
		case $(readlink "$f" 2>/dev/null) in
		pipe:*) p=$((p + 1)) ;;
		'') ;;
		*) np=$((np + 1)) ;;
		esac
	done
	echo "$np $p"
}
# api_conns: kuproxy's connections to the API server (their number
# varies with its restarts and libcurl's connection cache: not a leak).
api_conns() {
	[ "$PHASE" = api ] || { echo 0; return; }
	kp_node ss -tnpH "dport = :$FA_PORT" 2>/dev/null | grep -c "pid=$KP_PID,"
}
# rules: kuproxy's rules as iptables-save prints them, counters dropped.
rules() {
	kp_ipt_save | grep -E '^(-A |:)KUBE-|^-A (PREROUTING|OUTPUT|INPUT|FORWARD) .*KUBE-' |
	    sed 's/ \[[0-9]*:[0-9]*\]$//' | sort
}
# expected_rules: the rules the model (/debug/services) gives: the
# jumps, then each Service's two portals.
expected_rules() {
	local tp up
	tp=$(kp_debug default/web:p proxyPort)
	up=$(kp_debug default/dns:p proxyPort)
	cat <<EOF
-A INPUT -m comment --comment "Ensure that non-local NodePort traffic can flow" -j KUBE-NODEPORT-NON-LOCAL
-A OUTPUT -m addrtype --dst-type LOCAL -m comment --comment "handle service NodePorts; NOTE: this must be the last rule in the chain" -j KUBE-NODEPORT-HOST
-A OUTPUT -m comment --comment "handle ClusterIPs; NOTE: this must be before the NodePort rules" -j KUBE-PORTALS-HOST
-A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment "handle service NodePorts; NOTE: this must be the last rule in the chain" -j KUBE-NODEPORT-CONTAINER
-A PREROUTING -m comment --comment "handle ClusterIPs; NOTE: this must be before the NodePort rules" -j KUBE-PORTALS-CONTAINER
-A KUBE-PORTALS-CONTAINER -d $WEB_IP/32 -p tcp -m comment --comment "default/web:p" -m tcp --dport 80 -j REDIRECT --to-ports $tp
-A KUBE-PORTALS-HOST -d $WEB_IP/32 -p tcp -m comment --comment "default/web:p" -m tcp --dport 80 -j DNAT --to-destination $KP_NODE_IP:$tp
-A KUBE-PORTALS-CONTAINER -d $DNS_IP/32 -p udp -m comment --comment "default/dns:p" -m udp --dport 53 -j REDIRECT --to-ports $up
-A KUBE-PORTALS-HOST -d $DNS_IP/32 -p udp -m comment --comment "default/dns:p" -m udp --dport 53 -j DNAT --to-destination $KP_NODE_IP:$up
EOF
}
rules_ok() { [ "$(rules)" = "$R0" ]; }

# flush: flush the portal chains and delete a jump from outside; time
# the repair (kuproxy's sync period is 2 s).
flush() {
	local t0=$(date +%s%N) ms
	ev "flush"
	kp_node iptables -w 5 -t nat -F KUBE-PORTALS-CONTAINER
	kp_node iptables -w 5 -t nat -F KUBE-PORTALS-HOST
	kp_node iptables -w 5 -t nat -D PREROUTING -j KUBE-PORTALS-CONTAINER 2>/dev/null
	if kp_until 100 rules_ok; then
		ms=$(kp_ms_since "$t0")
		REPAIRS="$REPAIRS $ms"
		kp_client "$KP_CLI" probe --target "$WEB_IP:80" --timeout 2 |
		    grep -q '"result": "data"' ||
		    kp_fail "$PHASE: no new connection through the ClusterIP after a repair"
	else
		kp_fail "$PHASE: rules not repaired within 10 s of a flush"
		diff <(echo "$R0") <(rules) | head -20 >&2
	fi
	FLUSHES=$((FLUSHES + 1))
}

# b4_cycle: SIGKILL (odd cycles) or drain (even: SIGUSR2, the backend
# closes its listeners at once and its connections after 10 s) b4, and
# restart it 2 s later.  Each stop is recorded as "start:end:kind".
b4_cycle() {
	local t=$(now)
	B4_CYCLES=$((B4_CYCLES + 1))
	if [ $((B4_CYCLES % 2)) = 1 ]; then
		ev "b4 SIGKILL"
		kill -KILL "$B4_PID"
		wait "$B4_PID" 2>/dev/null
		STOPS="$STOPS $t:$t:kill"
	else
		ev "b4 drain"
		kill -USR2 "$B4_PID"
		STOPS="$STOPS $t:$(awk -v t="$t" 'BEGIN { printf "%.3f", t + 11 }'):drain"
	fi
	B4_DOWN_TICKS=2
}

# fd_window: lower kuproxy's soft RLIMIT_NOFILE, flood, restore.
fd_window() {
	local soft hard n0 p0 p1 res w0 t0 ok=
	read -r soft hard < <(prlimit --pid "$KP_PID" --nofile -o SOFT,HARD --noheadings)
	n0=$(ls "/proc/$KP_PID/fd" | wc -l)
	p0=$(kp_metric kuproxy_accept_pauses_total)
	w0=$(now)
	ev "fd window: soft limit $((n0 + 40))"
	prlimit --pid "$KP_PID" --nofile=$((n0 + 40)):"$hard" ||
	    kp_die "prlimit on kuproxy"
	res=$(KP_CLIENT_TIMEOUT=30 kp_client "$KP_CLI" flood \
	    --target "$KP_NODE_IP:$TPORT" --count 400 --timeout 5)
	kp_log "$PHASE: fd window: soft limit $((n0 + 40)) ($n0 open), flood of 400: $res"
	kp_check "$PHASE: kuproxy alive after the flood at a low fd limit" kp_alive
	p1=$(kp_metric kuproxy_accept_pauses_total)
	kp_ge "$PHASE: the fd exhaustion paused accepts (kuproxy_accept_pauses_total)" \
	    $((p0 + 1)) "$p1"
	FLOOD_OK=$(echo "$res" | kp_json 'd.get("ok", 0)')
	prlimit --pid "$KP_PID" --nofile="$soft:$hard"
	ev "fd window: limit restored"
	t0=$(date +%s%N)
	if kp_until 100 eval 'kp_client "$KP_CLI" probe --target "$KP_NODE_IP:$TPORT" --timeout 1 |
	    grep -q "\"result\": \"data\""'; then
		RECOVER_MS=$(kp_ms_since "$t0")
		kp_ok "$PHASE: served again ${RECOVER_MS} ms after the limit was restored"
	else
		kp_fail "$PHASE: not served within 10 s after the fd limit was restored"
	fi
	WINDOWS="$WINDOWS $w0:$(awk -v t="$(now)" 'BEGIN { printf "%.3f", t + 2 }')"
	PAUSES=$((p1 - p0))
}

# load_run SECONDS ARGS...: run soak_load.py in the client namespace
# in the background; load_stop waits for its JSON.
load_start() {
	rm -f "$KP_TMP/stop" "$KP_TMP/ready"
	timeout -k 5 $(($1 + 120)) ip netns exec "$KP_CLI" "$KP_PY" "$LOAD" \
	    --new "$KP_NODE_IP:$TPORT" --rate "$RATE" \
	    --held "$KP_NODE_IP:$TPORT" --held-count "$2" \
	    --stream "$KP_NODE_IP:$TPORT" --streams 4 \
	    --udp "$KP_NODE_IP:$UPORT" --udp-flows 8 \
	    --stop-file "$KP_TMP/stop" --ready-file "$KP_TMP/ready" \
	    --max-secs $(($1 + 60)) >"$KP_TMP/load.json" 2>>"$KP_TMP/load.err" &
	LOAD_PID=$!
	KP_PIDS="$KP_PIDS $LOAD_PID"
	kp_wait_file "$KP_TMP/ready" 600 || kp_die "load did not start within 60 s"
}
load_stop() {
	touch "$KP_TMP/stop"
	wait "$LOAD_PID"
	KP_PIDS=$(echo " $KP_PIDS " | sed "s/ $LOAD_PID / /")
	[ -s "$KP_TMP/load.json" ] || kp_die "soak_load.py printed nothing: $(tail -5 "$KP_TMP/load.err")"
}

# wait_idle: until kuproxy relays no connection (10 s at most).
idle() {
	[ "$(kp_debug default/web:p activeConnections 2>/dev/null)" = 0 ]
}

# verdict: judge the load's JSON; print the phase's figures as JSON.
verdict() {
	"$KP_PY" - "$KP_TMP/load.json" "$STOPS" "$WINDOWS" <<'EOT'
import json, sys
d = json.load(open(sys.argv[1]))
stops = [x.split(":") for x in sys.argv[2].split()]
stops = [(float(a), float(b), k) for a, b, k in stops]
wins = [tuple(float(y) for y in x.split(":")) for x in sys.argv[3].split()]


def b4_stopped(f, kinds):
    """Was b4 stopped (by one of kinds) during the life of f?"""
    return any(k in kinds and a - 0.1 <= f["t1"] and f["t0"] <= b + 0.1
               for a, b, k in stops)


hard, killed, fdwin = [], 0, 0
for f in d.pop("failures"):
    if any(w0 <= f["t1"] and f["t0"] <= w1 for w0, w1 in wins):
        fdwin += 1
    elif f["backend"] == "b4" and b4_stopped(f, ("kill", "drain")):
        killed += 1
    elif f["backend"] is None and f["what"] != "udp" and \
            b4_stopped(f, ("kill",)):
        # Accepted by b4 and killed before it sent its id.
        killed += 1
    else:
        hard.append(f)
d["failed_hard"] = len(hard)
d["failed_on_killed_backend"] = killed
d["failed_in_fd_window"] = fdwin
d["hard_failures"] = hard[:20]
print(json.dumps(d, sort_keys=True))
EOT
}

# ------------------------------------------------------------------ phase
# phase NAME SECONDS: one soak phase with the current kuproxy.
phase() {
	local secs=$1 tick=0 t_end res b0 b1 fd_at
	CHURNS=0 FLUSHES=0 REPAIRS= B4_CYCLES=0 B4_DOWN_TICKS=0 STOPS= WINDOWS=
	RECOVER_MS= PAUSES=0 FLOOD_OK= APIRESTARTS=0
	TPORT=$(kp_wait_svc default/web:p) || kp_die "web never appeared"
	UPORT=$(kp_wait_svc default/dns:p 2) || kp_die "dns never appeared"
	kp_wait_rules default/web:p 2 || kp_die "$PHASE: web's rules missing"
	kp_wait_rules default/dns:p 2 || kp_die "$PHASE: dns's rules missing"
	kp_eq "$PHASE: portal rules as the model gives them" \
	    "$(expected_rules | sort)" "$(rules | grep '^-A' | sort)"
	R0=$(rules)
	RSS_START=$(kp_rss)

	# Warm-up: the same load for 10 s and a flood, then the baseline.
	ev "warm-up"
	load_start 10 "$HELD"
	sleep 10
	kp_client "$KP_CLI" flood --target "$KP_NODE_IP:$TPORT" --count 400 \
	    --timeout 5 >/dev/null
	load_stop
	kp_until 100 idle || kp_log "$PHASE: connections still open after the warm-up"
	sleep 1
	RSS0=$(kp_rss)
	read -r FD0 PIPE0 < <(kp_fds_split)
	FD0=$((FD0 - $(api_conns)))
	kp_log "$PHASE: baseline after warm-up: RSS $RSS0 kB (at start $RSS_START kB), fds $FD0 + $PIPE0 pipe"

	load_start "$secs" "$HELD"
	ev "load"
	t_end=$(($(date +%s) + secs))
	fd_at=$((secs / 2))
	while [ "$(date +%s)" -lt "$t_end" ] && [ "$tick" -lt $((secs + 10)) ]; do
		tick=$((tick + 1))
		churn
		if [ "$B4_DOWN_TICKS" -gt 0 ]; then
			B4_DOWN_TICKS=$((B4_DOWN_TICKS - 1))
			[ "$B4_DOWN_TICKS" = 0 ] && b4_start
		elif [ $((tick % 10)) = 5 ]; then
			b4_cycle
		fi
		[ $((tick % 15)) = 7 ] && flush
		if [ "$PHASE" = api ] && [ $((tick % 30)) = 20 ]; then
			ev "API server restart"
			fa_stop
			sleep 0.5
			fa_start
			APIRESTARTS=$((APIRESTARTS + 1))
		fi
		[ "$PHASE" = api ] && [ "$tick" = "$fd_at" ] && fd_window
		kp_alive || kp_die "$PHASE: kuproxy died (tick $tick)"
		sleep 1
	done
	[ "$B4_DOWN_TICKS" -gt 0 ] && b4_start
	load_stop
	kp_until 100 idle || kp_fail "$PHASE: connections still open 10 s after the load"
	sleep 2
	RSS1=$(kp_rss)
	read -r FD1 PIPE1 < <(kp_fds_split)
	FD1=$((FD1 - $(api_conns)))
	res=$(verdict)
	echo "$res" >>"$RESULTS.$PHASE"
	kp_log "$PHASE: $res"
	kp_check "$PHASE: kuproxy alive" kp_alive
	kp_eq "$PHASE: failures except on a killed backend or in the fd window" \
	    0 "$(echo "$res" | kp_json 'd["failed_hard"]')"
	kp_eq "$PHASE: streams corrupted" 0 \
	    "$(echo "$res" | kp_json 'len([f for f in d["hard_failures"] if f["kind"] == "ValueError"])')"
	kp_ge "$PHASE: new connections made" $((secs * RATE / 3)) \
	    "$(echo "$res" | kp_json 'd.get("new_ok", 0)')"
	kp_ge "$PHASE: bytes checked" 1000000 \
	    "$(echo "$res" | kp_json 'd.get("stream_bytes_checked", 0)')"
	kp_ge "$PHASE: UDP datagrams answered" $((secs * 40)) \
	    "$(echo "$res" | kp_json 'd.get("udp_answered", 0)')"
	kp_eq "$PHASE: fds (not pipes, not API connections) back to the baseline" \
	    "$FD0" "$FD1"
	kp_le "$PHASE: pipe fds at most the pool (2 x 256)" 512 "$PIPE1"
	kp_le "$PHASE: RSS within 10% of the baseline (kB)" \
	    $((RSS0 + RSS0 / 10)) "$RSS1"
	if rules_ok; then
		kp_ok "$PHASE: every rule as the model gives it after the soak"
	else
		kp_fail "$PHASE: rules differ after the soak"
		diff <(echo "$R0") <(rules) | head -20 >&2
	fi
	echo "$res" | "$KP_PY" -c '
import json, sys
d = json.load(sys.stdin)
e = dict(phase=sys.argv[1], secs=int(sys.argv[2]), churns=int(sys.argv[3]),
    flushes=int(sys.argv[4]), repair_ms=[int(x) for x in sys.argv[5].split()],
    b4_cycles=int(sys.argv[6]), api_restarts=int(sys.argv[7]),
    fd_pauses=int(sys.argv[8]), fd_recover_ms=sys.argv[9] or None,
    rss_start_kb=int(sys.argv[10]), rss_base_kb=int(sys.argv[11]),
    rss_end_kb=int(sys.argv[12]), fds_base=int(sys.argv[13]),
    pipes_base=int(sys.argv[14]), fds_end=int(sys.argv[15]),
    pipes_end=int(sys.argv[16]))
d.update(e)
print(json.dumps(d, sort_keys=True))' "$PHASE" "$secs" "$CHURNS" "$FLUSHES" \
	    "$REPAIRS" "$B4_CYCLES" "$APIRESTARTS" "$PAUSES" "$RECOVER_MS" \
	    "$RSS_START" "$RSS0" "$RSS1" "$FD0" "$PIPE0" "$FD1" "$PIPE1" \
	    >>"$RESULTS"
}

KP_LOG=$KP_TMP/kuproxy.log
A_SECS=$((DUR * 2 / 3))
F_SECS=$((DUR - A_SECS))

# Phase 1: the API source.
PHASE=api
CUR_SET="198.18.1.2 198.18.1.3 198.18.1.4"
fa_start
mkdir -p "$KP_TMP/state"
ip netns exec "$KP_NODE" "$KUPROXY" --master "http://127.0.0.1:$FA_PORT" \
    --hostname-override node-1 --bind-address 0.0.0.0 \
    --metrics-bind-address "$KP_METRICS" \
    --healthz-bind-address "$KP_HEALTHZ" --iptables-sync-period 2s \
    --state-dir "$KP_TMP/state" -v "${SOAK_V:-2}" >>"$KP_LOG" 2>&1 &
KP_PID=$!
KP_PIDS="$KP_PIDS $KP_PID"
kp_until 100 kp_node curl -sf -m 1 -o /dev/null "$KP_URL" ||
    kp_die "kuproxy's /debug/services did not answer"
phase "$A_SECS"
kp_stop
kp_eq "api: kuproxy exits 0 on SIGTERM after the soak" 0 "$KP_STOP_RC"
fa_stop

# Phase 2: the services file.
PHASE=file
KP_SVCFILE=$KP_TMP/services.yaml
file_write 198.18.1.2 198.18.1.3 198.18.1.4
kp_start -v "${SOAK_V:-2}" --iptables-sync-period 2s
phase "$F_SECS"

"$KP_PY" -c '
import json, sys
ph = [json.loads(l) for l in open(sys.argv[1])]
print(json.dumps({"duration": int(sys.argv[2]), "phases": ph}, indent=1,
                 sort_keys=True))' "$RESULTS" "$DUR" >"$OUT"
"$KP_PY" - "$OUT" <<'EOT'
import json, sys
r = json.load(open(sys.argv[1]))
print("soak of %d s: figures per phase" % r["duration"])
for p in r["phases"]:
    made = p.get("new_ok", 0) + p.get("held_opened", 0) + p.get("streams_opened", 0)
    print("  %-4s %4d s: connections made %d (new %d, held %d, streams %d),"
          " failed %d (+%d on a killed backend, %d in the fd window);"
          " bytes checked %d; UDP %d/%d answered (%d late, longest wait"
          " %d ms)" % (
              p["phase"], p["secs"], made, p.get("new_ok", 0),
              p.get("held_opened", 0), p.get("streams_opened", 0),
              p["failed_hard"], p["failed_on_killed_backend"],
              p["failed_in_fd_window"], p.get("stream_bytes_checked", 0),
              p.get("udp_answered", 0), p.get("udp_sent", 0),
              p.get("udp_late", 0), p.get("udp_max_wait_ms", 0)))
    print("       faults: %d endpoint changes, %d b4 kills/drains, %d API"
          " restarts, %d flushes (repair ms %s), %d fd pauses"
          " (recovered in %s ms)" % (p["churns"], p["b4_cycles"],
              p["api_restarts"], p["flushes"],
              "/".join(str(x) for x in p["repair_ms"]) or "-",
              p["fd_pauses"], p["fd_recover_ms"] or "-"))
    print("       fds %d+%d pipe -> %d+%d pipe; RSS kB: start %d, baseline"
          " %d, end %d (%+.1f%%)" % (p["fds_base"], p["pipes_base"],
              p["fds_end"], p["pipes_end"], p["rss_start_kb"],
              p["rss_base_kb"], p["rss_end_kb"],
              100.0 * (p["rss_end_kb"] - p["rss_base_kb"]) / p["rss_base_kb"]))
EOT
sed "s/^/event: /" "$KP_TMP/events" >&2
echo "figures: $OUT"
kp_finish
