#include "deploy/registry_hosts.h"

#include <gtest/gtest.h>

namespace cfs::deploy {
namespace {

std::vector<Clusterfile::Host> Cluster() {
  std::vector<Clusterfile::Host> hosts(4);
  const char* ips[] = {"10.0.0.2", "10.0.0.5", "10.0.0.3", "10.0.0.4"};
  const bool master[] = {true, false, true, true};
  for (size_t i = 0; i < hosts.size(); i++) {
    hosts[i].ip = ips[i];
    hosts[i].master = master[i];
  }
  return hosts;
}

using Ips = std::vector<std::string>;

TEST(RegistryHosts, MasterZeroOnlyWithoutHa) {
  RegistryEndpoint r;
  EXPECT_TRUE(r.ha);  // sealer's default
  r.ha = false;
  Ips servers = RegistryServers(r, Cluster());
  EXPECT_EQ(servers, Ips{"10.0.0.2"});
  for (const char* ip : {"10.0.0.2", "10.0.0.3", "10.0.0.5"}) {
    EXPECT_EQ(RegistryAliasIp(servers, ip), "10.0.0.2") << ip;
    EXPECT_TRUE(RegistryMirrors(servers, ip).empty()) << ip;
  }
}

TEST(RegistryHosts, EveryMasterWithHa) {
  RegistryEndpoint r;
  r.ha = true;
  Ips servers = RegistryServers(r, Cluster());
  EXPECT_EQ(servers, (Ips{"10.0.0.2", "10.0.0.3", "10.0.0.4"}));
  // Masters: themselves; nodes: master0.
  EXPECT_EQ(RegistryAliasIp(servers, "10.0.0.3"), "10.0.0.3");
  EXPECT_EQ(RegistryAliasIp(servers, "10.0.0.5"), "10.0.0.2");
  // hosts.toml: a node tries master0 first, a master itself first.
  EXPECT_EQ(RegistryMirrors(servers, "10.0.0.5"), (Ips{"10.0.0.2", "10.0.0.3", "10.0.0.4"}));
  EXPECT_EQ(RegistryMirrors(servers, "10.0.0.4"), (Ips{"10.0.0.4", "10.0.0.2", "10.0.0.3"}));
  // One master: as without ha.
  auto one = Cluster();
  one[2].master = one[3].master = false;
  EXPECT_EQ(RegistryServers(r, one), Ips{"10.0.0.2"});
  EXPECT_TRUE(RegistryMirrors(RegistryServers(r, one), "10.0.0.5").empty());
}

}  // namespace
}  // namespace cfs::deploy
