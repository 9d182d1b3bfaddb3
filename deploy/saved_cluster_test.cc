#include "deploy/saved_cluster.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "base/io.h"

namespace cfs::deploy {
namespace {

const char kCluster[] = R"(apiVersion: sealer.io/v2
kind: Cluster
metadata:
  name: c1
spec:
  image: img:1
  hosts:
    - ips: [10.0.0.1]
      roles: [master]
    - ips: [10.0.0.2, 10.0.0.3]
      roles: [node]
)";

std::vector<std::string> Ips(const Clusterfile& cf) {
  std::vector<std::string> out;
  for (const auto& h : cf.Hosts()) out.push_back(h.ip);
  return out;
}

TEST(SavedCluster, AddAndRemoveHosts) {
  auto cf = ParseClusterfile(kCluster, "Clusterfile");
  ASSERT_TRUE(cf.ok()) << cf.status().message();
  HostGroup nodes;
  nodes.ips = {"10.0.0.4"};
  nodes.roles = {"node"};
  auto up = WithHostsAdded(*cf, {nodes});
  ASSERT_TRUE(up.ok()) << up.status().message();
  EXPECT_EQ(Ips(*up), (std::vector<std::string>{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"}));
  nodes.ips = {"10.0.0.2"};
  EXPECT_EQ(WithHostsAdded(*cf, {nodes}).status().message(), "host 10.0.0.2 is already in cluster c1");
  nodes.ips = {"10.0.0.5", "10.0.0.5"};
  EXPECT_EQ(WithHostsAdded(*cf, {nodes}).status().message(), "host 10.0.0.5 is given twice");

  auto down = WithHostsRemoved(*up, {"10.0.0.2", "10.0.0.3", "10.0.0.4"});
  ASSERT_TRUE(down.ok()) << down.status().message();
  EXPECT_EQ(Ips(*down), (std::vector<std::string>{"10.0.0.1"}));
  EXPECT_EQ(down->hosts.size(), 1u);  // emptied groups are dropped
  EXPECT_FALSE(WithHostsRemoved(*cf, {"10.0.0.1"}).ok());  // master0
  EXPECT_TRUE(WithHostsRemoved(*cf, {"10.0.0.9"}).status().IsNotFound());
}

TEST(SavedCluster, SaveLoadDroppedForget) {
  char tmpl[] = "/tmp/saved_cluster_test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  auto cf = ParseClusterfile(kCluster, "Clusterfile");
  ASSERT_TRUE(cf.ok());
  EXPECT_TRUE(LoadSavedCluster(dir, "c1").status().IsNotFound());
  Clusterfile saved;
  auto none = DroppedHosts(dir, *cf, &saved);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  ASSERT_TRUE(SaveCluster(dir, *cf).ok());
  auto back = LoadSavedCluster(dir, "c1");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(Ips(*back), Ips(*cf));
  auto smaller = WithHostsRemoved(*cf, {"10.0.0.3"});
  ASSERT_TRUE(smaller.ok());
  auto dropped = DroppedHosts(dir, *smaller, &saved);
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(*dropped, std::vector<std::string>{"10.0.0.3"});
  ForgetCluster(dir, "c1");
  EXPECT_FALSE(PathExists(dir + "/c1"));
  EXPECT_EQ(rmdir(tmpl), 0);
}

// A cluster saved by a cimg before sealer's registry defaults (no
// annotation) keeps plain HTTP on master0 only: when loaded, scaled and
// re-deployed with a Clusterfile that leaves insecure/ha out.
TEST(SavedCluster, OldRegistryDefaultsAreKept) {
  char tmpl[] = "/tmp/saved_cluster_test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  ASSERT_TRUE(MakeDirs(dir + "/c1", 0700).ok());
  ASSERT_TRUE(WriteFileAtomic(SavedClusterfile(dir, "c1"), kCluster, 0600).ok());
  auto old = LoadSavedCluster(dir, "c1");
  ASSERT_TRUE(old.ok()) << old.status().message();
  EXPECT_TRUE(old->registry.legacy_defaults);
  EXPECT_FALSE(LocalRegistry(old->registry, {})->tls);
  EXPECT_FALSE(LocalRegistry(old->registry, {})->ha);
  HostGroup nodes;
  nodes.ips = {"10.0.0.4"};
  nodes.roles = {"node"};
  auto up = WithHostsAdded(*old, {nodes});
  ASSERT_TRUE(up.ok()) << up.status().message();
  EXPECT_FALSE(LocalRegistry(up->registry, {})->tls);
  ASSERT_TRUE(SaveCluster(dir, *up).ok());
  EXPECT_FALSE(LocalRegistry(LoadSavedCluster(dir, "c1")->registry, {})->tls);

  // The user's Clusterfile again: sealer's defaults alone, the old ones
  // for this cluster; given values win.
  auto given = ParseClusterfile(std::string(kCluster) + "  registry: {localRegistry: {insecure: false}}\n",
                                "Clusterfile");
  ASSERT_TRUE(given.ok()) << given.status().message();
  auto user = ParseClusterfile(kCluster, "Clusterfile");
  ASSERT_TRUE(user.ok());
  EXPECT_TRUE(LocalRegistry(user->registry, {})->tls);
  ASSERT_TRUE(KeepDeployedRegistryDefaults(dir, &*user).ok());
  ASSERT_TRUE(KeepDeployedRegistryDefaults(dir, &*given).ok());
  EXPECT_FALSE(LocalRegistry(user->registry, {})->tls);
  EXPECT_FALSE(LocalRegistry(user->registry, {})->ha);
  EXPECT_TRUE(given->registry.local->tls);
  EXPECT_FALSE(given->registry.local->ha);

  // A cluster saved with sealer's defaults stays on them.
  ForgetCluster(dir, "c1");
  auto fresh = ParseClusterfile(kCluster, "Clusterfile");
  ASSERT_TRUE(SaveCluster(dir, *fresh).ok());
  ASSERT_TRUE(KeepDeployedRegistryDefaults(dir, &*fresh).ok());
  EXPECT_TRUE(LocalRegistry(fresh->registry, {})->tls);
  EXPECT_TRUE(LocalRegistry(LoadSavedCluster(dir, "c1")->registry, {})->ha);
  ForgetCluster(dir, "c1");
  EXPECT_EQ(rmdir(tmpl), 0);
}

TEST(SavedCluster, StatesAndListing) {
  char tmpl[] = "/tmp/saved_cluster_test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  auto empty = ListSavedClusters(dir + "/absent");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  auto cf = ParseClusterfile(kCluster, "Clusterfile");
  ASSERT_TRUE(cf.ok());
  ASSERT_TRUE(SaveCluster(dir, *cf).ok());
  cf->name = "a0";
  ASSERT_TRUE(SaveCluster(dir, *cf).ok());
  ASSERT_TRUE(MakeDirs(dir + "/stray", 0700).ok());  // no Clusterfile: not a cluster
  auto names = ListSavedClusters(dir);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"a0", "c1"}));
  EXPECT_TRUE(LoadClusterState(dir, "c1").status().IsNotFound());
  ASSERT_TRUE(SaveClusterState(dir, "c1", {"deploying", "img:1", "", 100}).ok());
  ASSERT_TRUE(SaveClusterState(dir, "c1", {"failed", "img:1", "10.0.0.2: init.sh exited 1", 200}).ok());
  auto st = LoadClusterState(dir, "c1");
  ASSERT_TRUE(st.ok()) << st.status().message();
  EXPECT_EQ(st->state, "failed");
  EXPECT_EQ(st->image, "img:1");
  EXPECT_EQ(st->detail, "10.0.0.2: init.sh exited 1");
  EXPECT_EQ(st->updated, 200);
  EXPECT_FALSE(SaveClusterState(dir, "../x", {"deployed", "i", "", 1}).ok());
  ASSERT_TRUE(WriteFileAtomic(dir + "/a0/state", "not json", 0600).ok());
  EXPECT_EQ(LoadClusterState(dir, "a0").status().code(), Status::Code::kCorruption);
  ForgetCluster(dir, "c1");
  ForgetCluster(dir, "a0");
  EXPECT_FALSE(PathExists(dir + "/c1"));
  EXPECT_FALSE(PathExists(dir + "/a0"));
  EXPECT_EQ(rmdir((dir + "/stray").c_str()), 0);
  EXPECT_EQ(rmdir(tmpl), 0);
}

TEST(SavedCluster, ImageRecordsAndPreviousClusterfile) {
  char tmpl[] = "/tmp/saved_cluster_test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  auto cf = ParseClusterfile(kCluster, "Clusterfile");
  ASSERT_TRUE(cf.ok());
  ASSERT_TRUE(SaveCluster(dir, *cf).ok());
  ClusterState st{"upgrading", "img:2", "", 300, "sha256:c2", "sha256:m2",
                  {"img:1", "sha256:c1", "sha256:m1"}, "upgrade-1"};
  ASSERT_TRUE(SaveClusterState(dir, "c1", st).ok());
  auto back = LoadClusterState(dir, "c1");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->image_id, "sha256:c2");
  EXPECT_EQ(back->manifest, "sha256:m2");
  EXPECT_EQ(back->operation, "upgrade-1");
  EXPECT_EQ(back->previous.name, "img:1");
  EXPECT_EQ(back->previous.id, "sha256:c1");
  EXPECT_EQ(back->previous.manifest, "sha256:m1");
  // A state of an older cimg (no image records) reads as empty ones.
  ASSERT_TRUE(WriteFileAtomic(dir + "/c1/state",
                              R"({"state":"deployed","image":"img:1","detail":"","updated":5})", 0600)
                  .ok());
  back = LoadClusterState(dir, "c1");
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->previous.empty());
  EXPECT_EQ(back->image_id, "");
  ASSERT_TRUE(KeepPreviousClusterfile(dir, "c1").ok());
  auto prev = LoadClusterfile(PreviousClusterfile(dir, "c1"));
  ASSERT_TRUE(prev.ok()) << prev.status().message();
  EXPECT_EQ(prev->image, "img:1");
  ForgetCluster(dir, "c1");
  EXPECT_FALSE(PathExists(dir + "/c1"));
  EXPECT_EQ(rmdir(tmpl), 0);
}

}  // namespace
}  // namespace cfs::deploy
