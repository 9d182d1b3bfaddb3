// WorkDir: a scratch directory in the store's tmp/ that one live process
// owns (cimg build), recording what must be undone if that process dies
// without cleaning up (kill -9, a crash): the FUSE mounts inside it and the
// process groups it started.
//
//   tmp/PREFIXxxxxxx/owner.lock  flock'ed exclusively by the owner for its life
//   tmp/PREFIXxxxxxx/undo.json   {"mounts":["/abs/mnt",...],
//                                 "groups":[{"pgid":N,"start":T},...]}
//
// gc (RemoveStaleScratch) leaves a directory whose owner.lock is held alone
// and calls ReclaimScratch on the others: it kills the recorded process
// groups, detaches the recorded mounts, and then the directory can go.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "base/env.h"
#include "base/io.h"
#include "base/status.h"

namespace cfs {

class WorkDir {
 public:
  // Creates store_root/tmp/PREFIXxxxxxx with its owner lock held. The
  // store's gc.lock is held shared meanwhile, so a gc never sees the
  // directory before its owner lock. undo.json is written through env (the
  // store's; it must outlive the WorkDir).
  static Result<WorkDir> Create(const std::string& store_root, const std::string& prefix,
                                Env* env = Env::Default());
  WorkDir() = default;
  WorkDir(WorkDir&&) = default;
  WorkDir& operator=(WorkDir&&) = default;
  // Removes the directory (the caller unmounted what it mounted).
  ~WorkDir();

  const std::string& path() const { return dir_.path(); }

  // Call before mounting at mnt (an absolute path inside path()).
  Status AddMount(const std::string& mnt);
  // Call after unmounting.
  Status RemoveMount(const std::string& mnt);
  // Call while the group's leader (pid == pgid) is alive, before it runs
  // anything: its start time tells it apart from a later process of that pid.
  Status AddGroup(pid_t pgid);
  Status RemoveGroup(pid_t pgid);

 private:
  Status Save();

  Env* env_ = Env::Default();
  FileLock owner_;
  TempDir dir_;  // after owner_: removed before the lock is released
  std::vector<std::string> mounts_;
  std::vector<std::pair<pid_t, unsigned long long>> groups_;  // pgid, start time
};

// For a directory in tmp/: Busy when a live process holds its owner.lock.
// Otherwise (a work dir of a dead process, or scratch without an owner):
// kills the process groups it records (those still the same groups), detaches
// the mounts it records, and returns Ok when nothing is mounted under it any
// more, so that it can be removed.
Status ReclaimScratch(const std::string& dir);

}  // namespace cfs
