#include "base/mountinfo.h"

#include <gtest/gtest.h>

namespace cfs {
namespace {

TEST(MountInfo, ParsesFieldsAndUnescapes) {
  auto m = ParseMountInfo(
      "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
      "90 22 0:51 /sub\\040dir /mnt/a\\040b\\134c rw - fuse.clusterfs cfs rw\n"
      "short line\n"
      "91 90 8:1 / /mnt/last rw - ext4 /dev/sda1 rw");
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].device, "0:21");
  EXPECT_EQ(m[0].mount_point, "/proc");
  EXPECT_EQ(m[1].device, "0:51");
  EXPECT_EQ(m[1].root, "/sub dir");
  EXPECT_EQ(m[1].mount_point, "/mnt/a b\\c");
  EXPECT_EQ(m[2].mount_point, "/mnt/last");  // no trailing newline
}

TEST(MountInfo, ThisProcessHasARoot) {
  auto m = ReadMountInfo();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  bool root = false;
  for (const auto& e : *m) root |= e.mount_point == "/";
  EXPECT_TRUE(root);
}

}  // namespace
}  // namespace cfs
