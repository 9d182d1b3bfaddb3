// The plan of a lazy mount of a registry image: its manifest and config
// resolved for the host's platform, and its layers' TOCs fetched -- only
// metadata crosses the wire: the TOCs of all layers at once, one Range
// request each; not the tar-splits (serving reads needs none: whatever
// needs a layer's tar, a pull, fetches it then). A layer the store holds
// is read from the store; a zstd:chunked one from its TOC (kept in the
// store as a partial layer, its chunks added to the LazyChunkSource, read
// by Range requests); any other (or one of a registry that ignores Range)
// is pulled whole.
//
// In lazy/ (above registry/ and store/, which it drives); mount/
// (image_mount.h) puts the result under a FUSE lower (fs/).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "lazy/lazy_fetch.h"
#include "registry/client.h"
#include "registry/reference.h"
#include "store/image_stack.h"
#include "store/store.h"

namespace cfs::lazy {

struct LazyPlanOptions {
  registry::ClientOptions client;
  // The client to read with, already connected to the endpoint that serves
  // ref (registry::ConnectForPull: a mirror's). Default: one made for
  // ref.registry with `client`.
  std::shared_ptr<registry::Client> connected;
  std::string tmp_dir;  // for the resolution's scratch (under the store)
  Platform platform = Platform::Host();  // the manifest an index resolves to
  std::function<void(const std::string&)> log;  // one line per layer fetched whole
};

// The image `ref` as one LayerStack, its layers leased (ImageStack::lease).
// REQUIRES: `lazy` reads the store first (it serves the chunked layers it
// is given here).
Result<ImageStack> PlanLazyImage(Store& store, LazyChunkSource& lazy, const registry::Reference& ref,
                                 const LazyPlanOptions& o);

}  // namespace cfs::lazy
