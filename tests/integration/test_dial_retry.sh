#!/bin/bash
# test_dial_retry (issue 10): a Service lists two live endpoints (b2, b3),
# a refusing address (198.18.1.4: assigned, nothing listens on the port)
# and a black hole (198.18.1.9: owned by nobody, ARP never answers).
# Bursts of 20 concurrent new connections every 0.4 s, 520 in all: not one
# may be reset or go unanswered, and only live backends answer.  A
# connection has 4 dial attempts and only 2 dead endpoints exist, so a
# proxy whose retries never go back to an endpoint that connection
# already tried (while an untried one is listed) always reaches a live
# backend.  Before issue 10 the retries shared the round-robin cursor and
# a few connections in each few hundred were reset with "every connect
# attempt failed".  The p99 connect-to-answer time is logged, not asserted
# (the goal, under 300 ms once the dead endpoints are ejected, is no
# timed assertion).
. "$(dirname "$0")/lib.sh"
kp_init dial_retry
kp_topology
kp_backend hello b2@198.18.1.2:8080 b3@198.18.1.3:8080

KP_SVCFILE=$KP_TMP/services.yaml
{
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.2 198.18.1.3 198.18.1.4 198.18.1.9
} >"$KP_SVCFILE"
kp_start
port=$(kp_wait_svc default/web:p 4) || kp_die "service default/web:p never appeared"

res=$(kp_burst "$KP_CLI" --target "$KP_NODE_IP:$port" --bursts 26 \
    --size 20 --interval 0.4 --timeout 8)
kp_burst_verdict "$res" 520 b2 b3
kp_check "kuproxy still running" kp_alive

kp_log "kuproxy's closes by reason:"
kp_close_reasons | while read -r line; do kp_log "  $line"; done
ce=$(kp_metric 'kuproxy_service_connect_errors_total{service="default/web:p",protocol="TCP"}')
kp_log "kuproxy_service_connect_errors_total: ${ce:-(absent)}"
kp_ge "the dead endpoints were dialled (connectErrors)" 1 \
    "$(kp_debug default/web:p connectErrors)"
kp_check_ejections default/web:p
kp_finish
