#!/bin/bash
# demo.sh: kuproxy in a private network, start to finish in a few seconds.
#
#   sudo make demo            (or: sudo KUPROXY=./kuproxy contrib/demo.sh)
#
# Builds three network namespaces (a client, a node running kuproxy, and
# a "pod" namespace with three tiny HTTP backends), gives kuproxy a
# services file with one Service, demo/hello, sends 9 requests from the
# client and shows which backend answered each (round-robin), prints
# kuproxy's /debug/services, and removes everything again.  Nothing is
# changed outside the namespaces it creates.  Needs root, python3, curl.
#
#   client 198.18.2.2 --- 198.18.2.1 node (kuproxy) 198.18.1.1 --- pods
#                                                    198.18.1.2, .3, .4

# make runs this with $(SHELL), often dash: carry on in bash.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"

HERE=$(cd "$(dirname "$0")" && pwd)
: "${KUPROXY:=$HERE/../kuproxy}"
ID=$$
NODE=kp-demo-node-$ID
POD=kp-demo-pod-$ID
CLI=kp-demo-cli-$ID
NODE_IP=198.18.2.1
METRICS=127.0.0.1:10249
NSES=
PIDS=
TMP=

if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: the demo creates network namespaces and needs root;" >&2
	echo "         run it as root, e.g. 'sudo make demo'." >&2
	exit 1
fi
for tool in ip python3 curl; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "demo.sh: $tool is needed but not installed" >&2
		exit 1
	fi
done
if [ ! -x "$KUPROXY" ]; then
	echo "demo.sh: no kuproxy binary at $KUPROXY (build it, or set KUPROXY)" >&2
	exit 1
fi

# Remove the namespaces, the processes and the temporary directory.
cleanup() {
	local pid ns

	trap - EXIT INT TERM HUP
	for pid in $PIDS; do
		kill -TERM "$pid" 2>/dev/null
	done
	sleep 0.3
	for ns in $NSES; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	[ -n "$TMP" ] && rm -rf "$TMP"
	echo "== cleaned up (namespaces, processes, files)"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

die() {
	echo "demo.sh: $*" >&2
	[ -s "$TMP/kuproxy.log" ] && tail -n 20 "$TMP/kuproxy.log" >&2
	exit 1
}

TMP=$(mktemp -d /tmp/kuproxy-demo.XXXXXX) || exit 1

echo "== network: client $CLI, node $NODE, pods $POD"
for ns in $NODE $POD $CLI; do
	ip netns add "$ns" || die "cannot create network namespace $ns"
	NSES="$NSES $ns"
	ip -n "$ns" link set lo up
done
ip -n "$NODE" link add vpod type veth peer name vnode netns "$POD" ||
    die "cannot create a veth pair"
ip -n "$NODE" link add vcli type veth peer name vnode netns "$CLI" ||
    die "cannot create a veth pair"
ip -n "$NODE" addr add 198.18.1.1/24 dev vpod
ip -n "$NODE" addr add "$NODE_IP/24" dev vcli
ip -n "$NODE" link set vpod up
ip -n "$NODE" link set vcli up
ip -n "$NODE" route add default via 198.18.2.2
ip netns exec "$NODE" sysctl -qw net.ipv4.ip_forward=1
for ip in 198.18.1.2 198.18.1.3 198.18.1.4; do
	ip -n "$POD" addr add "$ip/24" dev vnode
done
ip -n "$POD" link set vnode up
ip -n "$POD" route add default via 198.18.1.1
ip -n "$CLI" addr add 198.18.2.2/24 dev vnode
ip -n "$CLI" link set vnode up
ip -n "$CLI" route add 198.18.1.0/24 via "$NODE_IP"
ip -n "$CLI" route add 198.19.0.0/16 via "$NODE_IP"

echo "== pods: three HTTP backends on 198.18.1.2-4:8080"
cat >"$TMP/pod.py" <<'EOF'
import http.server, socketserver, sys, threading

class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ip = self.server.server_address[0]
        body = ("hello from pod-%s (%s)\n" % (ip.rsplit(".", 1)[1], ip)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

servers = [socketserver.ThreadingTCPServer((ip, 8080), Hello)
           for ip in sys.argv[1:]]
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
open(sys.argv[0] + ".ready", "w").close()
servers[0].serve_forever()
EOF
ip netns exec "$POD" python3 "$TMP/pod.py" 198.18.1.2 198.18.1.3 198.18.1.4 \
    2>"$TMP/pods.log" &
PIDS="$PIDS $!"

cat >"$TMP/services.yaml" <<'EOF'
# What "kubectl get svc,ep -n demo hello -o yaml" prints, trimmed.
apiVersion: v1
kind: Service
metadata:
  name: hello
  namespace: demo
spec:
  clusterIP: 198.19.0.10
  clusterIPs:
  - 198.19.0.10
  ports:
  - name: http
    port: 80
    protocol: TCP
    targetPort: 8080
  selector:
    app: hello
  sessionAffinity: None
  type: ClusterIP
---
apiVersion: v1
kind: Endpoints
metadata:
  name: hello
  namespace: demo
subsets:
- addresses:
  - ip: 198.18.1.2
  - ip: 198.18.1.3
  - ip: 198.18.1.4
  ports:
  - name: http
    port: 8080
    protocol: TCP
EOF
echo "== services file ($TMP/services.yaml):"
sed 's/^/   | /' "$TMP/services.yaml"

echo "== node: $KUPROXY --services-file ... (log: $TMP/kuproxy.log)"
mkdir -p "$TMP/state"
ip netns exec "$NODE" "$KUPROXY" --services-file "$TMP/services.yaml" \
    --bind-address 0.0.0.0 --metrics-bind-address "$METRICS" \
    --healthz-bind-address 127.0.0.1:10256 --state-dir "$TMP/state" \
    2>"$TMP/kuproxy.log" &
KPID=$!
PIDS="$PIDS $KPID"

# Wait (5 s at most) for the backends and for kuproxy's proxy port.
port=
for i in $(seq 1 50); do
	kill -0 "$KPID" 2>/dev/null || die "kuproxy exited"
	if [ -e "$TMP/pod.py.ready" ]; then
		port=$(ip netns exec "$NODE" curl -sf -m 1 \
		    "http://$METRICS/debug/services" 2>/dev/null | python3 -c '
import json, sys
for s in json.load(sys.stdin)["services"]:
    if s["name"] == "demo/hello:http" and s["endpoints"]:
        print(s["proxyPort"])' 2>/dev/null)
		[ -n "$port" ] && break
	fi
	sleep 0.1
done
[ -n "$port" ] || die "kuproxy did not set up demo/hello:http within 5 s"
echo "== kuproxy relays demo/hello:http on proxy port $port"

# Through the ClusterIP when kuproxy's iptables redirect is in place, else
# straight to the proxy port on the node.
target=$NODE_IP:$port
if ip netns exec "$NODE" iptables -w -t nat -S 2>/dev/null |
    grep -q 198.19.0.10 &&
    ip netns exec "$CLI" curl -sf -m 1 -o /dev/null http://198.19.0.10/; then
	target=198.19.0.10:80
	echo "== ClusterIP 198.19.0.10:80 is redirected to it by iptables"
fi
echo "== 9 requests from the client to http://$target/"
for i in $(seq 1 9); do
	body=$(ip netns exec "$CLI" curl -s -m 2 "http://$target/")
	printf '   request %d -> %s\n' "$i" "${body:-(no answer)}"
done

echo "== kuproxy's /debug/services"
ip netns exec "$NODE" curl -s -m 2 "http://$METRICS/debug/services" |
    python3 -m json.tool | sed 's/^/   /'
