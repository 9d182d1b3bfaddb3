// sealer's image metadata (transport/sealer_image.h): parse what sealer
// writes, write what sealer reads, and round trips.
#include "transport/sealer_image.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace cfs {
namespace {

// The shape sealer v0.11 writes for the Kubefile of its test fixture
// test/suites/build/fixtures/build_with_appcmds (APP yamlapp, shellapp,
// mixedapp; APPCMDS mixedapp; LAUNCH ["mixedapp","shellapp"]), plus an
// APPENV and a global ENV; field names and order from
// pkg/define/image/v1/sealer_image.go and pkg/define/application/v1.
constexpr char kFixture[] = R"({"buildClient":{"sealerVersion":"v0.11.0","buildahVersion":"1.27.1"},)"
    R"("schemaVersion":"v1alpha1","type":"kube-installer","applications":[)"
    R"({"name":"yamlapp","type":"kube","files":["/a.yaml","/b.yaml","/c.yaml"],"version":"v1"},)"
    R"({"name":"shellapp","type":"shell","files":["/a.sh","/b.sh","/c.sh"],"version":"v1",)"
    R"("env":{"MODE":"fast"}},)"
    R"({"name":"mixedapp","version":"v1","cmds":["kubectl apply -f app.yaml"]}],)"
    R"("env":{"Version":"v1"},"launch":{"app_names":["mixedapp","shellapp"]}})";

TEST(SealerImageExtension, ParsesSealersShape) {
  auto r = ParseSealerImageExtension(kFixture);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->sealer_version, "v0.11.0");
  EXPECT_EQ(r->buildah_version, "1.27.1");
  EXPECT_EQ(r->schema_version, "v1alpha1");
  EXPECT_EQ(r->type, "kube-installer");
  ASSERT_EQ(r->applications.size(), 3u);
  const SealerApp* y = r->App("yamlapp");
  ASSERT_NE(y, nullptr);
  EXPECT_EQ(y->type, "kube");
  EXPECT_EQ(y->files, (std::vector<std::string>{"/a.yaml", "/b.yaml", "/c.yaml"}));
  EXPECT_EQ(r->App("shellapp")->env.at("MODE"), "fast");
  const SealerApp* m = r->App("mixedapp");
  EXPECT_EQ(m->type, "");
  EXPECT_EQ(m->cmds, std::vector<std::string>{"kubectl apply -f app.yaml"});
  EXPECT_EQ(r->App("nope"), nullptr);
  EXPECT_EQ(r->env.at("Version"), "v1");
  EXPECT_TRUE(r->launch_cmds.empty());
  EXPECT_EQ(r->launch_apps, (std::vector<std::string>{"mixedapp", "shellapp"}));
}

// What we write is byte for byte what we read (sealer's field order and
// omissions), and reads back equal.
TEST(SealerImageExtension, RoundTrip) {
  auto r = ParseSealerImageExtension(kFixture);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->ToJson(), kFixture);
  auto again = ParseSealerImageExtension(r->ToJson());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->ToJson(), r->ToJson());
}

// An image with only CMDS: "launch" is there (Go never omits a struct),
// empty lists and maps are left out.
TEST(SealerImageExtension, OmitsEmpty) {
  SealerImageExtension e;
  e.launch_cmds = {"kubectl apply -f manifests/app.yaml"};
  EXPECT_EQ(e.ToJson(),
            R"({"buildClient":{"sealerVersion":"","buildahVersion":""},"schemaVersion":"v1alpha1",)"
            R"("type":"kube-installer","launch":{"cmds":["kubectl apply -f manifests/app.yaml"]}})");
  SealerImageExtension none;
  none.type.clear();
  auto j = nlohmann::json::parse(none.ToJson());
  EXPECT_FALSE(j.contains("type"));
  EXPECT_FALSE(j.contains("applications"));
  EXPECT_TRUE(j["launch"].is_object());
}

// sealer's older images (the test data of sealer_image_test.go) carry
// fields this version does not know ("launchfiles"): ignored, as in Go.
TEST(SealerImageExtension, UnknownFieldsIgnored) {
  auto r = ParseSealerImageExtension(
      R"({"type":"app-installer","applications":[{"name":"acos","type":"shell",)"
      R"("launchfiles":["install.sh"],"version":"v1"}],)"
      R"("launch":{"cmds":["bash application/apps/acos/install.sh"]}})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->type, "app-installer");
  EXPECT_TRUE(r->applications[0].files.empty());
  EXPECT_EQ(r->launch_cmds, std::vector<std::string>{"bash application/apps/acos/install.sh"});
}

TEST(SealerImageExtension, WrongTypesRefused) {
  for (const char* bad : {"[]", "not json", R"({"applications":{}})",
                          R"({"applications":[{"name":1}]})", R"({"env":{"A":1}})",
                          R"({"launch":{"app_names":"x"}})", R"({"launch":[]})",
                          R"({"applications":[{"name":"a","cmds":[1]}]})"}) {
    auto r = ParseSealerImageExtension(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("sealer.image.extension"), std::string::npos);
    }
  }
}

TEST(SealerContainerImages, RoundTrip) {
  std::vector<SealerContainerImage> list = {
      {"docker.io/library/nginx:1.25", "", "linux", "amd64", ""},
      {"quay.io/calico/node:v3.25", "calico", "linux", "arm64", "v8"}};
  std::string j = SealerContainerImagesJson(list);
  EXPECT_EQ(j,
            R"([{"image":"docker.io/library/nginx:1.25","platform":{"architecture":"amd64","os":"linux"}},)"
            R"({"image":"quay.io/calico/node:v3.25","appName":"calico",)"
            R"("platform":{"architecture":"arm64","os":"linux","variant":"v8"}}])");
  auto back = ParseSealerContainerImages(j);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[1].app_name, "calico");
  EXPECT_EQ((*back)[1].variant, "v8");
  EXPECT_FALSE(ParseSealerContainerImages("{}").ok());
}

}  // namespace
}  // namespace cfs
