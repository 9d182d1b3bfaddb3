// What deploy runs after the Clusterfile's spec.cmd, spec.appNames and
// kind: Application (deploy/launch_plan.h), against sealer v0.11's rules.
#include "deploy/launch_plan.h"

#include <gtest/gtest.h>

namespace cfs::deploy {
namespace {

using Env = std::vector<std::pair<std::string, std::string>>;
using Names = std::vector<std::string>;

// An image as sealer builds it: two typed apps with env, one with APPCMDS
// and none of type, LAUNCH [tools, web].
ClusterImage SealerImage() {
  ClusterImage img;
  img.id = "sha256:img";
  img.has_extension = true;
  SealerImageExtension& e = img.extension;
  e.env = {{"Version", "v1"}};
  e.applications.push_back({"web", "kube", {"/web.yaml"}, "v1", {}, {}});
  e.applications.push_back({"tools", "shell", {"/run.sh"}, "v1", {{"MODE", "fast"}}, {}});
  e.applications.push_back({"odd", "", {}, "v1", {}, {}});  // neither type nor APPCMDS
  e.launch_apps = {"tools", "web"};
  img.launch = e.launch_apps;
  return img;
}

Clusterfile Parse(const std::string& cluster_spec, const std::string& application = "") {
  std::string text = "apiVersion: sealer.io/v2\nkind: Cluster\nmetadata: {name: c1}\nspec:\n"
                     "  image: s:1\n  hosts: [{ips: [10.0.0.2], roles: [master]}]\n" +
                     cluster_spec;
  if (!application.empty())
    text += "---\napiVersion: sealer.io/v2\nkind: Application\nmetadata: {name: apps}\nspec:\n" +
            application;
  auto cf = ParseClusterfile(text, "Clusterfile");
  EXPECT_TRUE(cf.ok()) << cf.status().ToString();
  return cf.ok() ? *cf : Clusterfile{};
}

Names AppNames(const LaunchPlan& p) {
  Names out;
  for (const auto& a : p.apps) out.push_back(a.name);
  return out;
}

Result<LaunchPlan> Plan(const ClusterImage& img, const Clusterfile& cf) { return PlanLaunch(img, cf); }

TEST(PlanLaunch, TheImageAloneLaunchesItsList) {
  auto p = Plan(SealerImage(), Parse(""));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(p->cmds.empty());
  EXPECT_EQ(AppNames(*p), (Names{"tools", "web"}));
  EXPECT_EQ(p->apps[1].launch.command, "kubectl apply -f 'application/apps/web/web.yaml'");
  EXPECT_FALSE(p->apps[0].configured);
  EXPECT_TRUE(p->files.empty());
  EXPECT_TRUE(p->notes.empty());
}

// launchApps chooses and orders; "" is skipped; spec.appNames wins over it.
TEST(PlanLaunch, LaunchAppsChooseAndOrder) {
  auto p = Plan(SealerImage(), Parse("", "  launchApps: [web, \"\", tools]\n"));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(AppNames(*p), (Names{"web", "tools"}));
  p = Plan(SealerImage(), Parse("  appNames: [web]\n", "  launchApps: [tools]\n"));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(AppNames(*p), (Names{"web"}));
  p = Plan(SealerImage(), Parse("  appNames: []\n"));  // given, empty: none
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->apps.empty());
}

TEST(PlanLaunch, UnknownAppRefusedByName) {
  auto p = Plan(SealerImage(), Parse("  appNames: [web, nope]\n"));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(),
            "Clusterfile: spec.appNames: app \"nope\" is not among the image's applications "
            "(web, tools, odd)");
  p = Plan(SealerImage(), Parse("", "  launchApps: [nope]\n"));
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("Application apps: spec.launchApps: app \"nope\""),
            std::string::npos)
      << p.status().message();
  // An app that cannot launch (no type, no APPCMDS) is refused when chosen...
  p = Plan(SealerImage(), Parse("  appNames: [odd]\n"));
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("app \"odd\": no type and no APPCMDS"), std::string::npos);
  // ...and launches with the config's commands.
  p = Plan(SealerImage(),
           Parse("  appNames: [odd]\n", "  configs:\n  - name: odd\n    launch: {cmds: [a, b]}\n"));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->apps[0].launch.command, "(\na\n) && (\nb\n)");
}

// sealer: spec.cmd (Cluster), else Application spec.cmds, replace the CMDs,
// the CMDS and the app launches.
TEST(PlanLaunch, CommandsReplaceEverything) {
  ClusterImage img = SealerImage();
  img.cmds = {"parent cmd"};
  auto p = Plan(img, Parse("", "  cmds: [\"kubectl get pods\"]\n  launchApps: [web]\n"));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->cmds, (Names{"kubectl get pods"}));
  EXPECT_TRUE(p->apps.empty());
  p = Plan(img, Parse("  cmd: [mine]\n", "  cmds: [\"kubectl get pods\"]\n"));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->cmds, (Names{"mine"}));
  // Without them: the image's CMDs, CMDS, then its apps.
  img.cmds_launch = {"cmds"};
  p = Plan(img, Parse(""));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->cmds, (Names{"parent cmd", "cmds"}));
  EXPECT_EQ(AppNames(*p), (Names{"tools", "web"}));
}

// An image whose own commands replace its apps launches none, whatever the
// list; the list still selects the configs (their files are written).
TEST(PlanLaunch, ImageCommandsReplaceApps) {
  ClusterImage img = SealerImage();
  img.cmds = {"kubectl apply -f manifests/"};
  img.launch.clear();
  img.commands_replace_apps = true;
  auto p = Plan(img, Parse("  appNames: [web]\n",
                           "  configs:\n  - name: web\n    files: [{path: a.conf, strategy: "
                           "overwrite, data: x}]\n"));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->cmds, img.cmds);
  EXPECT_TRUE(p->apps.empty());
  EXPECT_EQ(p->files.count("application/apps/web/a.conf"), 1u);
  ASSERT_EQ(p->notes.size(), 1u);
  EXPECT_NE(p->notes[0].find("spec.appNames: no app is launched"), std::string::npos) << p->notes[0];
}

// A config's env goes over the app's (after the Cluster's spec.env, which
// sealer prepends to it), for the launch and the templates; its
// launch.cmds replace the launch, each run on its own in the rootfs.
TEST(PlanLaunch, ConfigEnvAndLaunch) {
  auto p = Plan(SealerImage(),
                Parse("  env: [Version=cluster, ZONE=a]\n",
                      "  configs:\n"
                      "  - name: tools\n    env: [MODE=slow, EXTRA=1]\n"
                      "    launch:\n      cmds: [\"bash run.sh # go\", \"\", \"cd x\"]\n"
                      "  - name: web\n    env: [Version=web]\n"));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  const PlannedApp& tools = p->apps[0];
  EXPECT_TRUE(tools.configured);
  EXPECT_EQ(tools.launch.command, "(\nbash run.sh # go\n) && (\ncd x\n)");
  EXPECT_EQ(tools.launch.env,
            (Env{{"EXTRA", "1"}, {"MODE", "slow"}, {"Version", "cluster"}, {"ZONE", "a"}}));
  const PlannedApp& web = p->apps[1];
  EXPECT_EQ(web.launch.command, "kubectl apply -f 'application/apps/web/web.yaml'");
  EXPECT_EQ(web.launch.env, (Env{{"Version", "web"}, {"ZONE", "a"}}));
  EXPECT_EQ(p->template_env.at("web"),
            (std::map<std::string, std::string>{{"Version", "web"}, {"ZONE", "a"}}));
  EXPECT_EQ(p->template_env.at("tools").at("MODE"), "slow");
}

// A config of an app that is not launched is ignored (as sealer), noted.
TEST(PlanLaunch, ConfigOfAnAppNotLaunchedIgnored) {
  auto p = Plan(SealerImage(), Parse("", "  launchApps: [web]\n  configs:\n  - name: tools\n"
                                         "    env: [MODE=slow]\n    files: [{path: "
                                         "../../../etc/x, strategy: overwrite, data: x}]\n"));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(AppNames(*p), (Names{"web"}));
  EXPECT_TRUE(p->files.empty());
  EXPECT_EQ(p->template_env.at("tools").at("MODE"), "fast");  // the image's
  ASSERT_EQ(p->notes.size(), 1u);
  EXPECT_NE(p->notes[0].find("config of app tools is ignored"), std::string::npos);
}

// files[]: overwrite creates or replaces, merge deep-merges into an
// existing file (and only into one); in order; never out of the app's dir.
TEST(PlanLaunch, ConfigFiles) {
  auto p = Plan(SealerImage(),
                Parse("", "  configs:\n  - name: web\n    files:\n"
                          "    - {path: /values.yaml, strategy: merge, data: \"b: {c: 2}\\nl: [9]\"}\n"
                          "    - {path: sub/new.conf, strategy: overwrite, data: \"n=1\\n\"}\n"
                          "    - {path: new.conf, strategy: overwrite, data: \"first: 1\"}\n"
                          "    - {path: new.conf, strategy: merge, data: \"second: 2\"}\n"));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->files.size(), 3u);
  auto values = p->files.at("application/apps/web/values.yaml");
  auto merged = values(std::string("a: 1\nb: {c: 1, d: 1}\nl: [1, 2]\n---\nkind: x\n"));
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ(*merged,
            "a: 1\nb:\n    c: 2\n    d: 1\nl:\n    - 9\n---\nb:\n    c: 2\nkind: x\nl:\n    - 9\n");
  auto missing = values(std::nullopt);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            "application/apps/web/values.yaml: strategy merge: the image has no such file to "
            "merge into");
  EXPECT_EQ(*p->files.at("application/apps/web/sub/new.conf")(std::string("old")), "n=1\n");
  // Two files at one path: applied in order (the merge sees the overwrite).
  auto chained = p->files.at("application/apps/web/new.conf")(std::nullopt);
  ASSERT_TRUE(chained.ok()) << chained.status().ToString();
  EXPECT_EQ(*chained, "first: 1\nsecond: 2\n");
  auto bad = Plan(SealerImage(), Parse("", "  configs:\n  - name: web\n    files: [{path: "
                                           "a/../../x, strategy: overwrite, data: x}]\n"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("config of app \"web\": file: file \"a/../../x\" leaves"),
            std::string::npos)
      << bad.status().message();
}

// An image of an earlier cimg (no extension): its LAUNCH apps are known;
// launch.cmds work, env cannot be carried.
TEST(PlanLaunch, ImageWithoutExtension) {
  ClusterImage img;
  img.launch = {"old"};
  auto p = Plan(img, Parse(""));
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->apps.size(), 1u);
  EXPECT_TRUE(p->apps[0].legacy);
  p = Plan(img, Parse("", "  configs:\n  - name: old\n    launch: {cmds: [go]}\n"));
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->apps[0].legacy);
  EXPECT_EQ(p->apps[0].launch.command, "(\ngo\n)");
  // spec.env, which sealer prepends to every config's env, is no obstacle
  // (every step has it in its environment)...
  p = Plan(img, Parse("  env: [Z=1]\n", "  configs:\n  - name: old\n    launch: {cmds: [go]}\n"));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  // ...a config's own env is.
  p = Plan(img, Parse("", "  configs:\n  - name: old\n    env: [A=1]\n"));
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("env needs an image with sealer.image.extension"),
            std::string::npos);
}

}  // namespace
}  // namespace cfs::deploy
