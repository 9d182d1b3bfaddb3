#include "deploy/image_plugins.h"

#include <gtest/gtest.h>

namespace cfs::deploy {
namespace {

std::string File(const std::string& name, const std::string& text) {
  return "cimg-plugin-file " + std::to_string(text.size()) + " " + name + "\n" + text;
}

const char kHooks[] = R"(apiVersion: sealer.io/v2
kind: Plugin
metadata: {name: b-upgrade}
spec:
  type: SHELL
  action: upgrade-host|Rollback
  scope: node
  data: echo b
---
apiVersion: sealer.io/v2
kind: Plugin
metadata: {name: a-upgrade}
spec:
  type: SHELL
  action: UpgradeHost
  data: echo a
)";

std::vector<std::string> Names(const std::vector<Plugin>& v) {
  std::vector<std::string> out;
  for (const auto& p : v) out.push_back(p.name);
  return out;
}

TEST(ImagePlugins, ParsesTheListing) {
  auto pl = ParsePluginListing(File("hooks.yaml", kHooks) + File("empty.yml", ""));
  ASSERT_TRUE(pl.ok()) << pl.status().message();
  ASSERT_EQ(pl->size(), 2u);
  EXPECT_EQ((*pl)[0].name, "b-upgrade");
  EXPECT_EQ((*pl)[0].phases, (std::vector<std::string>{"upgrade-host", "rollback"}));
  EXPECT_EQ((*pl)[0].scope, std::vector<std::string>{"node"});
  EXPECT_EQ((*pl)[1].phases, std::vector<std::string>{"upgrade-host"});
  EXPECT_TRUE(ParsePluginListing("")->empty());
}

TEST(ImagePlugins, ErrorsNameTheFile) {
  auto bad = ParsePluginListing(File(
      "bad.yaml",
      "kind: Plugin\nmetadata: {name: x}\nspec:\n  type: SHELL\n  action: sometime\n  data: x\n"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("plugins/bad.yaml:", 0), 0u) << bad.status().message();
  EXPECT_FALSE(ParsePluginListing("garbage\n").ok());
  EXPECT_FALSE(ParsePluginListing("cimg-plugin-file 100 x.yaml\nshort").ok());
}

TEST(ImagePlugins, HooksOfAPhaseByName) {
  auto image = ParsePluginListing(File("hooks.yaml", kHooks));
  ASSERT_TRUE(image.ok());
  Plugin mine{"0-first", {"upgrade-host"}, {}, "echo 0"};
  Plugin other{"z", {"post-install"}, {}, "echo z"};
  EXPECT_EQ(Names(HooksOf("upgrade-host", *image, {mine, other})),
            (std::vector<std::string>{"0-first", "a-upgrade", "b-upgrade"}));
  EXPECT_EQ(Names(HooksOf("rollback", *image, {mine})), std::vector<std::string>{"b-upgrade"});
  EXPECT_TRUE(HooksOf("upgrade", *image, {mine}).empty());
}

}  // namespace
}  // namespace cfs::deploy
