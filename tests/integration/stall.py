#!/usr/bin/env python3
"""stall.py: stalled TCP peers for the resource-bound tests.

  server --listen IP:PORT --mode sink|source
      sink:   accept and never read (the backend that never reads)
      source: accept and write as fast as the peer takes (a backend
              whose client never reads)
  client --target IP:PORT --count N --mode send|noread --ready-file F
      send:   N connections, each writing until the socket is full, then
              idle (the client that sends and never reads)
      noread: N connections, never read
      writes "READY <sent bytes>" to the ready file once every
      connection is open and (send) full, then holds them until killed.

One selectors loop, non-blocking sockets; runs until killed (the test's
trap) or --lifetime seconds.
"""

import argparse
import resource
import selectors
import socket
import sys
import time


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def hostport(s):
    ip, _, port = s.rpartition(":")
    return ip, int(port)


def server(a):
    sel = selectors.DefaultSelector()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(hostport(a.listen))
    ls.listen(4096)
    ls.setblocking(False)
    sel.register(ls, selectors.EVENT_READ)
    held = []
    chunk = b"s" * 65536
    end = time.monotonic() + a.lifetime
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=1.0):
            if key.fileobj is ls:
                for _ in range(256):
                    try:
                        s, _ = ls.accept()
                    except OSError:
                        break
                    s.setblocking(False)
                    held.append(s)
                    if a.mode == "source":
                        sel.register(s, selectors.EVENT_WRITE)
                continue
            try:
                key.fileobj.send(chunk)
            except BlockingIOError:
                pass
            except OSError:
                sel.unregister(key.fileobj)


def client(a):
    socks = []
    addr = hostport(a.target)
    for _ in range(a.count):
        s = socket.create_connection(addr, timeout=10)
        s.setblocking(False)
        socks.append(s)
    sent = 0
    if a.mode == "send":
        # Fill every connection: the proxy reads until the backend's
        # receive buffer is full, then stops; we stop at EAGAIN twice
        # 0.5 s apart.
        chunk = b"c" * 65536
        for rnd in range(40):
            more = 0
            for s in socks:
                while True:
                    try:
                        n = s.send(chunk)
                    except BlockingIOError:
                        break
                    sent += n
                    more += n
            if more == 0 and rnd > 2:
                break
            time.sleep(0.5)
    else:
        time.sleep(a.settle)
    with open(a.ready_file, "w") as f:
        f.write("READY %d\n" % sent)
    time.sleep(a.lifetime)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("role", choices=("server", "client"))
    p.add_argument("--listen")
    p.add_argument("--target")
    p.add_argument("--mode", required=True)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--ready-file")
    p.add_argument("--settle", type=float, default=5.0)
    p.add_argument("--lifetime", type=float, default=300.0)
    a = p.parse_args()
    raise_nofile()
    if a.role == "server":
        server(a)
    else:
        client(a)


if __name__ == "__main__":
    main()
