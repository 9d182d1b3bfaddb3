#include "deploy/clusterfile.h"

#include <gtest/gtest.h>

namespace cfs::deploy {
namespace {

const char kGood[] = R"(apiVersion: sealer.io/v2
kind: Cluster
metadata:
  name: my-cluster
spec:
  image: cimg-examples/app:1
  env:
    - REGISTRY_PORT=5000
    - POD_CIDR=100.64.0.0/10
  cmd: ["kubectl get nodes"]
  ssh:
    user: root
    passwd: secret
    port: "2222"
  hosts:
    - ips: [10.0.0.3, 10.0.0.4]
      roles: [node]
      env: [POD_CIDR=10.1.0.0/16]
      labels: {zone: a}
      taints: ["gpu=true:NoSchedule"]
    - ips: [10.0.0.2]
      roles: [master]
      ssh:
        pk: /root/.ssh/id_ed25519
        port: 22
---
apiVersion: sealer.io/v2
kind: Plugin
metadata:
  name: notify
spec:
  type: SHELL
  action: PostInstall|pre-init-host
  scope: master
  data: |
    echo done
)";

TEST(Clusterfile, ParsesSealerV2) {
  auto c = ParseClusterfile(kGood, "Clusterfile");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->name, "my-cluster");
  EXPECT_EQ(c->image, "cimg-examples/app:1");
  EXPECT_EQ(c->cmd, std::vector<std::string>{"kubectl get nodes"});
  ASSERT_EQ(c->hosts.size(), 2u);
  ASSERT_EQ(c->plugins.size(), 1u);
  EXPECT_EQ(c->plugins[0].phases, (std::vector<std::string>{"post-install", "pre-init-host"}));
  EXPECT_EQ(c->plugins[0].scope, std::vector<std::string>{"master"});
  EXPECT_EQ(c->plugins[0].data, "echo done\n");

  auto hosts = c->Hosts();
  ASSERT_EQ(hosts.size(), 3u);
  // Masters first: master0 is the first master listed.
  EXPECT_EQ(hosts[0].ip, "10.0.0.2");
  EXPECT_TRUE(hosts[0].master);
  EXPECT_EQ(hosts[1].ip, "10.0.0.3");
  EXPECT_FALSE(hosts[1].master);
  // Group ssh fields override spec.ssh; the rest is inherited.
  EXPECT_EQ(hosts[0].ssh.port, 22);
  EXPECT_EQ(hosts[0].ssh.pk, "/root/.ssh/id_ed25519");
  EXPECT_EQ(hosts[0].ssh.passwd, "secret");
  EXPECT_EQ(hosts[1].ssh.port, 2222);
  // Host env overrides cluster env.
  EXPECT_EQ(hosts[0].env.at("POD_CIDR"), "100.64.0.0/10");
  EXPECT_EQ(hosts[1].env.at("POD_CIDR"), "10.1.0.0/16");
  EXPECT_EQ(hosts[1].env.at("REGISTRY_PORT"), "5000");
  EXPECT_EQ(hosts[1].labels.at("zone"), "a");
}

TEST(Clusterfile, EmitRoundTrips) {
  auto c = ParseClusterfile(kGood, "Clusterfile");
  ASSERT_TRUE(c.ok());
  std::string text = EmitClusterfile(*c);
  auto again = ParseClusterfile(text, "saved");
  ASSERT_TRUE(again.ok()) << again.status().message() << "\n" << text;
  EXPECT_EQ(EmitClusterfile(*again), text);
  EXPECT_EQ(again->Hosts().size(), 3u);
  EXPECT_EQ(again->plugins[0].phases, c->plugins[0].phases);
  EXPECT_EQ(again->plugins[0].data, c->plugins[0].data);
}

// Each bad input fails with FILE:LINE pointing at the culprit.
struct Bad {
  const char* what;
  std::string from, to;
  std::string want;  // substring of the message, starting with "Clusterfile:LINE:"
};

TEST(Clusterfile, BadInputNamesTheLine) {
  const std::vector<Bad> cases = {
      {"unknown spec field", "  image: cimg", "  imagee: x\n  image: cimg", "Clusterfile:6: unknown field spec.imagee"},
      {"unknown host field", "      roles: [node]", "      role: [node]", "Clusterfile:17: unknown field spec.hosts[0].role"},
      {"bad role", "roles: [node]", "roles: [worker]", "Clusterfile:17: spec.hosts[0].roles: unknown role \"worker\""},
      {"bad ip", "10.0.0.4]", "10.0.0.999]", "Clusterfile:16: spec.hosts[0].ips: \"10.0.0.999\" is not an IP"},
      {"bad port", "port: \"2222\"", "port: \"22x\"", "Clusterfile:14: spec.ssh.port \"22x\" is not a port"},
      {"bad env", "- REGISTRY_PORT=5000", "- REGISTRY PORT", "Clusterfile:8: spec.env: env entry"},
      {"bad api", "apiVersion: sealer.io/v2\nkind: Cluster", "apiVersion: sealer.io/v9\nkind: Cluster",
       "Clusterfile:1: apiVersion \"sealer.io/v9\" is not supported"},
      {"bad kind", "kind: Plugin", "kind: Infra", "Clusterfile:28: kind \"Infra\" is not supported (Cluster, Plugin, Config"},
      {"bad action", "action: PostInstall|pre-init-host", "action: after-all", "Clusterfile:33: Plugin notify: unknown action \"after-all\""},
      {"bad plugin type", "type: SHELL", "type: LABEL", "Clusterfile:32: Plugin notify: type \"LABEL\""},
      {"bad name", "name: my-cluster", "name: My_Cluster", "Clusterfile:4: cluster name \"My_Cluster\""},
      {"reserved name", "name: my-cluster", "name: packs", "Clusterfile:4: cluster name \"packs\" is reserved"},
      {"duplicate host", "[10.0.0.3, 10.0.0.4]", "[10.0.0.3, 10.0.0.2]", "Clusterfile:21: host 10.0.0.2 is listed twice"},
      {"no master", "roles: [master]", "roles: [node]", "has no master"},
      {"yaml syntax", "  image: cimg-examples/app:1", "  image: [unclosed", "Clusterfile:"},
      {"reversed range", "[10.0.0.3, 10.0.0.4]", "[10.0.0.9-10.0.0.3]",
       "Clusterfile:16: spec.hosts[0].ips: IP range \"10.0.0.9-10.0.0.3\": 10.0.0.9 comes after 10.0.0.3"},
      {"range over a listed host", "[10.0.0.3, 10.0.0.4]", "[10.0.0.1-10.0.0.3]",
       "Clusterfile:21: host 10.0.0.2 is listed twice"},
      {"missing image", "  image: cimg-examples/app:1\n", "", "Clusterfile:6: spec.image is required"},
  };
  for (const auto& b : cases) {
    std::string text = kGood;
    size_t at = text.find(b.from);
    ASSERT_NE(at, std::string::npos) << b.what;
    text.replace(at, b.from.size(), b.to);
    auto c = ParseClusterfile(text, "Clusterfile");
    ASSERT_FALSE(c.ok()) << b.what;
    EXPECT_NE(c.status().message().find(b.want), std::string::npos)
        << b.what << ": got \"" << c.status().message() << "\"";
    EXPECT_EQ(c.status().message().find('\n'), std::string::npos) << b.what << ": not one line";
  }
}

TEST(Clusterfile, IpRangesExpand) {
  std::string text = kGood;
  text.replace(text.find("[10.0.0.3, 10.0.0.4]"), 20, "[10.0.0.3-10.0.0.5, 10.0.0.9]");
  auto c = ParseClusterfile(text, "Clusterfile");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->hosts[0].ips, (std::vector<std::string>{"10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.9"}));
  // The saved form lists every host.
  EXPECT_NE(EmitClusterfile(*c).find("[10.0.0.3, 10.0.0.4, 10.0.0.5, 10.0.0.9]"), std::string::npos);
}

TEST(Clusterfile, NoClusterDocument) {
  auto c = ParseClusterfile("apiVersion: sealer.io/v2\nkind: Plugin\nmetadata: {name: x}\n"
                            "spec: {type: SHELL, action: post-install, data: echo}\n",
                            "cf");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "cf:1: no kind: Cluster document");
}

TEST(Clusterfile, EnvEntries) {
  EXPECT_TRUE(ParseEnvEntry("A_1=x=y").ok());
  EXPECT_EQ(ParseEnvEntry("A_1=x=y")->second, "x=y");
  EXPECT_FALSE(ParseEnvEntry("1A=x").ok());
  EXPECT_FALSE(ParseEnvEntry("A").ok());
  EXPECT_FALSE(ParseEnvEntry("=x").ok());
  EXPECT_FALSE(ParseEnvEntry("A-B=x").ok());
}

}  // namespace
}  // namespace cfs::deploy
