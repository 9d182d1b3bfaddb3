#include "mount/image_mount.h"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <thread>
#include <utility>

#include "fs/mount.h"
#include "image_overlay.h"
#include "mount/mount_state.h"
#include "mount/mount_table.h"

namespace cfs::mount {
namespace {

void Log(const ImageMountOptions& o, const std::string& line) {
  if (o.log) o.log(line);
}

// The FUSE session of ov, mounted on o.mountpoint (with libfuse's signal
// handlers).
Result<fuse_session*> MountSession(const ImageMountOptions& o, Overlay* ov) {
  MountOptions mo;
  mo.fsname = o.source == "none" || o.source.empty() ? "clusterfs" : o.source;
  mo.allow_other = o.allow_other;
  if (o.upper.empty()) mo.extra.push_back("ro");
  mo.extra.insert(mo.extra.end(), o.fuse_opts.begin(), o.fuse_opts.end());
  ASSIGN_OR_RETURN(fuse_session * se, NewFuseSession(ov, mo, o.debug));
  if (fuse_set_signal_handlers(se) != 0) {
    fuse_session_destroy(se);
    return Status::IOError("cannot install signal handlers");
  }
  if (fuse_session_mount(se, o.mountpoint.c_str()) != 0) {
    fuse_remove_signal_handlers(se);
    fuse_session_destroy(se);
    return Status::IOError("mounting on " + o.mountpoint + " failed (see the message above)");
  }
  return se;
}

// FUSE mounts get the 128 KiB default read-ahead; sequential reads of big
// files go much faster with more (root only; best effort). The kernel sets
// it while it handles our INIT reply, so raise it after that: a stat of the
// mount point returns only once INIT is done.
void RaiseReadahead(const ImageMountOptions& o) {
  if (o.readahead_kb == 0) return;
  std::string dev = MountDevice(o.mountpoint);
  std::thread([dev, kb = o.readahead_kb, mnt = o.mountpoint] {
    struct stat st;
    if (dev.empty() || ::stat(mnt.c_str(), &st) != 0) return;
    std::ofstream ra("/sys/class/bdi/" + dev + "/read_ahead_kb");
    ra << kb << "\n";
  }).detach();
}

// When the mount leaves the mount table (an unmount), cancels the registry
// transfers at once -- the kernel completes the unmount only once the reads
// in flight end -- and ends the session loop (SIGTERM to the calling thread,
// libfuse's handler): a copy of the mount in another mount namespace (made
// by unshare -m while it was mounted) would keep the connection, and this
// daemon, alive long after the unmount (reads there then fail ENOTCONN).
// Sets *gone then. Null when the watch cannot start (logged).
std::unique_ptr<ConnectionWatch> WatchUnmount(fuse_session* se, const ImageMountOptions& o,
                                              lazy::LazyChunkSource* lazy,
                                              std::atomic<bool>* gone) {
  pthread_t main_thread = ::pthread_self();
  auto log = o.log;
  auto w = ConnectionWatch::Start(
      lazy ? se : nullptr, MountDevice(o.mountpoint), [lazy, main_thread, gone, log] {
        if (lazy) {
          if (log) log("unmounted: cancelling the registry transfers in flight");
          lazy->Cancel();
        }
        *gone = true;
        ::pthread_kill(main_thread, SIGTERM);
      });
  if (w.ok()) return std::move(*w);
  Log(o, "cannot watch for the unmount (" + w.status().message() +
             "): an unmount waits for the reads in flight");
  return nullptr;
}

}  // namespace

ImageMount::ImageMount(ImageMountOptions o)
    : options_(std::move(o)), overlay_(std::make_unique<ImageOverlay>()) {}

ImageMount::~ImageMount() {
  if (session_ != nullptr) EndSession(false);
}

Result<std::unique_ptr<ImageMount>> ImageMount::Prepare(ImageMountOptions o) {
  std::unique_ptr<ImageMount> m(new ImageMount(std::move(o)));
  if (Status s = BuildImageOverlay(m->options_, m->overlay_.get()); !s.ok()) return s;
  return m;
}

Status ImageMount::Mount() {
  auto se = MountSession(options_, overlay_->overlay.get());
  if (!se.ok()) return se.status();
  session_ = *se;
  RaiseReadahead(options_);
  MountState st;
  st.mountpoint = options_.mountpoint;
  st.root = overlay_->store ? overlay_->store->root() : "";
  st.source = options_.source;
  st.manifests = overlay_->manifests;
  st.dir_lowers = overlay_->dir_lowers;
  st.upper = options_.upper;
  st.work = options_.work;
  st.pid = ::getpid();
  state_file_ = MountRecordPath(options_.mountpoint, ".json");
  (void)WriteMountState(st);
  return Status::Ok();
}

Status ImageMount::Serve() {
  lazy::LazyChunkSource* lazy = overlay_->lazy;
  if (lazy && options_.prefetch_all)
    lazy->StartPrefetch(true, [this] { return StoreLazyImages(options_, overlay_.get()); });
  else if (lazy && lazy->has_profile())
    lazy->StartPrefetch(false);
  std::atomic<bool> gone{false};
  std::unique_ptr<ConnectionWatch> watch = WatchUnmount(session_, options_, lazy, &gone);
  struct fuse_loop_config* cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(cfg, 8);
  fuse_loop_cfg_set_idle_threads(cfg, 8);  // no thread churn: keep them all
  int rc = fuse_session_loop_mt(session_, cfg);
  fuse_loop_cfg_destroy(cfg);
  watch.reset();
  if (lazy) {
    // The loop also ends when the kernel drops the connection before the
    // watch saw the unmount (or a signal ended it): stop the prefetch and
    // the read-ahead here, and say so as the watch does.
    if (!gone) Log(options_, "session ended: cancelling the registry transfers in flight");
    lazy->Cancel();
  }
  EndSession(gone);
  if (overlay_->recorder) {
    const ReadProfile p = overlay_->recorder->Snapshot();
    Status st = WriteFileAtomic(options_.record_profile, p.ToText());
    Log(options_, st.ok() ? "profile: " + std::to_string(p.ranges.size()) + " file ranges written to " +
                                options_.record_profile
                          : "writing the profile failed: " + st.message());
  }
  // rc is 0, -errno when the loop failed, or the number of the signal that
  // ended it (libfuse's handlers record it): SIGTERM from the unmount watch,
  // or a user's SIGINT/SIGTERM/SIGHUP. A signal is a clean stop.
  if (rc < 0) return Status::IOError(std::string("the FUSE session loop failed: ") + std::strerror(-rc));
  return Status::Ok();
}

void ImageMount::EndSession(bool gone) {
  // (Once gone, the mount point may hold someone else's mount: leave it.)
  if (!gone) fuse_session_unmount(session_);
  fuse_remove_signal_handlers(session_);
  fuse_session_destroy(session_);
  session_ = nullptr;
  ::unlink(state_file_.c_str());
}

std::optional<ChunkCache::Stats> ImageMount::cache_stats() const {
  if (!overlay_->cache) return std::nullopt;
  return overlay_->cache->stats();
}

}  // namespace cfs::mount
