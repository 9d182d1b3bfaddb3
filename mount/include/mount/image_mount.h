// A mount of cluster images (and plain directories) as one overlay, served
// by this process until it is unmounted: what the clusterfs daemon runs.
// The lowers are images of the store, registry images the store lacks (read
// lazily, lazy/lazy_plan.h) and directories; one chunk cache serves every
// image lower. The caller keeps the process handling (daemonizing, pid
// files, where log lines go).
//
//   auto m = ImageMount::Prepare(options);   // the store, the lowers, the overlay
//   m->Mount();                               // live on options.mountpoint
//   m->Serve();                               // until unmounted (or a signal)
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "fs/chunk_cache.h"

struct fuse_session;

namespace cfs::mount {

struct ImageOverlay;

struct ImageMountOptions {
  // The store of the image lowers. Default: "" ($CIMG_ROOT or /var/lib/cimg).
  std::string root;
  // The bottom lower: an image of the store (name[:tag], ID prefix), a
  // registry image the store lacks (REGISTRY/REPO[:TAG], docker://..., read
  // lazily), or "none" (or "") for none.
  std::string source;
  // Lowers above `source`, top first: an existing directory is a directory
  // lower, anything else an image as `source`.
  std::vector<std::string> lowerdirs;
  // Where to mount: an existing directory (absolute: the daemon serves from "/").
  std::string mountpoint;
  // The upper and work dirs, both or neither: the mount is writable with
  // them, read-only without. sync_copy_up: fsync copied-up files (false:
  // the "volatile" option). Default: true.
  std::string upper, work;
  bool sync_copy_up = true;
  // The kernel mount: allow_other lets other users in; fuse_opts are more
  // -o options for the kernel ("nosuid", "ro", ...); debug makes libfuse log
  // every request.
  bool allow_other = false;
  std::vector<std::string> fuse_opts;
  bool debug = false;
  // The chunk cache's capacity, MiB. Default: 16.
  size_t cache_mb = 16;
  // The mount's read-ahead, KiB (root only, best effort); 0 keeps the
  // kernel's 128 KiB. Default: 1024.
  size_t readahead_kb = 1024;
  // Registry images: verify TLS (Default: true), the CA directory, the auth
  // file ("" for the default one), credentials "USER[:PASSWORD]" ("" for the
  // auth file's), and prefetch_all: fetch the whole image in the background
  // once mounted (Default: false, only what is read).
  bool tls_verify = true;
  std::string cert_dir, auth_file, creds;
  bool prefetch_all = false;
  // When set: the file ranges the image lowers serve are recorded, in
  // order, and written to this file (store/read_profile.h) at the unmount.
  std::string record_profile;
  // Log lines of the mount (a layer fetched whole, cancelled transfers, ...).
  // Called from any thread. Default: none.
  std::function<void(const std::string&)> log;
};

class ImageMount {
 public:
  // Opens the store (when an image is among the lowers), resolves the images
  // (leasing their layers: gc keeps them while this lives), and builds the
  // lowers and the overlay over them. Nothing is mounted yet.
  static Result<std::unique_ptr<ImageMount>> Prepare(ImageMountOptions o);
  // Unmounts (unless the mount is gone already) and ends the session, when
  // mounted and not served.
  ~ImageMount();
  ImageMount(const ImageMount&) = delete;
  ImageMount& operator=(const ImageMount&) = delete;

  // Mounts the overlay on the mount point, with libfuse's signal handlers
  // (SIGINT, SIGTERM and SIGHUP then end Serve), raises the read-ahead, and
  // writes the mount's record (mount/mount_state.h), removed when Serve
  // ends. The mount is live when this returns Ok.
  // REQUIRES: called once.
  Status Mount();
  // Serves the mount until it is unmounted or a signal ends it, then
  // cancels the registry transfers, unmounts (unless the mount is gone
  // already: the mount point may hold someone else's mount then) and ends
  // the session. Errors when the session loop failed.
  // REQUIRES: Mount() returned Ok; called once, on the thread that called
  // Mount (an unmount ends the loop by signalling that thread).
  Status Serve();

  // The chunk cache's counters; none when no lower is an image.
  std::optional<ChunkCache::Stats> cache_stats() const;

 private:
  explicit ImageMount(ImageMountOptions o);
  // Unmounts (unless gone), ends the session and removes the record.
  void EndSession(bool gone);

  const ImageMountOptions options_;
  std::unique_ptr<ImageOverlay> overlay_;  // with the store, leases and cache
  fuse_session* session_ = nullptr;        // while mounted
  std::string state_file_;                 // the record, while mounted
};

}  // namespace cfs::mount
