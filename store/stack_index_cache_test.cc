// The mount's stack index files (store/image_stack.h OpenImageIndex): built
// from the TOCs when absent, reused when valid, rebuilt when damaged or
// stale, removed by gc with their layers.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/io.h"
#include "store/image_stack.h"
#include "store/store.h"
#include "store/testing/temp_store.h"

namespace cfs {
namespace {

void PutFile(const std::string& path, const std::string& data) {
  ASSERT_TRUE(MakeDirs(path.substr(0, path.rfind('/'))).ok());
  ASSERT_TRUE(WriteFileAtomic(path, data).ok());
}

std::string Slurp(const std::string& path) {
  auto r = ReadFile(path);
  return r.ok() ? *r : std::string();
}

class StackIndexCacheTest : public testing::TempStoreTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(TempStoreTest::SetUp());
    a_ = Layer("a", {{"etc/hosts", "127.0.0.1 localhost\n"}, {"bin/sh", "#!sh\n"}});
    b_ = Layer("b", {{"etc/motd", "hi\n"}});
  }

  Digest Layer(const std::string& dir, const std::vector<std::pair<std::string, std::string>>& files) {
    for (const auto& [rel, data] : files) PutFile(tmp_.path() + "/" + dir + "/" + rel, data);
    std::unique_ptr<Store::Lease> lease;
    auto l = store_->ImportDirLayer(tmp_.path() + "/" + dir, nullptr, &lease);
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    leases_.push_back(std::move(lease));
    return l.ok() ? l->diff_id : Digest{};
  }

  ImageIndex MustOpen(const std::vector<Digest>& layers) {
    auto r = OpenImageIndex(*store_, layers);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(*r) : ImageIndex{};
  }

  std::string PathOf(const std::vector<Digest>& layers) {
    auto key = StackIndexKey(*store_, layers);
    EXPECT_TRUE(key.ok());
    return StackIndexPath(*store_, *key);
  }

  std::vector<std::unique_ptr<Store::Lease>> leases_;
  Digest a_, b_;
};

TEST_F(StackIndexCacheTest, BuiltOnceThenMapped) {
  ImageIndex first = MustOpen({a_, b_});
  EXPECT_TRUE(first.built);
  ASSERT_TRUE(first.index);
  EXPECT_TRUE(PathExists(PathOf({a_, b_})));
  ImageIndex again = MustOpen({a_, b_});
  EXPECT_FALSE(again.built);
  ASSERT_TRUE(again.index);
  EXPECT_EQ(again.index->size(), first.index->size());
  for (const char* p : {"etc/hosts", "etc/motd", "bin/sh"}) {
    auto n = again.index->Find(p);
    ASSERT_TRUE(n.ok() && n->has_value()) << p;
  }
  // Another stack of the same layers is another index.
  ImageIndex other = MustOpen({a_});
  EXPECT_TRUE(other.built);
  EXPECT_FALSE(other.index->Find("etc/motd")->has_value());
  EXPECT_NE(PathOf({a_}), PathOf({a_, b_}));
}

TEST_F(StackIndexCacheTest, DamagedIndexIsRebuilt) {
  MustOpen({a_, b_});
  const std::string path = PathOf({a_, b_});
  std::string good = Slurp(path);
  std::string bad = good;
  bad[bad.size() / 2] ^= 1;
  PutFile(path, bad);
  ImageIndex r = MustOpen({a_, b_});
  EXPECT_TRUE(r.built);
  EXPECT_EQ(Slurp(path), good);  // written back whole
  PutFile(path, good.substr(0, good.size() - 3));
  EXPECT_TRUE(MustOpen({a_, b_}).built);
  EXPECT_EQ(Slurp(path), good);
}

TEST_F(StackIndexCacheTest, IndexOfOtherLayersIsNeverServed) {
  MustOpen({a_});
  // A valid index, but of another stack, under this stack's name.
  PutFile(PathOf({a_, b_}), Slurp(PathOf({a_})));
  ImageIndex r = MustOpen({a_, b_});
  EXPECT_TRUE(r.built);
  EXPECT_TRUE(r.index->Find("etc/motd")->has_value());
}

// An index another process is writing (AtomicFileSink's NAME.tmp.PID.*)
// is left alone while that process lives; one of a dead writer goes.
TEST_F(StackIndexCacheTest, GcLeavesAnIndexBeingWrittenToItsLiveWriter) {
  MustOpen({a_});
  const std::string dir = store_->root() + "/stack-index/";
  const std::string live = dir + "x.idx.tmp." + std::to_string(::getpid()) + ".abcd";
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);  // reaped: that pid is dead
  const std::string dead = dir + "y.idx.tmp." + std::to_string(child) + ".abcd";
  PutFile(live, "partial");
  PutFile(dead, "partial");
  auto n = RemoveStaleStackIndexes(store_->root(), [&](const Digest& d) { return d == a_; });
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 1u);
  EXPECT_TRUE(PathExists(live));
  EXPECT_FALSE(PathExists(dead));
  EXPECT_TRUE(PathExists(PathOf({a_})));
}

TEST_F(StackIndexCacheTest, GcRemovesIndexesOfRemovedLayers) {
  MustOpen({a_, b_});
  MustOpen({a_});
  PutFile(store_->root() + "/stack-index/junk.idx", "not an index");
  auto n = RemoveStaleStackIndexes(store_->root(), [&](const Digest& d) { return d == a_; });
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 2u);  // the stack with b, and the junk
  EXPECT_TRUE(PathExists(PathOf({a_})));
  EXPECT_FALSE(PathExists(PathOf({a_, b_})));

  // Store::Gc does it with the layers it removes: b's lease gone, no image.
  leases_.clear();
  auto g = store_->Gc();
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->stack_indexes_removed, 1u);
  auto names = ListDir(store_->root() + "/stack-index");
  ASSERT_TRUE(names.ok());
  EXPECT_TRUE(names->empty());
}

TEST_F(StackIndexCacheTest, FsckReportsAndGcRemovesADamagedIndex) {
  MustOpen({a_, b_});
  const std::string path = PathOf({a_, b_});
  auto clean = store_->Fsck();
  ASSERT_TRUE(clean.ok()) << clean.status().ToString();
  EXPECT_TRUE(clean->problems.empty());
  std::string bad = Slurp(path);
  bad[bad.size() - 5] ^= 1;  // a body byte: only the checksum tells
  PutFile(path, bad);
  auto f = store_->Fsck();
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ(f->problems.size(), 1u);
  EXPECT_NE(f->problems[0].find("stack index"), std::string::npos) << f->problems[0];
  EXPECT_NE(f->problems[0].find("checksum"), std::string::npos) << f->problems[0];
  auto g = store_->Gc();  // the layers are leased: kept, but the damaged index goes
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->stack_indexes_removed, 1u);
  EXPECT_FALSE(PathExists(path));
  EXPECT_TRUE(store_->Fsck()->problems.empty());
}

}  // namespace
}  // namespace cfs
