#include "base/env.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "base/io.h"

namespace cfs {

std::string DirName(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

Status Env::CreateDirs(const std::string& path, mode_t mode) {
  for (size_t j = path.find('/', 1);; j = path.find('/', j + 1)) {
    std::string cur = path.substr(0, j);
    if (!cur.empty()) RETURN_IF_ERROR(CreateDir(cur, mode));
    if (j == std::string::npos) return Status::Ok();
  }
}

Status Env::RemoveTree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0)
    return errno == ENOENT ? Status::Ok() : Status::IOError("remove " + path);
  if (!S_ISDIR(st.st_mode)) {
    Status s = RemoveFile(path);
    return s.ok() || s.err() == ENOENT ? Status::Ok() : s;
  }
  ASSIGN_OR_RETURN(auto names, ListDir(path));
  for (const auto& n : names) RETURN_IF_ERROR(RemoveTree(path + "/" + n));
  return RemoveDir(path);
}

namespace {

class PosixWritableFile : public WritableFile {
 public:
  PosixWritableFile(std::string path, UniqueFd fd, uint64_t size)
      : WritableFile(std::move(path)), fd_(std::move(fd)), size_(size) {}

  Status WriteAt(uint64_t offset, std::initializer_list<std::string_view> pieces) override {
    std::vector<struct iovec> iov;
    size_t want = 0;
    for (auto p : pieces) {
      iov.push_back({const_cast<char*>(p.data()), p.size()});
      want += p.size();
    }
    ssize_t w = ::pwritev(fd_.get(), iov.data(), static_cast<int>(iov.size()),
                          static_cast<off_t>(offset));
    if (w < 0) return Status::IOError("write " + path());
    if (static_cast<size_t>(w) < want) RETURN_IF_ERROR(FinishShortWrite(offset, pieces, w));
    if (offset + want > size_) size_ = offset + want;
    return Status::Ok();
  }

  Status PunchHole(uint64_t offset, uint64_t len) override {
    if (len == 0) return Status::Ok();
    if (::fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                    static_cast<off_t>(offset), static_cast<off_t>(len)) == 0)
      return Status::Ok();
    return Status::IOError("punch hole in " + path());
  }

  Status Truncate(uint64_t size) override {
    if (::ftruncate(fd_.get(), static_cast<off_t>(size)) != 0)
      return Status::IOError("truncate " + path());
    size_ = size;
    return Status::Ok();
  }

  Status Sync() override {
    if (::fdatasync(fd_.get()) != 0) return Status::IOError("fdatasync " + path());
    return Status::Ok();
  }

  Status Close() override {
    if (fd_.valid() && ::close(fd_.Release()) != 0) return Status::IOError("close " + path());
    return Status::Ok();
  }

  uint64_t size() const override { return size_; }
  int fd() const override { return fd_.get(); }

 private:
  // Short write (disk full?): the rest, the slow way.
  Status FinishShortWrite(uint64_t offset, std::initializer_list<std::string_view> pieces,
                          ssize_t done) {
    std::string all;
    for (auto p : pieces) all.append(p);
    size_t at = static_cast<size_t>(done);
    while (at < all.size()) {
      ssize_t k = ::pwrite(fd_.get(), all.data() + at, all.size() - at,
                           static_cast<off_t>(offset + at));
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) return Status::IOError("write " + path(), k < 0 ? errno : ENOSPC);
      at += static_cast<size_t>(k);
    }
    return Status::Ok();
  }

  UniqueFd fd_;
  uint64_t size_;
};

class PosixEnv : public Env {
 public:
  Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path, OpenMode mode,
                                                     mode_t perm) override {
    int flags = O_RDWR | O_CLOEXEC;
    if (mode == OpenMode::kCreateNew) flags |= O_CREAT | O_EXCL;
    if (mode == OpenMode::kTruncate) flags |= O_CREAT | O_TRUNC;
    int fd = ::open(path.c_str(), flags, perm);
    if (fd < 0) return Status::IOError(path);
    UniqueFd ufd(fd);
    struct stat st;
    if (::fstat(fd, &st) != 0) return Status::IOError(path);
    return std::unique_ptr<WritableFile>(
        new PosixWritableFile(path, std::move(ufd), static_cast<uint64_t>(st.st_size)));
  }

  Status SyncDir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::IOError(dir);
    UniqueFd ufd(fd);
    if (::fsync(fd) != 0) return Status::IOError("fsync " + dir);
    return Status::Ok();
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return Status::IOError("rename " + from + " to " + to);
    return Status::Ok();
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return Status::IOError("remove " + path);
    return Status::Ok();
  }

  Status RemoveDir(const std::string& path) override {
    if (::rmdir(path.c_str()) != 0) return Status::IOError("remove " + path);
    return Status::Ok();
  }

  Status CreateDir(const std::string& path, mode_t mode) override {
    if (::mkdir(path.c_str(), mode) == 0) return Status::Ok();
    const int err = errno;
    struct stat st;
    if (err == EEXIST && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return Status::Ok();
    return Status::IOError("mkdir " + path, err);
  }

  uint64_t NowMicros() override {
    struct timeval tv;
    ::gettimeofday(&tv, nullptr);
    return static_cast<uint64_t>(tv.tv_sec) * 1000000 + static_cast<uint64_t>(tv.tv_usec);
  }

  void SleepForMicroseconds(int micros) override {
    if (micros > 0) std::this_thread::sleep_for(std::chrono::microseconds(micros));
  }
};

}  // namespace

Env* Env::Default() {
  static Env* env = new PosixEnv();
  return env;
}

}  // namespace cfs
