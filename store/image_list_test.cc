// Image lists (multi-platform images) in the store: the record's coding,
// gc keeping children, rmi semantics, platform choice, fsck.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "base/io.h"
#include "store/store.h"
#include "store/testing/temp_store.h"
#include "store_impl.h"

namespace cfs {
namespace {

using nlohmann::json;

class ImageListTest : public testing::TempStoreTest {
 protected:
  // An image of one layer holding /arch with `content`, its config naming
  // os/arch[/variant] of platform p. Returns its manifest digest.
  Digest Image(const std::string& name, const std::string& p, const std::string& content) {
    std::string dir = tmp_.path() + "/src-" + std::to_string(n_++);
    EXPECT_TRUE(MakeDirs(dir).ok());
    std::ofstream(dir + "/arch") << content;
    std::unique_ptr<Store::Lease> lease;
    auto l = store_->ImportDirLayer(dir, nullptr, &lease);
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    auto plat = Platform::Parse(p);
    EXPECT_TRUE(plat.ok());
    json cfg = {{"architecture", plat->arch}, {"os", plat->os},
                {"rootfs", {{"type", "layers"}, {"diff_ids", {l->diff_id.ToString()}}}}};
    if (!plat->variant.empty()) cfg["variant"] = plat->variant;
    auto d = store_->CreateImage(name, cfg.dump(), "test", {*l});
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d->summary.manifest_digest;
  }

  ImageListDetails MustList(const std::string& name, const std::vector<std::string>& images) {
    auto l = store_->PutImageList(name, images, "test");
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    return l.ok() ? *l : ImageListDetails{};
  }

  void ExpectClean() {
    auto f = store_->Fsck();
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    EXPECT_TRUE(f->problems.empty()) << f->problems[0];
  }

  int n_ = 0;
};

TEST(ImageListRecordTest, EncodesAndDecodes) {
  ImageListRecord r;
  r.children.push_back({Digest::Of("a"), Platform{"linux", "amd64", ""}});
  r.children.push_back({Digest::Of("b"), Platform{"linux", "arm", "v7"}});
  r.source = "manifest create";
  r.stored_at = 42;
  auto back = ImageListRecord::FromJson(r.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->children.size(), 2u);
  EXPECT_EQ(back->children[0].manifest, Digest::Of("a"));
  EXPECT_EQ(back->children[1].platform.ToString(), "linux/arm/v7");
  EXPECT_EQ(back->source, "manifest create");
  EXPECT_EQ(back->stored_at, 42);
  EXPECT_FALSE(ImageListRecord::FromJson("{\"children\":[{}]}").ok());
  EXPECT_FALSE(ImageListRecord::FromJson("not json").ok());
}

TEST_F(ImageListTest, IndexNamesEachChildWithItsPlatform) {
  Digest amd = Image("app:amd64", "linux/amd64", "amd64");
  Digest arm = Image("app:arm64", "linux/arm64", "arm64");
  ImageListDetails l = MustList("app:multi", {"app:amd64", "app:arm64"});
  EXPECT_EQ(l.digest, Digest::Of(l.index));
  json j = json::parse(l.index);
  EXPECT_EQ(j["mediaType"], "application/vnd.oci.image.index.v1+json");
  ASSERT_EQ(j["manifests"].size(), 2u);
  EXPECT_EQ(j["manifests"][0]["digest"], amd.ToString());
  EXPECT_EQ(j["manifests"][1]["platform"]["architecture"], "arm64");
  ASSERT_EQ(l.children.size(), 2u);
  EXPECT_EQ(l.children[1].manifest, arm);
  EXPECT_EQ(l.names, std::vector<std::string>{"app:multi"});
  auto not_list = store_->InspectImageList("app:amd64");
  ASSERT_TRUE(not_list.ok());
  EXPECT_FALSE(not_list->has_value());
  ExpectClean();
}

TEST_F(ImageListTest, InspectPicksThePlatformVariantsIncluded) {
  Digest amd = Image("x:amd64", "linux/amd64", "amd64");
  Digest arm64 = Image("x:arm64", "linux/arm64", "arm64");  // no variant: v8 by default
  Digest armv7 = Image("x:armv7", "linux/arm/v7", "armv7");
  MustList("x:all", {"x:amd64", "x:arm64", "x:armv7"});
  auto pick = [&](const std::string& machine) {
    auto d = store_->Inspect("x:all", Platform::FromMachine(machine));
    EXPECT_TRUE(d.ok()) << machine << ": " << d.status().ToString();
    return d.ok() ? d->summary.manifest_digest : Digest{};
  };
  EXPECT_EQ(pick("x86_64"), amd);
  EXPECT_EQ(pick("aarch64"), arm64);  // arm64/v8 wants v8: the default variant
  EXPECT_EQ(pick("armv7l"), armv7);
  auto none = store_->Inspect("x:all", Platform::FromMachine("s390x"));
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("s390x"), std::string::npos) << none.status().message();
  EXPECT_NE(none.status().message().find("linux/arm/v7"), std::string::npos);
  // No platform given: the host's (this test runs on one of those three).
  auto host = store_->Inspect("x:all");
  ASSERT_TRUE(host.ok()) << host.status().ToString();
}

TEST_F(ImageListTest, GcKeepsChildrenAListNames) {
  Digest amd = Image("k:amd64", "linux/amd64", "amd64 bytes");
  Digest arm = Image("k:arm64", "linux/arm64", "arm64 bytes");
  ImageListDetails l = MustList("k:list", {"k:amd64", "k:arm64"});
  // The children lose their names; the list still holds them.
  ASSERT_TRUE(store_->Remove("k:amd64").ok());
  ASSERT_TRUE(store_->Remove("k:arm64").ok());
  auto g = store_->Gc();
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->layers_removed, 0u);
  EXPECT_EQ(g->blobs_removed, 0u);
  auto a = store_->Inspect("k:list", Platform::FromMachine("x86_64"));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->summary.manifest_digest, amd);
  EXPECT_TRUE(store_->Inspect(arm.ToString()).ok());
  auto again = store_->InspectImageList("k:list");
  ASSERT_TRUE(again.ok() && again->has_value());
  EXPECT_EQ((*again)->index, l.index);
  ExpectClean();
}

TEST_F(ImageListTest, RmiOfTheListRemovesChildrenNoOneElseHolds) {
  Digest amd = Image("r:amd64", "linux/amd64", "amd64");
  Digest arm = Image("", "linux/arm64", "arm64");  // untagged: only the lists hold it
  MustList("r:one", {"r:amd64", arm.ToString()});
  MustList("r:two", {arm.ToString()});
  auto removed = store_->Remove("r:one");
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, std::vector<std::string>{"r:one"});
  EXPECT_TRUE(store_->Inspect("r:amd64").ok());          // has a name of its own
  EXPECT_TRUE(store_->Inspect(arm.ToString()).ok());     // r:two holds it
  EXPECT_TRUE(store_->Inspect("r:one").status().IsNotFound());
  ASSERT_TRUE(store_->Remove("r:two").ok());
  EXPECT_TRUE(store_->Inspect(arm.ToString()).status().IsNotFound());
  auto g = store_->Gc();
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->layers_removed, 1u);  // arm64's; amd64's stays
  EXPECT_EQ(store_->Inspect("r:amd64")->summary.manifest_digest, amd);
  ExpectClean();
}

TEST_F(ImageListTest, AListIsRemovedByItsIdPrefixAsImagesListsIt) {
  Image("", "linux/amd64", "amd64");
  Digest amd = Image("", "linux/amd64", "amd64 other");
  ImageListDetails l = MustList("q:list", {amd.ToString()});
  MustList("q:again", {amd.ToString()});  // the same index, a second name
  const std::string short_id = l.digest.Hex().substr(0, 12);  // cimg images -q
  auto refused = store_->Remove(short_id);
  ASSERT_FALSE(refused.ok());  // two names: -f
  EXPECT_NE(refused.status().message().find("q:again"), std::string::npos) << refused.status().message();
  auto removed = store_->Remove(short_id, /*force=*/true);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(removed->size(), 2u);
  EXPECT_TRUE(store_->Inspect(amd.ToString()).status().IsNotFound());  // it had no name of its own
  ExpectClean();
}

TEST_F(ImageListTest, AChildCannotBeRemovedByIdWhileAListHoldsIt) {
  Digest amd = Image("c:amd64", "linux/amd64", "amd64");
  MustList("c:list", {"c:amd64"});
  auto r = store_->Remove(amd.ToString(), /*force=*/true);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("c:list"), std::string::npos) << r.status().message();
  EXPECT_TRUE(store_->Inspect(amd.ToString()).ok());
}

TEST_F(ImageListTest, ListsShowInImagesWithTheirPlatforms) {
  Image("s:amd64", "linux/amd64", "amd64");
  Image("s:arm64", "linux/arm64", "arm64");
  ImageListDetails l = MustList("s:list", {"s:amd64", "s:arm64"});
  auto all = store_->ListImages();
  ASSERT_TRUE(all.ok());
  int lists = 0;
  for (const auto& s : *all) {
    if (s.platforms.empty()) continue;
    lists++;
    EXPECT_EQ(s.manifest_digest, l.digest);
    EXPECT_EQ(s.platforms, (std::vector<std::string>{"linux/amd64", "linux/arm64"}));
    EXPECT_EQ(s.names, std::vector<std::string>{"s:list"});
  }
  EXPECT_EQ(lists, 1);
}

TEST_F(ImageListTest, APulledIndexIsKeptByteForByteAndMustNameStoredImages) {
  Digest amd = Image("p:amd64", "linux/amd64", "amd64");
  json index = {{"schemaVersion", 2},
                {"mediaType", "application/vnd.oci.image.index.v1+json"},
                {"manifests",
                 {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                   {"digest", amd.ToString()},
                   {"size", 1},
                   {"platform", {{"os", "linux"}, {"architecture", "amd64"}}}}}}};
  std::string bytes = index.dump(2);
  auto l = store_->PutImageList("p:list", {}, "docker://x/p:list", bytes);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(l->index, bytes);
  EXPECT_EQ(l->digest, Digest::Of(bytes));
  index["manifests"][0]["digest"] = Digest::Of("absent").ToString();
  auto bad = store_->PutImageList("p:bad", {}, "x", index.dump());
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().IsNotFound()) << bad.status().ToString();
  ExpectClean();
}

TEST_F(ImageListTest, AListRewrittenUnderItsNameDropsTheOldOne) {
  // manifest remove: the list's name moves to a new index without arm64;
  // the old list goes, and with it the arm64 image nothing else holds.
  Digest amd = Image("", "linux/amd64", "amd64");
  Digest arm = Image("", "linux/arm64", "arm64");
  ImageListDetails before = MustList("m:l", {amd.ToString(), arm.ToString()});
  ImageListDetails after = MustList("m:l", {amd.ToString()});
  EXPECT_NE(before.digest, after.digest);
  EXPECT_TRUE(store_->Inspect(amd.ToString()).ok());
  EXPECT_TRUE(store_->Inspect(arm.ToString()).status().IsNotFound());
  auto all = store_->ListImages();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);  // the amd64 image and the one list
  auto g = store_->Gc();
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->layers_removed, 1u);
  EXPECT_EQ(g->blobs_removed, 3u);  // arm64's manifest and config, the old index
  ExpectClean();
}

TEST_F(ImageListTest, AListCannotHoldAList) {
  Image("n:amd64", "linux/amd64", "amd64");
  MustList("n:list", {"n:amd64"});
  auto r = store_->PutImageList("n:nested", {"n:list"}, "test");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("image list"), std::string::npos);
}

}  // namespace
}  // namespace cfs
