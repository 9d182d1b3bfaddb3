#include "builder/copy_out.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "layer/testing/layer_testing.h"

namespace cfs::builder {
namespace {

namespace fs = std::filesystem;
using cfs::testing::MemoryChunks;
using cfs::testing::TempDir;

TocEntry Make(EntryType t, const std::string& name, uint32_t mode, const std::string& target = "") {
  TocEntry e;
  e.type = t;
  e.name = name;
  e.mode = mode;
  e.mtime_sec = 1600000000;
  e.link_target = target;
  return e;
}

TocEntry File(LayerToc& toc, MemoryChunks& mem, const std::string& name, const std::string& data) {
  TocEntry e = Make(EntryType::kRegular, name, 0640);
  e.size = data.size();
  e.first_chunk = static_cast<uint32_t>(toc.chunks.size());
  for (size_t off = 0; off < data.size(); off += 5)
    toc.chunks.push_back(mem.Put(data.substr(off, 5)));
  e.num_chunks = static_cast<uint32_t>(toc.chunks.size()) - e.first_chunk;
  return e;
}

std::string Read(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

class CopyOutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto l = std::make_shared<LayerToc>();
    l->entries.push_back(Make(EntryType::kDirectory, "etc", 0750));
    l->entries.push_back(Make(EntryType::kDirectory, "etc/app", 0500));  // no write bit: set last
    l->entries.push_back(File(*l, mem_, "etc/app/conf", "key = value\n"));
    l->entries.push_back(Make(EntryType::kHardlink, "etc/app/conf.hl", 0, "etc/app/conf"));
    l->entries.push_back(Make(EntryType::kSymlink, "etc/app/passwd", 0777, "/etc/passwd"));
    l->entries.push_back(Make(EntryType::kSymlink, "etc/up", 0777, "../../.."));
    l->entries.push_back(Make(EntryType::kFifo, "etc/fifo", 0600));
    auto s = LayerStack::Build({l});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    stack_ = std::make_unique<LayerStack>(std::move(*s));
  }

  MemoryChunks mem_;
  std::unique_ptr<LayerStack> stack_;
  TempDir tmp_;
};

TEST_F(CopyOutTest, ADirectoryIntoAnExistingDirectoryKeepsLinksAndModes) {
  fs::path dest = fs::path(tmp_.path()) / "dest";
  fs::create_directory(dest);
  auto st = CopyOut(*stack_, mem_, "/etc", dest.string());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->bytes, 12u);
  EXPECT_EQ(Read(dest / "etc/app/conf"), "key = value\n");
  struct stat a, b;
  ASSERT_EQ(::stat((dest / "etc/app/conf").c_str(), &a), 0);
  ASSERT_EQ(::stat((dest / "etc/app/conf.hl").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_mode & 07777, 0640u);
  EXPECT_EQ(a.st_mtime, 1600000000);
  EXPECT_EQ(fs::read_symlink(dest / "etc/app/passwd"), "/etc/passwd");
  EXPECT_TRUE(fs::is_fifo(fs::symlink_status(dest / "etc/fifo")));
  ASSERT_EQ(::stat((dest / "etc/app").c_str(), &a), 0);
  EXPECT_EQ(a.st_mode & 07777, 0500u);
  fs::permissions(dest / "etc/app", fs::perms::owner_all);  // so TempDir can remove it
}

TEST_F(CopyOutTest, AFileToANewNameAndIntoADirectory) {
  fs::path dir = fs::path(tmp_.path());
  ASSERT_TRUE(CopyOut(*stack_, mem_, "/etc/app/conf", (dir / "renamed").string()).ok());
  EXPECT_EQ(Read(dir / "renamed"), "key = value\n");
  ASSERT_TRUE(CopyOut(*stack_, mem_, "etc/app/conf.hl", dir.string()).ok());
  EXPECT_EQ(Read(dir / "conf.hl"), "key = value\n");
  EXPECT_EQ(CopyOut(*stack_, mem_, "/etc/nope", dir.string()).status().code(),
            Status::Code::kNotFound);
  EXPECT_EQ(CopyOut(*stack_, mem_, "/etc", (dir / "renamed").string()).status().code(),
            Status::Code::kAlreadyExists);
  EXPECT_EQ(CopyOut(*stack_, mem_, "/etc/app/conf", (dir / "no/such/dir").string()).status().code(),
            Status::Code::kNotFound);
}

// A symlink already in the destination where the copy makes a directory is
// replaced, never followed: nothing lands outside the destination.
TEST_F(CopyOutTest, NeverWritesThroughASymlinkInTheDestination) {
  fs::path dest = fs::path(tmp_.path()) / "dest", outside = fs::path(tmp_.path()) / "outside";
  fs::create_directories(dest);
  fs::create_directories(outside);
  fs::create_directory_symlink(outside, dest / "etc");
  auto st = CopyOut(*stack_, mem_, "/etc", dest.string());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_TRUE(fs::is_empty(outside));
  EXPECT_FALSE(fs::is_symlink(dest / "etc"));
  EXPECT_EQ(Read(dest / "etc/app/conf"), "key = value\n");
  // the image's own symlink "etc/up" -> ../../.. is written, not followed
  EXPECT_EQ(fs::read_symlink(dest / "etc/up"), "../../..");
  fs::permissions(dest / "etc/app", fs::perms::owner_all);
}

}  // namespace
}  // namespace cfs::builder
