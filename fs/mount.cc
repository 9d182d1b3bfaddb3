#include "fs/mount.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>

namespace cfs {

Result<std::unique_ptr<Mount>> Mount::Start(std::unique_ptr<Overlay> ov,
                                            const std::string& mountpoint,
                                            const MountOptions& o) {
  struct stat st;
  if (::stat(mountpoint.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Status::Invalid("mount point " + mountpoint + ": not a directory");
  std::unique_ptr<Mount> m(new Mount());
  m->ov_ = std::move(ov);
  m->mountpoint_ = mountpoint;
  std::string fsname = o.fsname;
  for (char& c : fsname)
    if (c == ',') c = '_';
  std::string opts = "fsname=" + fsname + ",subtype=clusterfs,default_permissions";
  if (o.allow_other) opts += ",allow_other";
  for (const auto& e : o.extra) opts += "," + e;
  std::vector<std::string> argv_s = {"clusterfs", "-o", opts};
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  struct fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  m->se_ = fuse_session_new(&args, &m->ov_->ops(), sizeof(fuse_lowlevel_ops), m->ov_.get());
  if (!m->se_) return Status::Invalid("cannot start a FUSE session (options " + opts + ")");
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

}  // namespace cfs
