#include "deploy/application_doc.h"

#include <gtest/gtest.h>

#include "deploy/clusterfile_testing.h"

#include "deploy/clusterfile.h"

namespace cfs::deploy {
namespace {

const char kText[] = R"(apiVersion: sealer.io/v2
kind: Cluster
metadata: {name: c1}
spec:
  image: img
  appNames: [nginx]
  hosts: [{ips: [10.0.0.2], roles: [master]}]
---
apiVersion: sealer.io/v2
kind: Application
metadata:
  name: my-apps
spec:
  cmds: ["kubectl get pods -A"]
  launchApps: [nginx, ""]
  configs:
  - name: nginx
    env: [PORT=80]
    launch:
      cmds: ["kubectl apply -f nginx.yaml"]
    files:
    - path: values.yaml
      strategy: merge
      data: "replicas: 2"
)";

TEST(ApplicationDoc, ParsedAndSaved) {
  auto c = ParseClusterfile(kText, "Clusterfile");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->app_names, std::vector<std::string>{"nginx"});
  ASSERT_TRUE(c->application.has_value());
  const ApplicationDoc& a = *c->application;
  EXPECT_EQ(a.name, "my-apps");
  EXPECT_EQ(a.cmds, std::vector<std::string>{"kubectl get pods -A"});
  EXPECT_TRUE(a.has_launch_apps);
  EXPECT_EQ(a.launch_apps, (std::vector<std::string>{"nginx", ""}));
  ASSERT_EQ(a.configs.size(), 1u);
  EXPECT_EQ(a.configs[0].env, std::vector<std::string>{"PORT=80"});
  EXPECT_TRUE(a.configs[0].has_launch);
  EXPECT_EQ(a.configs[0].launch_cmds, std::vector<std::string>{"kubectl apply -f nginx.yaml"});
  ASSERT_EQ(a.configs[0].files.size(), 1u);
  EXPECT_EQ(a.configs[0].files[0].strategy, "merge");
  EXPECT_EQ(a.configs[0].files[0].data, "replicas: 2");
  auto again = ParseClusterfile(EmitClusterfile(*c), "saved");
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->application->configs[0].files[0].path, "values.yaml");
  EXPECT_EQ(again->app_names, c->app_names);
}

TEST(ApplicationDoc, BadOnesNameTheLine) {
  testing::ExpectEditsFail(kText, {
      {"  - name: nginx\n", "  - env: [A=1]\n", "Clusterfile:17: spec.configs[0].name is required"},
      {"      strategy: merge", "      strategy: append", "Clusterfile:23: spec.configs[0].files[0].strategy: \"append\" is not overwrite or merge"},
      {"      cmds: [\"kubectl apply -f nginx.yaml\"]", "      helm: x", "unknown field spec.configs[0].launch.helm"},
      {"  launchApps:", "  launchApp:", "Clusterfile:15: unknown field Application spec.launchApp"},
      {"      data: \"replicas: 2\"", "      data: \"\"", "spec.configs[0].files[0].data is required"},
  });
}

}  // namespace
}  // namespace cfs::deploy
