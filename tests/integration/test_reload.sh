#!/bin/bash
# test_reload: the services file changes under a running kuproxy.
#  - a new file moved over the old one (new endpoints list) is picked up
#    within 3 s: new connections reach only the new endpoint;
#  - a connection established before the change keeps relaying;
#  - SIGHUP re-reads the file: the path is turned into a symlink whose
#    target lives in another directory, and the target is replaced there,
#    where a watch on the services file's directory sees nothing.
. "$(dirname "$0")/lib.sh"
kp_init reload
kp_topology
kp_backend hello b2@198.18.1.2:8080 b3@198.18.1.3:8080 b4@198.18.1.4:8080

mkdir -p "$KP_TMP/etc" "$KP_TMP/data"
KP_SVCFILE=$KP_TMP/etc/services.yaml
# services IP...: the file's content with these endpoints for web.
services() {
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP "$@"
}
services 198.18.1.2 198.18.1.3 >"$KP_SVCFILE"
kp_start
port=$(kp_wait_svc default/web:p 2) || kp_die "service default/web:p never appeared"

# counts N: the id distribution of N new connections.
counts() {
	kp_client "$KP_CLI" dist --target "$KP_NODE_IP:$port" --count "$1" |
	    kp_json 'd["counts"]'
}
kp_eq "before the change" '{"b2": 2, "b3": 2}' "$(counts 4)"

# One established connection through the proxy, held across the changes.
mkfifo "$KP_TMP/ctl"
kp_client "$KP_CLI" hold --target "$KP_NODE_IP:$port" --count 1 --hello \
    <"$KP_TMP/ctl" >"$KP_TMP/hold.out" 2>&1 &
KP_PIDS="$KP_PIDS $!"
exec 7>"$KP_TMP/ctl"
kp_until 50 grep -q '^HELD' "$KP_TMP/hold.out" || kp_die "hold client did not report"
kp_eq "established connection relayed" "HELD ok=1" \
    "$(grep -o '^HELD ok=[0-9]*' "$KP_TMP/hold.out")"

# only_b4: do new connections reach only the new endpoint?
only() { [ "$(counts 2)" = "{\"$1\": 2}" ]; }
t0=$(date +%s%N)
services 198.18.1.4 | kp_replace "$KP_SVCFILE"
if kp_until 30 only b4; then
	kp_ok "new endpoint in use after $((($(date +%s%N) - t0) / 1000000)) ms"
else
	kp_fail "new endpoints not in use within 3 s: $(counts 3)"
fi
kp_eq "proxy port unchanged" "$port" "$(kp_debug default/web:p proxyPort)"
kp_eq "after the change" '{"b4": 6}' "$(counts 6)"

echo check >&7
kp_until 50 grep -q '^CHECK' "$KP_TMP/hold.out"
kp_eq "established connection still relays after the change" "CHECK ok=1" \
    "$(grep -o '^CHECK ok=[0-9]*' "$KP_TMP/hold.out" | tail -n1)"

# SIGHUP.  First make the path a symlink (same content: nothing changes).
services 198.18.1.4 >"$KP_TMP/data/services.yaml"
ln -s "$KP_TMP/data/services.yaml" "$KP_TMP/etc/services.yaml.lnk"
mv -f "$KP_TMP/etc/services.yaml.lnk" "$KP_SVCFILE"
sleep 1
services 198.18.1.2 198.18.1.3 198.18.1.4 >"$KP_TMP/data/services.yaml.new"
mv -f "$KP_TMP/data/services.yaml.new" "$KP_TMP/data/services.yaml"
sleep 0.5
if kp_debug_has default/web:p endpoints 198.18.1.2; then
	kp_log "note: the change was applied before SIGHUP (watch follows symlinks)"
fi
t0=$(date +%s%N)
kill -HUP "$KP_PID"
if kp_until 20 kp_debug_has default/web:p endpoints 198.18.1.2; then
	kp_ok "SIGHUP reload applied after $((($(date +%s%N) - t0) / 1000000)) ms"
else
	kp_fail "SIGHUP did not reload within 2 s: $(kp_debug default/web:p endpoints)"
fi
kp_eq "after SIGHUP" '["b2", "b3", "b4"]' "$(kp_client "$KP_CLI" dist \
    --target "$KP_NODE_IP:$port" --count 3 | kp_json 'sorted(d["counts"])')"
kp_check "kuproxy survived SIGHUP" kp_alive

echo check >&7
kp_until 50 sh -c "grep -c '^CHECK' '$KP_TMP/hold.out' | grep -qx 2"
kp_eq "established connection still relays after SIGHUP" "CHECK ok=1" \
    "$(grep -o '^CHECK ok=[0-9]*' "$KP_TMP/hold.out" | tail -n1)"
echo release >&7
exec 7>&-
kp_finish
