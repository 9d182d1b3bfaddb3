#include "fs/lower_list.h"

#include <gtest/gtest.h>

#include <vector>

namespace cfs {
namespace {

std::vector<uint16_t> Items(const LowerList& l) { return {l.begin(), l.end()}; }

LowerList Of(uint16_t n) {
  LowerList l;
  for (uint16_t i = 0; i < n; ++i) l.push_back(static_cast<uint16_t>(i * 7));
  return l;
}

TEST(LowerList, StartsEmptyAndKeepsOrder) {
  LowerList l;
  EXPECT_TRUE(l.empty());
  EXPECT_EQ(l.size(), 0u);
  l.push_back(4);
  l.push_back(2);
  EXPECT_FALSE(l.empty());
  EXPECT_EQ(Items(l), (std::vector<uint16_t>{4, 2}));
  EXPECT_EQ(l[0], 4);
}

TEST(LowerList, GrowsPastTheInlineEntries) {
  for (uint16_t n : {3, 4, 5, 40}) {
    LowerList l = Of(n);
    ASSERT_EQ(l.size(), n);
    for (uint16_t i = 0; i < n; ++i) EXPECT_EQ(l[i], i * 7) << n;
  }
}

TEST(LowerList, CopiesAndMovesAreIndependent) {
  for (uint16_t n : {2, 6}) {
    LowerList a = Of(n);
    LowerList b = a;
    EXPECT_EQ(a, b);
    b.push_back(99);
    EXPECT_EQ(a.size(), n);
    EXPECT_EQ(b.size(), n + 1u);
    EXPECT_FALSE(a == b);
    LowerList c = std::move(b);
    EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
    EXPECT_EQ(c[n], 99);
    c = a;
    EXPECT_EQ(c, a);
    a = std::move(c);
    EXPECT_EQ(Items(a), Items(Of(n)));
  }
}

TEST(LowerList, IsSixteenBytes) { EXPECT_LE(sizeof(LowerList), 16u); }

}  // namespace
}  // namespace cfs
