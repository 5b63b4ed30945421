#!/bin/bash
# test_k8s_manifests: contrib/k8s/*.yaml is kubeadm 1.20's kube-proxy
# layout with kuproxy's additions, and kuproxy runs what it says.
#  - the files parse (python3 yaml) into ServiceAccount kube-proxy,
#    ClusterRoleBinding kubeadm:node-proxier -> ClusterRole
#    system:node-proxier, ConfigMap kube-proxy, DaemonSet kube-proxy, all in
#    kube-system, in an order `kubectl apply -f contrib/k8s/` creates
#    the ServiceAccount before the DaemonSet;
#  - the DaemonSet keeps what kubeadm 1.20's has (labels, command, env,
#    privileged, hostNetwork, priority class, tolerations, the ConfigMap,
#    xtables.lock and /lib/modules mounts) and adds the state hostPath at
#    kuproxy's --state-dir, probes, requests, RollingUpdate maxUnavailable
#    1; exactly one `image:` line, the one a test patches with sed;
#  - the ConfigMap's config.conf says mode userspace and `kuproxy -n`
#    accepts it with its kubeconfig.conf;
#  - kuproxy started with those two files (paths moved to the test's
#    folder, no API server reachable) in a kpi- network namespace answers
#    the probes' port and paths as they expect: /livez 200, /healthz 503
#    until a first sync.
. "$(dirname "$0")/lib.sh"

KP_NAME=k8s_manifests
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: $KP_NAME (needs root)"
	exit 77
fi
"$KP_PY" -c 'import yaml' 2>/dev/null ||
    { echo "SKIP: $KP_NAME (needs python3-yaml)"; exit 77; }
[ -x "$KUPROXY" ] || { echo "FAIL: $KP_NAME: no kuproxy at $KUPROXY"; exit 1; }
K8S=$KP_SRCDIR/contrib/k8s
NS=kpi-k8s-$$
KP_TMP=$(mktemp -d /tmp/kpi-k8s.XXXXXX) || exit 1
trap kp_cleanup EXIT
trap 'exit 1' INT TERM HUP

# Every check of the structure, one "ok"/"FAIL" line each.
"$KP_PY" - "$K8S" "$KP_TMP" >"$KP_TMP/structure.txt" 2>&1 <<'EOF'
import glob, sys, yaml

k8s, out = sys.argv[1], sys.argv[2]
docs = []
for path in sorted(glob.glob(k8s + "/*.yaml")):    # kubectl's order
    docs += [d for d in yaml.safe_load_all(open(path)) if d]
fails = 0

def check(what, cond):
    global fails
    print(("ok: " if cond else "FAIL: ") + what)
    fails += not cond

by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
kinds = [d["kind"] for d in docs]
check("ServiceAccount before DaemonSet",
      kinds.index("ServiceAccount") < kinds.index("DaemonSet"))
check("four objects", sorted(by) == sorted([
    ("ServiceAccount", "kube-proxy"),
    ("ClusterRoleBinding", "kubeadm:node-proxier"),
    ("ConfigMap", "kube-proxy"), ("DaemonSet", "kube-proxy")]))
for (kind, name), d in by.items():
    if kind != "ClusterRoleBinding":
        check(kind + " in kube-system",
              d["metadata"].get("namespace") == "kube-system")
crb = by[("ClusterRoleBinding", "kubeadm:node-proxier")]
check("binding to ClusterRole system:node-proxier", crb["roleRef"] == {
    "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
    "name": "system:node-proxier"})
check("binding's subject", crb["subjects"] == [{"kind": "ServiceAccount",
    "name": "kube-proxy", "namespace": "kube-system"}])
cm = by[("ConfigMap", "kube-proxy")]
check("ConfigMap keys", sorted(cm["data"]) == ["config.conf", "kubeconfig.conf"])
conf = yaml.safe_load(cm["data"]["config.conf"])
check("mode userspace", conf.get("mode") == "userspace")
check("config's kubeconfig", conf["clientConnection"]["kubeconfig"] ==
      "/var/lib/kube-proxy/kubeconfig.conf")
kc = yaml.safe_load(cm["data"]["kubeconfig.conf"])
sa = "/var/run/secrets/kubernetes.io/serviceaccount/"
check("kubeconfig: service-account token and CA",
      kc["users"][0]["user"] == {"tokenFile": sa + "token"} and
      kc["clusters"][0]["cluster"]["certificate-authority"] == sa + "ca.crt")

ds = by[("DaemonSet", "kube-proxy")]
spec = ds["spec"]
pod = spec["template"]["spec"]
c = pod["containers"][0]
check("labels k8s-app: kube-proxy",
      ds["metadata"]["labels"] == {"k8s-app": "kube-proxy"} and
      spec["selector"]["matchLabels"] == {"k8s-app": "kube-proxy"} and
      spec["template"]["metadata"]["labels"] == {"k8s-app": "kube-proxy"})
check("RollingUpdate, maxUnavailable 1", spec["updateStrategy"] == {
    "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}})
check("hostNetwork", pod.get("hostNetwork") is True)
check("serviceAccountName", pod.get("serviceAccountName") == "kube-proxy")
check("system-node-critical",
      pod.get("priorityClassName") == "system-node-critical")
check("tolerations operator Exists",
      {"operator": "Exists"} in pod.get("tolerations", []))
check("nodeSelector linux",
      pod.get("nodeSelector") == {"kubernetes.io/os": "linux"})
check("terminationGracePeriodSeconds",
      isinstance(pod.get("terminationGracePeriodSeconds"), int))
check("container name kube-proxy", c["name"] == "kube-proxy")
check("command as kubeadm's", c["command"] == [
    "/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf",
    "--hostname-override=$(NODE_NAME)"])
check("NODE_NAME from spec.nodeName", c["env"] == [{"name": "NODE_NAME",
    "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}])
check("privileged", c["securityContext"] == {"privileged": True})
check("imagePullPolicy IfNotPresent", c["imagePullPolicy"] == "IfNotPresent")
check("resource requests", set(c["resources"]["requests"]) == {"cpu", "memory"})
mounts = {m["name"]: m for m in c["volumeMounts"]}
vols = {v["name"]: v for v in pod["volumes"]}
check("ConfigMap at /var/lib/kube-proxy",
      mounts["kube-proxy"]["mountPath"] == "/var/lib/kube-proxy" and
      vols["kube-proxy"]["configMap"]["name"] == "kube-proxy")
check("/run/xtables.lock FileOrCreate",
      mounts["xtables-lock"]["mountPath"] == "/run/xtables.lock" and
      vols["xtables-lock"]["hostPath"] == {"path": "/run/xtables.lock",
                                           "type": "FileOrCreate"})
check("/lib/modules read-only",
      mounts["lib-modules"] == {"mountPath": "/lib/modules",
                                "name": "lib-modules", "readOnly": True} and
      vols["lib-modules"]["hostPath"] == {"path": "/lib/modules"})
check("state: /var/lib/kuproxy DirectoryOrCreate",
      mounts["state"]["mountPath"] == "/var/lib/kuproxy" and
      vols["state"]["hostPath"] == {"path": "/var/lib/kuproxy",
                                    "type": "DirectoryOrCreate"})
lp, rp = c["livenessProbe"]["httpGet"], c["readinessProbe"]["httpGet"]
check("liveness /livez, readiness /healthz",
      lp["path"] == "/livez" and rp["path"] == "/healthz")
check("probes on one port", lp["port"] == rp["port"])
for k in ("config.conf", "kubeconfig.conf"):
    open(out + "/" + k, "w").write(cm["data"][k])
open(out + "/probe-port", "w").write(str(lp["port"]))
sys.exit(1 if fails else 0)
EOF
rc=$?
sed "s/^\(ok\|FAIL\): /\1: $KP_NAME: /" "$KP_TMP/structure.txt" >&2
[ "$rc" = 0 ] || kp_fail "the manifest's structure ($(grep -c '^FAIL' "$KP_TMP/structure.txt") checks)"
[ -s "$KP_TMP/probe-port" ] || kp_die "the manifest could not be read"

# One image line, in the form a sed patches.
kp_eq "image: lines" 1 "$(cat "$K8S"/*.yaml | grep -cE '^[[:space:]]*(- )?image:')"
version=$("$KUPROXY" --version | awk '{ print $2 }')
kp_eq "image: the release of this kuproxy" \
    "        image: ghcr.io/kuproxy/kuproxy:v$version" \
    "$(cat "$K8S"/*.yaml | grep -E '^[[:space:]]*image:')"
kp_eq "server: lines" 1 "$(cat "$K8S"/*.yaml | grep -cE '^[[:space:]]*server:')"

# The files as the pod sees them, moved to our folder.
sa=$KP_TMP/serviceaccount
mkdir -p "$sa"
echo "not-a-token" >"$sa/token"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=kpi-ca -days 1 \
    -keyout "$KP_TMP/ca.key" -out "$sa/ca.crt" >/dev/null 2>&1 ||
    kp_die "openssl: no CA"
sed -i "s#/var/run/secrets/kubernetes.io/serviceaccount/#$sa/#" \
    "$KP_TMP/kubeconfig.conf"
sed -i "s#/var/lib/kube-proxy/#$KP_TMP/#" "$KP_TMP/config.conf"
out=$("$KUPROXY" -n --config "$KP_TMP/config.conf" 2>&1)
kp_eq "kuproxy -n --config config.conf" 0 "$?"
kp_check "mode userspace ($(grep mode <<<"$out"))" \
    grep -q '^proxy mode: userspace$' <<<"$out"

# Running: the probes' port and paths.
port=$(cat "$KP_TMP/probe-port")
kp_netns_add "$NS" || kp_die "ip netns add $NS"
ip -n "$NS" link add kpi0 type veth peer name kpi1 || kp_die "veth in $NS"
ip -n "$NS" addr add 198.18.8.1/24 dev kpi0
ip -n "$NS" link set kpi0 up
ip -n "$NS" link set kpi1 up
ip -n "$NS" route add default via 198.18.8.2 dev kpi0
KP_LOG=$KP_TMP/kuproxy.log
ip netns exec "$NS" "$KUPROXY" --config "$KP_TMP/config.conf" \
    --hostname-override=node-1 --state-dir "$KP_TMP/state" \
    >"$KP_LOG" 2>&1 &
KP_PID=$!
KP_PIDS="$KP_PIDS $KP_PID"
code() {
	ip netns exec "$NS" curl -s -m 1 -o /dev/null -w '%{http_code}' \
	    "http://198.18.8.1:$port$1"
}
livez() { [ "$(code /livez)" = 200 ] || kp_gone "$KP_PID"; }
kp_until 100 livez
kp_eq "/livez on the probe port" 200 "$(code /livez)"
kp_eq "/healthz on the probe port, no API server" 503 "$(code /healthz)"
kp_check "kuproxy still running" kp_alive
# SIGTERM may wait for a DNS lookup of the API server (~4 s here).
kill -TERM "$KP_PID"
kp_until 100 kp_gone "$KP_PID"
wait "$KP_PID"
kp_eq "exit status on SIGTERM" 0 "$?"
KP_PIDS=
kp_finish
