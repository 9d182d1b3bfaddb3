#include "deploy/host_script.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <string>

#include "base/io.h"
#include "deploy/kubeadm.h"

namespace cfs::deploy {
namespace {

// Runs a command line with /bin/sh here, as sshd runs it on a host.
int RunHere(const std::string& cmd) { return std::system(("/bin/sh -c " + ShellQuote(cmd)).c_str()); }

TEST(HostCommand, ValuesReachTheScriptVerbatim) {
  char tmpl[] = "/tmp/host_script_test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = std::string(tmpl) + "/a dir 'q'";
  const std::string value = "it's $(touch /tmp/pwned) `x` \"y\" \\n; rm -rf /";
  ASSERT_EQ(RunHere(HostCommand(host_scripts::kRecordStep, {dir, "cmd-0", value})), 0);
  auto got = ReadFile(dir + "/steps/cmd-0");
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(*got, value);
  EXPECT_FALSE(PathExists("/tmp/pwned"));
  ASSERT_EQ(RunHere(HostCommand(host_scripts::kRemoveCluster, {std::string(tmpl)})), 0);
  EXPECT_FALSE(PathExists(tmpl));
}

TEST(HostCommand, ProbeReportsRecordedSteps) {
  char tmpl[] = "/tmp/host_script_test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  ASSERT_EQ(RunHere(HostCommand(host_scripts::kRecordStep, {dir, "init", "sha256:ab"})), 0);
  const std::string out = dir + "/probe.out";
  ASSERT_EQ(RunHere(HostCommand(host_scripts::kProbe, {dir}) + " > " + ShellQuote(out)), 0);
  auto got = ReadFile(out);
  ASSERT_TRUE(got.ok());
  EXPECT_NE(got->find("dir\n"), std::string::npos);
  EXPECT_NE(got->find("step init sha256:ab\n"), std::string::npos);
  EXPECT_EQ(got->find("record"), std::string::npos);
  ASSERT_EQ(RunHere(HostCommand(host_scripts::kRemoveCluster, {dir})), 0);
}

TEST(ParseJoinCommand, WorkerCommandOfInitOutput) {
  const std::string out =
      "You can now join any number of control-plane nodes:\n"
      "  kubeadm join 10.0.0.1:6443 --token abc.def \\\n"
      "\t--discovery-token-ca-cert-hash sha256:00 \\\n"
      "\t--control-plane --certificate-key 1234\n"
      "Then worker nodes:\n"
      "kubeadm join 10.0.0.1:6443 --token abc.def \\\n"
      "    --discovery-token-ca-cert-hash sha256:00\n";
  EXPECT_EQ(ParseJoinCommand(out),
            "kubeadm join 10.0.0.1:6443 --token abc.def --discovery-token-ca-cert-hash sha256:00");
  EXPECT_EQ(ParseJoinCommand("kubeadm join 1.2.3.4:6443 --token $(reboot)\n"), "");
  EXPECT_EQ(ParseJoinCommand("nothing here\n"), "");
}

}  // namespace
}  // namespace cfs::deploy
