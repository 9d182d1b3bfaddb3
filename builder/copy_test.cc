// COPY's and ADD's semantics (builder/copy.h, builder/archive.h), as
// buildah copies for sealer: a directory gives its contents, the
// destination's kind, and ADD's archives unpacked, never outside the
// destination.
#include "builder/copy.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/io.h"
#include "builder/archive.h"

namespace cfs::builder {
namespace {

namespace fs = std::filesystem;

class CopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char t[] = "/tmp/copy_test.XXXXXX";
    ASSERT_NE(mkdtemp(t), nullptr);
    dir_ = t;
    fs::create_directories(ctx() + "/etc/sub");
    fs::create_directories(rootfs());
    fs::create_directories(outside());
    Write(ctx() + "/etc/a.conf", "a");
    Write(ctx() + "/etc/sub/b.conf", "b");
    Write(ctx() + "/file.txt", "f");
    root_.Reset(::open(rootfs().c_str(), O_RDONLY | O_DIRECTORY));
    ASSERT_TRUE(root_.valid());
  }
  void TearDown() override {
    root_.Reset(-1);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string ctx() const { return dir_ + "/ctx"; }
  std::string rootfs() const { return dir_ + "/rootfs"; }
  std::string outside() const { return dir_ + "/outside"; }

  static void Write(const std::string& p, const std::string& data) {
    fs::create_directories(fs::path(p).parent_path());
    std::ofstream(p) << data;
  }
  static std::string Read(const std::string& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  // Every path under rootfs, sorted ("d/" for directories).
  std::vector<std::string> Tree() const {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(rootfs())) {
      std::string rel = fs::relative(e.path(), rootfs()).string();
      out.push_back(e.is_directory() && !e.is_symlink() ? rel + "/" : rel);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  Status Copy(const std::vector<std::string>& srcs, const std::string& dest, bool add = false) {
    auto r = ResolveSources(ctx(), srcs, dir_ + "/dl");
    if (!r.ok()) return r.status();
    return CopyInto(root_.get(), *r, dest, add);
  }

  std::string dir_;
  UniqueFd root_;
};

using Paths = std::vector<std::string>;

// A directory source gives its contents; the destination is created.
TEST_F(CopyTest, DirectoryGivesItsContents) {
  ASSERT_TRUE(Copy({"etc"}, "conf").ok());
  EXPECT_EQ(Tree(), (Paths{"conf/", "conf/a.conf", "conf/sub/", "conf/sub/b.conf"}));
  ASSERT_TRUE(Copy({"etc"}, ".").ok());  // its entries at the top
  EXPECT_EQ(Read(rootfs() + "/a.conf"), "a");
  EXPECT_TRUE(fs::is_directory(rootfs() + "/sub"));
  EXPECT_FALSE(fs::exists(rootfs() + "/etc"));
}

// A wildcard's directories give their contents too (buildah, Docker).
TEST_F(CopyTest, WildcardDirectoriesGiveTheirContents) {
  ASSERT_TRUE(Copy({"e*"}, "x/").ok());
  EXPECT_EQ(Tree(), (Paths{"x/", "x/a.conf", "x/sub/", "x/sub/b.conf"}));
}

// A file: into a directory destination under its name (trailing slash,
// existing directory, several sources), else as dest.
TEST_F(CopyTest, FileDestinations) {
  ASSERT_TRUE(Copy({"file.txt"}, "a/b/renamed").ok());
  EXPECT_EQ(Read(rootfs() + "/a/b/renamed"), "f");
  ASSERT_TRUE(Copy({"file.txt"}, "into/").ok());
  EXPECT_EQ(Read(rootfs() + "/into/file.txt"), "f");
  ASSERT_TRUE(Copy({"file.txt"}, "a/b").ok());  // exists as a directory
  EXPECT_EQ(Read(rootfs() + "/a/b/file.txt"), "f");
  ASSERT_TRUE(Copy({"file.txt", "etc/a.conf"}, "many").ok());
  EXPECT_EQ(Read(rootfs() + "/many/file.txt"), "f");
  EXPECT_EQ(Read(rootfs() + "/many/a.conf"), "a");
}

// ------------------------------------------------------------------ ADD

struct Member {
  std::string name;
  mode_t type = AE_IFREG;
  std::string data;  // file contents, or the symlink / hard link target
};

// Writes a tar with `filter` (ARCHIVE_FILTER_NONE, _GZIP, _BZIP2, _XZ, _ZSTD).
void WriteTar(const std::string& path, int filter, const std::vector<Member>& members) {
  archive* a = archive_write_new();
  archive_write_add_filter(a, filter);
  archive_write_set_format_pax_restricted(a);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK) << archive_error_string(a);
  for (const auto& m : members) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, m.name.c_str());
    archive_entry_set_mtime(e, 1000000000, 0);
    if (m.type == 0) {  // a hard link
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_hardlink(e, m.data.c_str());
      archive_entry_set_perm(e, 0644);
    } else {
      archive_entry_set_filetype(e, m.type);
      archive_entry_set_perm(e, m.type == AE_IFDIR ? 0750 : 0640);
      if (m.type == AE_IFLNK) archive_entry_set_symlink(e, m.data.c_str());
      if (m.type == AE_IFREG) archive_entry_set_size(e, static_cast<la_int64_t>(m.data.size()));
      if (m.type == AE_IFCHR) archive_entry_set_rdev(e, 0);
    }
    ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK) << archive_error_string(a);
    if (m.type == AE_IFREG && !m.data.empty())
      archive_write_data(a, m.data.data(), m.data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

const std::vector<Member> kGood = {
    {"./app/", AE_IFDIR, ""},
    {"./app/run.sh", AE_IFREG, "echo hi\n"},
    {"app/lib/x.so", AE_IFREG, "elf"},  // parent not listed
    {"app/link", AE_IFLNK, "lib/x.so"},
    {"app/hard", 0, "app/run.sh"},
};

// Every compression buildah detects: unpacked into the destination, whatever
// the file's name.
TEST_F(CopyTest, AddUnpacksLocalArchives) {
  const std::pair<int, const char*> kinds[] = {{ARCHIVE_FILTER_NONE, "plain.tar"},
                                               {ARCHIVE_FILTER_GZIP, "a.tar.gz"},
                                               {ARCHIVE_FILTER_BZIP2, "a.tbz"},
                                               {ARCHIVE_FILTER_XZ, "a.txz"},
                                               {ARCHIVE_FILTER_ZSTD, "no-extension"}};
  for (const auto& [filter, name] : kinds) {
    SCOPED_TRACE(name);
    WriteTar(ctx() + "/" + name, filter, kGood);
    EXPECT_TRUE(IsTarArchive(ctx() + "/" + name));
    std::error_code ec;
    fs::remove_all(rootfs() + "/opt", ec);
    ASSERT_TRUE(Copy({name}, "opt", true).ok());  // no trailing slash: a directory all the same
    EXPECT_EQ(Read(rootfs() + "/opt/app/run.sh"), "echo hi\n");
    EXPECT_EQ(Read(rootfs() + "/opt/app/lib/x.so"), "elf");
    EXPECT_EQ(fs::read_symlink(rootfs() + "/opt/app/link"), "lib/x.so");
    struct stat a, h;
    ASSERT_EQ(::stat((rootfs() + "/opt/app/run.sh").c_str(), &a), 0);
    ASSERT_EQ(::stat((rootfs() + "/opt/app/hard").c_str(), &h), 0);
    EXPECT_EQ(a.st_ino, h.st_ino);
    EXPECT_EQ(a.st_mode & 07777, 0640u);
    EXPECT_EQ(a.st_mtim.tv_sec, 1000000000);
    struct stat d;
    ASSERT_EQ(::stat((rootfs() + "/opt/app").c_str(), &d), 0);
    EXPECT_EQ(d.st_mode & 07777, 0750u);
    EXPECT_EQ(d.st_mtim.tv_sec, 1000000000);  // set after its contents
  }
}

// COPY never unpacks; neither does ADD a file that is no archive, nor a
// download.
TEST_F(CopyTest, WhatIsNotUnpacked) {
  WriteTar(ctx() + "/a.tar", ARCHIVE_FILTER_GZIP, kGood);
  ASSERT_TRUE(Copy({"a.tar"}, "copied").ok());
  EXPECT_TRUE(fs::is_regular_file(rootfs() + "/copied"));
  Write(ctx() + "/fake.tar.gz", "not an archive");
  EXPECT_FALSE(IsTarArchive(ctx() + "/fake.tar.gz"));
  ASSERT_TRUE(Copy({"fake.tar.gz"}, "fake", true).ok());
  EXPECT_EQ(Read(rootfs() + "/fake"), "not an archive");
  WriteTar(ctx() + "/empty.tar", ARCHIVE_FILTER_NONE, {});
  EXPECT_FALSE(IsTarArchive(ctx() + "/empty.tar"));  // Go's tar: no first header
  CopySource dl{"http://x/a.tar", ctx() + "/a.tar", "a.tar", true};
  ASSERT_TRUE(CopyInto(root_.get(), {dl}, "dl/", true).ok());
  EXPECT_TRUE(fs::is_regular_file(rootfs() + "/dl/a.tar"));
}

// Members that would write outside the destination are refused by name,
// and nothing lands outside it.
TEST_F(CopyTest, AddRefusesEscapingMembers) {
  fs::create_directory_symlink(outside(), rootfs() + "/planted");  // in the image already
  const std::vector<std::pair<std::vector<Member>, std::string>> cases = {
      {{{"../evil", AE_IFREG, "x"}}, "member \"../evil\": a \"..\" component"},
      {{{"a/../../evil", AE_IFREG, "x"}}, "member \"a/../../evil\": a \"..\" component"},
      {{{"/evil", AE_IFREG, "x"}}, "member \"/evil\": an absolute name"},
      {{{"up", AE_IFLNK, ".."}, {"up/evil", AE_IFREG, "x"}},
       "member \"up/evil\": its directory up leads outside the destination through a symlink"},
      {{{"abs", AE_IFLNK, outside()}, {"abs/evil", AE_IFREG, "x"}},
       "member \"abs/evil\": its directory abs leads outside"},
      {{{"hard", 0, "../../outside/x"}}, "member \"hard\": hard link target: a \"..\" component"},
      {{{"dev", AE_IFCHR, ""}}, "member \"dev\": device nodes, FIFOs and sockets are not unpacked"},
      {{{"d/.wh.x", AE_IFREG, ""}}, "member \"d/.wh.x\": a whiteout name"},
  };
  int i = 0;
  for (const auto& [members, want] : cases) {
    SCOPED_TRACE(want);
    std::string name = "evil" + std::to_string(i++) + ".tar";
    WriteTar(ctx() + "/" + name, ARCHIVE_FILTER_GZIP, members);
    Status st = Copy({name}, "dest", true);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("ADD " + name + ": " + want), std::string::npos) << st.message();
    EXPECT_TRUE(fs::is_empty(outside()));
  }
  // The destination reached through the image's own (absolute) symlink is
  // resolved inside the rootfs (COPY's rule): the archive lands there, never
  // in the real directory the symlink names.
  fs::create_directories(rootfs() + outside());
  WriteTar(ctx() + "/ok.tar", ARCHIVE_FILTER_NONE, {{"f", AE_IFREG, "x"}});
  Status st = Copy({"ok.tar"}, "planted/sub", true);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(Read(rootfs() + outside() + "/sub/f"), "x");
  EXPECT_TRUE(fs::is_empty(outside()));
}

}  // namespace
}  // namespace cfs::builder
