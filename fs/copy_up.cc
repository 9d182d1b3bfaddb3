// Copy-up: making a lower object exist in the upper dir before it changes.
//
// An object is built in WORKDIR/work under a temporary name (data, owner,
// mode, xattrs without trusted.overlay.*, times), optionally fsync'ed, and
// then renamed into its upper parent, so the upper dir only ever holds
// complete objects; a crash leaves garbage in WORKDIR/work, which the next
// mount removes. Parents are copied up first. The parent's times are kept,
// as the kernel does. The upper file's inode number is recorded as an alias
// of the origin's st_ino, so st_ino does not change.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fs/overlay_impl.h"

namespace cfs {
namespace {

// "a/b/c" -> {"a", "b", "c"}; "." -> {}.
std::vector<std::string> Components(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start && path.compare(start, slash - start, ".") != 0) {
      out.push_back(path.substr(start, slash - start));
    }
    start = slash + 1;
  }
  return out;
}

std::pair<std::string, std::string> SplitPath(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {".", path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

// Copies [off, off+len) of in to out at the same offsets.
int CopyRange(int in, int out, uint64_t off, uint64_t len) {
  while (len > 0) {
    loff_t a = off, b = off;
    ssize_t n = ::copy_file_range(in, &a, out, &b, len, 0);
    if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS)) {
      break;  // fall back to read/write below
    }
    if (n < 0) return errno;
    if (n == 0) return 0;  // the file shrank: the lower is immutable, so this is its end
    off += n;
    len -= n;
  }
  if (len == 0) return 0;
  // No heap buffer unless needed: a 1 MiB one is an mmap, page faults and an
  // munmap (a TLB shootdown across the daemon's threads) per copied-up file.
  std::string buf(std::min<uint64_t>(len, 1 << 20), '\0');
  while (len > 0) {
    ssize_t n = ::pread(in, buf.data(), std::min<uint64_t>(len, buf.size()), off);
    if (n < 0) return errno;
    if (n == 0) return 0;
    for (ssize_t w = 0; w < n;) {
      ssize_t k = ::pwrite(out, buf.data() + w, n - w, off + w);
      if (k < 0) return errno;
      w += k;
    }
    off += n;
    len -= n;
  }
  return 0;
}

bool AllZero(const char* p, size_t n) {
  static const char zeros[4096] = {};
  for (size_t i = 0; i < n; i += sizeof zeros) {
    size_t k = std::min(n - i, sizeof zeros);
    if (std::memcmp(p + i, zeros, k) != 0) return false;
  }
  return true;
}

// Writes [off, off+len) of lf (the lower file at `path`) to fd at the same
// offsets, leaving all-zero blocks as holes: chunked data has no fd to copy
// from, and this keeps sparse files sparse.
Status CopySparse(LowerFile* lf, int fd, uint64_t off, uint64_t len, const std::string& path) {
  std::string buf(std::min<uint64_t>(len, 1 << 20), '\0');
  for (uint64_t pos = off; pos < off + len;) {
    ASSIGN_OR_RETURN(size_t n,
                     lf->Read(pos, std::min<uint64_t>(buf.size(), off + len - pos), buf.data()));
    if (n == 0) break;
    for (size_t i = 0; i < n; i += 65536) {
      size_t k = std::min<size_t>(65536, n - i);
      if (AllZero(buf.data() + i, k)) continue;
      if (::pwrite(fd, buf.data() + i, k, pos + i) != static_cast<ssize_t>(k)) {
        return Status::IOError("copy-up of " + path);
      }
    }
    pos += n;
  }
  return Status::Ok();
}

// Copies the data of lf (the lower file at `path`) into fd.
Status CopyData(LowerFile* lf, int fd, const std::string& path) {
  return lf->ForEachData([&](uint64_t off, uint64_t len) -> Status {
    if (lf->fd() < 0) return CopySparse(lf, fd, off, len, path);
    int err = CopyRange(lf->fd(), fd, off, len);
    return err ? Status::IOError("copy-up of " + path, err) : Status::Ok();
  });
}

// Sets the atime and mtime of the object at fd back to st's: a copy-up into
// a directory keeps its times, as the kernel does.
void RestoreTimes(int fd, const struct stat& st) {
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  ::utimensat(AT_FDCWD, ProcPath(fd).c_str(), times, 0);
}

}  // namespace

std::string OverlayFs::TmpName() {
  char buf[32];
  std::snprintf(buf, sizeof buf, "#%llx", static_cast<unsigned long long>(++tmp_counter_));
  return buf;
}

int OverlayFs::TopLower(const std::string& path, LowerEntry* e, int* which) {
  for (size_t l = 0; l < lowers_.size(); ++l) {
    auto r = lowers_[l]->Stat(path);
    if (!r.ok()) return ToErrno(r.status());
    if (r->kind == LowerEntry::Kind::kAbsent) continue;
    if (r->kind == LowerEntry::Kind::kWhiteout) return ENOENT;
    *e = *r;
    *which = l;
    return 0;
  }
  return ENOENT;
}

void OverlayFs::RemoveFromWork(const std::string& tmp, mode_t mode) {
  ::unlinkat(work_fd_.get(), tmp.c_str(), S_ISDIR(mode) ? AT_REMOVEDIR : 0);
}

int OverlayFs::MakeInWork(const struct stat& st, int l, const std::string& path,
                          const std::string& tmp, UniqueFd* data_fd) {
  switch (st.st_mode & S_IFMT) {
    case S_IFDIR:
      return ::mkdirat(work_fd_.get(), tmp.c_str(), 0700) != 0 ? errno : 0;
    case S_IFREG:
      return MakeRegularInWork(st, l, path, tmp, data_fd);
    case S_IFLNK: {
      auto target = lowers_[l]->ReadLink(path);
      if (!target.ok()) return ToErrno(target.status());
      return ::symlinkat(target->c_str(), work_fd_.get(), tmp.c_str()) != 0 ? errno : 0;
    }
    default: {
      mode_t mode = (st.st_mode & S_IFMT) | 0600;
      return ::mknodat(work_fd_.get(), tmp.c_str(), mode, st.st_rdev) != 0 ? errno : 0;
    }
  }
}

int OverlayFs::MakeRegularInWork(const struct stat& st, int l, const std::string& path,
                                 const std::string& tmp, UniqueFd* data_fd) {
  int fd = ::openat(work_fd_.get(), tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  data_fd->Reset(fd);
  int err = 0;
  auto f = lowers_[l]->Open(path);
  if (!f.ok()) {
    err = ToErrno(f.status());
  } else if (Status s = CopyData(f->get(), fd, path); !s.ok()) {
    err = ToErrno(s);
  } else if (::ftruncate(fd, st.st_size) != 0) {
    err = errno;
  }
  if (err) RemoveFromWork(tmp, st.st_mode);
  return err;
}

int OverlayFs::CopyMetadataInWork(const struct stat& st, int l, const std::string& path,
                                  const std::string& tmp) {
  // Owner first: chown clears setuid/setgid, chmod then sets the mode.
  if (::fchownat(work_fd_.get(), tmp.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0) {
    return errno;
  }
  if (!S_ISLNK(st.st_mode) && ::fchmodat(work_fd_.get(), tmp.c_str(), st.st_mode & 07777, 0) != 0) {
    return errno;
  }
  auto xs = lowers_[l]->Xattrs(path);
  if (!xs.ok()) return ToErrno(xs.status());
  std::string tmp_path = work_path_ + "/" + tmp;
  for (const auto& [k, v] : *xs) {
    if (IsPrivateXattr(k)) continue;
    if (::lsetxattr(tmp_path.c_str(), k.c_str(), v.data(), v.size(), 0) != 0) {
      int err = errno;
      fuse_log(FUSE_LOG_ERR, "clusterfs: copy-up of %s: xattr %s: %s\n", path.c_str(), k.c_str(),
               std::strerror(err));
      return err;
    }
  }
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::utimensat(work_fd_.get(), tmp.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) return errno;
  return 0;
}

int OverlayFs::CopyUpPath(int parent_fd, const std::string& name, const std::string& path) {
  LowerEntry e;
  int l;
  if (int err = TopLower(path, &e, &l)) return err;
  const struct stat& st = e.st;
  struct stat pst;
  if (::fstatat(parent_fd, "", &pst, AT_EMPTY_PATH) != 0) return errno;
  std::string tmp = TmpName();
  UniqueFd data_fd;
  if (int err = MakeInWork(st, l, path, tmp, &data_fd)) return err;
  int err = CopyMetadataInWork(st, l, path, tmp);
  // The data is durable before the object appears in the upper dir.
  if (!err && data_fd.valid() && opts_.sync_copy_up && ::fsync(data_fd.get()) != 0) err = errno;
  if (!err && ::renameat(work_fd_.get(), tmp.c_str(), parent_fd, name.c_str()) != 0) err = errno;
  if (err) {
    RemoveFromWork(tmp, st.st_mode);
    return err;
  }
  RestoreTimes(parent_fd, pst);
  struct stat ust;
  if (::fstatat(parent_fd, name.c_str(), &ust, AT_SYMLINK_NOFOLLOW) == 0) {
    table_.SetOrigin(ust, st.st_ino);
  }
  ++copy_gen_;
  return 0;
}

int OverlayFs::EnsureUpperDir(const std::string& path, UniqueFd* out) {
  int cur = ::dup(upper_root_.get());
  if (cur < 0) return errno;
  out->Reset(cur);
  std::string prefix;
  for (const std::string& comp : Components(path)) {
    prefix = prefix.empty() ? comp : prefix + "/" + comp;
    int fd = ::openat(out->get(), comp.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      if (errno != ENOENT) return errno;
      if (int err = CopyUpPath(out->get(), comp, prefix)) return err;
      fd = ::openat(out->get(), comp.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) return errno;
    }
    out->Reset(fd);
  }
  return 0;
}

int OverlayFs::EnsureUpper(Inode* n) {
  if (!writable()) return EROFS;
  if (UpperFd(n) >= 0) return 0;
  if (n->unlinked) return ESTALE;
  std::string path = MergedPath(n);
  auto [dir, name] = SplitPath(path);
  UniqueFd pfd;
  if (int err = EnsureUpperDir(dir, &pfd)) return err;
  if (int err = CopyUpPath(pfd.get(), name, path)) return err;
  int fd = ::openat(pfd.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno;
  int expected = -1;
  if (!n->upper.compare_exchange_strong(expected, fd)) ::close(fd);
  if (n->type == S_IFREG && n->lower_nlink > 1) LinkAliases(n);
  return 0;
}

void OverlayFs::LinkAliases(Inode* n) {
  std::vector<std::string> aliases = table_.Aliases(n);
  std::string path = MergedPath(n);
  if (n->lower >= 0) {
    for (auto& a : lowers_[n->lower]->HardlinkAliases(path)) aliases.push_back(std::move(a));
  }
  for (const auto& a : aliases)
    if (a != path) LinkUp(n, a);
}

int OverlayFs::LinkUp(Inode* n, const std::string& alias) {
  int ufd = n->upper.load();
  if (ufd < 0) return 0;
  // The alias must still be a visible, lower-only name of the same file.
  std::vector<std::unique_ptr<Inode>> chain;  // views of the directories on the way
  Inode* dir = table_.root();
  Resolved r;
  std::vector<std::string> comps = Components(alias);
  for (size_t i = 0; i < comps.size(); ++i) {
    r = Resolved();
    if (int err = Resolve(dir, comps[i], &r)) return err;
    if (!r.found) return ENOENT;
    if (i + 1 == comps.size()) break;
    if (!S_ISDIR(r.st.st_mode)) return ENOTDIR;
    chain.push_back(DirView(JoinPath(MergedPath(dir), comps[i]), &r));
    dir = chain.back().get();
  }
  if (comps.empty()) return EINVAL;
  if (r.upper.valid() || r.st.st_ino != n->ino) return 0;
  auto [parent, name] = SplitPath(alias);
  UniqueFd pfd;
  if (int err = EnsureUpperDir(parent, &pfd)) return err;
  struct stat pst;
  ::fstatat(pfd.get(), "", &pst, AT_EMPTY_PATH);
  if (::linkat(AT_FDCWD, ProcPath(ufd).c_str(), pfd.get(), name.c_str(), AT_SYMLINK_FOLLOW) != 0) {
    return errno == EEXIST ? 0 : errno;
  }
  RestoreTimes(pfd.get(), pst);
  ++copy_gen_;
  return 0;
}

}  // namespace cfs
