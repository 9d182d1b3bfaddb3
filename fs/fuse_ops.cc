// FUSE low-level adapters: each op_<name> unpacks the request, calls one
// OverlayFs method (which returns 0 or an errno) and sends exactly one reply.
// The table is wired in OverlayFs::ops().
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "fs/overlay_impl.h"
#include "fs/read_request_size.h"

namespace cfs {
namespace {

OverlayFs* Fs(fuse_req_t req) { return static_cast<OverlayFs*>(fuse_req_userdata(req)); }
Inode* In(fuse_req_t req, fuse_ino_t ino) { return Fs(req)->FromId(ino); }
FileHandle* Fh(struct fuse_file_info* fi) { return reinterpret_cast<FileHandle*>(fi->fh); }

void ReplyEntry(fuse_req_t req, int err, const fuse_entry_param& e) {
  if (err) {
    fuse_reply_err(req, err);
  } else {
    fuse_reply_entry(req, &e);
  }
}

void op_init(void* userdata, struct fuse_conn_info* conn) {
  auto* fs = static_cast<OverlayFs*>(userdata);
  auto want = [&](unsigned cap) {
    if (conn->capable & cap) conn->want |= cap;
  };
  // As the max_read mount option NewFuseSession gave (libfuse refuses INIT
  // when they differ).
  conn->max_read = static_cast<unsigned>(MaxReadRequest());
  want(FUSE_CAP_SPLICE_WRITE);
  want(FUSE_CAP_SPLICE_MOVE);
  // Requests are read through a pipe only where that pays: WRITE payloads
  // spliced into upper files. Read-only mounts read requests plainly.
  if (fs->writable()) want(FUSE_CAP_SPLICE_READ);
  want(FUSE_CAP_ASYNC_READ);
  fs->set_no_opendir((conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) != 0);
  want(FUSE_CAP_READDIRPLUS);
  want(FUSE_CAP_READDIRPLUS_AUTO);
  want(FUSE_CAP_PARALLEL_DIROPS);
  want(FUSE_CAP_CACHE_SYMLINKS);
  if (fs->writable()) want(FUSE_CAP_ATOMIC_O_TRUNC);
  // Locks: the kernel handles flock and POSIX locks locally (no getlk/setlk).
  conn->want &= ~(FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS);
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  fuse_entry_param e;
  ReplyEntry(req, Fs(req)->Lookup(In(req, parent), name, &e), e);
}

void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  Fs(req)->Forget(In(req, ino), nlookup);
  fuse_reply_none(req);
}

void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; ++i) Fs(req)->Forget(In(req, forgets[i].ino), forgets[i].nlookup);
  fuse_reply_none(req);
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info*) {
  OverlayFs* fs = Fs(req);
  struct stat st;
  int err;
  {
    ReaderLock l(&fs->ns_mu());
    err = fs->GetAttr(In(req, ino), &st);
  }
  if (err) {
    fuse_reply_err(req, err);
  } else {
    fuse_reply_attr(req, &st, fs->timeout());
  }
}

void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
                struct fuse_file_info* fi) {
  struct stat out;
  int err = Fs(req)->SetAttr(In(req, ino), *attr, to_set, fi, &out);
  if (err) {
    fuse_reply_err(req, err);
  } else {
    fuse_reply_attr(req, &out, Fs(req)->timeout());
  }
}

void op_readlink(fuse_req_t req, fuse_ino_t ino) {
  std::string target;
  int err = Fs(req)->ReadLink(In(req, ino), &target);
  if (err) {
    fuse_reply_err(req, err);
  } else {
    fuse_reply_readlink(req, target.c_str());
  }
}

void op_mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
  fuse_entry_param e;
  ReplyEntry(req,
             Fs(req)->MakeNode(In(req, parent), name, mode, rdev, nullptr, fuse_req_ctx(req), &e),
             e);
}

void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  fuse_entry_param e;
  ReplyEntry(req,
             Fs(req)->MakeNode(In(req, parent), name, S_IFDIR | mode, 0, nullptr,
                               fuse_req_ctx(req), &e),
             e);
}

void op_symlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
  fuse_entry_param e;
  ReplyEntry(req,
             Fs(req)->MakeNode(In(req, parent), name, S_IFLNK | 0777, 0, link, fuse_req_ctx(req),
                               &e),
             e);
}

void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char* name) {
  fuse_entry_param e;
  ReplyEntry(req, Fs(req)->Link(In(req, ino), In(req, parent), name, &e), e);
}

void op_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  fuse_reply_err(req, Fs(req)->Unlink(In(req, parent), name, false));
}

void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  fuse_reply_err(req, Fs(req)->Unlink(In(req, parent), name, true));
}

void op_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
               const char* newname, unsigned int flags) {
  fuse_reply_err(req,
                 Fs(req)->Rename(In(req, parent), name, In(req, newparent), newname, flags));
}

void SetOpenFlags(OverlayFs* fs, struct fuse_file_info* fi) {
  // Lowers never change, and every write goes through this mount, so the
  // kernel's page cache stays valid across opens.
  fi->keep_cache = 1;
  (void)fs;
}

void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  FileHandle* fh = nullptr;
  int err = Fs(req)->Open(In(req, ino), fi->flags, &fh);
  if (err) {
    fuse_reply_err(req, err);
    return;
  }
  fi->fh = reinterpret_cast<uint64_t>(fh);
  SetOpenFlags(Fs(req), fi);
  if (fuse_reply_open(req, fi) == -ENOENT) delete fh;  // the opener was interrupted
}

void op_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
               struct fuse_file_info* fi) {
  fuse_entry_param e;
  FileHandle* fh = nullptr;
  int err = Fs(req)->Create(In(req, parent), name, mode, fi->flags, fuse_req_ctx(req), &e, &fh);
  if (err) {
    fuse_reply_err(req, err);
    return;
  }
  fi->fh = reinterpret_cast<uint64_t>(fh);
  SetOpenFlags(Fs(req), fi);
  if (fuse_reply_create(req, &e, fi) == -ENOENT) delete fh;
}

void op_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, struct fuse_file_info* fi) {
  FileHandle* fh = Fh(fi);
  int fd = fh->fd.valid() ? fh->fd.get() : (fh->lower ? fh->lower->fd() : -1);
  if (fd >= 0) {
    // Zero-copy: the kernel splices from the fd.
    struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
    buf.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
    buf.buf[0].fd = fd;
    buf.buf[0].pos = off;
    fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
    return;
  }
  // Store data: reply straight from the cached chunks (no copy here).
  std::vector<LowerFile::Piece> pieces;
  auto zc = fh->lower->ReadPieces(off, size, &pieces);
  if (!zc.ok()) {
    fuse_reply_err(req, ToErrno(zc.status()));
    return;
  }
  if (*zc) {
    // One writev from the chunks themselves. (fuse_reply_data would first
    // copy several memory pieces into one fresh buffer: measured, that copy
    // and its page faults were a fifth of a cold read's CPU.)
    std::vector<struct iovec> iov(pieces.size());
    for (size_t i = 0; i < pieces.size(); ++i) {
      iov[i].iov_base = const_cast<char*>(pieces[i].data);
      iov[i].iov_len = pieces[i].size;
    }
    fuse_reply_iov(req, iov.data(), static_cast<int>(iov.size()));
    return;
  }
  std::unique_ptr<char[]> data(new char[size]);
  auto n = fh->lower->Read(off, size, data.get());
  if (!n.ok()) {
    fuse_reply_err(req, ToErrno(n.status()));
    return;
  }
  fuse_reply_buf(req, data.get(), *n);
}

void op_write_buf(fuse_req_t req, fuse_ino_t, struct fuse_bufvec* in, off_t off,
                  struct fuse_file_info* fi) {
  FileHandle* fh = Fh(fi);
  if (!fh->fd.valid()) {
    fuse_reply_err(req, EBADF);
    return;
  }
  struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
  out.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
  out.buf[0].fd = fh->fd.get();
  out.buf[0].pos = off;
  ssize_t n = fuse_buf_copy(&out, in, static_cast<fuse_buf_copy_flags>(0));
  if (n < 0) {
    fuse_reply_err(req, -n);
  } else {
    fuse_reply_write(req, n);
  }
}

void op_release(fuse_req_t req, fuse_ino_t, struct fuse_file_info* fi) {
  delete Fh(fi);
  fuse_reply_err(req, 0);
}

void op_fsync(fuse_req_t req, fuse_ino_t, int datasync, struct fuse_file_info* fi) {
  FileHandle* fh = Fh(fi);
  int rc = 0;
  if (fh->fd.valid()) rc = datasync ? ::fdatasync(fh->fd.get()) : ::fsync(fh->fd.get());
  fuse_reply_err(req, rc ? errno : 0);
}

void op_opendir(fuse_req_t req, fuse_ino_t, struct fuse_file_info* fi) {
  // Zero-message opendir where the kernel has it: ENOSYS once, and it stops
  // sending OPENDIR and RELEASEDIR (two round trips per directory walked)
  // while still caching listings. Nothing here needs per-open state.
  if (Fs(req)->no_opendir()) {
    fuse_reply_err(req, ENOSYS);
    return;
  }
  fi->fh = 0;
  // Listings change only through this mount, and the kernel drops its
  // cached listing of a directory whenever an operation changes it.
  fi->cache_readdir = 1;
  fi->keep_cache = 1;
  fuse_reply_open(req, fi);
}

void ReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus) {
  OverlayFs* fs = Fs(req);
  Inode* dir = In(req, ino);
  // Offset 0 (opendir, rewinddir) takes a fresh snapshot; other offsets are
  // cookies that find their place in any snapshot (DirListing).
  int err = 0;
  auto list = fs->Listing(dir, off == 0, &err);
  if (!list) {
    fuse_reply_err(req, err);
    return;
  }
  const auto& cookies = list->cookies;
  size_t first = std::upper_bound(cookies.begin(), cookies.end(), static_cast<uint64_t>(off)) -
                 cookies.begin();
  if (first == cookies.size()) {
    fs->DropListing(dir->ino);  // read to its end
    fuse_reply_buf(req, nullptr, 0);
    return;
  }
  std::unique_ptr<char[]> buf(new char[size]);
  size_t used = 0;
  for (size_t i = first; i < list->entries.size(); ++i) {
    const DirEntry& d = list->entries[i];
    off_t next = static_cast<off_t>(cookies[i]);
    size_t n;
    if (plus) {
      fuse_entry_param e;
      std::memset(&e, 0, sizeof e);
      bool dot = d.name == "." || d.name == "..";
      if (dot || fs->Lookup(dir, d.name, &e) != 0 || e.ino == 0) {
        // "." and "..", or gone since the snapshot: no entry, just the name.
        std::memset(&e, 0, sizeof e);
        e.attr.st_ino = d.ino;
        e.attr.st_mode = DTTOIF(d.d_type);
      }
      n = fuse_add_direntry_plus(req, buf.get() + used, size - used, d.name.c_str(), &e, next);
      if (n > size - used) {
        if (e.ino != 0) fs->Forget(fs->FromId(e.ino), 1);  // not sent: undo the lookup
        break;
      }
    } else {
      struct stat st;
      std::memset(&st, 0, sizeof st);
      st.st_ino = d.ino;
      st.st_mode = DTTOIF(d.d_type);
      n = fuse_add_direntry(req, buf.get() + used, size - used, d.name.c_str(), &st, next);
      if (n > size - used) break;
    }
    used += n;
  }
  fuse_reply_buf(req, buf.get(), used);
}

void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                struct fuse_file_info*) {
  ReadDir(req, ino, size, off, false);
}

void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info*) {
  ReadDir(req, ino, size, off, true);
}

void op_releasedir(fuse_req_t req, fuse_ino_t, struct fuse_file_info*) {
  fuse_reply_err(req, 0);
}

void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info*) {
  OverlayFs* fs = Fs(req);
  int rc = 0;
  {
    ReaderLock l(&fs->ns_mu());
    int ufd = fs->UpperFdOf(In(req, ino));
    if (ufd >= 0) {
      int fd = ::openat(ufd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd >= 0) {
        rc = ::fsync(fd) ? errno : 0;
        ::close(fd);
      }
    }
  }
  fuse_reply_err(req, rc);
}

void op_statfs(fuse_req_t req, fuse_ino_t) {
  struct statvfs st;
  int err = Fs(req)->StatFs(&st);
  if (err) {
    fuse_reply_err(req, err);
  } else {
    fuse_reply_statfs(req, &st);
  }
}

void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value,
                 size_t size, int flags) {
  fuse_reply_err(req, Fs(req)->SetXattr(In(req, ino), name, std::string(value, size), flags));
}

void ReplyXattr(fuse_req_t req, int err, const std::string& v, size_t size) {
  if (err) {
    fuse_reply_err(req, err);
  } else if (size == 0) {
    fuse_reply_xattr(req, v.size());
  } else if (v.size() > size) {
    fuse_reply_err(req, ERANGE);
  } else {
    fuse_reply_buf(req, v.data(), v.size());
  }
}

void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  std::string v;
  ReplyXattr(req, Fs(req)->GetXattr(In(req, ino), name, &v), v, size);
}

void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  std::string v;
  ReplyXattr(req, Fs(req)->ListXattr(In(req, ino), &v), v, size);
}

void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  fuse_reply_err(req, Fs(req)->RemoveXattr(In(req, ino), name));
}

void op_fallocate(fuse_req_t req, fuse_ino_t, int mode, off_t offset, off_t length,
                  struct fuse_file_info* fi) {
  FileHandle* fh = Fh(fi);
  if (!fh->fd.valid()) {
    fuse_reply_err(req, EBADF);
    return;
  }
  fuse_reply_err(req, ::fallocate(fh->fd.get(), mode, offset, length) ? errno : 0);
}

void op_lseek(fuse_req_t req, fuse_ino_t, off_t off, int whence, struct fuse_file_info* fi) {
  FileHandle* fh = Fh(fi);
  int fd = fh->fd.valid() ? fh->fd.get() : (fh->lower ? fh->lower->fd() : -1);
  if (fd >= 0) {
    off_t r = ::lseek(fd, off, whence);
    if (r < 0) {
      fuse_reply_err(req, errno);
    } else {
      fuse_reply_lseek(req, r);
    }
    return;
  }
  // Store files have no holes: all data up to the size.
  uint64_t size = fh->lower->size();
  if (off < 0 || static_cast<uint64_t>(off) >= size) {
    fuse_reply_err(req, ENXIO);
  } else if (whence == SEEK_DATA) {
    fuse_reply_lseek(req, off);
  } else if (whence == SEEK_HOLE) {
    fuse_reply_lseek(req, size);
  } else {
    fuse_reply_err(req, EINVAL);
  }
}

}  // namespace

const fuse_lowlevel_ops& OverlayFs::ops() const {
  static const fuse_lowlevel_ops table = [] {
    fuse_lowlevel_ops o;
    std::memset(&o, 0, sizeof o);
    o.init = op_init;
    o.lookup = op_lookup;
    o.forget = op_forget;
    o.forget_multi = op_forget_multi;
    o.getattr = op_getattr;
    o.setattr = op_setattr;
    o.readlink = op_readlink;
    o.mknod = op_mknod;
    o.mkdir = op_mkdir;
    o.symlink = op_symlink;
    o.link = op_link;
    o.unlink = op_unlink;
    o.rmdir = op_rmdir;
    o.rename = op_rename;
    o.open = op_open;
    o.create = op_create;
    o.read = op_read;
    o.write_buf = op_write_buf;
    // No flush: the kernel then stops sending FLUSH on every close (one
    // request per file less); write errors surface from write and fsync.
    o.release = op_release;
    o.fsync = op_fsync;
    o.opendir = op_opendir;
    o.readdir = op_readdir;
    o.readdirplus = op_readdirplus;
    o.releasedir = op_releasedir;
    o.fsyncdir = op_fsyncdir;
    o.statfs = op_statfs;
    o.setxattr = op_setxattr;
    o.getxattr = op_getxattr;
    o.listxattr = op_listxattr;
    o.removexattr = op_removexattr;
    o.fallocate = op_fallocate;
    o.lseek = op_lseek;
    return o;
  }();
  return table;
}

}  // namespace cfs
