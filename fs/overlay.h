// clusterfs: a FUSE (low-level API) overlay filesystem with the semantics of
// Linux overlayfs over lowers that are plain directories or store layers.
//
//   auto ov = Overlay::Create(std::move(lowers), std::move(inos), opts);
//   fuse_session_new(&args, &ov->ops(), sizeof(fuse_lowlevel_ops), ov.get());
//
// The upper dir is in the kernel's format (whiteout = char 0/0, opaque dir =
// trusted.overlay.opaque="y"), so the kernel can mount what clusterfs wrote
// and the other way round. fs/DESIGN.md has the decisions; README.md the
// differences from the kernel.
//
// Thread-safety: the operations may be called from any number of FUSE
// threads at once.
#pragma once

#include <fuse3/fuse_lowlevel.h>

#include <memory>
#include <string>
#include <vector>

#include "fs/ino_map.h"
#include "fs/lower.h"
#include "base/status.h"

namespace cfs {

struct OverlayOptions {
  // Writable when both are set (same filesystem, not nested); read-only
  // (EROFS on every change) when both are empty.
  std::string upperdir, workdir;
  // Seconds the kernel may cache entries and attributes. Changes go through
  // the mount, so they stay coherent; changing upper or lower dirs behind a
  // live mount is undefined, as for the kernel. Default: 1 day.
  double cache_timeout = 86400;
  // fsync copied-up files before they appear in the upper dir, as the
  // kernel does unless mounted "volatile". Default: true.
  bool sync_copy_up = true;
};

class Overlay {
 public:
  // lowers: top first (as in -o lowerdir=). `inos` is the map the lowers
  // were created with.
  static Result<std::unique_ptr<Overlay>> Create(std::vector<std::unique_ptr<Lower>> lowers,
                                                 std::unique_ptr<InoMap> inos,
                                                 const OverlayOptions& o);
  virtual ~Overlay() = default;
  // The operations table; pass `this` as the session's userdata.
  virtual const fuse_lowlevel_ops& ops() const = 0;
};

}  // namespace cfs
