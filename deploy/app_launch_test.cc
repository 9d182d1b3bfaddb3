// Launch planning of sealer apps (deploy/app_launch.h) and what deploy reads
// of an image's sealer extension (deploy/cluster_image.h).
#include "deploy/app_launch.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "deploy/cluster_image.h"

namespace cfs::deploy {
namespace {

using Env = std::vector<std::pair<std::string, std::string>>;

// sealer's fixture build_with_appcmds (test/suites/build/fixtures), as
// sealer records it, plus env.
SealerImageExtension Fixture() {
  auto r = ParseSealerImageExtension(
      R"({"buildClient":{"sealerVersion":"v0.11.0","buildahVersion":"1.27.1"},)"
      R"("schemaVersion":"v1alpha1","type":"kube-installer","applications":[)"
      R"({"name":"yamlapp","type":"kube","files":["/a.yaml","/sub/b.yml"],"version":"v1"},)"
      R"({"name":"shellapp","type":"shell","files":["/a.sh","/b.sh"],"version":"v1",)"
      R"("env":{"MODE":"fast","Version":"app"}},)"
      R"({"name":"chart","type":"helm","files":["chart"],"version":"v1"},)"
      R"({"name":"mixedapp","version":"v1","cmds":["kubectl apply -f app.yaml","&& echo ok"]},)"
      R"({"name":"odd","version":"v1"}],)"
      R"("env":{"Version":"v1"},"launch":{"app_names":["mixedapp","shellapp"]}})");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : SealerImageExtension{};
}

TEST(PlanAppLaunch, DefaultsPerType) {
  auto ext = Fixture();
  auto kube = PlanAppLaunch(ext, "yamlapp");
  ASSERT_TRUE(kube.ok()) << kube.status().ToString();
  EXPECT_EQ(kube->command,
            "kubectl apply -f 'application/apps/yamlapp/a.yaml' && "
            "kubectl apply -f 'application/apps/yamlapp/sub/b.yml'");
  EXPECT_EQ(kube->env, (Env{{"Version", "v1"}}));
  auto shell = PlanAppLaunch(ext, "shellapp");
  ASSERT_TRUE(shell.ok());
  EXPECT_EQ(shell->command,
            "bash 'application/apps/shellapp/a.sh' && bash 'application/apps/shellapp/b.sh'");
  // the app's env over the image's
  EXPECT_EQ(shell->env, (Env{{"MODE", "fast"}, {"Version", "app"}}));
  auto helm = PlanAppLaunch(ext, "chart");
  ASSERT_TRUE(helm.ok());
  EXPECT_EQ(helm->command, "helm install 'chart' 'application/apps/chart/'");
}

// APPCMDS: in the app's dir, the items joined by spaces (sealer's
// GetAppLaunchCmd), as shell text.
TEST(PlanAppLaunch, AppCmds) {
  auto l = PlanAppLaunch(Fixture(), "mixedapp");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->command, "cd 'application/apps/mixedapp/' && kubectl apply -f app.yaml && echo ok");
}

TEST(PlanAppLaunch, Refusals) {
  auto ext = Fixture();
  auto r = PlanAppLaunch(ext, "nope");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not among"), std::string::npos);
  r = PlanAppLaunch(ext, "odd");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no type and no APPCMDS"), std::string::npos);
  ext.applications.push_back({"evil", "kube", {"/../../../etc/passwd"}, "v1", {}, {}});
  r = PlanAppLaunch(ext, "evil");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("leaves the app's directory"), std::string::npos);
  ext.applications.push_back({"../up", "shell", {"/a.sh"}, "v1", {}, {}});
  EXPECT_FALSE(PlanAppLaunch(ext, "../up").ok());
  ext.applications.push_back({"badenv", "shell", {"/a.sh"}, "v1", {{"A;rm -rf /", "x"}}, {}});
  r = PlanAppLaunch(ext, "badenv");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not a shell variable name"), std::string::npos);
}

// An Application config: its commands replace the launch (each in its own
// shell, from the rootfs), its env goes over the app's.
TEST(PlanAppLaunch, Override) {
  AppOverride o;
  o.env = {{"MODE", "slow"}, {"NEW", "1"}};
  o.has_cmds = true;
  o.cmds = {"kubectl apply -f application/apps/shellapp/x.yaml", "echo done"};
  auto l = PlanAppLaunch(Fixture(), "shellapp", o);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(l->command,
            "(\nkubectl apply -f application/apps/shellapp/x.yaml\n) && (\necho done\n)");
  EXPECT_EQ(l->env, (Env{{"MODE", "slow"}, {"NEW", "1"}, {"Version", "app"}}));
  o.env = {{"A;B", "x"}};
  EXPECT_FALSE(PlanAppLaunch(Fixture(), "shellapp", o).ok());
}

// Names and files with quotes stay one word.
TEST(PlanAppLaunch, Quoting) {
  SealerImageExtension ext;
  ext.applications.push_back({"a", "shell", {"/it's $(x).sh"}, "v1", {}, {}});
  auto l = PlanAppLaunch(ext, "a");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->command, "bash 'application/apps/a/it'\\''s $(x).sh'");
}

// Every app with an env (its own over the image's) renders its templates.
TEST(AppTemplateEnvs, AppsWithEnv) {
  auto envs = AppTemplateEnvs(Fixture());
  EXPECT_EQ(envs.at("shellapp"), (std::map<std::string, std::string>{{"MODE", "fast"}, {"Version", "app"}}));
  EXPECT_EQ(envs.at("yamlapp"), (std::map<std::string, std::string>{{"Version", "v1"}}));
  SealerImageExtension none;
  none.applications.push_back({"bare", "kube", {"/a.yaml"}, "v1", {}, {}});
  EXPECT_TRUE(AppTemplateEnvs(none).empty());
}

ImageDetails Image(const nlohmann::json& labels, const std::string& extension) {
  ImageDetails d;
  nlohmann::json cfg = {{"config", {{"Env", {"PATH=/bin"}}}}};
  if (!labels.empty()) cfg["config"]["Labels"] = labels;
  d.config = cfg.dump();
  nlohmann::json m = {{"schemaVersion", 2}};
  if (!extension.empty()) m["annotations"] = {{"sealer.image.extension", extension}};
  d.manifest = m.dump();
  return d;
}

// An image sealer built: no io.cimg labels; its LAUNCH apps are launched.
TEST(ReadClusterImage, SealerImageLaunchesApps) {
  auto img = ReadClusterImage(Image({}, Fixture().ToJson()), "s:1");
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_TRUE(img->has_extension);
  EXPECT_TRUE(img->cmds.empty());
  EXPECT_EQ(img->launch, (std::vector<std::string>{"mixedapp", "shellapp"}));
  EXPECT_FALSE(img->commands_replace_apps);
}

// sealer: launch.cmds (CMD/CMDS) replace the apps.
TEST(ReadClusterImage, SealerImageCmdsReplaceApps) {
  auto ext = Fixture();
  ext.launch_cmds = {"kubectl apply -f manifests/app.yaml"};
  auto img = ReadClusterImage(Image({}, ext.ToJson()), "s:1");
  ASSERT_TRUE(img.ok());
  EXPECT_EQ(img->cmds, ext.launch_cmds);
  EXPECT_TRUE(img->launch.empty());
  EXPECT_TRUE(img->commands_replace_apps);
}

// An image cimg built keeps its labels' commands (parents' CMDs included).
TEST(ReadClusterImage, CimgLabelsWin) {
  auto ext = Fixture();
  ext.launch_cmds = {"only mine"};
  auto img = ReadClusterImage(
      Image({{"io.cimg.cmds", R"(["parent", "mine"])"}, {"io.cimg.launch", R"(["yamlapp"])"}},
            ext.ToJson()),
      "c:1");
  ASSERT_TRUE(img.ok());
  EXPECT_EQ(img->cmds, (std::vector<std::string>{"parent", "mine"}));
  EXPECT_EQ(img->launch, std::vector<std::string>{"yamlapp"});
  // an image of earlier cimg: no extension
  img = ReadClusterImage(Image({{"io.cimg.launch", R"(["old"])"}}, ""), "o:1");
  ASSERT_TRUE(img.ok());
  EXPECT_FALSE(img->has_extension);
  EXPECT_EQ(img->launch, std::vector<std::string>{"old"});
}

TEST(ReadClusterImage, BadExtensionRefused) {
  auto img = ReadClusterImage(Image({}, R"({"applications":{}})"), "b:1");
  ASSERT_FALSE(img.ok());
  EXPECT_NE(img.status().message().find("image b:1: sealer.image.extension"), std::string::npos)
      << img.status().message();
}

}  // namespace
}  // namespace cfs::deploy
