#!/usr/bin/env python3
"""Create many Services and their endpoints in a kube-apiserver, fast.

usage: bulk.py --server URL --ca FILE [--token TOKEN] create FIRST COUNT
       bulk.py ... port I PORT

create: Services svc-I (I in [FIRST, FIRST+COUNT)) in namespace --ns,
  ClusterIP 198.19.(1 + I // 250).(I % 250 + 1), one TCP port "p" 80 ->
  8080, each with --eps endpoints (addresses in 198.18.8.0-198.18.247.255,
  never contacted) as one discovery.k8s.io/v1beta1 EndpointSlice svc-I-b
  (--kind slices, the default) or one Endpoints object (--kind endpoints).
  POSTs over --threads keep-alive HTTPS connections; prints one line: the
  count and the rate.
port: set Service svc-I's port to PORT (a PUT of the object just read;
  PORT 0: 81 if it is 80, else 80), printing the wall-clock time
  (seconds since the epoch) just before the PUT was sent, and the port.

Exits non-zero with the first error (HTTP status and body) on any
failure; a 409 (the object exists) counts as done, so a run can resume.
"""
import argparse
import http.client
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse


def cluster_ip(i):
    return "198.19.%d.%d" % (1 + i // 250, i % 250 + 1)


def ep_ip(k):
    return "198.18.%d.%d" % (8 + (k // 250) % 240, k % 250 + 1)


def service(ns, i):
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "svc-%d" % i, "namespace": ns,
                     "labels": {"bulk": "kuproxy"}},
        "spec": {"type": "ClusterIP", "clusterIP": cluster_ip(i),
                 "ports": [{"name": "p", "port": 80, "protocol": "TCP",
                            "targetPort": 8080}],
                 "selector": {"app": "svc-%d" % i}},
    }


def slice_(ns, i, neps):
    return {
        "apiVersion": "discovery.k8s.io/v1beta1", "kind": "EndpointSlice",
        "metadata": {"name": "svc-%d-b" % i, "namespace": ns,
                     "labels": {"kubernetes.io/service-name": "svc-%d" % i,
                                "endpointslice.kubernetes.io/managed-by":
                                "bulk.kuproxy"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [ep_ip(i * neps + j)],
                       "conditions": {"ready": True}} for j in range(neps)],
        "ports": [{"name": "p", "port": 8080, "protocol": "TCP"}],
    }


def endpoints(ns, i, neps):
    return {
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "svc-%d" % i, "namespace": ns},
        "subsets": [{"addresses": [{"ip": ep_ip(i * neps + j)}
                                   for j in range(neps)],
                     "ports": [{"name": "p", "port": 8080,
                                "protocol": "TCP"}]}],
    }


class Api:
    """One keep-alive HTTPS connection to the apiserver."""

    def __init__(self, a):
        u = urllib.parse.urlparse(a.server)
        self.host, self.port = u.hostname, u.port or 443
        self.ctx = ssl.create_default_context(cafile=a.ca)
        self.hdr = {"Authorization": "Bearer " + a.token,
                    "Content-Type": "application/json"}
        self.conn = None

    def call(self, method, path, obj=None):
        body = json.dumps(obj).encode() if obj is not None else None
        for attempt in range(3):
            if self.conn is None:
                self.conn = http.client.HTTPSConnection(
                    self.host, self.port, context=self.ctx, timeout=60)
            try:
                self.conn.request(method, path, body, self.hdr)
                r = self.conn.getresponse()
                data = r.read()
                return r.status, data
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                time.sleep(0.5)
        raise RuntimeError("unreachable")


def create(a):
    core = "/api/v1/namespaces/%s/" % a.ns
    disc = "/apis/discovery.k8s.io/v1beta1/namespaces/%s/" % a.ns
    todo = list(range(a.first, a.first + a.count))
    lock = threading.Lock()
    errors = []

    def work(part):
        api = Api(a)
        for i in part:
            if errors:
                return
            reqs = [(core + "services", service(a.ns, i))]
            if a.kind == "slices":
                reqs.append((disc + "endpointslices",
                             slice_(a.ns, i, a.eps)))
            else:
                reqs.append((core + "endpoints", endpoints(a.ns, i, a.eps)))
            for path, obj in reqs:
                try:
                    st, data = api.call("POST", path, obj)
                except Exception as e:  # noqa: BLE001 (reported below)
                    st, data = 0, str(e).encode()
                if st not in (200, 201, 409):
                    with lock:
                        errors.append("POST %s (svc-%d): HTTP %d: %s" % (
                            path, i, st, data[:300].decode("utf-8",
                                                           "replace")))
                    return

    t0 = time.time()
    parts = [todo[k::a.threads] for k in range(a.threads)]
    ths = [threading.Thread(target=work, args=(p,)) for p in parts]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    if errors:
        print(errors[0], file=sys.stderr)
        return 1
    dt = time.time() - t0
    print("created %d Services and their %s (%d endpoints each) in %.1f s "
          "(%.0f objects/s)" % (a.count, a.kind, a.eps, dt,
                                2 * a.count / max(dt, 1e-6)))
    return 0


def set_port(a):
    api = Api(a)
    path = "/api/v1/namespaces/%s/services/svc-%d" % (a.ns, a.index)
    st, data = api.call("GET", path)
    if st != 200:
        print("GET %s: HTTP %d: %s" % (path, st, data[:300]), file=sys.stderr)
        return 1
    obj = json.loads(data)
    port = a.port
    if port == 0:
        port = 81 if obj["spec"]["ports"][0]["port"] == 80 else 80
    obj["spec"]["ports"][0]["port"] = port
    t0 = time.time()
    st, data = api.call("PUT", path, obj)
    if st != 200:
        print("PUT %s: HTTP %d: %s" % (path, st, data[:300]), file=sys.stderr)
        return 1
    print("%.6f %d" % (t0, port))
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--server", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--token", default=os.environ.get("KP_BULK_TOKEN"),
                   help="bearer token (default: $KP_BULK_TOKEN)")
    p.add_argument("--ns", default="default")
    p.add_argument("--eps", type=int, default=10)
    p.add_argument("--kind", choices=("slices", "endpoints"),
                   default="slices")
    p.add_argument("--threads", type=int, default=8)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("create")
    c.add_argument("first", type=int)
    c.add_argument("count", type=int)
    s = sub.add_parser("port")
    s.add_argument("index", type=int)
    s.add_argument("port", type=int)
    a = p.parse_args()
    if not a.token:
        p.error("no --token and no $KP_BULK_TOKEN")
    return create(a) if a.cmd == "create" else set_port(a)


if __name__ == "__main__":
    sys.exit(main())
