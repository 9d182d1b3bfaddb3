// PushToRegistry: an image of the store to a registry -- what cimg push does
// for a registry destination, the counterpart of PullFromRegistry (pull.h).
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "registry/client.h"
#include "registry/image_io.h"
#include "registry/reference.h"
#include "store/store.h"

namespace cfs::registry {

struct PushToRegistryOptions {
  // The client to use (the caller may read its stats after). Default: one
  // made for ref.registry with `client_options`.
  std::shared_ptr<Client> client;
  ClientOptions client_options;
  // Blobs uploaded at once.
  int parallel = 3;
  // compression of the layers written; progress reports phase "upload".
  PushOptions push;
};

// Pushes image `name` to ref (its tag, "latest" when it has neither tag nor
// digest). A blob of an image pulled from another repository of the same
// registry is mounted from there rather than uploaded, when the registry
// allows it. Blobs wait in a work dir of the store, removed before this
// returns, failures included.
Result<PushStats> PushToRegistry(Store& store, const std::string& name, Reference ref,
                                 const PushToRegistryOptions& o);

}  // namespace cfs::registry
