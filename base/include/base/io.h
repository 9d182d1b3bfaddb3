// Byte streams, file descriptors and locks: the I/O seam of the store.
//
// Everything that reads or writes bytes goes through ByteSource/ByteSink so a
// test can put a torn write or a cut stream in between.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/digest.h"
#include "base/env.h"
#include "base/status.h"

namespace cfs {

// An owned file descriptor. Move-only; closes on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.Release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) Reset(o.Release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// A pull stream. Read returns 0 only at end of stream.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual Result<size_t> Read(void* buf, size_t n) = 0;
  // Reads exactly n bytes or fails with Corruption("unexpected end of ...").
  Status ReadFull(void* buf, size_t n, const char* what);
};

// A push stream.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual Status Write(const void* data, size_t n) = 0;
  Status Write(std::string_view s) { return Write(s.data(), s.size()); }
  virtual Status Close() { return Status::Ok(); }
};

// Reads a file (or any fd) sequentially.
class FdSource : public ByteSource {
 public:
  explicit FdSource(UniqueFd fd) : fd_(std::move(fd)) {}
  static Result<std::unique_ptr<FdSource>> Open(const std::string& path);
  Result<size_t> Read(void* buf, size_t n) override;

 private:
  UniqueFd fd_;
};

// Reads another source in large blocks and serves small reads from memory,
// so a parser reading 512-byte headers does not cost a read(2) each. A read
// of at least the block size, with nothing buffered, goes straight through
// (no copy). Not thread-safe.
class BufferedSource : public ByteSource {
 public:
  // in: not owned. block: the size of the reads passed to in (>= 1).
  BufferedSource(ByteSource* in, size_t block) : in_(in), buf_(block, '\0') {}
  Result<size_t> Read(void* buf, size_t n) override;

 private:
  ByteSource* in_;
  std::string buf_;
  size_t pos_ = 0, end_ = 0;  // buf_[pos_, end_) is read ahead, not yet served
};

// Reads from a memory buffer (not owned).
class MemorySource : public ByteSource {
 public:
  explicit MemorySource(std::string_view data) : data_(data) {}
  Result<size_t> Read(void* buf, size_t n) override;

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

// Appends to a std::string.
class StringSink : public ByteSink {
 public:
  explicit StringSink(std::string* out) : out_(out) {}
  using ByteSink::Write;
  Status Write(const void* data, size_t n) override {
    out_->append(static_cast<const char*>(data), n);
    return Status::Ok();
  }

 private:
  std::string* out_;
};

// Writes to a file descriptor (not owned).
class FdSink : public ByteSink {
 public:
  explicit FdSink(int fd) : fd_(fd) {}
  using ByteSink::Write;
  Status Write(const void* data, size_t n) override;

 private:
  int fd_;
};

// Counts bytes and discards them.
class CountingSink : public ByteSink {
 public:
  using ByteSink::Write;
  Status Write(const void*, size_t n) override {
    count_ += n;
    return Status::Ok();
  }
  uint64_t count() const { return count_; }

 private:
  uint64_t count_ = 0;
};

// Forwards to another sink, counting the bytes and, when asked, hashing them
// (a blob's offset, size and digest while it is written).
class ForwardingSink : public ByteSink {
 public:
  explicit ForwardingSink(ByteSink* out, bool hash = false) : out_(out), hash_(hash) {}
  using ByteSink::Write;
  Status Write(const void* data, size_t n) override {
    RETURN_IF_ERROR(out_->Write(data, n));
    if (hash_) sha_.Update(data, n);
    count_ += n;
    return Status::Ok();
  }
  uint64_t count() const { return count_; }
  Digest Finish() { return sha_.Finish(); }  // REQUIRES: constructed with hash

 private:
  ByteSink* out_;
  bool hash_;
  Sha256 sha_;
  uint64_t count_ = 0;
};

// Writes a file atomically through env: data goes to "<path>.tmp.<pid>.<rand>",
// and Commit() syncs it, renames it over path and syncs the directory, so
// after a crash path holds either its old or its new bytes. Destroyed
// without Commit(), the temporary file is removed and path is untouched.
class AtomicFileSink : public ByteSink {
 public:
  static Result<std::unique_ptr<AtomicFileSink>> Create(Env* env, const std::string& path,
                                                        mode_t mode = 0644);
  // The same with Env::Default().
  static Result<std::unique_ptr<AtomicFileSink>> Create(const std::string& path,
                                                        mode_t mode = 0644) {
    return Create(Env::Default(), path, mode);
  }
  ~AtomicFileSink() override;
  using ByteSink::Write;
  Status Write(const void* data, size_t n) override;
  Status Commit();
  uint64_t bytes_written() const { return written_; }

 private:
  AtomicFileSink(Env* env, std::string path, std::unique_ptr<WritableFile> file)
      : env_(env), path_(std::move(path)), file_(std::move(file)) {}
  Env* env_;
  std::string path_;
  std::unique_ptr<WritableFile> file_;  // the temporary file
  uint64_t written_ = 0;
  bool committed_ = false;
};

// An advisory whole-file lock (flock) held for the object's lifetime.
class FileLock {
 public:
  enum class Mode { kShared, kExclusive };
  // Blocks until the lock is granted.
  static Result<FileLock> Acquire(const std::string& path, Mode mode);
  // Returns Busy at once when another process holds a conflicting lock.
  static Result<FileLock> TryAcquire(const std::string& path, Mode mode);
  FileLock(FileLock&&) = default;
  FileLock& operator=(FileLock&&) = default;
  FileLock() = default;
  bool held() const { return fd_.valid(); }
  void Release() { fd_.Reset(); }

 private:
  explicit FileLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// Whole-file helpers.
Result<std::string> ReadFile(const std::string& path, size_t max_size = 256u << 20);
// AtomicFileSink in one call (through env; the first form: Env::Default()).
Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode = 0644);
Status WriteFileAtomic(Env* env, const std::string& path, std::string_view data,
                       mode_t mode = 0644);
Status WriteAll(int fd, const void* data, size_t n);
Status PreadAll(int fd, void* buf, size_t n, uint64_t off);
Status MakeDirs(const std::string& path, mode_t mode = 0755);
Status FsyncDir(const std::string& dir);  // env->SyncDir(dir) with Env::Default()
Status FsyncDir(Env* env, const std::string& dir);
Status RemoveTree(const std::string& path);
bool PathExists(const std::string& path);
// Disk bytes allocated to a file, or to a whole tree (symlinks not
// followed); 0 for what cannot be read.
uint64_t DiskBytes(const std::string& path);
// Names in dir (not "." or ".."), sorted, keeping those ending in suffix.
Result<std::vector<std::string>> ListDir(const std::string& dir, const std::string& suffix = "");
// Random hex string of n bytes (2n characters), from the kernel's CSPRNG.
std::string RandomHex(size_t n);

// A temporary directory, removed with its contents on destruction.
class TempDir {
 public:
  static Result<TempDir> Create(const std::string& parent, const std::string& prefix);
  TempDir() = default;
  TempDir(TempDir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  TempDir& operator=(TempDir&& o) noexcept;
  ~TempDir();
  const std::string& path() const { return path_; }
  // Keeps the directory: the caller becomes responsible for removing it.
  std::string Release() { return std::exchange(path_, std::string()); }

 private:
  std::string path_;
};

}  // namespace cfs
