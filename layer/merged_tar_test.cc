#include "layer/merged_tar.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "layer/testing/layer_testing.h"

namespace cfs {
namespace {

using testing::MemoryChunks;

TocEntry Make(EntryType t, const std::string& name, uint32_t mode) {
  TocEntry e;
  e.type = t;
  e.name = name;
  e.mode = mode;
  e.uid = 1234;
  e.gid = 5678;
  e.mtime_sec = 1700000000;
  return e;
}

TocEntry File(LayerToc& toc, MemoryChunks& mem, const std::string& name, const std::string& data) {
  TocEntry e = Make(EntryType::kRegular, name, 0640);
  e.size = data.size();
  e.first_chunk = static_cast<uint32_t>(toc.chunks.size());
  for (size_t off = 0; off < data.size(); off += 3)
    toc.chunks.push_back(mem.Put(data.substr(off, 3)));
  e.num_chunks = static_cast<uint32_t>(toc.chunks.size()) - e.first_chunk;
  return e;
}

struct TarMember {
  mode_t type;
  unsigned perm;
  int64_t uid;
  std::string data, symlink, hardlink;
  std::map<std::string, std::string> xattrs;
  unsigned rdev_major = 0;
};

std::map<std::string, TarMember> ReadTar(const std::string& tar) {
  std::map<std::string, TarMember> out;
  std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), archive_read_free);
  archive_read_support_format_tar(a.get());
  EXPECT_EQ(archive_read_open_memory(a.get(), tar.data(), tar.size()), ARCHIVE_OK);
  archive_entry* e;
  while (archive_read_next_header(a.get(), &e) == ARCHIVE_OK) {
    TarMember m{archive_entry_filetype(e), archive_entry_perm(e), archive_entry_uid(e), "", "", ""};
    if (const char* s = archive_entry_symlink(e)) m.symlink = s;
    if (const char* h = archive_entry_hardlink(e)) m.hardlink = h;
    m.rdev_major = archive_entry_rdevmajor(e);
    const char* name;
    const void* v;
    size_t n;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &name, &v, &n) == ARCHIVE_OK)
      m.xattrs[name] = std::string(static_cast<const char*>(v), n);
    char buf[4096];
    la_ssize_t got;
    while ((got = archive_read_data(a.get(), buf, sizeof buf)) > 0) m.data.append(buf, got);
    out[archive_entry_pathname(e)] = m;
  }
  return out;
}

TEST(MergedTarTest, WritesTheMergedViewWithLinksDevicesAndXattrs) {
  MemoryChunks mem;
  auto l1 = std::make_shared<LayerToc>();
  l1->entries.push_back(Make(EntryType::kDirectory, "d", 0755));
  TocEntry f = File(*l1, mem, "d/file", "hello, merged world");
  f.xattrs = {{"user.k", std::string("v\0w", 3)}};
  l1->entries.push_back(f);
  TocEntry hl = Make(EntryType::kHardlink, "d/link", 0);
  hl.link_target = "d/file";
  l1->entries.push_back(hl);
  l1->entries.push_back(File(*l1, mem, "old", "old"));
  TocEntry dev = Make(EntryType::kChar, "null", 0666);
  dev.dev_major = 1;
  dev.dev_minor = 3;
  l1->entries.push_back(dev);
  auto l2 = std::make_shared<LayerToc>();
  TocEntry wh = Make(EntryType::kRegular, ".wh.old", 0);
  wh.role = OverlayRole::kWhiteout;
  l2->entries.push_back(wh);
  TocEntry sl = Make(EntryType::kSymlink, "sl", 0777);
  sl.link_target = "d/file";
  l2->entries.push_back(sl);
  auto stack = LayerStack::Build({l1, l2});
  ASSERT_TRUE(stack.ok());

  std::string tar;
  StringSink sink(&tar);
  ASSERT_TRUE(WriteMergedTar(*stack, mem, sink).ok());
  EXPECT_EQ(tar.size() % 512, 0u);
  auto m = ReadTar(tar);
  ASSERT_EQ(m.size(), 5u);  // d d/file d/link null sl: "old" whited out, no whiteout entry
  EXPECT_EQ(m["d/"].type, AE_IFDIR);  // directories end in "/", as tar writes them
  EXPECT_EQ(m["d/file"].data, "hello, merged world");
  EXPECT_EQ(m["d/file"].perm, 0640u);
  EXPECT_EQ(m["d/file"].uid, 1234);
  EXPECT_EQ(m["d/file"].xattrs["user.k"], std::string("v\0w", 3));
  EXPECT_EQ(m["d/link"].hardlink, "d/file");
  EXPECT_EQ(m["null"].type, AE_IFCHR);
  EXPECT_EQ(m["null"].rdev_major, 1u);
  EXPECT_EQ(m["sl"].symlink, "d/file");
  EXPECT_EQ(m.count("old"), 0u);
}

TEST(MergedTarTest, AChunkThatCannotBeReadNamesThePath) {
  MemoryChunks mem, empty;
  auto l1 = std::make_shared<LayerToc>();
  l1->entries.push_back(File(*l1, mem, "f", "data"));
  auto stack = LayerStack::Build({l1});
  ASSERT_TRUE(stack.ok());
  std::string tar;
  StringSink sink(&tar);
  Status s = WriteMergedTar(*stack, empty, sink);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/f"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace cfs
