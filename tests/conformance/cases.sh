# shellcheck shell=bash disable=SC2034 # (variables read through eval or by run.sh)
# cases.sh: the conformance cases.  Each case_NAME makes its own
# Services (ClusterIPs 198.19.1.N), runs the same probe against
# kube-proxy 1.20 (kp) and kuproxy (ku), and asserts either the same
# result for both (cf_same), or kube-proxy's documented behaviour for kp
# and kuproxy's documented improvement for ku (cf_differ), so a change
# on either side fails.  It deletes its Services at the end.  Sourced by
# run.sh after lib.sh.

CASES="clusterip host_clusterip named_ports unnamed_port no_endpoints
no_endpoints_udp notready_only affinity affinity_timeout
affinity_svc_first udp_small udp_1472 udp_8k udp_64k nodeport
nodeport_host externalip lb_ingress headless externalname
no_selector endpoint_churn endpoint_replaced service_update
service_delete halfclose dead_endpoints multiproto ports100
stale_rule health_endpoints kubernetes restart"

# --- probes taking SIDE first (for cf_same / cf_differ / cf_await) ----

# p_count SIDE TARGET N [ARGS]: N connections from the client, counted.
p_count() { cf_probe "$1" count --target "$2" --count "$3" "${@:4}"; }
# p_seq SIDE TARGET N [ARGS]: their outcomes in order.
p_seq() { cf_probe "$1" tcp --target "$2" --count "$3" "${@:4}"; }
# h_count SIDE TARGET N [ARGS]: N connections from the node itself.
h_count() { cf_hprobe "$1" count --target "$2" --count "$3" "${@:4}"; }
# p_udp SIDE TARGET SIZE N: N datagrams of SIZE bytes.
p_udp() { cf_probe "$1" udp --target "$2" --size "$3" --count "$4" --timeout 1; }
# p_nrules SIDE COMMENT: the number of nat rules for a service port.
p_nrules() { cf_nrules "$1" "$2"; }
# p_nodeport SIDE PORT N: N connections to SIDE's node IP:PORT.
p_nodeport() {
	local ip

	eval "ip=\$CF_NODEIP_$1"
	p_count "$1" "$ip:$2" "$3"
}
h_nodeport() {
	local ip

	eval "ip=\$CF_NODEIP_$1"
	h_count "$1" "$ip:$2" "$3"
}

# --- cases -----------------------------------------------------------

# A ClusterIP with three endpoints, from a pod (the client namespace):
# round-robin, 4 connections each.
case_clusterip() {
	cf_svc rr --cip 198.19.1.1 --port p/80/TCP
	cf_eps rr p/8080/TCP=198.18.1.2,198.18.1.3,198.18.1.4
	cf_await 20 "b2=1 b3=1 b4=1" p_count 198.19.1.1:80 3
	cf_same "12 connections round-robin over 3 endpoints" \
	    "b2=4 b3=4 b4=4" p_count 198.19.1.1:80 12
	cf_del rr
}

# The same from the node itself (OUTPUT, DNAT to the node's address).
case_host_clusterip() {
	cf_svc hrr --cip 198.19.1.2 --port p/80/TCP
	cf_eps hrr p/8080/TCP=198.18.1.2,198.18.1.3,198.18.1.4
	cf_await 20 "b2=1 b3=1 b4=1" h_count 198.19.1.2:80 3
	cf_same "6 connections from the node over 3 endpoints" \
	    "b2=2 b3=2 b4=2" h_count 198.19.1.2:80 6
	cf_del hrr
}

# Two named ports; Endpoints match them by name, not by number or order.
case_named_ports() {
	cf_svc named --cip 198.19.1.3 --port http/80/TCP --port alt/81/TCP
	cf_eps named "alt/8081/TCP+http/8080/TCP=198.18.1.2,198.18.1.3"
	cf_await 20 "b2=1 b3=1" p_count 198.19.1.3:80 2
	cf_await 20 "a2=1 a3=1" p_count 198.19.1.3:81 2
	cf_same "port http (80) goes to 8080" "b2=2 b3=2" p_count 198.19.1.3:80 4
	cf_same "port alt (81) goes to 8081" "a2=2 a3=2" p_count 198.19.1.3:81 4
	cf_same "rules named default/named:http" 2 p_nrules default/named:http
	cf_same "rules named default/named:alt" 2 p_nrules default/named:alt
	cf_del named
}

# One port without a name: the comment is default/NAME, no ":port".
case_unnamed_port() {
	cf_svc unnamed --cip 198.19.1.4 --port /80/TCP
	cf_eps unnamed /8080/TCP=198.18.1.3
	cf_await 20 "b3=1" p_count 198.19.1.4:80 1
	cf_same "served" "b3=3" p_count 198.19.1.4:80 3
	cf_same "rules named default/unnamed" 2 p_nrules default/unnamed
	cf_del unnamed
}

# No Endpoints object, then one with no subsets: a TCP connection is
# accepted and closed at once (kube-proxy's accept-then-close, which
# kuproxy keeps: no REJECT).
case_no_endpoints() {
	cf_svc noeps --cip 198.19.1.5 --port p/80/TCP
	cf_await 20 2 p_nrules default/noeps:p
	cf_same "no Endpoints: accepted, then closed" "!eof !eof" \
	    p_seq 198.19.1.5:80 2
	cf_eps noeps
	sleep 1
	cf_same "Endpoints without subsets: accepted, then closed" "!eof !eof" \
	    p_seq 198.19.1.5:80 2
	cf_del noeps
}

# The same for UDP: the datagram is dropped, nothing answers.
case_no_endpoints_udp() {
	cf_svc noepsu --cip 198.19.1.6 --port p/53/UDP
	cf_eps noepsu
	cf_await 20 2 p_nrules default/noepsu:p
	cf_same "datagram to a UDP Service without endpoints" "!timeout" \
	    p_udp 198.19.1.6:53 16 1
	cf_del noepsu
}

# Only notReadyAddresses (ready: false in the slice): as no endpoints;
# one address turning ready is served.
case_notready_only() {
	cf_svc nready --cip 198.19.1.7 --port p/80/TCP
	cf_eps nready p/8080/TCP=198.18.1.2~,198.18.1.3~
	cf_await 20 2 p_nrules default/nready:p
	sleep 1
	cf_same "not-ready addresses only" "!eof=3" p_count 198.19.1.7:80 3
	cf_eps nready p/8080/TCP=198.18.1.2,198.18.1.3~
	cf_await 20 "b2=2" p_count 198.19.1.7:80 2
	cf_same "the ready one only" "b2=4" p_count 198.19.1.7:80 4
	cf_del nready
}

# sessionAffinity ClientIP: each client address pinned to one endpoint,
# two clients on two endpoints.
p_affinity() {
	local s1 s2 a b

	eval "s1=\$CF_SRC_$1 s2=\$CF_SRC2_$1"
	a=$(cf_probe "$1" count --target 198.19.1.8:80 --count 5 --bind "$s1")
	b=$(cf_probe "$1" count --target 198.19.1.8:80 --count 5 --bind "$s2")
	case $a/$b in
	b[23]=5/b[23]=5) [ "$a" != "$b" ] && echo "pinned, apart" && return ;;
	esac
	echo "$a / $b"
}
case_affinity() {
	cf_svc aff --cip 198.19.1.8 --port p/80/TCP --affinity -
	cf_eps aff p/8080/TCP=198.18.1.2,198.18.1.3
	cf_await 20 2 p_nrules default/aff:p
	cf_await 20 "pinned, apart" p_affinity
	cf_same "two clients, each pinned to its own endpoint" "pinned, apart" \
	    p_affinity
	cf_del aff
}

# timeoutSeconds: 2, Endpoints written before the Service (the usual
# order): kube-proxy 1.20 keeps 10800 s (#107398), kuproxy honours it.
p_aff_timeout() {
	local a b

	a=$(p_seq "$1" "$2" 1)
	sleep 3.5
	b=$(p_seq "$1" "$2" 1)
	case $a/$b in
	b[23]/b[23]) [ "$a" = "$b" ] && echo "still pinned" || echo "moved" ;;
	*) echo "$a / $b" ;;
	esac
}
case_affinity_timeout() {
	cf_eps afft p/8080/TCP=198.18.1.2,198.18.1.3
	sleep 2
	cf_svc afft --cip 198.19.1.9 --port p/80/TCP --affinity 2
	cf_await 20 2 p_nrules default/afft:p
	sleep 1
	cf_differ "3.5 s after the last connection, ClientIP timeoutSeconds 2" \
	    "still pinned" "moved" p_aff_timeout 198.19.1.9:80
	cf_del afft
}

# The same with the Service written first: kube-proxy 1.20 honours the
# timeout too (the bug above is the order only).
case_affinity_svc_first() {
	cf_svc afts --cip 198.19.1.32 --port p/80/TCP --affinity 2
	cf_await 20 2 p_nrules default/afts:p
	sleep 1
	cf_eps afts p/8080/TCP=198.18.1.2,198.18.1.3
	sleep 2
	cf_same "Service first: 3.5 s after the last connection, timeoutSeconds 2" \
	    "moved" p_aff_timeout 198.19.1.32:80
	cf_del afts
}

udp_case() {
	cf_svc "udp$1" --cip "198.19.1.$2" --port p/53/UDP
	cf_eps "udp$1" p/8080/UDP=198.18.1.2
	cf_await 20 "b2:ok" p_udp "198.19.1.$2:53" 16 1
}

case_udp_small() {
	udp_case small 10
	cf_same "16-byte datagrams" "b2:ok b2:ok b2:ok" p_udp 198.19.1.10:53 16 3
	cf_del udpsmall
}

case_udp_1472() {
	udp_case 1472 11
	cf_same "1472-byte datagrams (a full Ethernet frame)" "b2:ok b2:ok" \
	    p_udp 198.19.1.11:53 1472 2
	cf_del udp1472
}

# kube-proxy reads into 4096-byte buffers: both ways truncated.
case_udp_8k() {
	udp_case 8k 12
	cf_differ "8 KiB datagrams" "b2:short=4096 b2:short=4096" "b2:ok b2:ok" \
	    p_udp 198.19.1.12:53 8192 2
	cf_del udp8k
}

case_udp_64k() {
	udp_case 64k 13
	cf_differ "65,000-byte datagrams" "b2:short=4096 b2:short=4096" \
	    "b2:ok b2:ok" p_udp 198.19.1.13:53 65000 2
	cf_del udp64k
}

case_nodeport() {
	cf_svc np --cip 198.19.1.14 --type NodePort --port p/80/TCP/30080
	cf_eps np p/8080/TCP=198.18.1.2,198.18.1.3
	cf_await 20 "b2=1 b3=1" p_nodeport 30080 2
	cf_same "NodePort from a client" "b2=2 b3=2" p_nodeport 30080 4
	cf_same "ClusterIP of a NodePort Service" "b2=1 b3=1" \
	    p_count 198.19.1.14:80 2
	cf_del np
}

case_nodeport_host() {
	cf_svc nph --cip 198.19.1.15 --type NodePort --port p/80/TCP/30081
	cf_eps nph p/8080/TCP=198.18.1.2,198.18.1.3
	cf_await 20 "b2=1 b3=1" h_nodeport 30081 2
	cf_same "NodePort from the node itself (its address)" "b2=2 b3=2" \
	    h_nodeport 30081 4
	cf_same "NodePort from the node itself (127.0.0.1)" "b2=1 b3=1" \
	    h_count 127.0.0.1:30081 2
	cf_del nph
}

# An externalIP that is not the node's: served for clients; from the
# node itself kube-proxy has no rule for it (only for local ones).
case_externalip() {
	cf_svc ext --cip 198.19.1.16 --port p/80/TCP --external 198.18.30.10
	cf_eps ext p/8080/TCP=198.18.1.4
	cf_await 20 "b4=1" p_count 198.18.30.10:80 1
	cf_same "externalIP from a client" "b4=3" p_count 198.18.30.10:80 3
	cf_same "non-local externalIP from the node" "!timeout=1" \
	    h_count 198.18.30.10:80 1 --timeout 1
	cf_del ext
}

case_lb_ingress() {
	cf_svc lb --cip 198.19.1.17 --type LoadBalancer --port p/80/TCP/30082
	cf_lb lb 198.18.31.10
	cf_eps lb p/8080/TCP=198.18.1.4
	cf_await 20 "b4=1" p_count 198.18.31.10:80 1
	cf_same "LoadBalancer ingress IP from a client" "b4=3" \
	    p_count 198.18.31.10:80 3
	cf_same "LoadBalancer ingress IP from the node" "b4=2" \
	    h_count 198.18.31.10:80 2
	cf_same "its NodePort" "b4=2" p_nodeport 30082 2
	cf_del lb
}

# Headless (clusterIP None) with endpoints: no rule, nothing proxied.
case_headless() {
	cf_svc headless --cip None --port p/80/TCP
	cf_eps headless p/8080/TCP=198.18.1.2
	cf_svc control --cip 198.19.1.18 --port p/80/TCP
	cf_eps control p/8080/TCP=198.18.1.2
	cf_await 20 2 p_nrules default/control:p
	cf_same "rules for a headless Service" 0 p_nrules default/headless:p
	cf_del headless
	cf_del control
}

case_externalname() {
	cf_svc extname --external-name example.invalid --port p/80/TCP
	cf_svc control2 --cip 198.19.1.19 --port p/80/TCP
	cf_eps control2 p/8080/TCP=198.18.1.2
	cf_await 20 2 p_nrules default/control2:p
	cf_same "rules for an ExternalName Service" 0 p_nrules default/extname:p
	cf_del extname
	cf_del control2
}

# No selector and no Endpoints: a ClusterIP Service like any other
# (accept-then-close), served once Endpoints are written by hand.
case_no_selector() {
	cf_svc nosel --cip 198.19.1.20 --port p/80/TCP --no-selector
	cf_await 20 2 p_nrules default/nosel:p
	cf_same "no selector, no Endpoints" "!eof" p_seq 198.19.1.20:80 1
	cf_eps nosel p/8080/TCP=198.18.1.3
	cf_await 20 "b3=1" p_count 198.19.1.20:80 1
	cf_same "no selector, manual Endpoints" "b3=2" p_count 198.19.1.20:80 2
	cf_del nosel
}

# Endpoints 1 -> 3 -> 2 -> 0 -> 1.
case_endpoint_churn() {
	cf_svc churn --cip 198.19.1.21 --port p/80/TCP
	cf_eps churn p/8080/TCP=198.18.1.2
	cf_await 20 "b2=1" p_count 198.19.1.21:80 1
	cf_same "1 endpoint" "b2=3" p_count 198.19.1.21:80 3
	cf_eps churn p/8080/TCP=198.18.1.2,198.18.1.3,198.18.1.4
	cf_await 20 "b2=1 b3=1 b4=1" p_count 198.19.1.21:80 3
	cf_same "3 endpoints" "b2=2 b3=2 b4=2" p_count 198.19.1.21:80 6
	cf_eps churn p/8080/TCP=198.18.1.3,198.18.1.4
	cf_await 20 "b3=1 b4=1" p_count 198.19.1.21:80 2
	cf_same "2 endpoints" "b3=2 b4=2" p_count 198.19.1.21:80 4
	cf_eps churn
	cf_await 20 "!eof=1" p_count 198.19.1.21:80 1
	cf_same "0 endpoints" "!eof=2" p_count 198.19.1.21:80 2
	cf_eps churn p/8080/TCP=198.18.1.4
	cf_await 20 "b4=1" p_count 198.19.1.21:80 1
	cf_same "1 endpoint again" "b4=3" p_count 198.19.1.21:80 3
	cf_del churn
}

# p_hold_start SIDE TARGET [--udp]: a held connection (or UDP flow) in
# the background; p_hold_result SIDE lets it send again, prints how it
# went.
p_hold_start() {
	rm -f "$KP_TMP/hold-$1.ready" "$KP_TMP/hold-$1.go" "$KP_TMP/hold-$1.out"
	cf_probe "$1" hold --target "$2" --timeout 5 "${@:3}" \
	    --ready "$KP_TMP/hold-$1.ready" --go "$KP_TMP/hold-$1.go" \
	    >"$KP_TMP/hold-$1.out" &
	kp_wait_file "$KP_TMP/hold-$1.ready" 100 ||
	    cf_fail "$1: the held connection did not start: $(cat "$KP_TMP/hold-$1.out")"
}
p_hold_result() {
	touch "$KP_TMP/hold-$1.go"
	kp_until 100 test -s "$KP_TMP/hold-$1.out"
	cat "$KP_TMP/hold-$1.out"
}
# A held connection through a Service that is deleted, then new ones.
case_service_delete() {
	local s

	cf_svc del --cip 198.19.1.22 --port p/80/TCP
	cf_eps del p/8083/TCP=198.18.1.2
	cf_await 20 2 p_nrules default/del:p
	sleep 1
	for s in $CF_SIDES; do
		p_hold_start "$s" 198.19.1.22:80
	done
	cf_del del
	cf_await 20 0 p_nrules default/del:p
	cf_same "rules after the delete" 0 p_nrules default/del:p
	cf_same "new connections after the delete" "!timeout" \
	    p_seq 198.19.1.22:80 1 --timeout 1
	cf_same "a connection made before the delete" "held" p_hold_result
}

# Endpoints replaced: a connection made before goes on (neither closes
# connections to an endpoint that is gone), new ones go to the new one.
case_endpoint_replaced() {
	local s

	cf_svc repl --cip 198.19.1.30 --port p/80/TCP
	cf_eps repl p/8083/TCP=198.18.1.2
	cf_await 20 2 p_nrules default/repl:p
	sleep 1
	for s in $CF_SIDES; do
		p_hold_start "$s" 198.19.1.30:80
	done
	cf_eps repl p/8080/TCP=198.18.1.3
	cf_await 20 "b3=1" p_count 198.19.1.30:80 1
	cf_same "new connections" "b3=2" p_count 198.19.1.30:80 2
	cf_same "the connection to the endpoint that left" "held" p_hold_result
	cf_del repl
}

# A Service changed (an externalIP added): kube-proxy closes the port's
# listener and opens a new proxy port (any change, "sameConfig"), and
# does not flush conntrack, so a UDP flow's next datagram still goes to
# the old port and is lost; kuproxy keeps the proxy port (only a
# protocol change replaces it) and the flow goes on.
p_svc_udp() {
	ke_must GET "$(cf_coll services)/upd" >/dev/null
	ke_must PUT "$(cf_coll services)/upd" "$(printf '%s' "$KE_LAST" |
	    "$KP_PY" -c 'import json, sys
d = json.load(sys.stdin)
d["spec"]["externalIPs"] = ["198.18.30.12"]
print(json.dumps(d))')" >/dev/null
}
case_service_update() {
	local s before_kp before_ku

	cf_svc upd --cip 198.19.1.31 --port p/53/UDP
	cf_eps upd p/8080/UDP=198.18.1.2
	cf_await 20 "b2:ok" p_udp 198.19.1.31:53 16 1
	before_kp=$(cf_pport kp default/upd:p)
	before_ku=$(cf_pport ku default/upd:p)
	for s in $CF_SIDES; do
		p_hold_start "$s" 198.19.1.31:53 --udp
	done
	p_svc_udp
	cf_await 20 5 p_nrules default/upd:p
	cf_same "rules with the externalIP" 5 p_nrules default/upd:p
	cf_same "a new UDP flow" "b2:ok" p_udp 198.19.1.31:53 16 1
	cf_expect "the proxy port after the change (kube-proxy 1.20's behaviour)" \
	    kp "new port" "$(p_port_kept kp "$before_kp" default/upd:p)"
	cf_expect "the proxy port after the change (kuproxy's improvement)" \
	    ku "same port" "$(p_port_kept ku "$before_ku" default/upd:p)"
	cf_differ "the UDP flow from before the change" "second:timeout" "held" \
	    p_hold_result
	cf_del upd
}

# shutdown(SHUT_WR) by the client: kube-proxy closes both ways at the
# first EOF (no half-close), kuproxy relays the half-close.
case_halfclose() {
	cf_svc half --cip 198.19.1.23 --port p/80/TCP
	cf_eps half p/8082/TCP=198.18.1.2
	cf_await 20 2 p_nrules default/half:p
	sleep 1
	cf_differ "send 100000 bytes, half-close, read the reply" \
	    "!eof" "h2_got_100000_bytes" \
	    cf_probe half --target 198.19.1.23:80 --bytes 100000 --timeout 5
	cf_del half
}

# p_conc_timed SIDE: 30 connections at once; the time taken is logged
# (a figure, never asserted).
p_conc_timed() {
	local t0 r

	t0=$(date +%s%N)
	r=$(cf_probe "$1" conc --target 198.19.1.24:80 --count 30 --timeout 60)
	cf_log "  ($1: 30 connections at once in $(kp_ms_since "$t0") ms)"
	echo "$r"
}

# One live, one refusing (nothing listens) and one black-holed endpoint,
# 30 connections at once: both retry the dial on another endpoint.
case_dead_endpoints() {
	cf_svc dead --cip 198.19.1.24 --port p/80/TCP
	cf_eps dead p/8080/TCP=198.18.1.2,198.18.1.6,198.18.1.7
	cf_await 20 2 p_nrules default/dead:p
	sleep 1
	cf_same "30 concurrent connections" "b2=30" p_conc_timed
	cf_del dead
}

# TCP and UDP on the same port number, two port names.
case_multiproto() {
	cf_svc mp --cip 198.19.1.25 --port dns-tcp/53/TCP --port dns/53/UDP
	cf_eps mp "dns-tcp/8080/TCP+dns/8080/UDP=198.18.1.3"
	cf_await 20 "b3=1" p_count 198.19.1.25:53 1
	cf_await 20 "b3:ok" p_udp 198.19.1.25:53 16 1
	cf_same "TCP 53" "b3=2" p_count 198.19.1.25:53 2
	cf_same "UDP 53" "b3:ok b3:ok" p_udp 198.19.1.25:53 16 2
	cf_del mp
}

p_manyrules() {
	cf_in "$1" iptables-save -t nat 2>/dev/null |
	    grep -cE -- '--comment "?default/many:q[0-9]+"? ' || true
}

# One Service with 100 ports q0..q99 (80..179 -> 9000..9099).
case_ports100() {
	local args=() eps='' targets='' want='' i

	for i in $(seq 0 99); do
		args+=(--port "q$i/$((80 + i))/TCP")
		eps="$eps+q$i/$((9000 + i))/TCP"
		targets="$targets,198.19.1.26:$((80 + i))"
		want="$want q$i"
	done
	cf_svc many --cip 198.19.1.26 "${args[@]}"
	cf_eps many "${eps#+}=198.18.1.5"
	cf_await 60 "q99" p_seq 198.19.1.26:179 1
	cf_same "each of the 100 ports to its own target port" "${want# }" \
	    p_seq "${targets#,}" 1
	cf_same "rules for the 100 ports" 200 p_manyrules
	cf_del many
}

# A rule in KUBE-PORTALS-CONTAINER that no Service asks for (left by a
# crash, a hand edit or an older version): kube-proxy only ever adds
# rules (ensurePortals, every sync period), kuproxy's periodic sync
# compares its chains with iptables-save and removes it (both run with
# --iptables-sync-period 10s here).
CF_STALE="-m comment --comment default/stale:p -p tcp -m tcp --dport 80 -d 198.19.9.9/32 -j REDIRECT --to-ports 1"
p_stale() { cf_nrules "$1" default/stale:p; }
case_stale_rule() {
	local s

	for s in $CF_SIDES; do
		# shellcheck disable=SC2086
		cf_in "$s" iptables -w 5 -t nat -A KUBE-PORTALS-CONTAINER $CF_STALE
	done
	cf_same "the stray rule, added by hand" 1 p_stale
	ke_wait 25 eval '[ "$(p_stale ku)" = 0 ]'
	cf_await 20 2 p_nrules default/kubernetes:https
	sleep 11
	cf_differ "the stray rule after a periodic sync (10 s)" 1 0 p_stale
	# shellcheck disable=SC2086
	cf_in kp iptables -w 5 -t nat -D KUBE-PORTALS-CONTAINER $CF_STALE 2>/dev/null
}

# What a DaemonSet's probes and a monitoring agent read: /proxyMode on
# the metrics address, /healthz on the healthz address once synced.
p_http() {
	cf_in "$1" curl -s -m 5 -o "$KP_TMP/http-$1.body" -w '%{http_code} ' \
	    "http://$2" 2>/dev/null
	head -c 40 "$KP_TMP/http-$1.body" | tr -d '\n'
}
case_health_endpoints() {
	cf_same "GET /proxyMode (metrics address)" "200 userspace" \
	    p_http 127.0.0.1:10249/proxyMode
	cf_same "GET /healthz (healthz address), status" "200" p_http_code \
	    127.0.0.1:10256/healthz
}
p_http_code() { p_http "$@" | cut -d" " -f1; }

# The apiserver's own Service, 198.19.0.1:443 -> 198.18.1.100:6443.
p_kubernetes() {
	local src

	eval "src=\$CF_SRC_$1"
	ip netns exec "$CF_CLI" curl -sS -m 5 -o /dev/null -w '%{http_code}' \
	    --interface "$src" --cacert "$KE_PKI/ca.crt" \
	    -H "Authorization: Bearer $KE_PROXY_TOKEN" \
	    https://198.19.0.1/readyz 2>>"$KP_TMP/probe.err"
}
case_kubernetes() {
	cf_same "kubernetes Service: GET /readyz through the proxy" 200 p_kubernetes
}

# Restart each proxy: both serve again; kuproxy rebinds the proxy port
# its rules point to (persisted), kube-proxy flushes its rules at start
# and opens a new random port.
p_port_kept() {
	local before=$2 after

	after=$(cf_pport "$1" "${3:-default/rst:p}")
	[ -n "$after" ] || { echo "no rule"; return; }
	[ "$after" = "$before" ] && echo "same port" || echo "new port"
}
case_restart() {
	local s before_kp before_ku

	cf_svc rst --cip 198.19.1.27 --port p/80/TCP
	cf_eps rst p/8080/TCP=198.18.1.2
	cf_await 20 "b2=1" p_count 198.19.1.27:80 1
	before_kp=$(cf_pport kp default/rst:p)
	before_ku=$(cf_pport ku default/rst:p)
	for s in $CF_SIDES; do
		cf_stop "$s"
	done
	cf_same "rules left by a proxy stopped with SIGTERM" 2 \
	    p_nrules default/rst:p
	cf_same "connections while it is stopped" "!refused" \
	    p_seq 198.19.1.27:80 1 --timeout 1
	for s in $CF_SIDES; do
		cf_start "$s"
	done
	cf_await 60 "b2=1" p_count 198.19.1.27:80 1
	cf_same "served after a restart" "b2=2" p_count 198.19.1.27:80 2
	cf_expect "proxy port after the restart (new, rules flushed)" kp \
	    "new port" "$(p_port_kept kp "$before_kp")"
	cf_expect "proxy port after the restart (kept, rules stay valid)" ku \
	    "same port" "$(p_port_kept ku "$before_ku")"
	cf_del rst
}

