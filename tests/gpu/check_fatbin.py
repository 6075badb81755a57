#!/usr/bin/env python3
"""Check that a binary carries CUDA code for sm_80, sm_89 and sm_90 plus
compute_90 PTX.

    check_fatbin.py BINARY

Uses `cuobjdump --list-elf/--list-ptx` when the toolkit has it; otherwise
reads the .nv_fatbin section (extracted with objcopy) itself: a sequence of
fat binaries (u32 magic 0xBA55ED50, u16 version, u16 header size, u64 size),
each a list of entries (u16 kind: 1 PTX, 2 ELF; u16; u32 header size; u64
payload size; ...; u32 target architecture at byte 28). Exit 0 when every
target is present, 1 when one is missing, 77 (skip) when neither tool is
available.
"""
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

WANT_ELF = {80, 89, 90}
WANT_PTX = {90}


def with_cuobjdump(tool, binary):
    elf, ptx = set(), set()
    for flag, dst in (("--list-elf", elf), ("--list-ptx", ptx)):
        out = subprocess.run([tool, flag, binary], capture_output=True, text=True)
        if out.returncode:
            print(out.stderr.strip())
            return None
        dst.update(int(m) for m in re.findall(r"sm_(\d+)", out.stdout))
    return elf, ptx


def with_objcopy(tool, binary):
    with tempfile.TemporaryDirectory() as tmp:
        sec = os.path.join(tmp, "fatbin")
        out = subprocess.run([tool, "-O", "binary", "--only-section=.nv_fatbin", binary, sec],
                             capture_output=True, text=True)
        if out.returncode or not os.path.exists(sec):
            print("objcopy:", out.stderr.strip())
            return None
        d = open(sec, "rb").read()
    elf, ptx = set(), set()
    off = 0
    while off + 16 <= len(d):
        magic, _ver, hs, fs = struct.unpack_from("<IHHQ", d, off)
        if magic != 0xBA55ED50:
            if magic == 0:  # padding between fat binaries
                off += 8
                continue
            print(f"unexpected fat binary magic {magic:#x} at {off}")
            return None
        e, end = off + hs, off + hs + fs
        while e + 32 <= end:
            kind, _u, ehs, size = struct.unpack_from("<HHIQ", d, e)
            arch = struct.unpack_from("<I", d, e + 28)[0]
            (ptx if kind == 1 else elf if kind == 2 else set()).add(arch)
            if ehs == 0:
                break
            e += ehs + size
        off = (end + 7) & ~7
    return elf, ptx


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    binary = sys.argv[1]
    res = None
    cuobjdump = shutil.which("cuobjdump") or shutil.which("/usr/local/cuda/bin/cuobjdump")
    objcopy = shutil.which("objcopy")
    if cuobjdump:
        print("using", cuobjdump)
        res = with_cuobjdump(cuobjdump, binary)
    elif objcopy:
        print("cuobjdump not found; reading .nv_fatbin with", objcopy)
        res = with_objcopy(objcopy, binary)
    else:
        print("SKIP: neither cuobjdump nor objcopy is available")
        return 77
    if res is None:
        print("FAIL: could not list the CUDA code in", binary)
        return 1
    elf, ptx = res
    print("cubins for sm_%s; PTX for compute_%s" % (sorted(elf), sorted(ptx)))
    miss = [f"sm_{a}" for a in sorted(WANT_ELF - elf)] + [f"compute_{a} PTX" for a in sorted(WANT_PTX - ptx)]
    if miss:
        print("FAIL: missing", ", ".join(miss))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
