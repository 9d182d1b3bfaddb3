// sealer's app type detection (builder/app.h), on real files.
#include "builder/app.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>

namespace cfs::builder {
namespace {

using Strings = std::vector<std::string>;

class DetectAppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cimg-app-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)std::system(("rm -rf '" + dir_ + "'").c_str()); }
  // Creates dir_/rel (a directory when rel ends in '/'), parents included.
  std::string Make(const std::string& rel) {
    std::string p = dir_ + "/" + rel;
    for (size_t i = dir_.size() + 1; i < p.size(); i++)
      if (p[i] == '/') ::mkdir(p.substr(0, i).c_str(), 0755);
    if (rel.back() != '/') std::ofstream(p) << "x\n";
    if (p.back() == '/') p.pop_back();
    return p;
  }
  CopySource Src(const std::string& rel) {
    std::string p = Make(rel);
    return CopySource{rel, p, p.substr(p.rfind('/') + 1)};
  }
  std::string dir_;
};

// sealer's fixture build_with_appcmds: yamlcontext, shellcontext, and
// install.sh + mixedcontext (app.yaml, install.sh).
TEST_F(DetectAppTest, SealerFixture) {
  Make("yamlcontext/c.yaml");
  Make("yamlcontext/a.yaml");
  auto yaml = DetectApp("yamlapp", {Src("yamlcontext/b.yaml"), });
  ASSERT_TRUE(yaml.ok());
  EXPECT_EQ(yaml->type, "kube");
  EXPECT_EQ(yaml->files, Strings{"b.yaml"});
  auto ydir = DetectApp("yamlapp", {Src("yamlcontext/")});
  ASSERT_TRUE(ydir.ok());
  EXPECT_EQ(ydir->type, "kube");
  EXPECT_EQ(ydir->files, (Strings{"/a.yaml", "/b.yaml", "/c.yaml"}));
  Make("shellcontext/b.sh");
  Make("shellcontext/a.sh");
  auto sh = DetectApp("shellapp", {Src("shellcontext/")});
  ASSERT_TRUE(sh.ok());
  EXPECT_EQ(sh->type, "shell");
  EXPECT_EQ(sh->files, (Strings{"/a.sh", "/b.sh"}));
  Make("mixedcontext/app.yaml");
  Make("mixedcontext/install.sh");
  auto mixed = DetectApp("mixedapp", {Src("install.sh"), Src("mixedcontext/")});
  ASSERT_TRUE(mixed.ok());
  EXPECT_EQ(mixed->type, "");
  EXPECT_TRUE(mixed->files.empty());
}

// A shell app runs only its first source's files (sealer's rule); kube apps
// all; nested files keep their path; case of the suffix does not matter.
TEST_F(DetectAppTest, FilesPerType) {
  auto sh = DetectApp("s", {Src("one/x.sh"), Src("two/y.SH")});
  ASSERT_TRUE(sh.ok());
  EXPECT_EQ(sh->type, "shell");
  EXPECT_EQ(sh->files, Strings{"x.sh"});
  Make("k/sub/deep.yml");
  auto k = DetectApp("k", {Src("k/top.YAML"), Src("k/")});
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->type, "kube");
  EXPECT_EQ(k->files, (Strings{"top.YAML", "/sub/deep.yml", "/top.YAML"}));
}

// A downloaded file (APP x https://host/deploy.yaml) is stored under another
// name; the app knows it by the name it gets in application/apps/NAME/.
TEST_F(DetectAppTest, DownloadedFileKeepsItsName) {
  std::string p = Make("downloads/0123abcd-deploy.yaml");
  auto k = DetectApp("web", {CopySource{"https://host/deploy.yaml", p, "deploy.yaml"}});
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->type, "kube");
  EXPECT_EQ(k->files, Strings{"deploy.yaml"});
}

TEST_F(DetectAppTest, Helm) {
  Make("chart/Chart.yaml");
  Make("chart/values.yaml");
  Make("chart/templates/deploy.yaml");
  Make("chart/README.md");
  auto h = DetectApp("web", {Src("chart/")});
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->type, "helm");
  EXPECT_EQ(h->files, Strings{"web"});
  // without templates/ it is neither helm nor kube (README.md is unknown)
  Make("half/Chart.yaml");
  Make("half/values.yaml");
  auto half = DetectApp("half", {Src("half/")});
  ASSERT_TRUE(half.ok());
  EXPECT_EQ(half->type, "kube");  // only .yaml files: a kube app, as sealer decides
}

TEST_F(DetectAppTest, NoType) {
  auto other = DetectApp("o", {Src("bin/tool")});
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->type, "");
  auto empty = DetectApp("e", {Src("empty/")});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->type, "");
  EXPECT_FALSE(DetectApp("m", {CopySource{"x", dir_ + "/missing/", ""}}).ok());
}

}  // namespace
}  // namespace cfs::builder
