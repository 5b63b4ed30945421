#!/usr/bin/env python3
"""restart-gap.py: the timing and arithmetic of bench/restart-gap.sh.

  restart-gap.py term PID [TIMEOUT]
      SIGTERM PID and wait (pidfd, at most TIMEOUT s, default 15) until it
      has exited; print "T_TERM T_EXIT OFFSET": CLOCK_MONOTONIC seconds of
      the signal and of the exit (the pidfd turning readable: the process
      is a zombie, its sockets closed), and CLOCK_REALTIME minus
      CLOCK_MONOTONIC (to place bash's $EPOCHREALTIME on the same clock).
      Exit 1 if it is still running at the timeout (not killed here).

  restart-gap.py round PEER ROUND STEADY_JSON EVENTS T_TERM T_EXIT OFFSET
                 SPAWN_REALTIME
      One CSV row from steady.py's JSON and --events lines (see
      steady.py) for one restart.

  restart-gap.py summary CSV
      A Markdown table: per peer, the median (min-max) of each figure.

Figures of a round (milliseconds, relative to the old process's exit):
  term_exit   SIGTERM to the exit of the old process
  exit_spawn  exit to the new process's exec (this script's own delay)
  gap         exit to the end of the first new connection that was opened
              after the exit and succeeded (a hello read and a line
              echoed: the new process serves)
  fail_first, fail_last   start of the first and the last failed new
              connection (may be before the exit: a listener closed at
              SIGTERM)
  fail_span   fail_last - fail_first (0 for one failure, empty for none)
  failed      failed new connections, by kind; broken: long streams cut
"""

import csv
import json
import os
import select
import signal
import statistics
import sys
import time

FIELDS = ["peer", "round", "started", "ok", "failed", "kinds", "rate",
          "streams", "broken", "term_exit", "exit_spawn", "gap",
          "fail_first", "fail_last", "fail_span"]


def term(pid, timeout):
    fd = os.pidfd_open(pid)
    t_term = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    p = select.poll()
    p.register(fd, select.POLLIN)
    end = t_term + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return 1
        if p.poll(int(left * 1000) + 1):
            break
    t_exit = time.monotonic()
    off = time.time() - time.monotonic()
    print("%.6f %.6f %.6f" % (t_term, t_exit, off))
    return 0


def ms(x):
    return "" if x is None else "%.1f" % (x * 1000)


def one_round(a):
    peer, rnd, sj, evf = a[0], a[1], a[2], a[3]
    t_term, t_exit, off, spawn_rt = (float(x) for x in a[4:8])
    with open(sj) as f:
        s = json.load(f)
    evs = []
    with open(evf) as f:
        for line in f:
            i, ts, te, ok, kind = line.split()
            evs.append((float(ts), float(te), ok == "1", kind))
    fails = [e for e in evs if not e[2]]
    oks = [e[1] for e in evs if e[2] and e[0] >= t_exit]
    gap = min(oks) - t_exit if oks else None
    ff = min(e[0] for e in fails) - t_exit if fails else None
    fl = max(e[0] for e in fails) - t_exit if fails else None
    kinds = {}
    for e in fails:
        kinds[e[3]] = kinds.get(e[3], 0) + 1
    row = {
        "peer": peer, "round": rnd,
        "started": s["new"]["started"], "ok": s["new"]["ok"],
        "failed": s["new"]["failed"],
        "kinds": " ".join("%s=%d" % kv for kv in sorted(kinds.items())),
        "rate": s["new"]["rate"],
        "streams": s["streams"]["opened"], "broken": s["streams"]["broken"],
        "term_exit": ms(t_exit - t_term),
        "exit_spawn": ms(spawn_rt - off - t_exit),
        "gap": ms(gap) if gap is not None else "none",
        "fail_first": ms(ff), "fail_last": ms(fl),
        "fail_span": ms(fl - ff) if fails else "",
    }
    w = csv.DictWriter(sys.stdout, FIELDS, lineterminator="\n")
    w.writerow(row)
    return 0


def med(vals):
    v = [float(x) for x in vals if x not in ("", "none")]
    if not v:
        return "-"
    m = statistics.median(v)
    fmt = "%.0f" if all(float(x).is_integer() for x in v) else "%.1f"
    if len(v) == 1:
        return fmt % m
    return (fmt + " (" + fmt + "-" + fmt + ")") % (m, min(v), max(v))


def summary(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    peers = []
    for r in rows:
        if r["peer"] not in peers:
            peers.append(r["peer"])
    print("| proxy | rounds | new conns | failed | kinds (all rounds) "
          "| streams broken | SIGTERM to exit ms | exit to first success "
          "ms (gap) | failed span ms | first / last failure ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for p in peers:
        rs = [r for r in rows if r["peer"] == p]
        kinds = {}
        for r in rs:
            for kv in r["kinds"].split():
                k, n = kv.rsplit("=", 1)
                kinds[k] = kinds.get(k, 0) + int(n)
        gaps = [r["gap"] for r in rs]
        none = sum(1 for g in gaps if g == "none")
        print("| %s | %d | %s | %s | %s | %s of %s | %s | %s%s | %s | %s / %s |"
              % (p, len(rs), med(r["started"] for r in rs),
                 med(r["failed"] for r in rs),
                 " ".join("%s %d" % kv for kv in sorted(kinds.items()))
                 or "-",
                 med(r["broken"] for r in rs), med(r["streams"] for r in rs),
                 med(r["term_exit"] for r in rs), med(gaps),
                 " (%d rounds never back)" % none if none else "",
                 med(r["fail_span"] for r in rs),
                 med(r["fail_first"] for r in rs),
                 med(r["fail_last"] for r in rs)))
    return 0


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "term":
        return term(int(sys.argv[2]),
                    float(sys.argv[3]) if len(sys.argv) > 3 else 15.0)
    if len(sys.argv) == 10 and sys.argv[1] == "round":
        return one_round(sys.argv[2:])
    if len(sys.argv) == 3 and sys.argv[1] == "summary":
        return summary(sys.argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
