// A bounded cache of decompressed, verified chunks with background
// read-ahead, in front of a ChunkSource.
//
// Get() returns the chunk's bytes (shared, immutable); concurrent Gets of
// one chunk load it once. Prefetch() queues chunks for the read-ahead
// threads, which load them into the cache unless they are there already; a
// Get of a chunk still waiting in that queue loads it itself rather than
// wait for a worker busy further ahead.
// Bytes are only ever cached after the ChunkSource verified their digest.
//
// Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/digest.h"
#include "base/executor.h"
#include "base/thread_annotations.h"
#include "layer/chunk_source.h"

namespace cfs {

// A chunk's decompressed bytes (allocated uninitialised: the source fills
// them).
class ChunkBytes {
 public:
  explicit ChunkBytes(size_t n) : p_(new char[n]), n_(n) {}
  const char* data() const { return p_.get(); }
  char* mutable_data() { return p_.get(); }
  size_t size() const { return n_; }

 private:
  std::unique_ptr<char[]> p_;
  size_t n_;
};

struct ChunkCacheOptions {
  // Upper bound of cached decompressed bytes. Default: 64 MiB.
  size_t capacity = 64 << 20;
  // Read-ahead threads. Default: 2.
  int prefetch_threads = 2;
};

class ChunkCache {
 public:
  using Chunk = std::shared_ptr<const ChunkBytes>;

  ChunkCache(std::unique_ptr<ChunkSource> source, ChunkCacheOptions o);
  ~ChunkCache();
  ChunkCache(const ChunkCache&) = delete;
  ChunkCache& operator=(const ChunkCache&) = delete;

  // last_use: the caller reads the chunk to its end (the kernel's page cache
  // then holds those bytes), so it becomes the first to evict, ahead of
  // read-ahead not consumed yet.
  Result<Chunk> Get(const ChunkRef& c, bool last_use = false) EXCLUDES(mu_);
  // Queues loads of chunks that are neither cached nor loading.
  void Prefetch(const std::vector<ChunkRef>& chunks) EXCLUDES(mu_);

  struct Stats {
    uint64_t hits = 0, misses = 0, prefetched = 0, cached_bytes = 0;
    uint64_t taken = 0;  // queued read-ahead a reader loaded itself (misses too)
  };
  Stats stats() EXCLUDES(mu_);

 private:
  struct Slot {
    Chunk data;     // null while loading
    Status error;   // the load's failure (the slot is then dropped)
    bool loading = false;
    bool queued = false;  // loading, but still waiting in queue_ for a worker
    std::list<Digest>::iterator lru;
  };
  // Caches a loaded chunk as the most recently used (or, last_use, the least).
  void Insert(const Digest& d, Chunk data, bool last_use) REQUIRES(mu_);
  // One read-ahead task (Prefetch submits one per chunk it queues): loads
  // the chunk at the front of queue_ unless a reader took it; returns at
  // once when stopping or nothing is queued.
  void LoadQueued() EXCLUDES(mu_);
  Result<Chunk> Load(const ChunkRef& c);

  std::unique_ptr<ChunkSource> source_;
  const ChunkCacheOptions opts_;
  Mutex mu_;
  std::condition_variable loaded_;    // a load finished (readers waiting on it)
  int waiters_ GUARDED_BY(mu_) = 0;   // readers waiting on loaded_
  std::unordered_map<Digest, Slot, DigestHash> slots_ GUARDED_BY(mu_);
  std::list<Digest> lru_ GUARDED_BY(mu_);  // front = most recent; loaded slots only
  size_t bytes_ GUARDED_BY(mu_) = 0;
  std::deque<ChunkRef> queue_ GUARDED_BY(mu_);  // read-ahead not started yet
  bool stop_ GUARDED_BY(mu_) = false;           // the destructor runs
  Stats stats_ GUARDED_BY(mu_);
  // prefetch_threads workers named "cfs-readahead" running LoadQueued; null
  // when prefetch_threads is 0. Last: its tasks use the members above.
  std::unique_ptr<Executor> workers_;
};

}  // namespace cfs
