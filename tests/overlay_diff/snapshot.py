#!/usr/bin/env python3
"""Canonical JSON snapshots of a directory tree, and a differ for them.

  snapshot.py dump DIR [-o OUT] [--atime] [--ctime] [--ino]
  snapshot.py diff SECTION REF TEST [--known FILE]

`dump` walks DIR and writes one record
per path, keyed by the path relative to DIR ("/" is DIR itself):

  type        file|dir|symlink|char|block|fifo|socket
  mode        permission bits incl. setuid/setgid/sticky, octal string
  uid, gid
  size        regular files and symlinks only (directory sizes are fs-specific)
  sha256      regular files
  hole_mib    regular files with holes below EOF: total size of the holes
              (SEEK_DATA/SEEK_HOLE) in MiB, rounded down.  The exact extent
              map is implementation-specific (the kernel copies up in 1 MiB
              chunks, skipping only chunks that are holes) and is not recorded
  target      symlinks
  rdev        "major:minor" for char/block devices
  whiteout    true for a char 0:0 device, recorded with its mode, uid, gid and
              xattrs: the kernel makes whiteouts with mode 0000, owned by the
              mounter.  Its times and link count are not recorded (the kernel
              hard-links its whiteouts to one shared inode)
  xattrs      every xattr incl. trusted.* (run as root), sorted; values are
              text when printable, else "hex:..".  Values that embed
              machine-specific data (file handles, uuids) are replaced by a
              placeholder: trusted.overlay.{origin,uuid,upper} ("<handle>")
  nlink       non-directories;  dir_nlink for directories (overlayfs reports
              1 for merged dirs, so it gets its own field name)
  link_group  "L1", "L2", ... for inodes reached by more than one path in the
              tree, numbered in sorted-path order (inode numbers themselves are
              never compared, only equality)
  mtime_ns    the exact value if it is "old" (< 2020-09, i.e. set explicitly by
              the fixture or by an op through utimensat), else "<recent>"
  atime_ns / ctime_ns   only with --atime / --ctime, same canonicalisation
  ino         raw st_ino, only with --ino (debugging; never equal across trees)

`diff` compares two snapshots (or two ops.py result files, *.jsonl) field by
field (a missing or empty TEST file is the one difference
"SECTION:<no-result>": the mount, ops.py or the snapshot failed or hung).
Every difference has a key "SECTION:PATH:FIELD" (for ops results
"ops:OP" or "ops:OP:STEP").  A key matching a glob in the --known file is
reported as an expected difference; anything else fails the section and a
unified diff of the differing records is printed.  Exit 0 = no unexpected
differences.
"""
import argparse
import difflib
import errno
import fnmatch
import hashlib
import json
import os
import stat
import sys

RECENT = 1_600_000_000 * 10**9          # ns; older times were set on purpose
MACHINE_SPECIFIC_XATTRS = ("trusted.overlay.origin", "trusted.overlay.uuid",
                           "trusted.overlay.upper")
TYPES = [(stat.S_ISREG, "file"), (stat.S_ISDIR, "dir"), (stat.S_ISLNK, "symlink"),
         (stat.S_ISCHR, "char"), (stat.S_ISBLK, "block"), (stat.S_ISFIFO, "fifo"),
         (stat.S_ISSOCK, "socket")]


def ftype(mode):
    for test, name in TYPES:
        if test(mode):
            return name
    return "unknown"


def show_bytes(b):
    try:
        s = b.decode()
        if s.isprintable():
            return s
    except UnicodeDecodeError:
        pass
    return "hex:" + b.hex()


def canon_time(ns):
    return ns if ns < RECENT else "<recent>"


def read_xattrs(path):
    out = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as e:
        return {"<listxattr-error>": os.strerror(e.errno)}
    for name in sorted(names):
        try:
            val = os.getxattr(path, name, follow_symlinks=False)
        except OSError as e:
            out[name] = "<error %s>" % os.strerror(e.errno)
            continue
        if name in MACHINE_SPECIFIC_XATTRS:
            out[name] = "<handle>"
        else:
            out[name] = show_bytes(val)
    return out


def file_content(path, size):
    """sha256, and the bytes of holes below EOF."""
    h = hashlib.sha256()
    hole = 0
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            h.update(b)
        off = 0
        while off < size:
            h0 = os.lseek(fd, off, os.SEEK_HOLE)
            if h0 >= size:
                break
            try:
                off = os.lseek(fd, h0, os.SEEK_DATA)
            except OSError:             # ENXIO: hole up to EOF
                off = size
            hole += off - h0
    finally:
        os.close(fd)
    return h.hexdigest(), hole


def dump(root, atime=False, ctime=False, ino=False):
    root = os.path.abspath(root)
    entries, inodes = {}, {}
    stack = [""]
    while stack:
        rel = stack.pop()
        path = root + rel if rel else root
        try:
            st = os.lstat(path)
        except OSError as x:             # listed by readdir, but lstat fails
            entries[rel] = {"lstat_error": errno.errorcode.get(x.errno, str(x.errno))}
            continue
        t = ftype(st.st_mode)
        if t == "char" and st.st_rdev == 0:
            entries[rel] = {"type": t, "whiteout": True, "rdev": "0:0",
                            "mode": "%04o" % stat.S_IMODE(st.st_mode),
                            "uid": st.st_uid, "gid": st.st_gid,
                            "xattrs": read_xattrs(path)}
            continue
        rec = {"type": t, "mode": "%04o" % stat.S_IMODE(st.st_mode),
               "uid": st.st_uid, "gid": st.st_gid}
        if t == "dir":
            rec["dir_nlink"] = st.st_nlink
        else:
            rec["nlink"] = st.st_nlink
            inodes.setdefault((st.st_dev, st.st_ino), []).append(rel or "/")
        if t == "file":
            rec["size"] = st.st_size
            try:
                rec["sha256"], hole = file_content(path, st.st_size)
                if hole:
                    rec["hole_mib"] = hole >> 20
            except OSError as e:
                rec["sha256"] = "<error %s>" % os.strerror(e.errno)
        elif t == "symlink":
            rec["size"] = st.st_size
            rec["target"] = os.readlink(path)
        elif t in ("char", "block"):
            rec["rdev"] = "%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
        rec["xattrs"] = read_xattrs(path)
        rec["mtime_ns"] = canon_time(st.st_mtime_ns)
        if atime:
            rec["atime_ns"] = canon_time(st.st_atime_ns)
        if ctime:
            rec["ctime_ns"] = canon_time(st.st_ctime_ns)
        if ino:
            rec["ino"] = st.st_ino
        entries[rel or "/"] = rec
        if t == "dir":
            for name in sorted(os.listdir(path), reverse=True):
                stack.append(rel + "/" + name)
    groups = sorted(sorted(p) for p in inodes.values() if len(p) > 1)
    for n, paths in enumerate(groups, 1):
        for p in paths:
            entries[p]["link_group"] = "L%d" % n
    return {"root": root, "entries": dict(sorted(entries.items()))}


# ----------------------------------------------------------------- diffing
def load(path):
    """Return {path-or-op: record}.  *.jsonl = ops.py results."""
    with open(path) as f:
        if path.endswith(".jsonl"):
            out = {}
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    out[r.pop("op")] = r
            return out
        return json.load(f)["entries"]


def flatten_ops(recs):
    flat = {}
    for op, r in recs.items():
        if "ok" in r and isinstance(r["ok"], dict):
            for step, v in r["ok"].items():
                flat[(op, step)] = v
        else:
            flat[(op, None)] = r
    return flat


def differences(section, ref, test, is_ops):
    """[(key, path)] for every differing field."""
    out = []
    if is_ops:
        fr, ft = flatten_ops(ref), flatten_ops(test)
        for k in sorted(set(fr) | set(ft), key=lambda k: (k[0], k[1] or "")):
            if fr.get(k, "<absent>") != ft.get(k, "<absent>"):
                key = "ops:%s" % k[0] + (":%s" % k[1] if k[1] else "")
                out.append((key, k[0]))
        return out
    for p in sorted(set(ref) | set(test)):
        if p not in test:
            out.append(("%s:%s:<missing>" % (section, p), p))
            continue
        if p not in ref:
            out.append(("%s:%s:<extra>" % (section, p), p))
            continue
        a, b = ref[p], test[p]
        for f in sorted(set(a) | set(b)):
            if f == "xattrs":
                xa, xb = a.get(f, {}), b.get(f, {})
                for x in sorted(set(xa) | set(xb)):
                    if xa.get(x) != xb.get(x):
                        out.append(("%s:%s:xattrs.%s" % (section, p, x), p))
            elif a.get(f) != b.get(f):
                out.append(("%s:%s:%s" % (section, p, f), p))
    return out


def load_known(path):
    known = []
    if path and os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                pat, _, reason = line.partition(" ")
                known.append([pat, reason.strip() or "(no reason given)", 0])
    return known


def main_diff(a):
    is_ops = a.ref.endswith(".jsonl")
    known = load_known(a.known)
    if not (os.path.exists(a.test) and os.path.getsize(a.test)):
        ref, test = {}, {}
        diffs = [("%s:<no-result>" % a.section, "")]
    else:
        ref, test = load(a.ref), load(a.test)
        diffs = differences(a.section, ref, test, is_ops)
    expected, bad = [], []
    for key, p in diffs:
        for k in known:
            if fnmatch.fnmatchcase(key, k[0]):
                k[2] += 1
                expected.append((key, k[0]))
                break
        else:
            bad.append((key, p))
    if bad:
        print("FAIL %s: %d unexpected difference(s), %d expected"
              % (a.section, len(bad), len(expected)))
    else:
        print("PASS %s%s" % (a.section, " (%d expected difference(s))" % len(expected)
                              if expected else ""))
    for pat, reason, n in known:
        if n:
            keys = [k for k, p in expected if p == pat]
            print("  expected difference x%d: %s  (e.g. %s)\n      -- %s"
                  % (n, pat, keys[0], reason))
    if bad:
        for key, _ in bad[:200]:
            print("  unexpected: " + key)
        if len(bad) > 200:
            print("  ... %d more" % (len(bad) - 200))
        paths = sorted({p for _, p in bad if p})
        ra = {p: ref.get(p, "<absent>") for p in paths}
        rb = {p: test.get(p, "<absent>") for p in paths}
        lines = list(difflib.unified_diff(
            json.dumps(ra, indent=1, sort_keys=True).splitlines(),
            json.dumps(rb, indent=1, sort_keys=True).splitlines(),
            "reference/" + a.section, "tested/" + a.section, lineterm="", n=2))
        for ln in lines[:a.max_lines]:
            print("    " + ln)
        if len(lines) > a.max_lines:
            print("    ... (%d more diff lines)" % (len(lines) - a.max_lines))
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("dir")
    d.add_argument("-o", "--output")
    d.add_argument("--atime", action="store_true", help="include canonical atime")
    d.add_argument("--ctime", action="store_true", help="include canonical ctime")
    d.add_argument("--ino", action="store_true", help="include raw st_ino")
    c = sub.add_parser("diff")
    c.add_argument("section")
    c.add_argument("ref")
    c.add_argument("test")
    c.add_argument("--known", help="known differences file (glob  reason)")
    c.add_argument("--max-lines", type=int, default=300)
    a = ap.parse_args()
    if a.cmd == "dump":
        snap = dump(a.dir, a.atime, a.ctime, a.ino)
        text = json.dumps(snap, indent=1, sort_keys=True) + "\n"
        if a.output:
            with open(a.output, "w") as f:
                f.write(text)
        else:
            sys.stdout.write(text)
        return 0
    return main_diff(a)


if __name__ == "__main__":
    sys.exit(main())
