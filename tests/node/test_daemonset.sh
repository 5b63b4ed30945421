#!/bin/bash
# test_daemonset.sh: kuproxy deployed as kube-proxy is deployed, on a real
# node (root only): kubelet 1.20 + containerd + runc, with etcd,
# kube-apiserver, kube-controller-manager and kube-scheduler, all inside
# the test's own namespaces (tests/node/lib.sh).
#
#   KUPROXY=/path/to/kuproxy tests/node/test_daemonset.sh
#
# 1. The image: contrib/image/build.sh (debootstrap + podman, OCI archive)
#    with this kuproxy, imported into containerd; contrib/k8s applied
#    as it is but for the DaemonSet's image and the kubeconfig's server
#    (the diff is checked).
# 2. The kube-proxy pod is Running and Ready; a ClusterIP Service and a
#    NodePort Service whose backends are two pods (a static HTTP server
#    answering its pod's name, on the CNI bridge) are reachable through
#    it from the node, and the NodePort from outside: both pods answer.
# 3. `kubectl logs -n kube-system -l k8s-app=kube-proxy` shows klog lines.
# 4. `kubectl rollout restart` replaces the pod; the proxy ports (REDIRECT
#    --to-ports in the node's nat table) stay the same; a Service created
#    after it works.
# 5. The DaemonSet deleted, `kuproxy --cleanup` run from the image (ctr
#    run in the node's namespaces) leaves no KUBE- rule but kubelet's.
# 6. Nothing escaped: host sysctls, /var/lib/kubelet, /run, /etc/cni...,
#    cgroups, netns, mounts and the root namespace's rules (nft and
#    legacy) are as before.
# Timings are printed (pod Running after apply, rollout restart).
# Environment: KP_NODE_CONTRIB (default: contrib/ of this tree), KP_KEEP.
# Exit: 0 pass, 1 fail, 77 skip.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

CONTRIB=${KP_NODE_CONTRIB:-$KP_SRCDIR/contrib}
IMAGE=localhost/kuproxy:dev
SVC_IP=198.19.0.80
SVC2_IP=198.19.0.81
NODEPORT=30080

kn_init daemonset
for t in debootstrap podman; do
	command -v "$t" >/dev/null 2>&1 ||
	    { echo "SKIP: $KP_NAME (needs $t for contrib/image/build.sh)"; exit 77; }
done
[ -x "$CONTRIB/image/build.sh" ] ||
    { echo "SKIP: $KP_NAME (no $CONTRIB/image/build.sh)"; exit 77; }
ls "$CONTRIB"/k8s/*.yaml >/dev/null 2>&1 ||
    { echo "SKIP: $KP_NAME (no $CONTRIB/k8s/*.yaml)"; exit 77; }

kn_host_state >"$KN_DIR/before.txt"

# --- 1. the image and the manifests ----------------------------------
t0=$(date +%s)
timeout -k 10 1500 "$CONTRIB/image/build.sh" --kuproxy "$KUPROXY" \
    --tag "$IMAGE" "$KN_DIR/kuproxy.tar" >"$KN_DIR/logs/image.log" 2>&1 || {
	tail -n 20 "$KN_DIR/logs/image.log" >&2
	kp_die "contrib/image/build.sh failed"
}
kp_log "image: $(tail -n 1 "$KN_DIR/logs/image.log") ($(($(date +%s) - t0)) s)"

mkdir -p "$KN_DIR/k8s"
cp "$CONTRIB"/k8s/*.yaml "$KN_DIR/k8s/"
# The DaemonSet's image and the ConfigMap's server: nothing else.
sed -i -E "s#^([[:space:]]*(- )?image:[[:space:]]*).*\$#\\1$IMAGE#" \
    "$KN_DIR"/k8s/*.yaml
sed -i -E "s#^([[:space:]]*server:[[:space:]]*).*\$#\\1https://$KN_NODE_IP:$KE_API_PORT#" \
    "$KN_DIR"/k8s/*.yaml
changed=$(diff -r "$CONTRIB/k8s" "$KN_DIR/k8s" | grep '^>' |
    sed -E 's/^>[[:space:]]*(- )?//; s/:.*//' | sort | uniq -c |
    awk '{ printf "%s%s x%d", sep, $2, $1; sep = ", " }')
case $changed in
""|"image x1"|"server x1"|"image x1, server x1")
	kp_ok "contrib/k8s applied as it is but for: ${changed:-nothing}" ;;
*)	kp_fail "contrib/k8s: more than the image and the server changed: $changed" ;;
esac
grep -q "image: $IMAGE\$" "$KN_DIR"/k8s/*.yaml ||
    kp_die "no DaemonSet image line to patch in contrib/k8s"

kn_up
kn_import "$KN_DIR/kuproxy.tar"

# kn_ipt: the node's rules (nft and legacy), counters dropped.
kn_ipt() {
	{
		kn_net iptables-save 2>/dev/null
		command -v iptables-legacy-save >/dev/null &&
		    kn_net iptables-legacy-save 2>/dev/null
	} | sed -e '/^#/d' -e 's/\[[0-9]*:[0-9]*\]//'
}
kn_ipt >"$KN_DIR/ipt-kubelet.txt"	# kubelet's KUBE-MARK-* etc.

# --- 2. the DaemonSet ----------------------------------------------------
# kn_pod_state: "NAME PHASE READY" of the kube-proxy pods (one a line).
kn_pod_state() {
	kn_kubectl -n kube-system get pods -l k8s-app=kube-proxy -o \
	    jsonpath='{range .items[*]}{.metadata.name} {.status.phase} {.status.conditions[?(@.type=="Ready")].status} {.metadata.deletionTimestamp}{"\n"}{end}' \
	    2>/dev/null
}
# kn_one_ready [NOT]: exactly one kube-proxy pod, Running and Ready, not
# named NOT; its name in $POD.
kn_one_ready() {
	local s

	s=$(kn_pod_state)
	[ "$(printf '%s\n' "$s" | grep -c .)" = 1 ] || return 1
	set -- "${1:-}" $s
	[ "$2" != "$1" ] && [ "$3" = Running ] && [ "$4" = True ] &&
	    [ -z "$5" ] || return 1
	POD=$2
}

t0=$(date +%s)
kn_kubectl apply -f "$KN_DIR/k8s/" >"$KN_DIR/logs/apply.log" 2>&1 ||
    kp_die "kubectl apply contrib/k8s: $(cat "$KN_DIR/logs/apply.log")"
if kn_until 180 kn_one_ready; then
	T_APPLY=$(($(date +%s) - t0))
	kp_ok "kube-proxy pod $POD Running and Ready ${T_APPLY} s after apply"
else
	kn_kubectl -n kube-system describe pods -l k8s-app=kube-proxy 2>&1 |
	    tail -n 25 >&2
	kp_die "no kube-proxy pod Running and Ready within 180 s: $(kn_pod_state)"
fi

cat >"$KN_DIR/web.yaml" <<EOF
apiVersion: v1
kind: List
items:
EOF
for p in web-a web-b; do
	cat >>"$KN_DIR/web.yaml" <<EOF
- apiVersion: v1
  kind: Pod
  metadata: {name: $p, namespace: default, labels: {app: kpnode-web}}
  spec:
    terminationGracePeriodSeconds: 1
    containers:
    - name: web
      image: $KN_WEB
      imagePullPolicy: Never
      args: ["8080"]
      ports: [{containerPort: 8080}]
      readinessProbe:
        tcpSocket: {port: 8080}
        periodSeconds: 1
EOF
done
cat >>"$KN_DIR/web.yaml" <<EOF
- apiVersion: v1
  kind: Service
  metadata: {name: web, namespace: default}
  spec:
    clusterIP: $SVC_IP
    selector: {app: kpnode-web}
    ports: [{name: http, port: 80, targetPort: 8080}]
- apiVersion: v1
  kind: Service
  metadata: {name: web-np, namespace: default}
  spec:
    type: NodePort
    selector: {app: kpnode-web}
    ports: [{name: http, port: 8080, targetPort: 8080, nodePort: $NODEPORT}]
EOF
kn_kubectl apply -f "$KN_DIR/web.yaml" >>"$KN_DIR/logs/apply.log" 2>&1 ||
    kp_die "kubectl apply web.yaml: $(tail -n 5 "$KN_DIR/logs/apply.log")"
kn_web_ready() {
	[ "$(kn_kubectl get pods -l app=kpnode-web -o \
	    jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{end}' \
	    2>/dev/null)" = TrueTrue ]
}
kn_until 120 kn_web_ready || {
	kn_kubectl describe pods -l app=kpnode-web 2>&1 | tail -n 20 >&2
	kp_die "backend pods not Ready within 120 s"
}
WEB_IPS=$(kn_kubectl get pods -l app=kpnode-web -o \
    jsonpath='{range .items[*]}{.status.podIP} {end}')
kp_log "backend pods web-a, web-b Ready at $WEB_IPS"

# kn_answers NETNS URL: who answered 8 requests, one after the other:
# "COUNT NAME" sorted by name ("0 -" for each failed request).
kn_answers() {
	local i

	for i in 1 2 3 4 5 6 7 8; do
		nsenter --net="/run/netns/$1" curl -s -m 3 "$2" 2>/dev/null |
		    grep . || echo -
	done | sort | uniq -c | awk '{ printf "%s%d %s", s, $1, $2; s = ", " }'
}
# kn_both NETNS URL: round-robin over both backends, 4 answers each.
kn_both() { [ "$(kn_answers "$@")" = "4 web-a, 4 web-b" ]; }
# kn_via DESCRIPTION NETNS URL: wait (60 s) for round-robin at URL.
kn_via() {
	if kn_until 60 kn_both "$2" "$3"; then
		kp_ok "$1: $3 round-robin, 8 requests: 4 web-a, 4 web-b"
	else
		kp_fail "$1: $3: 8 requests answered by $(kn_answers "$2" "$3"), not 4 web-a, 4 web-b"
	fi
}

kn_via "ClusterIP from the node" "$KN_NODE" "http://$SVC_IP/"
kn_via "NodePort from the node" "$KN_NODE" "http://$KN_NODE_IP:$NODEPORT/"
kn_via "NodePort from outside" "$KN_GW" "http://$KN_NODE_IP:$NODEPORT/"
kn_via "ClusterIP from outside (routed to the node)" "$KN_GW" "http://$SVC_IP/"

# --- 3. logs -----------------------------------------------------------
kn_kubectl -n kube-system logs -l k8s-app=kube-proxy --tail=-1 \
    >"$KN_DIR/logs/kuproxy-pod.log" 2>&1
n=$(grep -cE '^I[0-9]{4} ' "$KN_DIR/logs/kuproxy-pod.log")
if [ "$n" -gt 0 ]; then
	kp_ok "kubectl logs -l k8s-app=kube-proxy: $n klog lines, e.g. $(grep -m1 -E '^I[0-9]{4} ' "$KN_DIR/logs/kuproxy-pod.log" | cut -c1-100)"
else
	kp_fail "kubectl logs -l k8s-app=kube-proxy: no klog line: $(head -n 3 "$KN_DIR/logs/kuproxy-pod.log")"
fi

# --- 4. rollout restart ---------------------------------------------------
kn_ports() {
	kn_ipt | grep -oE 'REDIRECT --to-ports [0-9]+' | awk '{ print $3 }' |
	    sort -un | tr '\n' ' ' | sed 's/ $//'
}
PORTS=$(kn_ports)
if [ -n "$PORTS" ]; then
	kp_ok "proxy ports before the restart: $PORTS"
else
	kp_fail "no REDIRECT --to-ports rule in the node's nat table"
fi
OLD=$POD
# kn_swap: kn_one_ready "$OLD", noting when the old pod went ($T_GONE)
# and when the new one ran ($T_RUN), in seconds since $t0.
kn_swap() {
	local s

	s=$(kn_pod_state)
	[ -z "$T_GONE" ] && ! printf '%s\n' "$s" | grep -q "^$OLD " &&
	    T_GONE=$(($(date +%s) - t0))
	[ -z "$T_RUN" ] && printf '%s\n' "$s" | grep -v "^$OLD " |
	    grep -q ' Running ' && T_RUN=$(($(date +%s) - t0))
	kn_one_ready "$OLD"
}
T_GONE= T_RUN=
t0=$(date +%s)
kn_kubectl -n kube-system rollout restart daemonset kube-proxy \
    >>"$KN_DIR/logs/apply.log" 2>&1 || kp_fail "kubectl rollout restart failed"
if kn_until 120 kn_swap; then
	T_RESTART=$(($(date +%s) - t0))
	kp_ok "rollout restart: $OLD replaced by $POD, Ready in ${T_RESTART} s (old pod gone at ${T_GONE:-?} s, new one Running at ${T_RUN:-?} s)"
else
	kp_fail "rollout restart: no new pod Ready within 120 s: $(kn_pod_state)"
fi
kn_kubectl -n kube-system rollout status daemonset kube-proxy --timeout=60s \
    >>"$KN_DIR/logs/apply.log" 2>&1 ||
    kp_fail "kubectl rollout status: not complete"
kn_via "ClusterIP after the restart" "$KN_NODE" "http://$SVC_IP/"
kp_eq "proxy ports after the restart are the same" "$PORTS" "$(kn_ports)"

cat >"$KN_DIR/web2.yaml" <<EOF
apiVersion: v1
kind: Service
metadata: {name: web2, namespace: default}
spec:
  clusterIP: $SVC2_IP
  selector: {app: kpnode-web}
  ports: [{name: http, port: 81, targetPort: 8080}]
EOF
kn_kubectl apply -f "$KN_DIR/web2.yaml" >>"$KN_DIR/logs/apply.log" 2>&1 ||
    kp_fail "kubectl apply web2.yaml"
kn_via "a Service created after the restart" "$KN_NODE" "http://$SVC2_IP:81/"

kp_eq "kube-proxy pod $POD never restarted (no crash since the rollout)" 0 \
    "$(kn_kubectl -n kube-system get pod "$POD" -o \
    jsonpath='{.status.containerStatuses[0].restartCount}' 2>&1)"

# --- 5. delete, then --cleanup from the image ---------------------------
kn_no_proxy_pod() { [ -z "$(kn_pod_state)" ]; }
kn_kubectl -n kube-system delete daemonset kube-proxy --wait=true \
    --timeout=60s >>"$KN_DIR/logs/apply.log" 2>&1 ||
    kp_fail "kubectl delete daemonset kube-proxy"
kn_until 60 kn_no_proxy_pod || kp_fail "kube-proxy pod still there: $(kn_pod_state)"
# kn_kuproxy_rules: KUBE- lines that kubelet did not write.
kn_kuproxy_rules() {
	kn_ipt | grep 'KUBE-' | grep -vxF -f "$KN_DIR/ipt-kubelet.txt"
}
n=$(kn_kuproxy_rules | grep -c .)
kp_check "kuproxy's rules stay after its pod is gone ($n KUBE- lines)" \
    [ "$n" -gt 0 ]
kn_in ctr --address "$KN_SOCK" -n k8s.io run --rm --net-host --privileged \
    --cgroup "/$KN_CG/kpnode-cleanup" "$IMAGE" kpnode-cleanup \
    /usr/local/bin/kuproxy --cleanup >"$KN_DIR/logs/cleanup.log" 2>&1
rc=$?
kp_eq "kuproxy --cleanup from the image exits" 0 "$rc"
left=$(kn_kuproxy_rules)
if [ -z "$left" ]; then
	kp_ok "no KUBE- rule left but kubelet's"
else
	kp_fail "KUBE- rules left after --cleanup: $(printf '%s\n' "$left" | head -n 5 | tr '\n' ';')"
fi

# --- 6. nothing escaped -------------------------------------------------
kn_down
kn_teardown() {
	local pid ns

	kn_stop $KP_PIDS
	for ns in $KP_NSES; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	KP_PIDS= KP_NSES=
}
kn_teardown
kn_host_state >"$KN_DIR/after.txt"
escaped=$(kn_state_diff "$KN_DIR/before.txt" "$KN_DIR/after.txt")
if [ -z "$escaped" ]; then
	kp_ok "nothing escaped: $(grep -c '^sysctl' "$KN_DIR/before.txt") host sysctls, $(grep -c '^file\|^absent' "$KN_DIR/before.txt") paths, cgroups, netns, mounts, $(grep -c '^rule' "$KN_DIR/before.txt") root-namespace rule lines as before"
else
	kp_fail "changed on the host: $(printf '%s\n' "$escaped" | head -n 10 | tr '\n' ';')"
fi
kp_log "timings: kube-proxy pod Running and Ready ${T_APPLY:-?} s after apply, rollout restart ${T_RESTART:-?} s"
kp_finish
