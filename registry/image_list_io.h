// Multi-platform images and registries: pulling every platform of an image
// index into the store as an image list (cimg pull --platform all), and
// pushing an image list whole (cimg push LIST, cimg manifest push): each
// child first, by digest, then the index under the tag.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "registry/pull.h"
#include "registry/push.h"
#include "store/store.h"

namespace cfs::registry {

struct PullAllResult {
  std::vector<PullResult> images;  // one per platform, index order
  ImageListDetails list;           // empty digest when the name was a single image
};

// Pulls every platform of the index `name` names (each child as any pull:
// only missing layers, zstd:chunked by parts), then stores the index as an
// image list named o.pull.as_name (default: the reference's local name).
// The index is kept byte for byte when every entry was pulled; entries
// without a platform or "unknown/unknown" (attestations) are left out, and
// then an index of the pulled ones is written. A name that is not an index
// is pulled as one image (images has one entry, list is empty).
Result<PullAllResult> PullAllPlatforms(Store& store, const std::string& name,
                                       PullFromRegistryOptions& o);

// Pushes the image list `list` to ref: each child by its digest (written
// as o.push says, so its digest may change), then an OCI image index
// (application/vnd.oci.image.index.v1+json) naming what was written, under
// ref's tag ("latest" when none). Returns the index's digest.
Result<Digest> PushImageList(Store& store, const ImageListDetails& list, Reference ref,
                             const PushToRegistryOptions& o);

}  // namespace cfs::registry
