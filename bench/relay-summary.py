#!/usr/bin/env python3
"""Summarise bench/relay.sh's CSV as Markdown tables.

usage: relay-summary.py RESULTS.csv

Columns: workload,peer,round,rate,work,cpu_s,wall_s,cpu1_pct,extra.
Per workload and peer: median rate (min-max), median proxy CPU per unit
of work (min-max), median proxy core use, and the workload's extra
column.  Then the ratios of kuproxy's medians to each peer's.
"""
import csv
import statistics
import sys

WORKLOADS = [
    # key, title, rate unit, cpu unit, cpu scale (per unit of work), extra
    ("W1", "W1 bulk TCP, iperf3 1 stream", "Gbit/s", "CPU-s/GB",
     lambda cpu, work: cpu / (work / 1e9), "retransmits"),
    ("W2", "W2 keep-alive HTTP, wrk -c50", "req/s", "CPU-us/req",
     lambda cpu, work: cpu * 1e6 / work, "p50 ms"),
    ("W3", "W3 new connection per request, wrk -c50", "conn/s",
     "CPU-us/conn", lambda cpu, work: cpu * 1e6 / work, "errors"),
    ("W5", "W5 UDP 64 B, iperf3 -u -b 0", "delivered pps", "CPU-us/pkt",
     lambda cpu, work: cpu * 1e6 / work, "loss %"),
    ("MEM", "held idle connections", "RSS KB/conn", "", None, "fds/conn"),
]
PEERS = ["direct", "kuproxy", "kube-proxy", "haproxy", "haproxy-splice"]


def fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1000:
        return "%.0f" % v
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    return "%.2f" % v


def med_range(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None, "-"
    m = statistics.median(vals)
    if len(vals) == 1:
        return m, fmt(m)
    return m, "%s (%s-%s)" % (fmt(m), fmt(min(vals)), fmt(max(vals)))


def main():
    rows = list(csv.DictReader(open(sys.argv[1])))
    meds = {}
    print("| workload | peer | runs | rate | proxy CPU per unit | "
          "proxy core use | extra |")
    print("|---|---|---|---|---|---|---|")
    for key, title, runit, cunit, cfn, extra in WORKLOADS:
        for peer in PEERS:
            rs = [r for r in rows if r["workload"] == key
                  and r["peer"] == peer]
            if not rs:
                continue
            ok = [r for r in rs if r["rate"] not in ("", "nan")]
            rate_m, rate_s = med_range([float(r["rate"]) for r in ok])
            cpu_vals, core = [], []
            for r in ok:
                if cfn and r["cpu_s"] not in ("", "nan") and \
                        float(r["work"]) > 0:
                    cpu_vals.append(cfn(float(r["cpu_s"]),
                                        float(r["work"])))
                if r["cpu_s"] not in ("", "nan") and float(r["wall_s"]) > 0:
                    core.append(100 * float(r["cpu_s"]) /
                                float(r["wall_s"]))
            cpu_m, cpu_s = med_range(cpu_vals)
            core_m, _ = med_range(core)
            ex_m, ex_s = med_range([float(r["extra"]) for r in ok
                                    if r["extra"] not in ("", "nan")])
            meds[(key, peer)] = (rate_m, cpu_m)
            failed = len(rs) - len(ok)
            runs = "%d" % len(ok) + (" (+%d failed)" % failed
                                     if failed else "")
            print("| %s | %s | %s | %s %s | %s | %s | %s %s |" % (
                title, peer, runs, rate_s, runit,
                (cpu_s + " " + cunit) if cpu_vals else "-",
                ("%.0f%%" % core_m) if core_m is not None else "-",
                ex_s, extra if ex_s != "-" else ""))
    print()
    print("| workload | kuproxy / peer | rate ratio | proxy CPU per unit "
          "ratio (lower is better) |")
    print("|---|---|---|---|")
    for key, title, runit, cunit, cfn, extra in WORKLOADS:
        kp = meds.get((key, "kuproxy"))
        if not kp:
            continue
        for peer in ["kube-proxy", "haproxy", "haproxy-splice", "direct"]:
            p = meds.get((key, peer))
            if not p:
                continue
            rr = kp[0] / p[0] if kp[0] and p[0] else None
            cr = kp[1] / p[1] if kp[1] and p[1] else None
            print("| %s | %s | %s | %s |" % (
                key, peer, ("%.2fx" % rr) if rr else "-",
                ("%.2fx" % cr) if cr else "-"))


if __name__ == "__main__":
    main()
