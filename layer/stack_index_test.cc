#include "layer/stack_index.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "layer/testing/layer_testing.h"

namespace cfs {
namespace {

using testing::Layer;
using testing::LayerGen;
using testing::TempDir;

LayerStack MustBuild(const std::vector<std::shared_ptr<const LayerToc>>& tocs) {
  auto r = LayerStack::Build(tocs);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(r).value();
}

Digest Key(std::string_view s) { return Digest::Of(s); }

std::shared_ptr<const StackIndex> MustIndex(const LayerStack& s, const Digest& key) {
  auto bytes = StackIndex::Encode(s, key);
  EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
  auto ix = StackIndex::FromBytes(*bytes, key);
  EXPECT_TRUE(ix.ok()) << ix.status().ToString();
  return *ix;
}

// A layer with every kind of entry, chunks and xattrs.
std::shared_ptr<LayerToc> RichLayer() {
  auto t = std::make_shared<LayerToc>();
  auto add = [&](EntryType type, std::string name, uint32_t mode) -> TocEntry& {
    TocEntry e;
    e.type = type;
    e.name = std::move(name);
    e.mode = mode;
    e.uid = 1000;
    e.gid = 100;
    e.mtime_sec = 1700000000;
    e.mtime_nsec = 42;
    t->entries.push_back(std::move(e));
    return t->entries.back();
  };
  add(EntryType::kDirectory, "etc", 0755).xattrs = {{"user.a", "1"}, {"user.b", std::string("\0x", 2)}};
  TocEntry& f = add(EntryType::kRegular, "etc/passwd", 0644);
  f.size = 10;
  f.first_chunk = 0;
  f.num_chunks = 2;
  t->chunks = {{Digest::Of("a"), 4}, {Digest::Of("b"), 6}, {Digest::Of("c"), 3}};
  TocEntry& g = add(EntryType::kRegular, "etc/group", 0600);
  g.size = 3;
  g.first_chunk = 2;
  g.num_chunks = 1;
  add(EntryType::kHardlink, "etc/group.bak", 0).link_target = "etc/group";
  add(EntryType::kSymlink, "etc/localtime", 0777).link_target = "/usr/share/zoneinfo/UTC";
  TocEntry& c = add(EntryType::kChar, "dev/null", 0666);
  c.dev_major = 1;
  c.dev_minor = 3;
  add(EntryType::kFifo, "run/fifo", 0600);
  add(EntryType::kRegular, "empty", 0644);
  return t;
}

TEST(StackIndex, RoundTripsEveryKindOfEntry) {
  LayerStack s = MustBuild({RichLayer()});
  auto ix = MustIndex(s, Key("k"));
  ASSERT_EQ(ix->size(), s.size());

  auto node = [&](std::string_view p) {
    auto n = ix->Find(p);
    EXPECT_TRUE(n.ok() && n->has_value()) << p;
    return ix->node(n.ok() && n->has_value() ? **n : 0);
  };
  const auto& passwd = node("etc/passwd");
  EXPECT_EQ(passwd.mode, S_IFREG | 0644u);
  EXPECT_EQ(passwd.uid, 1000u);
  EXPECT_EQ(passwd.gid, 100u);
  EXPECT_EQ(passwd.size, 10u);
  EXPECT_EQ(passwd.mtime_sec, 1700000000);
  EXPECT_EQ(passwd.mtime_nsec, 42u);
  EXPECT_EQ(passwd.nlink, 1u);
  auto chunks = ix->Chunks(passwd);
  ASSERT_TRUE(chunks.ok());
  EXPECT_EQ(*chunks, (std::vector<ChunkRef>{{Digest::Of("a"), 4}, {Digest::Of("b"), 6}}));

  const auto& group = node("etc/group");
  const auto& bak = node("./etc//group.bak/");
  EXPECT_EQ(group.ino_key, bak.ino_key);  // one file, two names
  EXPECT_EQ(group.nlink, 2u);
  EXPECT_EQ(bak.mode, S_IFREG | 0600u);
  auto paths = ix->GroupPaths(bak);
  ASSERT_TRUE(paths.ok());
  EXPECT_EQ(*paths, (std::vector<std::string>{"etc/group", "etc/group.bak"}));
  EXPECT_EQ(*ix->Chunks(bak), (std::vector<ChunkRef>{{Digest::Of("c"), 3}}));

  const auto& link = node("etc/localtime");
  EXPECT_EQ(link.mode, S_IFLNK | 0777u);
  EXPECT_EQ(link.size, 23u);
  EXPECT_EQ(*ix->LinkTarget(link), "/usr/share/zoneinfo/UTC");
  EXPECT_FALSE(ix->LinkTarget(passwd).ok());

  EXPECT_EQ(node("dev/null").data, makedev(1, 3));
  EXPECT_EQ(node("dev/null").mode, S_IFCHR | 0666u);
  EXPECT_EQ(node("run/fifo").mode, S_IFIFO | 0600u);
  EXPECT_EQ(node("dev").mode, S_IFDIR | 0755u);  // implied: synthetic
  EXPECT_EQ(node("dev").nlink, 2u);
  EXPECT_TRUE(ix->Chunks(node("empty")).ok());
  EXPECT_FALSE(ix->Chunks(node("dev/null")).ok());

  auto x = ix->Xattrs(node("etc"));
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(*x, (std::vector<std::pair<std::string, std::string>>{
                    {"user.a", "1"}, {"user.b", std::string("\0x", 2)}}));

  for (std::string_view absent : {"nope", "etc/passwd/x", "etc/pass", "etc/passwdx", "zzz"}) {
    auto n = ix->Find(absent);
    ASSERT_TRUE(n.ok());
    EXPECT_FALSE(n->has_value()) << absent;
  }
  EXPECT_EQ(**ix->Find(""), 0u);
  EXPECT_EQ(**ix->Find("."), 0u);
}

// Every path of random stacks (whiteouts, opaque dirs, links, replacements)
// is found, with the children of each directory in the stack's order.
TEST(StackIndex, MatchesTheStackOnRandomLayers) {
  LayerGen gen(20261207);
  for (int iter = 0; iter < 300; ++iter) {
    std::vector<std::shared_ptr<const LayerToc>> tocs;
    for (int k = 0; k < 1 + iter % 5; ++k) tocs.push_back(gen.Make().toc());
    LayerStack s = MustBuild(tocs);
    auto ix = MustIndex(s, Key("r"));
    ASSERT_EQ(ix->size(), s.size());
    s.Walk([&](const std::string& path, LayerStack::Ref r) {
      auto n = ix->Find(path);
      ASSERT_TRUE(n.ok() && n->has_value()) << path;
      EXPECT_EQ(**n, *s.FindNode(path)) << path;
      std::vector<std::string> want, got;
      s.ForEachChild(**n, [&](std::string_view name, LayerStack::Ref, uint32_t) {
        want.emplace_back(name);
      });
      const auto& node = ix->node(**n);
      for (uint32_t c = node.first_child; c < node.first_child + node.num_children; ++c)
        got.emplace_back(*ix->Name(ix->node(c)));
      EXPECT_EQ(got, want) << path;
      const TocEntry& e = s.Entry(s.ResolveHardlink(r));
      EXPECT_EQ(node.mode & 07777, e.mode & 07777) << path;
    });
  }
}

TEST(StackIndex, HugeDirectoryLookups) {
  auto t = std::make_shared<LayerToc>();
  const int kN = 200000;
  for (int i = kN - 1; i >= 0; --i) {  // tar order need not be sorted
    TocEntry e;
    e.type = EntryType::kRegular;
    e.name = "big/f" + std::to_string(i);
    e.mode = 0644;
    e.size = i;
    t->entries.push_back(std::move(e));
  }
  LayerStack s = MustBuild({t});
  auto ix = MustIndex(s, Key("h"));
  const auto& big = ix->node(**ix->Find("big"));
  EXPECT_EQ(big.num_children, static_cast<uint32_t>(kN));
  std::string prev;
  for (uint32_t c = big.first_child; c < big.first_child + big.num_children; ++c) {
    std::string name(*ix->Name(ix->node(c)));
    EXPECT_LT(prev, name);
    prev = name;
  }
  for (int i = 0; i < kN; i += 997) {
    auto n = ix->Find("big/f" + std::to_string(i));
    ASSERT_TRUE(n.ok() && n->has_value()) << i;
    EXPECT_EQ(ix->node(**n).size, static_cast<uint64_t>(i));
  }
  EXPECT_FALSE(ix->Find("big/f" + std::to_string(kN))->has_value());
}

class StackIndexFile : public ::testing::Test {
 protected:
  void SetUp() override {
    stack_ = std::make_unique<LayerStack>(MustBuild({RichLayer()}));
    auto bytes = StackIndex::Encode(*stack_, Key("f"));
    ASSERT_TRUE(bytes.ok());
    bytes_ = *bytes;
    path_ = (tmp_.path() / "x.idx").string();
    Write(bytes_);
  }
  void Write(const std::string& b) {
    std::ofstream(path_, std::ios::binary | std::ios::trunc) << b;
  }
  TempDir tmp_;
  std::unique_ptr<LayerStack> stack_;
  std::string bytes_, path_;
};

TEST_F(StackIndexFile, OpensMapped) {
  auto ix = StackIndex::Open(path_, Key("f"));
  ASSERT_TRUE(ix.ok()) << ix.status().ToString();
  EXPECT_EQ((*ix)->size(), stack_->size());
  EXPECT_EQ((*ix)->bytes(), bytes_.size());
  EXPECT_EQ(*(*ix)->LinkTarget((*ix)->node(**(*ix)->Find("etc/localtime"))),
            "/usr/share/zoneinfo/UTC");
  auto layers = StackIndex::ReadLayers(path_);
  ASSERT_TRUE(layers.ok());
  EXPECT_EQ(layers->size(), 1u);
}

TEST_F(StackIndexFile, DroppedPagesReadBackTheSame) {
  auto ix = StackIndex::Open(path_, Key("f"));
  ASSERT_TRUE(ix.ok()) << ix.status().ToString();
  for (int round = 0; round < 3; ++round) {
    auto n = (*ix)->Find("etc/localtime");
    ASSERT_TRUE(n.ok() && n->has_value());
    EXPECT_EQ(*(*ix)->LinkTarget((*ix)->node(**n)), "/usr/share/zoneinfo/UTC");
    EXPECT_EQ((*ix)->Chunks((*ix)->node(**(*ix)->Find("etc/passwd")))->size(), 2u);
    (*ix)->DropPages();
  }
}

TEST_F(StackIndexFile, AbsentIsNotFound) {
  std::remove(path_.c_str());
  EXPECT_EQ(StackIndex::Open(path_, Key("f")).status().code(), Status::Code::kNotFound);
}

TEST_F(StackIndexFile, OtherKeyIsRefused) {
  auto ix = StackIndex::Open(path_, Key("other layers"));
  EXPECT_EQ(ix.status().code(), Status::Code::kCorruption);
  EXPECT_NE(ix.status().message().find("stale"), std::string::npos) << ix.status().message();
}

TEST_F(StackIndexFile, EveryFlippedByteIsCaught) {
  // Every byte of the header and a spread of the body.
  for (size_t i = 0; i < bytes_.size(); i += (i < 200 ? 1 : 37)) {
    std::string b = bytes_;
    b[i] ^= 0x20;
    Write(b);
    auto ix = StackIndex::Open(path_, Key("f"));
    EXPECT_FALSE(ix.ok()) << "byte " << i;
    EXPECT_FALSE(StackIndex::FromBytes(b, Key("f")).ok()) << "byte " << i;
  }
}

TEST_F(StackIndexFile, TruncatedOrExtendedIsCaught) {
  for (size_t n : {size_t{0}, size_t{10}, size_t{143}, size_t{144}, bytes_.size() / 2,
                   bytes_.size() - 1}) {
    Write(bytes_.substr(0, n));
    EXPECT_EQ(StackIndex::Open(path_, Key("f")).status().code(), Status::Code::kCorruption) << n;
  }
  Write(bytes_ + "x");
  EXPECT_EQ(StackIndex::Open(path_, Key("f")).status().code(), Status::Code::kCorruption);
}

TEST_F(StackIndexFile, OtherVersionIsRefused) {
  std::string b = bytes_;
  b[8] = 2;  // version field; the checksum no longer matches either
  Write(b);
  auto ix = StackIndex::Open(path_, Key("f"));
  EXPECT_EQ(ix.status().code(), Status::Code::kCorruption);
  EXPECT_NE(ix.status().message().find("version"), std::string::npos) << ix.status().message();
}

}  // namespace
}  // namespace cfs
