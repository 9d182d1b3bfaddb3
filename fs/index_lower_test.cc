// IndexLower against StackLower: for the same stack, every path answers the
// same (stat, listing, link, xattrs, aliases, file data).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>

#include "fs/chunk_cache.h"
#include "fs/lower.h"
#include "layer/testing/layer_testing.h"

namespace cfs {
namespace {

using testing::LayerGen;

class MemorySourceOfChunks : public ChunkSource {
 public:
  ChunkRef Add(const std::string& data) {
    ChunkRef c{Digest::Of(data), static_cast<uint32_t>(data.size())};
    chunks_[c.digest] = data;
    return c;
  }
  Result<std::string> ReadChunk(const ChunkRef& c) override {
    auto it = chunks_.find(c.digest);
    if (it == chunks_.end()) return Status::NotFound("chunk " + c.digest.Short());
    return it->second;
  }
  Result<std::string> ReadFrame(const ChunkRef&) override {
    return Status::Unsupported("frames");
  }

 private:
  std::map<Digest, std::string> chunks_;
};

std::string StatLine(const LowerEntry& e) {
  const struct stat& s = e.st;
  return std::to_string(static_cast<int>(e.kind)) + " ino=" + std::to_string(s.st_ino) +
         " mode=" + std::to_string(s.st_mode) + " uid=" + std::to_string(s.st_uid) +
         " gid=" + std::to_string(s.st_gid) + " nlink=" + std::to_string(s.st_nlink) +
         " size=" + std::to_string(s.st_size) + " rdev=" + std::to_string(s.st_rdev) +
         " mtime=" + std::to_string(s.st_mtim.tv_sec) + "." + std::to_string(s.st_mtim.tv_nsec) +
         " blocks=" + std::to_string(s.st_blocks) + " group=" + std::to_string(e.nlink_group);
}

std::string Listing(Lower& l, const std::string& path) {
  std::vector<LowerDirEntry> es;
  Status s = l.ReadDir(path, &es);
  std::string out = s.ok() ? "" : "error";
  for (const auto& e : es) {
    out += e.name + ":" + std::to_string(e.ino) + ":" + std::to_string(e.d_type) + " ";
  }
  return out;
}

template <typename T>
std::string Show(const Result<T>& r) {
  if (!r.ok()) return "error " + std::to_string(static_cast<int>(r.status().code()));
  if constexpr (std::is_same_v<T, std::string>) {
    return *r;
  } else {
    std::string out;
    for (const auto& [k, v] : *r) out += k + "=" + v + ";";
    return out;
  }
}

std::string Data(Lower& l, const std::string& path) {
  auto f = l.Open(path);
  if (!f.ok()) return "error " + std::to_string(static_cast<int>(f.status().code()));
  std::string buf((*f)->size(), '\0');
  auto n = (*f)->Read(0, buf.size(), buf.data());
  if (!n.ok()) return "read error";
  buf.resize(*n);
  return buf;
}

class IndexLowerTest : public ::testing::Test {
 protected:
  // Gives the regular files of `toc` chunks with distinct contents and xattrs.
  void Fill(LayerToc* toc, int salt) {
    int i = 0;
    for (TocEntry& e : toc->entries) {
      ++i;
      e.uid = i;
      e.mtime_sec = 1700000000 + i;
      if (i % 3 == 0) e.xattrs = {{"user.n", std::to_string(salt * 100 + i)}};
      if (e.type != EntryType::kRegular || e.role != OverlayRole::kNone) continue;
      e.first_chunk = static_cast<uint32_t>(toc->chunks.size());
      for (int c = 0; c < i % 3; ++c) {
        ChunkRef r = src_->Add("layer " + std::to_string(salt) + " entry " + std::to_string(i) +
                               " chunk " + std::to_string(c));
        toc->chunks.push_back(r);
        e.size += r.size;
        e.num_chunks++;
      }
    }
  }

  void ExpectSame(std::vector<std::shared_ptr<const LayerToc>> tocs, const std::string& what) {
    auto stack = LayerStack::Build(tocs);
    ASSERT_TRUE(stack.ok()) << stack.status().ToString();
    auto stack2 = LayerStack::Build(tocs);
    auto bytes = StackIndex::Encode(*stack2, Digest::Of("k"));
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    auto ix = StackIndex::FromBytes(*bytes, Digest::Of("k"));
    ASSERT_TRUE(ix.ok()) << ix.status().ToString();
    std::vector<std::string> paths;
    stack->Walk([&](const std::string& p, LayerStack::Ref) { paths.push_back(p); });
    paths.push_back("absent");
    InoMap inos_a, inos_b;  // each lower its own map: same slot numbers
    auto a = OpenStackLower("s", std::move(*stack), cache_.get(), &inos_a);
    auto b = OpenIndexLower("s", *ix, cache_.get(), &inos_b);
    ASSERT_TRUE(a.ok() && b.ok());
    Lower& sl = **a;
    Lower& il = **b;
    for (const std::string& p : paths) {
      auto sa = sl.Stat(p);
      auto sb = il.Stat(p);
      ASSERT_TRUE(sa.ok() && sb.ok()) << p;
      EXPECT_EQ(StatLine(*sb), StatLine(*sa)) << what << " " << p;
      EXPECT_EQ(Listing(il, p), Listing(sl, p)) << what << " " << p;
      EXPECT_EQ(Show(il.ReadLink(p)), Show(sl.ReadLink(p))) << what << " " << p;
      EXPECT_EQ(Show(il.Xattrs(p)), Show(sl.Xattrs(p))) << what << " " << p;
      EXPECT_EQ(il.HardlinkAliases(p), sl.HardlinkAliases(p)) << what << " " << p;
      EXPECT_EQ(Data(il, p), Data(sl, p)) << what << " " << p;
    }
  }

  MemorySourceOfChunks* src_ = new MemorySourceOfChunks;
  std::unique_ptr<ChunkCache> cache_ =
      std::make_unique<ChunkCache>(std::unique_ptr<ChunkSource>(src_), ChunkCacheOptions{});
};

TEST_F(IndexLowerTest, ServesWhatStackLowerServes) {
  LayerGen gen(7);
  for (int iter = 0; iter < 150; ++iter) {
    std::vector<std::shared_ptr<const LayerToc>> tocs;
    for (int k = 0; k < 1 + iter % 4; ++k) {
      auto t = std::make_shared<LayerToc>(gen.Make().raw());
      Fill(t.get(), k);
      tocs.push_back(t);
    }
    ExpectSame(tocs, "iteration " + std::to_string(iter));
    if (HasFailure()) return;
  }
}

TEST_F(IndexLowerTest, DevicesSymlinksAndHardlinks) {
  testing::Layer l;
  l.Dir("d").File("d/f").Hardlink("d/g", "d/f").Hardlink("h", "d/f").Symlink("s", "d/f");
  auto t = std::make_shared<LayerToc>(l.raw());
  TocEntry dev;
  dev.type = EntryType::kBlock;
  dev.name = "d/sda";
  dev.mode = 0660;
  dev.dev_major = 8;
  dev.dev_minor = 1;
  t->entries.push_back(dev);
  Fill(t.get(), 9);
  ExpectSame({t}, "devices");
}

}  // namespace
}  // namespace cfs
