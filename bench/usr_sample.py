#!/usr/bin/env python3
"""Prints a fixed random sample (seed 42) of the regular files of /usr, one
path per line, up to SIZE_MB: a realistic rootfs mix of binaries, libraries,
scripts and docs. Shared by the benchmarks so they measure the same tree.

usage: usr_sample.py SIZE_MB [MAX_FILE_MB]   (MAX_FILE_MB: leave out bigger files)
"""
import os
import random
import sys


def usr_files():
    """Every regular file of /usr once (hard links once), as (path, size), in walk order."""
    files, seen = [], set()
    for root, dirs, names in os.walk("/usr"):
        dirs.sort()
        for n in sorted(names):
            p = os.path.join(root, n)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if not os.path.isfile(p) or os.path.islink(p) or (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            files.append((p, st.st_size))
    return files


def main():
    files = usr_files()
    random.Random(42).shuffle(files)
    left = int(sys.argv[1]) << 20
    max_size = int(sys.argv[2]) << 20 if len(sys.argv) > 2 else left
    for p, size in files:
        if size > left or size > max_size:
            continue
        left -= size
        print(p)
        if left < 4096:
            break


if __name__ == "__main__":
    main()
