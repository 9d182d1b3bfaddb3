#include "fs/chunk_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

namespace cfs {
namespace {

std::string Str(const ChunkCache::Chunk& c) { return std::string(c->data(), c->size()); }

// Serves chunks from memory, counting reads; a chunk in `corrupt` fails as
// a real source does on a digest mismatch.
class CountingSource : public ChunkSource {
 public:
  ChunkRef Add(const std::string& data) {
    ChunkRef c{Digest::Of(data), static_cast<uint32_t>(data.size())};
    chunks_[c.digest] = data;
    return c;
  }
  Result<std::string> ReadChunk(const ChunkRef& c) override {
    ++reads;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // widen races
    if (corrupt.count(c.digest)) return Status::Corruption("chunk " + c.digest.Short());
    auto it = chunks_.find(c.digest);
    if (it == chunks_.end()) return Status::NotFound("chunk " + c.digest.Short());
    return it->second;
  }
  Result<std::string> ReadFrame(const ChunkRef&) override {
    return Status::Unsupported("frames");
  }
  std::atomic<int> reads{0};
  std::map<Digest, bool> corrupt;

 private:
  std::map<Digest, std::string> chunks_;
};

// A CountingSource whose read of one chunk waits until Release (at most a
// minute, so a broken test fails instead of hanging). It also counts reads
// in *all_reads, which outlives it.
class GatedSource : public CountingSource {
 public:
  explicit GatedSource(std::atomic<int>* all_reads) : all_reads_(all_reads) {}
  void Hold(const Digest& d) { held_ = d; }
  Result<std::string> ReadChunk(const ChunkRef& c) override {
    ++*all_reads_;
    if (c.digest == held_) {
      std::unique_lock<std::mutex> l(mu_);
      entered_ = true;
      cv_.notify_all();
      cv_.wait_for(l, std::chrono::minutes(1), [&] { return released_; });
    }
    return CountingSource::ReadChunk(c);
  }
  // Whether a read of the held chunk has begun (waits up to a minute).
  bool WaitEntered() {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, std::chrono::minutes(1), [&] { return entered_; });
  }
  void Release() {
    std::lock_guard<std::mutex> l(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::atomic<int>* const all_reads_;
  Digest held_;  // set before the source is shared
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false, released_ = false;
};

TEST(ChunkCache, HitsAfterFirstLoad) {
  auto src = std::make_unique<CountingSource>();
  CountingSource* s = src.get();
  ChunkRef a = s->Add(std::string(1000, 'a'));
  ChunkCache cache(std::move(src), {1 << 20, 0});
  for (int i = 0; i < 3; ++i) {
    auto r = cache.Get(a);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(Str(*r), std::string(1000, 'a'));
  }
  EXPECT_EQ(s->reads.load(), 1);
  EXPECT_EQ(cache.stats().hits, 2u);
}

TEST(ChunkCache, ConcurrentGetsLoadOnce) {
  auto src = std::make_unique<CountingSource>();
  CountingSource* s = src.get();
  ChunkRef a = s->Add("shared chunk");
  ChunkCache cache(std::move(src), {1 << 20, 0});
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    ts.emplace_back([&] {
      auto r = cache.Get(a);
      if (r.ok() && Str(*r) == "shared chunk") ++ok;
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(s->reads.load(), 1);
}

TEST(ChunkCache, EvictsLeastRecentlyUsedWithinCapacity) {
  auto src = std::make_unique<CountingSource>();
  CountingSource* s = src.get();
  std::vector<ChunkRef> cs;
  for (char c = 'a'; c < 'a' + 10; ++c) cs.push_back(s->Add(std::string(100, c)));
  ChunkCache cache(std::move(src), {350, 0});
  for (const auto& c : cs) ASSERT_TRUE(cache.Get(c).ok());
  EXPECT_LE(cache.stats().cached_bytes, 350u);
  int before = s->reads.load();
  ASSERT_TRUE(cache.Get(cs.back()).ok());  // most recent: still cached
  EXPECT_EQ(s->reads.load(), before);
  ASSERT_TRUE(cache.Get(cs.front()).ok());  // evicted long ago: read again
  EXPECT_EQ(s->reads.load(), before + 1);
}

TEST(ChunkCache, ErrorsAreReturnedAndNotCached) {
  auto src = std::make_unique<CountingSource>();
  CountingSource* s = src.get();
  ChunkRef a = s->Add("bad");
  s->corrupt[a.digest] = true;
  ChunkCache cache(std::move(src), {1 << 20, 1});
  cache.Prefetch({a});  // a failing read-ahead must not poison the cache
  auto r = cache.Get(a);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
  s->corrupt.clear();
  auto r2 = cache.Get(a);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(Str(*r2), "bad");
}

TEST(ChunkCache, PrefetchLoadsAhead) {
  auto src = std::make_unique<CountingSource>();
  CountingSource* s = src.get();
  std::vector<ChunkRef> cs;
  for (int i = 0; i < 6; ++i) cs.push_back(s->Add("chunk " + std::to_string(i)));
  ChunkCache cache(std::move(src), {1 << 20, 2});
  cache.Prefetch(cs);
  // Waits for the workers (giving up after a minute: a hang fails the test).
  for (int i = 0; i < 12000 && cache.stats().prefetched < 6; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(cache.stats().prefetched, 6u);
  int reads = s->reads.load();
  for (const auto& c : cs) ASSERT_TRUE(cache.Get(c).ok());
  EXPECT_EQ(s->reads.load(), reads);  // all hits
}

TEST(ChunkCache, AReaderLoadsQueuedReadAheadItself) {
  std::atomic<int> reads{0};
  auto src = std::make_unique<GatedSource>(&reads);
  GatedSource* s = src.get();  // until the cache goes
  ChunkRef a = s->Add("first"), b = s->Add("second");
  s->Hold(a.digest);
  {
    ChunkCache cache(std::move(src), {1 << 20, 1});
    cache.Prefetch({a, b});
    // The one read-ahead worker is inside the read of a: b is still queued.
    EXPECT_TRUE(s->WaitEntered());
    auto rb = cache.Get(b);
    ASSERT_TRUE(rb.ok()) << rb.status().ToString();
    EXPECT_EQ(Str(*rb), "second");
    ChunkCache::Stats st = cache.stats();
    EXPECT_EQ(st.taken, 1u);
    EXPECT_EQ(st.misses, 1u);
    EXPECT_EQ(st.prefetched, 0u);
    s->Release();
    auto ra = cache.Get(a);  // waits for the worker's load, then hits
    ASSERT_TRUE(ra.ok()) << ra.status().ToString();
    EXPECT_EQ(Str(*ra), "first");
    st = cache.stats();
    EXPECT_EQ(st.prefetched, 1u);
    EXPECT_EQ(st.hits, 1u);
  }
  // The worker's task for b found it taken: each chunk was read once.
  EXPECT_EQ(reads.load(), 2);
}

}  // namespace
}  // namespace cfs
