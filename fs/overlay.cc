// The read side of the overlay: lookup, attributes, readdir, xattrs, open.
#include <dirent.h>
#include <fcntl.h>
#include <sys/xattr.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <unordered_set>

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

std::unique_ptr<Inode> DirView(const std::string& path, Resolved* r) {
  auto d = std::make_unique<Inode>(r->st.st_ino, S_IFDIR);
  d->path = path;
  d->dir_lowers = r->dir_lowers;
  if (r->upper.valid()) d->upper = ::dup(r->upper.get());
  return d;
}

Result<std::unique_ptr<Overlay>> Overlay::Create(std::vector<std::unique_ptr<Lower>> lowers,
                                                 std::unique_ptr<InoMap> inos,
                                                 const OverlayOptions& o) {
  auto fs = std::make_unique<OverlayFs>(std::move(lowers), std::move(inos), o);
  RETURN_IF_ERROR(fs->Init());
  return std::unique_ptr<Overlay>(std::move(fs));
}

OverlayFs::OverlayFs(std::vector<std::unique_ptr<Lower>> lowers, std::unique_ptr<InoMap> inos,
                     const OverlayOptions& o)
    : opts_(o), lowers_(std::move(lowers)), inos_(std::move(inos)) {
  std::random_device rd;
  cookie_key_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

OverlayFs::~OverlayFs() {
  MutexLock l(&table_mu_);
  for (auto& [ino, n] : table_)
    if (n != root_) delete n;
  delete root_;
}

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
    inos_->ForReal(ust.st_dev, 0);
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
  uint64_t root_ino = writable() ? inos_->ForReal(ust.st_dev, ust.st_ino) : top.st.st_ino;
  root_ = new Inode(root_ino, S_IFDIR);
  root_->path = ".";
  root_->parent_ino.store(root_ino);
  root_->nlookup = 1;
  for (size_t i = 0; i < lowers_.size(); ++i) root_->dir_lowers.push_back(i);
  if (writable()) root_->upper = ::dup(upper_root_.get());
  MutexLock l(&table_mu_);
  table_[root_ino] = root_;
  return Status::Ok();
}

uint64_t OverlayFs::OriginOf(uint64_t mapped) {
  auto it = origin_.find(mapped);
  return it == origin_.end() ? mapped : it->second;
}

uint64_t OverlayFs::UpperIno(const struct stat& st) {
  return OriginOf(inos_->ForReal(st.st_dev, st.st_ino));
}

int OverlayFs::UpperFd(Inode* n) {
  int fd = n->upper.load();
  if (fd >= 0 || !writable() || n->unlinked) return fd;
  uint64_t gen = copy_gen_.load();
  if (n->probed_gen.load() == gen) return -1;
  // A copy-up of a path (a parent of something copied up, a hard-link
  // alias) may have given this object an upper file: adopt it.
  int f = ::openat(upper_root_.get(), n->path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
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

int OverlayFs::Resolve(Inode* dir, const std::string& name, Resolved* r) {
  if (name.size() > NAME_MAX) return ENAMETOOLONG;
  std::string path = JoinPath(dir->path, name);
  int ufd = UpperFd(dir);
  // dir_lowers of a directory found at `from` in dir's lower list.
  auto merge_below = [&](size_t from) {
    for (size_t j = from; j < dir->dir_lowers.size(); ++j) {
      auto e = lowers_[dir->dir_lowers[j]]->Stat(path);
      if (!e.ok() || e->kind == LowerEntry::Kind::kWhiteout) break;
      if (e->kind == LowerEntry::Kind::kAbsent) continue;
      if (!S_ISDIR(e->st.st_mode)) break;
      r->dir_lowers.push_back(dir->dir_lowers[j]);
      if (e->opaque) break;
    }
  };
  if (ufd >= 0) {
    struct stat st;
    if (::fstatat(ufd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      if (IsOverlayWhiteout(st)) {
        r->whiteout_in_upper = true;
        return 0;
      }
      int fd = ::openat(ufd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) return errno;
      r->upper.Reset(fd);
      r->found = true;
      r->st = st;
      r->st.st_ino = UpperIno(st);
      if (S_ISDIR(st.st_mode)) {
        char v[4];
        ssize_t n = ::getxattr(ProcPath(fd).c_str(), kOverlayOpaqueXattr, v, sizeof v);
        if (!(n == 1 && v[0] == 'y')) merge_below(0);
        if (!r->dir_lowers.empty()) r->st.st_nlink = 1;  // as the kernel for merged dirs
      }
      return 0;
    }
    if (errno != ENOENT) return errno;
  }
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
      if (!e->opaque) merge_below(i + 1);
      if (r->dir_lowers.size() > 1) r->st.st_nlink = 1;
    } else {
      r->lower = l;
      r->lower_nlink = e->nlink_group;
    }
    return 0;
  }
  return 0;
}

Inode* OverlayFs::Remember(const std::string& path, Resolved* r) {
  MutexLock l(&table_mu_);
  mode_t type = r->st.st_mode & S_IFMT;
  auto it = table_.find(r->st.st_ino);
  if (it != table_.end()) {
    Inode* n = it->second;
    bool stale = n->type != type || n->unlinked;
    int ufd = n->upper.load();
    if (!stale && ufd >= 0 && r->upper.valid()) {
      // The upper fs may reuse the number of a deleted file.
      struct stat a, b;
      stale = ::fstat(ufd, &a) != 0 || ::fstat(r->upper.get(), &b) != 0 ||
              a.st_ino != b.st_ino || a.st_dev != b.st_dev || a.st_nlink == 0;
    }
    if (!stale) {
      ++n->nlookup;
      if (ufd < 0 && r->upper.valid()) {
        int expected = -1;
        if (n->upper.compare_exchange_strong(expected, r->upper.get())) r->upper.Release();
      }
      if (n->path != path && n->type != S_IFDIR && r->lower >= 0) {
        std::lock_guard<std::mutex> al(aliases_mu_);
        if (!n->aliases) n->aliases = std::make_unique<std::vector<std::string>>();
        bool known = false;
        for (const auto& a : *n->aliases) known |= a == path;
        if (!known && n->aliases->size() < 64) n->aliases->push_back(path);
      }
      return n;
    }
  }
  Inode* n = new Inode(r->st.st_ino, type);
  n->path = path;
  n->lower = r->lower;
  n->dir_lowers = std::move(r->dir_lowers);
  n->lower_nlink = r->lower_nlink;
  if (r->upper.valid()) n->upper = r->upper.Release();
  n->nlookup = 1;
  table_[n->ino] = n;
  return n;
}

int OverlayFs::Entry(Inode* n, fuse_entry_param* e, const struct stat* known) {
  std::memset(e, 0, sizeof *e);
  if (known) {
    e->attr = *known;
    e->attr.st_ino = n->ino;
  } else if (int err = GetAttr(n, &e->attr)) {
    return err;
  }
  e->ino = IdOf(n);
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
    n = Remember(JoinPath(parent->path, name), &r);
    n->parent_ino.store(parent->ino);
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
  LinkUp(n, JoinPath(parent->path, name));
  int err = Entry(n, e);
  if (err) Forget(n, 1);
  return err;
}

void OverlayFs::Forget(Inode* n, uint64_t count) {
  MutexLock l(&table_mu_);
  if (n == root_) return;
  n->nlookup -= std::min(n->nlookup, count);
  if (n->nlookup > 0) return;
  auto it = table_.find(n->ino);
  if (it != table_.end() && it->second == n) table_.erase(it);
  delete n;
}

int OverlayFs::GetAttr(Inode* n, struct stat* st) {
  int ufd = UpperFd(n);
  if (ufd >= 0) {
    if (::fstatat(ufd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return errno;
    if (n->type == S_IFDIR && !n->dir_lowers.empty()) st->st_nlink = 1;
  } else {
    int l = n->type == S_IFDIR ? (n->dir_lowers.empty() ? -1 : n->dir_lowers[0]) : n->lower;
    if (l < 0) return ESTALE;
    auto e = lowers_[l]->Stat(n->path);
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
  auto r = lowers_[n->lower]->ReadLink(n->path);
  if (!r.ok()) return ToErrno(r.status());
  *out = std::move(*r);
  return 0;
}

namespace {
// Listings kept between readdir calls (each dropped when read to its end).
constexpr size_t kMaxListings = 64;

uint64_t Mix64(uint64_t x) {  // splitmix64's finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t NameCookie(uint64_t key, const std::string& name) {
  uint64_t h = 0xcbf29ce484222325ull ^ key;  // FNV-1a, keyed
  for (unsigned char c : name) h = (h ^ c) * 0x100000001b3ull;
  return 3 + (Mix64(h ^ key) >> 2);
}
}  // namespace

std::shared_ptr<const DirListing> OverlayFs::Listing(Inode* n, bool fresh, int* err) {
  *err = 0;
  if (!fresh) {
    MutexLock l(&listings_mu_);
    auto it = listings_.find(n->ino);
    if (it != listings_.end()) return it->second;
  }
  DirHandle dh;
  if ((*err = FillDir(n, &dh)) != 0) return nullptr;
  std::vector<std::pair<uint64_t, size_t>> order;
  order.reserve(dh.entries.size());
  for (size_t i = 0; i < dh.entries.size(); ++i)
    order.emplace_back(i < 2 ? i + 1 : NameCookie(cookie_key_, dh.entries[i].name), i);
  std::sort(order.begin(), order.end());
  auto list = std::make_shared<DirListing>();
  list->entries.reserve(order.size());
  list->cookies.reserve(order.size());
  for (auto& [cookie, i] : order) {
    // Two names with one cookie (odds ~n^2/2^63): the second takes the next
    // free value, which only it can claim in this snapshot.
    if (!list->cookies.empty() && cookie <= list->cookies.back()) cookie = list->cookies.back() + 1;
    list->cookies.push_back(cookie);
    list->entries.push_back(std::move(dh.entries[i]));
  }
  MutexLock l(&listings_mu_);
  if (listings_.size() >= kMaxListings && !listings_.count(n->ino)) listings_.erase(listings_.begin());
  listings_[n->ino] = list;
  return list;
}

void OverlayFs::DropListing(uint64_t ino) {
  MutexLock l(&listings_mu_);
  listings_.erase(ino);
}

int OverlayFs::FillDir(Inode* n, DirHandle* dh) {
  ReaderLock l(&ns_mu_);
  return FillDirLocked(n, dh);
}

int OverlayFs::FillDirLocked(Inode* n, DirHandle* dh) {
  dh->entries.clear();
  dh->entries.push_back({".", n->ino, DT_DIR});
  dh->entries.push_back({"..", n->parent_ino.load(), DT_DIR});
  std::unordered_set<std::string> seen;
  std::vector<LowerDirEntry> items;
  int ufd = UpperFd(n);
  if (ufd >= 0) {
    Status s = ReadDirAt(ufd, inos_.get(), &items);
    if (!s.ok()) return s.err() ? s.err() : EIO;
    for (auto& it : items) {
      seen.insert(it.name);
      if (it.whiteout) continue;
      dh->entries.push_back({std::move(it.name), OriginOf(it.ino), it.d_type});
    }
  }
  for (int l : n->dir_lowers) {
    items.clear();
    Status s = lowers_[l]->ReadDir(n->path, &items);
    if (!s.ok()) return ToErrno(s);
    for (auto& it : items) {
      if (!seen.insert(it.name).second || it.whiteout) continue;
      dh->entries.push_back({std::move(it.name), it.ino, it.d_type});
    }
  }
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

// ---- xattrs (trusted.overlay.* never shows through the mount) ----

int OverlayFs::GetXattr(Inode* n, const std::string& name, std::string* value) {
  if (IsPrivateXattr(name)) return ENODATA;
  ReaderLock l(&ns_mu_);
  int ufd = UpperFd(n);
  if (ufd >= 0) {
    std::string p = ProcPath(ufd);
    std::string buf(65536, '\0');
    ssize_t len = ::getxattr(p.c_str(), name.c_str(), buf.data(), buf.size());
    if (len < 0 && errno == ENOTSUP) return ENODATA;
    if (len < 0) return errno;
    buf.resize(len);
    *value = std::move(buf);
    return 0;
  }
  int lw = n->type == S_IFDIR ? n->dir_lowers[0] : n->lower;
  auto xs = lowers_[lw]->Xattrs(n->path);
  if (!xs.ok()) return ToErrno(xs.status());
  for (auto& [k, v] : *xs) {
    if (k == name) {
      *value = v;
      return 0;
    }
  }
  return ENODATA;
}

int OverlayFs::ListXattr(Inode* n, std::string* names) {
  ReaderLock l(&ns_mu_);
  std::vector<std::string> all;
  int ufd = UpperFd(n);
  if (ufd >= 0) {
    std::string p = ProcPath(ufd);
    std::string buf(65536, '\0');
    ssize_t len = ::listxattr(p.c_str(), buf.data(), buf.size());
    if (len < 0 && errno != ENOTSUP) return errno;
    for (ssize_t i = 0; i < len;) {
      all.emplace_back(buf.c_str() + i);
      i += all.back().size() + 1;
    }
  } else {
    int lw = n->type == S_IFDIR ? n->dir_lowers[0] : n->lower;
    auto xs = lowers_[lw]->Xattrs(n->path);
    if (!xs.ok()) return ToErrno(xs.status());
    for (auto& kv : *xs) all.push_back(kv.first);
  }
  names->clear();
  for (const auto& k : all) {
    if (IsPrivateXattr(k)) continue;
    names->append(k);
    names->push_back('\0');
  }
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
    auto f = lowers_[n->lower]->Open(n->path);
    if (!f.ok()) return ToErrno(f.status());
    h->lower = std::move(*f);
  }
  *fh = h.release();
  return 0;
}

}  // namespace cfs
