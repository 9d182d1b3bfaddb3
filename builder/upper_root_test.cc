// UpperRoot (builder/upper_root.h): a step's upper dir written directly,
// over a lower in the kernel's overlay format, with overlayfs's rules.
// (tests/integration/build_upper.sh compares with the kernel itself.)
#include "builder/upper_root.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "layer/whiteouts.h"

namespace cfs::builder {
namespace {

namespace fs = std::filesystem;

class UpperRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char t[] = "/tmp/upper_root_test.XXXXXX";
    ASSERT_NE(mkdtemp(t), nullptr);
    dir_ = t;
    fs::create_directories(lower() + "/d/inner");
    fs::create_directories(upper());
    std::ofstream(lower() + "/f") << "f";
    std::ofstream(lower() + "/d/inner/x") << "x";
    ::chmod((lower() + "/d").c_str(), 0750);
    ASSERT_EQ(::setxattr((lower() + "/d").c_str(), "user.cimg", "kept", 4, 0), 0);
    fs::create_symlink("d", lower() + "/rel");
    fs::create_symlink("/d", lower() + "/abs");
    fs::create_symlink("../..", lower() + "/d/up");
    ASSERT_EQ(::mknod((lower() + "/gone").c_str(), S_IFCHR, makedev(0, 0)), 0);
    auto l = OpenDirLower(lower(), &inos_);
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    lower_ = std::move(*l);
    upper_fd_.Reset(::open(upper().c_str(), O_RDONLY | O_DIRECTORY));
    ASSERT_TRUE(upper_fd_.valid());
    root_ = std::make_unique<UpperRoot>(upper_fd_.get(), lower_.get());
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string lower() const { return dir_ + "/lower"; }
  std::string upper() const { return dir_ + "/upper"; }
  bool Opaque(const std::string& rel) const {
    char v[4];
    ssize_t n = ::getxattr((upper() + "/" + rel).c_str(), kOverlayOpaqueXattr, v, sizeof v);
    return n == 1 && v[0] == 'y';
  }
  UpperRoot::Dir Top() {
    UpperRoot::Dir d;
    EXPECT_EQ(root_->OpenDir("", "", UpperRoot::Scope::kInRoot, &d), 0);
    return d;
  }

  std::string dir_;
  InoMap inos_;
  std::unique_ptr<Lower> lower_;
  UniqueFd upper_fd_;
  std::unique_ptr<UpperRoot> root_;
};

// A lower directory is copied up (mode, xattr) before anything is made in
// it; the lower's entries are seen through it; nothing else is copied.
TEST_F(UpperRootTest, CopiesUpLowerDirectories) {
  UpperRoot::Dir d;
  ASSERT_EQ(root_->OpenDir("", "d/new/deeper", UpperRoot::Scope::kInRoot, &d), 0);
  EXPECT_EQ(d.path, "d/new/deeper");
  struct stat st;
  ASSERT_EQ(::stat((upper() + "/d").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  char v[8] = {0};
  EXPECT_EQ(::getxattr((upper() + "/d").c_str(), "user.cimg", v, sizeof v), 4);
  EXPECT_STREQ(v, "kept");
  EXPECT_FALSE(fs::exists(upper() + "/d/inner"));  // untouched: not copied up
  UpperRoot::Dir dd;
  ASSERT_EQ(root_->OpenDir("", "d", UpperRoot::Scope::kInRoot, &dd), 0);
  auto inner = root_->Stat(dd, "inner");
  ASSERT_TRUE(inner.ok());
  ASSERT_TRUE(inner->has_value());
  EXPECT_TRUE(S_ISDIR((*inner)->st_mode));
  EXPECT_FALSE(Opaque("d"));
}

// A directory over a lower non-directory is opaque; over nothing (or a
// lower whiteout: absent) it is not; a non-directory never replaces a
// directory.
TEST_F(UpperRootTest, ReplacesWithOverlayRules) {
  UpperRoot::Dir top = Top();
  EXPECT_EQ(root_->MakeDir(top, "f", 0755), 0);
  EXPECT_TRUE(Opaque("f"));
  EXPECT_EQ(root_->MakeDir(top, "gone", 0755), 0);
  EXPECT_FALSE(Opaque("gone"));
  EXPECT_EQ(root_->MakeDir(top, "fresh", 0755), 0);
  EXPECT_FALSE(Opaque("fresh"));
  EXPECT_EQ(root_->ClearForNonDir(top, "d"), EISDIR);
  EXPECT_EQ(root_->ClearForNonDir(top, "rel"), 0);  // a symlink: replaced by the new file
  EXPECT_FALSE(fs::exists(upper() + "/rel"));       // nothing needed in the upper dir
  // Nothing below an opaque directory comes from the lower.
  UpperRoot::Dir f;
  ASSERT_EQ(root_->OpenDir("", "f", UpperRoot::Scope::kInRoot, &f), 0);
  auto st = root_->Stat(f, "anything");
  ASSERT_TRUE(st.ok());
  EXPECT_FALSE(st->has_value());
  EXPECT_EQ(root_->OpenDir("", "f/../d/inner/x/y", UpperRoot::Scope::kInRoot, &f), ENOTDIR);
}

// Symlinks of the lower resolve in the root (absolute ones at its top, ".."
// stopping there); below a base, leaving it is EXDEV.
TEST_F(UpperRootTest, ResolvesSymlinksInTheMergedView) {
  UpperRoot::Dir d;
  ASSERT_EQ(root_->OpenDir("", "rel/a", UpperRoot::Scope::kInRoot, &d), 0);
  EXPECT_EQ(d.path, "d/a");
  ASSERT_EQ(root_->OpenDir("", "abs/b", UpperRoot::Scope::kInRoot, &d), 0);
  EXPECT_EQ(d.path, "d/b");
  ASSERT_EQ(root_->OpenDir("", "d/up/c", UpperRoot::Scope::kInRoot, &d), 0);
  EXPECT_EQ(d.path, "c");
  EXPECT_TRUE(fs::is_directory(upper() + "/c"));
  EXPECT_TRUE(root_->IsDir("rel"));
  EXPECT_FALSE(root_->IsDir("f"));
  EXPECT_FALSE(root_->IsDir("nothing"));
  EXPECT_EQ(root_->OpenDir("d", "up/e", UpperRoot::Scope::kBeneath, &d), EXDEV);
  EXPECT_EQ(root_->OpenDir("d", "/abs", UpperRoot::Scope::kBeneath, &d), EXDEV);
  EXPECT_EQ(root_->OpenDir("", "abs/x", UpperRoot::Scope::kBeneath, &d), EXDEV);
  EXPECT_EQ(root_->OpenDir("d", "../e", UpperRoot::Scope::kBeneath, &d), EXDEV);
  ASSERT_EQ(root_->OpenDir("d", "inner", UpperRoot::Scope::kBeneath, &d), 0);
  EXPECT_EQ(d.path, "d/inner");
}

}  // namespace
}  // namespace cfs::builder
