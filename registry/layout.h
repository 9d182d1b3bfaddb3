// The distribution registry's own on-disk layout (what registry:2 and
// Debian's docker-registry serve from their filesystem storage driver):
//
//   ROOT/docker/registry/v2/blobs/sha256/<hex[0:2]>/<hex>/data
//   ROOT/docker/registry/v2/repositories/<repo>/_layers/sha256/<hex>/link
//   ROOT/docker/registry/v2/repositories/<repo>/_manifests/revisions/sha256/<hex>/link
//   ROOT/docker/registry/v2/repositories/<repo>/_manifests/tags/<tag>/current/link
//   ROOT/docker/registry/v2/repositories/<repo>/_manifests/tags/<tag>/index/sha256/<hex>/link
// where each link file holds "sha256:<hex>". cimg build writes a cluster
// image's built-in registry (registry/) this way.
#pragma once

#include <string>
#include <string_view>

#include "registry/client.h"
#include "registry/reference.h"
#include "transport/image_source.h"

namespace cfs::registry {

class DistributionLayout {
 public:
  explicit DistributionLayout(std::string root) : root_(std::move(root)) {}
  bool HasBlob(const Digest& d) const;
  // Writes a blob (verified) unless present.
  Status PutBlob(const Digest& d, std::string_view bytes);
  // The path a blob's data goes to (for streaming writers); parents created.
  Result<std::string> BlobPath(const Digest& d);
  // Links a blob (layer or config) into repo.
  Status LinkLayer(const std::string& repo, const Digest& d);
  // Links a manifest (its blob must be stored) as a revision of repo, and
  // under tag when tag is not empty.
  Status LinkManifest(const std::string& repo, const Digest& d, const std::string& tag);

 private:
  Status WriteLink(const std::string& path, const Digest& d);
  std::string root_;
};

struct CopyStats {
  uint64_t blobs_fetched = 0, blobs_reused = 0, bytes_fetched = 0;
};

// Copies one image (the manifest for platform from an index) from a
// registry into the layout under repository `repo` and `tag` (or by digest
// only when tag is ""). Every blob is verified against its digest; blobs the
// layout has are not fetched again.
Status CopyImageToLayout(Client& client, const Reference& ref, const Platform& platform,
                         DistributionLayout& layout, const std::string& repo,
                         const std::string& tag, CopyStats* stats);

// Writes every image of a docker-archive or oci-archive file into the layout
// (for platform when the archive holds an index), each under the repository
// and tag its archive names (registry host dropped). Returns "repo:tag" of
// each. tmp_parent: where the archive is unpacked meanwhile.
Result<std::vector<std::string>> LoadArchiveToLayout(const std::string& archive,
                                                     const Platform& platform,
                                                     DistributionLayout& layout,
                                                     const std::string& tmp_parent);

}  // namespace cfs::registry
