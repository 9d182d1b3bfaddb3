#include "fs/inode_table.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include "base/io.h"
#include "fs/overlay_lookup.h"

namespace cfs {
namespace {

// A resolved lower object numbered `ino`.
Resolved InLower(uint64_t ino, mode_t type, uint32_t nlink_group = 1) {
  Resolved r;
  r.found = true;
  r.st.st_ino = ino;
  r.st.st_mode = type | 0644;
  r.lower = 0;
  r.lower_nlink = nlink_group;
  return r;
}

// A resolved upper object numbered `ino`, with an O_PATH fd of `file`.
Resolved InUpper(uint64_t ino, const std::string& file) {
  Resolved r = InLower(ino, S_IFREG);
  r.lower = -1;
  EXPECT_TRUE(WriteFileAtomic(file, "x").ok());
  r.upper.Reset(::open(file.c_str(), O_PATH | O_CLOEXEC));
  EXPECT_TRUE(r.upper.valid());
  return r;
}

class InodeTableTest : public ::testing::Test {
 protected:
  void SetUp() override { root_ = table_.AddRoot(1); }
  InodeTable table_{std::make_unique<InoMap>()};
  Inode* root_ = nullptr;
};

TEST_F(InodeTableTest, RootHasTheFuseRootIdAndIsNeverForgotten) {
  EXPECT_EQ(table_.FromId(FUSE_ROOT_ID), root_);
  EXPECT_EQ(table_.IdOf(root_), FUSE_ROOT_ID);
  EXPECT_EQ(root_->path, ".");
  table_.Forget(root_, 100);
  Resolved r = InLower(1, S_IFDIR);
  EXPECT_EQ(table_.Remember("x", &r), root_);  // still the live Inode of st_ino 1
}

TEST_F(InodeTableTest, LookupCountsKeepAnInodeUntilTheLastForget) {
  Resolved r = InLower(7, S_IFREG);
  Inode* n = table_.Remember("a", &r);
  EXPECT_EQ(table_.FromId(table_.IdOf(n)), n);
  EXPECT_EQ(table_.Remember("a", &r), n);
  table_.Forget(n, 1);
  EXPECT_EQ(table_.Remember("a", &r), n);  // one reference was left
  table_.Forget(n, 2);
  Inode* m = table_.Remember("b", &r);  // a new Inode: it was found at "b"
  EXPECT_EQ(m->path, "b");
  table_.Forget(m, 1);
}

TEST_F(InodeTableTest, ATypeChangeOrAnUnlinkedInodeGivesANewInode) {
  Resolved f = InLower(7, S_IFREG);
  Inode* n = table_.Remember("a", &f);
  Resolved d = InLower(7, S_IFDIR);
  Inode* dir = table_.Remember("a", &d);
  EXPECT_NE(dir, n);
  EXPECT_EQ(dir->type, static_cast<mode_t>(S_IFDIR));
  table_.MarkUnlinked(7, /*unless_more_lower_names=*/false);
  EXPECT_TRUE(dir->unlinked);
  Inode* again = table_.Remember("a", &d);
  EXPECT_NE(again, dir);
  for (Inode* x : {n, dir, again}) table_.Forget(x, 1);
}

TEST_F(InodeTableTest, UnlinkKeepsAHardLinkGroupWithOtherLowerNames) {
  Resolved r = InLower(9, S_IFREG, /*nlink_group=*/2);
  Inode* n = table_.Remember("a", &r);
  table_.MarkUnlinked(9, /*unless_more_lower_names=*/true);
  EXPECT_FALSE(n->unlinked);
  table_.MarkUnlinked(9, /*unless_more_lower_names=*/false);
  EXPECT_TRUE(n->unlinked);
  table_.Forget(n, 1);
}

TEST_F(InodeTableTest, OtherNamesOfALowerHardLinkGroupAreAliases) {
  Resolved r = InLower(9, S_IFREG, 3);
  Inode* n = table_.Remember("a", &r);
  EXPECT_TRUE(table_.Aliases(n).empty());
  EXPECT_EQ(table_.Remember("b", &r), n);
  EXPECT_EQ(table_.Remember("b", &r), n);
  EXPECT_EQ(table_.Remember("a", &r), n);
  EXPECT_EQ(table_.Aliases(n), std::vector<std::string>{"b"});
  table_.Forget(n, 4);
}

TEST_F(InodeTableTest, AnUpperFileWithAReusedNumberIsANewObject) {
  auto dir = TempDir::Create("/tmp", "inode_table_test");
  ASSERT_TRUE(dir.ok());
  Resolved r1 = InUpper(11, dir->path() + "/one");
  Inode* n = table_.Remember("one", &r1);
  EXPECT_GE(n->upper.load(), 0);
  EXPECT_FALSE(r1.upper.valid());  // the new Inode took the fd
  Resolved same = InLower(11, S_IFREG);
  same.upper.Reset(::dup(n->upper.load()));
  EXPECT_EQ(table_.Remember("one", &same), n);
  Resolved r2 = InUpper(11, dir->path() + "/two");  // another file, same key
  Inode* m = table_.Remember("two", &r2);
  EXPECT_NE(m, n);
  table_.Forget(n, 2);
  table_.Forget(m, 1);
}

TEST_F(InodeTableTest, CopiedUpFilesKeepTheirOriginsNumber) {
  struct stat upper {};
  upper.st_dev = 10;
  upper.st_ino = 5;
  uint64_t mapped = table_.inos()->ForReal(10, 5);
  EXPECT_EQ(table_.UpperIno(upper), mapped);
  table_.SetOrigin(upper, 42);
  EXPECT_EQ(table_.UpperIno(upper), 42u);
  EXPECT_EQ(table_.OriginOf(mapped), 42u);
  EXPECT_EQ(table_.OriginOf(mapped + 1), mapped + 1);
}

TEST(InoMap, SlotsPerDeviceAndStable) {
  InoMap m;
  uint64_t upper = m.ForReal(10, 5);
  EXPECT_EQ(upper, 5u);  // first device: slot 0, the number itself
  uint64_t other = m.ForReal(11, 5);
  EXPECT_NE(other, upper);
  EXPECT_EQ(m.ForReal(11, 5), other);
  uint64_t big = m.ForReal(10, uint64_t{1} << 60);  // does not fit: overflow slot
  EXPECT_EQ(big >> InoMap::kShift, 0xFFu);
  EXPECT_EQ(m.ForReal(10, uint64_t{1} << 60), big);
  uint64_t s = m.ReserveStackSlot();
  EXPECT_GE(s, 0x80u);
  EXPECT_NE(InoMap::ForStack(s, 1), m.ForReal(10, 1));
}

}  // namespace
}  // namespace cfs
