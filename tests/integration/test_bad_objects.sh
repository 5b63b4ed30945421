#!/bin/bash
# test_bad_objects: bad Services beside good ones, through the fake API
# server and through the services file; nothing else is affected.
#  API (tests/fakeapi/fakeapi.py): next to a good Service "web", Services
#  with port 70000, an unknown protocol, a bad clusterIP, the same port
#  twice, a name carrying a quote and a newline (an iptables-restore
#  injection attempt), an upper-case namespace, and an EndpointSlice with
#  a bad port name; plus a Service whose namespace and name are 63
#  characters (Kubernetes' maximum) with a 63-character port name, and a
#  Service with 10,000 endpoints (10 slices of 1,000).  Each bad object is
#  logged once, naming it (quoted if its name is bad) and its field; the
#  good ones serve (a connection each through the proxy port, the right
#  rule count); the injected text is nowhere in the node's rules; unknown
#  fields are ignored.
#  Services file: a good file serves; the same file with the injection
#  Service added is rejected with FILE:LINE naming the field, and the
#  previous state keeps serving; a file with the 63-character names and
#  10,000 endpoints is then taken whole.
. "$(dirname "$0")/lib.sh"
kp_init bad_objects
command -v iptables-save >/dev/null 2>&1 || { echo "SKIP: $KP_NAME (needs iptables)"; exit 77; }
kp_topology
kp_backend id b2@198.18.1.2:8080 b3@198.18.1.3:8080

FA=$KP_SRCDIR/tests/fakeapi/fakeapi.py
NS63=n$(printf 'a%.0s' $(seq 62))
N63=s$(printf 'b%.0s' $(seq 62))
P63=p$(printf 'c%.0s' $(seq 62))
EVIL='evil" -j ACCEPT
-A KUBE-PORTALS-CONTAINER -j DROP
#'

# The fake API server's objects, written by Python (10,000 endpoints).
"$KP_PY" - "$KP_TMP/state.json" "$NS63" "$N63" "$P63" "$EVIL" \
    "$KP_NODE_IP" <<'EOF'
import json, sys
out, ns63, n63, p63, evil, node_ip = sys.argv[1:]

def svc(name, cip, ports, ns="default", extra=None):
    spec = {"type": "ClusterIP", "clusterIP": cip, "ports": ports}
    spec.update(extra or {})
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}

def port(p, name="p", proto="TCP", target=8080):
    return {"name": name, "port": p, "protocol": proto, "targetPort": target}

def slc(name, svcname, ips, ns="default", pname="p"):
    return {"metadata": {"name": name, "namespace": ns,
                         "labels": {"kubernetes.io/service-name": svcname}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}
                          for ip in ips],
            "ports": [{"name": pname, "port": 8080, "protocol": "TCP"}]}

svcs = [
    svc("web", "198.19.0.10", [port(80)],
        extra={"fooBar": {"unknown": "field"}, "ipFamilyPolicy": "X"}),
    svc(n63, "198.19.0.63", [port(80, p63)], ns=ns63),
    svc("big", "198.19.0.99", [port(80)]),
    svc("bad-port", "198.19.0.11", [port(70000)]),
    svc("bad-proto", "198.19.0.12", [port(80, proto="ICMP")]),
    svc("bad-ip", "10.0.0.300", [port(80)]),
    svc("dup-port", "198.19.0.13", [port(80, "a"), port(80, "b")]),
    svc(evil, "198.19.0.14", [port(80)]),
    svc("web", "198.19.0.15", [port(80)], ns="Kube-System"),
    svc("bad-slice", "198.19.0.16", [port(80)]),
]
big = ["10.%d.%d.%d" % (1 + i // 65536, (i // 256) % 256, i % 256)
       for i in range(10000)]
slices = [slc("web-1", "web", ["198.18.1.2"]),
          slc(n63 + "-x", n63, ["198.18.1.3"], ns=ns63, pname=p63),
          slc("bad-slice-1", "bad-slice", ["198.18.1.2"], pname="a b")]
slices += [slc("big-%d" % k, "big", big[k * 1000:(k + 1) * 1000])
           for k in range(10)]
json.dump({"services": svcs, "endpointslices": slices,
           "nodes": [{"metadata": {"name": "node-1"}, "status": {
               "addresses": [{"type": "InternalIP", "address": node_ip}]}}]},
          open(out, "w"))
EOF
kp_node "$KP_PY" "$FA" --port-file "$KP_TMP/fa.port" \
    --state "$KP_TMP/state.json" --lifetime 300 >>"$KP_TMP/fakeapi.log" 2>&1 &
KP_PIDS="$KP_PIDS $!"
kp_wait_file "$KP_TMP/fa.port" 100 || kp_die "fakeapi.py did not start"
FA_PORT=$(cat "$KP_TMP/fa.port")

KP_LOG=$KP_TMP/kuproxy.log
mkdir -p -m 0700 "$KP_TMP/state"
kp_node "${KP_CAPWRAP[@]}" "$KUPROXY" --master "http://127.0.0.1:$FA_PORT" \
    --hostname-override node-1 --bind-address 0.0.0.0 \
    --metrics-bind-address "$KP_METRICS" \
    --healthz-bind-address "$KP_HEALTHZ" \
    --state-dir "$KP_TMP/state" -v 2 >>"$KP_LOG" 2>&1 &
KP_PID=$!
KP_PIDS="$KP_PIDS $KP_PID"
kp_until 100 kp_node curl -sf -m 1 -o /dev/null "$KP_URL" ||
    kp_die "kuproxy's /debug/services did not answer"

# check_good: the good Services serve, the bad ones are absent.
check_good() {
	local what=$1 want=$2 port port63 names

	port=$(kp_wait_svc default/web:p 1) || kp_fail "$what: default/web:p missing"
	kp_eq "$what: web serves" '{"b2": 2}' \
	    "$(kp_client "$KP_CLI" dist --target "$KP_NODE_IP:$port" --count 2 |
	    kp_json 'd["counts"]')"
	port63=$(kp_wait_svc "$NS63/$N63:$P63" 1) ||
	    kp_fail "$what: the 63-character Service missing"
	kp_eq "$what: the 63-character Service serves" '{"b3": 2}' \
	    "$(kp_client "$KP_CLI" dist --target "$KP_NODE_IP:$port63" --count 2 |
	    kp_json 'd["counts"]')"
	kp_check "$what: its 2 rules, with the 191-character comment" \
	    kp_wait_rules "$NS63/$N63:$P63" 2
	kp_check "$what: default/big:p has its 10,000 endpoints" \
	    kp_wait_svc default/big:p 10000
	names=$(kp_debug | kp_json 'sorted(s["name"] for s in d["services"])')
	kp_eq "$what: exactly the good Services listed" \
	    "[$want\"default/big:p\", \"default/web:p\", \"$NS63/$N63:$P63\"]" \
	    "$names"
	kp_eq "$what: nothing injected into the rules" 0 \
	    "$(kp_ipt_save | grep -c -e 'evil' -e '-j DROP')"
	kp_check "$what: kuproxy alive" kp_alive
}
kp_until 100 kp_node curl -sf -m 1 -o /dev/null "http://$KP_HEALTHZ/healthz" ||
    kp_fail "never healthy"
# bad-slice itself is a good Service: listed, without endpoints.
check_good "API" '"default/bad-slice:p", '
# One line per bad object, naming it and the field.
for want in \
    'skipping default/bad-port: spec.ports\[0\].port: must be between 1 and 65535, got 70000' \
    'skipping default/bad-proto: spec.ports\[0\].protocol: unsupported protocol "ICMP"' \
    'skipping default/bad-ip: spec.clusterIP: not an IP address: "10.0.0.300"' \
    'skipping default/dup-port: spec.ports\[1\].port: duplicate port 80/TCP (spec.ports\[0\])' \
    'skipping "default/evil\" -j ACCEPT\x0a-A KUBE-PORTALS-CONTAINER -j DROP\x0a#": Service: metadata.name: not a DNS-1035 label' \
    'skipping Kube-System/web: Service: metadata.namespace: not a DNS-1123 label' \
    'skipping default/bad-slice-1: ports\[0\].name: not a DNS-1123 label'; do
	kp_eq "logged once: ${want:0:60}..." 1 "$(grep -c -F -- "$(echo "$want" | sed 's/\\\[/[/g; s/\\\]/]/g')" "$KP_LOG")"
done
kp_eq "no log line starts with the injected rule" 0 \
    "$(grep -c '^-A KUBE' "$KP_LOG")"
kp_stop

# Services file: the same objects.
KP_SVCFILE=$KP_TMP/services.yaml
good() {
	kp_svc web 198.19.0.10 80 TCP 8080
	kp_eps web 8080 TCP 198.18.1.2
}
good >"$KP_SVCFILE"
kp_start
port=$(kp_wait_svc default/web:p 1) || kp_die "file: web missing"
{
	good
	kp_svc_x x 198.19.0.14 80 TCP 8080 | sed "s/^  name: x\$/  name: 'evil\" -j ACCEPT'/"
} | kp_replace "$KP_SVCFILE"
kp_until 50 grep -q 'services file rejected' "$KP_LOG" ||
    kp_fail "file: the injection Service was not rejected"
kp_check "file: rejection names FILE:LINE and the field" \
    grep -q -F "services file rejected, keeping previous state: $KP_SVCFILE:" "$KP_LOG"
kp_check "file: ... Service: metadata.name: not a DNS-1035 label" \
    grep -q -F 'Service: metadata.name: not a DNS-1035 label' "$KP_LOG"
kp_eq "file: web still serves" '{"b2": 2}' \
    "$(kp_client "$KP_CLI" dist --target "$KP_NODE_IP:$port" --count 2 |
    kp_json 'd["counts"]')"
kp_eq "file: nothing injected" 0 \
    "$(kp_ipt_save | grep -c -e 'evil' -e '-j DROP')"
# Now the 63-character names and 10,000 endpoints, from a file.
{
	good
	kp_svc_x "$N63" 198.19.0.63 80 TCP 8080 | sed "s/^  namespace: default\$/  namespace: $NS63/; s/^  - name: p\$/  - name: $P63/"
	kp_eps "$N63" 8080 TCP 198.18.1.3 | sed "s/^  namespace: default\$/  namespace: $NS63/; s/^  - name: p\$/  - name: $P63/"
	kp_svc big 198.19.0.99 80 TCP 8080
	"$KP_PY" -c '
print("---\napiVersion: v1\nkind: Endpoints\nmetadata:\n  name: big\n  namespace: default\nsubsets:\n- addresses:")
for i in range(10000):
    print("  - ip: 10.%d.%d.%d" % (1 + i // 65536, (i // 256) % 256, i % 256))
print("  ports:\n  - name: p\n    port: 8080\n    protocol: TCP")'
} | kp_replace "$KP_SVCFILE"
check_good "file" ""
kp_stop
kp_eq "kuproxy exits 0 on SIGTERM" 0 "$KP_STOP_RC"
kp_finish
