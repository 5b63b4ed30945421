#!/usr/bin/env python3
"""soak_load.py: the load of bench/soak.sh, every outcome timed.

Runs until --stop-file exists (or --max-secs pass) against TCP Services
served by tests/integration/backend.py --mode hello ("<id>\\n", then an
echo) and a UDP Service served by its UDP echo ("<id>:" + payload):

  new      a new connection every 1/--rate s to --new IP:PORT (each in its
           own thread, so one slow connection does not slow the rate):
           read the id, send a line, read it back, close.
  held     --held-count connections to --held IP:PORT opened at the start
           and kept idle; every --check-every s each one sends a line and
           must read it back (the last check runs at the stop).
  streams  --streams connections to --stream IP:PORT, each sending --chunk
           bytes of its own pseudo-random sequence every --interval s and
           checking every byte that comes back, in order.
  udp      --udp-flows sockets (one source port each) to --udp IP:PORT,
           a numbered datagram from each every --udp-interval s; one not
           answered by the end of the run (2 s after the last sent) is
           lost, one answered after more than 2 s is late (counted, and
           the longest wait reported: a loaded machine may starve a
           process that runs under nice for that long).

Every failure is recorded with its wall-clock time (time.time(), the
clock of "date +%s.%N") and, when known, the backend id that served the
connection, so that soak.sh can tell a failure on a backend it killed,
or inside its fd-exhaustion window, from one that must not happen.
Prints one JSON object at the end.  Every wait is bounded.
"""

import argparse
import json
import os
import random
import socket
import threading
import time


class Rec:
    """Counters and failure records, under one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.c = {}
        self.failures = []

    def add(self, key, n=1):
        with self.lock:
            self.c[key] = self.c.get(key, 0) + n

    def fail(self, what, kind, backend, t_start, t_end=None):
        with self.lock:
            self.c[what + "_failed"] = self.c.get(what + "_failed", 0) + 1
            if len(self.failures) < 100000:
                self.failures.append({
                    "what": what, "kind": kind, "backend": backend,
                    "t0": round(t_start, 3),
                    "t1": round(t_end if t_end else time.time(), 3)})


def target(s):
    ip, _, port = s.rpartition(":")
    return ip, int(port)


def recv_line(sock, deadline):
    """Read up to a newline before deadline."""
    buf = b""
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timeout")
        sock.settimeout(left)
        b = sock.recv(4096)
        if not b:
            raise EOFError("EOF")
        buf += b
        if len(buf) > 65536:
            raise ValueError("garbage")
    return buf


def recv_exact(sock, n, deadline):
    """Read exactly n bytes before deadline."""
    buf = bytearray()
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timeout")
        sock.settimeout(left)
        b = sock.recv(n - len(buf))
        if not b:
            raise EOFError("EOF")
        buf += b
    return bytes(buf)


def kind_of(e):
    if isinstance(e, (TimeoutError, socket.timeout)):
        return "timeout"
    if isinstance(e, EOFError):
        return "eof"
    if isinstance(e, OSError) and e.errno is not None:
        return os.strerror(e.errno)
    return e.__class__.__name__


def hello(addr, timeout):
    """Connect and read the backend id; returns (socket, id)."""
    s = socket.create_connection(addr, timeout=timeout)
    try:
        ident = recv_line(s, time.monotonic() + timeout).strip().decode()
    except BaseException:
        s.close()
        raise
    return s, ident


def ping(s, timeout, tag):
    """Send a line and check the echo."""
    line = ("%s %d\n" % (tag, random.getrandbits(32))).encode()
    s.sendall(line)
    if recv_line(s, time.monotonic() + timeout) != line:
        raise ValueError("wrong echo")


def one_new(a, rec):
    t0 = time.time()
    ident = None
    try:
        s, ident = hello(target(a.new), a.timeout)
        try:
            ping(s, a.timeout, "new")
        finally:
            s.close()
        rec.add("new_ok")
        rec.add("new_backend_" + ident)
    except Exception as e:
        rec.fail("new", kind_of(e), ident, t0)


def run_new(a, rec, stop):
    period = 1.0 / a.rate
    nxt = time.monotonic()
    threads = []
    while not stop.is_set():
        nxt += period
        th = threading.Thread(target=one_new, args=(a, rec), daemon=True)
        th.start()
        threads.append(th)
        rec.add("new_started")
        threads = [t for t in threads if t.is_alive()]
        d = nxt - time.monotonic()
        if d > 0:
            stop.wait(d)
        else:
            nxt = time.monotonic()
    for th in threads:
        th.join(a.timeout * 3)


def run_held(a, rec, stop):
    held = []
    for i in range(a.held_count):
        t0 = time.time()
        try:
            s, ident = hello(target(a.held), a.timeout)
            ping(s, a.timeout, "held")
            held.append([s, ident, t0])
            rec.add("held_opened")
        except Exception as e:
            rec.fail("held", kind_of(e), None, t0)
    rec.add("held_ready")
    last = False
    while not last:
        last = stop.wait(a.check_every)
        for h in held:
            if h[0] is None:
                continue
            try:
                ping(h[0], a.timeout, "held")
                rec.add("held_pings")
            except Exception as e:
                rec.fail("held", kind_of(e), h[1], h[2])
                h[0].close()
                h[0] = None
    ok = 0
    for h in held:
        if h[0] is not None:
            ok += 1
            h[0].close()
    rec.add("held_ok_at_end", ok)


def run_stream(a, rec, stop, n):
    t0 = time.time()
    ident = None
    rnd = random.Random(n)
    try:
        s, ident = hello(target(a.stream), a.timeout)
    except Exception as e:
        rec.fail("stream", kind_of(e), None, t0)
        return
    rec.add("streams_opened")
    try:
        with s:
            while not stop.is_set():
                data = rnd.randbytes(a.chunk)
                s.sendall(data)
                got = recv_exact(s, len(data), time.monotonic() + a.timeout)
                if got != data:
                    raise ValueError("corrupted")
                rec.add("stream_bytes_checked", len(data))
                stop.wait(a.interval)
        rec.add("streams_ok")
    except Exception as e:
        rec.fail("stream", kind_of(e), ident, t0)


def run_udp(a, rec, stop):
    addr = target(a.udp)
    socks = []
    for _ in range(a.udp_flows):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        socks.append(s)
    seq = 0
    pending = {}        # (sock index, seq) -> send time
    last = False
    while not last:
        last = stop.is_set()
        now = time.time()
        if not last:
            for i, s in enumerate(socks):
                seq += 1
                try:
                    s.sendto(b"%d %d" % (i, seq), addr)
                    pending[(i, seq)] = now
                    rec.add("udp_sent")
                except OSError as e:
                    rec.fail("udp", kind_of(e), None, now)
        end = time.monotonic() + (a.udp_interval if not last else 2.0)
        while time.monotonic() < end:
            for i, s in enumerate(socks):
                while True:
                    try:
                        d = s.recv(2048)
                    except OSError:
                        break
                    ident, _, body = d.partition(b":")
                    try:
                        si, sq = (int(x) for x in body.split())
                    except ValueError:
                        rec.add("udp_garbage")
                        continue
                    t = pending.pop((si, sq), None)
                    if t is not None:
                        rec.add("udp_answered")
                        w = time.time() - t
                        if w > 2.0:
                            rec.add("udp_late")
                        with rec.lock:
                            rec.c["udp_max_wait_ms"] = max(
                                rec.c.get("udp_max_wait_ms", 0),
                                int(w * 1000))
            time.sleep(0.01)
        if last:
            for k, t in list(pending.items()):
                del pending[k]
                rec.fail("udp", "lost", None, t, t + 2.0)
    for s in socks:
        s.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--new")
    p.add_argument("--rate", type=float, default=50.0)
    p.add_argument("--held")
    p.add_argument("--held-count", type=int, default=100)
    p.add_argument("--check-every", type=float, default=10.0)
    p.add_argument("--stream")
    p.add_argument("--streams", type=int, default=4)
    p.add_argument("--chunk", type=int, default=16384)
    p.add_argument("--interval", type=float, default=0.02)
    p.add_argument("--udp")
    p.add_argument("--udp-flows", type=int, default=8)
    p.add_argument("--udp-interval", type=float, default=0.1)
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--stop-file", required=True)
    p.add_argument("--ready-file", default="")
    p.add_argument("--max-secs", type=float, default=7200.0)
    a = p.parse_args()

    rec = Rec()
    stop = threading.Event()
    t0 = time.time()
    ths = []
    if a.held:
        ths.append(threading.Thread(target=run_held, args=(a, rec, stop)))
    for n in range(a.streams if a.stream else 0):
        ths.append(threading.Thread(target=run_stream,
                                    args=(a, rec, stop, n)))
    if a.udp:
        ths.append(threading.Thread(target=run_udp, args=(a, rec, stop)))
    if a.new:
        ths.append(threading.Thread(target=run_new, args=(a, rec, stop)))
    for th in ths:
        th.start()
    ready = False
    while time.time() - t0 < a.max_secs and not os.path.exists(a.stop_file):
        if not ready and a.ready_file and \
                (not a.held or rec.c.get("held_ready")):
            with open(a.ready_file, "w") as f:
                f.write("%.3f\n" % time.time())
            ready = True
        time.sleep(0.1)
    stop.set()
    for th in ths:
        th.join(a.timeout * 4)
    out = dict(rec.c)
    out["secs"] = round(time.time() - t0, 1)
    out["failures"] = rec.failures
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
