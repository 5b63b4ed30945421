#!/bin/bash
# test_bad_file: a services file that fails to parse (malformed YAML), and
# one with an invalid Service (port 70000), are each rejected with a log
# line naming FILE:LINE; kuproxy keeps running and keeps serving the
# previous state.  A good file afterwards is accepted again.
. "$(dirname "$0")/lib.sh"
kp_init bad_file
kp_topology
kp_backend id b2@198.18.1.2:8080 b3@198.18.1.3:8080 b4@198.18.1.4:8080

KP_SVCFILE=$KP_TMP/services.yaml
good() {
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.2 198.18.1.3 198.18.1.4
}
good >"$KP_SVCFILE"
kp_start
port=$(kp_wait_svc default/web:p 3) || kp_die "service default/web:p never appeared"

# serves: does the previous state still serve on the same port?
serves() {
	local what=$1

	kp_check "$what: kuproxy still running" kp_alive
	kp_eq "$what: same proxy port" "$port" "$(kp_debug default/web:p proxyPort)"
	kp_eq "$what: previous endpoints still serve" '["b2", "b3", "b4"]' \
	    "$(kp_client "$KP_CLI" dist --target "$KP_NODE_IP:$port" --count 3 |
	    kp_json 'sorted(d["counts"])')"
}

# rejection N: wait (3 s) for the Nth rejection line; print it.
nrej() { grep -c 'services file rejected' "$KP_LOG"; }
rejection() {
	kp_until 30 sh -c "[ \$(grep -c 'services file rejected' '$KP_LOG') -ge $1 ]" ||
	    return 1
	grep 'services file rejected' "$KP_LOG" | sed -n "${1}p"
}
# line_of MSG: the LINE in "FILE:LINE:" of a rejection message.
line_of() {
	echo "$1" | sed -n "s|.*services file rejected, keeping previous state: $KP_SVCFILE:\([0-9][0-9]*\):.*|\1|p"
}

# 1. Malformed YAML: "name: web: x" is a mapping value where none is
# allowed, on the known line $badline of the file.
n=$(nrej)
good | sed 's/^  name: web$/  name: web: x/' >"$KP_TMP/bad1.yaml"
badline=$(grep -n 'name: web: x' "$KP_TMP/bad1.yaml" | head -n1 | cut -d: -f1)
kp_replace "$KP_SVCFILE" <"$KP_TMP/bad1.yaml"
msg=$(rejection $((n + 1))) || kp_fail "no rejection logged for malformed YAML"
kp_log "malformed: $msg"
line=$(line_of "$msg")
if [ -n "$line" ]; then
	kp_ok "rejection names $KP_SVCFILE:$line"
else
	kp_fail "rejection does not name $KP_SVCFILE:LINE: '$msg'"
fi
kp_eq "rejection points at the malformed line" "$badline" "$line"
serves "malformed YAML"

# 2. A Service with port 70000.
n=$(nrej)
good | sed 's/^    port: 80$/    port: 70000/' >"$KP_TMP/bad2.yaml"
svc_first=$(grep -n '^kind: Service' "$KP_TMP/bad2.yaml" | head -n1 | cut -d: -f1)
svc_last=$(grep -n '^kind: Endpoints' "$KP_TMP/bad2.yaml" | head -n1 | cut -d: -f1)
svc_last=$((svc_last - 2))	# the "---" before the Endpoints
portline=$(grep -n 'port: 70000' "$KP_TMP/bad2.yaml" | cut -d: -f1)
kp_replace "$KP_SVCFILE" <"$KP_TMP/bad2.yaml"
msg=$(rejection $((n + 1))) || kp_fail "no rejection logged for port 70000"
kp_log "port 70000: $msg (Service on lines $((svc_first - 2))-$svc_last, port on $portline)"
line=$(line_of "$msg")
if [ -n "$line" ] && [ "$line" -ge $((svc_first - 2)) ] &&
    [ "$line" -le "$svc_last" ]; then
	kp_ok "rejection names $KP_SVCFILE:$line, inside the bad Service"
else
	kp_fail "rejection does not name a line of the bad Service ($((svc_first - 2))-$svc_last): '$msg'"
fi
case $msg in
*port*) kp_ok "rejection names the port field" ;;
*) kp_fail "rejection does not mention the port: '$msg'" ;;
esac
serves "port 70000"

# 3. A good file with a change is accepted after the rejections.
{
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.3
} | kp_replace "$KP_SVCFILE"
if kp_until 30 kp_debug_has default/web:p endpoints '^\["198.18.1.3:8080"\]$'; then
	kp_ok "good file accepted after rejections"
else
	kp_fail "good file not applied within 3 s: $(kp_debug default/web:p endpoints)"
fi
kp_eq "new state serves" '{"b3": 2}' "$(kp_client "$KP_CLI" dist \
    --target "$KP_NODE_IP:$port" --count 2 | kp_json 'd["counts"]')"
kp_finish
