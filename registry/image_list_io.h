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
// as o.push says, so its digest may change) with its artifacts as referrers
// of what was written (PushReferrers), then an OCI image index
// (application/vnd.oci.image.index.v1+json) naming what was written, under
// ref's tag ("latest" when none). Returns the index's digest.
Result<Digest> PushImageList(Store& store, const ImageListDetails& list, Reference ref,
                             const PushToRegistryOptions& o);

// The same for local sources: every platform of the image index that
// "oci:DIR[:TAG]" or "oci-archive:FILE[:TAG]" names (its index.json entry
// for TAG, or its only entry, must be an image index), named o.as_name,
// else the entry's full ref.name, else "<basename of DIR or FILE>:TAG".
Result<PullAllResult> PullAllPlatformsLocal(Store& store, const std::string& src,
                                            const PullOptions& o);

// Writes the image list to "oci:DIR[:TAG]" or "oci-archive:FILE[:TAG]" (TAG
// default: the list's tag, else "latest"): each image's blobs, the index
// blob, and one index.json entry, the index, annotated with TAG (the images
// are reached through it, as skopeo copy --all lays a list out), plus an
// untagged entry for each of the images' referrers (an SBOM), as a single
// image's push writes them. Returns the index's digest.
// `tag`, when given, is the ref.name written instead (cimg save: the list's
// full name, as save names each image).
Result<Digest> PushImageListToLayout(Store& store, const ImageListDetails& list,
                                     const std::string& dest, const PushOptions& o,
                                     const std::string& tag = "");

// True when the tar at file is an oci-archive whose index.json lists one
// entry, an image index (what PushImageListToLayout and cimg save of a list
// write): cimg load then keeps it as an image list. Reads only index.json.
Result<bool> ArchiveHoldsImageList(const std::string& file);

}  // namespace cfs::registry
