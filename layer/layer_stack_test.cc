#include "layer/layer_stack.h"

#include <gtest/gtest.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "layer/testing/layer_testing.h"

namespace cfs {
namespace {

namespace fs = std::filesystem;
using Ref = LayerStack::Ref;
using testing::ApplyOnDisk;
using testing::Describe;
using testing::Dump;
using testing::Layer;
using testing::LayerGen;
using testing::Tag;
using testing::TempDir;
using testing::WalkDisk;

LayerStack MustBuild(std::vector<Layer> layers) {
  std::vector<std::shared_ptr<const LayerToc>> tocs;
  for (const Layer& l : layers) tocs.push_back(l.toc());
  auto r = LayerStack::Build(std::move(tocs));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(r).value();
}

// "L<layer>:<entry index>", "synthetic", or "absent".
std::string Src(const LayerStack& s, std::string_view path) {
  auto r = s.Lookup(path);
  if (!r) return "absent";
  if (r->synthetic()) return "synthetic";
  return "L" + std::to_string(r->layer) + ":" + std::to_string(r->entry);
}

std::vector<std::string> Names(const LayerStack& s, std::string_view dir) {
  auto r = s.ReadDir(dir);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  std::vector<std::string> out;
  if (r.ok()) {
    for (auto& [name, ref] : *r) out.push_back(name);
  }
  return out;
}

std::vector<std::string> WalkPaths(const LayerStack& s) {
  std::vector<std::string> out;
  s.Walk([&](const std::string& p, Ref) { out.push_back(p); });
  return out;
}

using V = std::vector<std::string>;

TEST(LayerStack, EmptyStackHasSyntheticRoot) {
  LayerStack s = MustBuild({});
  EXPECT_EQ(s.size(), 1u);
  EXPECT_EQ(Src(s, ""), "synthetic");
  EXPECT_EQ(Src(s, "."), "synthetic");
  EXPECT_EQ(Src(s, "/"), "synthetic");
  const TocEntry& e = s.Entry(*s.Lookup("."));
  EXPECT_EQ(e.type, EntryType::kDirectory);
  EXPECT_EQ(e.mode, 0755u);
  EXPECT_EQ(e.uid, 0u);
  EXPECT_EQ(Names(s, ""), V{});
}

TEST(LayerStack, RootEntryGivesRootMetadata) {
  LayerStack s = MustBuild({Layer().Dir(".", 0700).File("f"), Layer().File("g")});
  EXPECT_EQ(Src(s, "."), "L0:0");
  EXPECT_EQ(s.Entry(*s.Lookup("")).mode, 0700u);
  EXPECT_EQ(Names(s, "."), (V{"f", "g"}));
}

TEST(LayerStack, HigherLayerReplacesSamePath) {
  LayerStack s = MustBuild({Layer().Dir("etc").File("etc/a").File("etc/b"),
                            Layer().Dir("etc", 0700).File("etc/a")});
  EXPECT_EQ(Src(s, "etc"), "L1:0");
  EXPECT_EQ(Src(s, "etc/a"), "L1:1");
  EXPECT_EQ(Src(s, "etc/b"), "L0:2");  // directories merge
  EXPECT_EQ(s.Entry(*s.Lookup("etc")).mode, 0700u);
  EXPECT_EQ(s.size(), 4u);
}

TEST(LayerStack, WhiteoutRemovesSubtreeAndIsInvisible) {
  LayerStack s = MustBuild({Layer().Dir("a").Dir("a/d").File("a/d/x").Dir("a/d/e").File("a/keep"),
                            Layer().Whiteout("a/d").Whiteout("a/nothing")});
  EXPECT_EQ(Src(s, "a/d"), "absent");
  EXPECT_EQ(Src(s, "a/d/x"), "absent");
  EXPECT_EQ(Src(s, "a/d/e"), "absent");
  EXPECT_EQ(Src(s, "a/.wh.d"), "absent");
  EXPECT_EQ(Src(s, "a"), "L0:0");  // the whiteout's implied parent keeps lower metadata
  EXPECT_EQ(Names(s, "a"), V{"keep"});
  EXPECT_EQ(WalkPaths(s), (V{".", "a", "a/keep"}));
}

TEST(LayerStack, WhiteoutOnlyHidesLowerLayers) {
  LayerStack s = MustBuild({Layer().File("x").File("y"),
                            Layer().File("x").Whiteout("x").Whiteout("y"),  // same-layer x stays
                            Layer().Dir("y").File("y/new")});
  EXPECT_EQ(Src(s, "x"), "L1:0");
  EXPECT_EQ(Src(s, "y"), "L2:0");  // re-created above its whiteout
  EXPECT_EQ(Names(s, "y"), V{"new"});
}

TEST(LayerStack, RecreatedDirectoryDoesNotResurrectOldChildren) {
  LayerStack s = MustBuild({Layer().Dir("d").File("d/old"), Layer().Whiteout("d"),
                            Layer().Dir("d").File("d/new")});
  EXPECT_EQ(Names(s, "d"), V{"new"});
  EXPECT_EQ(Src(s, "d/old"), "absent");
}

TEST(LayerStack, OpaqueDirectoryHidesLowerChildren) {
  LayerStack s = MustBuild({Layer().Dir("d", 0700).File("d/old").Dir("d/sub").File("d/sub/x"),
                            Layer().Dir("d", 0711).Opaque("d").File("d/new"),
                            Layer().File("d/top")});
  EXPECT_EQ(Names(s, "d"), (V{"new", "top"}));
  EXPECT_EQ(Src(s, "d"), "L1:0");
  EXPECT_EQ(Src(s, "d/.wh..wh..opq"), "absent");
  EXPECT_EQ(Src(s, "d/sub/x"), "absent");
}

TEST(LayerStack, OpaqueWithoutDirEntryKeepsLowerMetadata) {
  LayerStack s = MustBuild({Layer().Dir("d", 0700).File("d/old"), Layer().Opaque("d").File("d/new")});
  EXPECT_EQ(Src(s, "d"), "L0:0");
  EXPECT_EQ(Names(s, "d"), V{"new"});
  // Opaque at the root.
  LayerStack r = MustBuild({Layer().File("a").Dir("b"), Layer().Opaque("").File("c")});
  EXPECT_EQ(Names(r, ""), V{"c"});
  // Opaque over a non-directory makes a directory in its place.
  LayerStack f = MustBuild({Layer().File("d"), Layer().Opaque("d")});
  EXPECT_EQ(Src(f, "d"), "synthetic");
  EXPECT_EQ(Names(f, "d"), V{});
}

TEST(LayerStack, FileOverDirectoryReplacesSubtree) {
  LayerStack s = MustBuild({Layer().Dir("d").File("d/x").Dir("d/e"), Layer().File("d")});
  EXPECT_EQ(Src(s, "d"), "L1:0");
  EXPECT_EQ(Src(s, "d/x"), "absent");
  EXPECT_FALSE(s.ReadDir("d").ok());
  EXPECT_EQ(s.ReadDir("d").status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(s.size(), 2u);
  LayerStack l = MustBuild({Layer().Dir("d").File("d/x"), Layer().Symlink("d", "/elsewhere")});
  EXPECT_EQ(Src(l, "d/x"), "absent");
  EXPECT_EQ(s.Entry(*l.Lookup("d")).type, EntryType::kRegular);
}

TEST(LayerStack, DirectoryOverFileReplacesIt) {
  LayerStack s = MustBuild({Layer().File("d"), Layer().Dir("d").File("d/x")});
  EXPECT_EQ(Src(s, "d"), "L1:0");
  EXPECT_EQ(Names(s, "d"), V{"x"});
}

TEST(LayerStack, ImpliedParentsAreSynthetic) {
  LayerStack s = MustBuild({Layer().File("a/b/c"), Layer().File("f"), Layer().File("f/g/h")});
  EXPECT_EQ(Src(s, "a"), "synthetic");
  EXPECT_EQ(Src(s, "a/b"), "synthetic");
  EXPECT_EQ(Src(s, "a/b/c"), "L0:0");
  const TocEntry& a = s.Entry(*s.Lookup("a"));
  EXPECT_EQ(a.type, EntryType::kDirectory);
  EXPECT_EQ(a.mode, 0755u);
  EXPECT_EQ(a.uid, 0u);
  EXPECT_EQ(a.gid, 0u);
  EXPECT_EQ(Src(s, "f"), "synthetic");  // file f replaced by the directory layer 2 implies
  EXPECT_EQ(Src(s, "f/g/h"), "L2:0");
  // An implied parent over an existing directory keeps its metadata.
  LayerStack t = MustBuild({Layer().Dir("a", 0700), Layer().File("a/x")});
  EXPECT_EQ(Src(t, "a"), "L0:0");
  // A later explicit entry in the same layer gives the metadata.
  LayerStack u = MustBuild({Layer().File("a/x").Dir("a", 0711)});
  EXPECT_EQ(Src(u, "a"), "L0:1");
  EXPECT_EQ(Names(u, "a"), V{"x"});
}

TEST(LayerStack, DuplicatePathInOneLayerLaterWins) {
  LayerStack s = MustBuild({Layer().File("x", 0600).File("x", 0644).Dir("d", 0700).Dir("d", 0711)
                                .File("d/y").File("f").Dir("f").File("g/z").File("g")});
  EXPECT_EQ(Src(s, "x"), "L0:1");
  EXPECT_EQ(Src(s, "d"), "L0:3");
  EXPECT_EQ(Names(s, "d"), V{"y"});
  EXPECT_EQ(Src(s, "f"), "L0:6");
  EXPECT_EQ(Src(s, "g"), "L0:8");
  EXPECT_EQ(Src(s, "g/z"), "absent");
}

TEST(LayerStack, HardlinksResolveWithinTheirLayer) {
  LayerStack s = MustBuild({Layer().File("x").Hardlink("y", "x").Hardlink("z", "y"),
                            Layer().Whiteout("x").File("y").Hardlink("w", "y")});
  EXPECT_EQ(Src(s, "x"), "absent");
  EXPECT_EQ(Src(s, "z"), "L0:2");
  // z still shares layer 0's x, though x was whited-out and y replaced.
  EXPECT_EQ(s.ResolveHardlink(*s.Lookup("z")), (Ref{0, 0}));
  EXPECT_EQ(s.ResolveHardlink(*s.Lookup("w")), (Ref{1, 1}));
  EXPECT_EQ(s.ResolveHardlink(*s.Lookup("y")), (Ref{1, 1}));  // not a link: itself
  EXPECT_EQ(s.ResolveHardlink(*s.Lookup(".")), *s.Lookup("."));
  // The target as it stood when the link was written.
  LayerStack t = MustBuild({Layer().File("x").Hardlink("y", "x").File("x")});
  EXPECT_EQ(t.ResolveHardlink(*t.Lookup("y")), (Ref{0, 0}));
}

TEST(LayerStack, BadHardlinkIsCorruption) {
  for (Layer l : {Layer().Hardlink("y", "x"), Layer().Hardlink("y", "x").File("x"),
                  Layer().Dir("d").Hardlink("y", "d")}) {
    auto r = LayerStack::Build({l.toc()});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
    EXPECT_NE(r.status().message().find("hard link"), std::string::npos);
  }
  // A link to something lower layers did not leave as a file is still bad.
  EXPECT_FALSE(LayerStack::Build({Layer().Dir("x").toc(), Layer().Hardlink("y", "x").toc()}).ok());
  EXPECT_FALSE(LayerStack::Build({Layer().File("x").toc(), Layer().Whiteout("x").toc(),
                                  Layer().Hardlink("y", "x").toc()})
                   .ok());
}

TEST(LayerStack, HardlinkToLowerLayerFile) {
  // As extraction onto disk does (and docker accepts): the link names the
  // file a lower layer left at that path, resolved through lower links too.
  LayerStack s = MustBuild({Layer().File("x").Hardlink("x2", "x"), Layer().File("other"),
                            Layer().Hardlink("y", "x").Hardlink("z", "x2")});
  EXPECT_EQ(s.ResolveHardlink(*s.Lookup("y")), (Ref{0, 0}));
  EXPECT_EQ(s.ResolveHardlink(*s.Lookup("z")), (Ref{0, 0}));
  // The nearest layer that has the path wins.
  LayerStack t = MustBuild({Layer().File("x"), Layer().File("x"), Layer().Hardlink("y", "x")});
  EXPECT_EQ(t.ResolveHardlink(*t.Lookup("y")), (Ref{1, 0}));
}

TEST(LayerStack, WalkIsDepthFirstSortedParentFirst) {
  LayerStack s = MustBuild({Layer().File("b/z").File("b/a").Dir("a").File("c"),
                            Layer().File("a/y").File("a/x/1").File("B")});
  EXPECT_EQ(WalkPaths(s),
            (V{".", "B", "a", "a/x", "a/x/1", "a/y", "b", "b/a", "b/z", "c"}));
  EXPECT_EQ(s.size(), 10u);
}

TEST(LayerStack, ReadDirAndLookupErrors) {
  LayerStack s = MustBuild({Layer().File("a").Dir("d").File("d/f")});
  auto r = s.ReadDir("a");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(s.ReadDir("missing").status().IsNotFound());
  EXPECT_EQ(Src(s, "a/b"), "absent");
  EXPECT_EQ(Src(s, "d/f/g"), "absent");
  EXPECT_EQ(Src(s, "d/f"), "L0:2");
  EXPECT_EQ(Src(s, "/d//f/"), "L0:2");
  EXPECT_EQ(Src(s, "d/../a"), "absent");
  auto d = s.ReadDir("d");
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->size(), 1u);
  EXPECT_EQ((*d)[0].first, "f");
  EXPECT_EQ((*d)[0].second, (Ref{0, 2}));
}

TEST(LayerStack, MalformedWhiteoutIsCorruption) {
  Layer l;
  l.File("x");
  auto toc = std::make_shared<LayerToc>(l.raw());
  toc->entries[0].role = OverlayRole::kWhiteout;  // name does not start with .wh.
  EXPECT_EQ(LayerStack::Build({toc}).status().code(), Status::Code::kCorruption);
}

// ---- Memory ----

size_t HeapInUse() {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

TEST(LayerStack, MemoryPerEntry) {
  // ~200k merged entries over 4 layers, shaped like a distro: many
  // directories, file names repeated across directories and layers.
  std::vector<Layer> layers(4);
  for (int d = 0; d < 2000; ++d) {
    std::string dir = "usr/lib/pkg" + std::to_string(d);
    layers[0].Dir(dir);
    for (int f = 0; f < 60; ++f) layers[0].File(dir + "/file" + std::to_string(f));
  }
  for (int d = 0; d < 2000; d += 2) {
    std::string dir = "usr/lib/pkg" + std::to_string(d);
    for (int f = 0; f < 60; f += 3) layers[1].File(dir + "/file" + std::to_string(f));
    layers[1].Whiteout(dir + "/file1");
  }
  for (int d = 0; d < 1000; ++d) {
    std::string dir = "opt/app" + std::to_string(d);
    for (int f = 0; f < 90; ++f) layers[2].File(dir + "/mod" + std::to_string(f) + ".py");
  }
  for (int d = 0; d < 1000; d += 10) layers[3].Opaque("opt/app" + std::to_string(d));
  std::vector<std::shared_ptr<const LayerToc>> tocs;
  size_t toc_entries = 0;
  for (const Layer& l : layers) {
    tocs.push_back(l.toc());
    toc_entries += l.raw().entries.size();
  }
  size_t before = HeapInUse();
  auto r = LayerStack::Build(tocs);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  size_t after = HeapInUse();
  size_t n = r->size();
  EXPECT_GT(n, 200000u);
  double per_entry = static_cast<double>(after - before) / static_cast<double>(n);
  std::printf("LayerStack: %zu merged entries from %zu TOC entries, %.1f bytes/entry\n", n,
              toc_entries, per_entry);
  EXPECT_LT(per_entry, 200.0);
}

// ---- Randomized differential test against extraction onto disk ----
// (the generator and the reference: layer/testing/layer_testing.h)

std::vector<std::string> WalkStack(const LayerStack& s) {
  std::vector<std::string> out;
  s.Walk([&](const std::string& path, Ref ref) {
    Ref data = s.ResolveHardlink(ref);
    const TocEntry& e = s.Entry(data);
    std::string desc;
    if (e.type == EntryType::kDirectory) {
      desc = Describe(1, e.mode & 0777, "");
    } else if (e.type == EntryType::kRegular) {
      desc = Describe(0, e.mode & 0777, Tag(data.layer, data.entry));
    } else {
      desc = Describe(2, 0, e.link_target);
    }
    out.push_back(path + " " + desc);
  });
  return out;
}


TEST(LayerStack, MatchesExtractionOnDisk) {
  LayerGen gen(20261123);
  TempDir tmp;
  for (int iter = 0; iter < 200; ++iter) {
    fs::path root = tmp.path() / std::to_string(iter);
    ASSERT_EQ(mkdir(root.c_str(), 0755), 0);
    ASSERT_EQ(chmod(root.c_str(), 0755), 0);
    int nlayers = 1 + iter % 5;
    std::vector<Layer> layers;
    std::string dump;
    for (int k = 0; k < nlayers; ++k) {
      layers.push_back(gen.Make());
      ApplyOnDisk(root, layers.back().raw(), k);
      if (HasFatalFailure()) return;
      dump += "layer " + std::to_string(k) + ":\n" + Dump(layers.back().raw());
    }
    std::vector<std::string> want;
    WalkDisk(root, ".", &want);
    LayerStack s = MustBuild(layers);
    ASSERT_EQ(WalkStack(s), want) << "iteration " << iter << "\n" << dump;
    EXPECT_EQ(s.size(), want.size());
    fs::remove_all(root);
  }
}

}  // namespace
}  // namespace cfs
