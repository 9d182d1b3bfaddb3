#include "tools/image_list.h"

#include <gtest/gtest.h>

#include "template/report.h"

namespace cimg {
namespace {

using cfs::Digest;
using cfs::ImageSummary;
using cfs::tmpl::Value;

ImageSummary Image(std::vector<std::string> names, const std::string& id_seed, int64_t created) {
  ImageSummary s;
  s.names = std::move(names);
  s.image_id = Digest::Of(id_seed);
  s.manifest_digest = Digest::Of("manifest " + id_seed);
  s.created = created;
  s.size = 1234567;
  return s;
}

const std::vector<ImageSummary> kImages = {
    Image({"docker.io/library/nginx:1.25", "127.0.0.1:5000/web/nginx:1.25"}, "nginx", 1000),
    Image({"demo/base:1"}, "base", 2000),
    Image({"demo/app:1", "demo/app:latest"}, "app", 3000),
};

cfs::Result<ImageFilter> Filter(std::vector<std::string> specs) {
  return ImageFilter::Parse(specs, [](const std::string& n) -> cfs::Result<ImageSummary> {
    for (const auto& s : kImages)
      for (const auto& name : s.names)
        if (name == n) return s;
    return cfs::Status::NotFound("image " + n + " not found");
  });
}

std::vector<std::string> Matching(std::vector<std::string> specs,
                                  const std::map<std::string, std::map<std::string, std::string>>& labels = {}) {
  auto f = Filter(std::move(specs));
  EXPECT_TRUE(f.ok()) << f.status().message();
  std::vector<std::string> out;
  if (!f.ok()) return out;
  for (const auto& s : kImages) {
    auto it = labels.find(s.image_id.ToString());
    if (f->Match(s, it == labels.end() ? std::map<std::string, std::string>{} : it->second))
      out.push_back(s.names[0]);
  }
  return out;
}

using V = std::vector<std::string>;

TEST(ImageFilterTest, Reference) {
  EXPECT_EQ(Matching({"reference=demo/*"}), (V{"demo/base:1", "demo/app:1"}));
  EXPECT_EQ(Matching({"reference=demo/app:latest"}), (V{"demo/app:1"}));
  EXPECT_EQ(Matching({"reference=nginx"}), (V{"docker.io/library/nginx:1.25"}));  // familiar name
  EXPECT_EQ(Matching({"reference=*nginx*"}), (V{"docker.io/library/nginx:1.25"}));
  EXPECT_EQ(Matching({"reference=*"}), (V{"docker.io/library/nginx:1.25"}));  // * stops at '/'
  EXPECT_EQ(Matching({"reference=demo/base", "reference=nginx:1.25"}),
            (V{"docker.io/library/nginx:1.25", "demo/base:1"}));  // one key: any
}

TEST(ImageFilterTest, ReferenceShowsOnlyMatchingNames) {
  auto f = Filter({"reference=*/nginx:*"});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->ShownNames(kImages[0]), (V{"docker.io/library/nginx:1.25"}));  // library/nginx
  auto g = Filter({"reference=127.0.0.1:5000/web/*"});
  EXPECT_EQ(g->ShownNames(kImages[0]), (V{"127.0.0.1:5000/web/nginx:1.25"}));
  EXPECT_EQ(Filter({"label=x"})->ShownNames(kImages[2]), kImages[2].names);  // no reference: all
}

TEST(ImageFilterTest, BeforeSinceIdDangling) {
  EXPECT_EQ(Matching({"before=demo/app:1"}), (V{"docker.io/library/nginx:1.25", "demo/base:1"}));
  EXPECT_EQ(Matching({"since=demo/base:1"}), (V{"demo/app:1"}));
  EXPECT_EQ(Matching({"since=docker.io/library/nginx:1.25", "reference=demo/base"}), (V{"demo/base:1"}));
  std::string hex = Digest::Of("base").Hex();
  EXPECT_EQ(Matching({"id=" + hex.substr(0, 6)}), (V{"demo/base:1"}));
  EXPECT_EQ(Matching({"id=sha256:" + hex}), (V{"demo/base:1"}));
  EXPECT_EQ(Matching({"dangling=true"}), V{});
  EXPECT_EQ(Matching({"dangling=false"}).size(), 3u);
}

TEST(ImageFilterTest, Labels) {
  std::map<std::string, std::map<std::string, std::string>> labels = {
      {Digest::Of("base").ToString(), {{"tier", "base"}, {"k", "v"}}},
      {Digest::Of("app").ToString(), {{"tier", "app"}}},
  };
  EXPECT_TRUE(Filter({"label=tier"})->needs_labels());
  EXPECT_FALSE(Filter({"reference=x"})->needs_labels());
  EXPECT_EQ(Matching({"label=tier"}, labels), (V{"demo/base:1", "demo/app:1"}));
  EXPECT_EQ(Matching({"label=tier=app"}, labels), (V{"demo/app:1"}));
  EXPECT_EQ(Matching({"label=tier", "label=k=v"}, labels), (V{"demo/base:1"}));  // all must hold
  EXPECT_EQ(Matching({"label!=tier=app"}, labels), (V{"docker.io/library/nginx:1.25", "demo/base:1"}));
}

TEST(ImageFilterTest, RefusesByName) {
  auto f = Filter({"containers=false"});
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("unsupported image filter \"containers\""), std::string::npos);
  EXPECT_NE(f.status().message().find("reference"), std::string::npos);
  EXPECT_FALSE(Filter({"dangling=maybe"}).ok());
  EXPECT_FALSE(Filter({"reference"}).ok());
  auto missing = Filter({"before=nope:1"});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("before=nope:1"), std::string::npos);
}

TEST(GlobMatchTest, GoPathMatchRules) {
  EXPECT_TRUE(GlobMatch("a*c", "abbbc"));
  EXPECT_FALSE(GlobMatch("a*c", "ab/c"));
  EXPECT_TRUE(GlobMatch("a?c", "abc"));
  EXPECT_FALSE(GlobMatch("a?c", "a/c"));
  EXPECT_TRUE(GlobMatch("[a-c]x", "bx"));
  EXPECT_FALSE(GlobMatch("[!a-c]x", "bx"));
  EXPECT_TRUE(GlobMatch("a\\*", "a*"));
  EXPECT_FALSE(GlobMatch("a\\*", "ab"));
  EXPECT_FALSE(GlobMatch("[ab", "a"));
  EXPECT_TRUE(GlobMatch("*/*:1", "demo/base:1"));
}

TEST(ImageRowsTest, OneRowPerNameWithPodmanFields) {
  auto rows = ImageRows(kImages, {}, {.no_trunc = false, .now = 3000 + 2 * 86400});
  ASSERT_EQ(rows.size(), 5u);
  const auto& r = rows[3].map();
  EXPECT_EQ(r.at("Repository").str(), "demo/app");
  EXPECT_EQ(r.at("Tag").str(), "1");
  EXPECT_EQ(r.at("ID").str(), Digest::Of("app").Hex().substr(0, 12));
  EXPECT_EQ(r.at("Id").str(), Digest::Of("app").ToString());
  EXPECT_EQ(r.at("Created").str(), "2 days ago");
  EXPECT_EQ(r.at("CreatedAt").str(), "1970-01-01 00:50:00 +0000 UTC");
  EXPECT_EQ(r.at("Size").str(), "1.23 MB");
  EXPECT_EQ(rows[4].map().at("Tag").str(), "latest");
  auto full = ImageRows(kImages, {}, {.no_trunc = true, .now = 0});
  EXPECT_EQ(full[0].map().at("ID").str(), Digest::Of("nginx").ToString());
}

TEST(ImageRowsTest, DefaultTableAndQuietIds) {
  auto report = cfs::tmpl::Report::Parse("table", kImagesTable, ImageFields(), ImageHeaders());
  ASSERT_TRUE(report.ok()) << report.status().message();
  auto out = report->Render(ImageRows({kImages[1]}, {}, {.no_trunc = false, .now = 2000 + 30}));
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(*out, "REPOSITORY  TAG         IMAGE ID      CREATED                 SIZE\n"
                  "demo/base   1           " + Digest::Of("base").Hex().substr(0, 12) +
                      "  Less than a minute ago  1.23 MB\n");
  auto ids = UniqueIds(kImages, false);
  EXPECT_EQ(ids.size(), 3u);  // one per image, not per name
  EXPECT_EQ(ids[2], Digest::Of("app").Hex().substr(0, 12));
}

TEST(FromJsonTest, KeepsTypes) {
  Value v = FromJson(nlohmann::json::parse(R"({"a":[1,2.5,"x",true,null],"b":{"c":7}})"));
  auto out = cfs::tmpl::Render("{{range .a}}{{.}} {{end}}{{.b.c}}", "t", v);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(*out, "1 2.5 x true <no value> 7");
}

}  // namespace
}  // namespace cimg
