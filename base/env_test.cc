#include "base/env.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "base/io.h"

namespace cfs {
namespace {

class EnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::Create("/tmp", "env-test-");
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    dir_ = std::move(*t);
  }
  std::string Path(const std::string& name) { return dir_.path() + "/" + name; }
  std::string Read(const std::string& name) {
    auto s = ReadFile(Path(name));
    return s.ok() ? *s : "<" + s.status().ToString() + ">";
  }
  Env* env_ = Env::Default();
  TempDir dir_;
};

TEST_F(EnvTest, WritesAppendsAndPositionedWrites) {
  auto f = env_->OpenWritable(Path("a"), Env::OpenMode::kCreateNew);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_TRUE((*f)->Append("hello ").ok());
  ASSERT_TRUE((*f)->WriteAt(6, {"wor", "ld"}).ok());
  EXPECT_EQ((*f)->size(), 11u);
  ASSERT_TRUE((*f)->WriteAt(0, "J").ok());
  ASSERT_TRUE((*f)->Sync().ok());
  ASSERT_TRUE((*f)->Close().ok());
  EXPECT_EQ(Read("a"), "Jello world");

  auto again = env_->OpenWritable(Path("a"), Env::OpenMode::kCreateNew);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().err(), EEXIST);

  auto existing = env_->OpenWritable(Path("a"), Env::OpenMode::kExisting);
  ASSERT_TRUE(existing.ok());
  EXPECT_EQ((*existing)->size(), 11u);
  ASSERT_TRUE((*existing)->Append("!").ok());
  ASSERT_TRUE((*existing)->Truncate(5).ok());
  EXPECT_EQ(Read("a"), "Jello");
  EXPECT_FALSE(env_->OpenWritable(Path("none"), Env::OpenMode::kExisting).ok());

  auto trunc = env_->OpenWritable(Path("a"), Env::OpenMode::kTruncate);
  ASSERT_TRUE(trunc.ok());
  EXPECT_EQ((*trunc)->size(), 0u);
  EXPECT_EQ(Read("a"), "");
}

TEST_F(EnvTest, PunchHoleReadsAsZerosAndKeepsTheSize) {
  auto f = env_->OpenWritable(Path("p"), Env::OpenMode::kCreateNew);
  ASSERT_TRUE(f.ok());
  std::string data(3 * 4096, 'x');
  ASSERT_TRUE((*f)->Append(data).ok());
  Status s = (*f)->PunchHole(4096, 4096);
  if (!s.ok() && s.err() == EOPNOTSUPP) GTEST_FAIL() << "/tmp cannot punch holes: " << s.ToString();
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::string want = data;
  std::fill(want.begin() + 4096, want.begin() + 8192, '\0');
  EXPECT_EQ(Read("p"), want);
}

TEST_F(EnvTest, NamesRenamesAndRemovals) {
  ASSERT_TRUE(env_->CreateDirs(Path("x/y/z")).ok());
  ASSERT_TRUE(env_->CreateDirs(Path("x/y/z")).ok());  // already there: fine
  ASSERT_TRUE(WriteFileAtomic(env_, Path("x/y/z/f"), "one").ok());
  ASSERT_TRUE(WriteFileAtomic(env_, Path("x/y/z/f"), "two").ok());
  EXPECT_EQ(Read("x/y/z/f"), "two");
  EXPECT_EQ(ListDir(Path("x/y/z"))->size(), 1u) << "the temporary file stays behind";
  ASSERT_TRUE(env_->Rename(Path("x/y/z/f"), Path("x/g")).ok());
  EXPECT_EQ(Read("x/g"), "two");
  ASSERT_TRUE(env_->SyncDir(Path("x")).ok());
  Status gone = env_->RemoveFile(Path("x/y/z/f"));
  EXPECT_EQ(gone.err(), ENOENT) << gone.ToString();
  ASSERT_TRUE(env_->RemoveTree(Path("x")).ok());
  EXPECT_FALSE(PathExists(Path("x")));
  EXPECT_TRUE(env_->RemoveTree(Path("x")).ok()) << "absent: nothing to do";
  EXPECT_GT(env_->NowMicros(), uint64_t{1600000000} * 1000000);
}

TEST_F(EnvTest, AtomicFileSinkLeavesNothingWithoutCommit) {
  {
    auto sink = AtomicFileSink::Create(env_, Path("f"));
    ASSERT_TRUE(sink.ok());
    ASSERT_TRUE((*sink)->Write("partial").ok());
  }
  EXPECT_FALSE(PathExists(Path("f")));
  EXPECT_TRUE(ListDir(dir_.path())->empty());
}

TEST(DirNameTest, Parts) {
  EXPECT_EQ(DirName("/a/b"), "/a");
  EXPECT_EQ(DirName("/a"), "/");
  EXPECT_EQ(DirName("a"), ".");
}

}  // namespace
}  // namespace cfs
