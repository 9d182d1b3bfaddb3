// The container images a cluster image needs, found in its rootfs:
// `image:` fields of every YAML document under manifests/ (containers,
// initContainers, anything), the lines of manifests/imageList (# comments),
// charts/ (image: values, repository+tag pairs in values files, image: lines
// in templates without template expressions), plus an --image-list file,
// minus an --ignored-image-list file.
#pragma once

#include <string>
#include <vector>

#include "registry/client.h"
#include "registry/layout.h"
#include "registry/reference.h"
#include "base/status.h"

namespace cfs::builder {

// Image references found under rootfs, sorted and unique. A malformed YAML
// file is an error naming the file.
Result<std::vector<std::string>> FindImages(const std::string& rootfs);

// One reference per line; blank lines and # comments skipped.
Result<std::vector<std::string>> ReadImageList(const std::string& path);

// Copies the image `remote` names at client's registry (a mirror's name
// for it, or its own) for platform into the layout under name's repository
// and tag, and, when it is an index (by digest, or a tag pointing at one),
// the index too, linked as a revision of that repository: a registry
// serving the layout then answers for the index digest as well as for the
// platform manifest it names (the tag keeps naming the platform manifest).
Status CopyToBuiltinRegistry(registry::Client& client, const registry::Reference& remote,
                             const registry::Reference& name, const Platform& platform,
                             registry::DistributionLayout& layout);

}  // namespace cfs::builder
