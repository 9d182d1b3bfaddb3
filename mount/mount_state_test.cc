#include "mount/mount_state.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/io.h"

namespace cfs::mount {
namespace {

// A mount point no real mount has (a fresh directory), whose record the
// test removes.
class MountStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = TempDir::Create("/tmp", "mount_state_test");
    ASSERT_TRUE(d.ok());
    dir_ = std::move(*d);
    record_ = MountRecordPath(dir_.path(), ".json");
  }
  void TearDown() override { ::unlink(record_.c_str()); }

  TempDir dir_;
  std::string record_;
};

TEST_F(MountStateTest, RecordPathsAreNamedAfterTheMountPoint) {
  std::string pid = MountRecordPath(dir_.path(), ".pid");
  EXPECT_EQ(record_.substr(0, record_.size() - 5), pid.substr(0, pid.size() - 4));
  EXPECT_NE(MountRecordPath(dir_.path() + "x", ".json"), record_);
  EXPECT_EQ(MountRecordPath(dir_.path(), ".json"), record_);
}

TEST_F(MountStateTest, WhatIsWrittenIsRead) {
  MountState s;
  s.mountpoint = dir_.path();
  s.root = "/var/lib/cimg-test";
  s.source = "app:1";
  s.manifests = {"sha256:ab", ""};
  s.dir_lowers = 2;
  s.upper = "/u";
  s.work = "/w";
  s.pid = 4242;
  ASSERT_TRUE(WriteMountState(s).ok());
  struct stat st;
  ASSERT_EQ(::stat(record_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto r = ReadMountState(dir_.path());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->mountpoint, s.mountpoint);
  EXPECT_EQ(r->root, s.root);
  EXPECT_EQ(r->source, s.source);
  EXPECT_EQ(r->manifests, s.manifests);
  EXPECT_EQ(r->dir_lowers, 2);
  EXPECT_EQ(r->upper, "/u");
  EXPECT_EQ(r->work, "/w");
  EXPECT_EQ(r->pid, 4242);
}

TEST_F(MountStateTest, NoRecordIsNotCorruption) {
  auto r = ReadMountState(dir_.path());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().code(), Status::Code::kCorruption);
}

TEST_F(MountStateTest, AMalformedRecordIsCorruption) {
  MakeMountRecordDir();
  for (const char* body : {"not json", "[1]", "{\"manifests\": 3}"}) {
    ASSERT_TRUE(WriteFileAtomic(record_, body).ok());
    auto r = ReadMountState(dir_.path());
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.status().code(), Status::Code::kCorruption) << body;
    EXPECT_NE(r.status().message().find(record_), std::string::npos) << body;
  }
}

}  // namespace
}  // namespace cfs::mount
