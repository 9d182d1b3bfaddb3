// FaultInjectionEnv (tests only): an Env that can "cut the power" and then
// put the disk back into a state a real power cut could leave.
//
// It writes for real through Env::Default() (so reads, mmap and RocksDB see
// the bytes, as they would in the page cache) and keeps, per file it wrote:
//  * the file's length at its last Sync() -- bytes past it are not durable;
//  * undo records (offset, old bytes) for every overwrite, punch or truncation
//    of bytes below that length since the last Sync();
//  * whether its creation (or the rename that gave it its name) was made
//    durable by a SyncDir() of its directory.
// Files it never wrote count as durable as they are.
//
// SetCutAt(k): the k-th sync (file syncs and directory syncs together,
// RocksDB's included when RocksDB writes through this Env) fails, and so does
// every later write, sync, rename, removal and creation, with
// IOError("power cut (fault injection)").
// DropUnsynced(): REQUIRES nothing writes any more (the store is closed).
// Reverts renames not made durable (restoring a file they replaced), cuts
// files to their synced length, undoes unsynced overwrites, removes files
// whose creation was never made durable, and turns the power back on.
// Not modelled: a removal without a directory sync (the file stays gone; a
// real disk could bring it back), and directories created without a sync of
// their parent (they stay).
// Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/thread_annotations.h"

namespace cfs::testing {

class FaultInjectionEnv : public EnvWrapper {
 public:
  FaultInjectionEnv() : EnvWrapper(Env::Default()) {}

  // k = 0: never cut (the default).
  void SetCutAt(uint64_t k) EXCLUDES(mu_);
  // Sync points seen so far (failed ones included).
  uint64_t syncs() const EXCLUDES(mu_);
  bool power_cut() const EXCLUDES(mu_);
  Status DropUnsynced() EXCLUDES(mu_);

  Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path, OpenMode mode,
                                                     mode_t perm) override EXCLUDES(mu_);
  Status SyncDir(const std::string& dir) override EXCLUDES(mu_);
  Status Rename(const std::string& from, const std::string& to) override EXCLUDES(mu_);
  Status RemoveFile(const std::string& path) override EXCLUDES(mu_);
  Status RemoveDir(const std::string& path) override EXCLUDES(mu_);
  Status CreateDir(const std::string& path, mode_t mode) override EXCLUDES(mu_);
  // With the power cut there is nothing to wait for: returns at once.
  void SleepForMicroseconds(int micros) override EXCLUDES(mu_);

 private:
  friend class FaultFile;
  struct Undo {
    uint64_t offset;
    std::string old;  // the bytes there before the change
  };
  struct FileState {
    uint64_t synced_size = 0;
    std::vector<Undo> undo;  // in the order the changes were made
    bool created = false;    // its name is not durable yet
  };
  struct PendingRename {
    std::string from, to;
    std::optional<std::string> replaced;  // bytes of the file `to` named before
    std::optional<FileState> replaced_state;
    bool from_synced = false, to_synced = false;
  };

  Status PowerLocked() const REQUIRES(mu_);
  Status CountSyncLocked() REQUIRES(mu_);
  // The state of path, taking an untracked file as durable at its size.
  FileState& StateLocked(const std::string& path) REQUIRES(mu_);
  // Remembers the synced bytes of path in [offset, offset+len) before a change.
  void SaveUndoLocked(const std::string& path, int fd, uint64_t offset, uint64_t len)
      REQUIRES(mu_);
  void SyncedLocked(const std::string& path, int fd) REQUIRES(mu_);
  void RevertRenamesLocked() REQUIRES(mu_);

  mutable Mutex mu_;
  uint64_t cut_at_ GUARDED_BY(mu_) = 0;
  uint64_t syncs_ GUARDED_BY(mu_) = 0;
  bool cut_ GUARDED_BY(mu_) = false;
  std::map<std::string, FileState> files_ GUARDED_BY(mu_);
  std::vector<PendingRename> renames_ GUARDED_BY(mu_);
};

}  // namespace cfs::testing
