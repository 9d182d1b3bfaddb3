#include "store/testing/fault_injection_env.h"

#include <gtest/gtest.h>

#include "base/io.h"

namespace cfs::testing {
namespace {

class FaultInjectionEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::Create("/tmp", "fault-env-test-");
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    dir_ = std::move(*t);
  }
  std::string Path(const std::string& name) { return dir_.path() + "/" + name; }
  std::string Read(const std::string& name) {
    auto s = ReadFile(Path(name));
    return s.ok() ? *s : "<absent>";
  }
  // Creates name holding data, synced with its directory (durable).
  void Durable(const std::string& name, const std::string& data) {
    auto f = env_.OpenWritable(Path(name), Env::OpenMode::kCreateNew, 0644);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    ASSERT_TRUE((*f)->Append(data).ok());
    ASSERT_TRUE((*f)->Sync().ok());
    ASSERT_TRUE(env_.SyncDir(dir_.path()).ok());
  }
  TempDir dir_;
  FaultInjectionEnv env_;
};

TEST_F(FaultInjectionEnvTest, UnsyncedWritesAreGoneSyncedOnesStay) {
  Durable("a", "synced");
  auto f = env_.OpenWritable(Path("a"), Env::OpenMode::kExisting, 0644);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append(" and not").ok());
  ASSERT_TRUE((*f)->WriteAt(0, "SY").ok());  // overwrites synced bytes
  EXPECT_EQ(Read("a"), "SYnced and not") << "the env really writes";
  f->reset();
  ASSERT_TRUE(env_.DropUnsynced().ok());
  EXPECT_EQ(Read("a"), "synced");
}

TEST_F(FaultInjectionEnvTest, PunchAndTruncateOfSyncedBytesAreUndone) {
  std::string data(8192, 'p');
  Durable("p", data);
  auto f = env_.OpenWritable(Path("p"), Env::OpenMode::kExisting, 0644);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->PunchHole(0, 4096).ok());
  ASSERT_TRUE((*f)->Truncate(6000).ok());
  EXPECT_EQ(Read("p"), std::string(4096, '\0') + std::string(6000 - 4096, 'p'));
  ASSERT_TRUE(env_.DropUnsynced().ok());
  EXPECT_EQ(Read("p"), data);
}

TEST_F(FaultInjectionEnvTest, ACreationWithoutDirectorySyncIsGone) {
  auto f = env_.OpenWritable(Path("new"), Env::OpenMode::kCreateNew, 0644);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append("data").ok());
  ASSERT_TRUE((*f)->Sync().ok());  // the bytes, not the name
  ASSERT_TRUE(env_.DropUnsynced().ok());
  EXPECT_FALSE(PathExists(Path("new")));
}

TEST_F(FaultInjectionEnvTest, ARenameWithoutDirectorySyncIsReverted) {
  Durable("target", "old");
  Durable("tmp", "new");
  ASSERT_TRUE(env_.Rename(Path("tmp"), Path("target")).ok());
  EXPECT_EQ(Read("target"), "new");
  ASSERT_TRUE(env_.DropUnsynced().ok());
  EXPECT_EQ(Read("target"), "old");
  EXPECT_EQ(Read("tmp"), "new");

  ASSERT_TRUE(env_.Rename(Path("tmp"), Path("target")).ok());
  ASSERT_TRUE(env_.SyncDir(dir_.path()).ok());
  ASSERT_TRUE(env_.DropUnsynced().ok());
  EXPECT_EQ(Read("target"), "new");
  EXPECT_FALSE(PathExists(Path("tmp")));
}

TEST_F(FaultInjectionEnvTest, AtomicReplaceCutAtEachSyncLeavesOldOrNew) {
  Durable("f", "old");
  const uint64_t base = env_.syncs();
  ASSERT_TRUE(WriteFileAtomic(&env_, Path("f"), "new").ok());
  const uint64_t n = env_.syncs() - base;
  EXPECT_EQ(n, 2u) << "the temporary file, then the directory";
  for (uint64_t k = 1; k <= n; k++) {
    ASSERT_TRUE(WriteFileAtomic(&env_, Path("f"), "old").ok());
    ASSERT_TRUE(env_.DropUnsynced().ok());
    env_.SetCutAt(env_.syncs() + k);
    Status s = WriteFileAtomic(&env_, Path("f"), "new");
    EXPECT_FALSE(s.ok()) << "cut at sync " << k;
    ASSERT_TRUE(env_.DropUnsynced().ok());
    EXPECT_EQ(Read("f"), "old") << "cut at sync " << k;
    EXPECT_EQ(ListDir(dir_.path())->size(), 1u) << "no temporary file survives";
  }
}

TEST_F(FaultInjectionEnvTest, TheCutFailsThatSyncAndEverythingAfter) {
  Durable("a", "x");
  env_.SetCutAt(env_.syncs() + 2);
  auto f = env_.OpenWritable(Path("b"), Env::OpenMode::kCreateNew, 0644);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append("1").ok());
  ASSERT_TRUE((*f)->Sync().ok());  // sync 1
  EXPECT_FALSE(env_.power_cut());
  Status cut = env_.SyncDir(dir_.path());  // sync 2: the cut
  EXPECT_FALSE(cut.ok());
  EXPECT_NE(cut.message().find("power cut"), std::string::npos) << cut.ToString();
  EXPECT_TRUE(env_.power_cut());
  EXPECT_FALSE((*f)->Append("2").ok());
  EXPECT_FALSE((*f)->Sync().ok());
  EXPECT_FALSE(env_.Rename(Path("a"), Path("c")).ok());
  EXPECT_FALSE(env_.RemoveFile(Path("a")).ok());
  EXPECT_FALSE(env_.CreateDir(Path("d"), 0755).ok());
  EXPECT_FALSE(env_.OpenWritable(Path("e"), Env::OpenMode::kCreateNew, 0644).ok());
  EXPECT_EQ(env_.syncs(), 4u) << "syncs after the cut are not counted";
  f->reset();
  ASSERT_TRUE(env_.DropUnsynced().ok());
  EXPECT_FALSE(PathExists(Path("b"))) << "its name was never synced";
  EXPECT_EQ(Read("a"), "x");
  EXPECT_FALSE(env_.power_cut()) << "the power is back";
}

}  // namespace
}  // namespace cfs::testing
