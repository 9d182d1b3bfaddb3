#!/usr/bin/env python3
"""Helpers of build_upper.sh (the kernel differential test of cimg build's
direct COPY into the step's upper dir).

  build_upper.py uppers OCIDIR TAG OUTDIR
      every layer of oci:OCIDIR:TAG (gzip or plain tars), bottom first, as a
      directory OUTDIR/N in the kernel's overlay upper format: ".wh.NAME"
      becomes a char 0/0 device NAME, "DIR/.wh..wh..opq" sets
      trusted.overlay.opaque=y on DIR; owners, modes, times, xattrs kept.
      Prints the directories, one a line.
  build_upper.py copy SRC... DEST ROOT
      COPY's rules (builder/copy.h: a directory source gives its contents,
      a file lands in DEST/ under its name; files keep mode and times, owned
      by root) done with plain system calls on ROOT (a kernel overlay mount),
      the way the old cimg build did them through its clusterfs mount.
      Symlinks on the way are followed by the kernel (keep them relative).
  build_upper.py listing DIR
      one line per entry of an upper dir: path, type (W = whiteout), mode,
      owner, size, content hash, symlink target, mtime in seconds (what the
      layer tar keeps; of a directory only when it is older than 1 hour: one
      the step changed has "now"), xattrs
      (trusted.overlay.opaque as "opaque"; other trusted.overlay.* are the
      kernel's bookkeeping and left out).
"""
import gzip
import hashlib
import json
import os
import stat
import sys
import tarfile
import time


def blob(oci, digest):
    return os.path.join(oci, 'blobs', *digest.split(':', 1))


def layers_of(oci, tag):
    idx = json.load(open(os.path.join(oci, 'index.json')))
    for m in idx['manifests']:
        if m.get('annotations', {}).get('org.opencontainers.image.ref.name') == tag:
            man = json.load(open(blob(oci, m['digest'])))
            return [blob(oci, l['digest']) for l in man['layers']]
    sys.exit('build_upper.py: no tag %s in %s' % (tag, oci))


def open_tar(path):
    with open(path, 'rb') as f:
        magic = f.read(2)
    if magic == b'\x1f\x8b':
        return tarfile.open(fileobj=gzip.open(path), mode='r|')
    return tarfile.open(path, mode='r|')


def set_meta(p, m):
    os.lchown(p, m.uid, m.gid)
    if not m.issym():
        os.chmod(p, m.mode & 0o7777)
    for k, v in m.pax_headers.items():
        if k.startswith('SCHILY.xattr.'):
            os.setxattr(p, k[len('SCHILY.xattr.'):], v.encode('utf-8', 'surrogateescape'),
                        follow_symlinks=False)


def to_upper(tar_path, out):
    os.makedirs(out)
    dirs = []
    tf = open_tar(tar_path)
    for m in tf:
        name = m.name.rstrip('/')
        if name in ('', '.'):
            continue
        d, base = os.path.split(name)
        p = os.path.join(out, name)
        os.makedirs(os.path.join(out, d), exist_ok=True)
        if base == '.wh..wh..opq':
            os.setxattr(os.path.join(out, d), 'trusted.overlay.opaque', b'y')
            continue
        if base.startswith('.wh.'):
            os.mknod(os.path.join(out, d, base[4:]), stat.S_IFCHR | 0, os.makedev(0, 0))
            continue
        if m.isdir():
            os.makedirs(p, exist_ok=True)
            dirs.append((p, m))
        elif m.issym():
            os.symlink(m.linkname, p)
        elif m.islnk():
            os.link(os.path.join(out, m.linkname), p)
            continue
        elif m.isreg():
            with open(p, 'wb') as f:
                f.write(tf.extractfile(m).read())
        else:
            sys.exit('build_upper.py: unexpected member %s' % m.name)
        set_meta(p, m)
        if not m.isdir():
            os.utime(p, ns=(int(m.mtime * 1e9),) * 2, follow_symlinks=False)
    for p, m in reversed(dirs):
        set_meta(p, m)
        os.utime(p, ns=(int(m.mtime * 1e9),) * 2)


def cmd_uppers(oci, tag, outdir):
    for i, l in enumerate(layers_of(oci, tag)):
        out = os.path.join(outdir, str(i))
        to_upper(l, out)
        print(out)


def copy_any(src, dst):
    st = os.lstat(src)
    if stat.S_ISDIR(st.st_mode):
        if os.path.lexists(dst) and not os.path.isdir(dst) or os.path.islink(dst):
            os.unlink(dst)
        if not os.path.isdir(dst):
            os.mkdir(dst, st.st_mode & 0o7777)
        for n in sorted(os.listdir(src)):
            copy_any(os.path.join(src, n), os.path.join(dst, n))
        os.chown(dst, 0, 0)
        os.chmod(dst, st.st_mode & 0o7777)
        os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
        return
    if os.path.lexists(dst):
        if os.path.isdir(dst) and not os.path.islink(dst):
            sys.exit('build_upper.py: %s is a directory' % dst)
        os.unlink(dst)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), dst)
        os.lchown(dst, 0, 0)
        os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
        return
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, st.st_mode & 0o7777)
    with open(src, 'rb') as f:
        os.write(fd, f.read())
    os.fchown(fd, 0, 0)
    os.fchmod(fd, st.st_mode & 0o7777)
    os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.close(fd)


def cmd_copy(args):
    *srcs, dest, root = args
    target = os.path.join(root, dest.lstrip('/'))
    os.makedirs(target, exist_ok=True)
    for s in srcs:
        if os.path.isdir(s) and not os.path.islink(s):
            for n in sorted(os.listdir(s)):
                copy_any(os.path.join(s, n), os.path.join(target, n))
        else:
            copy_any(s, os.path.join(target, os.path.basename(s)))


def cmd_listing(top):
    old = time.time() - 3600
    out = []
    for d, dirs, files in os.walk(top):
        for n in sorted(dirs + files):
            p = os.path.join(d, n)
            rel = os.path.relpath(p, top)
            st = os.lstat(p)
            mode = st.st_mode
            kind = ('W' if stat.S_ISCHR(mode) and st.st_rdev == 0 else
                    'd' if stat.S_ISDIR(mode) else 'l' if stat.S_ISLNK(mode) else
                    'f' if stat.S_ISREG(mode) else 'o')
            extra = ''
            if kind == 'f':
                extra = hashlib.sha256(open(p, 'rb').read()).hexdigest()[:16]
            elif kind == 'l':
                extra = '-> ' + os.readlink(p)
            mtime = str(int(st.st_mtime)) if kind != 'd' or st.st_mtime < old else 'now'
            xs = []
            for k in sorted(os.listxattr(p, follow_symlinks=False)):
                if k == 'trusted.overlay.opaque':
                    xs.append('opaque')
                elif not k.startswith('trusted.overlay.'):
                    xs.append('%s=%r' % (k, os.getxattr(p, k, follow_symlinks=False)))
            size = st.st_size if kind == 'f' else '-'
            out.append('\t'.join([rel, kind, '%o' % (mode & 0o7777), '%d:%d' % (st.st_uid, st.st_gid),
                                  str(size), extra, mtime, ','.join(xs)]))
    print('\n'.join(sorted(out)))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'uppers':
        cmd_uppers(*args)
    elif cmd == 'copy':
        cmd_copy(args)
    elif cmd == 'listing':
        cmd_listing(args[0])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
