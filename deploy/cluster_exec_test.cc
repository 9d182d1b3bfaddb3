#include "deploy/cluster_exec.h"

#include <gtest/gtest.h>

namespace cfs::deploy {
namespace {

Clusterfile Three() {
  auto cf = ParseClusterfile(R"(apiVersion: sealer.io/v2
kind: Cluster
metadata: {name: c1}
spec:
  image: app:1
  hosts:
  - ips: [10.0.0.2]
    roles: [master]
  - ips: [10.0.0.3, 10.0.0.4]
    roles: [node]
)",
                             "Clusterfile");
  EXPECT_TRUE(cf.ok()) << cf.status().ToString();
  return *cf;
}

std::vector<std::string> Ips(const Result<std::vector<Clusterfile::Host>>& r) {
  std::vector<std::string> out;
  if (r.ok())
    for (const auto& h : *r) out.push_back(h.ip);
  return out;
}

TEST(ClusterExec, SelectsByRoleAndIp) {
  auto cf = Three();
  using V = std::vector<std::string>;
  EXPECT_EQ(Ips(SelectHosts(cf, {})), (V{"10.0.0.2", "10.0.0.3", "10.0.0.4"}));
  EXPECT_EQ(Ips(SelectHosts(cf, {{"master"}, {}})), V{"10.0.0.2"});
  EXPECT_EQ(Ips(SelectHosts(cf, {{"node"}, {}})), (V{"10.0.0.3", "10.0.0.4"}));
  EXPECT_EQ(Ips(SelectHosts(cf, {{"master", "node"}, {"10.0.0.4"}})), V{"10.0.0.4"});
}

TEST(ClusterExec, RefusesWhatIsNotThere) {
  auto cf = Three();
  auto bad_role = SelectHosts(cf, {{"worker"}, {}});
  ASSERT_FALSE(bad_role.ok());
  EXPECT_NE(bad_role.status().message().find("\"worker\""), std::string::npos);
  auto bad_ip = SelectHosts(cf, {{}, {"10.0.0.9"}});
  ASSERT_FALSE(bad_ip.ok());
  EXPECT_NE(bad_ip.status().message().find("10.0.0.9 is not in cluster c1"), std::string::npos);
  auto none = SelectHosts(cf, {{"master"}, {"10.0.0.3"}});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no host"), std::string::npos);
}

}  // namespace
}  // namespace cfs::deploy
