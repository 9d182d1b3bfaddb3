#include "mount/image_mount.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "base/io.h"

namespace cfs::mount {
namespace {

// Prepare only: nothing here is mounted.
class ImageMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = TempDir::Create("/tmp", "image_mount_test");
    ASSERT_TRUE(d.ok());
    dir_ = std::move(*d);
    ASSERT_EQ(::mkdir((dir_.path() + "/lower").c_str(), 0755), 0);
    o_.root = dir_.path() + "/store";
    o_.mountpoint = dir_.path() + "/mnt";
  }
  bool StoreExists() const {
    struct stat st;
    return ::stat(o_.root.c_str(), &st) == 0;
  }

  TempDir dir_;
  ImageMountOptions o_;
};

TEST_F(ImageMountTest, DirectoriesOnlyNeedNoStoreAndNoCache) {
  o_.source = "none";
  o_.lowerdirs = {dir_.path() + "/lower"};
  auto m = ImageMount::Prepare(o_);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_FALSE((*m)->cache_stats().has_value());
  EXPECT_FALSE(StoreExists());
}

TEST_F(ImageMountTest, NothingToMountIsInvalid) {
  o_.source = "none";
  auto m = ImageMount::Prepare(o_);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(m.status().message().find("nothing to mount"), std::string::npos);
}

TEST_F(ImageMountTest, AnImageTheStoreLacksIsNotFound) {
  o_.source = "missing:1";
  o_.lowerdirs = {dir_.path() + "/lower"};
  auto m = ImageMount::Prepare(o_);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Status::Code::kNotFound);
  EXPECT_NE(m.status().message().find("image 'missing:1' is not in the store"), std::string::npos)
      << m.status().message();
}

}  // namespace
}  // namespace cfs::mount
