// DirLower: a plain directory in the kernel overlay format.
#include <dirent.h>
#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/executor.h"
#include "base/io.h"
#include "base/thread_annotations.h"
#include "fs/lower.h"
#include "layer/whiteouts.h"

namespace cfs {
namespace {

Status Errno(const std::string& what, int err) { return Status::IOError(what, err); }

class FdFile : public LowerFile {
 public:
  // size: UINT64_MAX = not known yet (fstat on first use).
  FdFile(UniqueFd fd, uint64_t size) : fd_(std::move(fd)), size_(size) {}
  int fd() const override { return fd_.get(); }
  uint64_t size() const override {
    if (size_ == UINT64_MAX) {
      struct stat st;
      size_ = ::fstat(fd_.get(), &st) == 0 ? st.st_size : 0;
    }
    return size_;
  }
  Result<size_t> Read(uint64_t off, size_t size, char* out) override {
    size_t done = 0;
    while (done < size) {
      ssize_t n = ::pread(fd_.get(), out + done, size - done, off + done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Errno("read", errno);
      if (n == 0) break;
      done += n;
    }
    return done;
  }
  Status ForEachData(const std::function<Status(uint64_t, uint64_t)>& fn) override {
    uint64_t pos = 0;
    size();
    while (pos < size_) {
      off_t data = ::lseek(fd_.get(), pos, SEEK_DATA);
      if (data < 0) {
        if (errno == ENXIO) break;  // only a hole up to the end
        if (errno == EINVAL) return fn(pos, size_ - pos);  // no SEEK_DATA support
        return Errno("lseek", errno);
      }
      off_t hole = ::lseek(fd_.get(), data, SEEK_HOLE);
      if (hole < 0) return Errno("lseek", errno);
      uint64_t end = std::min<uint64_t>(hole, size_);
      if (static_cast<uint64_t>(data) >= end) break;
      RETURN_IF_ERROR(fn(data, end - data));
      pos = end;
    }
    return Status::Ok();
  }

 private:
  UniqueFd fd_;
  mutable uint64_t size_;  // used by one thread at a time (copy-up)
};

// Whether the directory at path (absolute) carries the overlay opaque xattr.
bool IsOpaqueDir(const std::string& path) {
  char v[4];
  ssize_t n = ::lgetxattr(path.c_str(), kOverlayOpaqueXattr, v, sizeof v);
  return n == 1 && v[0] == 'y';
}

// Metadata read-ahead. A cold walk (find, du, tar, ls -R) waits on the disk
// for every directory block and inode, one at a time. When a directory is
// listed, its subdirectories are what the walker reads next: two threads read
// them ahead (open, getdents, lstat of each entry, the opaque xattr of
// subdirectories) so the host's caches hold them when it arrives, keeping
// several disk reads in flight where the walker has one. Most recently queued
// first (walks go depth first); at most kMaxQueued waiting, the oldest dropped.
class DirWarmer {
 public:
  explicit DirWarmer(int root_fd) : root_fd_(root_fd) {}
  // Stops the warming tasks (each returns after the entry it is on), then
  // joins the workers.
  ~DirWarmer() {
    {
      MutexLock l(&mu_);
      stop_ = true;
    }
    workers_.reset();
  }
  // dirs: paths relative to the root, in listing order. Thread-safe.
  void Queue(std::vector<std::string> dirs) EXCLUDES(mu_) {
    if (dirs.empty()) return;
    Executor* workers;
    int submit = 0;  // warming tasks to start
    {
      MutexLock l(&mu_);
      if (stop_) return;
      if (!workers_) {
        ExecutorOptions o;
        o.threads = kThreads;
        o.name = "cfs-dir-ahead";
        workers_ = std::make_unique<Executor>(std::move(o));
      }
      for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) queue_.push_back(std::move(*it));
      while (queue_.size() > kMaxQueued) queue_.pop_front();
      submit = std::min<int>(kThreads - running_, static_cast<int>(queue_.size()));
      running_ += submit;
      workers = workers_.get();
    }
    for (int i = 0; i < submit; ++i) workers->Submit([this] { WarmQueued(); });
  }

 private:
  static constexpr int kThreads = 2;
  static constexpr size_t kMaxQueued = 1024;

  // A warming task: warms the newest queued directory until none is left
  // or the warmer stops.
  void WarmQueued() EXCLUDES(mu_) {
    for (;;) {
      std::string dir;
      {
        MutexLock l(&mu_);
        if (stop_ || queue_.empty()) {
          --running_;
          return;
        }
        dir = std::move(queue_.back());
        queue_.pop_back();
      }
      Warm(dir);
    }
  }

  void Warm(const std::string& dir) {
    int fd = ::openat(root_fd_, dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return;
    DIR* d = ::fdopendir(fd);
    if (!d) {
      ::close(fd);
      return;
    }
    while (struct dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.' &&
          (e->d_name[1] == 0 || (e->d_name[1] == '.' && e->d_name[2] == 0)))
        continue;
      struct stat st;
      if (::fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
        (void)IsOpaqueDir("/proc/self/fd/" + std::to_string(fd) + "/" + e->d_name);
      if (stop_.load(std::memory_order_relaxed)) break;
    }
    ::closedir(d);
  }

  const int root_fd_;
  Mutex mu_;
  std::deque<std::string> queue_ GUARDED_BY(mu_);  // back = newest
  int running_ GUARDED_BY(mu_) = 0;  // warming tasks submitted and not returned
  // Set under mu_ (WarmQueued reads it there); Warm also reads it without.
  std::atomic<bool> stop_{false};
  // kThreads workers, made by the first Queue; guarded by mu_ until the
  // destructor. Last: its tasks use the members above.
  std::unique_ptr<Executor> workers_;
};

class DirLower : public Lower {
 public:
  DirLower(std::string root, UniqueFd fd, InoMap* inos)
      : root_(std::move(root)), fd_(std::move(fd)), inos_(inos), warmer_(fd_.get()) {}

  std::string Describe() const override { return root_; }

  Result<LowerEntry> Stat(const std::string& path) override {
    LowerEntry e;
    if (::fstatat(fd_.get(), path.c_str(), &e.st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return e;
      return Errno(Abs(path), errno);
    }
    if (IsOverlayWhiteout(e.st)) {
      e.kind = LowerEntry::Kind::kWhiteout;
      return e;
    }
    e.kind = LowerEntry::Kind::kEntry;
    e.nlink_group = e.st.st_nlink;
    e.st.st_ino = inos_->ForReal(e.st.st_dev, e.st.st_ino);
    if (S_ISDIR(e.st.st_mode)) e.opaque = IsOpaqueDir(Abs(path));
    return e;
  }

  Status ReadDir(const std::string& path, std::vector<LowerDirEntry>* out) override {
    int dfd = ::openat(fd_.get(), path.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) return Errno(Abs(path), errno);
    UniqueFd ufd(dfd);
    size_t before = out->size();
    RETURN_IF_ERROR(ReadDirAt(dfd, inos_, out).Prefix(Abs(path)));
    std::vector<std::string> subdirs;
    for (size_t i = before; i < out->size(); ++i)
      if ((*out)[i].d_type == DT_DIR) subdirs.push_back(path == "." ? (*out)[i].name : path + "/" + (*out)[i].name);
    warmer_.Queue(std::move(subdirs));
    return Status::Ok();
  }

  Result<std::string> ReadLink(const std::string& path) override {
    std::string buf(4096, '\0');
    ssize_t n = ::readlinkat(fd_.get(), path.c_str(), buf.data(), buf.size());
    if (n < 0) return Errno(Abs(path), errno);
    buf.resize(n);
    return buf;
  }

  Result<std::vector<std::pair<std::string, std::string>>> Xattrs(
      const std::string& path) override {
    std::string abs = Abs(path);
    std::vector<std::pair<std::string, std::string>> out;
    std::string names(65536, '\0');
    ssize_t n = ::llistxattr(abs.c_str(), names.data(), names.size());
    if (n < 0) {
      if (errno == ENOTSUP) return out;
      return Errno(abs, errno);
    }
    for (size_t i = 0; i < static_cast<size_t>(n);) {
      std::string name(names.c_str() + i);
      i += name.size() + 1;
      std::string v(65536, '\0');
      ssize_t vn = ::lgetxattr(abs.c_str(), name.c_str(), v.data(), v.size());
      if (vn < 0) continue;  // removed meanwhile, or unreadable
      v.resize(vn);
      out.emplace_back(std::move(name), std::move(v));
    }
    return out;
  }

  Result<std::unique_ptr<LowerFile>> Open(const std::string& path) override {
    int fd = ::openat(fd_.get(), path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Errno(Abs(path), errno);
    return std::unique_ptr<LowerFile>(std::make_unique<FdFile>(UniqueFd(fd), UINT64_MAX));
  }

 private:
  std::string Abs(const std::string& path) const {
    return path == "." ? root_ : root_ + "/" + path;
  }
  const std::string root_;
  UniqueFd fd_;
  InoMap* inos_;
  DirWarmer warmer_;  // last: stopped before the fd closes
};

}  // namespace

Status ReadDirAt(int dir_fd, InoMap* inos, std::vector<LowerDirEntry>* out) {
  int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open directory", errno);
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    ::close(fd);
    return Errno("open directory", errno);
  }
  struct stat dst;
  ::fstat(fd, &dst);
  errno = 0;
  while (struct dirent* de = ::readdir(d)) {
    if (std::strcmp(de->d_name, ".") == 0 || std::strcmp(de->d_name, "..") == 0) continue;
    LowerDirEntry e;
    e.name = de->d_name;
    e.d_type = de->d_type;
    dev_t dev = dst.st_dev;
    uint64_t ino = de->d_ino;
    if (de->d_type == DT_CHR || de->d_type == DT_UNKNOWN) {
      struct stat st;
      if (::fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        e.d_type = IFTODT(st.st_mode);
        e.whiteout = IsOverlayWhiteout(st);
        dev = st.st_dev;
        ino = st.st_ino;
      }
    }
    e.ino = inos->ForReal(dev, ino);
    out->push_back(std::move(e));
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return Errno("read directory", err);
  return Status::Ok();
}

Result<std::unique_ptr<Lower>> OpenDirLower(const std::string& dir, InoMap* inos) {
  char* real = ::realpath(dir.c_str(), nullptr);
  if (real == nullptr) return Errno("lower dir " + dir, errno);
  std::string abs(real);
  ::free(real);
  int fd = ::open(abs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("lower dir " + dir, errno);
  return std::unique_ptr<Lower>(std::make_unique<DirLower>(abs, UniqueFd(fd), inos));
}


}  // namespace cfs
