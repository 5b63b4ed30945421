#!/usr/bin/env python3
"""Steady load across a change, for the kuproxy integration suite.

Runs for --duration seconds (or until --stop-file exists) against --target
(IP:PORT, a TCP Service address served by backend.py --mode hello):

  new      a new connection every 1/--rate seconds: connect, read the
           backend's "<id>\\n", send one line, read it echoed, close.  A
           refusal, a reset, an EOF or a wrong answer, or no answer within
           --timeout seconds counts as failed, by kind.
  streams  --streams long-lived connections, each opened at the start and
           kept for the whole run, sending --chunk bytes of a per-stream
           pseudo-random sequence every --interval seconds and checking
           that every byte comes back in order.  A stream that breaks
           (reset, EOF, wrong byte, stalled for --timeout) is counted
           broken and not reopened.

Prints one JSON object: new (ok, failed, errors by kind, rate achieved),
streams (opened, ok, broken, bytes_checked, errors), backends (answers by
backend id), secs, first (the first failures with their time since the
start).  Every wait is bounded; the run ends at --duration + --timeout at
the latest.  Exit status 0 whatever the counts (the test judges them).

--events FILE also writes one line per new connection, in start order:
"I T_START T_END OK KIND", the times in CLOCK_MONOTONIC seconds (the
clock of time.monotonic(), the same in every process and namespace), OK
1 or 0, KIND "-" or the failure's kind with spaces as "_": enough to
place a gap in time against another process's clock readings.
"""

import argparse
import json
import os
import random
import socket
import threading
import time


class Stats:
    """Counters shared by the threads (under one lock)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.t0 = time.monotonic()
        self.new_ok = 0
        self.new_failed = 0
        self.new_errors = {}
        self.backends = {}
        self.streams_opened = 0
        self.streams_broken = 0
        self.streams_ok = 0
        self.stream_errors = {}
        self.bytes_checked = 0
        self.first = []
        self.events = []

    def fail(self, table, kind, what):
        with self.lock:
            table[kind] = table.get(kind, 0) + 1
            if len(self.first) < 20:
                self.first.append({"what": what, "kind": kind,
                                   "t": round(time.monotonic() - self.t0, 3)})


def recv_exact(sock, n, deadline):
    """Read exactly n bytes before deadline; raise on EOF or timeout."""
    buf = b""
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timeout")
        sock.settimeout(left)
        b = sock.recv(n - len(buf))
        if not b:
            raise EOFError("EOF")
        buf += b
    return buf


def recv_line(sock, deadline):
    """Read up to and including a newline before deadline."""
    buf = b""
    while not buf.endswith(b"\n"):
        if len(buf) > 256:
            raise ValueError("line too long")
        buf += recv_exact(sock, 1, deadline)
    return buf


def kind_of(e):
    if isinstance(e, OSError) and e.errno is not None:
        return os.strerror(e.errno)
    if isinstance(e, socket.timeout):
        return "timeout"
    return str(e) or type(e).__name__


def one_new(target, timeout, st, i):
    t_start = time.monotonic()
    deadline = t_start + timeout
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        s.connect(target)
        ident = recv_line(s, deadline).strip().decode(errors="replace")
        line = b"steady %d\n" % i
        s.sendall(line)
        if recv_exact(s, len(line), deadline) != line:
            raise ValueError("wrong echo")
        with st.lock:
            st.new_ok += 1
            st.backends[ident] = st.backends.get(ident, 0) + 1
            st.events.append((i, t_start, time.monotonic(), 1, "-"))
    except Exception as e:  # every failure is counted, by kind
        with st.lock:
            st.new_failed += 1
            st.events.append((i, t_start, time.monotonic(), 0,
                              kind_of(e).replace(" ", "_")))
        st.fail(st.new_errors, kind_of(e), "new %d" % i)
    finally:
        s.close()


def new_loop(a, st, end, stop):
    """Start one connection per period on its own thread (bounded)."""
    period = 1.0 / a.rate
    nxt = time.monotonic()
    i = 0
    live = []
    while time.monotonic() < end and not stop():
        th = threading.Thread(target=one_new, args=(a.target, a.timeout,
                                                     st, i), daemon=True)
        th.start()
        live.append(th)
        i += 1
        if len(live) > 512:
            live = [t for t in live if t.is_alive()]
            if len(live) > 512:  # the target stalls: do not pile up
                live[0].join(a.timeout)
        nxt += period
        d = nxt - time.monotonic()
        if d > 0:
            time.sleep(d)
    for th in live:
        th.join(a.timeout + 1)
    return i


def stream(a, st, k, end, stop):
    rnd = random.Random(1000 + k)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.settimeout(a.timeout)
        s.connect(a.target)
        recv_line(s, time.monotonic() + a.timeout)
        with st.lock:
            st.streams_opened += 1
        while time.monotonic() < end and not stop():
            chunk = rnd.randbytes(a.chunk)
            s.settimeout(a.timeout)
            s.sendall(chunk)
            back = recv_exact(s, len(chunk), time.monotonic() + a.timeout)
            if back != chunk:
                raise ValueError("corrupted")
            with st.lock:
                st.bytes_checked += len(chunk)
            time.sleep(a.interval)
        s.shutdown(socket.SHUT_WR)
        with st.lock:
            st.streams_ok += 1
    except Exception as e:
        with st.lock:
            st.streams_broken += 1
        st.fail(st.stream_errors, kind_of(e), "stream %d" % k)
    finally:
        s.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", required=True, help="IP:PORT")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--rate", type=float, default=250.0)
    p.add_argument("--streams", type=int, default=8)
    p.add_argument("--chunk", type=int, default=16384)
    p.add_argument("--interval", type=float, default=0.02)
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--stop-file", default="")
    p.add_argument("--ready-file", default="",
                   help="written once every stream is open")
    p.add_argument("--events", default="",
                   help="one line per new connection (see above)")
    a = p.parse_args()
    host, port = a.target.rsplit(":", 1)
    a.target = (host, int(port))
    a.duration = min(a.duration, 600.0)

    st = Stats()
    end = time.monotonic() + a.duration

    def stop():
        return bool(a.stop_file) and os.path.exists(a.stop_file)

    ths = [threading.Thread(target=stream, args=(a, st, k, end, stop),
                            daemon=True) for k in range(a.streams)]
    for th in ths:
        th.start()
    t = time.monotonic() + a.timeout
    while st.streams_opened + st.streams_broken < a.streams and \
            time.monotonic() < t:
        time.sleep(0.01)
    if a.ready_file:
        with open(a.ready_file, "w") as f:
            f.write("ready\n")
    n = new_loop(a, st, end, stop)
    for th in ths:
        th.join(a.timeout + 1)
    secs = time.monotonic() - st.t0
    out = {
        "new": {"started": n, "ok": st.new_ok, "failed": st.new_failed,
                "errors": st.new_errors, "rate": round(n / secs, 1)},
        "streams": {"wanted": a.streams, "opened": st.streams_opened,
                    "broken": st.streams_broken,
                    "ok": st.streams_ok,
                    "bytes_checked": st.bytes_checked,
                    "errors": st.stream_errors},
        "backends": st.backends,
        "secs": round(secs, 2),
        "first": st.first,
    }
    if a.events:
        with open(a.events, "w") as f:
            for ev in sorted(st.events):
                f.write("%d %.6f %.6f %d %s\n" % ev)
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
