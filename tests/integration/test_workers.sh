#!/bin/bash
# test_workers: --workers N (issue 15) on a real node namespace.
#  (1) --workers 2: every service port has 2 listeners on its one proxy
#      port (SO_REUSEPORT, seen with ss), kuproxy_workers is 2, the
#      process runs 2 more threads;
#  (2) round-robin holds across workers: 300 sequential connections are
#      exactly 100/100/100 over 3 endpoints, and both workers accepted a
#      share (acceptedPerWorker in /debug/services);
#  (3) ClientIP affinity holds whichever worker accepts: 200 connections
#      from one client IP (as many source ports) all reach one endpoint,
#      though both workers accepted some;
#  (4) UDP: 30 flows are all answered, each by one endpoint, replies from
#      the Service's address, and both workers hold flows;
#  (5) hand-off to a successor with --workers 3 under steady load: zero
#      failed new connections, zero broken streams; it takes the 2
#      listeners and adds a third on the same port; then to a successor
#      with --workers 1: it takes all 3 (one loop serves them) with zero
#      failures, and every worker of the old one is gone with it;
#  (6) KUPROXY_SHARED_LISTENER=1 (the measured alternative): one listener
#      per port, served by both workers: 300 connections, no error;
#  (7) the listener budget: with an open files limit of 72 (a budget of
#      18 listeners), the first 9 of 12 service ports get a listener per
#      worker and the other 3 one listener each, all 12 serving.
. "$(dirname "$0")/lib.sh"
kp_init workers
# This test's own namespace names.
KP_NODE=kpw-node-$KP_ID
KP_POD=kpw-pod-$KP_ID
KP_CLI=kpw-cli-$KP_ID
kp_topology
kp_backend hello b2@198.18.1.2:8080 b3@198.18.1.3:8080 b4@198.18.1.4:8080
kp_backend echo --no-tcp u2@198.18.1.2:5353 u3@198.18.1.3:5353

KP_SVCFILE=$KP_TMP/services.yaml
{
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.2 198.18.1.3 198.18.1.4
	kp_svc sticky 198.19.0.11 80 TCP 8080 -
	kp_eps sticky 8080 TCP 198.18.1.2 198.18.1.3 198.18.1.4
	kp_svc dns 198.19.0.53 53 UDP 5353
	kp_eps dns 5353 UDP 198.18.1.2 198.18.1.3
} >"$KP_SVCFILE"

GRACE=20s
kp_start --workers 2 --shutdown-grace "$GRACE"
wport=$(kp_wait_svc default/web:p 3) || kp_die "default/web:p never appeared"
sport=$(kp_wait_svc default/sticky:p 3) || kp_die "default/sticky:p never appeared"
uport=$(kp_wait_svc default/dns:p 2) || kp_die "default/dns:p never appeared"
kp_wait_rules default/web:p 2 || kp_die "web: 2 rules expected"
kp_wait_rules default/sticky:p 2 || kp_die "sticky: 2 rules expected"
kp_wait_rules default/dns:p 2 || kp_die "dns: 2 rules expected"
kp_log "proxy ports: web $wport, sticky $sport, dns $uport"

# kpw_listeners PROTO PORT PID: sockets of PID listening on PORT.
kpw_listeners() {
	local flag=-lt
	[ "$1" = udp ] && flag=-lu
	kp_node ss -H -n -p $flag "sport = :$2" | grep -c "pid=$3,"
}
# kpw_threads PID: the threads of PID.
kpw_threads() { ls "/proc/$1/task" | wc -l; }
# kpw_per SVC [URL]: acceptedPerWorker of SVC, as a JSON list.
kpw_per() {
	kp_client "$KP_NODE" debug --url "${2:-$KP_URL}" --service "$1" \
	    --field acceptedPerWorker
}

# (1)
kp_eq "(1) web: TCP listeners on its proxy port" 2 "$(kpw_listeners tcp "$wport" "$KP_PID")"
kp_eq "(1) dns: UDP sockets on its proxy port" 2 "$(kpw_listeners udp "$uport" "$KP_PID")"
kp_eq "(1) kuproxy_workers" 2 "$(kp_metric kuproxy_workers)"
kp_ge "(1) threads: main plus 2 workers" 3 "$(kpw_threads "$KP_PID")"

# (2)
res=$(kp_client "$KP_CLI" dist --target 198.19.0.10:80 --count 300)
kp_eq "(2) 300 connections, no errors" 300 "$(echo "$res" | kp_json 'd["ok"]')"
kp_eq "(2) round-robin across workers" '{"b2": 100, "b3": 100, "b4": 100}' \
    "$(echo "$res" | kp_json 'dict(sorted(d["counts"].items()))')"
per=$(kpw_per default/web:p)
kp_log "(2) acceptedPerWorker: $per"
kp_eq "(2) per-worker counts add up" 300 "$(echo "$per" | kp_json 'sum(d)')"
# Binomial(300, 1/2): fewer than 30 on one worker has odds of ~1e-50.
kp_ge "(2) the fewer of the two workers' accepts" 30 "$(echo "$per" | kp_json 'min(d)')"

# (3)
res=$(kp_client "$KP_CLI" dist --target 198.19.0.11:80 --count 200)
kp_eq "(3) 200 connections, no errors" 200 "$(echo "$res" | kp_json 'd["ok"]')"
kp_eq "(3) one client IP, one endpoint" 1 "$(echo "$res" | kp_json 'len(d["counts"])')"
per=$(kpw_per default/sticky:p)
kp_log "(3) acceptedPerWorker: $per"
kp_ge "(3) the fewer of the two workers' accepts" 20 "$(echo "$per" | kp_json 'min(d)')"
kp_eq "(3) pinned clients" 1 "$(kp_debug default/sticky:p pinnedClients)"

# (4)
res=$(kp_client "$KP_CLI" udp-dist --target 198.19.0.53:53 --size 64 --count 30)
kp_log "(4) udp-dist: $res"
kp_eq "(4) 30 flows answered" 30 "$(echo "$res" | kp_json 'sum(1 for x in d["seq"] if not x.startswith("!"))')"
per=$(kpw_per default/dns:p)
kp_log "(4) flows per worker: $per"
kp_eq "(4) flows counted" 30 "$(echo "$per" | kp_json 'sum(d)')"
kp_ge "(4) the fewer of the two workers' flows" 1 "$(echo "$per" | kp_json 'min(d)')"
# Each flow answered from one endpoint, from the Service's address.
res=$(kp_client "$KP_CLI" udp --target 198.19.0.53:53 --size 64 --count 1)
kp_eq "(4) a reply from the Service's address" True "$(echo "$res" | kp_json 'd["ok"]')"

# (5) hand-off under load.
M2=127.0.0.1:10349
H2=127.0.0.1:10356
M3=127.0.0.1:10449
H3=127.0.0.1:10456
# kpw_successor N METRICS HEALTHZ LOG: a kuproxy with --workers N beside
# the running one (the same state directory: it takes the listeners over
# through handoff.sock).  Sets SUCC_PID.
kpw_successor() {
	ip netns exec "$KP_NODE" "${KP_CAPWRAP[@]}" "$KUPROXY" \
	    --services-file "$KP_SVCFILE" --bind-address 0.0.0.0 \
	    --metrics-bind-address "$2" --healthz-bind-address "$3" \
	    --state-dir "$KP_TMP/state" --shutdown-grace "$GRACE" -v 2 \
	    --workers "$1" >>"$4" 2>&1 &
	SUCC_PID=$!
	KP_PIDS="$KP_PIDS $SUCC_PID"
}
# kpw_steady NAME: steady.py for 6 s in the background; sets STEADY_PID.
kpw_steady() {
	rm -f "$KP_TMP/$1.ready"
	timeout -k 5 40 ip netns exec "$KP_CLI" "$KP_PY" \
	    "$KP_HERE/steady.py" --target 198.19.0.10:80 --duration 6 \
	    --rate 200 --streams 4 --ready-file "$KP_TMP/$1.ready" \
	    >"$KP_TMP/$1.json" 2>"$KP_TMP/$1.err" &
	STEADY_PID=$!
	KP_PIDS="$KP_PIDS $STEADY_PID"
	kp_wait_file "$KP_TMP/$1.ready" 100 || kp_die "steady.py did not start"
}
# kpw_verdict NAME: no failed new connection, no broken stream.
kpw_verdict() {
	local res
	wait "$STEADY_PID"
	res=$(cat "$KP_TMP/$1.json")
	kp_log "$1: $res"
	[ -n "$res" ] || { kp_fail "$1: steady.py printed nothing"; return; }
	kp_eq "$1: failed new connections" 0 "$(echo "$res" | kp_json 'd["new"]["failed"]')"
	kp_ge "$1: new connections" 300 "$(echo "$res" | kp_json 'd["new"]["ok"]')"
	kp_eq "$1: broken streams" 0 "$(echo "$res" | kp_json 'd["streams"]["broken"]')"
}
# kpw_takeover NAME N METRICS HEALTHZ: under steady.py load NAME, start a
# successor with --workers N and wait until it answers and holds the 3
# web listeners.  Sets SUCC_PID.
kpw_takeover() {
	kpw_steady "$1"
	kpw_successor "$2" "$3" "$4" "$KP_TMP/succ$2.log"
	kp_until 150 kp_node curl -sf -m 1 -o /dev/null "http://$3/debug/services" ||
	    kp_die "(5) the --workers $2 successor did not answer"
	kp_until 150 test "$(kpw_listeners tcp "$wport" "$SUCC_PID")" = 3 ||
	    kp_fail "(5) the --workers $2 successor has $(kpw_listeners tcp "$wport" "$SUCC_PID") web listeners, not 3"
}
kpw_takeover five 3 "$M2" "$H2"
S3=$SUCC_PID
kp_eq "(5) successor 3: kuproxy_workers" 3 \
    "$(kp_node curl -s -m 2 "http://$M2/metrics" | awk '$1 == "kuproxy_workers" { print $2 }')"
kp_eq "(5) successor 3: the same web proxy port" "$wport" \
    "$(kp_client "$KP_NODE" debug --url "http://$M2/debug/services" --service default/web:p --field proxyPort)"
kill -TERM "$KP_PID"
kpw_verdict five
kp_until 300 kp_exited "$KP_PID" || kp_fail "(5) the first kuproxy did not exit"
kp_eq "(5) successor 3: web listeners after the first exited" 3 "$(kpw_listeners tcp "$wport" "$S3")"
kp_eq "(5) successor 3: dns sockets (2 taken, 1 added)" 3 "$(kpw_listeners udp "$uport" "$S3")"
res=$(kp_client "$KP_CLI" dist --target 198.19.0.10:80 --count 60)
kp_eq "(5) successor 3 serves: 60 connections" 60 "$(echo "$res" | kp_json 'd["ok"]')"

kpw_takeover five_b 1 "$M3" "$H3"
S1=$SUCC_PID
kill -TERM "$S3"
kpw_verdict five_b
kp_until 300 kp_exited "$S3" || kp_fail "(5) the --workers 3 kuproxy did not exit"
kp_eq "(5) successor 1: threads (no worker thread)" 1 "$(kpw_threads "$S1")"
res=$(kp_client "$KP_CLI" dist --target 198.19.0.10:80 --count 60)
kp_eq "(5) successor 1 serves from all 3 listeners: 60 connections" 60 \
    "$(echo "$res" | kp_json 'd["ok"]')"
per=$(kpw_per default/web:p "http://$M3/debug/services")
kp_eq "(5) successor 1: relay instances (one per listener)" 3 "$(echo "$per" | kp_json 'len(d)')"
kill -TERM "$S1"
kp_until 300 kp_exited "$S1" || kp_fail "(5) the --workers 1 kuproxy did not exit"

# (6) one shared listener.
KP_LOG=$KP_TMP/kuproxy-shared.log
KUPROXY_SHARED_LISTENER=1 kp_start --workers 2
wport=$(kp_wait_svc default/web:p 3) || kp_die "(6) default/web:p never appeared"
kp_eq "(6) shared: one TCP listener" 1 "$(kpw_listeners tcp "$wport" "$KP_PID")"
res=$(kp_client "$KP_CLI" dist --target 198.19.0.10:80 --count 300)
kp_eq "(6) shared: 300 connections, no errors" 300 "$(echo "$res" | kp_json 'd["ok"]')"
per=$(kpw_per default/web:p)
kp_log "(6) shared listener, acceptedPerWorker: $per"
kp_eq "(6) shared: both workers serve it" 2 "$(echo "$per" | kp_json 'len(d)')"
kp_stop

# (7) the listener budget.
{
	for i in $(seq 1 12); do
		kp_svc "s$i" "198.19.1.$i" 80 TCP 8080
		kp_eps "s$i" 8080 TCP 198.18.1.2
	done
} >"$KP_TMP/many.yaml"
KP_SVCFILE=$KP_TMP/many.yaml
KP_LOG=$KP_TMP/kuproxy-budget.log
rm -rf "$KP_TMP/state"
saved_wrap=("${KP_CAPWRAP[@]}")
KP_CAPWRAP=(prlimit --nofile=72:72 "${saved_wrap[@]}")
kp_start --workers 2 -v 2
KP_CAPWRAP=("${saved_wrap[@]}")
kp_until 100 eval '[ "$(kp_debug | kp_json "len(d[\"services\"])")" = 12 ]' ||
    kp_die "(7) not all 12 services are live"
lens=$(kp_debug | kp_json 'sorted(len(s["acceptedPerWorker"]) for s in d["services"])')
kp_eq "(7) listeners per service port under a budget of 18" \
    "[1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2]" "$lens"
kp_check "(7) the budget is logged" grep -q "the budget is spent" "$KP_LOG"
ok=0
for i in $(seq 1 12); do
	res=$(kp_client "$KP_CLI" dist --target "198.19.1.$i:80" --count 2)
	[ "$(echo "$res" | kp_json 'd["ok"]')" = 2 ] && ok=$((ok + 1))
done
kp_eq "(7) service ports serving" 12 "$ok"
kp_check "kuproxy still running" kp_alive
kp_finish
