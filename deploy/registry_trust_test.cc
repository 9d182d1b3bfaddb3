#include "deploy/registry_trust.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/coding.h"

namespace cfs::deploy {
namespace {

RegistryEndpoint Secure() {
  RegistryEndpoint r;
  r.domain = "hub.local";
  r.port = 5443;
  r.tls = true;
  r.username = "admin";
  r.password = "pw:1";
  return r;
}

TEST(RegistryTrust, RuntimeFilesAtSealersPaths) {
  auto files = RuntimeTrustFiles(Secure(), "CA PEM");
  ASSERT_EQ(files.size(), 4u);
  EXPECT_EQ(files[0].path, "/etc/containerd/certs.d/hub.local:5443/hub.local.crt");
  EXPECT_EQ(files[0].content, "CA PEM");
  EXPECT_EQ(files[1].path, "/etc/containerd/certs.d/hub.local:5443/hosts.toml");
  EXPECT_NE(files[1].content.find("server = \"https://hub.local:5443\""), std::string::npos);
  EXPECT_NE(files[1].content.find("[host.\"https://hub.local:5443\"]"), std::string::npos);
  EXPECT_NE(files[1].content.find("ca = \"/etc/containerd/certs.d/hub.local:5443/hub.local.crt\""),
            std::string::npos);
  EXPECT_EQ(files[1].content.find("pw:1"), std::string::npos);
  EXPECT_EQ(files[2].path, "/etc/docker/certs.d/hub.local:5443/hub.local.crt");
  EXPECT_EQ(files[3].path, "/var/lib/kubelet/config.json");
  EXPECT_EQ(files[3].mode, 0600);
  auto j = nlohmann::json::parse(files[3].content);
  EXPECT_EQ(*Base64Decode(j["auths"]["hub.local:5443"]["auth"].get<std::string>()), "admin:pw:1");
  EXPECT_EQ(RuntimeTrustPaths(Secure()),
            (std::vector<std::string>{"/etc/containerd/certs.d/hub.local:5443",
                                      "/etc/docker/certs.d/hub.local:5443",
                                      "/var/lib/kubelet/config.json"}));
}

TEST(RegistryTrust, OnlyWhatIsAskedFor) {
  RegistryEndpoint plain;
  plain.domain = "sea.hub";
  plain.port = 5000;
  plain.tls = false;  // insecure: true
  plain.ha = false;
  EXPECT_TRUE(RuntimeTrustFiles(plain, "").empty());
  auto none = RegistryServerFiles(plain, nullptr, "/r");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  RegistryEndpoint tls_only = plain;
  tls_only.tls = true;
  EXPECT_EQ(RuntimeTrustFiles(tls_only, "CA").size(), 3u);
  EXPECT_FALSE(RegistryServerFiles(tls_only, nullptr, "/r").ok());
  RegistryEndpoint auth_only = plain;
  auth_only.username = "u";
  auth_only.password = "p";
  auto files = RuntimeTrustFiles(auth_only, "");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].path, "/var/lib/kubelet/config.json");
}

TEST(RegistryTrust, ServerFilesForInitRegistry) {
  RegistryTls tls{"CA", "CERT", "KEY"};
  auto files = RegistryServerFiles(Secure(), &tls, "/var/lib/cimg/c1/rootfs");
  ASSERT_TRUE(files.ok()) << files.status().message();
  ASSERT_EQ(files->size(), 3u);
  EXPECT_EQ((*files)[0].path, "/var/lib/cimg/c1/rootfs/certs/hub.local.crt");
  EXPECT_EQ((*files)[0].content, "CERT");
  EXPECT_EQ((*files)[1].path, "/var/lib/cimg/c1/rootfs/certs/hub.local.key");
  EXPECT_EQ((*files)[1].mode, 0600);
  EXPECT_EQ((*files)[2].path, "/var/lib/cimg/c1/rootfs/etc/registry_htpasswd");
  EXPECT_EQ((*files)[2].mode, 0600);
  EXPECT_EQ((*files)[2].content.rfind("admin:$2b$", 0), 0u);
  EXPECT_EQ((*files)[2].content.find("pw:1"), std::string::npos);
}

TEST(RegistryTrust, HostsTomlWithEveryMaster) {
  RegistryEndpoint r = Secure();
  r.ha = true;
  auto files = RuntimeTrustFiles(r, "CA", {"10.0.0.3", "10.0.0.2", "fd00::4"});
  ASSERT_EQ(files.size(), 4u);
  EXPECT_EQ(files[1].content,
            "# written by cimg deploy: the cluster's built-in registry on every master, tried in order\n"
            "server = \"https://hub.local:5443\"\n"
            "\n[host.\"https://10.0.0.3:5443\"]\n"
            "  capabilities = [\"pull\", \"resolve\"]\n"
            "  ca = \"/etc/containerd/certs.d/hub.local:5443/hub.local.crt\"\n"
            "\n[host.\"https://10.0.0.2:5443\"]\n"
            "  capabilities = [\"pull\", \"resolve\"]\n"
            "  ca = \"/etc/containerd/certs.d/hub.local:5443/hub.local.crt\"\n"
            "\n[host.\"https://[fd00::4]:5443\"]\n"
            "  capabilities = [\"pull\", \"resolve\"]\n"
            "  ca = \"/etc/containerd/certs.d/hub.local:5443/hub.local.crt\"\n");
  // Plain HTTP (insecure: true) with ha: hosts.toml alone, http:// hosts, no CA.
  RegistryEndpoint plain;
  plain.domain = "sea.hub";
  plain.port = 5000;
  plain.tls = false;
  auto http = RuntimeTrustFiles(plain, "", {"10.0.0.2", "10.0.0.3"});
  ASSERT_EQ(http.size(), 1u);
  EXPECT_EQ(http[0].path, "/etc/containerd/certs.d/sea.hub:5000/hosts.toml");
  EXPECT_NE(http[0].content.find("server = \"http://sea.hub:5000\""), std::string::npos);
  EXPECT_NE(http[0].content.find("[host.\"http://10.0.0.3:5000\"]"), std::string::npos);
  EXPECT_EQ(http[0].content.find("ca ="), std::string::npos);
}

}  // namespace
}  // namespace cfs::deploy
