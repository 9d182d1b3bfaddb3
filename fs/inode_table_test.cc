#include "fs/inode_table.h"

#include <fcntl.h>
#include <malloc.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

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

// Bytes malloc has handed out (small blocks, and large ones it mmaps).
size_t HeapBytes() {
  struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
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
  EXPECT_EQ(MergedPath(root_), ".");
  table_.Forget(root_, 100);
  Resolved r = InLower(1, S_IFDIR);
  EXPECT_EQ(table_.Remember(root_, "x", &r), root_);  // still the live Inode of st_ino 1
}

TEST_F(InodeTableTest, LookupCountsKeepAnInodeUntilTheLastForget) {
  Resolved r = InLower(7, S_IFREG);
  Inode* n = table_.Remember(root_, "a", &r);
  EXPECT_EQ(table_.FromId(table_.IdOf(n)), n);
  EXPECT_EQ(table_.Remember(root_, "a", &r), n);
  table_.Forget(n, 1);
  EXPECT_EQ(table_.Remember(root_, "a", &r), n);  // one reference was left
  table_.Forget(n, 2);
  Inode* m = table_.Remember(root_, "b", &r);  // a new Inode: it was found at "b"
  EXPECT_EQ(MergedPath(m), "b");
  table_.Forget(m, 1);
}

TEST_F(InodeTableTest, ATypeChangeOrAnUnlinkedInodeGivesANewInode) {
  Resolved f = InLower(7, S_IFREG);
  Inode* n = table_.Remember(root_, "a", &f);
  Resolved d = InLower(7, S_IFDIR);
  Inode* dir = table_.Remember(root_, "a", &d);
  EXPECT_NE(dir, n);
  EXPECT_EQ(dir->type, static_cast<mode_t>(S_IFDIR));
  table_.MarkUnlinked(7, /*unless_more_lower_names=*/false);
  EXPECT_TRUE(dir->unlinked);
  Inode* again = table_.Remember(root_, "a", &d);
  EXPECT_NE(again, dir);
  for (Inode* x : {n, dir, again}) table_.Forget(x, 1);
}

TEST_F(InodeTableTest, UnlinkKeepsAHardLinkGroupWithOtherLowerNames) {
  Resolved r = InLower(9, S_IFREG, /*nlink_group=*/2);
  Inode* n = table_.Remember(root_, "a", &r);
  table_.MarkUnlinked(9, /*unless_more_lower_names=*/true);
  EXPECT_FALSE(n->unlinked);
  table_.MarkUnlinked(9, /*unless_more_lower_names=*/false);
  EXPECT_TRUE(n->unlinked);
  table_.Forget(n, 1);
}

TEST_F(InodeTableTest, OtherNamesOfALowerHardLinkGroupAreAliases) {
  Resolved r = InLower(9, S_IFREG, 3);
  Inode* n = table_.Remember(root_, "a", &r);
  EXPECT_TRUE(table_.Aliases(n).empty());
  EXPECT_EQ(table_.Remember(root_, "b", &r), n);
  EXPECT_EQ(table_.Remember(root_, "b", &r), n);
  EXPECT_EQ(table_.Remember(root_, "a", &r), n);
  EXPECT_EQ(table_.Aliases(n), std::vector<std::string>{"b"});
  table_.Forget(n, 4);
}

TEST_F(InodeTableTest, AnUpperFileWithAReusedNumberIsANewObject) {
  auto dir = TempDir::Create("/tmp", "inode_table_test");
  ASSERT_TRUE(dir.ok());
  Resolved r1 = InUpper(11, dir->path() + "/one");
  Inode* n = table_.Remember(root_, "one", &r1);
  EXPECT_GE(n->upper.load(), 0);
  EXPECT_FALSE(r1.upper.valid());  // the new Inode took the fd
  Resolved same = InLower(11, S_IFREG);
  same.upper.Reset(::dup(n->upper.load()));
  EXPECT_EQ(table_.Remember(root_, "one", &same), n);
  Resolved r2 = InUpper(11, dir->path() + "/two");  // another file, same key
  Inode* m = table_.Remember(root_, "two", &r2);
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

TEST_F(InodeTableTest, PathsComeFromParentsAndAChildKeepsItsParent) {
  Resolved rd = InLower(20, S_IFDIR);
  Inode* d = table_.Remember(root_, "d", &rd);
  Resolved re = InLower(21, S_IFDIR);
  Inode* e = table_.Remember(d, "e", &re);
  Resolved rf = InLower(22, S_IFREG);
  Inode* f = table_.Remember(e, "f.txt", &rf);
  EXPECT_EQ(MergedPath(d), "d");
  EXPECT_EQ(MergedPath(f), "d/e/f.txt");
  EXPECT_EQ(f->parent, e);
  // The kernel forgets the directories first: the file still holds them.
  table_.Forget(d, 1);
  table_.Forget(e, 1);
  EXPECT_EQ(table_.size(), 4u);
  EXPECT_EQ(MergedPath(f), "d/e/f.txt");
  EXPECT_EQ(table_.Remember(d, "e", &re), e);  // e is still the live Inode of 21
  table_.Forget(e, 1);
  // The last reference to the file takes its parents with it.
  table_.Forget(f, 1);
  EXPECT_EQ(table_.size(), 1u);  // the root
}

TEST_F(InodeTableTest, MovingADirectoryMovesTheInodesBelowIt) {
  Resolved ra = InLower(30, S_IFDIR), rb = InLower(31, S_IFDIR), rx = InLower(32, S_IFREG);
  Inode* a = table_.Remember(root_, "a", &ra);
  Inode* b = table_.Remember(root_, "b", &rb);
  Inode* x = table_.Remember(a, "x", &rx);
  table_.Move(a, b, "renamed");
  EXPECT_EQ(MergedPath(a), "b/renamed");
  EXPECT_EQ(MergedPath(x), "b/renamed/x");
  // b holds a reference for a now: forgetting b's own keeps it.
  table_.Forget(b, 1);
  EXPECT_EQ(MergedPath(x), "b/renamed/x");
  table_.Move(a, root_, "back");
  EXPECT_EQ(MergedPath(x), "back/x");
  EXPECT_EQ(table_.size(), 3u);  // b went with its last reference
  table_.Forget(x, 1);
  table_.Forget(a, 1);
  EXPECT_EQ(table_.size(), 1u);
}

TEST_F(InodeTableTest, ADirViewHasItsWholePathAsName) {
  Resolved r = InLower(40, S_IFDIR);
  auto view = DirView("p/q", &r);
  EXPECT_EQ(view->parent, nullptr);
  EXPECT_EQ(MergedPath(view.get()), "p/q");
}

TEST_F(InodeTableTest, AliasPathsIncludeTheDirectory) {
  Resolved rd = InLower(50, S_IFDIR);
  Inode* d = table_.Remember(root_, "d", &rd);
  Resolved r = InLower(51, S_IFREG, 2);
  Inode* n = table_.Remember(root_, "a", &r);
  EXPECT_EQ(table_.Remember(d, "a", &r), n);
  EXPECT_EQ(table_.Aliases(n), std::vector<std::string>{"d/a"});
  table_.Forget(n, 2);
  table_.Forget(d, 1);
  EXPECT_EQ(table_.size(), 1u);
}

TEST(InodeLayout, AnInodeFitsA112ByteMallocBlock) {
  // A million-file image keeps one per entry after a `find` (issue 18).
  EXPECT_LE(sizeof(Inode), 104u);
}

TEST_F(InodeTableTest, HeapPerLookedUpEntryStaysSmall) {
  // What the table costs per entry, Inode and index together, for names
  // like a big image's ("f01234.txt"): 112 + 8..16 bytes here; a path, a
  // vector and an unordered_map node per entry cost about 230.
  constexpr int kEntries = 100000;
  Resolved rd = InLower(2, S_IFDIR);
  Inode* dir = table_.Remember(root_, "d0042", &rd);
  size_t before = HeapBytes();
  std::vector<Inode*> held;
  held.reserve(kEntries);
  size_t vector_bytes = HeapBytes() - before;
  char name[32];
  for (int i = 0; i < kEntries; ++i) {
    Resolved r = InLower(1000 + i, S_IFREG);
    std::snprintf(name, sizeof name, "f%05d.txt", i);
    held.push_back(table_.Remember(dir, name, &r));
  }
  double per_entry =
      static_cast<double>(HeapBytes() - before - vector_bytes) / kEntries;
  std::printf("inode table: %.1f bytes of heap per entry\n", per_entry);
  EXPECT_LT(per_entry, 136.0);
  EXPECT_GT(per_entry, 104.0);  // the measurement sees the Inodes at all
  EXPECT_EQ(MergedPath(held.back()), "d0042/f99999.txt");
  for (Inode* n : held) table_.Forget(n, 1);
  table_.Forget(dir, 1);
  EXPECT_EQ(table_.size(), 1u);
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
