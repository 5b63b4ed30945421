#!/usr/bin/env python3
"""Summarise bench/relay.sh's CSV as Markdown tables.

usage: relay-summary.py RESULTS.csv

Columns: workload,peer,round,rate,work,cpu_s,wall_s,cpu1_pct,extra,x2,x3
(x2, x3: W5 and W5L drops at the proxy's and the backend's socket, %).
Per workload and peer: median rate (min-max), median proxy CPU per unit
of work (min-max), median proxy core use, and the workload's extra
column.  Then kuproxy's ratios to each peer, taken per round (the two
ran back to back, so slow phases of the host cancel out) and summarised
as median (min-max).
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
    ("W5L", "W5L UDP 64 B, 50k pps offered", "delivered pps", "CPU-us/pkt",
     lambda cpu, work: cpu * 1e6 / work, "loss %"),
    ("MEM", "held idle connections (-H)", "RSS KB/conn", "", None,
     "fds/conn"),
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
    for key, title, runit, cunit, cfn, extra0 in WORKLOADS:
        for peer in PEERS:
            extra = extra0
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
            if key in ("W5", "W5L"):
                _, x2 = med_range([float(r["x2"]) for r in ok
                                   if r.get("x2") not in (None, "", "nan")])
                _, x3 = med_range([float(r["x3"]) for r in ok
                                   if r.get("x3") not in (None, "", "nan")])
                fwd = [float(r["rate"]) / (1 - float(r["extra"]) / 100) *
                       (1 - float(r["x2"]) / 100) for r in ok
                       if r.get("x2") not in (None, "", "nan") and
                       float(r["extra"]) < 100]
                _, fwd_s = med_range(fwd)
                if x2 != "-":
                    extra = "loss %% (at the proxy's socket %s, at the " \
                        "backend's %s); the proxy forwarded %s pps" % (
                            x2, x3, fwd_s)
            failed = len(rs) - len(ok)
            runs = "%d" % len(ok) + (" (+%d failed)" % failed
                                     if failed else "")
            print("| %s | %s | %s | %s %s | %s | %s | %s %s |" % (
                title, peer, runs, rate_s, runit,
                (cpu_s + " " + cunit) if cpu_vals else "-",
                ("%.0f%%" % core_m) if core_m is not None else "-",
                ex_s, extra if ex_s != "-" else ""))
    print()
    print("Ratios: kuproxy's value over the peer's, per round (the two ran "
          "back to back), median (min-max) over the rounds; MEM: RSS per "
          "connection.")
    print()
    print("| workload | kuproxy / peer | rate ratio | proxy CPU per unit "
          "ratio (lower is better) |")
    print("|---|---|---|---|")
    for key, title, runit, cunit, cfn, extra in WORKLOADS:
        kp = per_round(rows, key, "kuproxy", cfn)
        if not kp:
            continue
        for peer in ["kube-proxy", "haproxy", "haproxy-splice", "direct"]:
            p = per_round(rows, key, peer, cfn)
            rr, cr = [], []
            for rnd in sorted(set(kp) & set(p)):
                (a, ac), (b, bc) = kp[rnd], p[rnd]
                if a is not None and b:
                    rr.append(a / b)
                if ac is not None and bc:
                    cr.append(ac / bc)
            if not rr:
                continue
            print("| %s | %s | %s | %s |" % (
                key, peer, ratio_range(rr), ratio_range(cr)))


def per_round(rows, key, peer, cfn):
    """{round: (rate, cpu per unit or None)} of one workload and peer."""
    out = {}
    for r in rows:
        if r["workload"] != key or r["peer"] != peer or \
                r["rate"] in ("", "nan"):
            continue
        cpu = None
        if cfn and r["cpu_s"] not in ("", "nan") and float(r["work"]) > 0:
            cpu = cfn(float(r["cpu_s"]), float(r["work"]))
        out[r["round"]] = (float(r["rate"]), cpu)
    return out


def ratio_range(vals):
    if not vals:
        return "-"
    m = statistics.median(vals)
    if len(vals) == 1:
        return "%.2fx" % m
    return "%.2fx (%.2f-%.2f)" % (m, min(vals), max(vals))

if __name__ == "__main__":
    main()
