#include "deploy/fanout.h"

#include <gtest/gtest.h>

namespace cfs::deploy {
namespace {

using V = std::vector<int>;

TEST(FanoutParents, OneSeedFromTheDeployHost) {
  EXPECT_EQ(FanoutParents(0, 2), V{});
  EXPECT_EQ(FanoutParents(1, 2), V{-1});
  EXPECT_EQ(FanoutParents(5, 2), (V{-1, 0, 0, 1, 1}));
}

TEST(FanoutParents, OneIsAChain) { EXPECT_EQ(FanoutParents(4, 1), (V{-1, 0, 1, 2})); }

TEST(FanoutParents, EveryHostFeedsAtMostFanoutOthers) {
  for (int f = 1; f <= 5; f++) {
    auto parent = FanoutParents(100, f);
    std::vector<int> fed(100, 0);
    for (size_t i = 1; i < parent.size(); i++) {
      ASSERT_GE(parent[i], 0);
      ASSERT_LT(static_cast<size_t>(parent[i]), i);  // parents first: no cycles
      fed[parent[i]]++;
    }
    for (int n : fed) EXPECT_LE(n, f);
  }
}

}  // namespace
}  // namespace cfs::deploy
