// A live FUSE mount of an Overlay, served by threads of this process, for
// tools that mount, work through the mount and unmount again (cimg build).
// The clusterfs daemon uses the same steps with its own process handling.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fs/overlay.h"

struct fuse_session;

namespace cfs {

struct MountOptions {
  std::string fsname = "clusterfs";
  bool allow_other = false;  // private to the mounting user otherwise
  std::vector<std::string> extra;  // more -o options for the kernel ("nosuid", ...)
  int threads = 8;
};

class Mount {
 public:
  // Mounts ov on mountpoint (an existing directory); the mount is live when
  // this returns. Read-only when ov has no upper dir.
  static Result<std::unique_ptr<Mount>> Start(std::unique_ptr<Overlay> ov,
                                              const std::string& mountpoint,
                                              const MountOptions& o);
  // Unmounts (if still mounted) and stops the threads.
  ~Mount();
  Mount(const Mount&) = delete;
  Mount& operator=(const Mount&) = delete;
  // Unmounts: fails (EBUSY) while something uses the mount.
  Status Unmount();
  const std::string& mountpoint() const { return mountpoint_; }

 private:
  Mount() = default;
  std::unique_ptr<Overlay> ov_;
  std::string mountpoint_;
  fuse_session* se_ = nullptr;
  std::thread loop_;
  bool mounted_ = false;
};

}  // namespace cfs
