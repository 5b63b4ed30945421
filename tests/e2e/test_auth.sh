#!/bin/bash
# test_auth: kuproxy authenticates with a client certificate (files and
# inline data) and with a token (inline and tokenFile); a kubeconfig with
# the wrong CA, a bad token or an untrusted client certificate is refused
# with a clear error in kuproxy's log and installs nothing.  No secret
# is ever logged.
. "$(dirname "$0")/lib.sh"
ke_init auth
kp_backend id b2@198.18.1.2:8080

ke_service web 198.19.0.10 80 TCP 8080
ke_backends web 8080 TCP 198.18.1.2

# refused AUTH PATTERN: kuproxy with that kubeconfig logs PATTERN (ERE,
# case-insensitive) within 15 s and never lists the Service.
refused() {
	local auth=$1 pat=$2 from

	ke_kubeconfig "$KP_TMP/kc-$auth" "$auth"
	from=0
	[ -n "$KP_LOG" ] && [ -f "$KP_LOG" ] && from=$(wc -l <"$KP_LOG")
	# Exiting on a permanent error or retrying are both fine here.
	KE_MAY_EXIT=1 ke_kuproxy "$KP_TMP/kc-$auth" ||
	    kp_log "$auth: kuproxy exited ($(tail -n 1 "$KP_LOG"))"
	if ke_wait 15 eval 'tail -n +$((from + 1)) "$KP_LOG" | grep -qiE "$pat"'; then
		kp_ok "$auth refused: $(tail -n +$((from + 1)) "$KP_LOG" |
		    grep -iE -m1 "$pat")"
	else
		kp_fail "$auth: no error matching /$pat/ in kuproxy's log"
		tail -n +$((from + 1)) "$KP_LOG" | tail -n 10 >&2
	fi
	if kp_alive; then
		kp_debug default/web:p >/dev/null 2>&1
		kp_eq "$auth: Service not listed (client.py exit 3)" 3 "$?"
	fi
	kp_eq "$auth: no rules installed" 0 "$(ke_rules default/web:p)"
	ke_kuproxy_stop
}

# accepted AUTH: kuproxy with that kubeconfig lists the Service and the
# ClusterIP answers.
accepted() {
	ke_kubeconfig "$KP_TMP/kc-$1" "$1"
	ke_kuproxy "$KP_TMP/kc-$1"
	kp_check "$1: Service listed" eval 'kp_wait_svc default/web:p 1 >/dev/null'
	kp_check "$1: ClusterIP answers" ke_wait_ids 20 "$KP_POD" 198.19.0.10:80 2 "b2"
	ke_kuproxy_stop
}

refused wrongca 'certificate'
refused badtoken '401|unauthori[sz]ed'
refused stranger '401|unauthori[sz]ed|certificate|tls|ssl'
accepted cert
accepted certdata
accepted token
accepted tokenfile

for s in "$KE_PROXY_TOKEN" "$(sed -n 2p "$KE_PKI/kube-proxy.key")"; do
	kp_check "secret not in kuproxy's log" eval '! grep -qF -- "$s" "$KP_LOG"'
done
kp_finish
