#!/bin/bash
# apiserver-latency.sh: how long from an Endpoints (or EndpointSlice)
# update at a real kube-apiserver 1.20 until new connections to the
# ClusterIP reach the new backend through kuproxy.  Run by hand, as root:
#
#   bench/apiserver-latency.sh [-n 50] [-s endpoints|endpointslices|both]
#
# Uses the e2e environment (tests/e2e/lib.sh: namespaces, etcd,
# kube-apiserver, kuproxy --kubeconfig with token auth).  One Service,
# two backends (ids b2 and b3).  Each round, a helper in the pod namespace
# PUTs the object naming the other backend to the apiserver's advertise
# address, then opens a new connection to the ClusterIP every few ms
# until the new id answers.  Two latencies per round: from the PUT's
# 2xx answer ("ack") and from just before the PUT was sent ("send").
# Prints p50/p90/p99/max per source (nearest rank: with N=50, p99 is the
# maximum), how often the very first connection after the ack already
# reached the new backend, and one connection's time at rest for
# reference; -m FILE also appends a Markdown table row per source to
# FILE.  -i MS: pause between polls (2).
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
N=50
SOURCES=both
MDOUT=
INTERVAL_MS=2
while getopts n:s:m:i:h o; do
	case $o in
	n) N=$OPTARG ;;
	s) SOURCES=$OPTARG ;;
	m) MDOUT=$OPTARG ;;
	i) INTERVAL_MS=$OPTARG ;;
	*) sed -n 2,20p "$0"; exit 2 ;;
	esac
done
[ "$SOURCES" = both ] && SOURCES="endpoints endpointslices"

. "$(dirname "$0")/../tests/e2e/lib.sh"
ke_init apiserver-latency
kp_backend id b2@198.18.1.2:8080 b3@198.18.1.3:8080
ke_service web 198.19.0.10 80 TCP 8080
ke_backends web 8080 TCP 198.18.1.2
ke_kubeconfig "$KP_TMP/kubeconfig" token

# The measuring helper (stdlib only), run in the pod namespace.
cat >"$KP_TMP/lat.py" <<'EOF'
import http.client, json, socket, ssl, sys, time

api, ca, token, kind, n, interval = sys.argv[1:7]
n, interval = int(n), float(interval) / 1000.0
ctx = ssl.create_default_context(cafile=ca)
host, port = api.rsplit(":", 1)
conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=10)
hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
backends = {"b2": "198.18.1.2", "b3": "198.18.1.3"}


def obj(ip):
    """The object naming ip as the only endpoint."""
    if kind == "endpoints":
        return ("/api/v1/namespaces/default/endpoints/web", {
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "web", "namespace": "default"},
            "subsets": [{"addresses": [{"ip": ip}],
                         "ports": [{"name": "p", "port": 8080,
                                    "protocol": "TCP"}]}]})
    return ("/apis/discovery.k8s.io/v1beta1/namespaces/default/"
            "endpointslices/web-e2e", {
                "apiVersion": "discovery.k8s.io/v1beta1",
                "kind": "EndpointSlice",
                "metadata": {"name": "web-e2e", "namespace": "default",
                             "labels": {"kubernetes.io/service-name": "web"}},
                "addressType": "IPv4",
                "endpoints": [{"addresses": [ip],
                               "conditions": {"ready": True}}],
                "ports": [{"name": "p", "port": 8080, "protocol": "TCP"}]})


def put(ip):
    path, body = obj(ip)
    conn.request("PUT", path, json.dumps(body), hdr)
    r = conn.getresponse()
    data = r.read()
    if r.status // 100 != 2:
        sys.exit("PUT %s: %d %s" % (path, r.status, data[:300]))


def ask():
    """One new connection to the ClusterIP: the backend id or None."""
    try:
        s = socket.create_connection(("198.19.0.10", 80), timeout=1)
        try:
            return s.recv(64).decode().strip() or None
        finally:
            s.close()
    except OSError:
        return None


def settle(want, secs):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if all(ask() == want for _ in range(3)):
            return True
        time.sleep(0.05)
    return False


cur = "b2"
put(backends[cur])
if not settle(cur, 30):
    sys.exit("ClusterIP never answered with %s" % cur)
# Baseline: how long one connection through kuproxy takes at rest.
rest = []
for _ in range(50):
    t = time.monotonic()
    ask()
    rest.append((time.monotonic() - t) * 1000.0)
ack, send, errors, stale_after, first = [], [], 0, 0, 0
for i in range(n):
    new = "b3" if cur == "b2" else "b2"
    t0 = time.monotonic()
    put(backends[new])
    t1 = time.monotonic()
    deadline = t1 + 30
    polls = 0
    while True:
        got = ask()
        polls += 1
        now = time.monotonic()
        if got == new:
            break
        if got is None:
            errors += 1
        if now > deadline:
            sys.exit("round %d: %s never answered" % (i, new))
        time.sleep(interval)
    if polls == 1:
        first += 1
    ack.append((now - t1) * 1000.0)
    send.append((now - t0) * 1000.0)
    # Once switched, it must stay switched.
    if not all(ask() == new for _ in range(5)):
        stale_after += 1
    cur = new
    time.sleep(0.2)
print(json.dumps({"ack": ack, "send": send, "errors": errors,
                  "stale_after": stale_after, "first": first,
                  "conn": sorted(rest)[len(rest) // 2]}))
EOF

pct() {
	"$KP_PY" -c '
import json, math, sys
d = json.load(sys.stdin)
def p(v, q):
    """Nearest-rank percentile."""
    v = sorted(v)
    return v[max(0, math.ceil(q / 100.0 * len(v)) - 1)]
for k in ("ack", "send"):
    v = d[k]
    print("%s %.1f %.1f %.1f %.1f %.1f" % (k, p(v, 50), p(v, 90), p(v, 99),
        max(v), sum(v) / len(v)))
print("errors %d %d %d %.1f" % (d["errors"], d["stale_after"], d["first"],
    d["conn"]))
'
}

for src in $SOURCES; do
	ke_kuproxy "$KP_TMP/kubeconfig" --endpoints-source "$src"
	out=$(timeout 900 ip netns exec "$KP_POD" "$KP_PY" \
	    "$KP_TMP/lat.py" "$KE_API_IP:$KE_API_PORT" "$KE_PKI/ca.crt" \
	    "$KE_ADMIN_TOKEN" "$src" "$N" "$INTERVAL_MS") ||
	    kp_die "$src: measurement failed: $out"
	echo "$out" >"$KP_TMP/lat-$src.json"
	stats=$(echo "$out" | pct)
	read -r _ a50 a90 a99 amax amean <<<"$(echo "$stats" | grep '^ack')"
	read -r _ s50 s90 s99 smax smean <<<"$(echo "$stats" | grep '^send')"
	read -r _ errs stale first conn <<<"$(echo "$stats" | grep '^errors')"
	printf '%-15s N=%d  after ack: p50 %s p90 %s p99 %s max %s mean %s ms | after send: p50 %s p90 %s p99 %s ms | new id on 1st poll %d/%d, failed polls %s, flips back %s; one connection at rest: %s ms\n' \
	    "$src" "$N" "$a50" "$a90" "$a99" "$amax" "$amean" "$s50" "$s90" "$s99" \
	    "$first" "$N" "$errs" "$stale" "$conn"
	if [ -n "$MDOUT" ]; then
		printf '| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %d/%d | %s | %s |\n' \
		    "$(date -u +%F)" "$src" "$N" "$a50" "$a90" "$a99" "$amax" \
		    "$s50" "$s90" "$s99" "$first" "$N" "$errs" "$conn" >>"$MDOUT"
	fi
	ke_kuproxy_stop
	# Back to b2 for the next source.
	ke_backends web 8080 TCP 198.18.1.2
done
kp_finish
