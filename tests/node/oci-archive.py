#!/usr/bin/env python3
"""oci-archive.py: write an OCI image archive of an image FROM scratch.

    oci-archive.py --name REF --out FILE.tar [--entrypoint ARG]... SRC:DST...

Each SRC file is copied to DST in the image's single layer (mode kept,
owned by root, mtime 0, parent directories added); the image runs
--entrypoint (repeat it for each argument).  The archive names the image
REF (the `io.containerd.image.name` annotation), so
`ctr -n k8s.io images import FILE.tar` makes REF known to containerd.
The output is the same bytes for the same inputs.
"""
import argparse
import hashlib
import io
import json
import os
import platform
import sys
import tarfile


def blob(data):
    """Return (digest, size) of DATA."""
    return "sha256:" + hashlib.sha256(data).hexdigest(), len(data)


def add(tar, name, data=None, mode=0o755, kind=tarfile.REGTYPE):
    """Add a file (or a directory) NAME to TAR, owned by root, mtime 0."""
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    ti.mtime = 0
    if data is not None:
        ti.size = len(data)
        tar.addfile(ti, io.BytesIO(data))
    else:
        tar.addfile(ti)


def layer(files):
    """The layer tar of FILES, a list of (src, dst) pairs."""
    buf = io.BytesIO()
    dirs = set()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for src, dst in sorted(files, key=lambda f: f[1]):
            parts = dst.strip("/").split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    add(t, d, mode=0o755, kind=tarfile.DIRTYPE)
            with open(src, "rb") as f:
                data = f.read()
            add(t, "/".join(parts), data, os.stat(src).st_mode & 0o7777)
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--entrypoint", action="append", default=[])
    ap.add_argument("files", nargs="+", metavar="SRC:DST")
    a = ap.parse_args()
    files = []
    for f in a.files:
        src, sep, dst = f.partition(":")
        if not sep or not dst.startswith("/"):
            ap.error("%s: want SRC:/DST" % f)
        files.append((src, dst))
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(),
                                                       platform.machine())
    tag = a.name.rsplit(":", 1)[1] if ":" in a.name.split("/")[-1] else "latest"

    lay = layer(files)
    lay_d, lay_n = blob(lay)
    config = json.dumps({
        "architecture": arch, "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {"Entrypoint": a.entrypoint or None,
                   "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [lay_d]},
        "history": [{"created": "1970-01-01T00:00:00Z",
                     "created_by": "tests/node/oci-archive.py"}],
    }, sort_keys=True).encode()
    cfg_d, cfg_n = blob(config)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": cfg_d, "size": cfg_n},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": lay_d, "size": lay_n}],
    }, sort_keys=True).encode()
    man_d, man_n = blob(manifest)
    index = json.dumps({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": man_d, "size": man_n,
            "platform": {"architecture": arch, "os": "linux"},
            "annotations": {"io.containerd.image.name": a.name,
                            "org.opencontainers.image.ref.name": tag}}],
    }, sort_keys=True).encode()

    tmp = a.out + ".tmp"
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as t:
        add(t, "blobs", mode=0o755, kind=tarfile.DIRTYPE)
        add(t, "blobs/sha256", mode=0o755, kind=tarfile.DIRTYPE)
        for d, data in ((lay_d, lay), (cfg_d, config), (man_d, manifest)):
            add(t, "blobs/sha256/" + d.split(":")[1], data, 0o644)
        add(t, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}', 0o644)
        add(t, "index.json", index, 0o644)
    os.replace(tmp, a.out)
    print("%s: %s, %d bytes" % (a.out, a.name, os.path.getsize(a.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
