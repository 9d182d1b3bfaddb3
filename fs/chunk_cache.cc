#include "fs/chunk_cache.h"

#include <utility>

namespace cfs {

namespace {
std::unique_ptr<Executor> ReadAheadWorkers(int threads) {
  if (threads <= 0) return nullptr;
  ExecutorOptions o;
  o.threads = threads;
  o.name = "cfs-readahead";
  return std::make_unique<Executor>(std::move(o));
}
}  // namespace

ChunkCache::ChunkCache(std::unique_ptr<ChunkSource> source, ChunkCacheOptions o)
    : source_(std::move(source)), opts_(o), workers_(ReadAheadWorkers(opts_.prefetch_threads)) {}

ChunkCache::~ChunkCache() {
  {
    MutexLock l(&mu_);
    stop_ = true;
    queue_.clear();
  }
  workers_.reset();  // the tasks still queued return at once
}

Result<ChunkCache::Chunk> ChunkCache::Load(const ChunkRef& c) {
  auto bytes = std::make_shared<ChunkBytes>(c.size);
  RETURN_IF_ERROR(source_->ReadChunkInto(c, bytes->mutable_data()));
  return Chunk(std::move(bytes));
}

void ChunkCache::Insert(const Digest& d, Chunk data, bool last_use) {
  auto& s = slots_[d];
  s.loading = false;
  s.data = std::move(data);
  bytes_ += s.data->size();
  lru_.push_front(d);
  s.lru = lru_.begin();
  // Evict least recently used chunks; a chunk in use stays alive through
  // its shared_ptr even after it leaves the cache.
  while (bytes_ > opts_.capacity && lru_.size() > 1) {
    auto it = slots_.find(lru_.back());
    bytes_ -= it->second.data->size();
    slots_.erase(it);
    lru_.pop_back();
  }
  if (last_use) lru_.splice(lru_.end(), lru_, lru_.begin());  // d, first to go next time
}

Result<ChunkCache::Chunk> ChunkCache::Get(const ChunkRef& c, bool last_use) {
  {
    MutexLock l(&mu_);
    for (;;) {
      auto it = slots_.find(c.digest);
      if (it == slots_.end()) break;
      if (!it->second.loading) {
        lru_.splice(last_use ? lru_.end() : lru_.begin(), lru_, it->second.lru);
        ++stats_.hits;
        return it->second.data;
      }
      if (it->second.queued) {
        // No worker has started on it: load it here (the worker skips it).
        it->second.queued = false;
        ++stats_.taken;
        break;
      }
      // Another thread is loading it: wait, then look again (it may have
      // failed, or been evicted already).
      ++waiters_;
      l.Wait(loaded_, [&]() REQUIRES(mu_) {
        auto j = slots_.find(c.digest);
        return j == slots_.end() || !j->second.loading;
      });
      --waiters_;
    }
    ++stats_.misses;
    slots_[c.digest].loading = true;  // (already, when taken from the queue)
  }
  auto r = Load(c);
  bool wake;
  {
    MutexLock l(&mu_);
    if (r.ok()) {
      Insert(c.digest, *r, last_use);
    } else {
      slots_.erase(c.digest);
    }
    wake = waiters_ > 0;
  }
  if (wake) loaded_.notify_all();
  return r;
}

void ChunkCache::Prefetch(const std::vector<ChunkRef>& chunks) {
  if (!workers_) return;
  size_t queued = 0;
  {
    MutexLock l(&mu_);
    for (const auto& c : chunks) {
      if (slots_.count(c.digest)) continue;
      Slot& s = slots_[c.digest];
      s.loading = true;
      s.queued = true;
      queue_.push_back(c);
      ++queued;
    }
  }
  for (size_t i = 0; i < queued; ++i) workers_->Submit([this] { LoadQueued(); });
}

void ChunkCache::LoadQueued() {
  ChunkRef c;
  {
    MutexLock l(&mu_);
    if (stop_ || queue_.empty()) return;
    c = queue_.front();
    queue_.pop_front();
    auto it = slots_.find(c.digest);
    if (it == slots_.end() || !it->second.queued) return;  // a reader took it
    it->second.queued = false;
  }
  auto r = Load(c);
  bool wake;
  {
    MutexLock l(&mu_);
    if (r.ok()) {
      Insert(c.digest, *r, false);
      ++stats_.prefetched;
    } else {
      slots_.erase(c.digest);  // a reader will load it again and see the error
    }
    wake = waiters_ > 0;
  }
  if (wake) loaded_.notify_all();
}

ChunkCache::Stats ChunkCache::stats() {
  MutexLock l(&mu_);
  Stats s = stats_;
  s.cached_bytes = bytes_;
  return s;
}

}  // namespace cfs
