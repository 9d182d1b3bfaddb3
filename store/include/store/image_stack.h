// An image of the store opened as one LayerStack: the TOCs of its layers,
// bottom first, merged (layer/layer_stack.h), with a lease that keeps gc
// from taking the layers while it is held. What deploy, cimg build and
// clusterfs mounts read an image through.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/digest.h"
#include "base/status.h"
#include "layer/layer_stack.h"
#include "layer/stack_index.h"
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

// An image's layers as a mapped StackIndex (layer/stack_index.h), what a
// mount serves store images from. The index is a cache kept in
// ROOT/stack-index/<key>.idx, where key = SHA-256 over the diff_ids and the
// SHA-256 of each layer's stored TOC record; it is rebuilt from the TOCs
// (the authority) whenever it is absent, damaged, of another version or
// built from other records, and written back atomically (when the store
// cannot take it, e.g. a full disk, the rebuilt index is served from memory).
struct ImageIndex {
  std::unique_ptr<Store::Lease> lease;  // null when the caller leased the layers
  std::shared_ptr<const StackIndex> index;
  bool built = false;  // rebuilt from the TOCs by this call
};
Result<ImageIndex> OpenImageIndex(Store& store, const std::vector<Digest>& diff_ids);

// REQUIRES: the caller holds a lease on diff_ids.
Result<std::shared_ptr<const StackIndex>> OpenStackIndex(Store& store,
                                                         const std::vector<Digest>& diff_ids,
                                                         bool* built);

// The key and file of the index of diff_ids.
Result<Digest> StackIndexKey(Store& store, const std::vector<Digest>& diff_ids);
std::string StackIndexPath(const Store& store, const Digest& key);

// Removes the index files of ROOT/stack-index that name a layer for which
// kept() is false, or whose header is damaged (gc, with the layers it keeps);
// a live mount keeps its mapping of a removed file. Returns how many.
Result<uint64_t> RemoveStaleStackIndexes(const std::string& root,
                                         const std::function<bool(const Digest&)>& kept);

// fsck: one line in *problems for each damaged index file of
// ROOT/stack-index (a cache: no data is lost, mounts rebuild it).
Status CheckStackIndexes(const std::string& root, std::vector<std::string>* problems);

}  // namespace cfs
