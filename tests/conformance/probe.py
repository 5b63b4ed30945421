#!/usr/bin/env python3
"""Probes of the conformance suite (stdlib only): one line of output each,
so that what kube-proxy and kuproxy did can be compared as strings.

  probe.py tcp  --target IP:PORT [--bind IP] [--count N] [--sleep S]
      N sequential connections, each read to its first line; prints the
      outcomes joined by spaces: the backend's id, or !refused (RST to
      the SYN), !timeout (no answer to the SYN), !eof (accepted, then
      closed with nothing sent), !reset (accepted, then reset), !hang
      (accepted, nothing within the timeout), !unreach, !errno-NAME.
      A comma-separated list of targets is probed in turn.
  probe.py count ... (same options as tcp): the outcomes counted,
      sorted: "b2=4 b3=4 b4=4".
  probe.py udp  --target IP:PORT [--bind IP] [--size N] [--count N]
      N datagrams of SIZE random bytes from one socket, each waited for;
      prints per datagram ID:ok (the backend's whole echo), ID:short=LEN
      (an answer of LEN bytes that is a cut echo), ID:bad, !timeout or
      !refused.
  probe.py half --target IP:PORT [--bind IP] [--bytes N]
      connect, send N bytes, shutdown(SHUT_WR), read to EOF; prints the
      reply's first line, or !eof / !reset / !hang / a connect error.
  probe.py conc --target IP:PORT [--bind IP] [--count N]
      N connections started at once, each read to its first line;
      prints the outcomes counted, sorted, like count.
  probe.py hold --target IP:PORT [--bind IP] [--udp] --ready FILE --go FILE
      connect to an echo backend, check one echo, write FILE --ready,
      wait (60 s at most) until FILE --go exists, check a second echo;
      prints "held" or what broke (first:..., second:...).  With --udp,
      one UDP socket (one flow) and the backend's "ID:" echo.
"""

import argparse
import errno
import os
import socket
import sys
import threading
import time


def hostport(s):
    ip, _, port = s.rpartition(":")
    return ip, int(port)


def err_kind(e):
    if isinstance(e, socket.timeout):
        return "timeout"
    if e.errno == errno.ECONNREFUSED:
        return "refused"
    if e.errno in (errno.ECONNRESET, errno.EPIPE):
        return "reset"
    if e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "unreach"
    return "errno-%s" % errno.errorcode.get(e.errno, e.errno)


def connect(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(a.timeout)
    if a.bind:
        s.bind((a.bind, 0))
    try:
        s.connect(hostport(a.target))
    except BaseException:
        s.close()
        raise
    return s


def read_line(s):
    buf = b""
    while b"\n" not in buf and len(buf) < 4096:
        d = s.recv(4096)
        if not d:
            break
        buf += d
    return buf


def one_tcp(a):
    """The outcome of one connection, as a word."""
    try:
        s = connect(a)
    except OSError as e:
        return "!" + err_kind(e)
    try:
        line = read_line(s).decode(errors="replace").strip()
    except socket.timeout:
        return "!hang"
    except OSError as e:
        return "!" + err_kind(e)
    finally:
        s.close()
    return line.split()[0] if line else "!eof"


def tally(words):
    c = {}
    for w in words:
        c[w] = c.get(w, 0) + 1
    return " ".join("%s=%d" % (k, c[k]) for k in sorted(c))


def cmd_tcp(a):
    words = []
    for t in a.target.split(","):
        a.target = t
        for i in range(a.count):
            if i and a.sleep:
                time.sleep(a.sleep)
            words.append(one_tcp(a))
    return words


def cmd_udp(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    s.settimeout(a.timeout)
    s.bind((a.bind or "0.0.0.0", 0))
    words = []
    for i in range(a.count):
        payload = os.urandom(a.size)
        try:
            s.sendto(payload, hostport(a.target))
            reply, _ = s.recvfrom(70000)
        except OSError as e:
            words.append("!" + err_kind(e))
            continue
        ident, sep, rest = reply.partition(b":")
        ident = ident.decode(errors="replace")
        if sep and rest == payload:
            words.append(ident + ":ok")
        elif sep and rest and payload.startswith(rest):
            words.append("%s:short=%d" % (ident, len(reply)))
        else:
            words.append(ident + ":bad")
    s.close()
    return words


def cmd_half(a):
    try:
        s = connect(a)
    except OSError as e:
        return ["!" + err_kind(e)]
    try:
        s.sendall(b"z" * a.bytes)
        s.shutdown(socket.SHUT_WR)
        buf = b""
        while len(buf) < 65536:
            d = s.recv(65536)
            if not d:
                break
            buf += d
    except socket.timeout:
        return ["!hang"]
    except OSError as e:
        return ["!" + err_kind(e)]
    finally:
        s.close()
    line = buf.decode(errors="replace").strip()
    return [line.replace(" ", "_")] if line else ["!eof"]


def cmd_conc(a):
    res = [None] * a.count
    def run(i):
        res[i] = one_tcp(a)
    ts = [threading.Thread(target=run, args=(i,)) for i in range(a.count)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(a.timeout * 2 + 30)
    return [r or "!unfinished" for r in res]


def echo_ok(s, word):
    try:
        s.sendall(word + b"\n")
        got = b""
        while len(got) < len(word) + 1:
            d = s.recv(4096)
            if not d:
                return "eof"
            got += d
        return "ok" if got == word + b"\n" else "garbled"
    except OSError as e:
        return err_kind(e)


def udp_echo_ok(s, target, word):
    try:
        s.sendto(word, hostport(target))
        reply, _ = s.recvfrom(70000)
    except OSError as e:
        return err_kind(e)
    return "ok" if reply.partition(b":")[2] == word else "garbled"


def cmd_hold(a):
    if a.udp:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(a.timeout)
        s.bind((a.bind or "0.0.0.0", 0))
        def echo(word):
            return udp_echo_ok(s, a.target, word)
    else:
        try:
            s = connect(a)
        except OSError as e:
            return ["first:" + err_kind(e)]
        def echo(word):
            return echo_ok(s, word)
    r = echo(b"first")
    if r != "ok":
        return ["first:" + r]
    with open(a.ready, "w") as f:
        f.write("ready\n")
    end = time.monotonic() + 60
    while not os.path.exists(a.go) and time.monotonic() < end:
        time.sleep(0.05)
    r = echo(b"second")
    s.close()
    return ["held" if r == "ok" else "second:" + r]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["tcp", "count", "udp", "half", "conc",
                                    "hold"])
    ap.add_argument("--target", required=True)
    ap.add_argument("--bind")
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--sleep", type=float, default=0.0)
    ap.add_argument("--size", type=int, default=16)
    ap.add_argument("--bytes", type=int, default=1000)
    ap.add_argument("--ready")
    ap.add_argument("--go")
    ap.add_argument("--udp", action="store_true")
    a = ap.parse_args()
    if a.cmd in ("tcp", "count"):
        words = cmd_tcp(a)
    else:
        words = globals()["cmd_" + a.cmd](a)
    if a.cmd in ("count", "conc"):
        print(tally(words))
    else:
        print(" ".join(words))
    return 0


if __name__ == "__main__":
    sys.exit(main())
