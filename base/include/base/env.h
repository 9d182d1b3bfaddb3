// Env: the seam through which the store makes every write and every sync
// (leveldb's Env, cut down to what the store needs).
//
// Files are created, written, synced, renamed and removed through an Env, so
// a test can see and control each of those steps: store/testing/
// fault_injection_env.h wraps Env::Default() and forgets, on demand, what a
// power cut would lose. Reads stay plain POSIX (open/pread/mmap): what was
// written is really on the file, so readers see it as the kernel shows it.
//
// Contracts every implementation keeps:
//  * A write is durable only after Sync() of its file returned Ok.
//  * A file's creation, a rename or a removal is durable only after SyncDir()
//    of the directory holding the name (both directories for a rename).
//  * Errors are IOError naming the path (with errno where there is one).
// Env::Default() lives for the whole process; every method of every Env is
// thread-safe, and a WritableFile may be used by one thread at a time.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace cfs {

// A file open for writing. Its fd stays visible (callers flock packs and
// fstat them) but writes go through the methods below, never the fd.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  WritableFile(const WritableFile&) = delete;
  WritableFile& operator=(const WritableFile&) = delete;

  // Writes the pieces back to back at offset (one pwritev when it can).
  virtual Status WriteAt(uint64_t offset, std::initializer_list<std::string_view> pieces) = 0;
  Status WriteAt(uint64_t offset, std::string_view data) { return WriteAt(offset, {data}); }
  // Writes at the end of the file (its size when opened plus what was
  // appended since; WriteAt past it moves it too).
  Status Append(std::string_view data) { return WriteAt(size(), {data}); }
  // Deallocates [offset, offset+len) keeping the size: reads give zeros.
  // IOError with errno EOPNOTSUPP (and nothing changed) where the filesystem
  // cannot.
  virtual Status PunchHole(uint64_t offset, uint64_t len) = 0;
  virtual Status Truncate(uint64_t size) = 0;
  // Makes the file's data (and size) durable: fdatasync.
  virtual Status Sync() = 0;
  // Closes the fd; later calls fail. The destructor closes too.
  virtual Status Close() = 0;

  const std::string& path() const { return path_; }
  // The file's size as far as this handle knows (writes through it included).
  virtual uint64_t size() const = 0;
  virtual int fd() const = 0;

 protected:
  explicit WritableFile(std::string path) : path_(std::move(path)) {}

 private:
  const std::string path_;
};

class Env {
 public:
  // How OpenWritable treats the path.
  enum class OpenMode {
    kCreateNew,  // O_CREAT|O_EXCL: IOError with errno EEXIST when it exists
    kTruncate,   // O_CREAT|O_TRUNC
    kExisting,   // the file must exist; writes change it in place
  };

  virtual ~Env() = default;
  // The POSIX Env. Never deleted.
  static Env* Default();

  virtual Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path, OpenMode mode,
                                                             mode_t perm = 0644) = 0;
  // Makes the names in dir (creations, renames, removals) durable.
  virtual Status SyncDir(const std::string& dir) = 0;
  // rename(2): replaces `to` atomically when it exists.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // unlink(2). IOError with errno ENOENT when it is not there.
  virtual Status RemoveFile(const std::string& path) = 0;
  // rmdir(2) of an empty directory.
  virtual Status RemoveDir(const std::string& path) = 0;
  // mkdir(2). Ok when a directory is already there.
  virtual Status CreateDir(const std::string& path, mode_t mode = 0755) = 0;
  // Microseconds since the epoch (the store's record times).
  virtual uint64_t NowMicros() = 0;
  // Waits (RocksDB's pauses before it retries failed background work).
  virtual void SleepForMicroseconds(int micros) = 0;

  // Helpers built on the above.
  // Every missing directory of path, parents first.
  Status CreateDirs(const std::string& path, mode_t mode = 0755);
  // path and everything under it (not following symlinks); Ok when absent.
  Status RemoveTree(const std::string& path);
};

// An Env that forwards everything to another (not owned). Tests derive from
// it and override what they watch.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}
  Env* target() const { return target_; }
  Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path, OpenMode mode,
                                                     mode_t perm) override {
    return target_->OpenWritable(path, mode, perm);
  }
  Status SyncDir(const std::string& dir) override { return target_->SyncDir(dir); }
  Status Rename(const std::string& from, const std::string& to) override {
    return target_->Rename(from, to);
  }
  Status RemoveFile(const std::string& path) override { return target_->RemoveFile(path); }
  Status RemoveDir(const std::string& path) override { return target_->RemoveDir(path); }
  Status CreateDir(const std::string& path, mode_t mode) override {
    return target_->CreateDir(path, mode);
  }
  uint64_t NowMicros() override { return target_->NowMicros(); }
  void SleepForMicroseconds(int micros) override { target_->SleepForMicroseconds(micros); }

 private:
  Env* target_;
};

// The directory part of path ("." when there is none).
std::string DirName(const std::string& path);

}  // namespace cfs
