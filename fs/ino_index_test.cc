#include "fs/ino_index.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace cfs {
namespace {

struct Node {
  explicit Node(uint64_t i) : ino(i) {}
  const uint64_t ino;
  Node* index_next = nullptr;
};

TEST(InoIndex, FindsWhatWasPut) {
  InoIndex<Node> index;
  Node a(1), b(2);
  EXPECT_EQ(index.Find(1), nullptr);
  EXPECT_EQ(index.Put(&a), nullptr);
  EXPECT_EQ(index.Put(&b), nullptr);
  EXPECT_EQ(index.Find(1), &a);
  EXPECT_EQ(index.Find(2), &b);
  EXPECT_EQ(index.size(), 2u);
}

TEST(InoIndex, PutReplacesTheNodeOfTheSameNumber) {
  InoIndex<Node> index;
  Node old(7), fresh(7);
  index.Put(&old);
  EXPECT_EQ(index.Put(&fresh), &old);
  EXPECT_EQ(index.Find(7), &fresh);
  EXPECT_EQ(index.size(), 1u);
  EXPECT_EQ(index.Erase(7), &fresh);
  EXPECT_EQ(index.Erase(7), nullptr);
  EXPECT_EQ(index.size(), 0u);
}

TEST(InoIndex, ManyNodesAcrossGrowthAndErase) {
  InoIndex<Node> index;
  std::vector<std::unique_ptr<Node>> nodes;
  // Numbers as InoMap makes them: a slot in the top byte, then the number.
  for (uint64_t i = 0; i < 10000; ++i) {
    nodes.push_back(std::make_unique<Node>((uint64_t{0x80} << 56) | (i << 32) | (i % 17)));
    index.Put(nodes.back().get());
  }
  EXPECT_EQ(index.size(), nodes.size());
  for (size_t i = 0; i < nodes.size(); i += 2) EXPECT_EQ(index.Erase(nodes[i]->ino), nodes[i].get());
  EXPECT_EQ(index.size(), nodes.size() / 2);
  for (size_t i = 0; i < nodes.size(); ++i)
    EXPECT_EQ(index.Find(nodes[i]->ino), i % 2 ? nodes[i].get() : nullptr) << i;
  size_t seen = 0;
  index.ForEach([&](Node*) { ++seen; });
  EXPECT_EQ(seen, nodes.size() / 2);
}

}  // namespace
}  // namespace cfs
