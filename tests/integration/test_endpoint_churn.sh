#!/bin/bash
# test_endpoint_churn (issue 10): connections flow (bursts of 20 new
# connections every 0.4 s, 800 in all) while the endpoints churn: the
# backends b3 and b4 are stopped and restarted in turn, and the endpoint
# list is rewritten every few seconds, sometimes with a refusing address
# (198.18.1.5: assigned, nothing listens) and a black hole (198.18.1.9:
# ARP never answers).  b2 is never stopped and always listed, so a live
# endpoint is listed at every moment, and at most 3 listed addresses are
# dead at once (the stopped backend, .5, .9): a connection whose 4 dial
# attempts never go back to an address it already tried (while an
# untried one is listed) always reaches a live backend.  Not one new
# connection may be reset or go unanswered.
#
# A backend is stopped as a draining pod stops (kp_backend_stop): no
# connection its kernel already accepted is reset, so every client
# failure is the proxy's.  The p99 connect-to-answer time is logged, not
# asserted.
. "$(dirname "$0")/lib.sh"
kp_init endpoint_churn
kp_topology
# A refusing address: assigned in the pod namespace, nothing listens.
ip -n "$KP_POD" addr add 198.18.1.5/24 dev vnode || kp_die "addr 198.18.1.5"
kp_backend hello b2@198.18.1.2:8080
kp_backend hello b3@198.18.1.3:8080
pid3=$KP_BACKEND_PID
kp_backend hello b4@198.18.1.4:8080
pid4=$KP_BACKEND_PID

KP_SVCFILE=$KP_TMP/services.yaml
# eps IP...: rewrite the Service's endpoint list.
eps() {
	{
		kp_svc web 198.19.0.10 80 TCP 8080
		kp_eps web 8080 TCP "$@"
	} | kp_replace "$KP_SVCFILE"
	kp_log "endpoints: $*"
}
{
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.2 198.18.1.3 198.18.1.4
} >"$KP_SVCFILE"
kp_start
port=$(kp_wait_svc default/web:p 3) || kp_die "service default/web:p never appeared"

kp_burst "$KP_CLI" --target "$KP_NODE_IP:$port" --bursts 40 --size 20 \
    --interval 0.4 --timeout 8 >"$KP_TMP/burst.json" &
bpid=$!
KP_PIDS="$KP_PIDS $bpid"

# The churn: 13 steps, about 1 s apart, while the bursts run.
sleep 0.5
for step in 1 2 3 4 5 6 7 8 9 10 11 12 13; do
	case $step in
	1 | 8)
		kp_backend_stop "$pid3"
		kp_log "b3 stopped"
		;;
	3 | 10)
		kp_backend hello b3@198.18.1.3:8080
		pid3=$KP_BACKEND_PID
		kp_log "b3 restarted"
		;;
	4 | 11)
		kp_backend_stop "$pid4"
		kp_log "b4 stopped"
		;;
	6 | 13)
		kp_backend hello b4@198.18.1.4:8080
		pid4=$KP_BACKEND_PID
		kp_log "b4 restarted"
		;;
	2 | 12) eps 198.18.1.2 198.18.1.3 198.18.1.4 198.18.1.5 198.18.1.9 ;;
	5) eps 198.18.1.4 198.18.1.9 198.18.1.2 198.18.1.3 ;;
	7) eps 198.18.1.2 198.18.1.3 198.18.1.4 198.18.1.5 ;;
	9) eps 198.18.1.9 198.18.1.5 198.18.1.3 198.18.1.2 198.18.1.4 ;;
	esac
	sleep 1
done
wait "$bpid"
res=$(cat "$KP_TMP/burst.json")
kp_burst_verdict "$res" 800 b2 b3 b4
kp_check "kuproxy still running" kp_alive

kp_log "kuproxy's closes by reason:"
kp_close_reasons | while read -r line; do kp_log "  $line"; done
ce=$(kp_metric 'kuproxy_service_connect_errors_total{service="default/web:p",protocol="TCP"}')
kp_log "kuproxy_service_connect_errors_total: ${ce:-(absent)}"
kp_ge "the dead endpoints were dialled (connectErrors)" 1 \
    "$(kp_debug default/web:p connectErrors)"
kp_check_ejections default/web:p
kp_finish
