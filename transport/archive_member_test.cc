#include "transport/archive_member.h"

#include <gtest/gtest.h>

#include <fstream>

#include "base/io.h"
#include "transport/image_source.h"

namespace cfs {
namespace {

TEST(ReadArchiveMemberTest, ReadsOneMemberAndSkipsTheRest) {
  auto t = TempDir::Create("/tmp", "archive-member-test-");
  ASSERT_TRUE(t.ok());
  const std::string dir = t->path() + "/d";
  ASSERT_TRUE(MakeDirs(dir + "/blobs/sha256").ok());
  std::ofstream(dir + "/blobs/sha256/aa") << std::string(100000, 'x');
  std::ofstream(dir + "/index.json") << "{\"schemaVersion\":2}";
  const std::string tar = t->path() + "/a.tar";
  ASSERT_TRUE(WriteTarOfDir(dir, tar).ok());
  auto got = ReadArchiveMember(tar, "index.json");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, "{\"schemaVersion\":2}");
  auto none = ReadArchiveMember(tar, "oci-layout");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto big = ReadArchiveMember(tar, "blobs/sha256/aa", 1000);
  EXPECT_FALSE(big.ok());
  auto dir_member = ReadArchiveMember(tar, "blobs");
  EXPECT_FALSE(dir_member.ok());
  std::ofstream(t->path() + "/not.tar") << "plain text, not a tar";
  EXPECT_FALSE(ReadArchiveMember(t->path() + "/not.tar", "index.json").ok());
  EXPECT_TRUE(ReadArchiveMember(t->path() + "/absent.tar", "index.json").status().IsNotFound());
}

}  // namespace
}  // namespace cfs
