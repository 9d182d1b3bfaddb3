// PullFromRegistry: an image from a registry into the store -- the one way
// cimg pull, fsck --repair, deploy (an IMAGE the store lacks) and build
// (FROM) fetch a registry image.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "registry/client.h"
#include "registry/reference.h"
#include "store/store.h"

namespace cfs::registry {

struct PullFromRegistryOptions {
  // The client to use (the caller may read its stats after). Default: one
  // made for ref.registry with `client_options`.
  std::shared_ptr<Client> client;
  ClientOptions client_options;
  // Layer blobs fetched at once.
  int parallel = 3;
  // Where the blobs wait until stored. Default: a work dir of the store
  // (gc leaves it alone while the pull lives), removed when the pull ends.
  std::string scratch_dir;
  // Recorded as where the image came from. Default: "docker://" + ref.
  std::string source;
  // as_name: the local name, Default: ref.LocalName(); platform, progress.
  PullOptions pull;
};

Result<PullResult> PullFromRegistry(Store& store, const Reference& ref,
                                    const PullFromRegistryOptions& o);

// A pull from any source cimg names: a registry reference
// ([docker://]REGISTRY/REPO[:TAG|@DIGEST]) through PullFromRegistry, with
// o.client made from o.client_options for its registry when unset (and left
// in o for the caller's statistics); oci:, oci-archive: and docker-archive:
// through Store::Pull with o.pull. Invalid for anything else (an empty
// source: "no source recorded").
Result<PullResult> PullFromSource(Store& store, const std::string& source,
                                  PullFromRegistryOptions& o);

}  // namespace cfs::registry
