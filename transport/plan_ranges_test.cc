#include "transport/image_source.h"

#include <gtest/gtest.h>

namespace cfs {
namespace {

std::vector<std::pair<uint64_t, uint64_t>> Plain(const std::vector<BlobRange>& v) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (const auto& r : v) out.emplace_back(r.offset, r.length);
  return out;
}

TEST(PlanRanges, MergesNeighboursWithinTheGap) {
  auto p = PlanRanges({{0, 100}, {100, 50}, {160, 40}, {1000, 10}}, 16, 1 << 20);
  EXPECT_EQ(Plain(p), (std::vector<std::pair<uint64_t, uint64_t>>{{0, 200}, {1000, 10}}));
}

TEST(PlanRanges, SortsFirst) {
  auto p = PlanRanges({{500, 10}, {0, 10}, {10, 10}}, 0, 1 << 20);
  EXPECT_EQ(Plain(p), (std::vector<std::pair<uint64_t, uint64_t>>{{0, 20}, {500, 10}}));
}

TEST(PlanRanges, NeverLongerThanMaxUnlessOneRangeIs) {
  auto p = PlanRanges({{0, 60}, {60, 60}, {120, 60}, {180, 500}}, 0, 130);
  EXPECT_EQ(Plain(p),
            (std::vector<std::pair<uint64_t, uint64_t>>{{0, 120}, {120, 60}, {180, 500}}));
}

TEST(PlanRanges, OverlapsAndDuplicatesCollapse) {
  auto p = PlanRanges({{0, 100}, {50, 100}, {0, 100}}, 0, 1 << 20);
  EXPECT_EQ(Plain(p), (std::vector<std::pair<uint64_t, uint64_t>>{{0, 150}}));
  EXPECT_TRUE(PlanRanges({}, 0, 10).empty());
}

// The lazy fetch (lazy/lazy_fetch.cc) takes the first range as one read: a
// gap of exactly max_gap and a length of exactly max_len still merge.
TEST(PlanRanges, GapAndLengthLimitsAreInclusive) {
  auto p = PlanRanges({{0, 10}, {26, 10}, {52, 10}}, 16, 36);
  EXPECT_EQ(Plain(p), (std::vector<std::pair<uint64_t, uint64_t>>{{0, 36}, {52, 10}}));
  p = PlanRanges({{0, 10}, {27, 10}}, 16, 1 << 20);
  EXPECT_EQ(Plain(p), (std::vector<std::pair<uint64_t, uint64_t>>{{0, 10}, {27, 10}}));
  p = PlanRanges({{0, 10}, {26, 11}}, 16, 36);
  EXPECT_EQ(Plain(p), (std::vector<std::pair<uint64_t, uint64_t>>{{0, 10}, {26, 11}}));
}

}  // namespace
}  // namespace cfs
