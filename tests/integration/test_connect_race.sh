#!/bin/bash
# test_connect_race (issue 10): the connect-completion race.  When the ARP
# entry of a black-holed endpoint (198.18.1.9, owned by nobody) fails, the
# kernel reports EHOSTUNREACH to every socket still connecting to it; with
# ICMP rate limiting off (in the node namespace only) that is many sockets
# within a millisecond.  A proxy that takes a wakeup for a connect's
# completion without the socket being connected relays the client to
# nothing: the client sees a reset or an EOF without an answer.  Large
# bursts (40 concurrent new connections every 0.4 s, 1200 in all) to a
# Service listing two live endpoints (b2, b3), a refusing address
# (198.18.1.4) and the black hole: every connection must be answered, by
# a live backend.  With 4 dial attempts and 2 dead endpoints, a proxy
# whose retries never go back to an endpoint the connection already
# tried always reaches a live one.  kuproxy's closes by reason and the
# attempts that failed with EHOSTUNREACH are logged (how often an ARP
# failure hit connecting sockets); the p99 connect-to-answer time too.
# See docs/investigations/connect-race.md.
. "$(dirname "$0")/lib.sh"
kp_init connect_race
kp_topology
kp_backend hello b2@198.18.1.2:8080 b3@198.18.1.3:8080

# An ARP failure reports EHOSTUNREACH through a locally generated ICMP
# error: no per-destination rate limit (icmp_ratelimit has been per
# namespace for long), and a global budget big enough for every socket
# (icmp_msgs_per_sec and icmp_msgs_burst are per namespace since Linux
# 6.12: before that they are left alone, being the whole host's).
kp_node sysctl -qw net.ipv4.icmp_ratelimit=0 ||
    kp_die "sysctl net.ipv4.icmp_ratelimit=0 in $KP_NODE"
kver=$(uname -r)
kmaj=${kver%%.*}
kmin=${kver#*.}
kmin=${kmin%%[!0-9]*}
if [ "$kmaj" -gt 6 ] || { [ "$kmaj" -eq 6 ] && [ "$kmin" -ge 12 ]; }; then
	kp_node sysctl -qw net.ipv4.icmp_msgs_per_sec=100000 \
	    net.ipv4.icmp_msgs_burst=10000 ||
	    kp_die "sysctl icmp_msgs_per_sec/icmp_msgs_burst in $KP_NODE"
else
	kp_log "kernel $kver: icmp_msgs_per_sec/burst are global, not raised"
fi

KP_SVCFILE=$KP_TMP/services.yaml
{
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.2 198.18.1.3 198.18.1.4 198.18.1.9
} >"$KP_SVCFILE"
kp_start
port=$(kp_wait_svc default/web:p 4) || kp_die "service default/web:p never appeared"

res=$(kp_burst "$KP_CLI" --target "$KP_NODE_IP:$port" --bursts 30 \
    --size 40 --interval 0.4 --timeout 8)
kp_burst_verdict "$res" 1200 b2 b3
kp_check "kuproxy still running" kp_alive

kp_log "kuproxy's closes by reason:"
kp_close_reasons | while read -r line; do kp_log "  $line"; done
kp_log "connect attempts that failed with EHOSTUNREACH (ARP failures):" \
    "$(grep -a -c 'attempt [0-9]*): No route to host' "$KP_LOG")"
kp_check_ejections default/web:p
kp_finish
