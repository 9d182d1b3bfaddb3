// A lazily mounted image made a complete image of the store, once the
// mount fetched every chunk (--prefetch all): listed by `cimg images`,
// mountable, pushable and savable with the registry gone.
#pragma once

#include <memory>

#include "base/status.h"
#include "registry/client.h"
#include "registry/reference.h"
#include "store/store.h"

namespace cfs::lazy {

// Pulls `remote` through client (the endpoint the mount read from) into the
// store as `cimg pull logical` would: named logical.LocalName(), its source
// "docker://" + logical. With every chunk stored, only metadata moves: the
// manifest, the config and each layer's TOC and tar-split (which the tar
// needs, and a lazy mount never fetched); every chunk and each rebuilt
// tar's diffID are verified as in any pull.
Result<PullResult> StoreLazyImage(Store& store, std::shared_ptr<registry::Client> client,
                                  const registry::Reference& logical,
                                  const registry::Reference& remote);

}  // namespace cfs::lazy
