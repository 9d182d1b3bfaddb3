// Lazy fetch: the remote ChunkSource behind a lazy clusterfs mount. Chunks
// come from the store when it has them, else from the layer blob with a
// Range request (neighbouring missing chunks merged into one), are verified
// against their digests, and are added to the store so a second mount or a
// later pull reuses them.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "registry/client.h"
#include "layer/zstd_chunked_reader.h"
#include "store/store.h"

namespace cfs::lazy {

struct LazyOptions {
  // A read brings along the missing chunks after the one wanted (of its
  // file; of the layer when prefetching), merged by PlanRanges
  // (transport/image_source.h) with these limits.
  uint64_t max_request = 2 << 20;       // compressed bytes merged into one read
  uint64_t max_gap = 64 << 10;          // bytes between chunks still merged
  uint64_t prefetch_request = 8 << 20;  // per request when prefetching everything
  // Fetching a profile: its next chunks up to profile_window compressed
  // bytes are read at once, in blob order, gaps up to profile_gap read
  // through, at most profile_request bytes a request, profile_parallel
  // requests at a time.
  uint64_t profile_window = 4 << 20;
  uint64_t profile_gap = 64 << 10;
  uint64_t profile_request = 2 << 20;
  size_t profile_parallel = 6;  // requests in flight at once
  // A read the registry cannot serve within this many seconds (retries
  // included, and waiting for another read of the same chunk) fails with
  // EIO. Prefetching has no such bound (only the client's stall timeouts).
  int read_timeout_s = 20;
  // After a fetch fails, reads of its chunks fail at once for this long:
  // the kernel retries a failed page straight away, and that retry (and the
  // reads that waited on the fetch) should not wait another read_timeout_s.
  int failure_hold_ms = 2000;
  std::string tmp_dir;                  // for whole-blob fallbacks (registries ignoring Range)
  std::function<void(const std::string&)> log;  // one line per notable event
};

class LazyChunkSource : public ChunkSource {
 public:
  LazyChunkSource(std::unique_ptr<Store::ChunkStash> stash, LazyOptions o);
  ~LazyChunkSource() override;

  // A layer whose missing chunks are read from blob d of repo. Call before
  // the first read; not thread-safe with reads.
  void AddLayer(std::shared_ptr<registry::Client> client, const std::string& repo, const Descriptor& d,
                std::shared_ptr<const LayerToc> toc, std::vector<BlobChunk> where);

  // Verified chunk bytes. Unavailable (EIO through FUSE) when the registry
  // cannot serve it within read_timeout_s; a later read tries again.
  Result<std::string> ReadChunk(const ChunkRef& c) override;
  Result<std::string> ReadFrame(const ChunkRef& c) override;

  // A bring-up profile's chunks (store/read_profile.h), in the order its
  // workload read them: the prefetch fetches these first. Call before
  // StartPrefetch; not thread-safe with reads.
  void SetProfile(std::vector<ChunkRef> order);
  bool has_profile() const;

  // Fetches in the background: the profile's chunks first (in its order, a
  // window of them at a time in merged Range requests of up to
  // profile_request bytes; a new request starts only while no read waits
  // on the registry: reads are served first), then, when `everything`,
  // every missing chunk of every layer (entries before a
  // ".prefetch.landmark" file first, as eStargz images mark their startup
  // files); logs when done (then no read needs the network). Then runs
  // `then` (when given) on the prefetch's thread; its failure is the
  // prefetch's (logged, and WaitPrefetch's result).
  void StartPrefetch(bool everything = true, std::function<Status()> then = nullptr);
  // Blocks until the prefetch finished; its result.
  Status WaitPrefetch();

  // For an unmount: aborts every transfer in flight (within about a
  // second), wakes the reads waiting on them and stops the prefetch; reads
  // of chunks the store lacks fail at once from now on. Thread-safe; the
  // destructor calls it.
  void Cancel();

  struct Stats {
    uint64_t requests = 0, bytes = 0, chunks = 0;
  };
  Stats stats() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cfs::lazy
