#include "base/io.h"

#include <dirent.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <ftw.h>

namespace cfs {

Status ByteSource::ReadFull(void* buf, size_t n, const char* what) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    ASSIGN_OR_RETURN(size_t got, Read(p, n));
    if (got == 0) return Status::Corruption(std::string("unexpected end of ") + what);
    p += got;
    n -= got;
  }
  return Status::Ok();
}

Result<std::unique_ptr<FdSource>> FdSource::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError(path);
  return std::make_unique<FdSource>(UniqueFd(fd));
}

Result<size_t> FdSource::Read(void* buf, size_t n) {
  for (;;) {
    ssize_t r = ::read(fd_.get(), buf, n);
    if (r >= 0) return static_cast<size_t>(r);
    if (errno != EINTR) return Status::IOError("read");
  }
}

Result<size_t> BufferedSource::Read(void* buf, size_t n) {
  if (pos_ == end_) {
    if (n >= buf_.size()) return in_->Read(buf, n);
    ASSIGN_OR_RETURN(end_, in_->Read(buf_.data(), buf_.size()));
    pos_ = 0;
  }
  size_t k = std::min(n, end_ - pos_);
  std::memcpy(buf, buf_.data() + pos_, k);
  pos_ += k;
  return k;
}

Result<size_t> MemorySource::Read(void* buf, size_t n) {
  size_t k = std::min(n, data_.size() - pos_);
  std::memcpy(buf, data_.data() + pos_, k);
  pos_ += k;
  return k;
}

Status WriteAll(int fd, const void* data, size_t n) {
  auto* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::IOError("write");
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

Status PreadAll(int fd, void* buf, size_t n, uint64_t off) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(off));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::IOError("pread");
    }
    if (r == 0) return Status::Corruption("short read at offset " + std::to_string(off));
    p += r;
    n -= static_cast<size_t>(r);
    off += static_cast<uint64_t>(r);
  }
  return Status::Ok();
}

Result<std::unique_ptr<AtomicFileSink>> AtomicFileSink::Create(Env* env, const std::string& path,
                                                               mode_t mode) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + RandomHex(4);
  ASSIGN_OR_RETURN(auto file, env->OpenWritable(tmp, Env::OpenMode::kCreateNew, mode));
  return std::unique_ptr<AtomicFileSink>(new AtomicFileSink(env, path, std::move(file)));
}

AtomicFileSink::~AtomicFileSink() {
  if (!committed_) (void)env_->RemoveFile(file_->path());
}

Status AtomicFileSink::Write(const void* data, size_t n) {
  written_ += n;
  return file_->Append(std::string_view(static_cast<const char*>(data), n));
}

Status AtomicFileSink::Commit() {
  RETURN_IF_ERROR(file_->Sync());
  RETURN_IF_ERROR(file_->Close());
  RETURN_IF_ERROR(env_->Rename(file_->path(), path_));
  committed_ = true;
  return env_->SyncDir(DirName(path_));
}

Result<FileLock> FileLock::Acquire(const std::string& path, Mode mode) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError(path);
  UniqueFd ufd(fd);
  while (::flock(fd, mode == Mode::kShared ? LOCK_SH : LOCK_EX) != 0) {
    if (errno != EINTR) return Status::IOError("flock " + path);
  }
  return FileLock(std::move(ufd));
}

Result<FileLock> FileLock::TryAcquire(const std::string& path, Mode mode) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError(path);
  UniqueFd ufd(fd);
  while (::flock(fd, (mode == Mode::kShared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return Status::Busy(path + " is locked by another process");
    return Status::IOError("flock " + path);
  }
  return FileLock(std::move(ufd));
}

Result<std::string> ReadFile(const std::string& path, size_t max_size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError(path);
  UniqueFd ufd(fd);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::IOError(path);
    }
    if (r == 0) break;
    out.append(buf, static_cast<size_t>(r));
    if (out.size() > max_size)
      return Status::Invalid(path + ": larger than " + std::to_string(max_size) + " bytes");
  }
  return out;
}

Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode) {
  return WriteFileAtomic(Env::Default(), path, data, mode);
}

Status WriteFileAtomic(Env* env, const std::string& path, std::string_view data, mode_t mode) {
  ASSIGN_OR_RETURN(auto sink, AtomicFileSink::Create(env, path, mode));
  RETURN_IF_ERROR(sink->Write(data));
  return sink->Commit();
}

Status MakeDirs(const std::string& path, mode_t mode) {
  if (path.empty()) return Status::Ok();
  std::string cur;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    cur = path.substr(0, j);
    if (!cur.empty() && ::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST)
      return Status::IOError("mkdir " + cur);
    i = j + 1;
  }
  return Status::Ok();
}

Status FsyncDir(const std::string& dir) { return FsyncDir(Env::Default(), dir); }

Status FsyncDir(Env* env, const std::string& dir) { return env->SyncDir(dir); }

Status RemoveTree(const std::string& path) {
  auto cb = [](const char* p, const struct stat*, int, struct FTW*) -> int {
    return ::remove(p) == 0 || errno == ENOENT ? 0 : -1;
  };
  if (::nftw(path.c_str(), cb, 64, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
    return Status::IOError("remove " + path);
  return Status::Ok();
}

Result<std::vector<std::string>> ListDir(const std::string& dir, const std::string& suffix) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return Status::IOError(dir);
  std::vector<std::string> out;
  while (auto* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    if (n.size() >= suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
      out.push_back(std::move(n));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

Status FdSink::Write(const void* data, size_t n) { return WriteAll(fd_, data, n); }

bool PathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

uint64_t DiskBytes(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return 0;
  uint64_t total = static_cast<uint64_t>(st.st_blocks) * 512;
  if (!S_ISDIR(st.st_mode)) return total;
  auto names = ListDir(path);
  if (!names.ok()) return total;
  for (const auto& n : *names) total += DiskBytes(path + "/" + n);
  return total;
}

std::string RandomHex(size_t n) {
  std::string raw(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::getrandom(raw.data() + got, n - got, 0);
    if (r > 0) got += static_cast<size_t>(r);
  }
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

Result<TempDir> TempDir::Create(const std::string& parent, const std::string& prefix) {
  RETURN_IF_ERROR(MakeDirs(parent));
  std::string tmpl = parent + "/" + prefix + "XXXXXX";
  if (!::mkdtemp(tmpl.data())) return Status::IOError("mkdtemp " + tmpl);
  TempDir t;
  t.path_ = tmpl;
  return t;
}

TempDir& TempDir::operator=(TempDir&& o) noexcept {
  if (this != &o) {
    if (!path_.empty()) (void)RemoveTree(path_);
    path_ = std::move(o.path_);
    o.path_.clear();
  }
  return *this;
}

TempDir::~TempDir() {
  if (!path_.empty()) (void)RemoveTree(path_);
}

}  // namespace cfs
