#!/usr/bin/env python3
"""Unpack .deb packages into a private root, with the standard library only.

    unpack-debs.py ROOT FILE.deb...

For perf/gpu-check.sh on machines without dpkg or Debian's -dev packages: a
.deb is an ar archive whose data.tar.{xz,gz,bz2,zst} member holds the files;
this extracts that member under ROOT (refusing absolute paths and '..', as
an archive from elsewhere deserves) and prints the library directories
found, one per line.
"""
import io
import os
import sys
import tarfile


def ar_members(data):
    if data[:8] != b"!<arch>\n":
        raise ValueError("not an ar archive")
    off = 8
    while off + 60 <= len(data):
        hdr = data[off:off + 60]
        name = hdr[:16].decode("ascii", "replace").strip().rstrip("/")
        size = int(hdr[48:58].decode("ascii").strip())
        off += 60
        yield name, data[off:off + size]
        off += size + (size & 1)


def safe_members(tar, root):
    for m in tar.getmembers():
        path = os.path.normpath(os.path.join(root, m.name))
        if not path.startswith(os.path.abspath(root) + os.sep) and path != os.path.abspath(root):
            raise ValueError(f"unsafe path in archive: {m.name}")
        if m.islnk() or m.issym():
            target = os.path.normpath(os.path.join(os.path.dirname(path), m.linkname))
            if m.linkname.startswith("/") or not target.startswith(os.path.abspath(root)):
                continue  # links out of the root are dropped
        yield m


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    root = os.path.abspath(sys.argv[1])
    os.makedirs(root, exist_ok=True)
    for deb in sys.argv[2:]:
        data = open(deb, "rb").read()
        for name, body in ar_members(data):
            if not name.startswith("data.tar"):
                continue
            if name.endswith(".zst"):
                raise SystemExit(f"{deb}: zstd-compressed data; use dpkg-deb -x")
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as t:
                t.extractall(root, members=list(safe_members(t, root)))
            print(f"unpacked {os.path.basename(deb)}", file=sys.stderr)
    libdirs = set()
    for d, _, files in os.walk(root):
        if any(f.endswith(".so") or ".so." in f or f.endswith(".a") for f in files):
            libdirs.add(d)
    for d in sorted(libdirs):
        print(d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
