#!/bin/bash
# test_kubeadm_config: kuproxy as a drop-in for kube-proxy 1.20, configured
# by the config.conf kubeadm 1.20 generates (tests/data/kube-proxy-1.20):
#
#  - `kuproxy -n --config config.conf` accepts it, and says which mode it
#    runs; a bad clusterCIDR is refused as kube-proxy refuses it;
#  - --write-config-to gives kube-proxy 1.20's own output byte for byte,
#    and when a kube-proxy 1.20 binary is at hand ($KUBE_PROXY, or the
#    one bench/build-kube-proxy.sh caches), kube-proxy decodes it
#    strictly (no "lenient decoding" warning) and writes it back the same;
#  - a real start in the node namespace with that file: the Service
#    works, the mode line is logged once, the process's oom_score_adj is
#    -999, nf_conntrack_tcp_timeout_established/close_wait are 86400/3600
#    inside the namespace while the root namespace's values are unchanged,
#    and nf_conntrack_max (read-only outside the initial namespace) is
#    skipped with one warning;
#  - --state-dir: missing parents are created (leaf 0700); a path that
#    cannot be a directory stops kuproxy at start with a clear message.
. "$(dirname "$0")/lib.sh"
kp_init kubeadm_config
KP_DATA=$KP_SRCDIR/tests/data/kube-proxy-1.20
CONF=$KP_DATA/kubeadm-config.conf
NF=/proc/sys/net/netfilter

kp_no_match() { ! grep -q "$1" "$2"; }

# --- Checks without a daemon. ------------------------------------------
out=$("$KUPROXY" -n --config "$CONF" --kubeconfig= --services-file \
    "$KP_SRCDIR/tests/data/svcfile-list.yaml" 2>&1)
rc=$?
kp_log "kuproxy -n: $out"
kp_eq "kubeadm's config.conf accepted by -n" 0 "$rc"
kp_check "-n names the mode it runs" grep -q \
    'proxy mode "" (kube-proxy would choose iptables): kuproxy runs userspace' \
    <<<"$out"

sed 's|^clusterCIDR: .*|clusterCIDR: 10.244.0.0/33|' "$CONF" >"$KP_TMP/bad.conf"
out=$("$KUPROXY" -n --config "$KP_TMP/bad.conf" --kubeconfig= 2>&1)
rc=$?
kp_eq "a bad clusterCIDR is refused" 1 "$rc"
kp_check "with kube-proxy's reason and the line" grep -q \
    'bad.conf:10: clusterCIDR: "10.244.0.0/33": must be a valid CIDR block' \
    <<<"$out"

"$KUPROXY" --config "$CONF" --write-config-to "$KP_TMP/written.yaml" \
    >/dev/null 2>&1
kp_check "--write-config-to writes what kube-proxy 1.20 writes" \
    cmp -s "$KP_DATA/kubeadm-config.out.yaml" "$KP_TMP/written.yaml"

kube_proxy=${KUBE_PROXY:-}
if [ -z "$kube_proxy" ]; then
	for f in /var/cache/kuproxy-testenv/*/kube-proxy; do
		[ -x "$f" ] && kube_proxy=$f
	done
fi
if [ -n "$kube_proxy" ] && "$kube_proxy" --version 2>/dev/null | grep -q 'v1\.20\.'; then
	# kuproxy's output of a config with every field set, fed back to
	# kube-proxy, which must decode it strictly and keep every value.
	"$KUPROXY" --config "$KP_DATA/cases/all-set.yaml" \
	    --write-config-to "$KP_TMP/all.yaml" >/dev/null 2>&1
	if "$kube_proxy" --config "$KP_TMP/all.yaml" --write-config-to \
	    "$KP_TMP/all.kp.yaml" >"$KP_TMP/kp.log" 2>&1; then
		kp_ok "kube-proxy 1.20 ($kube_proxy) accepts kuproxy's --write-config-to"
		kp_check "strictly (no lenient decoding)" \
		    kp_no_match lenient "$KP_TMP/kp.log"
		kp_check "and writes the same back" \
		    cmp -s "$KP_TMP/all.yaml" "$KP_TMP/all.kp.yaml"
	else
		kp_fail "kube-proxy 1.20 refuses kuproxy's --write-config-to: $(grep -a '^F' "$KP_TMP/kp.log")"
	fi
else
	kp_log "no kube-proxy 1.20 binary (KUBE_PROXY, bench/build-kube-proxy.sh): cross-check skipped"
fi

# --- A real start with kubeadm's file. ---------------------------------
kp_topology
kp_backend id b2@198.18.1.2:8080 b3@198.18.1.3:8080
KP_SVCFILE=$KP_TMP/services.yaml
{
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.2 198.18.1.3
} >"$KP_SVCFILE"

host_est=$(cat $NF/nf_conntrack_tcp_timeout_established 2>/dev/null)
host_cw=$(cat $NF/nf_conntrack_tcp_timeout_close_wait 2>/dev/null)
host_max=$(cat $NF/nf_conntrack_max 2>/dev/null)
# Start from values that differ from kuproxy's inside the node namespace.
kp_node sh -c "echo 432000 >$NF/nf_conntrack_tcp_timeout_established;
    echo 60 >$NF/nf_conntrack_tcp_timeout_close_wait" 2>/dev/null

KP_LOG=$KP_TMP/kuproxy.log
state=$KP_TMP/state/var/lib/kuproxy
ip netns exec "$KP_NODE" "${KP_CAPWRAP[@]}" "$KUPROXY" --config "$CONF" --kubeconfig= \
    --services-file "$KP_SVCFILE" --metrics-bind-address "$KP_METRICS" \
    --healthz-bind-address "$KP_HEALTHZ" --state-dir "$state" -v 2 \
    >>"$KP_LOG" 2>&1 &
KP_PID=$!
KP_PIDS="$KP_PIDS $KP_PID"
for i in $(seq 1 50); do
	kp_alive || kp_die "kuproxy exited during start-up (see $KP_LOG)"
	kp_node curl -sf -m 1 -o /dev/null "$KP_URL" && break
	sleep 0.1
done
port=$(kp_wait_svc default/web:p 2) || kp_die "service default/web:p never appeared"
res=$(kp_client "$KP_CLI" dist --target "$KP_NODE_IP:$port" --count 4)
kp_eq "the Service works under kubeadm's config" 4 \
    "$(echo "$res" | kp_json 'd["ok"]')"

kp_eq "mode line logged once" 1 \
    "$(grep -c 'proxy mode "" (kube-proxy would choose iptables)' "$KP_LOG")"
# Lowering oom_score_adj takes CAP_SYS_RESOURCE, which a container's root
# may lack: then the one warning, and a raise (always allowed) is checked.
if sh -c 'echo -999 >/proc/self/oom_score_adj' 2>/dev/null; then
	kp_eq "oom_score_adj of the process" -999 \
	    "$(cat /proc/$KP_PID/oom_score_adj)"
else
	kp_eq "oom_score_adj -999 not allowed here: one warning" 1 \
	    "$(grep -c 'cannot set oom_score_adj to -999' "$KP_LOG")"
	ns=kp-oom-$KP_ID
	kp_netns_add "$ns" || kp_die "cannot add namespace $ns"
	: >"$KP_TMP/empty.yaml"
	ip netns exec "$ns" "${KP_CAPWRAP[@]}" "$KUPROXY" --config "$CONF" --kubeconfig= \
	    --services-file "$KP_TMP/empty.yaml" --metrics-bind-address= \
	    --healthz-bind-address= --state-dir "$KP_TMP/state2" \
	    --bind-address 192.0.2.1 \
	    --oom-score-adj 500 >"$KP_TMP/oom.log" 2>&1 &
	pid=$!
	KP_PIDS="$KP_PIDS $pid"
	for i in $(seq 1 50); do
		grep -q 'started' "$KP_TMP/oom.log" && break
		sleep 0.1
	done
	kp_eq "--oom-score-adj 500 applied to the process" 500 \
	    "$(cat /proc/$pid/oom_score_adj 2>/dev/null)"
	kill "$pid" 2>/dev/null
fi
if [ -n "$host_est" ]; then
	kp_eq "tcp_timeout_established in the node namespace" 86400 \
	    "$(kp_node cat $NF/nf_conntrack_tcp_timeout_established)"
	kp_eq "tcp_timeout_close_wait in the node namespace" 3600 \
	    "$(kp_node cat $NF/nf_conntrack_tcp_timeout_close_wait)"
	kp_eq "root namespace's tcp_timeout_established untouched" "$host_est" \
	    "$(cat $NF/nf_conntrack_tcp_timeout_established)"
	kp_eq "root namespace's tcp_timeout_close_wait untouched" "$host_cw" \
	    "$(cat $NF/nf_conntrack_tcp_timeout_close_wait)"
	kp_eq "root namespace's nf_conntrack_max untouched" "$host_max" \
	    "$(cat $NF/nf_conntrack_max)"
	ncpu=$(nproc)
	want=$((32768 * ncpu))
	[ "$want" -lt 131072 ] && want=131072
	if [ "$host_max" != "$want" ]; then
		kp_eq "nf_conntrack_max skipped with one warning" 1 \
		    "$(grep -c "cannot set sysctl net/netfilter/nf_conntrack_max to $want" "$KP_LOG")"
	fi
else
	kp_log "no nf_conntrack sysctls here: conntrack checks skipped"
fi
kp_eq "state directory created with its parents, 0700" 700 \
    "$(stat -c %a "$state" 2>/dev/null)"

# --- A state directory that cannot be used stops kuproxy. --------------
: >"$KP_TMP/notadir"
out=$(ip netns exec "$KP_NODE" timeout 10 "${KP_CAPWRAP[@]}" "$KUPROXY" --config "$CONF" \
    --kubeconfig= --services-file "$KP_SVCFILE" --metrics-bind-address= \
    --healthz-bind-address= --state-dir "$KP_TMP/notadir" 2>&1)
rc=$?
kp_eq "unusable --state-dir: exit status" 1 "$rc"
kp_check "unusable --state-dir: message" grep -q \
    "state directory $KP_TMP/notadir: not a directory" <<<"$out"

kp_check "kuproxy still running" kp_alive
kp_finish
