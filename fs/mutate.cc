// Changes to the namespace and metadata: create, link, unlink, rename,
// setattr. Every one holds ns_mu_ exclusive.
//
// Whiteouts and opaque dirs follow overlayfs.rst: removing a name that a
// lower has leaves a char 0/0 whiteout; a directory made where a whiteout
// was is marked trusted.overlay.opaque=y; a non-directory made over a
// whiteout replaces it. Objects that replace a whiteout are built in
// WORKDIR/work and renamed over it, so the name never disappears.
// Directory rename: only pure-upper directories move (the kernel without
// redirect_dir); others get EXDEV, and `mv` falls back to copying.
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fs/overlay_impl.h"

namespace cfs {

bool OverlayFs::InSomeLower(Inode* dir, const std::string& path) {
  for (int l : dir->dir_lowers) {
    auto e = lowers_[l]->Stat(path);
    if (!e.ok() || e->kind == LowerEntry::Kind::kWhiteout) return false;
    if (e->kind == LowerEntry::Kind::kEntry) return true;
  }
  return false;
}

int OverlayFs::CheckEmpty(Inode* dir) {
  DirHandle dh;
  if (int err = FillDirLocked(dir, &dh)) return err;
  return dh.entries.size() > 2 ? ENOTEMPTY : 0;
}

int OverlayFs::ClearWhiteouts(int dir_fd) {
  std::vector<LowerDirEntry> items;
  Status s = ReadDirAt(dir_fd, table_.inos(), &items);
  if (!s.ok()) return s.err() ? s.err() : EIO;
  int err = 0;
  for (const auto& it : items)
    if (it.whiteout && ::unlinkat(dir_fd, it.name.c_str(), 0) != 0) err = errno;
  return err;
}

int OverlayFs::MakeWhiteout(std::string* tmp) {
  *tmp = TmpName();
  return MakeWhiteoutAt(work_fd_.get(), *tmp);
}

int OverlayFs::MakeWhiteoutAt(int dir_fd, const std::string& name) {
  // As the kernel's (vfs_whiteout): a char 0/0 device with mode 0000.
  if (::mknodat(dir_fd, name.c_str(), S_IFCHR | kWhiteoutMode, 0) != 0) return errno;
  return 0;
}

// ---- create ----

namespace {
// Owner of a new object: the caller, with the group of a setgid parent.
void OwnerFor(const fuse_ctx* ctx, const struct stat& parent, uid_t* uid, gid_t* gid) {
  *uid = ctx ? ctx->uid : 0;
  *gid = ctx ? ctx->gid : 0;
  if (parent.st_mode & S_ISGID) *gid = parent.st_gid;
}
}  // namespace

// Where a new object named `name` in `parent` is made: directly in the
// parent's upper dir, or (over a whiteout) in the work dir, to be renamed
// over the whiteout afterwards. Also the owner it gets.
struct NewObject {
  int parent_fd = -1;  // the parent's upper dir
  int dir_fd = -1;     // where to create it
  std::string tmp;     // the name to create it under in dir_fd
  bool over_whiteout = false;
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t parent_mode = 0;
};

int OverlayFs::PrepareNew(Inode* parent, const std::string& name, const Resolved& r,
                          const fuse_ctx* ctx, NewObject* o) {
  if (int err = EnsureUpper(parent)) return err;
  o->parent_fd = UpperFd(parent);
  struct stat pst;
  if (::fstatat(o->parent_fd, "", &pst, AT_EMPTY_PATH) != 0) return errno;
  OwnerFor(ctx, pst, &o->uid, &o->gid);
  o->parent_mode = pst.st_mode;
  o->over_whiteout = r.whiteout_in_upper;
  o->tmp = o->over_whiteout ? TmpName() : name;
  o->dir_fd = o->over_whiteout ? work_fd_.get() : o->parent_fd;
  return 0;
}

int OverlayFs::EntryForNew(Inode* parent, const std::string& name, fuse_entry_param* e,
                           Inode** held) {
  Resolved nr;
  if (int err = Resolve(parent, name, &nr)) return err;
  if (!nr.found) return EIO;
  Inode* n = Hold(parent, name, &nr);
  if (int err = Entry(n, e, &nr.st)) {  // just made: nr.st is its upper file
    Forget(n, 1);
    return err;
  }
  if (held) *held = n;
  return 0;
}

int OverlayFs::MakeNode(Inode* parent, const std::string& name, mode_t mode, dev_t rdev,
                        const char* link_target, const fuse_ctx* ctx, fuse_entry_param* e) {
  if (!writable()) return EROFS;
  WriterLock l(&ns_mu_);
  Resolved r;
  if (int err = Resolve(parent, name, &r)) return err;
  if (r.found) return EEXIST;
  NewObject o;
  if (int err = PrepareNew(parent, name, r, ctx, &o)) return err;
  bool over = o.over_whiteout;
  const std::string& tmp = o.tmp;
  int dfd = o.dir_fd, pfd = o.parent_fd;
  uid_t uid = o.uid;
  gid_t gid = o.gid;
  int rc;
  if (link_target != nullptr) {
    rc = ::symlinkat(link_target, dfd, tmp.c_str());
  } else if (S_ISDIR(mode)) {
    if (o.parent_mode & S_ISGID) mode |= S_ISGID;
    rc = ::mkdirat(dfd, tmp.c_str(), mode & 07777);
  } else {
    rc = ::mknodat(dfd, tmp.c_str(), mode, rdev);
  }
  if (rc != 0) return errno;
  auto undo = [&](int err) {
    ::unlinkat(dfd, tmp.c_str(), S_ISDIR(mode) && !link_target ? AT_REMOVEDIR : 0);
    return err;
  };
  if (::fchownat(dfd, tmp.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) return undo(errno);
  // The mode exactly as asked: the kernel applied the caller's umask
  // already, and the daemon's own umask must not apply again. After the
  // chown, which would clear setuid/setgid.
  if (!link_target && ::fchmodat(dfd, tmp.c_str(), mode & 07777, 0) != 0) return undo(errno);
  if (over) {
    if (S_ISDIR(mode) && !link_target) {
      std::string p = work_path_ + "/" + tmp;
      if (::lsetxattr(p.c_str(), kOverlayOpaqueXattr, "y", 1, 0) != 0) return undo(errno);
    }
    // A directory cannot replace a non-directory: swap, then drop the whiteout.
    bool is_dir = S_ISDIR(mode) && !link_target;
    if (::renameat2(work_fd_.get(), tmp.c_str(), pfd, name.c_str(),
                    is_dir ? RENAME_EXCHANGE : 0) != 0) {
      return undo(errno);
    }
    if (is_dir) ::unlinkat(work_fd_.get(), tmp.c_str(), 0);
  }
  return EntryForNew(parent, name, e, nullptr);
}

int OverlayFs::Create(Inode* parent, const std::string& name, mode_t mode, int flags,
                      const fuse_ctx* ctx, fuse_entry_param* e, FileHandle** fh) {
  if (!writable()) return EROFS;
  Inode* n = nullptr;
  {
    WriterLock l(&ns_mu_);
    Resolved r;
    if (int err = Resolve(parent, name, &r)) return err;
    if (r.found) {
      if (flags & O_EXCL) return EEXIST;
      n = Hold(parent, name, &r);
      if (int err = Entry(n, e)) {
        Forget(n, 1);
        return err;
      }
    } else {
      NewObject o;
      if (int err = PrepareNew(parent, name, r, ctx, &o)) return err;
      int fd = ::openat(o.dir_fd, o.tmp.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC,
                        mode & 07777);
      if (fd < 0) return errno;
      UniqueFd ufd(fd);
      // The mode exactly as asked (see MakeNode), after the chown.
      if (::fchown(fd, o.uid, o.gid) != 0 || ::fchmod(fd, mode & 07777) != 0 ||
          (o.over_whiteout &&
           ::renameat(work_fd_.get(), o.tmp.c_str(), o.parent_fd, name.c_str()) != 0)) {
        int err = errno;
        ::unlinkat(o.dir_fd, o.tmp.c_str(), 0);
        return err;
      }
      if (int err = EntryForNew(parent, name, e, &n)) return err;
    }
  }
  int err = Open(n, flags & ~(O_CREAT | O_EXCL), fh);
  if (err) Forget(n, 1);
  return err;
}

int OverlayFs::Link(Inode* n, Inode* parent, const std::string& name, fuse_entry_param* e) {
  if (!writable()) return EROFS;
  if (n->type == S_IFDIR) return EPERM;
  WriterLock l(&ns_mu_);
  Resolved r;
  if (int err = Resolve(parent, name, &r)) return err;
  if (r.found) return EEXIST;
  if (int err = EnsureUpper(n)) return err;
  if (int err = EnsureUpper(parent)) return err;
  int pfd = UpperFd(parent);
  std::string src = ProcPath(n->upper.load());
  if (r.whiteout_in_upper) {
    std::string tmp = TmpName();
    if (::linkat(AT_FDCWD, src.c_str(), work_fd_.get(), tmp.c_str(), AT_SYMLINK_FOLLOW) != 0) {
      return errno;
    }
    if (::renameat(work_fd_.get(), tmp.c_str(), pfd, name.c_str()) != 0) {
      int err = errno;
      ::unlinkat(work_fd_.get(), tmp.c_str(), 0);
      return err;
    }
  } else if (::linkat(AT_FDCWD, src.c_str(), pfd, name.c_str(), AT_SYMLINK_FOLLOW) != 0) {
    return errno;
  }
  return EntryForNew(parent, name, e, nullptr);
}

// ---- remove ----

int OverlayFs::Unlink(Inode* parent, const std::string& name, bool dir) {
  if (!writable()) return EROFS;
  WriterLock l(&ns_mu_);
  Resolved r;
  if (int err = Resolve(parent, name, &r)) return err;
  if (!r.found) return ENOENT;
  bool is_dir = S_ISDIR(r.st.st_mode);
  if (dir && !is_dir) return ENOTDIR;
  if (!dir && is_dir) return EISDIR;
  std::string path = JoinPath(MergedPath(parent), name);
  if (is_dir) {
    auto view = DirView(path, &r);
    if (int err = CheckEmpty(view.get())) return err;
  }
  bool whiteout = InSomeLower(parent, path);
  if (int err = EnsureUpper(parent)) return err;
  int pfd = UpperFd(parent);
  if (r.upper.valid()) {
    if (is_dir) {
      if (int err = ClearWhiteouts(r.upper.get())) return err;
    }
    if (whiteout) {
      std::string tmp;
      if (int err = MakeWhiteout(&tmp)) return err;
      if (is_dir) {
        // Swap the dir and the whiteout, then remove the (empty) dir.
        if (::renameat2(work_fd_.get(), tmp.c_str(), pfd, name.c_str(), RENAME_EXCHANGE) != 0) {
          int err = errno;
          ::unlinkat(work_fd_.get(), tmp.c_str(), 0);
          return err;
        }
        ::unlinkat(work_fd_.get(), tmp.c_str(), AT_REMOVEDIR);
      } else if (::renameat(work_fd_.get(), tmp.c_str(), pfd, name.c_str()) != 0) {
        int err = errno;
        ::unlinkat(work_fd_.get(), tmp.c_str(), 0);
        return err;
      }
    } else if (::unlinkat(pfd, name.c_str(), is_dir ? AT_REMOVEDIR : 0) != 0) {
      return errno;
    }
  } else if (int err = MakeWhiteoutAt(pfd, name)) {
    return err;
  }
  // The Inode of a name that is gone for good must not be found by path.
  struct stat st;
  if (is_dir || !r.upper.valid()) {
    table_.MarkUnlinked(r.st.st_ino, /*unless_more_lower_names=*/!is_dir);
  } else if (::fstat(r.upper.get(), &st) == 0 && st.st_nlink == 0) {
    table_.MarkUnlinked(r.st.st_ino, /*unless_more_lower_names=*/false);
  }
  return 0;
}

// ---- rename ----

int OverlayFs::Rename(Inode* parent, const std::string& name, Inode* newparent,
                      const std::string& newname, unsigned flags) {
  if (!writable()) return EROFS;
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) return EINVAL;
  WriterLock l(&ns_mu_);
  Resolved r1, r2;
  if (int err = Resolve(parent, name, &r1)) return err;
  if (!r1.found) return ENOENT;
  if (int err = Resolve(newparent, newname, &r2)) return err;
  if ((flags & RENAME_NOREPLACE) && r2.found) return EEXIST;
  if ((flags & RENAME_EXCHANGE) && !r2.found) return ENOENT;
  std::string path1 = JoinPath(MergedPath(parent), name);
  std::string path2 = JoinPath(MergedPath(newparent), newname);
  bool dir1 = S_ISDIR(r1.st.st_mode), dir2 = r2.found && S_ISDIR(r2.st.st_mode);
  if (r2.found && r1.st.st_ino == r2.st.st_ino) return 0;  // same file: nothing to do
  // A directory with lower content cannot move (no redirect_dir).
  if (dir1 && !r1.dir_lowers.empty()) return EXDEV;
  if ((flags & RENAME_EXCHANGE) && dir2 && !r2.dir_lowers.empty()) return EXDEV;
  if (r2.found && !(flags & RENAME_EXCHANGE)) {
    if (dir2 && !dir1) return EISDIR;
    if (!dir2 && dir1) return ENOTDIR;
    if (dir2) {
      auto view = DirView(path2, &r2);
      if (int err = CheckEmpty(view.get())) return err;
    }
  }
  Inode* n1 = Hold(parent, name, &r1);
  Inode* n2 = r2.found ? Hold(newparent, newname, &r2) : nullptr;
  auto release = [&](int err) {
    Forget(n1, 1);
    if (n2) Forget(n2, 1);
    return err;
  };
  bool whiteout = !(flags & RENAME_EXCHANGE) && InSomeLower(parent, path1);
  if (int err = EnsureUpper(n1)) return release(err);
  if ((flags & RENAME_EXCHANGE)) {
    if (int err = EnsureUpper(n2)) return release(err);
  }
  if (int err = EnsureUpper(newparent)) return release(err);
  int pfd1 = UpperFd(parent), pfd2 = UpperFd(newparent);
  if (dir2 && !(flags & RENAME_EXCHANGE)) {
    int fd = n2->upper.load();
    if (fd >= 0) {
      if (int err = ClearWhiteouts(fd)) return release(err);
    }
  }
  // A pure-upper directory moved into a merged directory is marked opaque,
  // as the kernel does, so no lower dir of that name can ever merge into it.
  if (dir1 && !(flags & RENAME_EXCHANGE) && !newparent->dir_lowers.empty()) {
    if (::setxattr(ProcPath(n1->upper.load()).c_str(), kOverlayOpaqueXattr, "y", 1, 0) != 0) {
      return release(errno);
    }
  }
  // Onto a whiteout, as the kernel: exchange the two when the old name needs
  // a whiteout (the same one moves there) or when a directory moves (it
  // cannot replace a char device; the whiteout is then removed).
  bool swap = r2.whiteout_in_upper && !(flags & RENAME_EXCHANGE) && (whiteout || dir1);
  unsigned rflags = flags & RENAME_EXCHANGE;
  if (swap) {
    rflags = RENAME_EXCHANGE;
  } else if (whiteout) {
    rflags |= RENAME_WHITEOUT;
  }
  if (::renameat2(pfd1, name.c_str(), pfd2, newname.c_str(), rflags) != 0) return release(errno);
  if (swap && !whiteout && ::unlinkat(pfd1, name.c_str(), 0) != 0) return release(errno);
  // The Inodes below a moved directory move with it (paths are rebuilt
  // from parents).
  table_.Move(n1, newparent, newname);
  if (n2 && (flags & RENAME_EXCHANGE)) {
    table_.Move(n2, parent, name);
  } else if (n2) {
    struct stat st;
    int fd = n2->upper.load();
    if (dir2 || fd < 0 || (::fstat(fd, &st) == 0 && st.st_nlink == 0)) n2->unlinked = true;
  }
  return release(0);
}

// ---- metadata ----

int OverlayFs::SetAttr(Inode* n, const struct stat& attr, int to_set, struct fuse_file_info* fi,
                       struct stat* out) {
  if (!writable()) return EROFS;
  WriterLock l(&ns_mu_);
  if (int err = EnsureUpper(n)) return err;
  int ufd = UpperFd(n);
  std::string p = ProcPath(ufd);
  FileHandle* fh = fi ? reinterpret_cast<FileHandle*>(fi->fh) : nullptr;
  int fd = fh && fh->fd.valid() ? fh->fd.get() : -1;
  if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
    uid_t uid = (to_set & FUSE_SET_ATTR_UID) ? attr.st_uid : static_cast<uid_t>(-1);
    gid_t gid = (to_set & FUSE_SET_ATTR_GID) ? attr.st_gid : static_cast<gid_t>(-1);
    if (::fchownat(ufd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return errno;
  }
  if (to_set & FUSE_SET_ATTR_MODE) {
    int rc = fd >= 0 ? ::fchmod(fd, attr.st_mode & 07777) : ::chmod(p.c_str(), attr.st_mode & 07777);
    if (rc != 0) return errno;
  }
  if (to_set & FUSE_SET_ATTR_SIZE) {
    int rc = fd >= 0 ? ::ftruncate(fd, attr.st_size) : ::truncate(p.c_str(), attr.st_size);
    if (rc != 0) return errno;
  }
  if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
    struct timespec tv[2];
    tv[0].tv_sec = tv[1].tv_sec = 0;
    tv[0].tv_nsec = tv[1].tv_nsec = UTIME_OMIT;
    if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
      tv[0].tv_nsec = UTIME_NOW;
    } else if (to_set & FUSE_SET_ATTR_ATIME) {
      tv[0] = attr.st_atim;
    }
    if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
      tv[1].tv_nsec = UTIME_NOW;
    } else if (to_set & FUSE_SET_ATTR_MTIME) {
      tv[1] = attr.st_mtim;
    }
    int rc = fd >= 0 ? ::futimens(fd, tv) : ::utimensat(AT_FDCWD, p.c_str(), tv, 0);
    if (rc != 0) return errno;
  }
  return GetAttr(n, out);
}

}  // namespace cfs
