// An image opened for reading its files without a mount (cimg ls, cat, cp,
// export): an image of the store, read through the store's chunks; or a
// registry image the store lacks, read as a lazy mount reads it
// (PlanLazyImage: the TOCs of its zstd:chunked layers, then only the chunks
// asked for, by Range requests, verified and kept in the store; any other
// layer fetched whole). No root and no FUSE needed: a user's own store
// serves as the cache.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/status.h"
#include "layer/chunk_source.h"
#include "layer/layer_stack.h"
#include "lazy/lazy_fetch.h"
#include "registry/client.h"
#include "store/image_stack.h"
#include "store/store.h"

namespace cfs::lazy {

// True when `name` is not an image of the store and names a registry
// explicitly: docker://..., or a first component with a '.' or a ':', or
// "localhost" (a short name stays a store name: "app:1" never goes out).
bool IsRegistryImageName(Store& store, const std::string& name);

struct ReadableImageOptions {
  registry::ClientOptions client;        // for a registry image
  Platform platform = Platform::Host();  // the manifest of a registry image's index
  // A chunk the registry cannot serve within this many seconds fails the read.
  int read_timeout_s = 300;
  std::function<void(const std::string&)> log;  // layers fetched whole, the endpoint that served
};

// Not thread-safe.
class ReadableImage {
 public:
  // name: an image of the store (name, digest, ID prefix), else a registry
  // reference (IsRegistryImageName; registries.conf and policy.json as a
  // pull follows them: a refused image is Denied before anything is read).
  // NotFound naming the store for an unknown store name.
  static Result<std::unique_ptr<ReadableImage>> Open(Store& store, const std::string& name,
                                                     const ReadableImageOptions& o);
  const LayerStack& stack() const { return image_->stack; }
  ChunkSource& chunks() { return *chunks_; }
  bool remote() const { return client_ != nullptr; }
  // What crossed the wire so far (zeros for an image of the store).
  registry::Client::Stats network() const;

 private:
  ReadableImage() = default;
  std::unique_ptr<ChunkSource> chunks_;  // the store's, or a LazyChunkSource over it
  std::shared_ptr<registry::Client> client_;
  std::optional<ImageStack> image_;  // holds the lease; destroyed first (declared last)
};

}  // namespace cfs::lazy
