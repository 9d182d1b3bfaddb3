#include "layer/merged_file.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "layer/testing/layer_testing.h"

namespace cfs {
namespace {

using testing::MemoryChunks;

// A regular file of `data`, cut into chunks of at most 4 bytes.
TocEntry FileEntry(LayerToc& toc, MemoryChunks& mem, const std::string& name,
                   const std::string& data) {
  TocEntry e;
  e.type = EntryType::kRegular;
  e.name = name;
  e.mode = 0644;
  e.size = data.size();
  e.first_chunk = static_cast<uint32_t>(toc.chunks.size());
  for (size_t off = 0; off < data.size(); off += 4)
    toc.chunks.push_back(mem.Put(data.substr(off, 4)));
  e.num_chunks = static_cast<uint32_t>(toc.chunks.size()) - e.first_chunk;
  return e;
}

TocEntry Entry(EntryType t, const std::string& name, const std::string& target = "") {
  TocEntry e;
  e.type = t;
  e.name = name;
  e.mode = t == EntryType::kDirectory ? 0755 : 0644;
  e.link_target = target;
  return e;
}

class MergedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto l1 = std::make_shared<LayerToc>();
    l1->entries.push_back(Entry(EntryType::kDirectory, "etc"));
    l1->entries.push_back(FileEntry(*l1, mem_, "etc/hosts", "127.0.0.1 localhost\n"));
    l1->entries.push_back(Entry(EntryType::kHardlink, "etc/hosts.link", "etc/hosts"));
    l1->entries.push_back(FileEntry(*l1, mem_, "gone", "x"));
    l1->entries.push_back(FileEntry(*l1, mem_, "empty", ""));
    auto l2 = std::make_shared<LayerToc>();
    TocEntry wh = Entry(EntryType::kRegular, ".wh.gone");
    wh.role = OverlayRole::kWhiteout;
    l2->entries.push_back(wh);
    l2->entries.push_back(Entry(EntryType::kSymlink, "etc/link", "hosts"));
    l2->entries.push_back(Entry(EntryType::kDirectory, "etc/sub"));
    l2->entries.push_back(FileEntry(*l2, mem_, "etc/sub/deep", "deep"));
    l2->entries.push_back(Entry(EntryType::kSymlink, "abs", "/etc/sub"));
    l2->entries.push_back(Entry(EntryType::kSymlink, "up", "../../../etc/./link"));
    l2->entries.push_back(Entry(EntryType::kSymlink, "loop1", "loop2"));
    l2->entries.push_back(Entry(EntryType::kSymlink, "loop2", "/loop1"));
    auto s = LayerStack::Build({l1, l2});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    stack_ = std::make_unique<LayerStack>(std::move(*s));
  }

  MemoryChunks mem_;
  std::unique_ptr<LayerStack> stack_;
};

TEST_F(MergedFileTest, ReadsFilesAndHardLinksChunkByChunk) {
  auto r = LookupMerged(*stack_, "/etc/hosts");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*ReadMergedFileBytes(*stack_, mem_, *r), "127.0.0.1 localhost\n");
  auto l = LookupMerged(*stack_, "etc/hosts.link");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(*ReadMergedFileBytes(*stack_, mem_, *l), "127.0.0.1 localhost\n");
  EXPECT_EQ(MergedMeta(*stack_, *l).type, EntryType::kRegular);
  EXPECT_EQ(*ReadMergedFileBytes(*stack_, mem_, *LookupMerged(*stack_, "empty")), "");
}

TEST_F(MergedFileTest, RefusesWhatIsNotAFile) {
  EXPECT_EQ(LookupMerged(*stack_, "/gone").status().code(), Status::Code::kNotFound);  // whited out
  EXPECT_EQ(LookupMerged(*stack_, "/nope").status().message(), "no such file or directory");
  for (const char* p : {"/etc", "/etc/link"}) {
    auto r = LookupMerged(*stack_, p);
    ASSERT_TRUE(r.ok()) << p;
    EXPECT_EQ(ReadMergedFileBytes(*stack_, mem_, *r).status().code(),
              Status::Code::kInvalidArgument)
        << p;
  }
}

TEST_F(MergedFileTest, MissingOrShortChunksFail) {
  MemoryChunks empty;
  auto r = LookupMerged(*stack_, "/etc/hosts");
  EXPECT_EQ(ReadMergedFileBytes(*stack_, empty, *r).status().code(), Status::Code::kNotFound);
}

TEST_F(MergedFileTest, ListsDirectoriesSortedAndRecursively) {
  auto top = ListMerged(*stack_, "/", false);
  ASSERT_TRUE(top.ok());
  std::vector<std::string> names;
  for (const auto& e : *top) names.push_back(e.path);
  EXPECT_EQ(names, (std::vector<std::string>{"abs", "empty", "etc", "loop1", "loop2", "up"}));
  auto all = ListMerged(*stack_, "etc", true);
  ASSERT_TRUE(all.ok());
  names.clear();
  for (const auto& e : *all) names.push_back(e.path);
  EXPECT_EQ(names, (std::vector<std::string>{"hosts", "hosts.link", "link", "sub", "sub/deep"}));
  auto one = ListMerged(*stack_, "/etc/sub/deep/", false);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].path, "deep");
  EXPECT_EQ(ListMerged(*stack_, "/etc/nope", true).status().code(), Status::Code::kNotFound);
}

TEST_F(MergedFileTest, ResolvesSymlinksInsideTheImage) {
  EXPECT_EQ(*ResolveMergedPath(*stack_, "/abs/deep", false), "etc/sub/deep");
  EXPECT_EQ(*ResolveMergedPath(*stack_, "abs", false), "abs");
  EXPECT_EQ(*ResolveMergedPath(*stack_, "abs", true), "etc/sub");
  EXPECT_EQ(*ResolveMergedPath(*stack_, "/up", true), "etc/hosts");  // ".." stops at the root
  EXPECT_EQ(*ResolveMergedPath(*stack_, "/etc/sub/../../../etc/hosts", true), "etc/hosts");
  auto r = LookupMerged(*stack_, "/up", true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*ReadMergedFileBytes(*stack_, mem_, *r), "127.0.0.1 localhost\n");
  EXPECT_EQ(LookupMerged(*stack_, "/up", false).ok(), true);  // the link itself
  EXPECT_EQ(ResolveMergedPath(*stack_, "/loop1", true).status().message(),
            "too many levels of symbolic links");
  auto listed = ListMerged(*stack_, "/abs", false);  // the link itself, as ls -l shows it
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].path, "abs");
  auto inside = ListMerged(*stack_, "/abs/", false);  // "link/": the directory
  ASSERT_TRUE(inside.ok());
  ASSERT_EQ(inside->size(), 1u);
  EXPECT_EQ((*inside)[0].path, "deep");
}

}  // namespace
}  // namespace cfs
