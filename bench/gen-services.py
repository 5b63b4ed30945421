#!/usr/bin/env python3
"""Write a services file with N ClusterIP Services (+ Endpoints).

usage: gen-services.py N OUT [--change K]
Service i gets clusterIP 198.19.x.y and one endpoint.  With --change K,
Service K gets a different clusterIP (one changed Service).
"""
import sys


def main():
    n = int(sys.argv[1])
    out = sys.argv[2]
    change = -1
    if len(sys.argv) > 4 and sys.argv[3] == "--change":
        change = int(sys.argv[4])
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
        parts.append(
            "apiVersion: v1\nkind: Endpoints\nmetadata:\n"
            "  name: svc-%d\n  namespace: bench\nsubsets:\n"
            "- addresses:\n  - ip: 198.18.1.2\n  ports:\n"
            "  - name: http\n    port: 8080\n" % i)
    with open(out + ".tmp", "w") as f:
        f.write("---\n".join(parts) if parts else "")
    import os
    os.rename(out + ".tmp", out)


if __name__ == "__main__":
    main()
