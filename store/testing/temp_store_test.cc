// The test stores: where they are, that they open, and that they go.
#include "store/testing/temp_store.h"

#include <gtest/gtest.h>

namespace cfs::testing {
namespace {

TEST(TempStore, OpensAStoreInAFreshDirectoryAndRemovesBoth) {
  std::string dir;
  {
    StoreOptions o;
    o.threads = 1;
    auto t = TempStore::Create("temp-store-test-", "s", o);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    dir = t->dir.path();
    EXPECT_EQ(dir.rfind("/tmp/temp-store-test-", 0), 0u) << dir;
    EXPECT_EQ(t->Path("s"), dir + "/s");
    ASSERT_NE(t->store, nullptr);
    EXPECT_EQ(t->store->root(), dir + "/s");
    auto images = t->store->ListImages();
    ASSERT_TRUE(images.ok()) << images.status().ToString();
    EXPECT_TRUE(images->empty());
  }
  EXPECT_FALSE(PathExists(dir));
}

TEST(TempStore, FailsWhereNoStoreCanBe) {
  // A store directory under a regular file cannot be made.
  auto bad = TempStore::Create("temp-store-test-", "../../proc/version/store");
  EXPECT_FALSE(bad.ok());
}

class DefaultFixture : public TempStoreTest {};

TEST_F(DefaultFixture, OpensStoreAtRootAndReopensIt) {
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(store_->root(), Path("root"));
  store_.reset();
  store_ = OpenStore("root");
  ASSERT_NE(store_, nullptr);
  auto other = OpenStore("other");
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->root(), tmp_.path() + "/other");
}

class NoStoreFixture : public TempStoreTest {
 protected:
  NoStoreFixture() : TempStoreTest("") {}
};

TEST_F(NoStoreFixture, OpensNoneWhenAskedForNone) {
  EXPECT_EQ(store_, nullptr);
  EXPECT_TRUE(PathExists(tmp_.path()));
  EXPECT_FALSE(PathExists(Path("root")));
}

}  // namespace
}  // namespace cfs::testing
