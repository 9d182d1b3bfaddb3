// An image of the store opened as one LayerStack: the TOCs of its layers,
// bottom first, merged (layer/layer_stack.h), with a lease that keeps gc
// from taking the layers while it is held. What deploy, cimg build and
// clusterfs mounts read an image through.
#pragma once

#include <memory>
#include <vector>

#include "base/digest.h"
#include "base/status.h"
#include "layer/layer_stack.h"
#include "store/store.h"

namespace cfs {

struct ImageStack {
  std::unique_ptr<Store::Lease> lease;  // null when the caller leased the layers
  LayerStack stack;
};

// The layers `diff_ids` (bottom first), leased first: from then on gc keeps
// them even if their image is removed. Errors: a layer the store lacks
// (NotFound), a TOC that does not decode, layers that do not stack.
Result<ImageStack> OpenImageStack(Store& store, const std::vector<Digest>& diff_ids);

// The layers of `image`.
Result<ImageStack> OpenImageStack(Store& store, const ImageDetails& image);

// REQUIRES: the caller holds a lease on diff_ids. No lease is taken.
Result<LayerStack> OpenLayerStack(Store& store, const std::vector<Digest>& diff_ids);

}  // namespace cfs
