#!/usr/bin/env python3
"""Test client for the kuproxy integration suite (stdlib only).

Subcommands (each prints one JSON object on stdout unless noted):
  dist       N sequential TCP connections, distribution of backend ids
             (--delays: sleep between them, report the real gaps)
  halfclose  send B bytes, shutdown(SHUT_WR), print the reply
  udp        one datagram of S bytes, verify the echo or the digest
  udp-dist   one small datagram from each of N fresh source ports
  udp-flow   datagram, then watch activeConnections in /debug/services
  probe      one connection: how and how fast does it end
  hold       hold N relayed connections; commands on stdin (line based)
  flood      M concurrent connection attempts, outcome by category
  loop       connect in a loop for T seconds, count failures
  debug      fetch /debug/services, print one service (or one field)
Every network wait is bounded by a timeout or a deadline.
"""

import argparse
import errno
import hashlib
import json
import os
import resource
import selectors
import socket
import sys
import time
import urllib.request


def raise_nofile():
    """Raise the soft RLIMIT_NOFILE to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def hostport(s):
    """Split IP:PORT."""
    ip, _, port = s.rpartition(":")
    return ip, int(port)


def out(obj):
    """Print one JSON object."""
    print(json.dumps(obj, sort_keys=True), flush=True)


def err_kind(e):
    """Name an OSError the way the tests count it."""
    if isinstance(e, socket.timeout):
        return "timeout"
    if e.errno == errno.ECONNREFUSED:
        return "refused"
    if e.errno in (errno.ECONNRESET, errno.EPIPE):
        return "reset"
    if e.errno in (errno.ETIMEDOUT, errno.EHOSTUNREACH):
        return "timeout"
    return "error:%s" % errno.errorcode.get(e.errno, e.errno)


def tcp_connect(target, bind, timeout):
    """Blocking connect to target, optionally from source IP bind."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if bind:
        s.bind((bind, 0))
    try:
        s.connect(hostport(target))
    except BaseException:
        s.close()
        raise
    return s


def read_line(s, limit=4096):
    """Read up to and including the first newline (or EOF)."""
    buf = b""
    while b"\n" not in buf and len(buf) < limit:
        d = s.recv(limit)
        if not d:
            break
        buf += d
    return buf


def cmd_dist(a):
    """Open count sequential connections and count backend ids."""
    counts, seq, errors, gaps = {}, [], {}, []
    delays = [float(x) for x in a.delays.split(",")] if a.delays else []
    last = None
    for i in range(a.count):
        if 0 < i <= len(delays):
            time.sleep(delays[i - 1])
        now = time.monotonic()
        if last is not None:
            gaps.append(round(now - last, 3))
        last = now
        try:
            s = tcp_connect(a.target, a.bind, a.timeout)
            try:
                line = read_line(s).decode(errors="replace").strip()
            finally:
                s.close()
        except OSError as e:
            k = err_kind(e)
            errors[k] = errors.get(k, 0) + 1
            seq.append("!" + k)
            continue
        if not line:
            errors["empty"] = errors.get("empty", 0) + 1
            seq.append("!empty")
            continue
        counts[line] = counts.get(line, 0) + 1
        seq.append(line)
        if a.sleep:
            time.sleep(a.sleep)
    out({"counts": counts, "seq": seq, "errors": errors,
         "ok": sum(counts.values()), "gaps": gaps})


def cmd_halfclose(a):
    """Send bytes, half-close, and read the whole reply."""
    s = tcp_connect(a.target, a.bind, a.timeout)
    payload = b"z" * a.bytes
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    reply = b""
    while len(reply) < 65536:
        d = s.recv(65536)
        if not d:
            break
        reply += d
    s.close()
    out({"sent": a.bytes, "reply": reply.decode(errors="replace").strip()})


def udp_check(reply, payload):
    """Return (id, form, ok) for a backend answer to payload."""
    ident, sep, rest = reply.partition(b":")
    if not sep:
        return None, "garbage", False
    ident = ident.decode(errors="replace")
    if rest == payload:
        return ident, "echo", True
    want = ("len=%d:sha256=%s" % (len(payload),
            hashlib.sha256(payload).hexdigest())).encode()
    if rest == want:
        return ident, "digest", True
    return ident, "mismatch", False


def udp_socket(bind, timeout):
    """A UDP socket with big buffers, bound to bind (IP) if given."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    s.settimeout(timeout)
    s.bind((bind or "0.0.0.0", 0))
    return s


def udp_roundtrip(s, target, size, tries):
    """Send one datagram of size bytes and verify the answer."""
    payload = os.urandom(size)
    res = {"size": size, "id": None, "form": "timeout", "ok": False,
           "reply_len": 0}
    for _ in range(tries):
        s.sendto(payload, hostport(target))
        try:
            reply, _ = s.recvfrom(70000)
        except socket.timeout:
            continue
        except OSError as e:
            res["form"] = err_kind(e)
            continue
        ident, form, ok = udp_check(reply, payload)
        res.update(id=ident, form=form, ok=ok, reply_len=len(reply))
        break
    return res


def cmd_udp(a):
    """Round-trip one datagram of a.size bytes."""
    s = udp_socket(a.bind, a.timeout)
    res = udp_roundtrip(s, a.target, a.size, a.tries)
    s.close()
    out(res)


def cmd_udp_dist(a):
    """One datagram from each of count fresh source ports."""
    seq, socks = [], []
    for _ in range(a.count):
        s = udp_socket(a.bind, a.timeout)
        socks.append(s)
        r = udp_roundtrip(s, a.target, a.size, a.tries)
        seq.append(r["id"] if r["ok"] else "!" + r["form"])
    for s in socks:
        s.close()
    out({"seq": seq})


def fetch_debug(url, timeout=2.0):
    """GET /debug/services and return the parsed JSON."""
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read().decode())


def find_service(doc, name):
    """The entry for name in a /debug/services document, or None."""
    for svc in doc.get("services", []):
        if svc.get("name") == name:
            return svc
    return None


def cmd_udp_flow(a):
    """Datagram, then activeConnections right after and until it is 0."""
    s = udp_socket(a.bind, a.timeout)
    r = udp_roundtrip(s, a.target, 32, 1)
    t0 = time.monotonic()
    svc = find_service(fetch_debug(a.url), a.service) or {}
    after = svc.get("activeConnections")
    expired_after = None
    deadline = t0 + a.within
    while time.monotonic() < deadline:
        svc = find_service(fetch_debug(a.url), a.service) or {}
        if svc.get("activeConnections") == 0:
            expired_after = round(time.monotonic() - t0, 3)
            break
        time.sleep(0.05)
    s.close()
    out({"roundtrip": r, "active_after": after,
         "expired_after": expired_after})


def cmd_probe(a):
    """Connect once and report how the connection ends."""
    t0 = time.monotonic()
    res = {"result": None, "elapsed": None, "data": ""}
    try:
        s = tcp_connect(a.target, a.bind, a.timeout)
    except OSError as e:
        res.update(result=err_kind(e), stage="connect",
                   elapsed=round(time.monotonic() - t0, 3))
        out(res)
        return
    try:
        if a.send:
            s.sendall(a.send.encode())
        d = s.recv(4096)
        res["result"] = "eof" if not d else "data"
        res["data"] = d.decode(errors="replace")
    except OSError as e:
        res["result"] = err_kind(e)
    res["stage"] = "read"
    res["elapsed"] = round(time.monotonic() - t0, 3)
    s.close()
    out(res)


class Batch:
    """Many nonblocking connections driven by one selector.

    Each connection connects, sends one byte and waits for its echo
    (after a "<id>\\n" greeting if hello is set).  State per socket:
    "connecting", "waiting", then a final "ok", "refused", "reset",
    "eof", "timeout" or "error:...".
    """

    def __init__(self, target, bind, hello):
        self.addr = hostport(target)
        self.bind = bind
        self.hello = hello
        self.sel = selectors.DefaultSelector()
        self.state = {}
        self.buf = {}

    def start(self, n):
        """Start n connects; returns the sockets created."""
        socks = []
        for _ in range(n):
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            except OSError as e:
                print("client: socket: %s" % e, file=sys.stderr)
                break
            s.setblocking(False)
            if self.bind:
                s.bind((self.bind, 0))
            rc = s.connect_ex(self.addr)
            if rc not in (0, errno.EINPROGRESS):
                self.state[s] = err_kind(OSError(rc, os.strerror(rc)))
            else:
                self.state[s] = "connecting"
                self.sel.register(s, selectors.EVENT_WRITE)
            socks.append(s)
        return socks

    def finish(self, s, st):
        """Record a final state for s."""
        self.state[s] = st
        try:
            self.sel.unregister(s)
        except KeyError:
            pass

    def expected(self):
        """How many bytes a healthy connection answers with."""
        return None if self.hello else 1

    def on_event(self, s):
        """Advance one connection."""
        if self.state[s] == "connecting":
            e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if e:
                self.finish(s, err_kind(OSError(e, os.strerror(e))))
                return
            try:
                s.send(b"x")
            except OSError as ex:
                self.finish(s, err_kind(ex))
                return
            self.state[s] = "waiting"
            self.buf[s] = b""
            self.sel.modify(s, selectors.EVENT_READ)
            return
        try:
            d = s.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as ex:
            self.finish(s, err_kind(ex))
            return
        if not d:
            self.finish(s, "eof")
            return
        self.buf[s] += d
        b = self.buf[s]
        if (self.hello and b"\n" in b and b.endswith(b"x")) or \
                (not self.hello and b == b"x"):
            self.finish(s, "ok")

    def run(self, deadline):
        """Drive pending connections until all are final or deadline."""
        while self.sel.get_map() and time.monotonic() < deadline:
            left = max(0.0, deadline - time.monotonic())
            for key, _ in self.sel.select(timeout=min(left, 0.5)):
                self.on_event(key.fileobj)
        for s in list(self.sel.get_map().values()):
            self.finish(s.fileobj, "timeout")

    def recheck(self, socks, deadline):
        """Send one byte on every ok socket and wait for the echo."""
        for s in socks:
            if self.state.get(s) != "ok":
                continue
            self.buf[s] = b"" if not self.hello else b"\n"
            try:
                s.send(b"x")
            except OSError as ex:
                self.state[s] = err_kind(ex)
                continue
            self.state[s] = "waiting"
            self.sel.register(s, selectors.EVENT_READ)
        self.run(deadline)

    def tally(self, socks):
        """Count final states for socks."""
        t = {}
        for s in socks:
            st = self.state.get(s, "none")
            t[st] = t.get(st, 0) + 1
        return t


def cmd_hold(a):
    """Hold count relayed connections; obey check/release on stdin."""
    raise_nofile()
    b = Batch(a.target, a.bind, a.hello)
    socks = []
    t0 = time.monotonic()
    deadline = t0 + a.deadline
    while len(socks) < a.count and time.monotonic() < deadline:
        batch = b.start(min(a.batch, a.count - len(socks)))
        if not batch:
            break
        b.run(min(deadline, time.monotonic() + a.timeout))
        socks += batch
    t = b.tally(socks)
    print("HELD ok=%d total=%d secs=%.2f %s" % (t.get("ok", 0), len(socks),
          time.monotonic() - t0, json.dumps(t, sort_keys=True)), flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "check":
            t0 = time.monotonic()
            b.recheck(socks, t0 + a.timeout)
            t = b.tally(socks)
            print("CHECK ok=%d total=%d secs=%.2f %s" % (t.get("ok", 0),
                  len(socks), time.monotonic() - t0,
                  json.dumps(t, sort_keys=True)), flush=True)
        elif cmd == "release":
            break
    for s in socks:
        s.close()
    print("RELEASED %d" % len(socks), flush=True)


def cmd_flood(a):
    """Try count concurrent connections; report outcomes by category."""
    raise_nofile()
    b = Batch(a.target, a.bind, False)
    t0 = time.monotonic()
    socks = b.start(a.count)
    b.run(t0 + a.timeout)
    t = b.tally(socks)
    t["attempted"] = a.count
    t["created"] = len(socks)
    t["secs"] = round(time.monotonic() - t0, 2)
    for s in socks:
        s.close()
    out(t)


def cmd_loop(a):
    """Connect repeatedly for duration seconds, counting failures."""
    ok, fails, errors = 0, 0, {}
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < a.duration and n < a.max:
        n += 1
        try:
            s = tcp_connect(a.target, a.bind, a.timeout)
            try:
                line = read_line(s).strip()
            finally:
                s.close()
            if line:
                ok += 1
            else:
                fails += 1
                errors["empty"] = errors.get("empty", 0) + 1
        except OSError as e:
            fails += 1
            k = err_kind(e)
            errors[k] = errors.get(k, 0) + 1
        if a.interval:
            time.sleep(a.interval)
    out({"ok": ok, "fail": fails, "errors": errors,
         "secs": round(time.monotonic() - t0, 2)})


def cmd_debug(a):
    """Print the /debug/services entry for a service (or one field)."""
    doc = fetch_debug(a.url, a.timeout)
    if not a.service:
        out(doc)
        return
    svc = find_service(doc, a.service)
    if svc is None:
        sys.exit(3)
    if a.field:
        print(json.dumps(svc.get(a.field)))
    else:
        out(svc)


def main():
    """Dispatch a subcommand."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def add(name, fn, target=True):
        p = sub.add_parser(name)
        p.set_defaults(fn=fn)
        if target:
            p.add_argument("--target", required=True, metavar="IP:PORT")
        p.add_argument("--bind", help="source IP")
        p.add_argument("--timeout", type=float, default=3.0)
        return p

    p = add("dist", cmd_dist)
    p.add_argument("--count", type=int, default=30)
    p.add_argument("--sleep", type=float, default=0.0)
    p.add_argument("--delays", metavar="S,S,...",
                   help="sleep before connection 2, 3, ...; the measured "
                   "gaps between connection starts are reported")
    p = add("halfclose", cmd_halfclose)
    p.add_argument("--bytes", type=int, default=100000)
    for name, fn in (("udp", cmd_udp), ("udp-dist", cmd_udp_dist)):
        p = add(name, fn)
        p.add_argument("--size", type=int, default=61440)
        p.add_argument("--tries", type=int, default=3)
        p.add_argument("--count", type=int, default=3)
    p = add("udp-flow", cmd_udp_flow)
    p.add_argument("--url", required=True)
    p.add_argument("--service", required=True)
    p.add_argument("--within", type=float, default=3.0)
    p = add("probe", cmd_probe)
    p.add_argument("--send", default="")
    p = add("hold", cmd_hold)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--deadline", type=float, default=60.0)
    p.add_argument("--hello", action="store_true")
    p = add("flood", cmd_flood)
    p.add_argument("--count", type=int, required=True)
    p = add("loop", cmd_loop)
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--interval", type=float, default=0.0)
    p.add_argument("--max", type=int, default=100000)
    p = add("debug", cmd_debug, target=False)
    p.add_argument("--url", required=True)
    p.add_argument("--service")
    p.add_argument("--field")
    a = ap.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
