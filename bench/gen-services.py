#!/usr/bin/env python3
"""Write a services file with N ClusterIP Services (+ Endpoints).

usage: gen-services.py N OUT [--change K] [--eps E]
Service i gets clusterIP 198.19.x.y and one endpoint (E endpoints with
--eps, in 198.18.8.0-198.18.247.255 as tests/e2e/bulk.py makes them).
With --change K, Service K gets a different clusterIP (one changed
Service).
"""
import sys


def main():
    n = int(sys.argv[1])
    out = sys.argv[2]
    change = -1
    eps = 0
    args = sys.argv[3:]
    while len(args) >= 2:
        if args[0] == "--change":
            change = int(args[1])
        elif args[0] == "--eps":
            eps = int(args[1])
        else:
            sys.exit("gen-services.py: unknown option " + args[0])
        args = args[2:]
    parts = []
    for i in range(n):
        ip = "198.19.%d.%d" % (i // 250, i % 250 + 1)
        if i == change:
            ip = "198.19.%d.%d" % (250 + i // 250 % 5, i % 250 + 1)
        parts.append(
            "apiVersion: v1\nkind: Service\nmetadata:\n"
            "  name: svc-%d\n  namespace: bench\nspec:\n"
            "  clusterIP: %s\n  ports:\n  - name: http\n"
            "    port: 80\n    protocol: TCP\n" % (i, ip))
        if eps:
            addrs = "".join("  - ip: 198.18.%d.%d\n" % (
                8 + ((i * eps + j) // 250) % 240, (i * eps + j) % 250 + 1)
                for j in range(eps))
        else:
            addrs = "  - ip: 198.18.1.2\n"
        parts.append(
            "apiVersion: v1\nkind: Endpoints\nmetadata:\n"
            "  name: svc-%d\n  namespace: bench\nsubsets:\n"
            "- addresses:\n%s  ports:\n"
            "  - name: http\n    port: 8080\n" % (i, addrs))
    with open(out + ".tmp", "w") as f:
        f.write("---\n".join(parts) if parts else "")
    import os
    os.rename(out + ".tmp", out)


if __name__ == "__main__":
    main()
