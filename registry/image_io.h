// Registry images as store sources and destinations: a registry image is an
// ImageSourceReader for Store::PullFrom, a registry repository an
// ImageDestination for Store::PushTo.
#pragma once

#include <memory>
#include <string>

#include "registry/client.h"
#include "registry/reference.h"
#include "transport/image_source.h"

namespace cfs::registry {

// Reads the image ref names. Layer blobs are fetched `parallel` at a time
// into files under tmp_dir (removed when the reader goes), verified, and
// handed to the store as they complete.
Result<std::unique_ptr<ImageSourceReader>> OpenRegistrySource(std::shared_ptr<Client> client,
                                                              const Reference& ref,
                                                              const std::string& tmp_dir,
                                                              int parallel = 3);

struct PushStats {
  uint64_t blobs_uploaded = 0, blobs_skipped = 0, blobs_mounted = 0;
  uint64_t bytes_uploaded = 0;
  Digest manifest_digest;  // of the manifest put (PushToRegistry)
};

// Writes to the repository of ref (the manifest under ref's tag, or by
// digest). Each blob is spooled to a file under tmp_dir, then uploaded in
// the background (`parallel` at a time) unless the repository already has it
// (HEAD); mount_from ("repo" on the same registry) is tried first as a
// cross-repository mount. The manifest goes up after every blob is in.
// stats (may be null) is filled as uploads finish.
Result<std::unique_ptr<ImageDestination>> OpenRegistryDestination(
    std::shared_ptr<Client> client, const Reference& ref, const std::string& tmp_dir,
    const std::string& mount_from, PushStats* stats,
    std::function<void(const std::string& item, uint64_t done, uint64_t total)> progress,
    int parallel = 3);

}  // namespace cfs::registry
