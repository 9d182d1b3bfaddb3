// The OverlayFs object: creation and checks of the upper and work dirs, the
// root, and where an object is served from (its upper file, adopted after a
// copy-up of a path, or its lower) for getattr, readlink, statfs and open.
// Lookup is in overlay_lookup.cc, the inode table in inode_table.cc, readdir
// in dir_listing.cc, xattrs in xattrs.cc, copy-up in copy_up.cc, changes in
// mutate.cc and the FUSE adapters in fuse_ops.cc.
#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "fs/overlay_impl.h"
#include "layer/whiteouts.h"

namespace cfs {

int ToErrno(const Status& s) {
  if (s.ok()) return 0;
  if (s.code() == Status::Code::kNotFound) return ENOENT;
  fuse_log(FUSE_LOG_ERR, "clusterfs: %s\n", s.ToString().c_str());
  return EIO;
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  return dir == "." ? name : dir + "/" + name;
}

std::string ProcPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

Result<std::unique_ptr<Overlay>> Overlay::Create(std::vector<std::unique_ptr<Lower>> lowers,
                                                 std::unique_ptr<InoMap> inos,
                                                 const OverlayOptions& o) {
  auto fs = std::make_unique<OverlayFs>(std::move(lowers), std::move(inos), o);
  RETURN_IF_ERROR(fs->Init());
  return std::unique_ptr<Overlay>(std::move(fs));
}

OverlayFs::OverlayFs(std::vector<std::unique_ptr<Lower>> lowers, std::unique_ptr<InoMap> inos,
                     const OverlayOptions& o)
    : opts_(o), lowers_(std::move(lowers)), table_(std::move(inos)) {
  std::random_device rd;
  cookie_key_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

OverlayFs::~OverlayFs() = default;

Status OverlayFs::Init() {
  if (lowers_.empty()) return Status::Invalid("no lower layers");
  if (lowers_.size() > 0xFFFF) return Status::Invalid("too many lower layers");
  if (opts_.upperdir.empty() != opts_.workdir.empty()) {
    return Status::Invalid("upperdir and workdir must be given together");
  }
  struct stat ust {};
  if (!opts_.upperdir.empty()) {
    int fd = ::open(opts_.upperdir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::IOError("upper dir " + opts_.upperdir);
    upper_root_.Reset(fd);
    ::fstat(fd, &ust);
    upper_dev_ = ust.st_dev;
    // Upper inode numbers keep slot 0 of the st_ino space (InoMap).
    table_.inos()->ForReal(ust.st_dev, 0);
    struct stat wst;
    if (::stat(opts_.workdir.c_str(), &wst) != 0 || !S_ISDIR(wst.st_mode)) {
      return Status::IOError("work dir " + opts_.workdir + ": not a directory");
    }
    if (wst.st_dev != ust.st_dev) {
      return Status::Invalid("upper dir " + opts_.upperdir + " and work dir " + opts_.workdir +
                             " are on different filesystems");
    }
    // As the kernel: WORKDIR/work holds objects being made; whatever a
    // crashed mount left there is garbage.
    work_path_ = opts_.workdir + "/work";
    if (PathExists(work_path_)) RETURN_IF_ERROR(RemoveTree(work_path_));
    if (::mkdir(work_path_.c_str(), 0) != 0) {
      return Status::IOError(work_path_);
    }
    fd = ::open(work_path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::IOError(work_path_);
    work_fd_.Reset(fd);
  }
  // The root merges every lower (opaque markers on lower roots are ignored).
  LowerEntry top;
  ASSIGN_OR_RETURN(top, lowers_[0]->Stat("."));
  if (top.kind != LowerEntry::Kind::kEntry || !S_ISDIR(top.st.st_mode)) {
    return Status::Invalid(lowers_[0]->Describe() + ": not a directory");
  }
  uint64_t root_ino =
      writable() ? table_.inos()->ForReal(ust.st_dev, ust.st_ino) : top.st.st_ino;
  Inode* root = table_.AddRoot(root_ino);
  for (size_t i = 0; i < lowers_.size(); ++i) root->dir_lowers.push_back(i);
  if (writable()) root->upper = ::dup(upper_root_.get());
  return Status::Ok();
}

int OverlayFs::UpperFd(Inode* n) {
  int fd = n->upper.load();
  if (fd >= 0 || !writable() || n->unlinked) return fd;
  uint64_t gen = copy_gen_.load();
  if (n->probed_gen.load() == gen) return -1;
  // A copy-up of a path (a parent of something copied up, a hard-link
  // alias) may have given this object an upper file: adopt it.
  int f = ::openat(upper_root_.get(), MergedPath(n).c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (f >= 0) {
    struct stat st;
    if (::fstat(f, &st) == 0 && (st.st_mode & S_IFMT) == n->type && !IsOverlayWhiteout(st)) {
      int expected = -1;
      if (n->upper.compare_exchange_strong(expected, f)) return f;
      ::close(f);
      return expected;
    }
    ::close(f);
  }
  n->probed_gen.store(gen);
  return -1;
}

int OverlayFs::GetAttr(Inode* n, struct stat* st) {
  int ufd = UpperFd(n);
  if (ufd >= 0) {
    if (::fstatat(ufd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return errno;
    if (n->type == S_IFDIR && !n->dir_lowers.empty()) st->st_nlink = 1;
  } else {
    int l = ServingLower(n);
    if (l < 0) return ESTALE;
    auto e = lowers_[l]->Stat(MergedPath(n));
    if (!e.ok()) return ToErrno(e.status());
    if (e->kind != LowerEntry::Kind::kEntry) return ESTALE;
    *st = e->st;
    if (n->type == S_IFDIR && n->dir_lowers.size() > 1) st->st_nlink = 1;
  }
  st->st_ino = n->ino;
  return 0;
}

int OverlayFs::ReadLink(Inode* n, std::string* out) {
  ReaderLock l(&ns_mu_);
  if (n->type != S_IFLNK) return EINVAL;
  int ufd = UpperFd(n);
  if (ufd >= 0) {
    char buf[PATH_MAX + 1];
    ssize_t len = ::readlinkat(ufd, "", buf, sizeof buf);
    if (len < 0) return errno;
    out->assign(buf, len);
    return 0;
  }
  auto r = lowers_[n->lower]->ReadLink(MergedPath(n));
  if (!r.ok()) return ToErrno(r.status());
  *out = std::move(*r);
  return 0;
}

int OverlayFs::StatFs(struct statvfs* out) {
  if (writable()) {
    if (::fstatvfs(upper_root_.get(), out) != 0) return errno;
    return 0;
  }
  std::memset(out, 0, sizeof *out);
  out->f_bsize = out->f_frsize = 4096;
  out->f_namemax = NAME_MAX;
  return 0;
}

int OverlayFs::Open(Inode* n, int flags, FileHandle** fh) {
  bool write = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
  auto h = std::make_unique<FileHandle>();
  if (write) {
    if (!writable()) return EROFS;
    WriterLock l(&ns_mu_);
    if (int err = EnsureUpper(n)) return err;
  }
  ReaderLock l(&ns_mu_);
  int ufd = UpperFd(n);
  int oflags = flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW);
  if (ufd >= 0) {
    int fd = ::open(ProcPath(ufd).c_str(), oflags | O_CLOEXEC);
    if (fd < 0) return errno;
    h->fd.Reset(fd);
  } else {
    auto f = lowers_[n->lower]->Open(MergedPath(n));
    if (!f.ok()) return ToErrno(f.status());
    h->lower = std::move(*f);
  }
  *fh = h.release();
  return 0;
}

}  // namespace cfs
