// The build cache of cimg build (builder/builder.h): a layer step's result
// -- the layer it made (none for a step without changes) and when -- kept in
// the store (Store::PutBuildCache) under a key of the parent layers (ChainKey),
// the instruction after substitution, the values it sees and its inputs, so
// an unchanged rebuild reuses every layer and yields the same image ID.
//
// Entry format (JSON): {"diff_id": "sha256:..." or "", "created": RFC 3339}.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/digest.h"
#include "base/status.h"
#include "store/store.h"

namespace cfs::builder {

using Leases = std::vector<std::unique_ptr<Store::Lease>>;

// Leases layers the store holds (added to *leases); NotFound for one gc took
// before.
Status LeaseLayers(Store& store, const std::vector<Digest>& ids, Leases* leases);

// The key of a chain of layers (bottom first): every cache key starts with it.
Digest ChainKey(const std::vector<Digest>& diff_ids);

class BuildCache {
 public:
  // `disabled` (--no-cache): every lookup misses; results are still stored.
  BuildCache(Store& store, bool disabled) : store_(store), disabled_(disabled) {}

  struct Hit {
    std::optional<Digest> layer;  // none: the step changed nothing
    std::string created;
  };
  // nullopt for a miss, and for an entry whose layer gc took. A hit's layer
  // is leased (into *leases) before it is returned, so that gc cannot take
  // it between this check and its use.
  std::optional<Hit> Lookup(const Digest& key, Leases* leases);

  // diff_id: "" for a step without changes.
  Status Put(const Digest& key, const std::string& diff_id, const std::string& created);

 private:
  Store& store_;
  const bool disabled_;
};

}  // namespace cfs::builder
