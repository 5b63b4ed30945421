#!/usr/bin/env python3
"""Summarise bench/relay.sh's CSV as Markdown tables.

usage: relay-summary.py [--tsv DIR] RESULTS.csv

Columns: workload,peer,round,rate,work,cpu_s,wall_s,cpu1_pct,extra,x2,x3
[,p50_ms,p99_ms] (x2, x3: W5 and W5L drops at the proxy's and the
backend's socket, %; W2L/W3L: the probe's late sends and its maximum
latency, ms).  Per
workload and peer: median rate (min-max), median proxy CPU per unit of
work (min-max), median proxy core use (100% = one core), median p50 and
p99 latency (min-max) and the workload's extra column.  Then each
kuproxy peer's ratios to every other peer, taken per round (the two ran
back to back, so slow phases of the host cancel out) and summarised as
median (min-max), and issue 15's goals for each kuproxy peer.

--tsv DIR also writes DIR/WORKLOAD.tsv for bench/relay-plot.sh: one line
per peer (index, peer, kuproxy 1/0, then median, min and max of the
rate, the CPU per unit, p50 and p99, the median work, then median, min
and max of the extra column), "-" where there is no value.
"""
import csv
import os
import statistics
import sys

WORKLOADS = [
    # key, title, rate unit, cpu unit, cpu scale (per unit of work), extra
    ("W1", "W1 bulk TCP, iperf3 1 stream", "Gbit/s", "CPU-s/GB",
     lambda cpu, work: cpu / (work / 1e9), "retransmits"),
    ("W2", "W2 keep-alive HTTP, wrk -c50", "req/s", "CPU-us/req",
     lambda cpu, work: cpu * 1e6 / work, "errors"),
    ("W3", "W3 new connection per request, wrk -c50", "conn/s",
     "CPU-us/conn", lambda cpu, work: cpu * 1e6 / work, "errors"),
    ("W2L", "W2L keep-alive, light fixed rate", "req/s", "CPU-us/req",
     lambda cpu, work: cpu * 1e6 / work, "errors"),
    ("W3L", "W3L new connections, light fixed rate", "conn/s",
     "CPU-us/conn", lambda cpu, work: cpu * 1e6 / work, "errors"),
    ("W5", "W5 UDP 64 B, iperf3 -u -b 0", "delivered pps", "CPU-us/pkt",
     lambda cpu, work: cpu * 1e6 / work, "loss %"),
    ("W5L", "W5L UDP 64 B, 50k pps offered", "delivered pps", "CPU-us/pkt",
     lambda cpu, work: cpu * 1e6 / work, "loss %"),
    ("MEM", "held idle connections (-H)", "RSS KB/conn", "", None,
     "fds/conn"),
    ("MEM-W2L", "W2L probe while MEM's connections are held", "req/s",
     "CPU-us/req", lambda cpu, work: cpu * 1e6 / work, "errors"),
    ("MEM-W3L", "W3L probe while MEM's connections are held", "conn/s",
     "CPU-us/conn", lambda cpu, work: cpu * 1e6 / work, "errors"),
]
# Workloads whose rate is what the client offered: compare latency.
LATENCY_ONLY = ("W2L", "W3L", "MEM-W2L", "MEM-W3L")
ORDER = ["direct", "dnat", "kuproxy", "kube-proxy", "haproxy",
         "haproxy-splice"]


def peer_key(peer):
    if peer.startswith("kuproxy"):
        return (ORDER.index("kuproxy"), peer)
    if peer in ORDER:
        return (ORDER.index(peer), peer)
    return (len(ORDER), peer)


def num(v):
    if v in (None, "", "nan", "None"):
        return None
    try:
        return float(v)
    except ValueError:
        return None


def fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    return "%.2f" % v


def med_range(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None, None, None, "-"
    m = statistics.median(vals)
    if len(vals) == 1:
        return m, m, m, fmt(m)
    return m, min(vals), max(vals), "%s (%s-%s)" % (
        fmt(m), fmt(min(vals)), fmt(max(vals)))


def latencies(r, key):
    """(p50, p99) of a row; old CSVs kept W2's p50 in extra."""
    p50, p99 = num(r.get("p50_ms")), num(r.get("p99_ms"))
    if "p50_ms" not in r and key == "W2":
        p50 = num(r["extra"])
    return p50, p99


def cpu_per_unit(r, cfn):
    cpu, work = num(r["cpu_s"]), num(r["work"])
    if cfn is None or cpu is None or not work:
        return None
    return cfn(cpu, work)


def stats(rows, key, peer, cfn):
    """Medians and ranges of one workload and peer, or None."""
    rs = [r for r in rows if r["workload"] == key and r["peer"] == peer]
    if not rs:
        return None
    ok = [r for r in rs if num(r["rate"]) is not None]
    st = {"runs": len(ok), "failed": len(rs) - len(ok), "rows": ok}
    st["rate"] = med_range([num(r["rate"]) for r in ok])
    st["cpu"] = med_range([cpu_per_unit(r, cfn) for r in ok])
    st["core"] = med_range([100 * num(r["cpu_s"]) / num(r["wall_s"])
                            for r in ok if num(r["cpu_s"]) is not None
                            and num(r["wall_s"])])
    st["p50"] = med_range([latencies(r, key)[0] for r in ok])
    st["p99"] = med_range([latencies(r, key)[1] for r in ok])
    extra = [num(r["extra"]) for r in ok]
    if "p50_ms" not in (ok[0] if ok else {}) and key == "W2":
        extra = []
    st["extra"] = med_range(extra)
    st["work"] = med_range([num(r["work"]) for r in ok])
    return st


def udp_extra(ok):
    _, _, _, x2 = med_range([num(r.get("x2")) for r in ok])
    _, _, _, x3 = med_range([num(r.get("x3")) for r in ok])
    fwd = [num(r["rate"]) / (1 - num(r["extra"]) / 100) *
           (1 - num(r["x2"]) / 100) for r in ok
           if num(r.get("x2")) is not None and num(r["extra"]) is not None
           and num(r["extra"]) < 100]
    _, _, _, fwd_s = med_range(fwd)
    if x2 == "-":
        return None
    return "loss %% (at the proxy's socket %s, at the backend's %s); " \
        "the proxy forwarded %s pps" % (x2, x3, fwd_s)


def table(rows, peers):
    print("| workload | peer | runs | rate | proxy CPU per unit | "
          "proxy core use | p50 ms | p99 ms | extra |")
    print("|---|---|---|---|---|---|---|---|---|")
    for key, title, runit, cunit, cfn, extra in WORKLOADS:
        for peer in peers:
            st = stats(rows, key, peer, cfn)
            if st is None:
                continue
            ex = extra
            if key in ("W5", "W5L"):
                ex = udp_extra(st["rows"]) or extra
            if key == "MEM":
                ex = "%s (%s connections held)" % (extra, st["work"][3])
            if key in LATENCY_ONLY:
                late = med_range([num(r.get("x2")) for r in st["rows"]])
                mx = med_range([num(r.get("x3")) for r in st["rows"]])
                ex = "%s; sends over 1 ms late: %s of %s; max %s ms" % (
                    extra, fmt(late[0]), fmt(st["work"][0]), mx[3])
            runs = "%d" % st["runs"] + (" (+%d failed)" % st["failed"]
                                        if st["failed"] else "")
            print("| %s | %s | %s | %s %s | %s | %s | %s | %s | %s %s |" % (
                title, peer, runs, st["rate"][3], runit,
                (st["cpu"][3] + " " + cunit) if st["cpu"][0] is not None
                else "-",
                ("%.0f%%" % st["core"][0]) if st["core"][0] is not None
                else "-",
                st["p50"][3], st["p99"][3],
                st["extra"][3], ex if st["extra"][3] != "-" else ""))


def per_round(rows, key, peer, cfn):
    """{round: (rate, cpu per unit, p50, p99)} of one workload and peer."""
    out = {}
    for r in rows:
        if r["workload"] != key or r["peer"] != peer or \
                num(r["rate"]) is None:
            continue
        p50, p99 = latencies(r, key)
        out[r["round"]] = (num(r["rate"]), cpu_per_unit(r, cfn), p50, p99)
    return out


def ratio_range(vals):
    if not vals:
        return "-"
    m = statistics.median(vals)
    if len(vals) == 1:
        return "%.2fx" % m
    return "%.2fx (%.2f-%.2f)" % (m, min(vals), max(vals))


def ratios(rows, kp, peer, key, cfn):
    """Per-round ratios kp / peer: (rate, cpu, p50, p99) lists."""
    a, b = per_round(rows, key, kp, cfn), per_round(rows, key, peer, cfn)
    out = ([], [], [], [])
    for rnd in sorted(set(a) & set(b)):
        for i in range(4):
            if a[rnd][i] is not None and b[rnd][i]:
                out[i].append(a[rnd][i] / b[rnd][i])
    return out


def compared(kp, peer, kps):
    """Is kp / peer in the ratio table?  Every other proxy; of kuproxy's
    own peers, the first (kuproxy-w1: the scaling) and kp without its
    -shared suffix."""
    if not peer.startswith("kuproxy"):
        return True
    return peer == kps[0] or kp == peer + "-shared"


def ratio_table(rows, peers, kps):
    print("Ratios: each kuproxy peer's value over the other peer's, per "
          "round (the two ran back to back), median (min-max) over the "
          "rounds; MEM: RSS per connection; for the light fixed-rate "
          "probes (W2L, W3L) only the latencies and CPU compare.  "
          "Between kuproxy's own peers: each over the first, and "
          "-shared over the same without it.")
    print()
    print("| workload | kuproxy peer / peer | rate | CPU per unit "
          "(lower is better) | p50 (lower is better) | p99 (lower is "
          "better) |")
    print("|---|---|---|---|---|---|")
    for key, title, runit, cunit, cfn, extra in WORKLOADS:
        for kp in kps:
            for peer in peers:
                if peer == kp or not compared(kp, peer, kps):
                    continue
                rr, cr, l50, l99 = ratios(rows, kp, peer, key, cfn)
                if not (rr or cr or l50):
                    continue
                if key in LATENCY_ONLY:
                    rr = []
                print("| %s | %s / %s | %s | %s | %s | %s |" % (
                    key, kp, peer, ratio_range(rr), ratio_range(cr),
                    ratio_range(l50), ratio_range(l99)))


def goal(rows, kp, peer, key, cfn, what, cmp, bound):
    """One goal line: median per-round ratio of what (0 rate, 1 cpu)."""
    vals = ratios(rows, kp, peer, key, cfn)[what]
    if not vals:
        return None
    m = statistics.median(vals)
    met = m >= bound if cmp == ">=" else m <= bound
    return "%s (%s %.1fx: %s)" % (ratio_range(vals), cmp, bound,
                                  "met" if met else "NOT met")


def goals(rows, peers, kps):
    cfns = {w[0]: w[4] for w in WORKLOADS}
    checks = [
        ("new connections/s vs HAProxy", "haproxy", "W3", 0, ">=", 1.1),
        ("keep-alive req/s vs HAProxy", "haproxy", "W2", 0, ">=", 1.1),
        ("bulk vs HAProxy without splice", "haproxy", "W1", 0, ">=", 1.5),
        ("bulk vs direct", "direct", "W1", 0, ">=", 0.8),
        ("CPU per connection vs HAProxy", "haproxy", "W3", 1, "<=", 1.0),
        ("CPU per request vs HAProxy", "haproxy", "W2", 1, "<=", 1.0),
    ]
    # W5L's rate is what the client offered: no rate goal there.
    for key in ("W1", "W2", "W3", "W5"):
        checks.append(("%s rate vs kube-proxy 1.20" % key, "kube-proxy",
                       key, 0, ">=", 2.0))
    print("Issue 15's goals, per-round ratios, median (min-max):")
    print()
    print("| goal | " + " | ".join(kps) + " |")
    print("|---|" + "---|" * len(kps))
    for name, peer, key, what, cmp, bound in checks:
        if peer not in peers:
            continue
        cells = [goal(rows, kp, peer, key, cfns[key], what, cmp, bound)
                 for kp in kps]
        if all(c is None for c in cells):
            continue
        print("| %s | %s |" % (name, " | ".join(c or "-" for c in cells)))


def write_tsv(rows, peers, outdir):
    os.makedirs(outdir, exist_ok=True)
    for key, title, runit, cunit, cfn, extra in WORKLOADS:
        lines = []
        for peer in peers:
            st = stats(rows, key, peer, cfn)
            if st is None or not st["runs"]:
                continue
            vals = []
            for k in ("rate", "cpu", "p50", "p99"):
                vals += ["-" if v is None else "%.6g" % v
                         for v in st[k][:3]]
            vals.append("-" if st["work"][0] is None
                        else "%.6g" % st["work"][0])
            vals += ["-" if v is None else "%.6g" % v
                     for v in st["extra"][:3]]
            lines.append("%d\t%s\t%d\t%s" % (
                len(lines), peer, 1 if peer.startswith("kuproxy") else 0,
                "\t".join(vals)))
        if lines:
            with open(os.path.join(outdir, key + ".tsv"), "w") as f:
                f.write("# idx peer kuproxy rate(med min max) cpu(med min "
                        "max) p50(med min max) p99(med min max) work "
                        "extra(med min max)\n")
                f.write("\n".join(lines) + "\n")


def main():
    args = sys.argv[1:]
    tsv = None
    if len(args) == 3 and args[0] == "--tsv":
        tsv, args = args[1], args[2:]
    if len(args) != 1:
        sys.stderr.write(__doc__)
        return 2
    rows = list(csv.DictReader(open(args[0])))
    peers = sorted({r["peer"] for r in rows}, key=peer_key)
    kps = [p for p in peers if p.startswith("kuproxy")]
    if tsv:
        write_tsv(rows, peers, tsv)
        return 0
    table(rows, peers)
    if kps:
        print()
        ratio_table(rows, peers, kps)
        print()
        goals(rows, peers, kps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
