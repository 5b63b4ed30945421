#!/usr/bin/env python3
"""sdnotify_listener.py: stand in for systemd's end of $NOTIFY_SOCKET.

Binds an AF_UNIX datagram socket at --socket and appends one line per
notification received to --log:

    MONOTONIC_NS SENDER_PID ASSIGNMENTS

the assignments joined with '|' (a datagram is newline-separated), the
sender's pid from SCM_CREDENTIALS as systemd reads it (NotifyAccess=).
On the first datagram carrying READY=1 it runs --on-ready (a command,
split on spaces) at once, before reading anything else, and saves its
output to --ready-snapshot: what was true when READY=1 arrived.

Writes --ready-file once bound; exits after --lifetime seconds or when
its parent dies.
"""

import argparse
import os
import socket
import struct
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--ready-file", required=True)
    ap.add_argument("--on-ready", default="")
    ap.add_argument("--ready-snapshot", default="")
    ap.add_argument("--lifetime", type=float, default=180)
    a = ap.parse_args()

    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    s.bind(a.socket)
    os.chmod(a.socket, 0o666)
    s.settimeout(0.5)
    with open(a.ready_file, "w") as f:
        f.write("ready\n")
    parent = os.getppid()
    deadline = time.monotonic() + a.lifetime
    creds = struct.calcsize("3i")
    seen_ready = False
    with open(a.log, "a", buffering=1) as log:
        while time.monotonic() < deadline and os.getppid() == parent:
            try:
                msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(creds))
            except socket.timeout:
                continue
            t = time.monotonic_ns()
            pid = 0
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and \
                        kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("3i", data[:creds])[0]
            fields = msg.decode("utf-8", "replace").split("\n")
            if "READY=1" in fields and not seen_ready:
                seen_ready = True
                if a.on_ready:
                    out = subprocess.run(a.on_ready.split(), check=False,
                                         stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT,
                                         timeout=30).stdout
                    with open(a.ready_snapshot, "wb") as f:
                        f.write(out)
            log.write("%d %d %s\n" % (t, pid, "|".join(fields)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
