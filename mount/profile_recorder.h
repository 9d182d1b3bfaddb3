// Records which file ranges a mount's image lowers serve, in order: what
// `clusterfs mount --record-profile FILE` writes at the unmount
// (store/read_profile.h). Private to mount/.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "fs/lower.h"
#include "store/read_profile.h"

namespace cfs::mount {

class ProfileRecorder {
 public:
  // A read of [off, off+len) of path: grows a range of the path it
  // overlaps or touches, else adds a range. Thread-safe.
  void Note(const std::string& path, uint64_t off, uint64_t len);
  // The ranges in the order first read, those of a file that came to touch
  // merged into the first.
  ReadProfile Snapshot() const;

 private:
  mutable std::mutex mu_;
  ReadProfile profile_;  // guarded by mu_
  std::unordered_map<std::string, std::vector<size_t>> by_path_;  // its ranges; guarded by mu_
};

// inner, with every read of its files noted in rec.
std::unique_ptr<Lower> RecordingLower(std::unique_ptr<Lower> inner,
                                      std::shared_ptr<ProfileRecorder> rec);

}  // namespace cfs::mount
