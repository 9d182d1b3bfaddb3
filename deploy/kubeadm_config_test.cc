#include "deploy/kubeadm_config.h"

#include <gtest/gtest.h>

#include "deploy/clusterfile.h"

namespace cfs::deploy {
namespace {

const char kImage[] = R"(apiVersion: kubeadm.k8s.io/v1beta2
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: 10.0.0.2
  bindPort: 6443
---
apiVersion: kubeadm.k8s.io/v1beta2
kind: ClusterConfiguration
kubernetesVersion: v1.22.15
networking:
  podSubnet: 100.64.0.0/10
  serviceSubnet: 10.96.0.0/22
apiServer:
  certSANs: [127.0.0.1, apiserver.cluster.local]
  extraArgs:
    audit-log-maxage: "7"
)";

const char kCluster[] = R"(apiVersion: sealer.io/v2
kind: Cluster
metadata: {name: c1}
spec:
  image: img
  hosts: [{ips: [10.0.0.2], roles: [master]}]
---
apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
networking:
  podSubnet: 10.244.0.0/16
apiServer:
  certSANs: [my.domain, 127.0.0.1]
  extraArgs:
    feature-gates: "A=true"
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
maxPods: 200
)";

TEST(KubeadmConfig, ClusterfileWinsImageFillsTheRest) {
  auto cf = ParseClusterfile(kCluster, "Clusterfile");
  ASSERT_TRUE(cf.ok()) << cf.status().message();
  ASSERT_EQ(cf->kubeadm.size(), 2u);
  EXPECT_EQ(cf->kubeadm[0].kind, "ClusterConfiguration");
  EXPECT_EQ(cf->kubeadm[1].api_version, "kubelet.config.k8s.io/v1beta1");
  auto out = MergeKubeadmConfig(kImage, cf->kubeadm);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(*out,
            "apiVersion: kubeadm.k8s.io/v1beta2\n"
            "kind: InitConfiguration\n"
            "localAPIEndpoint:\n"
            "  advertiseAddress: 10.0.0.2\n"
            "  bindPort: 6443\n"
            "---\n"
            "apiServer:\n"
            "  certSANs:\n"
            "  - my.domain\n"
            "  - 127.0.0.1\n"
            "  - apiserver.cluster.local\n"
            "  extraArgs:\n"
            "    audit-log-maxage: \"7\"\n"
            "    feature-gates: A=true\n"
            "apiVersion: kubeadm.k8s.io/v1beta2\n"
            "kind: ClusterConfiguration\n"
            "kubernetesVersion: v1.22.15\n"
            "networking:\n"
            "  podSubnet: 10.244.0.0/16\n"
            "  serviceSubnet: 10.96.0.0/22\n"
            "---\n"
            "apiVersion: kubelet.config.k8s.io/v1beta1\n"
            "kind: KubeletConfiguration\n"
            "maxPods: 200\n");
}

TEST(KubeadmConfig, EmptyValuesAreFilledAsMergoDoes) {
  KubeadmDoc d{"InitConfiguration", "kubeadm.k8s.io/v1beta3",
               "apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\n"
               "localAPIEndpoint: {advertiseAddress: '', bindPort: 0}\nskipPhases: []\n"};
  auto out = MergeKubeadmConfig(
      "apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\n"
      "localAPIEndpoint: {advertiseAddress: 1.2.3.4, bindPort: 6443}\nskipPhases: [addon/kube-proxy]\n",
      {d});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(*out,
            "apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\nlocalAPIEndpoint:\n"
            "  advertiseAddress: 1.2.3.4\n  bindPort: 6443\nskipPhases:\n- addon/kube-proxy\n");
  // Without an image file the documents alone make it.
  EXPECT_EQ(*MergeKubeadmConfig("", {d}),
            "apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\nlocalAPIEndpoint:\n"
            "  advertiseAddress: \"\"\n  bindPort: 0\nskipPhases: []\n");
}

TEST(KubeadmConfig, SavedAndCheckedInTheClusterfile) {
  auto cf = ParseClusterfile(kCluster, "Clusterfile");
  ASSERT_TRUE(cf.ok());
  auto again = ParseClusterfile(EmitClusterfile(*cf), "saved");
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->kubeadm.size(), 2u);
  EXPECT_EQ(EmitClusterfile(*again), EmitClusterfile(*cf));

  std::string bad = kCluster;
  bad.replace(bad.find("kubelet.config.k8s.io/v1beta1"), 29, "kubeadm.k8s.io/v1beta3");
  auto r = ParseClusterfile(bad, "Clusterfile");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "Clusterfile:17: apiVersion \"kubeadm.k8s.io/v1beta3\" is not supported for kind "
            "KubeletConfiguration (kubelet.config.k8s.io/v1beta1)");
  r = ParseClusterfile(std::string(kCluster) + "---\n" + std::string(kCluster).substr(
                           std::string(kCluster).find("apiVersion: kubelet")),
                       "Clusterfile");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "Clusterfile:21: a second kind: KubeletConfiguration document");
}

}  // namespace
}  // namespace cfs::deploy
