// Copying a path of an image out to this host (`cimg cp IMAGE:/PATH DEST`),
// as `docker cp` copies out of a container:
//   - DEST an existing directory: the copy lands in DEST/<last component of
//     PATH> (PATH "/": the image's root's contents go into DEST);
//   - else DEST itself becomes the copy (its parent must exist); a directory
//     is never copied over an existing non-directory.
// Directories, regular files (their data through the ChunkSource, every
// chunk verified), symlinks (never followed), fifos, and, as root, devices.
// Paths that share data in the image stay hard links of one another.
// Mode, mtime and xattrs are kept (xattrs the filesystem or the caller's
// privileges refuse are left out); owners only when running as root.
// An existing non-directory in the way is replaced; an existing directory
// is merged into.
//
// Never writes outside the destination: every parent is opened with openat2
// below the destination's directory, symlinks refused (RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS), and every entry is created by name in that fd.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/status.h"
#include "layer/chunk_source.h"
#include "layer/layer_stack.h"

namespace cfs::builder {

struct CopyOutStats {
  uint64_t entries = 0, bytes = 0;
  uint64_t skipped = 0;  // devices (not root)
};

// src: a merged path ("/etc/app"). log (may be null) hears each entry left
// out. Errors name the destination path that failed.
Result<CopyOutStats> CopyOut(const LayerStack& stack, ChunkSource& chunks, const std::string& src,
                             const std::string& dest,
                             const std::function<void(const std::string&)>& log = nullptr);

}  // namespace cfs::builder
