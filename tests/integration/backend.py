#!/usr/bin/env python3
"""Test backend for the kuproxy integration suite (stdlib only).

Serves TCP and/or UDP on one or more ID@IP:PORT addresses from a single
selectors loop, so one process can stand in for several pods and hold
thousands of idle connections.

TCP modes:
  id         reply "<id>\\n" and close
  echo       echo until EOF, then close
  hello      send "<id>\\n" first, then echo until EOF, then close
  halfclose  read until EOF, reply "<id> got <N> bytes\\n", then close
UDP (with --udp): each datagram is answered with b"<id>:" + payload when
that fits in one datagram (65507 bytes), else with
b"<id>:len=<N>:sha256=<hex>".

Writes "ready" to --ready-file once every socket is bound, and prints a
line for each SIGUSR1 with the number of open TCP connections.

SIGUSR2 stops the backend the way a draining pod stops, without
resetting a connection whose handshake the kernel already completed:
each TCP listener at once drops new SYNs (a socket filter: dialers see
an unanswered SYN, then a refusal); 0.3 s later, once the handshakes in
flight have completed, the backlog is accepted and the listeners are
closed (new connects are refused); the accepted connections are served
to their end, then the process exits (after 10 s at most).
"""

import argparse
import hashlib
import os
import resource
import selectors
import signal
import socket
import struct
import sys
import time

UDP_MAX = 65507
SO_ATTACH_FILTER = getattr(socket, "SO_ATTACH_FILTER", 26)
DRAIN_SYN_SECS = 0.3	# SYNs dropped, handshakes in flight completing
DRAIN_MAX_SECS = 10.0	# exit then, even with connections open


def drop_syns(sock):
    """Attach a classic BPF filter dropping pure SYNs to a TCP listener.

    A listener's filter sees the segment from its TCP header: byte 13
    holds the flags.  The ACKs completing handshakes already under way
    still pass, so they complete into the backlog.
    """
    import ctypes
    prog = [(0x30, 0, 0, 13),            # ldb [13]
            (0x54, 0, 0, 0x12),          # and #(SYN|ACK)
            (0x15, 0, 1, 0x02),          # jeq #SYN, drop, keep
            (0x06, 0, 0, 0),             # ret #0: drop
            (0x06, 0, 0, 0xffffffff)]    # ret #-1: keep it all
    buf = ctypes.create_string_buffer(
        b"".join(struct.pack("HBBI", *ins) for ins in prog))
    fprog = struct.pack("HL", len(prog), ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def raise_nofile():
    """Raise the soft RLIMIT_NOFILE to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def parse_spec(spec):
    """Split ID@IP:PORT into (id, ip, port)."""
    ident, _, addr = spec.partition("@")
    ip, _, port = addr.rpartition(":")
    if not ident or not ip or not port:
        raise ValueError("bad listen spec %r (want ID@IP:PORT)" % spec)
    return ident, ip, int(port)


def udp_reply(ident, payload):
    """Build the UDP answer for one datagram."""
    prefix = ident.encode() + b":"
    if len(prefix) + len(payload) <= UDP_MAX:
        return prefix + payload
    digest = hashlib.sha256(payload).hexdigest()
    return prefix + ("len=%d:sha256=%s" % (len(payload), digest)).encode()


class Conn:
    """One accepted TCP connection."""

    def __init__(self, sock, ident, mode):
        self.sock = sock
        self.ident = ident
        self.mode = mode
        self.out = bytearray()
        self.got = 0
        self.eof = False


class Server:
    """The selectors loop serving every listener."""

    def __init__(self, mode):
        self.sel = selectors.DefaultSelector()
        self.mode = mode
        self.conns = 0
        self.accepted = 0
        self.listeners = []
        self.udps = []
        self.drain_start = None

    def add_tcp(self, ident, ip, port):
        """Listen on TCP ip:port answering as ident."""
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((ip, port))
        ls.listen(4096)
        ls.setblocking(False)
        self.sel.register(ls, selectors.EVENT_READ, ("listen", ident))
        self.listeners.append((ls, ident))

    def add_udp(self, ident, ip, port):
        """Serve UDP on ip:port answering as ident."""
        us = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        us.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        us.bind((ip, port))
        us.setblocking(False)
        self.sel.register(us, selectors.EVENT_READ, ("udp", ident))
        self.udps.append(us)

    def on_accept(self, ls, ident):
        """Accept as many pending connections as possible."""
        for _ in range(256):
            try:
                s, _ = ls.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                # EMFILE and friends: leave it in the backlog.
                print("backend: accept: %s" % e, file=sys.stderr)
                return
            s.setblocking(False)
            c = Conn(s, ident, self.mode)
            self.conns += 1
            self.accepted += 1
            if c.mode in ("id", "hello"):
                c.out += ident.encode() + b"\n"
            if c.mode == "id":
                c.eof = True
            self.update(c)

    def update(self, c):
        """Register c for the events it needs, or close it when done."""
        if c.eof and not c.out:
            self.close(c)
            return
        ev = 0 if c.eof else selectors.EVENT_READ
        if c.out:
            ev |= selectors.EVENT_WRITE
        try:
            self.sel.modify(c.sock, ev, ("conn", c))
        except KeyError:
            self.sel.register(c.sock, ev, ("conn", c))

    def close(self, c):
        """Close one connection."""
        try:
            self.sel.unregister(c.sock)
        except KeyError:
            pass
        c.sock.close()
        self.conns -= 1

    def on_read(self, c):
        """Handle readable data on a connection."""
        try:
            data = c.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close(c)
            return
        if not data:
            c.eof = True
            if c.mode == "halfclose":
                c.out += ("%s got %d bytes\n" % (c.ident, c.got)).encode()
        elif c.mode in ("echo", "hello"):
            c.out += data
        elif c.mode == "halfclose":
            c.got += len(data)
        self.update(c)

    def on_write(self, c):
        """Flush pending output."""
        try:
            n = c.sock.send(c.out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close(c)
            return
        del c.out[:n]
        self.update(c)

    def on_udp(self, us, ident):
        """Answer pending datagrams."""
        for _ in range(64):
            try:
                data, peer = us.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return
            try:
                us.sendto(udp_reply(ident, data), peer)
            except OSError as e:
                print("backend: sendto: %s" % e, file=sys.stderr)

    def drain(self):
        """SIGUSR2: stop taking new connections (see the docstring)."""
        if self.drain_start is not None:
            return
        self.drain_start = time.monotonic()
        for ls, _ in self.listeners:
            drop_syns(ls)

    def drain_step(self):
        """Close the listeners once the handshakes in flight are in the
        backlog; exit when no connection is left."""
        el = time.monotonic() - self.drain_start
        if self.listeners and el >= DRAIN_SYN_SECS:
            for ls, ident in self.listeners:
                while True:
                    n = self.accepted
                    self.on_accept(ls, ident)
                    if self.accepted == n:
                        break
                self.sel.unregister(ls)
                ls.close()
            self.listeners = []
            for us in self.udps:
                self.sel.unregister(us)
                us.close()
            self.udps = []
        if not self.listeners and (self.conns == 0 or
                                   el >= DRAIN_MAX_SECS):
            sys.exit(0)

    def run(self):
        """Serve until SIGTERM/SIGINT, or until drained (SIGUSR2)."""
        while True:
            if self.drain_start is not None:
                self.drain_step()
            tmo = 1.0 if self.drain_start is None else 0.05
            for key, ev in self.sel.select(timeout=tmo):
                kind, obj = key.data
                if kind == "wakeup":
                    try:
                        key.fileobj.recv(256)
                    except OSError:
                        pass
                elif kind == "listen":
                    self.on_accept(key.fileobj, obj)
                elif kind == "udp":
                    self.on_udp(key.fileobj, obj)
                else:
                    if ev & selectors.EVENT_READ:
                        self.on_read(obj)
                    if ev & selectors.EVENT_WRITE and \
                            obj.sock.fileno() != -1:
                        self.on_write(obj)


def main():
    """Parse arguments and serve."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", action="append", required=True,
                    metavar="ID@IP:PORT")
    ap.add_argument("--mode", default="id",
                    choices=("id", "echo", "hello", "halfclose"))
    ap.add_argument("--udp", action="store_true", help="also serve UDP")
    ap.add_argument("--no-tcp", action="store_true", help="UDP only")
    ap.add_argument("--ready-file")
    args = ap.parse_args()

    raise_nofile()
    srv = Server(args.mode)
    for spec in args.listen:
        ident, ip, port = parse_spec(spec)
        if not args.no_tcp:
            srv.add_tcp(ident, ip, port)
        if args.udp or args.no_tcp:
            srv.add_udp(ident, ip, port)

    def on_term(signum, frame):
        sys.exit(0)

    def on_usr1(signum, frame):
        print("backend: open=%d accepted=%d" % (srv.conns, srv.accepted),
              flush=True)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGUSR2, lambda signum, frame: srv.drain())
    # Wake the loop at once on a signal (SIGUSR2 must not wait for the
    # select timeout).
    wr, ww = socket.socketpair()
    for s in (wr, ww):
        s.setblocking(False)
    signal.set_wakeup_fd(ww.fileno(), warn_on_full_buffer=False)
    srv.sel.register(wr, selectors.EVENT_READ, ("wakeup", None))
    if args.ready_file:
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("ready %d\n" % os.getpid())
        os.rename(tmp, args.ready_file)
    srv.run()


if __name__ == "__main__":
    main()
