// Overlay lookup: resolving a name in a merged directory through the upper
// dir and the lowers (whiteouts, opaque dirs; fs/overlay_lookup.h), and
// FUSE LOOKUP on top of it.
#include "fs/overlay_lookup.h"

#include <fcntl.h>
#include <sys/xattr.h>

#include <cerrno>
#include <cstring>

#include "fs/overlay_impl.h"
#include "layer/whiteouts.h"

namespace cfs {

std::unique_ptr<Inode> DirView(const std::string& path, Resolved* r) {
  auto d = std::make_unique<Inode>(r->st.st_ino, S_IFDIR);
  d->name = path;
  d->dir_lowers = r->dir_lowers;
  if (r->upper.valid()) d->upper = ::dup(r->upper.get());
  return d;
}

void OverlayFs::MergeBelow(Inode* dir, const std::string& path, size_t from, Resolved* r) {
  for (size_t j = from; j < dir->dir_lowers.size(); ++j) {
    auto e = lowers_[dir->dir_lowers[j]]->Stat(path);
    if (!e.ok() || e->kind == LowerEntry::Kind::kWhiteout) break;
    if (e->kind == LowerEntry::Kind::kAbsent) continue;
    if (!S_ISDIR(e->st.st_mode)) break;
    r->dir_lowers.push_back(dir->dir_lowers[j]);
    if (e->opaque) break;
  }
}

int OverlayFs::ResolveInUpper(Inode* dir, int ufd, const std::string& name,
                              const struct stat& st, Resolved* r) {
  if (IsOverlayWhiteout(st)) {
    r->whiteout_in_upper = true;
    return 0;
  }
  int fd = ::openat(ufd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno;
  r->upper.Reset(fd);
  r->found = true;
  r->st = st;
  r->st.st_ino = table_.UpperIno(st);
  if (S_ISDIR(st.st_mode)) {
    char v[4];
    ssize_t n = ::getxattr(ProcPath(fd).c_str(), kOverlayOpaqueXattr, v, sizeof v);
    if (!(n == 1 && v[0] == 'y')) MergeBelow(dir, JoinPath(MergedPath(dir), name), 0, r);
    if (!r->dir_lowers.empty()) r->st.st_nlink = 1;  // as the kernel for merged dirs
  }
  return 0;
}

int OverlayFs::ResolveInLowers(Inode* dir, const std::string& path, Resolved* r) {
  for (size_t i = 0; i < dir->dir_lowers.size(); ++i) {
    int l = dir->dir_lowers[i];
    auto e = lowers_[l]->Stat(path);
    if (!e.ok()) return ToErrno(e.status());
    if (e->kind == LowerEntry::Kind::kAbsent) continue;
    if (e->kind == LowerEntry::Kind::kWhiteout) return 0;
    r->found = true;
    r->st = e->st;
    if (S_ISDIR(e->st.st_mode)) {
      r->dir_lowers.push_back(l);
      if (!e->opaque) MergeBelow(dir, path, i + 1, r);
      if (r->dir_lowers.size() > 1) r->st.st_nlink = 1;
    } else {
      r->lower = l;
      r->lower_nlink = e->nlink_group;
    }
    return 0;
  }
  return 0;
}

int OverlayFs::Resolve(Inode* dir, const std::string& name, Resolved* r) {
  if (name.size() > NAME_MAX) return ENAMETOOLONG;
  int ufd = UpperFd(dir);
  if (ufd >= 0) {
    struct stat st;
    if (::fstatat(ufd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      return ResolveInUpper(dir, ufd, name, st, r);
    }
    if (errno != ENOENT) return errno;
  }
  return ResolveInLowers(dir, JoinPath(MergedPath(dir), name), r);
}

Inode* OverlayFs::Hold(Inode* dir, const std::string& name, Resolved* r) {
  return table_.Remember(dir, name, r);
}

int OverlayFs::Entry(Inode* n, fuse_entry_param* e, const struct stat* known) {
  std::memset(e, 0, sizeof *e);
  if (known) {
    e->attr = *known;
    e->attr.st_ino = n->ino;
  } else if (int err = GetAttr(n, &e->attr)) {
    return err;
  }
  e->ino = table_.IdOf(n);
  e->attr_timeout = e->entry_timeout = opts_.cache_timeout;
  return 0;
}

int OverlayFs::Lookup(Inode* parent, const std::string& name, fuse_entry_param* e) {
  bool link_up = false;
  Inode* n;
  {
    ReaderLock l(&ns_mu_);
    if (parent->type != S_IFDIR) return ENOTDIR;
    Resolved r;
    if (int err = Resolve(parent, name, &r)) return err;
    if (!r.found) {
      std::memset(e, 0, sizeof *e);
      e->entry_timeout = opts_.cache_timeout;  // a cached negative entry
      return 0;
    }
    bool lower_only = !r.upper.valid();
    n = Hold(parent, name, &r);
    // Another name of a lower hard-link group that was copied up: link this
    // name too, so the group stays one file in the upper dir.
    bool served_from_upper = n->upper.load() >= 0;
    link_up = lower_only && n->type == S_IFREG && served_from_upper && writable();
    if (!link_up) {
      // r.st describes what n is served from unless n went upper meanwhile.
      int err = Entry(n, e, lower_only == !served_from_upper ? &r.st : nullptr);
      if (err) Forget(n, 1);
      return err;
    }
  }
  WriterLock l(&ns_mu_);
  LinkUp(n, JoinPath(MergedPath(parent), name));
  int err = Entry(n, e);
  if (err) Forget(n, 1);
  return err;
}

}  // namespace cfs
