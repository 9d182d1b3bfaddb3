#!/usr/bin/env python3
"""Deterministic operations on an overlay mount, for differential testing.

  ops.py MOUNTPOINT RESULTS.jsonl       (ops.py --list: the op names)

Runs every op in OPS, in order, against the fixture built by run.sh.  Each op
writes one JSON line: {"op": NAME, "ok": RESULT} or {"op": NAME, "errno":
"EXDEV"} (or "exception").  Results that are dicts hold one value per step; a
step that failed holds "errno:ENAME", so a failure never hides later steps.
Results never contain inode numbers, offsets or free-space figures, only
what must be equal between two correct overlays.
"""
import ctypes
import errno
import fcntl
import hashlib
import json
import mmap
import os
import stat
import struct
import sys

M = "."                 # mount point, set in main()
OPS = []
libc = ctypes.CDLL(None, use_errno=True)


def op(fn):
    OPS.append(fn)
    return fn

def P(rel):
    return os.path.join(M, rel)

def e(fn, *a, **kw):
    """fn(*a, **kw), or "errno:ENAME" if it raised OSError."""
    try:
        return fn(*a, **kw)
    except OSError as x:
        return "errno:" + errno.errorcode.get(x.errno, str(x.errno))

def cerr(rc):
    if rc < 0:
        n = ctypes.get_errno()
        raise OSError(n, os.strerror(n))
    return rc

def read(rel):
    with open(P(rel), "rb") as f:
        return f.read().decode(errors="replace")

def write(rel, data, mode="w"):
    with open(P(rel), mode) as f:
        f.write(data)
    return True

def ls(rel=""):
    return sorted(os.listdir(P(rel)))

def meta(rel, follow=False):
    st = os.stat(P(rel), follow_symlinks=follow)
    r = {"mode": "%o" % st.st_mode, "uid": st.st_uid, "gid": st.st_gid}
    if not stat.S_ISDIR(st.st_mode):        # (merged dirs report nlink 1)
        r |= {"size": st.st_size, "nlink": st.st_nlink}
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        r["rdev"] = [os.major(st.st_rdev), os.minor(st.st_rdev)]
    return r

def ino(rel):
    s = os.lstat(P(rel))
    return (s.st_dev, s.st_ino)

def xattrs(rel):
    return {n: os.getxattr(P(rel), n, follow_symlinks=False).decode(errors="replace")
            for n in sorted(os.listxattr(P(rel), follow_symlinks=False))}

def holes(fd, *offsets):
    """{offset: "hole"|"data"} via SEEK_HOLE.  Exact extent maps are not
    compared: the kernel copies up in 1 MiB chunks, skipping only whole holes."""
    return {str(o): "hole" if os.lseek(fd, o, os.SEEK_HOLE) == o else "data"
            for o in offsets}

def sparse(fd):
    st = os.fstat(fd)
    return st.st_blocks * 512 < st.st_size

def st(rel):
    """"exists" or "errno:ENAME" (never a stat result: it holds inode numbers)."""
    r = e(os.lstat, P(rel))
    return r if isinstance(r, str) else "exists"

def sha(rel):
    with open(P(rel), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()

# ----------------------------------------------------------- reads, lookup
@op
def read_lower_files():
    return {"common": e(read, "common.txt"), "only_a": e(read, "only_a.txt"),
            "only_b": e(read, "only_b.txt"), "deep_b": e(read, "dir_b_only/sub/y.txt"),
            "merged_shared": e(read, "dir_merged/shared.txt"),
            "merged_b1": e(read, "dir_merged/b1.txt"),
            "merged_u1": e(read, "dir_merged/u1.txt"),
            "opaque_hidden": e(read, "shadowed_by_opaque/hidden.txt"),
            "opaque_visible": e(read, "shadowed_by_opaque/visible.txt"),
            "through_symlink": e(read, "sym_to_only_a")}

@op
def merged_listings():
    return {d or "/": e(ls, d) for d in ("", "dir_merged", "dir_b_only",
                                         "shadowed_by_opaque", "upper_dir")} | \
        {"big_count": len(os.listdir(P("big")))}

@op
def whiteouts_hide():
    return {n: st(n) for n in
            ("whited.txt", "wh_dir", "wh_dir/inner.txt", "big/e00010")}

@op
def lower_metadata():
    return {n: e(meta, n) for n in ("only_a.txt", "sym_to_only_a", "chardev_lower",
                                    "fifo_lower", "hl1", "hl2", "meta_chown.txt")} | \
        {"readlink": e(os.readlink, P("sym_to_only_a")),
         "dangling": e(os.readlink, P("dangling"))}

@op
def trusted_overlay_hidden():
    r = {}
    for n in ("", "shadowed_by_opaque", "dir_merged", "big", "only_a.txt", "upper_only.txt"):
        r["list:" + (n or "/")] = e(lambda: sorted(os.listxattr(P(n))))
    r["get_opaque"] = e(os.getxattr, P("opaque_probe"), "trusted.overlay.opaque")
    r["remove_opaque"] = e(os.removexattr, P("opaque_probe"), "trusted.overlay.opaque")
    r["still_opaque"] = e(ls, "opaque_probe")
    # kernel >= 6.7 stores these escaped (trusted.overlay.overlay.*, for nesting)
    r["set_opaque"] = e(os.setxattr, P("escape_probe"), "trusted.overlay.opaque", b"y")
    r["set_other"] = e(os.setxattr, P("escape_probe"), "trusted.overlay.foo", b"x")
    r["escape_probe"] = e(xattrs, "escape_probe")
    return r

# ---------------------------------------------------------------- copy-up
@op
def copyup_overwrite_inplace():
    fd = os.open(P("overwrite.txt"), os.O_RDWR)
    os.pwrite(fd, b"NEW", 9)
    os.close(fd)
    fd = os.open(P("only_b.txt"), os.O_RDWR)
    os.ftruncate(fd, 4)
    os.close(fd)
    return [read("overwrite.txt"), read("only_b.txt")]

@op
def copyup_trunc_append_truncate():
    r = {"o_trunc": e(write, "common.txt", "replaced common\n"),
         "append": e(write, "append.txt", "line2\n", "a"),
         "truncate": e(os.truncate, P("trunc_short.txt"), 5)}
    for n in ("common.txt", "append.txt", "trunc_short.txt"):
        r[n] = [e(read, n), e(meta, n)]
    return r

@op
def truncate_longer():
    os.truncate(P("trunc_long.txt"), 1 << 20)
    fd = os.open(P("trunc_long.txt"), os.O_RDONLY)
    try:
        return {"sha": sha("trunc_long.txt"), "holes": holes(fd, 0, 524288),
                "sparse": sparse(fd), "size": os.fstat(fd).st_size}
    finally:
        os.close(fd)

@op
def chmod_lower():
    r = {"chmod_file": e(os.chmod, P("meta_chmod.txt"), 0o600),
         "chmod_dir": e(os.chmod, P("chmod_dir"), 0o700),
         "chmod_fifo": e(os.chmod, P("fifo_lower"), 0o600)}
    return r | {"file": e(meta, "meta_chmod.txt"), "dir": e(meta, "chmod_dir"),
                "fifo": e(meta, "fifo_lower"), "xattrs_kept": e(xattrs, "meta_chmod.txt"),
                "dir_listing": e(ls, "chmod_dir"), "data": e(read, "meta_chmod.txt")}

@op
def chown_lower():
    r = {"chown_file": e(os.chown, P("meta_chown.txt"), 4321, 5432),   # clears setuid
         "lchown": e(os.chown, P("sym_to_only_a"), 4321, 5432, follow_symlinks=False),
         "chown_dev": e(os.chown, P("chardev_lower"), 77, 88)}
    return r | {"file": e(meta, "meta_chown.txt"), "symlink": e(meta, "sym_to_only_a"),
                "target": e(meta, "only_a.txt"), "dev": e(meta, "chardev_lower"),
                "readlink": e(os.readlink, P("sym_to_only_a"))}

@op
def utime_lower():
    r = {"file": e(os.utime, P("meta_utime.txt"), ns=(1111111111000000001,
                                                       1234567890123456789)),
         "dir": e(os.utime, P("dir_b_only/sub"), ns=(1111111111, 1222222222)),
         "symlink": e(os.utime, P("dangling"), ns=(1111111111, 1333333333),
                      follow_symlinks=False)}
    for n in ("meta_utime.txt", "dir_b_only/sub", "dangling"):
        r["times:" + n] = e(lambda: [(x.st_atime_ns, x.st_mtime_ns) for x in
                                     [os.lstat(P(n))]][0])
    return r | {"data": e(read, "meta_utime.txt")}

@op
def xattr_lower_file():
    f = P("xattr_lower.txt")
    r = {"get_a": e(os.getxattr, f, "user.a"), "before": e(xattrs, "xattr_lower.txt")}
    r["set_new"] = e(os.setxattr, f, "user.new", b"v" * 300)
    r["create_exists"] = e(os.setxattr, f, "user.a", b"z", os.XATTR_CREATE)
    r["replace_missing"] = e(os.setxattr, f, "user.nope", b"z", os.XATTR_REPLACE)
    r["remove_b"] = e(os.removexattr, f, "user.b")
    r["get_b"] = e(os.getxattr, f, "user.b")
    r["set_trusted"] = e(os.setxattr, f, "trusted.custom", b"tc")
    r["after"] = e(xattrs, "xattr_lower.txt")
    r["data"] = read("xattr_lower.txt")
    return {k: v.decode() if isinstance(v, bytes) else v for k, v in r.items()}

@op
def xattr_upper_file():
    f = P("upper_only.txt")
    r = {"get_u": e(os.getxattr, f, "user.u"), "set_v": e(os.setxattr, f, "user.v", b"2"),
         "remove_u": e(os.removexattr, f, "user.u"), "after": e(xattrs, "upper_only.txt")}
    return {k: v.decode() if isinstance(v, bytes) else v for k, v in r.items()}

@op
def xattr_lower_dir_and_symlink():
    r = {"dir": e(os.setxattr, P("dir_b_only"), "user.dx", b"1"),
         "dir_after": e(xattrs, "dir_b_only"), "dir_listing": e(ls, "dir_b_only"),
         "symlink_user": e(os.setxattr, P("sym_to_only_a"), "user.s", b"1",
                           follow_symlinks=False),
         "symlink_trusted": e(os.setxattr, P("sym_to_only_a"), "trusted.s", b"1",
                              follow_symlinks=False)}
    r["symlink_after"] = e(xattrs, "sym_to_only_a")
    return r

# ------------------------------------------------- whiteouts and opaque dirs
@op
def rm_lower_file():
    return {"unlink": e(os.unlink, P("rm_me.txt")), "stat": st("rm_me.txt"),
            "listed": "rm_me.txt" in os.listdir(M),
            "unlink_merged_b": e(os.unlink, P("dir_merged/b1.txt")),
            "unlink_merged_shared": e(os.unlink, P("dir_merged/shared.txt")),
            "shared_after": e(read, "dir_merged/shared.txt"),
            "merged": e(ls, "dir_merged"), "unlink_again": e(os.unlink, P("rm_me.txt"))}

@op
def rmdir_lower():
    return {"empty": e(os.rmdir, P("empty_dir")), "stat": st("empty_dir"),
            "nonempty": e(os.rmdir, P("rmr_dir")), "file_as_dir": e(os.rmdir, P("common.txt"))}

@op
def rm_r_lower_dir():
    r = {}
    for n in ("rmr_dir/f1", "rmr_dir/f2", "rmr_dir/sub/f3"):
        r[n] = e(os.unlink, P(n))
    r["rmdir_sub"] = e(os.rmdir, P("rmr_dir/sub"))
    r["listing"] = e(ls, "rmr_dir")
    r["rmdir"] = e(os.rmdir, P("rmr_dir"))
    r["gone"] = "rmr_dir" not in os.listdir(M)
    return r

@op
def mkdir_over_whiteout():
    r = {"mkdir": e(os.mkdir, P("rmr_dir"), 0o751), "listing": e(ls, "rmr_dir"),
         "f1": st("rmr_dir/f1")}
    r["create"] = e(write, "rmr_dir/new.txt", "new in opaque\n")
    r["mkdir_fixture_whiteout"] = e(os.mkdir, P("wh_dir"))
    r["wh_dir_listing"] = e(ls, "wh_dir")
    r["mkdir_existing"] = e(os.mkdir, P("dir_merged"))
    return r | {"meta": meta("rmr_dir"), "after": ls("rmr_dir")}

@op
def create_over_whiteout():
    r = {"excl": e(lambda: os.close(os.open(P("whited.txt"), os.O_CREAT | os.O_EXCL |
                                            os.O_WRONLY, 0o640)))}
    r["write"] = e(write, "whited.txt", "recreated\n", "a")
    r["read"] = e(read, "whited.txt")
    r["excl_lower"] = e(lambda: os.close(os.open(P("common.txt"), os.O_CREAT | os.O_EXCL |
                                                 os.O_WRONLY)))
    r["recreate_rm_me"] = e(write, "rm_me.txt", "back\n")
    r["meta"] = meta("whited.txt")
    return r

# ---------------------------------------------------------------- renames
@op
def rename_lower_file():
    return {"rename": e(os.rename, P("rename_src.txt"), P("renamed.txt")),
            "old": st("rename_src.txt"), "new": e(read, "renamed.txt"),
            "meta": e(meta, "renamed.txt"),
            "over_lower": e(os.rename, P("rename_over_src.txt"), P("rename_over_dst.txt")),
            "over_old": st("rename_over_src.txt"), "over_new": e(read, "rename_over_dst.txt")}

@op
def rename_lower_file_across_dirs():
    return {"rename": e(os.rename, P("dir_b_only/x.txt"), P("dir_merged/moved_x.txt")),
            "src_dir": e(ls, "dir_b_only"), "dst_dir": e(ls, "dir_merged"),
            "content": e(read, "dir_merged/moved_x.txt")}

@op
def rename_lower_and_merged_dir():
    """EXDEV from the kernel with redirect_dir=off.  An overlay that implements
    redirects renames; the dir is then renamed back so later ops see the fixture."""
    r = {}
    for kind, a, b in (("lower", "rename_me_dir", "renamed_dir"),
                       ("merged", "dir_merged", "dir_merged2")):
        r[kind] = e(os.rename, P(a), P(b))
        r |= {kind + "_old": e(ls, a), kind + "_new": e(ls, b)}
        r[kind + "_back"] = e(os.rename, P(b), P(a)) if r[kind] is None else "-"
        r[kind + "_after_back"] = e(ls, a)
    return r

@op
def rename_upper_dir():
    return {"file": e(os.rename, P("upper_dir/inner.txt"), P("upper_dir/inner2.txt")),
            "dir": e(os.rename, P("upper_dir"), P("upper_dir_renamed")),
            "listing": e(ls, "upper_dir_renamed"),
            "deep": e(read, "upper_dir_renamed/sub/deeper.txt")}

@op
def rename_new_dir():
    os.makedirs(P("newdir/a/b"))
    write("newdir/a/b/f.txt", "nested\n")
    return {"rename": e(os.rename, P("newdir"), P("newdir2")),
            "content": e(read, "newdir2/a/b/f.txt"), "old": e(ls, "newdir")}

@op
def rename_noreplace_and_over_whiteout():
    ren2 = libc.renameat2
    ren2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                     ctypes.c_uint]
    AT = -100
    r = {"noreplace_exists": e(lambda: cerr(ren2(AT, P("append.txt").encode(), AT,
                                                 P("renamed.txt").encode(), 1))),
         "noreplace_new": e(lambda: cerr(ren2(AT, P("append.txt").encode(), AT,
                                              P("append2.txt").encode(), 1)))}
    r["over_whiteout"] = e(os.rename, P("upper_only.txt"), P("dir_merged/b1.txt"))
    r["b1"] = e(read, "dir_merged/b1.txt")
    r["b1_xattrs"] = e(xattrs, "dir_merged/b1.txt")
    r["dir_over_file"] = e(os.rename, P("newdir2"), P("only_a.txt"))
    r["file_over_dir"] = e(os.rename, P("only_a.txt"), P("chmod_dir"))
    return r

NOBODY = 65534

def as_nobody(fn):
    """fn() in a forked child running as nobody (uid and gid 65534, no
    supplementary groups), started in the mount's root: fn uses relative paths
    (the test's temp dir above the mount is private to root)."""
    def child():
        os.chdir(M)
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
        return fn()
    return in_child(child)

@op
def rename_dir_permission():
    """POSIX rename(2): moving a directory to another parent rewrites its "..",
    so the caller needs write permission on the directory itself (vfs_rename
    checks it before overlayfs sees the rename: EACCES comes before EXDEV).
    perm_src and perm_dst are world-writable; other_* belong to uid 1234,
    mine_* to nobody.  Also a sticky parent (only the owner may move a dir out,
    EPERM) and RENAME_EXCHANGE with another user's dir across parents."""
    def moves():
        r = {n: e(os.rename, "perm_src/" + n, "perm_dst/" + n)
             for n in ("other_upper", "other_lower", "mine_upper", "mine_lower")}
        r["same_parent"] = e(os.rename, "perm_src/other_upper_same_dir",
                             "perm_src/renamed_same_dir")
        r["sticky_other"] = e(os.rename, "perm_sticky/other", "perm_dst/sticky_other")
        r["sticky_mine"] = e(os.rename, "perm_sticky/mine", "perm_dst/sticky_mine")
        ren2 = libc.renameat2
        ren2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                         ctypes.c_uint]
        r["exchange_with_other_lower"] = e(lambda: cerr(ren2(  # RENAME_EXCHANGE
            -100, b"perm_dst/mine_upper", -100, b"perm_src/other_lower", 2)))
        r["src"] = e(lambda: sorted(os.listdir("perm_src")))
        r["dst"] = e(lambda: sorted(os.listdir("perm_dst")))
        return r
    r = {"nobody": as_nobody(moves)}
    r["root_other_upper"] = e(os.rename, P("perm_src/other_upper_root"),
                              P("perm_dst/other_upper_root"))
    r["root_other_lower"] = e(os.rename, P("perm_src/other_lower"), P("perm_dst/other_lower"))
    return r | {"src": e(ls, "perm_src"), "dst": e(ls, "perm_dst"),
                "sticky": e(ls, "perm_sticky"),
                "moved": e(ls, "perm_dst/other_upper_root"),
                "moved_meta": e(meta, "perm_dst/other_upper_root")}

@op
def long_names():
    """255-byte names (NAME_MAX) with the caller's umask 0: every mode exactly
    as asked, whatever the FUSE daemon's own umask is (run.sh starts it with 022)."""
    L = "L" * 255
    old = os.umask(0)
    try:
        create = lambda n, m: os.close(os.open(P(n), os.O_CREAT | os.O_EXCL | os.O_WRONLY, m))
        # (the fixture's upper holds a whiteout for W..W: an unlink of a lower
        # 255-byte name aborts fuse-overlayfs 1.10, which would end its run here)
        r = {"read_lower": e(read, L), "whited": st("W" * 255),
             "create_over_whiteout": e(create, "W" * 255, 0o620),
             "create": e(create, "c" * 255, 0o620),
             "create_short": e(create, "short_0620.txt", 0o620),
             # in a pure-upper dir: in a merged dir the kernel also marks a new dir
             # opaque, depending on its options (not with index=off, with index=on)
             "mkdir": e(os.mkdir, P("upper_dir_renamed/" + "d" * 255), 0o751),
             "mkfifo": e(os.mkfifo, P("p" * 255), 0o624),
             "mknod": e(os.mknod, P("n" * 255), 0o662 | stat.S_IFCHR, os.makedev(1, 3)),
             "symlink": e(os.symlink, "t" * 255, P("s" * 255)),
             "too_long_create": e(create, "x" * 256, 0o644),
             "too_long_lookup": st("x" * 256)}
    finally:
        os.umask(old)
    for n in ("W" * 255, "c" * 255, "short_0620.txt", "upper_dir_renamed/" + "d" * 255,
              "p" * 255, "n" * 255, "s" * 255):
        r["meta:" + n[:8]] = e(meta, n)
    r["readlink"] = e(os.readlink, P("s" * 255)) == "t" * 255
    r["listed"] = sorted(n[:8] for n in os.listdir(M) if len(n) == 255)
    return r

@op
def rename_over_removed_dir():
    """rename(2) onto a name whose lower dir was removed (a whiteout stands
    there): the kernel replaces the whiteout (mkdir a/new; rmdir a/old;
    mv a/new a/old), for a dir from the same or another parent and for a file."""
    def rm_r(d):
        return [e(os.unlink, P(d + "/f.txt")), e(os.rmdir, P(d))]
    r = {"rm_old": rm_r("rdw/old"), "mkdir_new": e(os.mkdir, P("rdw/new")),
         "write_new": e(write, "rdw/new/g.txt", "g\n")}
    r["rename"] = e(os.rename, P("rdw/new"), P("rdw/old"))
    r |= {"old": e(ls, "rdw/old"), "content": e(read, "rdw/old/g.txt"), "new": st("rdw/new")}
    r["rm_2"] = rm_r("rdw/old_from_elsewhere")
    r["mkdir_2"] = e(os.mkdir, P("rdw_elsewhere"))
    r["rename_2"] = e(os.rename, P("rdw_elsewhere"), P("rdw/old_from_elsewhere"))
    r["old_2"] = e(ls, "rdw/old_from_elsewhere")
    r["rm_3"] = rm_r("rdw/old_for_file")
    r["write_3"] = e(write, "rdw_file.txt", "file\n")
    r["rename_3"] = e(os.rename, P("rdw_file.txt"), P("rdw/old_for_file"))
    r["content_3"] = e(read, "rdw/old_for_file")
    # an opaque dir (made over a removed lower dir) onto another removed one:
    # the old name needs its whiteout back
    r["rm_4"] = rm_r("rdw/opq_src") + rm_r("rdw/opq_dst")
    r["mkdir_4"] = e(os.mkdir, P("rdw/opq_src"))
    r["write_4"] = e(write, "rdw/opq_src/h.txt", "h\n")
    r["rename_4"] = e(os.rename, P("rdw/opq_src"), P("rdw/opq_dst"))
    r |= {"opq_src": st("rdw/opq_src"), "opq_dst": e(ls, "rdw/opq_dst"),
          "listing": e(ls, "rdw")}
    return r

# --------------------------------------------------- links and special files
@op
def hardlink_lower_file():
    r = {"link": e(os.link, P("link_src.txt"), P("link_dst.txt"))}
    write("link_dst.txt", "written via dst\n", "a")
    r |= {"via_src": read("link_src.txt"), "nlink": [meta("link_src.txt")["nlink"],
                                                     meta("link_dst.txt")["nlink"]],
          "same_ino": ino("link_src.txt") == ino("link_dst.txt")}
    r["unlink_src"] = e(os.unlink, P("link_src.txt"))
    r["after_unlink"] = [read("link_dst.txt"), meta("link_dst.txt")["nlink"]]
    return r

@op
def hardlink_pair_copyup():
    before = ino("hl1") == ino("hl2")
    write("hl1", "appended to hl1\n", "a")
    return {"same_ino_before": before, "same_ino_after": ino("hl1") == ino("hl2"),
            "hl1": read("hl1"), "hl2": read("hl2"),
            "nlink": [meta("hl1")["nlink"], meta("hl2")["nlink"]]}

@op
def symlink_create():
    os.symlink("only_a.txt", P("newsym"))
    os.symlink("dir_b_only/sub", P("newsym_dir"))
    return {"readlink": os.readlink(P("newsym")), "through": e(read, "newsym"),
            "meta": meta("newsym"), "dir": e(ls, "newsym_dir"),
            "exists": e(os.symlink, "x", P("common.txt"))}

@op
def mknod_mkfifo():
    r = {"mknod_char": e(os.mknod, P("newchar"), 0o620 | stat.S_IFCHR, os.makedev(1, 7)),
         "mknod_block": e(os.mknod, P("newblock"), 0o600 | stat.S_IFBLK, os.makedev(7, 3)),
         "mkfifo": e(os.mkfifo, P("newfifo"), 0o640),
         "mkfifo_exists": e(os.mkfifo, P("fifo_lower"))}
    return r | {n: e(meta, n) for n in ("newchar", "newblock", "newfifo")}

# ------------------------------------------------- sparse files, fallocate
@op
def sparse_copyup():
    fd = os.open(P("sparse.bin"), os.O_RDONLY)
    probe = (0, 65535, 1536 << 10, 2 << 20, (2 << 20) + 65535, 3584 << 10)
    r = {"lower_holes": holes(fd, *probe), "lower_sparse": sparse(fd),
         "lower_sha": sha("sparse.bin")}
    os.close(fd)
    fd = os.open(P("sparse.bin"), os.O_RDWR)          # copy-up
    r["upper_holes"] = holes(fd, *probe)
    r["upper_sparse"] = sparse(fd)
    os.close(fd)
    r["upper_sha"] = sha("sparse.bin")
    return r

@op
def fallocate_punch_hole():
    fa = libc.fallocate
    fa.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    fd = os.open(P("sparse.bin"), os.O_RDWR)
    try:
        r = {"punch": e(lambda: cerr(fa(fd, 3, 16384, 16384))),          # KEEP|PUNCH
             "alloc": e(lambda: cerr(fa(fd, 0, 3 << 20, 65536))),
             "keep_size": e(lambda: cerr(fa(fd, 1, 4 << 20, 65536))),
             "posix_extend": e(os.posix_fallocate, fd, 5 << 20, 4096)}
        r["holes"] = holes(fd, 10000, 20000, 3584 << 10, 4915200)
        r["size"] = os.fstat(fd).st_size
        os.pwrite(fd, b"W" * 100, 3 << 20)
        r["holes_after_write"] = holes(fd, 3 << 20, 20000)
        r["sparse"] = sparse(fd)
    finally:
        os.close(fd)
    r["sha"] = sha("sparse.bin")
    return r

# --------------------------------------------------- fsync, locks, mmap, statfs
@op
def fsync_ops():
    fd = os.open(P("fsync.txt"), os.O_RDWR | os.O_APPEND)
    os.write(fd, b"synced\n")
    r = {"fsync": e(os.fsync, fd), "fdatasync": e(os.fdatasync, fd)}
    os.close(fd)
    dfd = os.open(P("dir_merged"), os.O_RDONLY | os.O_DIRECTORY)
    r["dir_fsync"] = e(os.fsync, dfd)
    os.close(dfd)
    fd = os.open(P("only_a.txt"), os.O_RDONLY)
    r["fsync_lower_ro"] = e(os.fsync, fd)
    os.close(fd)
    r["content"] = read("fsync.txt")
    return r

def in_child(fn):
    """Run fn() in a forked child; return its JSON-able result."""
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rd)
        try:
            res = fn()
        except BaseException as x:   # noqa
            res = "exception:%r" % x
        os.write(wr, json.dumps(res).encode())
        os._exit(0)
    os.close(wr)
    with os.fdopen(rd, "rb") as f:
        out = f.read()
    os.waitpid(pid, 0)
    return json.loads(out)

@op
def flock_lock():
    f = open(P("lock.txt"), "r")
    r = {"lock": e(fcntl.flock, f, fcntl.LOCK_EX | fcntl.LOCK_NB)}

    def other():
        with open(P("lock.txt")) as g:
            return e(fcntl.flock, g, fcntl.LOCK_EX | fcntl.LOCK_NB)
    r["child_while_held"] = in_child(other)
    r["unlock"] = e(fcntl.flock, f, fcntl.LOCK_UN)
    r["child_after"] = in_child(other)
    f.close()
    return r

@op
def fcntl_lock():
    f = open(P("lock.txt"), "r+")                     # copy-up
    r = {"lock": e(fcntl.lockf, f, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)}
    parent = os.getpid()

    def other():
        with open(P("lock.txt"), "r+") as g:
            res = {"setlk": e(fcntl.lockf, g, fcntl.LOCK_EX | fcntl.LOCK_NB, 5, 5),
                   "setlk_free_range": e(fcntl.lockf, g, fcntl.LOCK_EX | fcntl.LOCK_NB,
                                         5, 20)}
            q = struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 0, 5, 0)
            t, _, s, ln, pid = struct.unpack("hhqqi4x", fcntl.fcntl(g, fcntl.F_GETLK, q))
            res["getlk"] = {"type": t, "start": s, "len": ln, "pid_is_parent": pid == parent}
            return res
    r["child"] = in_child(other)
    f.close()
    r["child_after_close"] = in_child(other)
    return r

@op
def mmap_rw():
    with open(P("mmap.bin"), "r+b") as f:
        m = mmap.mmap(f.fileno(), 0, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        first = m[:4].decode()
        m[4096:4100] = b"MMAP"
        m.flush()
        m.close()
    with open(P("only_b.txt"), "rb") as f:           # read-only mapping of a lower file
        m = mmap.mmap(f.fileno(), 0, mmap.MAP_PRIVATE, mmap.PROT_READ)
        ro = m[:].decode()
        m.close()
    with open(P("mmap.bin"), "rb") as f:
        data = f.read()
    return {"first": first, "written": data[4090:4104].decode(),
            "sha": hashlib.sha256(data).hexdigest(), "ro_lower": ro}

@op
def statfs():
    s = os.statvfs(M)
    return {"bsize": s.f_bsize, "namemax": s.f_namemax, "has_blocks": s.f_blocks > 0,
            "rdonly": bool(s.f_flag & os.ST_RDONLY)}

# ------------------------------------------------------------ inode numbers
@op
def ino_stable_copyup():
    first = ino("ino_copyup.txt")
    os.chmod(P("ino_copyup.txt"), 0o640)              # metadata copy-up
    a = ino("ino_copyup.txt")
    write("ino_copyup.txt", "data\n", "a")
    b = ino("ino_copyup.txt")
    os.rename(P("ino_copyup.txt"), P("ino_renamed.txt"))
    c = ino("ino_renamed.txt")
    return {"after_chmod": a == first, "after_write": b == first,
            "after_rename": c == first}

@op
def ino_stable_cache_drop():
    names = ("only_a.txt", "dir_b_only/sub/y.txt", "upper_dir_renamed/inner2.txt",
             "common.txt", "ino_renamed.txt", "dir_merged", "big", "big/e04999",
             "link_dst.txt", "hl1", "hl2")
    before = {n: e(ino, n) for n in names}
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("2\n")
        dropped = True
    except OSError:
        dropped = False
    return {"dropped": dropped} | {n: e(ino, n) == before[n] for n in names}

@op
def ino_unique():
    seen = {}
    for root, dirs, files in os.walk(M):
        for n in dirs + files:
            p = os.path.join(root, n)
            seen.setdefault(ino(os.path.relpath(p, M)), []).append(os.path.relpath(p, M))
    seen.setdefault(ino(""), []).append("/")
    shared = sorted(sorted(v) for v in seen.values() if len(v) > 1)
    return {"shared": shared}

# ----------------------------------------------------------- telldir/seekdir
class Dirent(ctypes.Structure):
    _fields_ = [("d_ino", ctypes.c_uint64), ("d_off", ctypes.c_int64),
                ("d_reclen", ctypes.c_ushort), ("d_type", ctypes.c_ubyte),
                ("d_name", ctypes.c_char * 256)]

libc.opendir.argtypes = [ctypes.c_char_p]
libc.opendir.restype = ctypes.c_void_p
libc.readdir.argtypes = [ctypes.c_void_p]
libc.readdir.restype = ctypes.POINTER(Dirent)
libc.telldir.argtypes = [ctypes.c_void_p]
libc.telldir.restype = ctypes.c_long
libc.seekdir.argtypes = [ctypes.c_void_p, ctypes.c_long]
libc.rewinddir.argtypes = [ctypes.c_void_p]
libc.closedir.argtypes = [ctypes.c_void_p]

def next_name(d, inos=None):
    p = libc.readdir(d)
    if not p:
        return None
    name = p.contents.d_name.decode()
    if inos is not None:
        inos[name] = (p.contents.d_ino, p.contents.d_type)
    return name

def read_all(d, inos=None):
    names, tells = [], []
    while True:
        t = libc.telldir(d)
        n = next_name(d, inos)
        if n is None:
            return names, tells
        names.append(n)
        tells.append(t)

DT = {stat.S_IFREG: 8, stat.S_IFDIR: 4, stat.S_IFLNK: 10, stat.S_IFCHR: 2,
      stat.S_IFBLK: 6, stat.S_IFIFO: 1, stat.S_IFSOCK: 12}

def seek_check(rel):
    d = libc.opendir(P(rel).encode())
    if not d:
        cerr(-1)
    try:
        inos = {}
        names, tells = read_all(d, inos)
        r = {"count": len(names), "unique": len(set(names)) == len(names),
             "names_sha": hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()}
        bad_ino, bad_type = [], []                   # d_ino/d_type vs lstat
        for name, (dino, dtype) in sorted(inos.items()):
            if name not in (".", ".."):
                s = os.lstat(os.path.join(P(rel), name))
                bad_ino += [name] if s.st_ino != dino else []
                if dtype and DT.get(stat.S_IFMT(s.st_mode)) != dtype:  # DT_UNKNOWN is legal
                    bad_type.append([name, dtype])
        r |= {"d_ino_not_st_ino": bad_ino[:20], "d_type_wrong": bad_type[:20]}
        n = len(names)
        checks = sorted({0, 1, n // 7, n // 2, n // 3 * 2, n - 3, n - 1} & set(range(n)))
        for i in reversed(checks):           # seek backwards, then forwards
            libc.seekdir(d, tells[i])
            got = [next_name(d) for _ in range(min(5, n - i))]
            r["seek_back_to_%d" % i] = got == names[i:i + 5]
        libc.seekdir(d, tells[n // 2])
        rest, _ = read_all(d)
        r["resume_to_end"] = rest == names[n // 2:]
        libc.rewinddir(d)
        again, _ = read_all(d)
        r["rewind_same_order"] = again == names
        d2 = libc.opendir(P(rel).encode())
        libc.seekdir(d2, tells[n // 2])
        r["cookie_in_new_stream"] = next_name(d2) == names[n // 2]
        libc.closedir(d2)
        return r
    finally:
        libc.closedir(d)

@op
def telldir_seekdir():
    return {d + ":" + k: v for d in ("big", "dir_merged") for k, v in seek_check(d).items()}

@op
def big_dir_changes():
    os.unlink(P("big/e00020"))
    os.unlink(P("big/e05050"))
    write("big/zz_new.txt", "new\n")
    r = seek_check("big")
    r["listing_has"] = [n in os.listdir(P("big")) for n in
                        ("e00010", "e00020", "e05050", "e05099", "zz_new.txt", "u_extra.txt")]
    return r

@op
def final_listings():
    out = {}
    for root, dirs, files in os.walk(M):
        rel = os.path.relpath(root, M)
        if rel != "big":
            out[rel] = sorted(dirs + files)
    return out

def main():
    global M
    args = sys.argv[1:]
    if "--list" in args:
        print("\n".join(f.__name__ for f in OPS))
        return 0
    M, out = os.path.abspath(args[0]), args[1]
    os.umask(0o022)
    os.chdir("/")
    failed = 0
    with open(out, "w") as f:
        for fn in OPS:
            rec = {"op": fn.__name__}
            try:
                rec["ok"] = fn()
            except OSError as x:
                rec["errno"] = errno.errorcode.get(x.errno, str(x.errno))
                failed += 1
            except Exception as x:      # noqa: a bug in an op must not stop the run
                rec["exception"] = "%s: %s" % (type(x).__name__, x)
                failed += 1
            f.write(json.dumps(rec, sort_keys=True, default=str) + "\n")
            f.flush()
    print("ops.py: ran ops on %s, %d raised" % (M, failed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
