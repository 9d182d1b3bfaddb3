// The overlay of an image mount and what its lowers read through: the
// store, the leases of the images, the chunk cache (store first, then the
// registry when a lower is a registry image the store lacks).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "fs/chunk_cache.h"
#include "fs/overlay.h"
#include "lazy/lazy_fetch.h"
#include "mount/image_mount.h"
#include "profile_recorder.h"
#include "registry/client.h"
#include "registry/reference.h"
#include "store/store.h"

namespace cfs::mount {

// A registry image mounted lazily: where it is read from.
struct LazyImageRef {
  std::shared_ptr<registry::Client> client;
  registry::Reference logical, remote;  // registry::ConnectedPull's
};

struct ImageOverlay {
  std::unique_ptr<Store> store;  // null when no lower is an image
  std::vector<std::unique_ptr<Store::Lease>> leases;
  lazy::LazyChunkSource* lazy = nullptr;  // owned by cache; null unless a registry image
  std::vector<std::string> manifests;     // of the images mounted ("" for registry ones)
  std::vector<LazyImageRef> lazy_images;  // the registry images among them
  std::shared_ptr<ProfileRecorder> recorder;  // null unless record_profile
  int dir_lowers = 0;                     // how many lowers are directories
  std::unique_ptr<ChunkCache> cache;      // null when no lower is an image
  std::unique_ptr<Overlay> overlay;
};

// Builds the lowers of o (o.lowerdirs top first, then o.source) and the
// overlay over them into *out. One chunk cache serves every image lower: a
// lazy one (store first, then the registry) when any lower is a registry
// image the store lacks.
// REQUIRES: *out is empty.
Status BuildImageOverlay(const ImageMountOptions& o, ImageOverlay* out);

// Once m's lazy source fetched every chunk: each of m's registry images
// stored as a complete image (lazy/lazy_store.h), logged.
Status StoreLazyImages(const ImageMountOptions& o, ImageOverlay* m);

}  // namespace cfs::mount
