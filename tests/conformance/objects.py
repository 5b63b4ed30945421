#!/usr/bin/env python3
"""Objects of the conformance suite, as JSON on stdout (stdlib only).

  objects.py svc NAME [--cip IP|None] [--port NAME/PORT/PROTO[/NODEPORT]]...
      [--type TYPE] [--affinity -|SECONDS] [--external IP]...
      [--no-selector] [--external-name HOST]
      A v1 Service in "default"; a port's name may be empty ("/80/TCP").
      Its targetPort is the port (only Endpoints say where traffic goes).
  objects.py status NAME --lb IP...      (reads the Service on stdin)
      The same Service with status.loadBalancer.ingress set.
  objects.py eps NAME [--subset PORTS=ADDRS]...
  objects.py slices NAME [--subset PORTS=ADDRS]...
      Endpoints, or v1beta1 EndpointSlices NAME-cf0, NAME-cf1... (one line
      each, one per subset) of Service NAME.  PORTS is NAME/PORT/PROTO
      joined by "+", ADDRS IPs joined by ",", an IP ending in "~" not
      ready: "p/8080/TCP=198.18.1.2,198.18.1.3~".
"""

import argparse
import json
import sys

NS = "default"


def parse_subset(s):
    ports_s, _, addrs_s = s.partition("=")
    ports = []
    for p in ports_s.split("+"):
        name, port, proto = p.split("/")
        ports.append({"name": name, "port": int(port), "protocol": proto})
    ready, notready = [], []
    for a in filter(None, addrs_s.split(",")):
        (notready if a.endswith("~") else ready).append(a.rstrip("~"))
    return ports, ready, notready


def svc(a):
    spec = {"type": a.type}
    if a.external_name:
        spec = {"type": "ExternalName", "externalName": a.external_name}
    if a.cip:
        spec["clusterIP"] = a.cip
    ports = []
    for p in a.port:
        f = p.split("/")
        port = {"name": f[0], "port": int(f[1]), "protocol": f[2],
                "targetPort": int(f[1])}
        if len(f) > 3:
            port["nodePort"] = int(f[3])
        ports.append(port)
    if ports:
        spec["ports"] = ports
    if not a.no_selector and not a.external_name:
        spec["selector"] = {"app": a.name}
    if a.external:
        spec["externalIPs"] = a.external
    if a.affinity:
        spec["sessionAffinity"] = "ClientIP"
        if a.affinity != "-":
            spec["sessionAffinityConfig"] = {
                "clientIP": {"timeoutSeconds": int(a.affinity)}}
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": a.name, "namespace": NS,
                         "labels": {"conformance": "kuproxy"}},
            "spec": spec}


def eps(a):
    subsets = []
    for s in a.subset:
        ports, ready, notready = parse_subset(s)
        sub = {"ports": ports}
        if ready:
            sub["addresses"] = [{"ip": ip} for ip in ready]
        if notready:
            sub["notReadyAddresses"] = [{"ip": ip} for ip in notready]
        subsets.append(sub)
    return {"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": a.name, "namespace": NS},
            "subsets": subsets}


def slices(a):
    out = []
    for i, s in enumerate(a.subset):
        ports, ready, notready = parse_subset(s)
        eps_ = [{"addresses": [ip], "conditions": {"ready": True}}
                for ip in ready]
        eps_ += [{"addresses": [ip], "conditions": {"ready": False}}
                 for ip in notready]
        out.append({
            "apiVersion": "discovery.k8s.io/v1beta1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "%s-cf%d" % (a.name, i), "namespace": NS,
                "labels": {
                    "kubernetes.io/service-name": a.name,
                    "endpointslice.kubernetes.io/managed-by":
                        "conformance.kuproxy"}},
            "addressType": "IPv4", "endpoints": eps_, "ports": ports})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["svc", "status", "eps", "slices"])
    ap.add_argument("name")
    ap.add_argument("--cip")
    ap.add_argument("--port", action="append", default=[])
    ap.add_argument("--type", default="ClusterIP")
    ap.add_argument("--affinity")
    ap.add_argument("--external", action="append", default=[])
    ap.add_argument("--no-selector", action="store_true")
    ap.add_argument("--external-name")
    ap.add_argument("--lb", action="append", default=[])
    ap.add_argument("--subset", action="append", default=[])
    a = ap.parse_args()
    if a.kind == "svc":
        print(json.dumps(svc(a)))
    elif a.kind == "status":
        d = json.load(sys.stdin)
        d["status"] = {"loadBalancer": {
            "ingress": [{"ip": ip} for ip in a.lb]}}
        print(json.dumps(d))
    elif a.kind == "eps":
        print(json.dumps(eps(a)))
    else:
        for s in slices(a):
            print(json.dumps(s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
