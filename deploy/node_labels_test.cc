#include "deploy/node_labels.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "base/io.h"
#include "deploy/clusterfile.h"
#include "deploy/host_script.h"

namespace cfs::deploy {
namespace {

TEST(Taints, KubectlSyntax) {
  auto t = ParseTaint("gpu=true:NoSchedule");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->key, "gpu");
  EXPECT_EQ(t->value, "true");
  EXPECT_EQ(t->effect, "NoSchedule");
  EXPECT_FALSE(t->remove);
  t = ParseTaint("node-role.kubernetes.io/master:NoSchedule");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->key, "node-role.kubernetes.io/master");
  EXPECT_EQ(t->value, "");
  EXPECT_FALSE(t->remove);
  t = ParseTaint("dedicated=:NoExecute");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->key, "dedicated");
  EXPECT_EQ(t->value, "");
  t = ParseTaint("node-role.kubernetes.io/master-");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->remove);
  EXPECT_EQ(t->key, "node-role.kubernetes.io/master");
  EXPECT_EQ(t->effect, "");
  t = ParseTaint("gpu:PreferNoSchedule-");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->remove);
  EXPECT_EQ(t->effect, "PreferNoSchedule");
}

TEST(Taints, BadOnesAreNamed) {
  for (const char* bad : {"gpu=true", "gpu:Sometimes", "=v:NoSchedule", "gpu=1-", "a=b=c:NoSchedule",
                          "-", "a:b:NoSchedule"}) {
    auto t = ParseTaint(bad);
    EXPECT_FALSE(t.ok()) << bad;
    if (!t.ok())
      EXPECT_EQ(t.status().message().rfind("taint \"" + std::string(bad) + "\": ", 0), 0u)
          << t.status().message();
  }
}

TEST(Taints, PatchReplacesTheList) {
  EXPECT_EQ(TaintsPatch({*ParseTaint("gpu=true:NoSchedule"), *ParseTaint("x:NoExecute")}),
            R"({"spec":{"taints":[{"effect":"NoSchedule","key":"gpu","value":"true"},)"
            R"({"effect":"NoExecute","key":"x"}]}})");
}

TEST(Taints, ClusterfileNamesTheLine) {
  auto c = ParseClusterfile(R"(apiVersion: sealer.io/v2
kind: Cluster
metadata: {name: c1}
spec:
  image: img
  hosts:
  - ips: [10.0.0.2]
    roles: [master]
    taints:
    - ok:NoSchedule
    - "gpu=true"
)", "Clusterfile");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().rfind("Clusterfile:11: spec.hosts[0].taints: taint \"gpu=true\": no effect", 0), 0u)
      << c.status().message();
}

// kubectl_node.sh finds the node by InternalIP and passes every argument
// verbatim (a stand-in kubectl records them).
TEST(Taints, KubectlNodeScriptFindsTheNodeByIp) {
  char tmpl[] = "/tmp/node_labels_test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string root = tmpl;
  ASSERT_EQ(mkdir((root + "/bin").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFileAtomic(root + "/bin/kubectl",
                        "#!/bin/bash\n"
                        "if [ \"$1\" = get ]; then printf 'n-a 10.0.0.2\\nn-b 10.0.0.3\\n'; exit; fi\n"
                        "printf '%s\\n' \"$@\" > \"$(dirname \"$0\")/../args\"\n",
                              0755)
                  .ok());
  ASSERT_EQ(chmod((root + "/bin/kubectl").c_str(), 0755), 0);
  const std::string hostile = "k=$(touch /tmp/pwned) 'q'";
  std::string cmd = HostCommand(host_scripts::kKubectlNode,
                                {root, "10.0.0.3", "label", "--overwrite", hostile});
  ASSERT_EQ(std::system(("/bin/sh -c " + ShellQuote(cmd)).c_str()), 0);
  auto args = ReadFile(root + "/args");
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(*args, "label\nnode\nn-b\n--overwrite\n" + hostile + "\n");
  cmd = HostCommand(host_scripts::kKubectlNode, {root, "10.0.0.9", "label", "a=b"});
  EXPECT_NE(std::system(("/bin/sh -c " + ShellQuote(cmd) + " 2>/dev/null").c_str()), 0);
  std::system(("rm -rf " + ShellQuote(root)).c_str());
}

}  // namespace
}  // namespace cfs::deploy
