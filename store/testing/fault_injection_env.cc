#include "store/testing/fault_injection_env.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "base/io.h"

namespace cfs::testing {

namespace {
Status PowerCut() { return Status::IOError("power cut (fault injection)", EIO); }

uint64_t FileSize(int fd) {
  struct stat st;
  return ::fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

uint64_t PathSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// Writes data at offset with plain POSIX (the power is "back": no checks).
Status RawWrite(const std::string& path, uint64_t offset, const std::string& data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) return Status::IOError(path);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t w = ::pwrite(fd.get(), data.data() + done, data.size() - done,
                         static_cast<off_t>(offset + done));
    if (w < 0) return Status::IOError("write " + path);
    done += static_cast<size_t>(w);
  }
  return Status::Ok();
}
}  // namespace

// A file written through the env: checks the power, records undo, forwards.
class FaultFile : public WritableFile {
 public:
  FaultFile(FaultInjectionEnv* env, std::unique_ptr<WritableFile> base)
      : WritableFile(base->path()), env_(env), base_(std::move(base)) {}

  Status WriteAt(uint64_t offset, std::initializer_list<std::string_view> pieces) override {
    MutexLock l(&env_->mu_);
    RETURN_IF_ERROR(env_->PowerLocked());
    uint64_t n = 0;
    for (auto p : pieces) n += p.size();
    env_->SaveUndoLocked(path(), base_->fd(), offset, n);
    return base_->WriteAt(offset, pieces);
  }
  Status PunchHole(uint64_t offset, uint64_t len) override {
    MutexLock l(&env_->mu_);
    RETURN_IF_ERROR(env_->PowerLocked());
    env_->SaveUndoLocked(path(), base_->fd(), offset, len);
    return base_->PunchHole(offset, len);
  }
  Status Truncate(uint64_t size) override {
    MutexLock l(&env_->mu_);
    RETURN_IF_ERROR(env_->PowerLocked());
    uint64_t cur = FileSize(base_->fd());
    if (size < cur) env_->SaveUndoLocked(path(), base_->fd(), size, cur - size);
    return base_->Truncate(size);
  }
  Status Sync() override {
    MutexLock l(&env_->mu_);
    RETURN_IF_ERROR(env_->CountSyncLocked());
    RETURN_IF_ERROR(base_->Sync());
    env_->SyncedLocked(path(), base_->fd());
    return Status::Ok();
  }
  Status Close() override { return base_->Close(); }
  uint64_t size() const override { return base_->size(); }
  int fd() const override { return base_->fd(); }

 private:
  FaultInjectionEnv* env_;
  std::unique_ptr<WritableFile> base_;
};

void FaultInjectionEnv::SetCutAt(uint64_t k) {
  MutexLock l(&mu_);
  cut_at_ = k;
}

uint64_t FaultInjectionEnv::syncs() const {
  MutexLock l(&mu_);
  return syncs_;
}

bool FaultInjectionEnv::power_cut() const {
  MutexLock l(&mu_);
  return cut_;
}

Status FaultInjectionEnv::PowerLocked() const { return cut_ ? PowerCut() : Status::Ok(); }

Status FaultInjectionEnv::CountSyncLocked() {
  RETURN_IF_ERROR(PowerLocked());
  syncs_++;
  if (cut_at_ != 0 && syncs_ >= cut_at_) {
    cut_ = true;
    return PowerCut();
  }
  return Status::Ok();
}

FaultInjectionEnv::FileState& FaultInjectionEnv::StateLocked(const std::string& path) {
  auto it = files_.find(path);
  if (it != files_.end()) return it->second;
  FileState& st = files_[path];
  st.synced_size = PathSize(path);
  return st;
}

void FaultInjectionEnv::SaveUndoLocked(const std::string& path, int fd, uint64_t offset,
                                       uint64_t len) {
  FileState& st = StateLocked(path);
  if (offset >= st.synced_size || len == 0) return;
  uint64_t end = std::min(st.synced_size, offset + len);
  std::string old(end - offset, '\0');
  // A hole or a short file reads as zeros / stops early: keep what is there.
  ssize_t r = ::pread(fd, old.data(), old.size(), static_cast<off_t>(offset));
  old.resize(r > 0 ? static_cast<size_t>(r) : 0);
  old.resize(end - offset, '\0');
  st.undo.push_back(Undo{offset, std::move(old)});
}

void FaultInjectionEnv::SyncedLocked(const std::string& path, int fd) {
  FileState& st = StateLocked(path);
  st.synced_size = FileSize(fd);
  st.undo.clear();
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::OpenWritable(const std::string& path,
                                                                      OpenMode mode, mode_t perm) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(PowerLocked());
  const bool existed = PathExists(path);
  if (existed && mode == OpenMode::kTruncate) {
    // Truncating a durable file is an unsynced change of its bytes.
    FileState& st = StateLocked(path);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.valid()) SaveUndoLocked(path, fd.get(), 0, st.synced_size);
  }
  ASSIGN_OR_RETURN(auto base, target()->OpenWritable(path, mode, perm));
  if (!existed) {
    FileState st;
    st.created = true;
    files_[path] = std::move(st);
  }
  return std::unique_ptr<WritableFile>(new FaultFile(this, std::move(base)));
}

Status FaultInjectionEnv::SyncDir(const std::string& dir) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(CountSyncLocked());
  RETURN_IF_ERROR(target()->SyncDir(dir));
  for (auto& [path, st] : files_)
    if (DirName(path) == dir) st.created = false;
  for (auto& r : renames_) {
    if (DirName(r.from) == dir) r.from_synced = true;
    if (DirName(r.to) == dir) r.to_synced = true;
  }
  std::erase_if(renames_, [](const PendingRename& r) { return r.from_synced && r.to_synced; });
  return Status::Ok();
}

Status FaultInjectionEnv::Rename(const std::string& from, const std::string& to) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(PowerLocked());
  PendingRename r{from, to, std::nullopt, std::nullopt};
  if (PathExists(to)) {
    auto bytes = ReadFile(to, size_t{1} << 30);
    if (!bytes.ok()) return bytes.status();
    r.replaced = std::move(*bytes);
    if (auto it = files_.find(to); it != files_.end()) r.replaced_state = it->second;
  }
  FileState moved = StateLocked(from);
  RETURN_IF_ERROR(target()->Rename(from, to));
  files_.erase(from);
  files_[to] = std::move(moved);
  renames_.push_back(std::move(r));
  return Status::Ok();
}

Status FaultInjectionEnv::RemoveFile(const std::string& path) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(PowerLocked());
  RETURN_IF_ERROR(target()->RemoveFile(path));
  files_.erase(path);
  return Status::Ok();
}

Status FaultInjectionEnv::RemoveDir(const std::string& path) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(PowerLocked());
  return target()->RemoveDir(path);
}

Status FaultInjectionEnv::CreateDir(const std::string& path, mode_t mode) {
  MutexLock l(&mu_);
  RETURN_IF_ERROR(PowerLocked());
  return target()->CreateDir(path, mode);
}

void FaultInjectionEnv::SleepForMicroseconds(int micros) {
  if (!power_cut()) target()->SleepForMicroseconds(micros);
}

void FaultInjectionEnv::RevertRenamesLocked() {
  for (auto it = renames_.rbegin(); it != renames_.rend(); ++it) {
    if (!PathExists(it->to)) continue;  // removed since: nothing to move back
    if (::rename(it->to.c_str(), it->from.c_str()) != 0) continue;
    auto st = files_.extract(it->to);
    if (!st.empty()) {
      st.key() = it->from;
      files_.insert(std::move(st));
    }
    if (it->replaced) {
      (void)RawWrite(it->to, 0, *it->replaced);
      if (it->replaced_state) files_[it->to] = *it->replaced_state;
    }
  }
  renames_.clear();
}

Status FaultInjectionEnv::DropUnsynced() {
  MutexLock l(&mu_);
  RevertRenamesLocked();
  for (auto& [path, st] : files_) {
    if (!PathExists(path)) continue;  // removed behind the env (or never written)
    if (st.created) {
      if (::unlink(path.c_str()) != 0) return Status::IOError("remove " + path);
      continue;
    }
    if (::truncate(path.c_str(), static_cast<off_t>(st.synced_size)) != 0)
      return Status::IOError("truncate " + path);
    for (auto u = st.undo.rbegin(); u != st.undo.rend(); ++u)
      RETURN_IF_ERROR(RawWrite(path, u->offset, u->old));
  }
  files_.clear();
  cut_ = false;
  cut_at_ = 0;
  return Status::Ok();
}

}  // namespace cfs::testing
