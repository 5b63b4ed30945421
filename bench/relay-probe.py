#!/usr/bin/env python3
"""Latency probe for bench/relay.sh: HTTP requests at a fixed, light rate.

usage: relay-probe.py keepalive|conn IP PORT RATE SECONDS

keepalive: one persistent HTTP/1.1 connection; a GET every 1/RATE s,
each timed from its send() to the end of the answer.
conn: a new connection every 1/RATE s ("Connection: close"), each timed
from the start of connect() to the end of the answer (EOF).

Requests follow a fixed schedule (an open loop, so a slow answer delays
the next one but the schedule catches up); at most RATE * SECONDS
requests, each with a 2 s timeout, and the whole run ends by SECONDS +
10 s whatever happens.  Prints one JSON object: n (answered), errors,
late (sends more than 1 ms behind the schedule), rate (answered per
second), p50_ms, p90_ms, p99_ms, max_ms (nearest rank).  Exits 0 if at
least one request was answered.
"""
import json
import socket
import sys
import time

TIMEOUT = 2.0


def request(close):
    return (b"GET / HTTP/1.1\r\nHost: bench\r\n" +
            (b"Connection: close\r\n" if close else b"") + b"\r\n")


def read_answer(sock, buf):
    """Read one HTTP answer (with Content-Length) from sock; returns the
    bytes past its end.  Raises OSError on EOF before its end."""
    while b"\r\n\r\n" not in buf:
        d = sock.recv(4096)
        if not d:
            raise OSError("EOF in the header")
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 200"):
        raise OSError("status %r" % head[:20])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(rest) < length:
        d = sock.recv(4096)
        if not d:
            raise OSError("EOF in the body")
        rest += d
    return rest[length:]


def connect(ip, port):
    s = socket.create_connection((ip, port), timeout=TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def pct(sorted_ms, p):
    if not sorted_ms:
        return None
    i = max(0, min(len(sorted_ms) - 1,
                   int(-(-p * len(sorted_ms) // 100)) - 1))
    return round(sorted_ms[i], 3)


def main():
    if len(sys.argv) != 6 or sys.argv[1] not in ("keepalive", "conn"):
        sys.stderr.write(__doc__)
        return 2
    mode, ip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rate, secs = float(sys.argv[4]), float(sys.argv[5])
    total = max(1, int(rate * secs))
    gap = 1.0 / rate
    hard_end = time.monotonic() + secs + 10
    lat, errors, late = [], 0, 0
    sock, buf = None, b""
    req = request(mode == "conn")
    start = time.monotonic()
    for i in range(total):
        now = time.monotonic()
        if now >= hard_end:
            break
        due = start + i * gap
        if due > now:
            time.sleep(due - now)
        elif now - due > 0.001:
            late += 1
        t0 = time.perf_counter()
        try:
            if mode == "conn":
                with connect(ip, port) as s:
                    s.sendall(req)
                    read_answer(s, b"")
                    while s.recv(4096):
                        pass
            else:
                if sock is None:
                    sock, buf = connect(ip, port), b""
                    t0 = time.perf_counter()
                sock.sendall(req)
                buf = read_answer(sock, buf)
        except (OSError, ValueError):
            errors += 1
            if sock is not None:
                sock.close()
                sock = None
            continue
        lat.append((time.perf_counter() - t0) * 1000)
    wall = time.monotonic() - start
    if sock is not None:
        sock.close()
    lat.sort()
    print(json.dumps({
        "mode": mode, "n": len(lat), "errors": errors, "late": late,
        "rate": round(len(lat) / wall, 1) if wall > 0 else 0,
        "p50_ms": pct(lat, 50), "p90_ms": pct(lat, 90),
        "p99_ms": pct(lat, 99), "max_ms": pct(lat, 100)}))
    return 0 if lat else 1


if __name__ == "__main__":
    sys.exit(main())
