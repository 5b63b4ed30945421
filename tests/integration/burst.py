#!/usr/bin/env python3
"""Burst client for the kuproxy integration suite (stdlib only).

Starts --size concurrent new TCP connections to --target every --interval
seconds, --bursts times, from one selectors loop.  Each connection sends
one line ("ping B I\\n") and waits for the backend's answer:
  hello  "<id>\\n" then the line echoed (backend.py --mode hello; default)
  echo   the line echoed (backend.py --mode echo; no backend id)
Anything else is a failure: the connect to the proxy failing, a reset, an
EOF before the whole answer, a wrong answer, or no answer within
--timeout seconds of the connection's start.

Prints one JSON object: total, ok, resets (connections without their
answer), errors (count by kind: ECONNRESET, "EOF before answer", timeout,
...), the connect-to-answer time of the answered connections (p50_ms,
p90_ms, p99_ms, max_ms), backends (answers by backend id), secs, and bad
(the first failures: burst, index, kind, ms since the connection's start).
"""

import argparse
import errno
import json
import resource
import selectors
import socket
import time


def raise_nofile():
    """Raise the soft RLIMIT_NOFILE to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def hostport(s):
    """Split IP:PORT."""
    ip, _, port = s.rpartition(":")
    return ip, int(port)


def errname(e):
    """ECONNRESET, EHOSTUNREACH, ... for an errno."""
    return errno.errorcode.get(e, "errno %s" % e)


def percentile(sorted_ms, p):
    """Nearest-rank percentile of a sorted list (None if empty)."""
    if not sorted_ms:
        return None
    k = max(0, min(len(sorted_ms) - 1,
                   int(-(-p * len(sorted_ms) // 100)) - 1))
    return sorted_ms[k]


class Conn:
    """One client connection."""

    def __init__(self, sock, burst, idx, t0, deadline):
        self.sock = sock
        self.burst = burst
        self.idx = idx
        self.t0 = t0
        self.deadline = deadline
        self.line = b"ping %d %d\n" % (burst, idx)
        self.buf = b""
        self.state = "connecting"


class Bursts:
    """The selectors loop driving every connection."""

    def __init__(self, a):
        self.a = a
        self.addr = hostport(a.target)
        self.sel = selectors.DefaultSelector()
        self.live = set()
        self.total = 0
        self.ok = 0
        self.errors = {}
        self.backends = {}
        self.ms = []
        self.bad = []

    def fail(self, c, kind):
        """Record a failed connection and drop it."""
        ms = round((time.monotonic() - c.t0) * 1000, 1)
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.bad) < 20:
            self.bad.append({"burst": c.burst, "i": c.idx, "kind": kind,
                             "ms": ms})
        self.drop(c)

    def done(self, c, ident):
        """Record an answered connection and drop it."""
        self.ok += 1
        self.ms.append((time.monotonic() - c.t0) * 1000)
        self.backends[ident] = self.backends.get(ident, 0) + 1
        self.drop(c)

    def drop(self, c):
        """Forget c and close its socket."""
        self.live.discard(c)
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()

    def start(self, burst):
        """Start one burst of connections."""
        for i in range(self.a.size):
            t0 = time.monotonic()
            self.total += 1
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            except OSError as e:
                k = "socket: " + errname(e.errno)
                self.errors[k] = self.errors.get(k, 0) + 1
                continue
            s.setblocking(False)
            c = Conn(s, burst, i, t0, t0 + self.a.timeout)
            self.live.add(c)
            try:
                if self.a.bind:
                    s.bind((self.a.bind, 0))
                rc = s.connect_ex(self.addr)
            except OSError as e:
                rc = e.errno
            if rc not in (0, errno.EINPROGRESS):
                self.fail(c, "connect: " + errname(rc))
                continue
            self.sel.register(s, selectors.EVENT_WRITE, c)

    def on_event(self, c):
        """Advance one connection."""
        if c.state == "connecting":
            e = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if e:
                self.fail(c, "connect: " + errname(e))
                return
            try:
                c.sock.send(c.line)
            except BlockingIOError:
                return
            except OSError as ex:
                self.fail(c, "send: " + errname(ex.errno))
                return
            c.state = "waiting"
            self.sel.modify(c.sock, selectors.EVENT_READ, c)
            return
        try:
            d = c.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as ex:
            self.fail(c, errname(ex.errno))
            return
        if not d:
            self.fail(c, "EOF before answer")
            return
        c.buf += d
        self.check(c)

    def check(self, c):
        """Is the answer complete (and right)?"""
        b = c.buf
        if self.a.mode == "echo":
            if b == c.line:
                self.done(c, "echo")
            elif not c.line.startswith(b):
                self.fail(c, "wrong answer")
            return
        ident, nl, rest = b.partition(b"\n")
        if not nl:
            if len(b) > 256:
                self.fail(c, "wrong answer")
            return
        if rest == c.line:
            self.done(c, ident.decode(errors="replace"))
        elif not c.line.startswith(rest):
            self.fail(c, "wrong answer")

    def expire(self, now):
        """Fail the connections past their deadline."""
        for c in [c for c in self.live if c.deadline <= now]:
            self.fail(c, "timeout " + c.state)

    def run(self):
        """Run every burst, then wait for the last answers."""
        a = self.a
        t0 = time.monotonic()
        nxt = 0
        # Hard stop: the last burst's start plus its timeout, plus slack.
        stop = t0 + a.bursts * a.interval + a.timeout + 2
        while time.monotonic() < stop and (nxt < a.bursts or self.live):
            now = time.monotonic()
            if nxt < a.bursts and now >= t0 + nxt * a.interval:
                self.start(nxt)
                nxt += 1
                continue
            wake = stop
            if nxt < a.bursts:
                wake = min(wake, t0 + nxt * a.interval)
            if self.live:
                wake = min(wake, min(c.deadline for c in self.live))
            left = max(0.0, wake - time.monotonic())
            if self.sel.get_map():
                for key, _ in self.sel.select(timeout=left):
                    self.on_event(key.data)
            else:
                time.sleep(left)
            self.expire(time.monotonic())
        self.expire(float("inf"))
        ms = sorted(self.ms)
        rnd = (lambda v: None if v is None else round(v, 1))
        print(json.dumps({
            "total": self.total, "ok": self.ok,
            "resets": self.total - self.ok, "errors": self.errors,
            "p50_ms": rnd(percentile(ms, 50)),
            "p90_ms": rnd(percentile(ms, 90)),
            "p99_ms": rnd(percentile(ms, 99)),
            "max_ms": rnd(ms[-1] if ms else None),
            "backends": self.backends,
            "secs": round(time.monotonic() - t0, 2),
            "bad": self.bad}, sort_keys=True), flush=True)


def main():
    """Parse arguments and run the bursts."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", required=True, metavar="IP:PORT")
    ap.add_argument("--bind", help="source IP")
    ap.add_argument("--bursts", type=int, default=25)
    ap.add_argument("--size", type=int, default=20,
                    help="concurrent new connections per burst")
    ap.add_argument("--interval", type=float, default=0.4,
                    help="seconds between burst starts")
    ap.add_argument("--timeout", type=float, default=8.0,
                    help="seconds for one connection, connect to answer")
    ap.add_argument("--mode", choices=("hello", "echo"), default="hello")
    a = ap.parse_args()
    if a.bursts < 1 or a.size < 1 or a.bursts * a.size > 100000:
        ap.error("--bursts and --size: 1 or more, 100000 connections at most")
    raise_nofile()
    Bursts(a).run()


if __name__ == "__main__":
    main()
