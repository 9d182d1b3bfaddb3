#include "rocks_env.h"

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/system_clock.h>

#include <string>

namespace cfs {

namespace {

using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;

IOStatus ToIOStatus(const Status& s) {
  if (s.ok()) return IOStatus::OK();
  if (s.err() == ENOSPC) return IOStatus::NoSpace(s.message());
  if (s.err() == ENOENT) return IOStatus::PathNotFound(s.message());
  return IOStatus::IOError(s.message());
}

// One of RocksDB's files (WAL, MANIFEST, table, CURRENT's temp file), written
// through our WritableFile. RocksDB buffers itself, so Flush has nothing to do.
class RocksWritableFile : public rocksdb::FSWritableFile {
 public:
  explicit RocksWritableFile(std::unique_ptr<WritableFile> f) : file_(std::move(f)) {}
  ~RocksWritableFile() override { (void)file_->Close(); }

  IOStatus Append(const rocksdb::Slice& data, const IOOptions&, IODebugContext*) override {
    return ToIOStatus(file_->Append(std::string_view(data.data(), data.size())));
  }
  IOStatus Truncate(uint64_t size, const IOOptions&, IODebugContext*) override {
    return ToIOStatus(file_->Truncate(size));
  }
  IOStatus Close(const IOOptions&, IODebugContext*) override { return ToIOStatus(file_->Close()); }
  IOStatus Flush(const IOOptions&, IODebugContext*) override { return IOStatus::OK(); }
  IOStatus Sync(const IOOptions&, IODebugContext*) override { return ToIOStatus(file_->Sync()); }
  IOStatus Fsync(const IOOptions&, IODebugContext*) override { return ToIOStatus(file_->Sync()); }
  uint64_t GetFileSize(const IOOptions&, IODebugContext*) override { return file_->size(); }

 private:
  std::unique_ptr<WritableFile> file_;
};

class RocksDirectory : public rocksdb::FSDirectory {
 public:
  RocksDirectory(Env* env, std::string dir) : env_(env), dir_(std::move(dir)) {}
  IOStatus Fsync(const IOOptions&, IODebugContext*) override {
    return ToIOStatus(env_->SyncDir(dir_));
  }
  IOStatus Close(const IOOptions&, IODebugContext*) override { return IOStatus::OK(); }

 private:
  Env* env_;
  std::string dir_;
};

// RocksDB's default file system for reads, ours for every change.
class RocksFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit RocksFileSystem(Env* env)
      : rocksdb::FileSystemWrapper(rocksdb::FileSystem::Default()), env_(env) {}
  const char* Name() const override { return "CfsEnvFileSystem"; }

  IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions&,
                           std::unique_ptr<rocksdb::FSWritableFile>* r, IODebugContext*) override {
    return Open(f, Env::OpenMode::kTruncate, r);
  }
  IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions&,
                              std::unique_ptr<rocksdb::FSWritableFile>* r,
                              IODebugContext* dbg) override {
    IOStatus exists = target()->FileExists(f, IOOptions(), dbg);
    return Open(f, exists.ok() ? Env::OpenMode::kExisting : Env::OpenMode::kCreateNew, r);
  }
  IOStatus ReuseWritableFile(const std::string& f, const std::string& old,
                             const rocksdb::FileOptions& o,
                             std::unique_ptr<rocksdb::FSWritableFile>* r,
                             IODebugContext* dbg) override {
    IOStatus s = RenameFile(old, f, IOOptions(), dbg);
    return s.ok() ? Open(f, Env::OpenMode::kTruncate, r) : s;
  }
  IOStatus NewRandomRWFile(const std::string&, const rocksdb::FileOptions&,
                           std::unique_ptr<rocksdb::FSRandomRWFile>*, IODebugContext*) override {
    return IOStatus::NotSupported("random read-write files (not through the store's Env)");
  }
  IOStatus NewDirectory(const std::string& name, const IOOptions&,
                        std::unique_ptr<rocksdb::FSDirectory>* r, IODebugContext*) override {
    r->reset(new RocksDirectory(env_, name));
    return IOStatus::OK();
  }
  IOStatus DeleteFile(const std::string& f, const IOOptions&, IODebugContext*) override {
    return ToIOStatus(env_->RemoveFile(f));
  }
  IOStatus Truncate(const std::string& f, size_t size, const IOOptions&, IODebugContext*) override {
    auto file = env_->OpenWritable(f, Env::OpenMode::kExisting);
    if (!file.ok()) return ToIOStatus(file.status());
    return ToIOStatus((*file)->Truncate(size));
  }
  IOStatus CreateDir(const std::string& d, const IOOptions& o, IODebugContext* dbg) override {
    if (target()->FileExists(d, o, dbg).ok()) return IOStatus::IOError(d + ": exists");
    return ToIOStatus(env_->CreateDir(d));
  }
  IOStatus CreateDirIfMissing(const std::string& d, const IOOptions&, IODebugContext*) override {
    return ToIOStatus(env_->CreateDir(d));
  }
  IOStatus DeleteDir(const std::string& d, const IOOptions&, IODebugContext*) override {
    return ToIOStatus(env_->RemoveDir(d));
  }
  IOStatus RenameFile(const std::string& from, const std::string& to, const IOOptions&,
                      IODebugContext*) override {
    return ToIOStatus(env_->Rename(from, to));
  }
  IOStatus LinkFile(const std::string&, const std::string&, const IOOptions&,
                    IODebugContext*) override {
    return IOStatus::NotSupported("hard links (not through the store's Env)");
  }

 private:
  IOStatus Open(const std::string& f, Env::OpenMode mode,
                std::unique_ptr<rocksdb::FSWritableFile>* r) {
    auto file = env_->OpenWritable(f, mode);
    if (!file.ok()) return ToIOStatus(file.status());
    r->reset(new RocksWritableFile(std::move(*file)));
    return IOStatus::OK();
  }

  Env* env_;
};

// RocksDB's clock: time and pauses from our Env.
class RocksClock : public rocksdb::SystemClockWrapper {
 public:
  explicit RocksClock(Env* env)
      : rocksdb::SystemClockWrapper(rocksdb::SystemClock::Default()), env_(env) {}
  const char* Name() const override { return "CfsEnvClock"; }
  uint64_t NowMicros() override { return env_->NowMicros(); }
  void SleepForMicroseconds(int micros) override { env_->SleepForMicroseconds(micros); }

 private:
  Env* env_;
};

class RocksEnv : public rocksdb::EnvWrapper {
 public:
  explicit RocksEnv(cfs::Env* env)
      : rocksdb::EnvWrapper(rocksdb::NewCompositeEnv(std::make_shared<RocksFileSystem>(env))) {
    system_clock_ = std::make_shared<RocksClock>(env);
  }
  const char* Name() const override { return "CfsEnv"; }
  uint64_t NowMicros() override { return system_clock_->NowMicros(); }
  void SleepForMicroseconds(int micros) override { system_clock_->SleepForMicroseconds(micros); }
};

}  // namespace

std::unique_ptr<rocksdb::Env> NewRocksEnv(Env* env) { return std::make_unique<RocksEnv>(env); }

}  // namespace cfs
