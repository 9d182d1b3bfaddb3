#include "layer/layer_rules.h"

#include <gtest/gtest.h>

#include "layer/layer_stack.h"

namespace cfs {
namespace {

TocEntry Entry(std::string name, EntryType type = EntryType::kRegular, std::string target = "") {
  TocEntry e;
  e.name = std::move(name);
  e.type = type;
  e.link_target = std::move(target);
  std::string_view base = e.name;
  if (auto slash = base.rfind('/'); slash != std::string_view::npos) base.remove_prefix(slash + 1);
  if (base == ".wh..wh..opq") {
    e.role = OverlayRole::kOpaque;
  } else if (base.starts_with(".wh.")) {
    e.role = OverlayRole::kWhiteout;
  }
  return e;
}

LayerToc Toc(std::vector<TocEntry> entries) {
  LayerToc t;
  t.entries = std::move(entries);
  return t;
}

LowerTocs Below(std::vector<LayerToc> tocs) {
  return [tocs]() -> Result<std::vector<std::shared_ptr<const LayerToc>>> {
    std::vector<std::shared_ptr<const LayerToc>> out;
    for (const auto& t : tocs) out.push_back(std::make_shared<const LayerToc>(t));
    return out;
  };
}

// The message of a refusal, or "ok"; every refusal must also stop a mount.
std::string Refusal(const LayerToc& toc) {
  Status s = CheckLayer(toc, Below({}));
  auto stack = LayerStack::Build({std::make_shared<const LayerToc>(toc)});
  EXPECT_EQ(s.ok(), stack.ok()) << s.ToString() << " / " << stack.status().ToString();
  if (s.ok()) return "ok";
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  return s.message();
}

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(LayerRules, GoodLayerPasses) {
  EXPECT_EQ(Refusal(Toc({Entry(".", EntryType::kDirectory), Entry("etc", EntryType::kDirectory),
                         Entry("etc/a"), Entry("etc/.wh.b"), Entry("etc/.wh..wh..opq"),
                         Entry("etc/h", EntryType::kHardlink, "etc/a"),
                         Entry(std::string(255, 'n')), Entry(".wh..wh.plnk")})),
            "ok");
}

// A whiteout of a 255-byte name takes 259 bytes in a tar: the limit is on
// the name it hides.
TEST(LayerRules, WhiteoutOfALongNameCountsTheHiddenName) {
  EXPECT_EQ(Refusal(Toc({Entry("d/.wh." + std::string(255, 'w'))})), "ok");
  std::string m = Refusal(Toc({Entry("d/.wh." + std::string(256, 'w'))}));
  EXPECT_TRUE(Contains(m, "name component of 256 bytes")) << m;
}

TEST(LayerRules, BadWhiteoutNames) {
  for (const char* name : {".wh.", ".wh..", ".wh...", "d/.wh.", "d/.wh.."}) {
    std::string m = Refusal(Toc({Entry(name)}));
    EXPECT_TRUE(Contains(m, "whiteout names no valid file")) << name << ": " << m;
    EXPECT_TRUE(Contains(m, name)) << m;
  }
}

TEST(LayerRules, WhiteoutDirectoryOrWithChildren) {
  std::string m = Refusal(Toc({Entry(".wh.etc", EntryType::kDirectory)}));
  EXPECT_TRUE(Contains(m, "whiteout is a directory")) << m;
  m = Refusal(Toc({Entry(".wh.etc/x")}));
  EXPECT_TRUE(Contains(m, "inside whiteout \".wh.etc\"")) << m;
  m = Refusal(Toc({Entry(".wh..wh..opq", EntryType::kDirectory)}));
  EXPECT_TRUE(Contains(m, "whiteout is a directory")) << m;
  m = Refusal(Toc({Entry("a/.wh..wh..opq/f")}));
  EXPECT_TRUE(Contains(m, "inside whiteout")) << m;
}

TEST(LayerRules, LongNameComponent) {
  std::string m = Refusal(Toc({Entry("d/" + std::string(256, 'x') + "/f")}));
  EXPECT_TRUE(Contains(m, "name component of 256 bytes")) << m;
}

TEST(LayerRules, RoleMustMatchName) {
  TocEntry e = Entry("x");
  e.role = OverlayRole::kWhiteout;
  EXPECT_TRUE(Contains(Refusal(Toc({e})), "role")) << Refusal(Toc({e}));
  EXPECT_TRUE(Contains(Refusal(Toc({Entry(".", EntryType::kRegular)})), "layer root"));
}

TEST(LayerRules, HardLinkTargets) {
  std::string m = Refusal(Toc({Entry("h", EntryType::kHardlink, "f"), Entry("f")}));
  EXPECT_TRUE(Contains(m, "member \"h\": hard link to \"f\", which comes later")) << m;
  m = Refusal(Toc({Entry("h", EntryType::kHardlink, "missing")}));
  EXPECT_TRUE(Contains(m, "which is no file")) << m;
  m = Refusal(Toc({Entry("d", EntryType::kDirectory), Entry("h", EntryType::kHardlink, "d")}));
  EXPECT_TRUE(Contains(m, "hard link to directory \"d\"")) << m;
  m = Refusal(Toc({Entry(".wh.x"), Entry("h", EntryType::kHardlink, ".wh.x")}));
  EXPECT_TRUE(Contains(m, "hard link to whiteout")) << m;
  // The latest entry of a name counts: a file replaced by a directory.
  m = Refusal(Toc({Entry("d"), Entry("d", EntryType::kDirectory),
                   Entry("h", EntryType::kHardlink, "d")}));
  EXPECT_TRUE(Contains(m, "directory")) << m;
}

TEST(LayerRules, HardLinkIntoLowerLayers) {
  LayerToc lower = Toc({Entry("f"), Entry("d", EntryType::kDirectory)});
  EXPECT_TRUE(CheckLayer(Toc({Entry("h", EntryType::kHardlink, "f")}), Below({lower})).ok());
  EXPECT_FALSE(CheckLayer(Toc({Entry("h", EntryType::kHardlink, "d")}), Below({lower})).ok());
  EXPECT_FALSE(CheckLayer(Toc({Entry("h", EntryType::kHardlink, "g")}), Below({lower})).ok());
  // The lower layers are read only when a link reaches them.
  bool called = false;
  LowerTocs spy = [&]() -> Result<std::vector<std::shared_ptr<const LayerToc>>> {
    called = true;
    return std::vector<std::shared_ptr<const LayerToc>>{};
  };
  EXPECT_TRUE(CheckLayer(Toc({Entry("f"), Entry("h", EntryType::kHardlink, "f")}), spy).ok());
  EXPECT_FALSE(called);
}

TEST(LayerRules, StreamingAddStopsAtTheFirstBadEntry) {
  LayerRules r;
  EXPECT_TRUE(r.Add(Entry("a")).ok());
  EXPECT_TRUE(r.Add(Entry("h", EntryType::kHardlink, "later")).ok());
  EXPECT_EQ(r.below().size(), 1u);
  EXPECT_FALSE(r.Add(Entry(".wh..")).ok());
}

}  // namespace
}  // namespace cfs
