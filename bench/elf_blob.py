#!/usr/bin/env python3
"""Writes OUT: SIZE_MB MiB of real machine code, the ELF binaries and
libraries of /usr (each at least 64 KiB, distinct content, none listed in
EXCLUDE) concatenated in a fixed random order (seed 42). This is what the big
files of a cluster image are (kubelet, kubeadm, containerd, ...): ~2x with
zstd -1, and little redundancy beyond a few hundred KiB. Prints how many
files went in; exits 3 when /usr holds too little (OUT then holds all there is).

usage: elf_blob.py OUT SIZE_MB [EXCLUDE]
"""
import hashlib
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from usr_sample import usr_files  # noqa: E402

out, size_mb = sys.argv[1], int(sys.argv[2])
exclude = set()
if len(sys.argv) > 3:
    with open(sys.argv[3]) as f:
        exclude = {line.rstrip("\n") for line in f}
files = []
for p, size in usr_files():
    if size < (64 << 10) or p in exclude:
        continue
    try:
        with open(p, "rb") as f:
            if f.read(4) != b"\x7fELF":
                continue
    except OSError:
        continue
    files.append(p)
random.Random(42).shuffle(files)
want, total, used, digests = size_mb << 20, 0, 0, set()
with open(out, "wb") as o:
    for p in files:
        try:
            with open(p, "rb") as f:
                data = f.read()
        except OSError:
            continue
        d = hashlib.sha256(data).digest()
        if d in digests:
            continue
        digests.add(d)
        data = data[: want - total]
        o.write(data)
        total += len(data)
        used += 1
        if total >= want:
            break
print(used)
sys.exit(0 if total >= want else 3)
