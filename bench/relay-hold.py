#!/usr/bin/env python3
"""Held-connection helper for bench/relay.sh (memory per relayed connection).

usage: relay-hold.py server PORT [SECONDS]
       relay-hold.py client IP:PORT N READY_FILE RELEASE_FILE [SECONDS
                     [MAXFAIL]]

server: an asyncio echo server on 0.0.0.0:PORT; exits after SECONDS (600).
client: opens N connections to IP:PORT (at most 200 connecting at once),
sends 1 KiB on each and reads the 1 KiB echo, then writes the number of
connections that completed to READY_FILE and holds them all open until
RELEASE_FILE exists or SECONDS (120) have passed.  With MAXFAIL, stops
opening new connections once MAXFAIL have failed (a proxy out of file
descriptors: connections then wait out their 10 s timeouts, so the
attempt is bounded).  Exits 0 when all N completed, 1 otherwise.
"""
import asyncio
import os
import sys
import time

PAYLOAD = b"x" * 1024


async def echo(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


async def server(port, secs):
    srv = await asyncio.start_server(echo, "0.0.0.0", port, backlog=4096)
    async with srv:
        await asyncio.sleep(secs)


async def one(host, port, sem, held, failed, maxfail):
    async with sem:
        if maxfail and failed[0] >= maxfail:
            return
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), 10)
            writer.write(PAYLOAD)
            await writer.drain()
            got = await asyncio.wait_for(reader.readexactly(len(PAYLOAD)), 10)
        except (OSError, asyncio.TimeoutError,
                asyncio.IncompleteReadError):
            failed[0] += 1
            return
        if got == PAYLOAD:
            held.append(writer)
        else:
            failed[0] += 1
            writer.close()


async def client(target, n, ready, release, secs, maxfail):
    host, port = target.rsplit(":", 1)
    sem = asyncio.Semaphore(200)
    held, failed = [], [0]
    end = time.monotonic() + secs
    await asyncio.gather(*(one(host, int(port), sem, held, failed, maxfail)
                           for _ in range(n)))
    with open(ready + ".tmp", "w") as f:
        f.write("%d\n" % len(held))
    os.rename(ready + ".tmp", ready)
    while time.monotonic() < end and not os.path.exists(release):
        await asyncio.sleep(0.05)
    for w in held:
        w.close()
    return len(held) == n


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "server":
        secs = float(sys.argv[3]) if len(sys.argv) > 3 else 600.0
        asyncio.run(server(int(sys.argv[2]), secs))
        return 0
    if len(sys.argv) >= 6 and sys.argv[1] == "client":
        secs = float(sys.argv[6]) if len(sys.argv) > 6 else 120.0
        maxfail = int(sys.argv[7]) if len(sys.argv) > 7 else 0
        ok = asyncio.run(client(sys.argv[2], int(sys.argv[3]), sys.argv[4],
                                sys.argv[5], secs, maxfail))
        return 0 if ok else 1
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
