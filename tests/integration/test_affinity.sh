#!/bin/bash
# test_affinity: sessionAffinity ClientIP.
#  - 10 connections from one client IP all reach one backend;
#  - a second client IP (198.18.2.3) is pinned to another backend (a new
#    pin takes the next endpoint in round-robin order);
#  - with timeoutSeconds: 2, a pin survives 0.8 s of idleness but not 3.5 s:
#    the next connection then goes to the next endpoint in RR order.
# The 2 s Service is written with its Endpoints *before* the Service (the
# usual informer order), which in kube-proxy 1.20 made the custom timeout
# ineffective (stuck at 10800 s); kuproxy must honour it.
. "$(dirname "$0")/lib.sh"
kp_init affinity
kp_topology
kp_backend id b2@198.18.1.2:8080 b3@198.18.1.3:8080 b4@198.18.1.4:8080

KP_SVCFILE=$KP_TMP/services.yaml
{
	kp_svc sticky 198.19.0.20 80 TCP 8080 -
	kp_eps sticky 8080 TCP 198.18.1.2 198.18.1.3 198.18.1.4
	kp_eps short 8080 TCP 198.18.1.2 198.18.1.3 198.18.1.4
	kp_svc short 198.19.0.21 80 TCP 8080 2
} >"$KP_SVCFILE"
kp_start
p1=$(kp_wait_svc default/sticky:p 3) || kp_die "service default/sticky:p never appeared"
p2=$(kp_wait_svc default/short:p 3) || kp_die "service default/short:p never appeared"

# one_backend RESULT: the single id a dist result reached, or "mixed".
one_backend() {
	echo "$1" | kp_json \
	    'list(d["counts"])[0] if len(d["counts"]) == 1 and d["ok"] == d["counts"][list(d["counts"])[0]] else "mixed:" + json.dumps(d["counts"])'
}

# Part 1: two client IPs, default timeout.
r1=$(kp_client "$KP_CLI" dist --target "$KP_NODE_IP:$p1" --count 10 \
    --bind "$KP_CLI_IP")
kp_log "client $KP_CLI_IP: $r1"
a1=$(one_backend "$r1")
kp_eq "10 connections from $KP_CLI_IP" 10 "$(echo "$r1" | kp_json 'd["ok"]')"
case $a1 in
b[234]) kp_ok "client $KP_CLI_IP pinned to $a1" ;;
*) kp_fail "client $KP_CLI_IP not pinned: $a1" ;;
esac
r2=$(kp_client "$KP_CLI" dist --target "$KP_NODE_IP:$p1" --count 10 \
    --bind "$KP_CLI_IP2")
kp_log "client $KP_CLI_IP2: $r2"
a2=$(one_backend "$r2")
case $a2 in
b[234]) kp_ok "client $KP_CLI_IP2 pinned to $a2" ;;
*) kp_fail "client $KP_CLI_IP2 not pinned: $a2" ;;
esac
if [ "$a1" != "$a2" ]; then
	kp_ok "second client IP pinned to another backend"
else
	kp_fail "both client IPs pinned to $a1 (a new pin should take the next endpoint in RR order)"
fi
# The first client is still pinned after the second one arrived.
r3=$(kp_client "$KP_CLI" dist --target "$KP_NODE_IP:$p1" --count 3 \
    --bind "$KP_CLI_IP")
kp_eq "first client still pinned" "$a1" "$(one_backend "$r3")"

# Part 2: timeoutSeconds 2 on the other Service.
eps=$(kp_debug default/short:p endpoints)
kp_log "short endpoints (kuproxy's order): $eps"
# One process makes the 4 connections, so the idle gaps are what the
# test says (process start-up under load would stretch them): a pin is
# refreshed on use, so gaps are measured between connection starts.
res=$(kp_client "$KP_CLI" dist --target "$KP_NODE_IP:$p2" --count 4 \
    --bind "$KP_CLI_IP" --delays 0.8,3.5,0)
kp_log "short: $res"
read -r s1 s2 s3 s4 <<<"$(echo "$res" | kp_json '" ".join(d["seq"])')"
read -r g1 g2 <<<"$(echo "$res" | kp_json '" ".join(str(g) for g in d["gaps"][:2])')"
kp_log "short: first $s1, after $g1 s $s2, after $g2 s idle $s3, then $s4"
if awk -v g="$g1" 'BEGIN { exit !(g < 1.8) }'; then
	kp_eq "pin kept after $g1 s idle (timeout 2 s)" "$s1" "$s2"
else
	kp_fail "machine too slow: a 0.8 s pause took $g1 s"
fi
next=$(echo "$eps" | kp_json "(lambda ids: ids[(ids.index('$s1') + 1) % len(ids)])(['b' + e.split(':')[0].split('.')[-1] for e in d])" 2>/dev/null)
if [ "$s3" != "$s1" ]; then
	kp_ok "pin expired after $g2 s idle ($s1 -> $s3)"
else
	kp_fail "pin did not expire after $g2 s idle with timeoutSeconds 2 (still $s1)"
fi
kp_eq "expired client moves to the next endpoint in RR order" "$next" "$s3"
kp_eq "new pin holds" "$s3" "$s4"
kp_check "kuproxy still running" kp_alive
kp_finish
