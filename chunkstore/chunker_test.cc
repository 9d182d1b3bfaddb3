#include "chunkstore/chunk_store.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

namespace cfs {
namespace {

std::vector<uint8_t> RandomBytes(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

std::vector<size_t> Cuts(const Chunker& c, const std::vector<uint8_t>& d, size_t start = 0) {
  std::vector<size_t> out;
  size_t pos = start;
  while (pos < d.size()) {
    size_t n = std::min<size_t>(d.size() - pos, c.params().max_size);
    size_t len = c.NextCut(d.data() + pos, n);
    pos += len;
    out.push_back(pos);
  }
  return out;
}

TEST(Chunker, RespectsBoundsAndCoversInput) {
  Chunker c{ChunkerParams{}};
  auto d = RandomBytes(8 << 20, 1);
  auto cuts = Cuts(c, d);
  size_t prev = 0;
  for (size_t i = 0; i < cuts.size(); i++) {
    size_t len = cuts[i] - prev;
    EXPECT_LE(len, c.params().max_size);
    if (i + 1 < cuts.size()) {
      EXPECT_GE(len, c.params().min_size);
    }
    prev = cuts[i];
  }
  EXPECT_EQ(prev, d.size());
  double mean = static_cast<double>(d.size()) / cuts.size();
  EXPECT_GT(mean, 40e3);  // normalized chunking keeps the mean near 64 KiB
  EXPECT_LT(mean, 100e3);
}

TEST(Chunker, BoundariesResynchronizeAfterInsertion) {
  Chunker c{ChunkerParams{}};
  auto d = RandomBytes(4 << 20, 2);
  auto base = Cuts(c, d);
  auto shifted = d;
  shifted.insert(shifted.begin() + 1000, {1, 2, 3, 4, 5, 6, 7});
  auto moved = Cuts(c, shifted);
  std::set<size_t> a(base.begin(), base.end());
  size_t common = 0;
  for (size_t x : moved)
    if (x >= 7 && a.count(x - 7)) common++;
  // All but the first one or two chunks line up again.
  EXPECT_GE(common + 2, base.size());
}

TEST(Chunker, ShortInputIsOneChunk) {
  Chunker c{ChunkerParams{}};
  std::vector<uint8_t> d(100, 7);
  EXPECT_EQ(c.NextCut(d.data(), d.size()), 100u);
}

TEST(Chunker, ZerosCutAtMax) {
  Chunker c{ChunkerParams{}};
  std::vector<uint8_t> d(1 << 20, 0);
  EXPECT_EQ(c.NextCut(d.data(), c.params().max_size), c.params().max_size);
}

TEST(Chunker, DeterministicAcrossInstances) {
  auto d = RandomBytes(1 << 20, 3);
  EXPECT_EQ(Cuts(Chunker{ChunkerParams{}}, d), Cuts(Chunker{ChunkerParams{}}, d));
}

TEST(ChunkerParams, Validate) {
  EXPECT_TRUE(ChunkerParams{}.Validate().ok());
  EXPECT_FALSE((ChunkerParams{16 << 10, 60000, 256 << 10}.Validate().ok()));
  EXPECT_FALSE((ChunkerParams{64 << 10, 64 << 10, 256 << 10}.Validate().ok()));
}

}  // namespace
}  // namespace cfs
