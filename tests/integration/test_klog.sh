#!/bin/bash
# test_klog: kuproxy's log is klog's, at kube-proxy's verbosity levels.
# kuproxy runs three times, at -v 0, -v 2 and -v 4, with the same traffic
# (TCP connections to a live Service, to a Service whose only endpoint
# refuses, and UDP flows).  For each run:
#  - every line of the real output matches klog's header
#    ("I1202 01:02:03.123456    1234 proxier.c:42] "), with kuproxy's
#    pid, a source file of src/ and a line inside it;
#  - -v 0: start-up and Service lines, the failed dials as E lines, at
#    most one a second per Service with the count of those held back, no
#    sync summary, no per-connection line;
#  - -v 2: sync summaries, and still no per-connection line (the level
#    production runs at);
#  - -v 4: a line per relayed TCP connection and per UDP flow.
# Then --logtostderr=false --log-file: the lines go to the file.
. "$(dirname "$0")/lib.sh"
kp_init klog
kp_topology
kp_backend id b2@198.18.1.2:8080 b3@198.18.1.3:8080
kp_backend echo --no-tcp u2@198.18.1.2:5353

KP_SVCFILE=$KP_TMP/services.yaml
{
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.2 198.18.1.3
	# 198.18.1.4 is up but nothing listens on 8080: refused.
	kp_svc dead 198.19.0.11 80 TCP 8080
	kp_eps dead 8080 TCP 198.18.1.4
	kp_svc dns 198.19.0.53 53 UDP 5353
	kp_eps dns 5353 UDP 198.18.1.2
} >"$KP_SVCFILE"

# klog's header; the message follows "] ".
KLOG_RE='^[IWEF][0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6} [ 0-9]{7} [a-z0-9_]+\.c:[0-9]+\] '
# 0.1 s between the connections to the dead Service: 2 s of failures.
DELAYS=$(printf '0.1,%.0s' $(seq 1 19))
DELAYS=${DELAYS%,}

# check_format LOG PID: every line is klog's, from pid PID, naming a
# source file of src/ and a line inside it.
check_format() {
	local log=$1 pid=$2 n bad f l max

	n=$(wc -l <"$log")
	kp_ge "$log: has lines" 5 "$n"
	bad=$(grep -a -v -c -E "$KLOG_RE" "$log")
	kp_eq "$log: every line in klog's format" 0 "$bad"
	[ "$bad" = 0 ] || grep -a -v -E "$KLOG_RE" "$log" | head -n 5 >&2
	bad=$(grep -a -c -v -E "^.{22}$(printf '%7d' "$pid") " "$log")
	kp_eq "$log: every line has kuproxy's pid right-aligned to 7" 0 "$bad"
	bad=0
	while read -r f l; do
		max=$(wc -l <"$KP_SRCDIR/src/$f" 2>/dev/null) || max=0
		if [ "$l" -lt 1 ] || [ "$l" -gt "$max" ]; then
			kp_log "$log: $f:$l is not a line of src/$f"
			bad=$((bad + 1))
		fi
	done < <(cut -c 31- "$log" | sed -n 's/^\([a-z0-9_]*\.c\):\([0-9]*\)\] .*/\1 \2/p' | sort -u)
	kp_eq "$log: every file:line is a line of src/" 0 "$bad"
}

# per_conn LOG: lines about one connection or flow (they name the client,
# as [::ffff:198.18.2.2]:PORT on the dual-stack listeners).
per_conn() { grep -a -c -F -e "$KP_CLI_IP" -e "proxy_conn_close" \
    -e "udp_flow_close" -e "proxy_conn_attempt_failed" "$1"; }

# run_at V [ARGS...]: start kuproxy at -v V, send the traffic, stop it;
# its stderr is left in $KP_TMP/vV.log and the dead Service's
# connectErrors in DEAD_CE.
run_at() {
	local v=$1 port dport uport res
	shift

	kp_start -v "$v" --udp-timeout 300ms "$@"
	port=$(kp_wait_svc default/web:p 2) || kp_die "web never appeared"
	dport=$(kp_wait_svc default/dead:p 1) || kp_die "dead never appeared"
	uport=$(kp_wait_svc default/dns:p 1) || kp_die "dns never appeared"
	res=$(kp_client "$KP_CLI" dist --target "$KP_NODE_IP:$port" --count 10)
	kp_eq "-v $v: 10 connections served" 10 "$(echo "$res" | kp_json 'd["ok"]')"
	res=$(kp_client "$KP_CLI" dist --target "$KP_NODE_IP:$dport" \
	    --count 20 --delays "$DELAYS" --timeout 3)
	kp_eq "-v $v: the dead Service serves nothing" 0 \
	    "$(echo "$res" | kp_json 'd["ok"]')"
	res=$(kp_client "$KP_CLI" udp-dist --target "$KP_NODE_IP:$uport" \
	    --count 3 --size 16)
	kp_eq "-v $v: 3 UDP flows answered" '["u2", "u2", "u2"]' \
	    "$(echo "$res" | kp_json 'd["seq"]')"
	kp_until 50 kp_debug_has default/dns:p activeConnections '^0$' ||
	    kp_fail "-v $v: UDP flows did not expire"
	DEAD_CE=$(kp_debug default/dead:p connectErrors)
	kp_stop
	mv "$KP_LOG" "$KP_TMP/v$v.log"
	KP_LOG=$KP_TMP/v$v.log
}

# Seconds of the day of a klog line's time stamp.
secs() { awk '{ split($2, t, ":"); printf "%.6f\n", t[1]*3600 + t[2]*60 + t[3] }'; }

# -v 0.
run_at 0
L=$KP_TMP/v0.log
check_format "$L" "$KP_PID"
kp_check "-v 0: start-up line" grep -a -q -E '^I.{29}main\.c:[0-9]+\] kuproxy .* started' "$L"
kp_check "-v 0: a Service line" grep -a -q -E '^I.* default/web:p/TCP: proxy port [0-9]+' "$L"
kp_eq "-v 0: no sync summary" 0 "$(grep -a -c '] sync: ' "$L")"
kp_eq "-v 0: no per-connection line" 0 "$(per_conn "$L")"
dial="default/dead:p: connect to 198.18.1.4:8080 (attempt"
nerr=$(grep -a -c -F "$dial" "$L")
nE=$(grep -a -F "$dial" "$L" | grep -a -c '^E')
kp_log "failed dials: $DEAD_CE, logged: $nerr"
grep -a -F "$dial" "$L" | head -n 3 | while read -r l; do kp_log "  $l"; done
kp_ge "-v 0: failed dials logged" 1 "$nerr"
kp_eq "-v 0: failed dials are E lines" "$nerr" "$nE"
held=$(grep -a -F "$dial" "$L" | sed -n 's/.* (\([0-9]*\) similar lines not logged)$/\1/p' |
    awk '{ s += $1 } END { print s + 0 }')
kp_check "-v 0: fewer lines than failed dials ($nerr < $DEAD_CE)" \
    [ "$nerr" -lt "$DEAD_CE" ]
kp_check "-v 0: lines + those said held back <= failed dials ($nerr + $held <= $DEAD_CE)" \
    [ $((nerr + held)) -le "$DEAD_CE" ]
kp_ge "-v 0: the held-back count is told" 1 "$held"
# At most one a second (90 ms of slack between the clock the limiter
# reads and the one the header shows).
gap=$(grep -a -F "$dial" "$L" | secs |
    awk 'NR > 1 { d = $1 - p; if (m == "" || d < m) m = d } { p = $1 } END { print (m == "" ? 9 : m) }')
kp_check "-v 0: failed-dial lines at least ~1 s apart (min gap $gap s)" \
    awk -v g="$gap" 'BEGIN { exit !(g >= 0.91) }'

# -v 2.
run_at 2
L=$KP_TMP/v2.log
check_format "$L" "$KP_PID"
kp_ge "-v 2: sync summaries" 1 "$(grep -a -c '] sync: [0-9]* service ports' "$L")"
kp_ge "-v 2: rule sync summaries" 1 "$(grep -a -c '] IPv4 rules applied in' "$L")"
kp_eq "-v 2: no per-connection line" 0 "$(per_conn "$L")"
kp_ge "-v 2: failed dials still logged" 1 "$(grep -a -c -F "$dial" "$L")"

# -v 4.
run_at 4
L=$KP_TMP/v4.log
check_format "$L" "$KP_PID"
cli="\[::ffff:${KP_CLI_IP//./\\.}\]:[0-9]+"
n=$(grep -a -c -E "^I.* proxy_tcp\.c:[0-9]+\] proxy_conn_close: default/web:p: $cli -> 198\.18\.1\.[23]:8080: " "$L")
kp_ge "-v 4: a line per relayed TCP connection" 10 "$n"
n=$(grep -a -c -E "^I.* proxy_udp\.c:[0-9]+\] udp_flow_close: default/dns:p: $cli -> 198\.18\.1\.2:5353: " "$L")
kp_ge "-v 4: a line per UDP flow" 3 "$n"
kp_eq "-v 4: every failed dial logged (E or V(4))" "$DEAD_CE" \
    "$(grep -a -c -F "$dial" "$L")"

# --logtostderr=false --log-file: klog's four header lines, then every
# line; on stderr only the E lines (--stderrthreshold defaults to ERROR).
F=$KP_TMP/file.log
run_at 0 --logtostderr=false --log-file "$F"
L=$KP_TMP/v0.log
kp_check "--log-file: klog's file header" \
    grep -q '^Log file created at: [0-9]\{4\}/[0-9][0-9]/[0-9][0-9] ' "$F"
kp_eq "--log-file: the header's last line" \
    "Log line format: [IWEF]mmdd hh:mm:ss.uuuuuu threadid file:line] msg" \
    "$(sed -n 4p "$F")"
tail -n +5 "$F" >"$KP_TMP/file-lines.log"
check_format "$KP_TMP/file-lines.log" "$KP_PID"
kp_check "--log-file: the start-up line is in the file" \
    grep -a -q -E '^I.{29}main\.c:[0-9]+\] kuproxy .* started' "$F"
kp_ge "--log-file: the failed dials are in the file" 1 \
    "$(grep -a -c -F "$dial" "$F")"
kp_ge "--log-file: E lines on stderr too" 1 "$(grep -a -c '^E' "$L")"
kp_eq "--log-file: nothing but E lines on stderr" 0 \
    "$(grep -a -c -v '^E' "$L")"
kp_finish
