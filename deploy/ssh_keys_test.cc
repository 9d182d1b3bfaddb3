#include "deploy/ssh_keys.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "layer/testing/layer_testing.h"
#include "base/coding.h"

namespace cfs::deploy {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A fresh key pair of `type` made by ssh-keygen; returns the private key path.
std::string Keygen(const std::string& dir, const std::string& type, const std::string& pass) {
  std::string path = dir + "/id_" + type;
  std::string cmd = "ssh-keygen -q -t " + type + " -N '" + pass + "' -f " + path +
                    (type == "rsa" ? " -b 2048" : "") + " >/dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return path;
}

TEST(SshKeys, PrivateKeyTypeReadsOpenSshAndPemKeys) {
  testing::TempDir tmp;
  std::string dir = tmp.path();
  std::string rsa = Keygen(dir, "rsa", ""), ed = Keygen(dir, "ed25519", "secret");
  EXPECT_EQ(PrivateKeyType(Slurp(rsa), ""), "ssh-rsa");
  EXPECT_EQ(PrivateKeyType(Slurp(ed), ""), "ssh-ed25519");  // passphrase-protected
  EXPECT_EQ(PrivateKeyType("-----BEGIN RSA PRIVATE KEY-----\nxx\n", ""), "ssh-rsa");
  EXPECT_EQ(PrivateKeyType("-----BEGIN PRIVATE KEY-----\nxx\n", Slurp(rsa + ".pub")), "ssh-rsa");
  EXPECT_EQ(PrivateKeyType("garbage", ""), "");
}

TEST(SshKeys, RevokedAndCertAuthorityLines) {
  std::string key = "key-bytes!", b64 = "a2V5LWJ5dGVzIQ==";  // base64 of key
  std::string kh = "# comment\n"
                   "10.0.0.1 ssh-ed25519 " + b64 + "\n"
                   "@revoked 10.0.0.9,10.0.1.* ssh-ed25519 " + b64 + "\n"
                   "@cert-authority *.example.com,!bad.example.com ssh-ed25519 AAAA\n";
  EXPECT_EQ(RevokedLine(kh, "10.0.1.7", key), 3);
  EXPECT_EQ(RevokedLine(kh, "10.0.0.9", key), 3);
  EXPECT_EQ(RevokedLine(kh, "10.0.0.1", key), 0);  // plain lines are not markers
  EXPECT_EQ(RevokedLine(kh, "10.0.0.9", "other key"), 0);
  EXPECT_EQ(CertAuthorityLine(kh, "a.example.com"), 4);
  EXPECT_EQ(CertAuthorityLine(kh, "bad.example.com"), 0);
  EXPECT_EQ(CertAuthorityLine(kh, "10.0.0.1"), 0);
  EXPECT_TRUE(HostFieldMatches("a,[b]:2222", "[b]:2222"));
  EXPECT_FALSE(HostFieldMatches("10.0.1.*", "10.0.1.7"));  // plain entries: exact
  EXPECT_EQ(Base64Decode(b64).value(), key);
}

}  // namespace
}  // namespace cfs::deploy
