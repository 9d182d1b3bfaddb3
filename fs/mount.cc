#include "fs/mount.h"

#include "base/mountinfo.h"
#include "fs/read_request_size.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string_view>

namespace cfs {

Result<fuse_session*> NewFuseSession(Overlay* ov, const MountOptions& o, bool debug) {
  std::string fsname = o.fsname;
  for (char& c : fsname)
    if (c == ',') c = '_';
  std::string opts = "fsname=" + fsname + ",subtype=clusterfs,default_permissions";
  if (o.allow_other) opts += ",allow_other";
  // READs whose replies libfuse can splice (fs/read_request_size.h); op_init
  // repeats the value, as libfuse requires.
  if (size_t max_read = MaxReadRequest()) opts += ",max_read=" + std::to_string(max_read);
  for (const auto& e : o.extra) opts += "," + e;
  std::vector<std::string> argv_s = {"clusterfs", "-o", opts};
  if (debug) argv_s.push_back("-d");
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  struct fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  fuse_session* se = fuse_session_new(&args, &ov->ops(), sizeof(fuse_lowlevel_ops), ov);
  if (se == nullptr) return Status::Invalid("cannot start a FUSE session (bad options: " + opts + ")");
  return se;
}

Result<std::unique_ptr<Mount>> Mount::Start(std::unique_ptr<Overlay> ov,
                                            const std::string& mountpoint,
                                            const MountOptions& o) {
  struct stat st;
  if (::stat(mountpoint.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Status::Invalid("mount point " + mountpoint + ": not a directory");
  std::unique_ptr<Mount> m(new Mount());
  m->ov_ = std::move(ov);
  m->mountpoint_ = mountpoint;
  ASSIGN_OR_RETURN(m->se_, NewFuseSession(m->ov_.get(), o));
  if (fuse_session_mount(m->se_, mountpoint.c_str()) != 0) {
    fuse_session_destroy(m->se_);
    m->se_ = nullptr;
    return Status::IOError("mounting on " + mountpoint + " failed", EIO);
  }
  m->mounted_ = true;
  int threads = o.threads;
  fuse_session* se = m->se_;
  m->loop_ = std::thread([se, threads] {
    struct fuse_loop_config* cfg = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(cfg, threads);
    fuse_loop_cfg_set_idle_threads(cfg, threads);
    fuse_session_loop_mt(se, cfg);
    fuse_loop_cfg_destroy(cfg);
  });
  // Live once the kernel answered INIT: a stat of the mount point waits for it.
  ::stat(mountpoint.c_str(), &st);
  return m;
}

Status Mount::Unmount() {
  if (!mounted_) return Status::Ok();
  if (::umount2(mountpoint_.c_str(), 0) != 0) return Status::IOError("unmount " + mountpoint_);
  mounted_ = false;
  // The kernel ends the connection; the loop sees it and returns.
  if (loop_.joinable()) loop_.join();
  fuse_session_unmount(se_);
  return Status::Ok();
}

Mount::~Mount() {
  if (mounted_ && !Unmount().ok()) {
    ::umount2(mountpoint_.c_str(), MNT_DETACH);
    mounted_ = false;
    fuse_session_exit(se_);
  }
  if (loop_.joinable()) loop_.join();
  if (se_) fuse_session_destroy(se_);
}

namespace {

// Whether mountinfo (read from fd) lists a mount of device dev.
bool Listed(int fd, const std::string& dev) {
  std::string all;
  char buf[16384];
  ssize_t n;
  off_t off = 0;
  while ((n = ::pread(fd, buf, sizeof buf, off)) > 0) {
    all.append(buf, static_cast<size_t>(n));
    off += n;
  }
  if (n < 0) return true;  // unknown: keep watching the connection
  for (const auto& m : ParseMountInfo(all))
    if (m.device == dev) return true;
  return false;
}

}  // namespace

Result<std::unique_ptr<ConnectionWatch>> ConnectionWatch::Start(fuse_session* se,
                                                                const std::string& dev,
                                                                std::function<void()> on_end) {
  std::unique_ptr<ConnectionWatch> w(new ConnectionWatch());
  w->wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
  if (w->wake_fd_ < 0) return Status::IOError("eventfd", errno);
  int mi = dev.empty() ? -1 : ::open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
  int fuse_fd = se ? fuse_session_fd(se) : -1, wake = w->wake_fd_;
  w->thread_ = std::thread([fuse_fd, wake, mi, dev, on_end = std::move(on_end)] {
    // events = 0 on /dev/fuse: only POLLERR (connection gone) wakes us for
    // good; pending requests are not asked for (the workers read them).
    // mountinfo polls POLLPRI on every change of the mount table.
    struct pollfd fds[3] = {{wake, POLLIN, 0}, {fuse_fd, 0, 0}, {mi, POLLPRI, 0}};
    bool gone = false;
    while (!gone) {
      int n = ::poll(fds, mi >= 0 ? 3 : 2, -1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 || (fds[0].revents & POLLIN)) break;
      gone = (fuse_fd >= 0 && (fds[1].revents & (POLLERR | POLLHUP | POLLNVAL))) ||
             (mi >= 0 && (fds[2].revents & (POLLPRI | POLLERR)) && !Listed(mi, dev));
    }
    if (mi >= 0) ::close(mi);
    if (gone) on_end();
  });
  return w;
}

ConnectionWatch::~ConnectionWatch() {
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  ::close(wake_fd_);
}

}  // namespace cfs
