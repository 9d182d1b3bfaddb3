#include "mount/mount_table.h"

#include <gtest/gtest.h>

#include "base/io.h"

namespace cfs::mount {
namespace {

TEST(MountTableTest, TheRootIsAMountPointAFreshDirectoryIsNot) {
  EXPECT_TRUE(IsMountPoint("/"));
  auto d = TempDir::Create("/tmp", "mount_table_test");
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(IsMountPoint(d->path()));
}

TEST(MountTableTest, TheDeviceOfAMountPointIsMajorMinor) {
  std::string dev = MountDevice("/");
  ASSERT_FALSE(dev.empty());
  EXPECT_NE(dev.find(':'), std::string::npos) << dev;
  auto d = TempDir::Create("/tmp", "mount_table_test");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(MountDevice(d->path()), "");
}

}  // namespace
}  // namespace cfs::mount
