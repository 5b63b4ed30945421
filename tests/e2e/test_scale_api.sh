#!/bin/bash
# test_scale_api: 2,000 Services, each with an EndpointSlice of 2
# endpoints, created in the real apiserver before kuproxy starts
# (tests/e2e/bulk.py), all listed in one go (the first list asks for
# resourceVersion=0, the watch cache's answer: one page of 2,000 items,
# decoded item by item).  Every Service must get its two portal rules
# with its own clusterIP and port, the ready line must count every
# Service and endpoint, one Service's slice pointed at a real backend
# must answer through its ClusterIP, and a change of that Service's port
# must be reprogrammed (the new rule in, the old one gone, traffic on the
# new port).  Bounds are generous: no timing is asserted.
# kp-timeout: 300
. "$(dirname "$0")/lib.sh"
ke_init scale_api
kp_backend id b2@198.18.1.2:8080

N=2000
IDX=1234
KP_BULK_TOKEN=$KE_ADMIN_TOKEN kp_node "$KP_PY" "$KE_HERE/bulk.py" \
    --server "$KE_API" --ca "$KE_PKI/ca.crt" --eps 2 create 0 "$N" ||
    kp_die "creating $N Services and their slices"
# One Service's endpoints: the real backend instead of bulk.py's.
ke_slice "svc-$IDX-b" "svc-$IDX" 8080 TCP 198.18.1.2
VIP=198.19.$((1 + IDX / 250)).$((IDX % 250 + 1))

ke_kubeconfig "$KP_TMP/kubeconfig" token
ke_kuproxy "$KP_TMP/kubeconfig"

ready() { grep -q "ready: the first rules are applied" "$KP_LOG"; }
kp_check "ready within 120 s" ke_wait 120 ready
# bulk.py's 2 endpoints for every Service but IDX (1), and "kubernetes".
kp_check "ready line counts every Service and endpoint" \
    grep -q "serving $((N + 1)) Services ($((N + 1)) ports), $((2 * N)) endpoints" \
    "$KP_LOG"

# Every Service's rule pair, by comment, clusterIP and port.
want=$KP_TMP/want
got=$KP_TMP/got
for i in $(seq 0 $((N - 1))); do
	echo "default/svc-$i:p 198.19.$((1 + i / 250)).$((i % 250 + 1))/32 80"
done | sort >"$want"
rules() {
	kp_node iptables-save -t nat | grep -- '^-A KUBE-PORTALS-' |
	    grep -F 'default/svc-' |
	    sed -n 's/.*-d \([0-9./]*\) .*--comment "*\(default\/svc-[0-9]*:p\)"* .*--dport \([0-9]*\).*/\2 \1 \3/p' |
	    sort
}
rules >"$got"
kp_eq "portal rules in KUBE-PORTALS-CONTAINER and -HOST" $((2 * N)) \
    "$(wc -l <"$got")"
kp_eq "each Service's rules, both chains" "" \
    "$(sort "$want" "$want" | diff - "$got" | head -n 5)"

kp_check "svc-$IDX answers from its backend" \
    ke_wait_ids 30 "$KP_POD" "$VIP:80" 3 "b2"

# One Service changed among 2,000: its port 80 -> 81.
KP_BULK_TOKEN=$KE_ADMIN_TOKEN kp_node "$KP_PY" "$KE_HERE/bulk.py" \
    --server "$KE_API" --ca "$KE_PKI/ca.crt" port "$IDX" 81 >/dev/null ||
    kp_die "PUT svc-$IDX"
moved() {
	rules | grep -F "default/svc-$IDX:p " >"$KP_TMP/one"
	[ "$(cut -d' ' -f3 "$KP_TMP/one" | sort -u)" = 81 ] &&
	    [ "$(wc -l <"$KP_TMP/one")" -eq 2 ]
}
kp_check "changed port reprogrammed: only port 81 rules left" ke_wait 60 moved
kp_check "svc-$IDX answers on the new port" \
    ke_wait_ids 30 "$KP_POD" "$VIP:81" 3 "b2"
kp_check "the other Services' rules unchanged" \
    eval '[ "$(rules | grep -vF "default/svc-$IDX:p " | wc -l)" -eq $((2 * N - 2)) ]'
kp_check "kuproxy still running" kp_alive
kp_finish
