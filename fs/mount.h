// A live FUSE mount of an Overlay, served by threads of this process, for
// tools that mount, work through the mount and unmount again (cimg build).
// The clusterfs daemon mounts through mount/image_mount.h instead, which
// adds what a long-lived mount needs (libfuse's signal handlers, state files).
#pragma once

#include <functional>
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

// A FUSE session serving ov (not owned) with clusterfs's options: fsname
// (commas replaced), subtype=clusterfs, default_permissions, allow_other
// when asked, then o.extra; libfuse's debug output when debug. Not mounted
// yet. Invalid naming the options when libfuse refuses them.
Result<fuse_session*> NewFuseSession(Overlay* ov, const MountOptions& o, bool debug = false);

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

// Calls on_end once, on its own thread, as soon as the mount of session
// `se` goes away: it leaves this process's mount table (an unmount: the
// kernel then waits for the reads in flight before it ends the connection)
// or the kernel ends the FUSE connection (an abort: /dev/fuse polls
// POLLERR). For cancelling what those reads wait on (the network), so the
// unmount completes. dev: the mount's "major:minor" (mountinfo field 3);
// "" watches the connection only; se null watches the mount table only
// (the connection watch wakes on every request). Destroying the watch
// stops it (on_end not called then) and joins.
class ConnectionWatch {
 public:
  static Result<std::unique_ptr<ConnectionWatch>> Start(fuse_session* se, const std::string& dev,
                                                        std::function<void()> on_end);
  ~ConnectionWatch();
  ConnectionWatch(const ConnectionWatch&) = delete;
  ConnectionWatch& operator=(const ConnectionWatch&) = delete;

 private:
  ConnectionWatch() = default;
  int wake_fd_ = -1;  // eventfd: written by the destructor
  std::thread thread_;
};

}  // namespace cfs
