#!/usr/bin/env python3
"""fakeapi.py: a fault-injecting fake Kubernetes API server for kuproxy's
tests (Python 3 standard library only).

Serves, on 127.0.0.1 (plain HTTP, or TLS with --tls-cert/--tls-key):

  GET /api/v1/services, /api/v1/endpoints,
      /apis/discovery.k8s.io/{v1,v1beta1}/endpointslices
        list (limit/continue pagination, labelSelector "!key,...") or
        watch (watch=1, resourceVersion, timeoutSeconds,
        allowWatchBookmarks) as a chunked stream of JSON events
  GET /apis/discovery.k8s.io/v1, /apis/discovery.k8s.io/v1beta1
  GET /api/v1/nodes/NAME

Control (not authenticated), JSON in and out:

  POST /control  {"op": "put", "kind": K, "obj": {...}}     ADDED/MODIFIED
                 {"op": "delete", "kind": K, "ns": N, "name": M}
                 {"op": "fault", "verb": "list"|"watch"|"get"|"any",
                  "kind": K|"any", "count": 1, "action": {...}}
                 {"op": "compact"}        older resourceVersions: 410
                 {"op": "close_watches"}  end open watches normally
                 {"op": "bookmark"}       BOOKMARK to every watch
                 {"op": "discovery", "v1": bool, "v1beta1": bool}
                 {"op": "token", "token": T}   required bearer token
                 {"op": "gone_mode", "mode": "event"|"status"}
  GET /control/state      every object by kind
  GET /control/requests   every API request served (no secrets)
  GET /control/watchers   open watches per kind

Fault actions (applied to the next matching request, count times):
  {"status": 401}            answer with that status and a v1 Status
  {"drop_mid_event": true}   send half of the first event, then cut
  {"garbage": "text"}        send text instead of an event, then end
  {"error_event": 410}       send an ERROR event with that code, end
  {"dribble": 0.001}         every byte in its own chunk, with a delay

The listening port is written to --port-file once the server is up.  The
server exits when its parent process dies or after --lifetime seconds.
"""

import argparse
import base64
import copy
import json
import os
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KINDS = {
    "services": "Service",
    "endpoints": "Endpoints",
    "endpointslices": "EndpointSlice",
    "nodes": "Node",
}


class State:
    """Everything the server holds, under one lock."""

    def __init__(self):
        self.cond = threading.Condition()
        self.rv = 100
        self.compacted = 0
        self.objs = {k: {} for k in KINDS}      # kind -> (ns, name) -> obj
        self.history = []                       # (rv, kind, type, obj)
        self.faults = []
        self.requests = []
        self.watchers = {k: 0 for k in KINDS}
        self.close_gen = 0                      # bumped by close_watches
        self.bookmark_gen = 0
        self.snapshots = {}             # (kind, rv) -> sorted objects
        self.discovery = {"v1": True, "v1beta1": True}
        self.token = None
        self.gone_mode = "event"

    def next_rv(self):
        self.rv += 1
        return str(self.rv)


ST = State()


def key_of(obj):
    meta = obj.setdefault("metadata", {})
    meta.setdefault("namespace", "default")
    return (meta["namespace"], meta["name"])


def selector_ok(obj, selector):
    """Only the "!key" terms kube-proxy uses."""
    labels = obj.get("metadata", {}).get("labels") or {}
    for term in filter(None, (selector or "").split(",")):
        if term.startswith("!") and term[1:] in labels:
            return False
    return True


def control(cmd):
    op = cmd.get("op")
    with ST.cond:
        if op == "put":
            kind, obj = cmd["kind"], copy.deepcopy(cmd["obj"])
            k = key_of(obj)
            typ = "MODIFIED" if k in ST.objs[kind] else "ADDED"
            obj["metadata"]["resourceVersion"] = ST.next_rv()
            ST.objs[kind][k] = obj
            ST.history.append((ST.rv, kind, typ, obj))
        elif op == "delete":
            kind = cmd["kind"]
            obj = ST.objs[kind].pop((cmd.get("ns", "default"), cmd["name"]))
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = ST.next_rv()
            ST.history.append((ST.rv, kind, "DELETED", obj))
        elif op == "fault":
            ST.faults.append({"verb": cmd.get("verb", "any"),
                              "kind": cmd.get("kind", "any"),
                              "count": cmd.get("count", 1),
                              "action": cmd["action"]})
        elif op == "compact":
            # Every resourceVersion handed out so far is now too old;
            # lists from now on report the new, valid one.
            ST.compacted = int(ST.next_rv())
            ST.history = []
            ST.snapshots = {}
        elif op == "close_watches":
            ST.close_gen += 1
        elif op == "bookmark":
            ST.bookmark_gen += 1
        elif op == "discovery":
            ST.discovery.update({k: bool(cmd[k]) for k in ("v1", "v1beta1")
                                 if k in cmd})
        elif op == "token":
            ST.token = cmd.get("token")
        elif op == "gone_mode":
            ST.gone_mode = cmd["mode"]
        else:
            return 400, {"error": "unknown op %r" % op}
        ST.cond.notify_all()
        return 200, {"rv": str(ST.rv)}


def take_fault(verb, kind):
    with ST.cond:
        for f in ST.faults:
            if f["verb"] in ("any", verb) and f["kind"] in ("any", kind):
                f["count"] -= 1
                if f["count"] <= 0:
                    ST.faults.remove(f)
                return f["action"]
    return None


def status_obj(code, message, reason="Failure"):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": message, "reason": reason,
            "code": code}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakeapi/1"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fakeapi: " + (fmt % args) + "\n")

    def setup(self):
        # Headers and body go out in separate writes: no Nagle delay.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.server.tls is not None:
            self.request.settimeout(10)
            self.request = self.server.tls.wrap_socket(self.request,
                                                       server_side=True)
            self.request.settimeout(None)
        super().setup()

    # -- plumbing --------------------------------------------------------
    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def chunk(self, data):
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def cut(self):
        """Drop the connection without ending the chunked body."""
        self.wfile.flush()
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True

    def do_POST(self):
        if self.path != "/control":
            return self.send_json(404, status_obj(404, "not found"))
        n = int(self.headers.get("Content-Length", "0"))
        cmd = json.loads(self.rfile.read(n) or b"{}")
        code, out = control(cmd)
        self.send_json(code, out)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        parts = [p for p in url.path.split("/") if p]
        if parts and parts[0] == "control":
            return self.get_control(parts[1:])
        kind, verb = self.route(parts, q)
        auth = self.headers.get("Authorization")
        with ST.cond:
            ok = ST.token is None or auth == "Bearer " + ST.token
            ST.requests.append({"verb": verb, "kind": kind,
                                "path": url.path, "query": q,
                                "auth": "none" if auth is None else
                                ("ok" if ok else "bad")})
        if kind is None:
            return self.send_json(404, status_obj(404, "not found",
                                                  "NotFound"))
        if not ok:
            return self.send_json(401, status_obj(401, "Unauthorized",
                                                  "Unauthorized"))
        fault = take_fault(verb, kind)
        if fault and "status" in fault:
            code = fault["status"]
            return self.send_json(code, status_obj(
                code, fault.get("message", "injected %d" % code)))
        if verb == "discovery":
            return self.discovery(kind)
        if verb == "get":
            return self.get_node(parts[-1])
        if verb == "list":
            return self.list(kind, q)
        return self.watch(kind, q, fault or {})

    def route(self, parts, q):
        watch = q.get("watch") in ("1", "true")
        verb = "watch" if watch else "list"
        if parts[:2] == ["api", "v1"] and len(parts) == 3 and \
                parts[2] in ("services", "endpoints"):
            return parts[2], verb
        if parts[:2] == ["api", "v1"] and len(parts) == 4 and \
                parts[2] == "nodes":
            return "nodes", "get"
        if parts[:2] == ["apis", "discovery.k8s.io"] and len(parts) >= 3:
            ver = parts[2]
            if ver not in ("v1", "v1beta1") or not ST.discovery[ver]:
                return None, verb
            if len(parts) == 3:
                return ver, "discovery"
            if len(parts) == 4 and parts[3] == "endpointslices":
                return "endpointslices", verb
        return None, verb

    def get_control(self, parts):
        with ST.cond:
            if parts == ["state"]:
                out = {k: list(v.values()) for k, v in ST.objs.items()}
                out["rv"] = str(ST.rv)
            elif parts == ["requests"]:
                out = ST.requests
            elif parts == ["watchers"]:
                out = ST.watchers
            else:
                out = None
            body = json.dumps(out)
        self.send_json(200 if out is not None else 404, json.loads(body))

    # -- API -------------------------------------------------------------
    def discovery(self, ver):
        self.send_json(200, {
            "kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": "discovery.k8s.io/" + ver,
            "resources": [{"name": "endpointslices", "namespaced": True,
                           "kind": "EndpointSlice",
                           "verbs": ["get", "list", "watch"]}]})

    def get_node(self, name):
        with ST.cond:
            obj = copy.deepcopy(ST.objs["nodes"].get(("default", name)))
        if obj is None:
            return self.send_json(404, status_obj(
                404, 'nodes "%s" not found' % name, "NotFound"))
        self.send_json(200, obj)

    def list(self, kind, q):
        sel = q.get("labelSelector")
        limit = int(q.get("limit", "0") or 0)
        with ST.cond:
            if "continue" in q:
                tok = json.loads(base64.b64decode(q["continue"]))
                snap = ST.snapshots.get((kind, tok["rv"]))
                if snap is None:
                    return self.send_json(410, status_obj(
                        410, "continue token expired", "Expired"))
                rv, off = tok["rv"], tok["off"]
            else:
                rv, off = str(ST.rv), 0
                snap = [copy.deepcopy(ST.objs[kind][k])
                        for k in sorted(ST.objs[kind])]
                snap = [o for o in snap if selector_ok(o, sel)]
                ST.snapshots[(kind, rv)] = snap
        items = snap[off:off + limit] if limit else snap[off:]
        meta = {"resourceVersion": rv}
        if limit and off + limit < len(snap):
            meta["continue"] = base64.b64encode(json.dumps(
                {"rv": rv, "off": off + limit}).encode()).decode()
        self.send_json(200, {"kind": KINDS[kind] + "List",
                             "apiVersion": "v1", "metadata": meta,
                             "items": items})

    def watch(self, kind, q, fault):
        sel = q.get("labelSelector")
        timeout = min(float(q.get("timeoutSeconds", "600")),
                      self.server.max_watch)
        rv = int(q.get("resourceVersion") or 0)
        bookmarks = q.get("allowWatchBookmarks") == "true"
        with ST.cond:
            gone = rv < ST.compacted
            mode = ST.gone_mode
        if gone and mode == "status":
            return self.send_json(410, status_obj(
                410, "too old resource version: %d" % rv, "Expired"))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        with ST.cond:
            ST.watchers[kind] += 1
        try:
            if gone:
                self.send_event(fault, "ERROR", status_obj(
                    410, "too old resource version: %d" % rv, "Expired"))
            else:
                self.stream(kind, sel, rv, timeout, bookmarks, fault)
            if not self.close_connection:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
        except OSError:
            self.close_connection = True
        finally:
            with ST.cond:
                ST.watchers[kind] -= 1

    def send_event(self, fault, typ, obj):
        data = (json.dumps({"type": typ, "object": obj}) + "\n").encode()
        if fault.get("drop_mid_event"):
            self.chunk(data[:len(data) // 2])
            self.cut()
            return False
        delay = fault.get("dribble")
        if delay is None:
            self.chunk(data)
            return True
        for i in range(len(data)):
            self.chunk(data[i:i + 1])
            if delay:
                time.sleep(delay)
        return True

    def stream(self, kind, sel, rv, timeout, bookmarks, fault):
        deadline = time.monotonic() + timeout
        if "garbage" in fault:
            self.chunk(fault["garbage"].encode())
            return
        if "error_event" in fault:
            code = fault["error_event"]
            self.send_event({}, "ERROR", status_obj(code, "injected error "
                                                    "event %d" % code))
            return
        with ST.cond:
            close_gen, bm_gen = ST.close_gen, ST.bookmark_gen
        while True:
            with ST.cond:
                while True:
                    evs = [h for h in ST.history if h[0] > rv and
                           h[1] == kind]
                    left = deadline - time.monotonic()
                    if evs or ST.close_gen != close_gen or left <= 0 or \
                            ST.bookmark_gen != bm_gen:
                        break
                    ST.cond.wait(min(left, 0.5))
                closing = ST.close_gen != close_gen or left <= 0
                bm = ST.bookmark_gen != bm_gen
                bm_gen, cur = ST.bookmark_gen, ST.rv
            for h in evs:
                rv = h[0]
                if not selector_ok(h[3], sel):
                    continue
                if not self.send_event(fault, h[2], h[3]):
                    return
            if bm and bookmarks:
                rv = max(rv, cur)
                self.send_event(fault, "BOOKMARK", {
                    "kind": KINDS[kind], "apiVersion": "v1",
                    "metadata": {"resourceVersion": str(cur)}})
            if closing:
                return


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # Refused handshakes and cut connections are expected here.
        if self.verbose:
            super().handle_error(request, client_address)


def watchdog(ppid, lifetime):
    end = time.monotonic() + lifetime
    while time.monotonic() < end and os.getppid() == ppid:
        time.sleep(0.2)
    os._exit(0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--tls-client-ca")
    ap.add_argument("--max-watch", type=float, default=600)
    ap.add_argument("--lifetime", type=float, default=600)
    ap.add_argument("--token")
    ap.add_argument("--no-slices", action="store_true")
    ap.add_argument("--state", help="JSON file: {kind: [objects]}")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    ST.token = args.token
    if args.no_slices:
        ST.discovery = {"v1": False, "v1beta1": False}
    if args.state:
        with open(args.state) as f:
            for kind, objs in json.load(f).items():
                for o in objs:
                    control({"op": "put", "kind": kind, "obj": o})
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.verbose = args.verbose
    srv.max_watch = args.max_watch
    srv.tls = None
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        ctx.set_alpn_protocols(["http/1.1"])
        if args.tls_client_ca:
            ctx.load_verify_locations(args.tls_client_ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
        srv.tls = ctx
    threading.Thread(target=watchdog, args=(os.getppid(), args.lifetime),
                     daemon=True).start()
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    try:
        srv.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
